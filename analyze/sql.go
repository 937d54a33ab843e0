package analyze

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/internal/output"
	"github.com/vakt-dev/vakt/store"
)

// leadingComments skips white space and comments (-- and # to the end of
// the line, /* ... */) before a statement's first keyword: a rule's SQL
// pasted into `vakt sql` starts with its comments, and printed nothing.
const leadingComments = `(?:\s+|--[^\n]*(?:\n|$)|#[^\n]*(?:\n|$)|/\*(?s:.*?)\*/)*`

var rowsStatementRe = regexp.MustCompile(`(?is)^` + leadingComments + `(\(\s*)*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXPLAIN|EXISTS|CHECK)\b`)
var selectRe = regexp.MustCompile(`(?is)^` + leadingComments + `(\(\s*)*(SELECT|WITH)\b`)

// SQL is `vakt sql`: it runs one statement and writes its result to out in
// format, as clickhouse-client prints it: the engine formats the rows (see
// output.FromEngine), so every type it can print is printed. Over HTTP (the
// embedded endpoint, clickhouse.protocol http) the engine's output is
// streamed; over the native protocol, which carries only binary blocks, the
// engine formats each row with formatRow. Statements that return no rows
// (DDL, INSERT ... SELECT) print nothing.
func SQL(ctx context.Context, conn driver.Conn, chCfg store.ClickHouseConfig, query, format string, out io.Writer) error {
	if err := output.Check(format); err != nil {
		return err
	}
	query = strings.TrimRight(strings.TrimSpace(query), ";")
	if !rowsStatementRe.MatchString(query) {
		return queryError(conn.Exec(ctx, query))
	}
	engineFormat := output.EngineFormat(format)
	var body io.ReadCloser
	var err error
	if chCfg.HTTP() && len(chCfg.Addr) > 0 {
		body, err = store.QueryHTTP(ctx, chCfg, query, engineFormat, output.EngineSettings)
	} else {
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(engineSettings()))
		body, err = formatRows(ctx, conn, query, engineFormat)
	}
	if err != nil {
		return queryError(err)
	}
	defer body.Close()
	return queryError(output.FromEngine(format, body, out))
}

func engineSettings() clickhouse.Settings {
	s := clickhouse.Settings{}
	for k, v := range output.EngineSettings {
		s[k] = v
	}
	return s
}

// queryError presents a ClickHouse exception as ClickHouse states it.
func queryError(err error) error {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return fmt.Errorf("ClickHouse error %d: %s", ex.Code, ex.Message)
	}
	return err
}

// formatRows has the engine format a query's rows over a connection that
// decodes results (the native protocol): SELECT and WITH through
// formatRow, in engineFormat; the other statements that return rows (SHOW,
// DESCRIBE, EXPLAIN ...) return plain strings and numbers, decoded here.
func formatRows(ctx context.Context, conn driver.Conn, query, engineFormat string) (io.ReadCloser, error) {
	var b strings.Builder
	if !selectRe.MatchString(query) {
		if err := decodeRows(ctx, conn, query, engineFormat, &b); err != nil {
			return nil, err
		}
		return io.NopCloser(strings.NewReader(b.String())), nil
	}
	rowFormat := engineFormat
	if rowFormat == "TabSeparatedWithNames" {
		rowFormat = "TabSeparated"
		names, err := columnNames(ctx, conn, query)
		if err != nil {
			return nil, err
		}
		if err := output.WriteTSVRow(&b, names); err != nil {
			return nil, err
		}
	}
	lines, err := queryStrings(ctx, conn, "SELECT formatRowNoNewline('"+rowFormat+"', *) FROM ("+query+"\n)")
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return io.NopCloser(strings.NewReader(b.String())), nil
}

// columnNames are the names of the columns query returns.
func columnNames(ctx context.Context, conn driver.Conn, query string) ([]string, error) {
	rows, err := conn.Query(ctx, "DESCRIBE ("+query+"\n)")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		// DESCRIBE's columns are all strings: name, type, default_type ...
		cells := make([]any, len(rows.Columns()))
		for i := range cells {
			cells[i] = new(string)
		}
		if err := rows.Scan(cells...); err != nil {
			return nil, err
		}
		names = append(names, *cells[0].(*string))
	}
	return names, rows.Err()
}

func queryStrings(ctx context.Context, conn driver.Conn, query string) ([]string, error) {
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// decodeRows writes the rows of query in engineFormat, from values decoded
// by the driver.
func decodeRows(ctx context.Context, conn driver.Conn, query, engineFormat string, out io.Writer) error {
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	cols := make([]output.Column, len(types))
	for i, ct := range types {
		cols[i] = output.Column{Name: ct.Name(), Type: ct.DatabaseTypeName()}
	}
	format := output.TSV
	switch engineFormat {
	case "JSONEachRow":
		format = output.JSON
	case "TabSeparatedWithNames":
		if err := output.WriteTSVRow(out, rows.Columns()); err != nil {
			return err
		}
	}
	w, err := output.NewWriter(format, cols, out)
	if err != nil {
		return err
	}
	dest := make([]any, len(types))
	for i, ct := range types {
		dest[i] = reflect.New(ct.ScanType()).Interface()
	}
	// The rows before a failure are written too, as the engine's own
	// formats stream them.
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return errors.Join(err, w.Flush())
		}
		if err := w.Row(dest); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return errors.Join(err, w.Flush())
	}
	return w.Flush()
}
