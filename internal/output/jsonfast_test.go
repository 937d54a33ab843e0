package output

import (
	"fmt"
	"io"
	"math"
	"testing"
	"time"
)

// FuzzAppendJSONValue: the direct paths write exactly what the general
// one (json.Marshal) writes, for every type they take.
func FuzzAppendJSONValue(f *testing.F) {
	f.Add("shop.example", 0.25, uint64(375), int64(-3), uint32(404), true, int64(1733449500123))
	f.Add(`a"b\c<d>&e`+"\x00\u2028é", 1e21, uint64(math.MaxUint64), int64(math.MinInt64), uint32(0), false, int64(0))
	f.Add("", 1e-7, uint64(0), int64(9007199254740993), uint32(math.MaxUint32), false, int64(-62135596800000))
	f.Add("x", math.Inf(1), uint64(1), int64(1), uint32(1), true, int64(253402300799999))
	f.Add("y", math.NaN(), uint64(2), int64(2), uint32(2), true, int64(1))
	f.Add("z", 123456789.125e-12, uint64(3), int64(3), uint32(3), false, int64(2))
	f.Fuzz(func(t *testing.T, s string, x float64, u uint64, i int64, u32 uint32, bo bool, ms int64) {
		tm := time.UnixMilli(ms).UTC()
		values := []struct {
			v   any
			typ string
		}{
			{s, "String"}, {x, "Float64"}, {float32(x), "Float32"}, {-x, "Float64"}, {x / 3, "Float64"},
			{&x, "Nullable(Float64)"}, {(*float64)(nil), "Nullable(Float64)"},
			{u, "UInt64"}, {i, "Int64"}, {u32, "UInt32"}, {uint16(u32), "UInt16"}, {uint8(u32), "UInt8"},
			{int32(i), "Int32"}, {int(i), "Int64"}, {bo, "Bool"},
			{tm, "DateTime64(3, 'UTC')"}, {tm, "DateTime('UTC')"}, {tm, "Date"}, {tm, "DateTime64(6)"},
		}
		for _, v := range []any{u, i, u32, uint16(u32), uint8(u32), int32(i), int(i)} {
			if got, want := Text(v, "", "NULL"), fmt.Sprint(v); got != want {
				t.Fatalf("Text(%T %v) = %s, want %s", v, v, got, want)
			}
		}
		for _, c := range values {
			want := string(jsonValue(c.v, c.typ))
			if got := string(appendJSONValue(nil, c.v, c.typ)); got != want {
				t.Fatalf("%T %v (%s): %s, json.Marshal's way %s", c.v, c.v, c.typ, got, want)
			}
		}
	})
}

// BenchmarkJSONHealthRows writes rows shaped like a health report's series
// (a site, a time, counts, rates and percentiles) in JSON.
func BenchmarkJSONHealthRows(b *testing.B) {
	cols := []Column{{"section", "String"}, {"site", "String"}, {"time", "DateTime64(3, 'UTC')"}, {"requests", "UInt64"},
		{"requests_per_s", "Float64"}, {"status_2xx", "UInt64"}, {"status_3xx", "UInt64"}, {"status_4xx", "UInt64"},
		{"status_5xx", "UInt64"}, {"status_other", "UInt64"}, {"error_rate", "Float64"}, {"client_error_rate", "Float64"},
		{"p50_s", "Nullable(Float64)"}, {"p95_s", "Nullable(Float64)"}, {"p99_s", "Nullable(Float64)"}, {"timed", "UInt64"}, {"bytes", "UInt64"}}
	ts := time.Date(2026, 12, 6, 1, 55, 0, 0, time.UTC)
	p50, p95 := 0.031, 0.218
	row := []any{"series", "shop.example.org", ts, uint64(375), 1.25, uint64(333), uint64(27), uint64(12), uint64(3), uint64(0),
		0.008, 0.032, &p50, &p95, (*float64)(nil), uint64(375), uint64(11461302)}
	w, _ := NewWriter(JSON, cols, io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Row(row); err != nil {
			b.Fatal(err)
		}
	}
	_ = w.Flush()
}
