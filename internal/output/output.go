// Package output writes rows as a table, JSON lines, CSV or TSV: the output
// formats of `vakt sql`, `vakt report` and the other commands that list
// rows. Rows come either as Go values with ClickHouse column types (Writer)
// or as the engine's own output (FromEngine).
package output

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// The output formats.
const (
	Table = "table"
	JSON  = "json" // one JSON object per row (JSON Lines)
	CSV   = "csv"  // with a header row
	TSV   = "tsv"  // ClickHouse TabSeparated: no header, escaped
)

// Valid reports whether f is an output format.
func Valid(f string) bool {
	switch f {
	case Table, JSON, CSV, TSV:
		return true
	}
	return false
}

// Check returns the --format error for an unknown format.
func Check(f string) error {
	if !Valid(f) {
		return fmt.Errorf("--format %q: use table, json, csv or tsv", f)
	}
	return nil
}

// Column is one output column: its name and ClickHouse type, which says how
// a value is rendered (DateTime64(3) with milliseconds, Date as a date).
type Column struct {
	Name, Type string
}

// Writer writes rows of Go values, one value per column.
type Writer interface {
	Row(vals []any) error
	// Flush writes what is buffered (the table format aligns all rows).
	Flush() error
}

// NewWriter returns a writer of rows in format; csv writes its header now.
// What it writes reaches out in 64 KiB blocks and at Flush: the table format
// wrote each cell with a write of its own, 139,000 system calls and a third
// of a day's health report in a terminal's format.
func NewWriter(format string, cols []Column, out io.Writer) (Writer, error) {
	if err := Check(format); err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	switch format {
	case Table:
		return &tableWriter{cols: cols, table: newTable(names(cols), bw), out: bw}, nil
	case JSON:
		keys := make([][]byte, len(cols))
		for i, c := range cols {
			keys[i], _ = json.Marshal(c.Name)
		}
		return &jsonWriter{cols: cols, keys: keys, out: bw}, nil
	case CSV:
		w := csv.NewWriter(bw)
		return &csvWriter{cols: cols, w: w, out: bw}, w.Write(names(cols))
	default:
		return &tsvWriter{cols: cols, out: bw}, nil
	}
}

func names(cols []Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

// table aligns rows of text under a header and counts them.
type table struct {
	names  []string
	rows   [][]string
	widths []int // each column's widest cell, in runes
	ragged bool  // a row whose number of cells is not the header's
	out    io.Writer
}

func newTable(names []string, out io.Writer) *table {
	t := &table{names: make([]string, len(names)), out: out, widths: make([]int, len(names))}
	for i, n := range names {
		n = cellEscaper.Replace(n)
		t.names[i] = n
		t.widths[i] = max(len(n), 1) // the header's rule, a dash per byte
	}
	return t
}

// cellEscaper keeps each row on one line and the columns apart: line
// breaks, tabs and the characters a terminal moves the cursor by.
var cellEscaper = strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`, "\v", `\v`, "\f", `\f`)

func (t *table) add(cells []string) {
	if len(cells) != len(t.names) {
		t.ragged = true
	}
	for i := range cells {
		cells[i] = cellEscaper.Replace(cells[i])
		if i < len(t.widths) {
			t.widths[i] = max(t.widths[i], utf8.RuneCountInString(cells[i]))
		}
	}
	t.rows = append(t.rows, cells)
}

// columnGap is the spaces between two columns.
const columnGap = 2

func (t *table) flush() error {
	seps := make([]string, len(t.names))
	for i, n := range t.names {
		seps[i] = strings.Repeat("-", max(len(n), 1))
	}
	if t.ragged {
		return t.flushTabwriter(seps)
	}
	// Padded here rather than by text/tabwriter, to the same layout (each
	// column as wide as its widest cell and two spaces, the last one not
	// padded): tabwriter took half of writing a day's health series
	// (3,500 rows, 8 ms).
	w, ok := t.out.(io.StringWriter)
	if !ok {
		w = bufio.NewWriter(t.out)
	}
	var err error
	line := func(cells []string) {
		for i, c := range cells {
			if _, e := w.WriteString(c); e != nil && err == nil {
				err = e
			}
			if i == len(cells)-1 {
				break
			}
			for pad := t.widths[i] + columnGap - utf8.RuneCountInString(c); pad > 0; pad -= len(spaces) {
				w.WriteString(spaces[:min(pad, len(spaces))])
			}
		}
		w.WriteString("\n")
	}
	line(t.names)
	line(seps)
	for _, r := range t.rows {
		line(r)
	}
	if bw, ok := w.(*bufio.Writer); ok && bw != t.out {
		if e := bw.Flush(); e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(t.out, "(%d rows)\n", len(t.rows))
	return err
}

const spaces = "                                                                "

// flushTabwriter lays out rows of differing lengths as text/tabwriter does
// (a column ends where a row has no cell for it).
func (t *table) flushTabwriter(seps []string) error {
	tw := tabwriter.NewWriter(t.out, 0, 0, columnGap, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.names, "\t"))
	fmt.Fprintln(tw, strings.Join(seps, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(t.out, "(%d rows)\n", len(t.rows))
	return err
}

type tableWriter struct {
	cols  []Column
	table *table
	out   *bufio.Writer
}

func (t *tableWriter) Row(vals []any) error {
	cells := make([]string, len(vals))
	for i, v := range vals {
		cells[i] = Text(v, t.cols[i].Type, "NULL")
	}
	t.table.add(cells)
	return nil
}

func (t *tableWriter) Flush() error {
	if err := t.table.flush(); err != nil {
		return err
	}
	return t.out.Flush()
}

type jsonWriter struct {
	cols []Column
	keys [][]byte // the columns' names as JSON strings
	out  *bufio.Writer
	buf  []byte
}

func (j *jsonWriter) Row(vals []any) error {
	// An ordered object: encoding/json sorts map keys, columns keep order.
	// Its parts are json.Marshal's (compact, HTML-escaped), so the line is
	// written as built: an Encoder would compact and check it again (a
	// quarter of writing a threat report's 16,000 findings).
	b := append(j.buf[:0], '{')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, j.keys[i]...)
		b = append(b, ':')
		b = appendJSONValue(b, v, j.cols[i].Type)
	}
	b = append(b, '}', '\n')
	j.buf = b
	_, err := j.out.Write(b)
	return err
}

func (j *jsonWriter) Flush() error { return j.out.Flush() }

type csvWriter struct {
	cols []Column
	w    *csv.Writer
	out  *bufio.Writer
}

func (c *csvWriter) Row(vals []any) error {
	cells := make([]string, len(vals))
	for i, v := range vals {
		cells[i] = Text(v, c.cols[i].Type, "")
	}
	return c.w.Write(cells)
}

func (c *csvWriter) Flush() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return err
	}
	return c.out.Flush()
}

type tsvWriter struct {
	cols []Column
	out  *bufio.Writer
}

// tsvEscaper escapes as ClickHouse's TabSeparated format does.
var tsvEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`, "\x00", `\0`, "\b", `\b`, "\f", `\f`)

func (t *tsvWriter) Row(vals []any) error {
	cells := make([]string, len(vals))
	for i, v := range vals {
		if deref(v) == nil {
			cells[i] = `\N`
			continue
		}
		cells[i] = tsvEscaper.Replace(Text(v, t.cols[i].Type, ""))
	}
	_, err := io.WriteString(t.out, strings.Join(cells, "\t")+"\n")
	return err
}

func (t *tsvWriter) Flush() error { return t.out.Flush() }
