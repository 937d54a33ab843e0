package event

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func sampleRaw(i int) Raw {
	return Raw{
		Time:         time.Date(2026, 11, 25, 10, 0, i, 123456000, time.UTC),
		Site:         "www.example.org",
		ClientIP:     netip.MustParseAddr([]string{"203.0.113.7", "2001:db8::42", "::ffff:198.51.100.1"}[i%3]),
		ForwardedFor: "",
		User:         "alice",
		Method:       "GET",
		Target:       "/search?q=x",
		Protocol:     "HTTP/1.1",
		Status:       uint16(200 + i),
		Bytes:        uint64(1000 * i),
		Referrer:     "https://example.org/",
		UserAgent:    "Mozilla/5.0",
		Host:         "example.org",
		RequestTime:  time.Duration(i) * time.Millisecond, // 0 for i=0 must survive
		UpstreamTime: Unknown,
	}
}

func TestRawRoundTrip(t *testing.T) {
	var batch []byte
	var want []Raw
	for i := 0; i < 5; i++ {
		r := sampleRaw(i)
		want = append(want, r)
		batch = AppendRaw(batch, &r)
	}
	var got []Raw
	if err := RangeRaw(batch, func(r *Raw) error { got = append(got, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if n, err := Count(batch); err != nil || n != 5 {
		t.Fatalf("Count = %d, %v", n, err)
	}
}

func TestEventRoundTrip(t *testing.T) {
	e := Event{
		Time: time.Date(2026, 11, 25, 10, 0, 0, 1000, time.UTC), Site: "s", ClientID: ^uint64(0), NetworkID: 7,
		IPVersion: 6, Epoch: 20417, Country: "SE", ASN: 3301, ASOrg: "Telia", Method: "POST", Path: "/login",
		Query: "user=", Protocol: "HTTP/2.0", Status: 401, Bytes: 12, Referrer: "https://x/", UserAgent: "curl/8",
		Host: "h", RequestTime: Unknown, UpstreamTime: 0, Flags: FlagSQLInjection | FlagXSS | FlagExploit, Signature: "log4shell",
	}
	batch := AppendEvent(nil, &e)
	var got Event
	if err := RangeEvents(batch, func(x *Event) error { got = *x; return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Fatalf("got %+v\nwant %+v", got, e)
	}
}

func TestCorruptBatches(t *testing.T) {
	r := sampleRaw(1)
	good := AppendRaw(nil, &r)
	for _, b := range [][]byte{{0xff}, good[:len(good)-3], append([]byte{0x10, 0x01}, good...)} {
		err := RangeRaw(b, func(*Raw) error { return nil })
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("% x: err %v, want ErrCorrupt", b, err)
		}
	}
}

func FuzzRangeRaw(f *testing.F) {
	r := sampleRaw(2)
	f.Add(AppendRaw(nil, &r))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Must never panic; a decoded batch re-encodes to something decodable.
		var again []byte
		if err := RangeRaw(b, func(r *Raw) error { again = AppendRaw(again, r); return nil }); err != nil {
			return
		}
		if err := RangeRaw(again, func(*Raw) error { return nil }); err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
	})
}

func BenchmarkAppendRaw(b *testing.B) {
	r := sampleRaw(1)
	buf := make([]byte, 0, 1<<20)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRaw(buf[:0], &r)
	}
}

func BenchmarkRangeEvents(b *testing.B) {
	var batch []byte
	e := Event{Time: time.Now(), Site: "s", Path: "/index.html", UserAgent: "Mozilla/5.0", Method: "GET", Status: 200}
	for i := 0; i < 1000; i++ {
		batch = AppendEvent(batch, &e)
	}
	b.ReportAllocs()
	for b.Loop() {
		RangeEvents(batch, func(*Event) error { return nil })
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
}
