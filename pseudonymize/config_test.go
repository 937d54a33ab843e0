package pseudonymize

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string // substrings every error must contain; nil means valid
	}{
		{name: "zero is all defaults", cfg: Config{}},
		{name: "explicit values", cfg: Config{EpochLength: 2 * time.Second, Grace: time.Second, Workers: 8, FetchBatch: 64, QueryPolicy: QueryDrop}},
		{name: "keep policy", cfg: Config{QueryPolicy: QueryKeep}},
		{name: "negative epoch", cfg: Config{EpochLength: -time.Hour}, wantErr: []string{"pseudonymize.epoch", "leave it unset"}},
		{name: "sub-second epoch", cfg: Config{EpochLength: 500 * time.Millisecond}, wantErr: []string{"pseudonymize.epoch", "whole number of seconds"}},
		{name: "fractional epoch", cfg: Config{EpochLength: 1500 * time.Millisecond}, wantErr: []string{"pseudonymize.epoch", "at least 1s"}},
		{name: "negative grace", cfg: Config{Grace: -time.Second}, wantErr: []string{"pseudonymize.grace", "positive"}},
		{name: "tiny grace", cfg: Config{Grace: time.Millisecond}, wantErr: []string{"pseudonymize.grace", "clock skew"}},
		{name: "negative workers", cfg: Config{Workers: -1}, wantErr: []string{"pseudonymize.workers", "use 1 to 256"}},
		{name: "too many workers", cfg: Config{Workers: 1000}, wantErr: []string{"pseudonymize.workers"}},
		{name: "fetch batch over max ack pending", cfg: Config{FetchBatch: 2000}, wantErr: []string{"pseudonymize.fetch_batch", "1 to 1024"}},
		{name: "unknown policy", cfg: Config{QueryPolicy: "mask"}, wantErr: []string{"pseudonymize.query_policy", `"redact", "keep" or "drop"`}},
		{name: "all errors reported", cfg: Config{Workers: -1, QueryPolicy: "x"}, wantErr: []string{"pseudonymize.workers", "pseudonymize.query_policy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestConfigWithDefaults(t *testing.T) {
	got := Config{}.WithDefaults()
	want := Config{EpochLength: 24 * time.Hour, Grace: 48 * time.Hour, Workers: 2, FetchBatch: DefaultFetchBatch, QueryPolicy: QueryRedact,
		GeoIP: GeoIPConfig{Reload: DefaultGeoIPReload, OpenData: OpenDataAuto}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("WithDefaults() = %+v, want %+v", got, want)
	}
	custom := Config{EpochLength: time.Hour, Grace: time.Minute, Workers: 3, FetchBatch: 5, QueryPolicy: QueryKeep,
		GeoIP: GeoIPConfig{CountryDB: "c.mmdb", Reload: time.Hour, OpenData: OpenDataOff}, TrustedProxies: []string{"10.0.0.0/8"}}
	if got := custom.WithDefaults(); !reflect.DeepEqual(got, custom) {
		t.Fatalf("WithDefaults() changed set fields: %+v", got)
	}
}
