// Package chserver serves the embedded ClickHouse engine (internal/chdb) on a
// ClickHouse-compatible HTTP endpoint, good enough for clickhouse-go's HTTP
// protocol, curl and Grafana's ClickHouse plugin. vakt's store and every
// query path use clickhouse-go against it, so the embedded default and a real
// ClickHouse server share one code path.
//
// No library serves ClickHouse's HTTP interface over chDB, hence this file.
package chserver

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"github.com/vakt-dev/vakt/internal/chdb"
)

// DefaultListen is ClickHouse's usual HTTP port, on loopback only.
const DefaultListen = "127.0.0.1:8123"

// DisplayName is what the endpoint reports as the server's display name.
const DisplayName = "vakt-chdb"

// User is an account of the endpoint.
type User struct {
	Password string
	// ReadOnly users may only run statements the engine's parser classes as
	// read-only (SELECT, SHOW, DESCRIBE, EXPLAIN, EXISTS).
	ReadOnly bool
}

// Config configures the endpoint.
type Config struct {
	DataDir string // engine data directory
	Listen  string // host:port; DefaultListen when empty, port 0 picks one
	LibPath string // libchdb.so; see chdb.FindLib when empty
	// Users, when set, are the only accounts accepted (HTTP basic auth, the
	// X-ClickHouse-User/Key headers or user/password parameters). When empty
	// every request is served as user "default": the listener is loopback.
	Users map[string]User
	// Sessions is how many pooled engine sessions serve requests that carry
	// no settings. Requests with settings get a session of their own.
	Sessions int
	Log      *slog.Logger
}

// Server is a running endpoint with its engine.
type Server struct {
	cfg      Config
	engine   *chdb.Engine
	pool     chan *chdb.Conn
	settings map[string]bool // names the engine accepts as query settings
	version  string
	timezone string
	ln       net.Listener
	http     *http.Server
	log      *slog.Logger
}

// Start boots the engine on cfg.DataDir and serves it on cfg.Listen.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Sessions <= 0 {
		cfg.Sessions = 4
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Listen first: a busy port should fail fast, before the engine boots
	// (rebooting the engine in one process is unsafe).
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("clickhouse endpoint: listen on %s: %w (is another vakt or ClickHouse using this port? set clickhouse.listen)", cfg.Listen, err)
	}
	engine, err := chdb.Open(cfg.LibPath, cfg.DataDir)
	if err != nil {
		ln.Close()
		return nil, err
	}
	s := &Server{cfg: cfg, engine: engine, pool: make(chan *chdb.Conn, cfg.Sessions), log: log}
	if err := s.init(); err != nil {
		ln.Close()
		s.closeEngine()
		return nil, err
	}
	s.ln = ln
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("clickhouse endpoint stopped", "err", err)
		}
	}()
	return s, nil
}

func (s *Server) init() error {
	r, err := s.engine.Root().Query("SELECT version(), timezone()", "TabSeparated")
	if err != nil {
		return fmt.Errorf("clickhouse engine: %w", err)
	}
	f := strings.Split(strings.TrimSpace(string(r.Data)), "\t")
	if len(f) != 2 {
		return fmt.Errorf("clickhouse engine: unexpected version answer %q", r.Data)
	}
	s.version, s.timezone = f[0], f[1]
	r, err = s.engine.Root().Query("SELECT name FROM system.settings", "TabSeparated")
	if err != nil {
		return fmt.Errorf("clickhouse engine: list settings: %w", err)
	}
	s.settings = make(map[string]bool)
	for _, n := range strings.Split(string(r.Data), "\n") {
		if n != "" {
			s.settings[n] = true
		}
	}
	for i := 0; i < s.cfg.Sessions; i++ {
		c, err := s.engine.Connect(nil)
		if err != nil {
			return err
		}
		s.pool <- c
	}
	return nil
}

// Addr is the host:port the endpoint listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the endpoint's base URL.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Engine is the embedded engine, for in-process callers.
func (s *Server) Engine() *chdb.Engine { return s.engine }

// Close stops serving, then shuts the engine down.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	s.closeEngine()
	return err
}

