package app

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Output formats of `vakt sql` and the reports.
const (
	FormatTable = "table"
	FormatJSON  = "json" // one JSON object per row (JSON Lines)
	FormatCSV   = "csv"  // with a header row
	FormatTSV   = "tsv"  // ClickHouse TabSeparated: no header, escaped
)

// ValidFormat reports whether f is an output format.
func ValidFormat(f string) bool {
	switch f {
	case FormatTable, FormatJSON, FormatCSV, FormatTSV:
		return true
	}
	return false
}

var rowsStatementRe = regexp.MustCompile(`(?is)^\s*(\(\s*)*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXPLAIN|EXISTS|CHECK)\b`)

// SQL runs one statement and writes its result to out in format. Statements
// that return no rows (DDL, INSERT ... SELECT) print nothing.
func SQL(ctx context.Context, conn driver.Conn, query, format string, out io.Writer) error {
	if !ValidFormat(format) {
		return fmt.Errorf("--format %q: use table, json, csv or tsv", format)
	}
	query = strings.TrimRight(strings.TrimSpace(query), ";")
	if !rowsStatementRe.MatchString(query) {
		return queryError(conn.Exec(ctx, query))
	}
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return queryError(err)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	names := rows.Columns()
	w, err := newRowWriter(format, names, out)
	if err != nil {
		return err
	}
	dest := make([]any, len(types))
	for i, ct := range types {
		dest[i] = reflect.New(ct.ScanType()).Interface()
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return queryError(err)
		}
		vals := make([]any, len(dest))
		for i, d := range dest {
			vals[i] = reflect.ValueOf(d).Elem().Interface()
		}
		if err := w.row(vals, types); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return queryError(err)
	}
	return w.flush()
}

// queryError presents a ClickHouse exception as ClickHouse states it.
func queryError(err error) error {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return fmt.Errorf("ClickHouse error %d: %s", ex.Code, ex.Message)
	}
	return err
}

type rowWriter interface {
	row(vals []any, types []driver.ColumnType) error
	flush() error
}

func newRowWriter(format string, names []string, out io.Writer) (rowWriter, error) {
	switch format {
	case FormatTable:
		return &tableWriter{names: names, out: out}, nil
	case FormatJSON:
		return &jsonWriter{names: names, enc: json.NewEncoder(out)}, nil
	case FormatCSV:
		w := csv.NewWriter(out)
		return &csvWriter{w: w}, w.Write(names)
	default:
		return &tsvWriter{out: out}, nil
	}
}

type tableWriter struct {
	names []string
	rows  [][]string
	out   io.Writer
}

func (t *tableWriter) row(vals []any, types []driver.ColumnType) error {
	cells := make([]string, len(vals))
	for i, v := range vals {
		cells[i] = text(v, types[i], "NULL")
	}
	t.rows = append(t.rows, cells)
	return nil
}

func (t *tableWriter) flush() error {
	tw := tabwriter.NewWriter(t.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.names, "\t"))
	seps := make([]string, len(t.names))
	for i, n := range t.names {
		seps[i] = strings.Repeat("-", max(len(n), 1))
	}
	fmt.Fprintln(tw, strings.Join(seps, "\t"))
	for _, r := range t.rows {
		for i := range r {
			r[i] = strings.NewReplacer("\t", `\t`, "\n", `\n`).Replace(r[i])
		}
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(t.out, "(%d rows)\n", len(t.rows))
	return err
}

type jsonWriter struct {
	names []string
	enc   *json.Encoder
}

func (j *jsonWriter) row(vals []any, types []driver.ColumnType) error {
	// An ordered object: encoding/json sorts map keys, columns keep order.
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(j.names[i])
		b.Write(k)
		b.WriteByte(':')
		b.Write(jsonValue(v, types[i]))
	}
	b.WriteByte('}')
	return j.enc.Encode(json.RawMessage(b.String()))
}

func (j *jsonWriter) flush() error { return nil }

func jsonValue(v any, ct driver.ColumnType) []byte {
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
		out, err = json.Marshal(text(x, ct, ""))
	case []byte:
		if strings.Contains(ct.DatabaseTypeName(), "String") {
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

type csvWriter struct{ w *csv.Writer }

func (c *csvWriter) row(vals []any, types []driver.ColumnType) error {
	cells := make([]string, len(vals))
	for i, v := range vals {
		cells[i] = text(v, types[i], "")
	}
	return c.w.Write(cells)
}

func (c *csvWriter) flush() error { c.w.Flush(); return c.w.Error() }

type tsvWriter struct{ out io.Writer }

// tsvEscaper escapes as ClickHouse's TabSeparated format does.
var tsvEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`, "\x00", `\0`, "\b", `\b`, "\f", `\f`)

func (t *tsvWriter) row(vals []any, types []driver.ColumnType) error {
	cells := make([]string, len(vals))
	for i, v := range vals {
		if deref(v) == nil {
			cells[i] = `\N`
			continue
		}
		cells[i] = tsvEscaper.Replace(text(v, types[i], ""))
	}
	_, err := io.WriteString(t.out, strings.Join(cells, "\t")+"\n")
	return err
}

func (t *tsvWriter) flush() error { return nil }

var dateTime64Re = regexp.MustCompile(`DateTime64\((\d+)`)

// text renders a value as ClickHouse prints it in text formats.
func text(v any, ct driver.ColumnType, null string) string {
	v = deref(v)
	switch x := v.(type) {
	case nil:
		return null
	case string:
		return x
	case []byte:
		if ct == nil || strings.Contains(ct.DatabaseTypeName(), "String") {
			return string(x)
		}
	case time.Time:
		typ := ct.DatabaseTypeName()
		switch {
		case strings.Contains(typ, "DateTime64"):
			digits := 3
			if m := dateTime64Re.FindStringSubmatch(typ); m != nil {
				digits, _ = strconv.Atoi(m[1])
			}
			layout := "2006-01-02 15:04:05"
			if digits > 0 {
				layout += "." + strings.Repeat("0", digits)
			}
			return x.Format(layout)
		case strings.Contains(typ, "Date") && !strings.Contains(typ, "Time"):
			return x.Format("2006-01-02")
		default:
			return x.Format("2006-01-02 15:04:05")
		}
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
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
				parts[i] = text(e, ct, "NULL")
			}
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return fmt.Sprint(v)
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
