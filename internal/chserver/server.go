// Package chserver serves the embedded ClickHouse engine (internal/chdb) on a
// ClickHouse-compatible HTTP endpoint, good enough for clickhouse-go's HTTP
// protocol, curl and Grafana's ClickHouse plugin. vakt's store and every
// query path use clickhouse-go against it, so the embedded default and a real
// ClickHouse server share one code path.
//
// No library serves ClickHouse's HTTP interface over chDB, hence this file.
package chserver

import (
	"compress/gzip"
	"context"
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
	"github.com/vakt-dev/vakt/internal/httpguard"
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
	// Users are the only accounts accepted (HTTP basic auth, the
	// X-ClickHouse-User/Key headers or user/password parameters); there must
	// be at least one, each with a password: loopback is no trust boundary.
	Users map[string]User
	// AllowedHosts are Host header values accepted besides loopback names
	// and the listen address (a name the endpoint is reached by, e.g. behind
	// a proxy).
	AllowedHosts []string
	// Sessions is how many idle engine sessions are kept per access level
	// for requests that carry no settings.
	Sessions int
	// MaxQueryMemory (bytes, default 2 GiB) and MaxExecutionTime (default
	// 5m) are forced on every session; clients may only lower them.
	MaxQueryMemory   int64
	MaxExecutionTime time.Duration
	// MaxConcurrentQueries (default 4) run at once; a few more wait up to
	// QueueWait (default 10s), then get code 202.
	MaxConcurrentQueries int
	QueueWait            time.Duration
	// MaxConnections (default 128) caps open client connections.
	MaxConnections int
	// BodyIdleTimeout (default 30s) cuts a request body that sends nothing
	// for that long.
	BodyIdleTimeout time.Duration
	Log             *slog.Logger
}

// Defaults of the limits.
const (
	DefaultMaxQueryMemory       = 2 << 30
	DefaultMaxExecutionTime     = 5 * time.Minute
	DefaultMaxConcurrentQueries = 4
	DefaultMaxConnections       = 128
)

// Server is a running endpoint with its engine.
type Server struct {
	cfg      Config
	engine   *chdb.Engine
	pools    [3]chan *chdb.Conn // idle sessions by readonly level
	checker  *checker
	gate     *gate
	settings map[string]bool // names the engine accepts as query settings
	version  string
	timezone string
	ln       net.Listener
	guard    *httpguard.Guard // Host and Origin checks; accounts are the endpoint's own
	http     *http.Server
	log      *slog.Logger
}

// Start boots the engine on cfg.DataDir and serves it on cfg.Listen.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if len(cfg.Users) == 0 {
		return nil, errors.New("clickhouse endpoint: no accounts configured (anonymous access is not served)")
	}
	for name, u := range cfg.Users {
		if name == "" || u.Password == "" {
			return nil, fmt.Errorf("clickhouse endpoint: account %q has no password", name)
		}
	}
	setDefault(&cfg.Sessions, 4)
	setDefault(&cfg.MaxQueryMemory, DefaultMaxQueryMemory)
	setDefault(&cfg.MaxExecutionTime, DefaultMaxExecutionTime)
	setDefault(&cfg.MaxConcurrentQueries, DefaultMaxConcurrentQueries)
	setDefault(&cfg.QueueWait, 10*time.Second)
	setDefault(&cfg.MaxConnections, DefaultMaxConnections)
	setDefault(&cfg.BodyIdleTimeout, 30*time.Second)
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
	s := &Server{cfg: cfg, engine: engine, gate: newGate(cfg.MaxConcurrentQueries, cfg.QueueWait), log: log}
	for i := range s.pools {
		s.pools[i] = make(chan *chdb.Conn, cfg.Sessions)
	}
	if err := s.init(); err != nil {
		ln.Close()
		s.closeEngine()
		return nil, err
	}
	s.ln = ln
	s.guard = httpguard.New(httpguard.Options{Listen: ln.Addr().String(), AllowedHosts: cfg.AllowedHosts})
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln = httpguard.LimitListener(ln, cfg.MaxConnections)
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
	s.checker, err = newChecker(s.engine)
	return err
}

