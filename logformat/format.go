package logformat

import (
	"strconv"
	"time"

	"github.com/vakt-dev/vakt/internal/event"
)

// AppendCombined appends r as a combined-format line (no newline), the
// inverse of ParseCombined: strings are written as they are, so they must
// already be escaped the way a server escapes them, as ParseCombined leaves
// them. Empty user, referrer and user agent are written as "-"; a request
// with no method is written as its target, or "-" if that is empty too.
// Status must be below 1000.
func AppendCombined(dst []byte, r *event.Raw) []byte {
	dst = r.ClientIP.AppendTo(dst)
	dst = append(dst, " - "...)
	dst = appendOrDash(dst, r.User)
	dst = append(dst, " ["...)
	dst = AppendTime(dst, r.Time)
	dst = append(dst, `] "`...)
	switch {
	case r.Method != "":
		dst = append(dst, r.Method...)
		dst = append(dst, ' ')
		dst = append(dst, r.Target...)
		if r.Protocol != "" {
			dst = append(dst, ' ')
			dst = append(dst, r.Protocol...)
		}
	case r.Target != "":
		dst = append(dst, r.Target...)
	default:
		dst = append(dst, '-')
	}
	dst = append(dst, `" `...)
	dst = append(dst, byte('0'+r.Status/100%10), byte('0'+r.Status/10%10), byte('0'+r.Status%10), ' ')
	dst = strconv.AppendUint(dst, r.Bytes, 10)
	dst = append(dst, ` "`...)
	dst = appendOrDash(dst, r.Referrer)
	dst = append(dst, `" "`...)
	dst = appendOrDash(dst, r.UserAgent)
	return append(dst, '"')
}

func appendOrDash(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '-')
	}
	return append(dst, s...)
}

// AppendTime appends t as "02/Jan/2006:15:04:05 -0700" in t's own zone, the
// %t / $time_local layout without brackets. Written by hand for the same
// reason ParseCombined does not use time.Parse.
func AppendTime(dst []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	_, offset := t.Zone()
	dst = append2(dst, day)
	dst = append(dst, '/')
	dst = append(dst, monthNames[month-1]...)
	dst = append(dst, '/')
	dst = append2(dst, year/100%100)
	dst = append2(dst, year%100)
	dst = append(dst, ':')
	dst = append2(dst, hour)
	dst = append(dst, ':')
	dst = append2(dst, minute)
	dst = append(dst, ':')
	dst = append2(dst, sec)
	sign := byte('+')
	if offset < 0 {
		sign, offset = '-', -offset
	}
	dst = append(dst, ' ', sign)
	dst = append2(dst, offset/3600)
	return append2(dst, offset/60%60)
}

var monthNames = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

func append2(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/10%10), byte('0'+v%10))
}
