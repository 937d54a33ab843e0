package analyze

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/vakt-dev/vakt/internal/jsonscan"
)

// unmarshalKept decodes kept findings ([]keptOffender) as json.Marshal
// wrote them. Written with jsonscan rather than json.Unmarshal, whose
// reflection took 94 ms of a 30-day threat report's 320 ms of CPU outside
// the engine (15,800 findings): the report decodes them while the engine
// evaluates the rest, on the same two cores. FuzzUnmarshalKept holds it to
// json.Unmarshal's result.
func unmarshalKept(b []byte) ([]keptOffender, error) {
	kind, arr, rest, err := jsonscan.Value(b)
	if err != nil {
		return nil, err
	}
	if len(jsonscan.SkipSpace(rest)) > 0 {
		return nil, errors.New("json: text after the findings")
	}
	switch kind {
	case jsonscan.Null:
		return nil, nil
	case jsonscan.Array:
	default:
		return nil, errors.New("json: the findings are not an array")
	}
	// Sized by the findings' first key: grown, the slice copied its
	// 170-byte elements again and again.
	out := make([]keptOffender, 0, bytes.Count(arr, []byte(`{"site":`)))
	err = jsonscan.EachElement(arr, func(kind jsonscan.Kind, val []byte) error {
		if kind != jsonscan.Object {
			return errors.New("json: a finding is not an object")
		}
		var k keptOffender
		err := jsonscan.EachMember(val, func(key []byte, kind jsonscan.Kind, v []byte) error {
			var err error
			switch string(key) {
			case "site":
				err = keptString(&k.Site, kind, v)
			case "id":
				err = keptString(&k.ID, kind, v)
			case "country":
				err = keptString(&k.Country, kind, v)
			case "epoch":
				err = keptUint(&k.Epoch, 32, kind, v)
			case "asn":
				err = keptUint(&k.ASN, 32, kind, v)
			case "requests":
				err = keptUint(&k.Requests, 64, kind, v)
			case "first_seen":
				err = keptTime(&k.FirstSeen, kind, v)
			case "last_seen":
				err = keptTime(&k.LastSeen, kind, v)
			case "signatures":
				err = keptStrings(&k.Signatures, kind, v)
			case "evidence":
				err = keptEvidence(&k.Evidence, kind, v)
			}
			if err != nil {
				return fmt.Errorf("json: %s: %w", key, err)
			}
			return nil
		})
		out = append(out, k)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// keptString decodes a JSON string into dst; null leaves dst as it is, as
// json.Unmarshal does.
func keptString(dst *string, kind jsonscan.Kind, v []byte) error {
	switch kind {
	case jsonscan.Null:
		return nil
	case jsonscan.String:
	default:
		return errors.New("not a string")
	}
	s, err := jsonscan.AppendUnquote(nil, v)
	*dst = string(s)
	return err
}

func keptUint[T uint32 | uint64](dst *T, bits int, kind jsonscan.Kind, v []byte) error {
	switch kind {
	case jsonscan.Null:
		return nil
	case jsonscan.Number:
	default:
		return errors.New("not a number")
	}
	n, err := strconv.ParseUint(string(v), 10, bits)
	*dst = T(n)
	return err
}

func keptTime(dst *time.Time, kind jsonscan.Kind, v []byte) error {
	var s string
	if err := keptString(&s, kind, v); err != nil || kind == jsonscan.Null {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	*dst = t
	return err
}

func keptStrings(dst *[]string, kind jsonscan.Kind, v []byte) error {
	switch kind {
	case jsonscan.Null:
		*dst = nil
		return nil
	case jsonscan.Array:
	default:
		return errors.New("not an array")
	}
	out := []string{}
	err := jsonscan.EachElement(v, func(kind jsonscan.Kind, e []byte) error {
		var s string
		err := keptString(&s, kind, e)
		out = append(out, s)
		return err
	})
	*dst = out
	return err
}

// keptEvidence decodes the evidence object: a number, or null for NaN.
func keptEvidence(dst *map[string]*float64, kind jsonscan.Kind, v []byte) error {
	switch kind {
	case jsonscan.Null:
		*dst = nil
		return nil
	case jsonscan.Object:
	default:
		return errors.New("not an object")
	}
	if *dst == nil {
		*dst = map[string]*float64{}
	}
	return jsonscan.EachMember(v, func(key []byte, kind jsonscan.Kind, n []byte) error {
		switch kind {
		case jsonscan.Null:
			(*dst)[string(key)] = nil
			return nil
		case jsonscan.Number:
		default:
			return errors.New("evidence " + strconv.Quote(string(key)) + " is not a number")
		}
		f, err := strconv.ParseFloat(string(n), 64)
		(*dst)[string(key)] = &f
		return err
	})
}
