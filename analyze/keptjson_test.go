package analyze

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
)

// FuzzUnmarshalKept: kept findings as json.Marshal writes them decode to
// what json.Unmarshal makes of them, and text json.Unmarshal refuses is
// refused.
func FuzzUnmarshalKept(f *testing.F) {
	f.Add("www.example.org", "1434949672837658355", "SG", "cve-2021-41773", "hits", uint32(20793), uint64(41), uint32(4134), int64(1765000000123456789), 2.5, false, uint8(2))
	f.Add("<&>\u2028é", "", "", "", "ratio", uint32(0), uint64(0), uint32(0), int64(-1), math.NaN(), true, uint8(0))
	f.Add("s\"\\\x01", "x\ty", "ü", "a\nb", "\u00ff", uint32(math.MaxUint32), uint64(math.MaxUint64), uint32(1), int64(0), 1e-300, false, uint8(5))
	f.Fuzz(func(t *testing.T, site, id, country, sig, key string, epoch uint32, requests uint64, asn uint32, ns int64, ev float64, null bool, n uint8) {
		var kept []keptOffender
		for i := range int(n % 6) {
			k := keptOffender{Site: site, ID: id, Epoch: epoch + uint32(i), Requests: requests, Country: country, ASN: asn,
				FirstSeen: time.Unix(0, ns).UTC(), LastSeen: time.Unix(0, ns+int64(i)*1e6).In(time.FixedZone("x", 3600*i)),
				Evidence: map[string]*float64{key: nil, "n": &ev}}
			if math.IsNaN(ev) || math.IsInf(ev, 0) {
				k.Evidence["n"] = nil
			}
			if !null {
				v := float64(i)
				k.Evidence[key] = &v
			}
			if i%2 == 1 {
				k.Signatures = []string{sig, id}
			}
			kept = append(kept, k)
		}
		text, err := json.Marshal(kept)
		if err != nil {
			t.Skip(err) // times json cannot write
		}
		check := func(text []byte) {
			t.Helper()
			var want []keptOffender
			werr := json.Unmarshal(text, &want)
			got, gerr := unmarshalKept(text)
			if (werr == nil) != (gerr == nil) {
				t.Fatalf("%q: json.Unmarshal: %v, unmarshalKept: %v", text, werr, gerr)
			}
			if werr != nil {
				return
			}
			for i := range want {
				for _, p := range []*time.Time{&want[i].FirstSeen, &want[i].LastSeen, &got[i].FirstSeen, &got[i].LastSeen} {
					*p = p.UTC() // zones: the same instant is what is kept
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q:\nunmarshalKept %+v\njson.Unmarshal %+v", text, got, want)
			}
		}
		check(text)
		if len(text) > 2 {
			check(text[:len(text)/2]) // cut short: both refuse
		}
	})
}
