package analyze

import (
	"slices"
	"strings"
	"testing"
)

func TestSelectRules(t *testing.T) {
	all, err := LoadRules("", "")
	if err != nil {
		t.Fatal(err)
	}
	names := func(rs []Rule) []string {
		var n []string
		for _, r := range rs {
			n = append(n, r.Name)
		}
		return n
	}
	for _, tt := range []struct {
		name    string
		pick    []string
		want    []string // nil: every rule
		wantErr string
	}{
		{name: "none picks all", pick: nil},
		{name: "one", pick: []string{"flood"}, want: []string{"flood"}},
		{name: "in the order given", pick: []string{"xss", "scanning"}, want: []string{"xss", "scanning"}},
		{name: "unknown names the known", pick: []string{"xss", "dos"}, wantErr: `--rule "dos": no such rule; the rules are ` + strings.Join(names(all), ", ")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := selectRules(all, tt.pick)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == nil {
				want = names(all)
			}
			if !slices.Equal(names(got), want) {
				t.Errorf("selected %v, want %v", names(got), want)
			}
		})
	}
}
