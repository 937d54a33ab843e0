package chserver

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/vakt-dev/vakt/internal/chdb"
)

func contentType(format string) string {
	switch {
	case strings.HasPrefix(format, "JSON"):
		return "application/json; charset=UTF-8"
	case strings.HasPrefix(format, "TabSeparated"), strings.HasPrefix(format, "TSV"):
		return "text/tab-separated-values; charset=UTF-8"
	case strings.HasPrefix(format, "CSV"):
		return "text/csv; charset=UTF-8; header=absent"
	case strings.HasPrefix(format, "Pretty"), format == "Vertical", format == "Markdown":
		return "text/plain; charset=UTF-8"
	default:
		return "application/octet-stream"
	}
}

func requestBody(r *http.Request) (io.ReadCloser, error) {
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
		return r.Body, nil
	case "gzip":
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, &chdb.Error{Code: codeCannotParseInput, Message: "Code: 27. DB::Exception: bad gzip request body: " + err.Error() + ". (CANNOT_DECOMPRESS)"}
		}
		return gz, nil
	default:
		return nil, &chdb.Error{Code: codeNotImplemented, Message: "Code: 48. DB::Exception: Content-Encoding " + enc + " is not supported by vakt's embedded endpoint; use gzip. (NOT_IMPLEMENTED)"}
	}
}

func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxQueryBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxQueryBytes {
		return nil, &chdb.Error{Code: 62, Message: fmt.Sprintf("Code: 62. DB::Exception: query text over %d bytes; send INSERT data after FORMAT instead. (SYNTAX_ERROR)", maxQueryBytes)}
	}
	return b, nil
}

func first(params map[string][]string, k string) string {
	if v := params[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "`", "\\`") + "`"
}

func newQueryID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// peekReader is a bufio.Reader-like reader whose Peek reads as much as is
// available up to n bytes without failing at EOF.
type peekReader struct {
	r   io.Reader
	buf []byte
}

func newPeekReader(r io.Reader) *peekReader { return &peekReader{r: r} }

func (p *peekReader) Peek(n int) ([]byte, error) {
	for len(p.buf) < n {
		chunk := make([]byte, n-len(p.buf))
		k, err := p.r.Read(chunk)
		p.buf = append(p.buf, chunk[:k]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return p.buf, nil
}

func (p *peekReader) Discard(n int) { p.buf = p.buf[n:] }

// SkipLineEnd drops the white space that separates a format name from its
// data: spaces and tabs, then one line end.
func (p *peekReader) SkipLineEnd() {
	p.buf = bytes.TrimLeft(p.buf, " \t")
	if bytes.HasPrefix(p.buf, []byte("\r\n")) {
		p.buf = p.buf[2:]
	} else if bytes.HasPrefix(p.buf, []byte("\n")) {
		p.buf = p.buf[1:]
	}
}

func (p *peekReader) Read(b []byte) (int, error) {
	if len(p.buf) > 0 {
		n := copy(b, p.buf)
		p.buf = p.buf[n:]
		return n, nil
	}
	return p.r.Read(b)
}

func (p *peekReader) Close() error { return nil }