func setDefault[T int | int64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
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
	for _, p := range s.pools {
		close(p)
		for c := range p {
			c.Close()
		}
	}
	if s.checker != nil {
		s.checker.close()
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
	codeUnknownSetting    = 115
	codeAuthFailed        = 516
	codeBadArguments      = 36
	codeNotImplemented    = 48
	codeCannotParseInput  = 27
	codeSyntaxError       = 62
	codeReadonly          = 164
	codeAccessDenied      = 497
	codeSettingConstraint = 452
	codeTooManyQueries    = 202
	codeSocketTimeout     = 209
)

var errorNames = map[int]string{codeReadonly: "READONLY", codeAccessDenied: "ACCESS_DENIED"}

// maxQueryBytes bounds a query text read into memory (insert data after
// FORMAT is streamed and not bounded by this). ClickHouse's own
// max_query_size is 256 KiB.
const maxQueryBytes = 1 << 20

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if status, err := s.checkOrigin(r); err != nil {
		s.writeErrorStatus(w, status, err)
		return
	}
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
	name, user, err := s.authenticate(r, params)
	if err != nil {
		return err
	}
	if params.Get("compress") == "1" || params.Get("decompress") == "1" {
		return &chdb.Error{Code: codeNotImplemented, Message: "Code: 48. DB::Exception: vakt's embedded endpoint does not support ClickHouse's compress/decompress framing; use HTTP compression (Content-Encoding: gzip) instead. (NOT_IMPLEMENTED)"}
	}
	r.Body = &idleBody{r: r.Body, rc: http.NewResponseController(w), idle: s.cfg.BodyIdleTimeout}
	body, err := requestBody(r)
	if err != nil {
		return err
	}
	defer body.Close()

	settings, qparams, err := s.splitParams(params)
	if err != nil {
		return err
	}
	level, mode, err := readOnlyLevel(user, r.Method, settings)
	if err != nil {
		return err
	}
	format := params.Get("default_format")
	if format == "" {
		format = "TabSeparated"
	}
	queryID := params.Get("query_id")
	if queryID == "" {
		queryID = newQueryID()
	}
	query, data, err := readStatement(params.Get("query"), body)
	if err != nil {
		return err
	}
	if isHello(query) && params.Get("client_protocol_version") != "" && format == "Native" {
		res, err := s.hello(params.Get("client_protocol_version"))
		if err != nil {
			return err
		}
		s.writeResult(w, r, params, queryID, "Native", res)
		return nil
	}

	d := s.checker.check(query, qparams, mode, name)
	if d.err != nil {
		return d.err
	}
	storage := d.kind == "CreateQuery" || d.kind == "AlterQuery"
	for i, n := range d.setting {
		if err := s.checkSetting(n, d.values[i], storage); err != nil {
			return err
		}
	}

	done, err := s.gate.acquire(r.Context())
	if err != nil {
		return err
	}
	defer done()
	conn, release, err := s.session(level, settings, params.Get("database"))
	if err != nil {
		return err
	}
	res, outFormat, err := execute(conn, query, data, format, qparams)
	// The result is in memory: free the session before a slow reader
	// takes it.
	release()
	if err != nil {
		return err
	}
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute))
	s.writeResult(w, r, params, queryID, outFormat, res)
	return nil
}

// forced are the settings every session starts with: the limits, the
// readonly level, and VALUES read as literals only (an expression in inline
// data is not in the statement the policy checked).
func (s *Server) forced(level int) map[string]string {
	m := map[string]string{
		"max_memory_usage":                                    strconv.FormatInt(s.cfg.MaxQueryMemory, 10),
		"max_execution_time":                                  strconv.FormatFloat(s.cfg.MaxExecutionTime.Seconds(), 'f', -1, 64),
		"input_format_values_interpret_expressions":           "0",
		"input_format_values_deduce_templates_of_expressions": "0",
	}
	if level > 0 {
		m["readonly"] = strconv.Itoa(level)
	}
	return m
}

// session returns an engine session for one request: an idle one of its
// readonly level, or one of its own when the request carries settings or a
// database, so that neither leaks into later requests.
func (s *Server) session(level int, settings map[string]string, database string) (*chdb.Conn, func(), error) {
	pool := s.pools[level]
	if len(settings) == 0 && (database == "" || database == "default") {
		select {
		case c := <-pool:
			return c, func() { s.putBack(pool, c) }, nil
		default:
		}
		c, err := s.engine.Connect(s.forced(level))
		if err != nil {
			return nil, nil, err
		}
		return c, func() { s.putBack(pool, c) }, nil
	}
	all := s.forced(level)
	for k, v := range settings {
		all[k] = v
	}
	c, err := s.engine.Connect(all)
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

func (s *Server) putBack(pool chan *chdb.Conn, c *chdb.Conn) {
	select {
	case pool <- c:
	default:
		c.Close()
	}
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