func (s *Server) closeEngine() {
	close(s.pool)
	for c := range s.pool {
		c.Close()
	}
	s.engine.Close()
}

// Parameters of ClickHouse's HTTP interface that are not query settings.
var httpParams = map[string]bool{
	"query": true, "database": true, "default_format": true, "query_id": true,
	"session_id": true, "session_timeout": true, "session_check": true,
	"user": true, "password": true, "quota_key": true, "client_protocol_version": true,
	"buffer_size": true, "wait_end_of_query": true, "compress": true, "decompress": true,
	"enable_http_compression": true, "http_zlib_compression_level": true,
	"send_progress_in_http_headers": true, "http_headers_progress_interval_ms": true,
	"role": true, "query_kind": true,
}

// ClickHouse error codes the endpoint raises itself.
const (
	codeUnknownSetting   = 115
	codeAuthFailed       = 516
	codeBadArguments     = 36
	codeNotImplemented   = 48
	codeCannotParseInput = 27
)

// maxQueryBytes bounds a query text read into memory (insert data is
// streamed and not bounded by this).
const maxQueryBytes = 64 << 20

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/ping", "/replicas_status":
		io.WriteString(w, "Ok.\n")
		return
	case "/", "/query":
	default:
		http.Error(w, "There is no handle "+r.URL.Path+"\n\nUse / or /ping.\n", http.StatusNotFound)
		return
	}
	if r.Method == http.MethodGet && r.URL.RawQuery == "" {
		io.WriteString(w, "Ok.\n")
		return
	}
	if err := s.serveQuery(w, r); err != nil {
		s.writeError(w, err)
	}
}

func (s *Server) serveQuery(w http.ResponseWriter, r *http.Request) error {
	params := r.URL.Query()
	user, err := s.authenticate(r, params)
	if err != nil {
		return err
	}
	if params.Get("compress") == "1" || params.Get("decompress") == "1" {
		return &chdb.Error{Code: codeNotImplemented, Message: "Code: 48. DB::Exception: vakt's embedded endpoint does not support ClickHouse's compress/decompress framing; use HTTP compression (Content-Encoding: gzip) instead. (NOT_IMPLEMENTED)"}
	}
	body, err := requestBody(r)
	if err != nil {
		return err
	}
	defer body.Close()

	settings := map[string]string{}
	qparams := map[string]string{}
	for k, vs := range params {
		v := vs[len(vs)-1]
		switch {
		case strings.HasPrefix(k, "param_"):
			qparams[strings.TrimPrefix(k, "param_")] = v
		case httpParams[k]:
		case strings.HasSuffix(k, "_format") || strings.HasSuffix(k, "_structure") || strings.HasSuffix(k, "_types"):
			return &chdb.Error{Code: codeNotImplemented, Message: "Code: 48. DB::Exception: external tables are not supported by vakt's embedded endpoint. (NOT_IMPLEMENTED)"}
		case s.settings[k]:
			settings[k] = v
		default:
			return &chdb.Error{Code: codeUnknownSetting, Message: fmt.Sprintf("Code: 115. DB::Exception: Unknown setting '%s'. (UNKNOWN_SETTING)", k)}
		}
	}
	// The engine enforces read-only mode itself: 1 for read-only users, 2
	// (settings may change) for GET, as ClickHouse's HTTP interface does.
	switch {
	case user.ReadOnly:
		settings["readonly"] = "1"
	case r.Method == http.MethodGet:
		settings["readonly"] = "2"
	}

	format := params.Get("default_format")
	if format == "" {
		format = "TabSeparated"
	}
	queryID := params.Get("query_id")
	if queryID == "" {
		queryID = newQueryID()
	}

	// The statement is the query parameter followed by the body; for an
	// INSERT ... FORMAT, what follows the format name is data to stream.
	query := strings.TrimRight(params.Get("query"), " \t\r\n;")
	var data io.Reader
	if query != "" {
		if m := insertFormatRe.FindStringSubmatchIndex(query); m != nil && m[1] == len(query) {
			data = body
		} else {
			rest, err := readLimited(body)
			if err != nil {
				return err
			}
			if len(rest) > 0 {
				query += "\n" + string(rest)
			}
		}
	} else {
		// The body holds the statement, and for an inline INSERT ... FORMAT
		// its data too: split them, since the engine cuts inline binary data
		// short.
		br := newPeekReader(body)
		head, err := br.Peek(64 << 10)
		if err != nil {
			return err
		}
		if m := insertFormatRe.FindSubmatchIndex(head); m != nil {
			query = string(head[:m[1]])
			br.Discard(m[1])
			br.SkipLineEnd()
			data = br
		} else {
			all, err := readLimited(br)
			if err != nil {
				return err
			}
			query = string(all)
		}
	}
	if strings.TrimSpace(query) == "" {
		return &chdb.Error{Code: 62, Message: "Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)"}
	}

	conn, release, err := s.session(settings, params.Get("database"))
	if err != nil {
		return err
	}
	defer release()

	var res *chdb.Result
	var outFormat string
	switch {
	case data != nil:
		m := insertFormatRe.FindStringSubmatchIndex(query)
		stmt, dataFormat := query[m[2]:m[3]], query[m[4]:m[5]]
		res, err = conn.Insert(stmt, dataFormat, func(yield func([]byte) error) error {
			buf := make([]byte, 1<<20)
			for {
				n, err := io.ReadFull(data, buf)
				if n > 0 {
					if err := yield(buf[:n]); err != nil {
						return err
					}
				}
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					return nil
				}
				if err != nil {
					return &chdb.Error{Code: codeCannotParseInput, Message: "Code: 27. DB::Exception: reading request body: " + err.Error() + ". (CANNOT_PARSE_INPUT_ASSERTION_FAILED)"}
				}
			}
		})
	case isHello(query) && params.Get("client_protocol_version") != "" && format == "Native":
		res, err = s.hello(params.Get("client_protocol_version"))
		outFormat = "Native"
	default:
		res, err = conn.QueryWithParams(query, format, qparams)
		outFormat = format
		if m := trailingFormatRe.FindStringSubmatch(query); m != nil {
			outFormat = m[1]
		}
	}
	if err != nil {
		return err
	}
	s.writeResult(w, r, params, queryID, outFormat, res)
	return nil
}

