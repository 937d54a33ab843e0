package output

import (
	"bufio"
	"encoding/csv"
	"errors"
	"io"
	"strings"
)

// EngineFormat is the ClickHouse format to ask the engine for, for
// FromEngine to write format.
func EngineFormat(format string) string {
	switch format {
	case TSV:
		return "TabSeparated"
	case JSON:
		return "JSONEachRow"
	default:
		// table and csv: vakt lays out the cells the engine printed.
		return "TabSeparatedWithNames"
	}
}

// EngineSettings go with every query whose output FromEngine reads: 64-bit
// integers stay JSON strings (JSON numbers lose precision past 2^53), as
// vakt has always printed them.
var EngineSettings = map[string]string{"output_format_json_quote_64bit_integers": "1"}

// FromEngine writes the engine's output, in EngineFormat(format), to out in
// format. tsv and json are the engine's bytes; table and csv lay out the
// cells the engine printed. Either way every type the engine can print is
// printed as the engine prints it. No input (a statement without a result)
// writes nothing.
func FromEngine(format string, in io.Reader, out io.Writer) error {
	if err := Check(format); err != nil {
		return err
	}
	switch format {
	case TSV, JSON:
		_, err := io.Copy(out, in)
		return err
	}
	r := bufio.NewReaderSize(in, 64<<10)
	header, err := readTSVRow(r)
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return err
	}
	names := make([]string, len(header))
	for i, h := range header {
		names[i] = unescapeTSV(h)
	}
	var add func(cells []string) error
	var flush func() error
	if format == CSV {
		w := csv.NewWriter(out)
		if err := w.Write(names); err != nil {
			return err
		}
		add = w.Write
		flush = func() error { w.Flush(); return w.Error() }
	} else {
		t := newTable(names, out)
		add = func(cells []string) error { t.add(cells); return nil }
		flush = t.flush
	}
	null := map[string]string{CSV: "", Table: "NULL"}[format]
	for {
		cells, err := readTSVRow(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		for i, c := range cells {
			if c == `\N` {
				cells[i] = null
			} else {
				cells[i] = unescapeTSV(c)
			}
		}
		if err := add(cells); err != nil {
			return err
		}
	}
	return flush()
}

// readTSVRow reads one TabSeparated line as its escaped cells.
func readTSVRow(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if line == "" && err != nil {
		return nil, err
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return strings.Split(strings.TrimSuffix(line, "\n"), "\t"), nil
}

var tsvUnescapes = map[byte]byte{'t': '\t', 'n': '\n', 'r': '\r', '0': 0, 'b': '\b', 'f': '\f', 'a': '\a', 'v': '\v'}

// unescapeTSV undoes TabSeparated escaping: \t, \n, \\ and the others.
func unescapeTSV(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		if u, ok := tsvUnescapes[s[i]]; ok {
			b.WriteByte(u)
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// WriteTSVRow writes cells as one TabSeparated line (a header of names).
func WriteTSVRow(w io.Writer, cells []string) error {
	esc := make([]string, len(cells))
	for i, c := range cells {
		esc[i] = tsvEscaper.Replace(c)
	}
	_, err := io.WriteString(w, strings.Join(esc, "\t")+"\n")
	return err
}
