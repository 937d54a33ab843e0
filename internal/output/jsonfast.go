package output

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// appendJSONValue appends jsonValue(v, typ) to b. The values reports are
// made of (counts, rates, plain strings, times) are written directly, as
// encoding/json writes them; anything else goes through jsonValue. A day's
// health report is 3,500 rows of 17 values: json.Marshal on each took
// ~6 us a row. FuzzAppendJSONValue holds both to the same bytes.
func appendJSONValue(b []byte, v any, typ string) []byte {
	switch x := v.(type) {
	case string:
		return AppendJSONString(b, x)
	case uint64: // quoted: JSON numbers lose precision past 2^53
		b = append(b, '"')
		b = strconv.AppendUint(b, x, 10)
		return append(b, '"')
	case int64:
		b = append(b, '"')
		b = strconv.AppendInt(b, x, 10)
		return append(b, '"')
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10)
	case int32:
		return strconv.AppendInt(b, int64(x), 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case bool:
		return strconv.AppendBool(b, x)
	case float64:
		if f, ok := appendJSONFloat(b, x, 64); ok {
			return f
		}
	case float32:
		if f, ok := appendJSONFloat(b, float64(x), 32); ok {
			return f
		}
	case *float64:
		if x == nil {
			return append(b, "null"...)
		}
		if f, ok := appendJSONFloat(b, *x, 64); ok {
			return f
		}
	case time.Time:
		// Digits, '-', ':', ' ' and '.': nothing to escape.
		b = append(b, '"')
		b = x.AppendFormat(b, timeLayout(typ))
		return append(b, '"')
	}
	return append(b, jsonValue(v, typ)...)
}

// plainJSON says whether json.Marshal writes s as it is between quotes:
// printable ASCII without the characters it escapes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// appendJSONFloat writes f as encoding/json does (its floatEncoder:
// shortest digits, an exponent only below 1e-6 or from 1e21, "e-7" not
// "e-07"); ok is false for NaN and infinities, which JSON cannot hold.
func appendJSONFloat(b []byte, f float64, bits int) (out []byte, ok bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// AppendJSONString appends s as encoding/json writes it (HTML characters,
// control characters and invalid UTF-8 escaped as it escapes them), for
// hand-written encoders of large responses.
func AppendJSONString(b []byte, s string) []byte {
	if plainJSON(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}