// session returns an engine session for one request: a pooled one, or one
// of its own when the request carries settings or a database, so that
// neither leaks into later requests.
func (s *Server) session(settings map[string]string, database string) (*chdb.Conn, func(), error) {
	if len(settings) == 0 && (database == "" || database == "default") {
		c := <-s.pool
		return c, func() { s.pool <- c }, nil
	}
	c, err := s.engine.Connect(settings)
	if err != nil {
		return nil, nil, &chdb.Error{Code: codeBadArguments, Message: "Code: 36. DB::Exception: invalid setting value in request: " + err.Error() + ". (BAD_ARGUMENTS)"}
	}
	if database != "" && database != "default" {
		if _, err := c.Query("USE "+quoteIdent(database), "TabSeparated"); err != nil {
			c.Close()
			return nil, nil, err
		}
	}
	return c, c.Close, nil
}

func (s *Server) writeResult(w http.ResponseWriter, r *http.Request, params map[string][]string, queryID, format string, res *chdb.Result) {
	h := w.Header()
	h.Set("X-ClickHouse-Query-Id", queryID)
	h.Set("X-ClickHouse-Server-Display-Name", DisplayName)
	h.Set("X-ClickHouse-Timezone", s.timezone)
	if format != "" {
		h.Set("X-ClickHouse-Format", format)
		h.Set("Content-Type", contentType(format))
	} else {
		h.Set("Content-Type", "text/plain; charset=UTF-8")
	}
	summary, _ := json.Marshal(map[string]string{
		"read_rows":     strconv.FormatUint(res.RowsRead, 10),
		"read_bytes":    strconv.FormatUint(res.BytesRead, 10),
		"written_rows":  strconv.FormatUint(res.RowsWritten, 10),
		"written_bytes": strconv.FormatUint(res.BytesWritten, 10),
		"result_rows":   strconv.FormatUint(res.RowsRead, 10),
		"result_bytes":  strconv.Itoa(len(res.Data)),
		"elapsed_ns":    strconv.FormatInt(int64(res.Elapsed*1e9), 10),
	})
	h.Set("X-ClickHouse-Summary", string(summary))
	var out io.Writer = w
	if first(params, "enable_http_compression") == "1" && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		gz := gzip.NewWriter(w)
		defer gz.Close()
		out = gz
	} else {
		h.Set("Content-Length", strconv.Itoa(len(res.Data)))
	}
	out.Write(res.Data)
}

