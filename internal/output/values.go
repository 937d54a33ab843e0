package output

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

var dateTime64Re = regexp.MustCompile(`DateTime64\((\d+)`)

// Text renders a value of ClickHouse type typ as ClickHouse prints it in
// text formats; null stands for NULL.
func Text(v any, typ string, null string) string {
	v = deref(v)
	switch x := v.(type) {
	case nil:
		return null
	case string:
		return x
	case []byte:
		if typ == "" || strings.Contains(typ, "String") {
			return string(x)
		}
	case time.Time:
		return timeText(x, typ)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case uint64: // the integers as fmt.Sprint writes them, without its reflection
		return strconv.FormatUint(x, 10)
	case uint32:
		return strconv.FormatUint(uint64(x), 10)
	case uint16:
		return strconv.FormatUint(uint64(x), 10)
	case uint8:
		return strconv.FormatUint(uint64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int:
		return strconv.FormatInt(int64(x), 10)
	case fmt.Stringer:
		return x.String()
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		parts := make([]string, rv.Len())
		for i := range parts {
			e := rv.Index(i).Interface()
			if s, ok := deref(e).(string); ok {
				parts[i] = "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
			} else {
				parts[i] = Text(e, typ, "NULL")
			}
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return fmt.Sprint(v)
}

func timeText(t time.Time, typ string) string {
	return t.Format(timeLayout(typ))
}

// timeLayouts caches timeLayout's answers by type: the regular expression
// was most of rendering a time.
var timeLayouts sync.Map // type -> layout

// timeLayout is the layout ClickHouse prints a time of type typ in.
func timeLayout(typ string) string {
	if l, ok := timeLayouts.Load(typ); ok {
		return l.(string)
	}
	layout := "2006-01-02 15:04:05"
	switch {
	case strings.Contains(typ, "DateTime64"):
		digits := 3
		if m := dateTime64Re.FindStringSubmatch(typ); m != nil {
			digits, _ = strconv.Atoi(m[1])
		}
		if digits > 0 {
			layout += "." + strings.Repeat("0", digits)
		}
	case strings.Contains(typ, "Date") && !strings.Contains(typ, "Time"):
		layout = "2006-01-02"
	}
	timeLayouts.Store(typ, layout)
	return layout
}

// jsonValue renders a value as JSONEachRow does.
func jsonValue(v any, typ string) []byte {
	v = deref(v)
	var out []byte
	var err error
	switch x := v.(type) {
	case nil:
		return []byte("null")
	case int64, uint64:
		// Quoted, as ClickHouse does: JSON numbers lose precision past 2^53.
		out, err = json.Marshal(fmt.Sprint(x))
	case time.Time, net.IP, *big.Int, fmt.Stringer:
		out, err = json.Marshal(Text(x, typ, ""))
	case []byte:
		if strings.Contains(typ, "String") {
			out, err = json.Marshal(string(x))
		} else {
			out, err = json.Marshal(bytesToInts(x))
		}
	default:
		out, err = json.Marshal(x)
	}
	if err != nil {
		out, _ = json.Marshal(fmt.Sprint(v))
	}
	return out
}

// bytesToInts keeps Array(UInt8) a JSON array of numbers: encoding/json
// would write []byte as base64.
func bytesToInts(b []byte) []int {
	out := make([]int, len(b))
	for i, v := range b {
		out[i] = int(v)
	}
	return out
}

// deref follows pointers (Nullable columns scan into **T) to the value or nil.
func deref(v any) any {
	rv := reflect.ValueOf(v)
	for rv.IsValid() && rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return nil
	}
	return rv.Interface()
}
