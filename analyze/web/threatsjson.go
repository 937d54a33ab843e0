package web

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/vakt-dev/vakt/internal/output"
)

// jsonAppender is a response written by hand rather than by
// encoding/json, byte for byte as encoding/json writes it.
type jsonAppender interface {
	appendJSON(b []byte) ([]byte, error)
}

// errByReflection sends a response back to encoding/json: a value the
// hand-written encoder does not write the way it does.
var errByReflection = errors.New("web: encoded by reflection")

// appendJSON writes the threats response. /api/threats over 30 days lists
// every offender, 15,500 of them in 11.7 MB, and encoding/json took ~110 ms
// of the server's CPU per call for it (reflection, and num's MarshalJSON
// compacted value by value). TestThreatsJSONAsEncodingJSON holds both to
// the same bytes.
func (r threatsResp) appendJSON(b []byte) ([]byte, error) {
	// ~750 bytes an offender: grown by doubling, the buffer was copied and
	// cleared for half the time of writing it.
	b = slices.Grow(b, 4096+800*len(r.Offenders))
	b = append(b, `{"site":`...)
	b = output.AppendJSONString(b, r.Site)
	b = append(b, `,"since":`...)
	b, ok := appendJSONTime(b, r.Since)
	b = append(b, `,"until":`...)
	b, ok2 := appendJSONTime(b, r.Until)
	if !ok || !ok2 {
		return nil, errByReflection
	}
	b = append(b, `,"rules":`...)
	rules, err := json.Marshal(r.Rules) // a few, with long descriptions
	if err != nil {
		return nil, err
	}
	b = append(b, rules...)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(r.Total), 10)
	b = append(b, `,"matched":`...)
	b = strconv.AppendInt(b, int64(r.Matched), 10)
	b = append(b, `,"offenders":`...)
	if r.Offenders == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Offenders {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = r.Offenders[i].appendJSON(b); !ok {
				return nil, errByReflection
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"categories":`...)
	cats, err := json.Marshal(r.Categories)
	if err != nil {
		return nil, err
	}
	b = append(b, cats...)
	return append(b, '}'), nil
}

func (o *offender) appendJSON(b []byte) ([]byte, bool) {
	b = append(b, `{"rule":`...)
	b = output.AppendJSONString(b, o.Rule)
	b = append(b, `,"category":`...)
	b = output.AppendJSONString(b, o.Category)
	b = append(b, `,"severity":`...)
	b = strconv.AppendInt(b, int64(o.Severity), 10)
	b, ok := appendJSONFinding(b, o.Scope, o.Site, o.ID, o.Epoch, o.Requests, o.Evidence, o.FirstSeen, o.LastSeen)
	b = append(b, `,"country":`...)
	b = output.AppendJSONString(b, o.Country)
	b = append(b, `,"asn":`...)
	b = strconv.AppendUint(b, uint64(o.ASN), 10)
	b = append(b, `,"rules":`...)
	b = appendJSONStrings(b, o.Rules)
	b = append(b, `,"categories":`...)
	b = appendJSONStrings(b, o.Categories)
	b = append(b, `,"matches":`...)
	if o.Matches == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range o.Matches {
			m := &o.Matches[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"rule":`...)
			b = output.AppendJSONString(b, m.Rule)
			b = append(b, `,"category":`...)
			b = output.AppendJSONString(b, m.Category)
			b = append(b, `,"severity":`...)
			b = strconv.AppendInt(b, int64(m.Severity), 10)
			var mok bool
			b, mok = appendJSONFinding(b, m.Scope, m.Site, m.ID, m.Epoch, m.Requests, m.Evidence, m.FirstSeen, m.LastSeen)
			ok = ok && mok
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(o.Signatures) > 0 {
		b = append(b, `,"signatures":`...)
		b = appendJSONStrings(b, o.Signatures)
	}
	return append(b, '}'), ok
}

// appendJSONFinding writes the members an offender and a match share, from
// "scope" to "last_seen"; ok is false for a time encoding/json refuses.
func appendJSONFinding(b []byte, scope, site, id string, epoch uint32, requests uint64, ev map[string]num, first, last time.Time) ([]byte, bool) {
	b = append(b, `,"scope":`...)
	b = output.AppendJSONString(b, scope)
	b = append(b, `,"site":`...)
	b = output.AppendJSONString(b, site)
	b = append(b, `,"id":`...)
	b = output.AppendJSONString(b, id)
	b = append(b, `,"epoch":`...)
	b = strconv.AppendUint(b, uint64(epoch), 10)
	b = append(b, `,"requests":`...)
	b = strconv.AppendUint(b, requests, 10)
	b = append(b, `,"evidence":`...)
	if ev == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		var scratch [8]string // evidence has a few keys: sorted without an allocation
		keys := scratch[:0]
		for k := range ev {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = output.AppendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONNum(b, ev[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"first_seen":`...)
	b, ok := appendJSONTime(b, first)
	b = append(b, `,"last_seen":`...)
	b, ok2 := appendJSONTime(b, last)
	return b, ok && ok2
}

func appendJSONNum(b []byte, n num) []byte {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, f, 'g', 6, 64)
}

func appendJSONStrings(b []byte, l []string) []byte {
	if l == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = output.AppendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONTime writes t as time.Time's MarshalJSON does; ok is false for
// a time it refuses (a year outside 0 to 9999, an odd zone offset).
func appendJSONTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	if _, off := t.Zone(); off%60 != 0 || off <= -24*3600 || off >= 24*3600 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}