// writeError answers like ClickHouse: status 500 (401 for authentication),
// the exception text as the body and its code in X-ClickHouse-Exception-Code.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	var ce *chdb.Error
	if !errors.As(err, &ce) {
		ce = &chdb.Error{Code: 1001, Message: "Code: 1001. DB::Exception: " + err.Error() + ". (STD_EXCEPTION)"}
	}
	status := http.StatusInternalServerError
	if ce.Code == codeAuthFailed {
		status = http.StatusUnauthorized
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("X-ClickHouse-Exception-Code", strconv.Itoa(ce.Code))
	h.Set("X-ClickHouse-Server-Display-Name", DisplayName)
	w.WriteHeader(status)
	io.WriteString(w, ce.Message+"\n")
}

func (s *Server) authenticate(r *http.Request, params map[string][]string) (User, error) {
	name, pass, ok := r.BasicAuth()
	if !ok {
		name, pass = r.Header.Get("X-ClickHouse-User"), r.Header.Get("X-ClickHouse-Key")
	}
	if name == "" {
		name, pass = first(params, "user"), first(params, "password")
	}
	if name == "" {
		name = "default"
	}
	if len(s.cfg.Users) == 0 {
		return User{}, nil
	}
	u, ok := s.cfg.Users[name]
	if !ok || subtle.ConstantTimeCompare([]byte(u.Password), []byte(pass)) != 1 {
		return User{}, &chdb.Error{Code: codeAuthFailed, Message: fmt.Sprintf("Code: 516. DB::Exception: %s: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)", name)}
	}
	return u, nil
}

// hello answers clickhouse-go's first query over HTTP. The client decodes
// that one answer at its own protocol revision, and every later answer at
// the revision reported here. Reporting revision 0 makes every later result
// and insert plain revision-0 Native, which is what the engine reads and
// writes; so this answer alone is encoded at the client's revision.
func (s *Server) hello(clientRevision string) (*chdb.Result, error) {
	rev, err := strconv.ParseUint(clientRevision, 10, 64)
	if err != nil {
		return nil, &chdb.Error{Code: codeBadArguments, Message: "Code: 36. DB::Exception: bad client_protocol_version. (BAD_ARGUMENTS)"}
	}
	block := proto.NewBlock()
	for _, c := range []struct{ name, typ string }{
		{"displayName()", "String"}, {"version()", "String"}, {"revision()", "UInt32"}, {"timezone()", "String"},
	} {
		if err := block.AddColumn(c.name, column.Type(c.typ)); err != nil {
			return nil, err
		}
	}
	if err := block.Append(DisplayName, s.version, uint32(0), s.timezone); err != nil {
		return nil, err
	}
	var buf chproto.Buffer
	if err := block.Encode(&buf, rev); err != nil {
		return nil, err
	}
	return &chdb.Result{Data: buf.Buf, RowsRead: 1}, nil
}

var (
	helloRe = regexp.MustCompile(`(?i)^\s*SELECT\s+displayName\(\)\s*,\s*version\(\)\s*,\s*revision\(\)\s*,\s*timezone\(\)\s*;?\s*$`)
	// insertFormatRe finds "INSERT ... FORMAT name" and ends right after the
	// format name: what follows is data. Group 1 ends the statement, group 2
	// is the format.
	insertFormatRe = regexp.MustCompile(`(?is)^(\s*INSERT\s+INTO\s.*?)\s+FORMAT\s+([A-Za-z][A-Za-z0-9_]*)`)
	// trailingFormatRe finds a FORMAT clause that ends a query.
	trailingFormatRe = regexp.MustCompile(`(?is)\sFORMAT\s+([A-Za-z][A-Za-z0-9_]*)\s*;?\s*$`)
)

func isHello(q string) bool { return helloRe.MatchString(q) }

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
