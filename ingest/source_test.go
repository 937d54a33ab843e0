package ingest

import (
	"strings"
	"testing"
)

func TestValidateSources(t *testing.T) {
	if err := (Config{Sources: []Source{{Files: []string{"/var/log/nginx/shop*.log"}, Site: "shop"}}}).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg Config
		key string
	}{
		{Config{Sources: []Source{{Site: "shop"}}}, "sources[0].files"},
		{Config{Files: []string{"a"}, Sources: []Source{{Files: []string{"ok"}}, {Files: []string{"[x"}}}}, "sources[1].files"},
		{Config{Sources: []Source{{Files: []string{"a"}, Format: "klingon"}}}, "sources[0].format"},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), "ingest: "+tc.key+":") {
			t.Errorf("%+v: %v, want an error about %s", tc.cfg, err, tc.key)
		}
	}
	srcs := (Config{Files: []string{"a"}, Site: "main", Format: "combined", Sources: []Source{{Files: []string{"b"}}, {Files: []string{"c"}, Site: "c"}}}).sources()
	if len(srcs) != 3 || srcs[0].Site != "main" || srcs[1].Site != "main" || srcs[1].Format != "combined" || srcs[2].Site != "c" {
		t.Fatalf("sources %+v", srcs)
	}
}
