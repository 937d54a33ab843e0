// Package chdb runs the ClickHouse engine in-process by loading libchdb at
// run time with purego, so vakt builds without cgo and every command that
// does not need the engine works without the library.
//
// chdb-go exists, but its purego package panics in init() when the library
// is absent and passes SQL as NUL-terminated strings (no binary inserts);
// the binding here is small and uses the binary-safe *_n entry points and
// the streaming insert API instead.
package chdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// LibVersion is the libchdb release vakt is built and tested against.
const LibVersion = "26.7.3-stable.1"

// LibEnv names the environment variable that locates libchdb.so.
const LibEnv = "CHDB_LIB_PATH"

// ErrLibNotFound reports that libchdb.so could not be located.
var ErrLibNotFound = errors.New("libchdb.so not found")

var (
	loadOnce sync.Once
	loadErr  error

	chdbConnect                 func(argc int32, argv unsafe.Pointer) *unsafe.Pointer
	chdbCloseConn               func(conn *unsafe.Pointer)
	chdbQueryN                  func(conn unsafe.Pointer, q unsafe.Pointer, qlen uintptr, f unsafe.Pointer, flen uintptr) unsafe.Pointer
	chdbQueryWithParamsN        func(conn unsafe.Pointer, q unsafe.Pointer, qlen uintptr, f unsafe.Pointer, flen uintptr, names, nameLens, values, valueLens unsafe.Pointer, n uintptr) unsafe.Pointer
	chdbDestroyQueryResult      func(res unsafe.Pointer)
	chdbResultBuffer            func(res unsafe.Pointer) *byte
	chdbResultLength            func(res unsafe.Pointer) uintptr
	chdbResultError             func(res unsafe.Pointer) *byte
	chdbResultElapsed           func(res unsafe.Pointer) float64
	chdbResultRowsRead          func(res unsafe.Pointer) uint64
	chdbResultBytesRead         func(res unsafe.Pointer) uint64
	chdbResultRowsWritten       func(res unsafe.Pointer) uint64
	chdbResultBytesWritten      func(res unsafe.Pointer) uint64
	chdbStreamInsertN           func(conn unsafe.Pointer, q unsafe.Pointer, qlen uintptr, f unsafe.Pointer, flen uintptr) unsafe.Pointer
	chdbStreamAppend            func(stream unsafe.Pointer, data unsafe.Pointer, n uintptr) int32
	chdbStreamDone              func(stream unsafe.Pointer) unsafe.Pointer
	chdbStreamCancelInsert      func(stream unsafe.Pointer)
	chdbStreamInsertError       func(stream unsafe.Pointer) *byte
	chdbDestroyInsertStream     func(stream unsafe.Pointer)
	chdbSetSignalHandlersEnable func(enabled int32)
	chdbVersion                 func() *byte
)

// FindLib returns the path of libchdb.so: explicit if set, else $CHDB_LIB_PATH
// (a file or a directory holding it), else vakt's cache directory, else
// /usr/local/lib (where chDB's installer puts it).
func FindLib(explicit string) (string, error) {
	var candidates []string
	for _, p := range []string{explicit, os.Getenv(LibEnv)} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			p = filepath.Join(p, "libchdb.so")
		}
		candidates = append(candidates, p)
	}
	if dir, err := CacheDir(); err == nil {
		candidates = append(candidates, filepath.Join(dir, "libchdb.so"))
	}
	candidates = append(candidates, "/usr/local/lib/libchdb.so")
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w (looked in %v): run `make chdb` to fetch it, or set %s to its path", ErrLibNotFound, candidates, LibEnv)
}

// CacheDir is where `make chdb` puts the library: $XDG_CACHE_HOME/vakt/chdb/<version>.
func CacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "vakt", "chdb", LibVersion), nil
}

func load(path string) error {
	loadOnce.Do(func() {
		lib, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			loadErr = fmt.Errorf("load %s: %w", path, err)
			return
		}
		reg := func(fptr any, name string) {
			if loadErr != nil {
				return
			}
			if _, err := purego.Dlsym(lib, name); err != nil {
				loadErr = fmt.Errorf("%s: symbol %s missing (need libchdb %s or newer): %w", path, name, LibVersion, err)
				return
			}
			purego.RegisterLibFunc(fptr, lib, name)
		}
		reg(&chdbConnect, "chdb_connect")
		reg(&chdbCloseConn, "chdb_close_conn")
		reg(&chdbQueryN, "chdb_query_n")
		reg(&chdbQueryWithParamsN, "chdb_query_with_params_n")
		reg(&chdbDestroyQueryResult, "chdb_destroy_query_result")
		reg(&chdbResultBuffer, "chdb_result_buffer")
		reg(&chdbResultLength, "chdb_result_length")
		reg(&chdbResultError, "chdb_result_error")
		reg(&chdbResultElapsed, "chdb_result_elapsed")
		reg(&chdbResultRowsRead, "chdb_result_rows_read")
		reg(&chdbResultBytesRead, "chdb_result_bytes_read")
		reg(&chdbResultRowsWritten, "chdb_result_rows_written")
		reg(&chdbResultBytesWritten, "chdb_result_bytes_written")
		reg(&chdbStreamInsertN, "chdb_stream_insert_n")
		reg(&chdbStreamAppend, "chdb_stream_append")
		reg(&chdbStreamDone, "chdb_stream_done")
		reg(&chdbStreamCancelInsert, "chdb_stream_cancel_insert")
		reg(&chdbStreamInsertError, "chdb_stream_insert_error")
		reg(&chdbDestroyInsertStream, "chdb_destroy_insert_stream")
		reg(&chdbSetSignalHandlersEnable, "chdb_set_signal_handlers_enabled")
		reg(&chdbVersion, "chdb_version")
	})
	return loadErr
}

// Engine is the ClickHouse engine opened on one data directory. A process
// can hold only one: libchdb boots one engine per process.
type Engine struct {
	path string
	// root keeps the engine alive: closing the last connection shuts the
	// engine down, and rebooting it in one process is unsafe.
	root *Conn
}

var (
	engineMu   sync.Mutex
	engineOpen *Engine
)

// Open loads the library (see FindLib) and boots the engine on dataDir.
func Open(libPath, dataDir string) (*Engine, error) {
	engineMu.Lock()
	defer engineMu.Unlock()
	if engineOpen != nil {
		return nil, fmt.Errorf("chdb: engine already open on %s in this process", engineOpen.path)
	}
	lp, err := FindLib(libPath)
	if err != nil {
		return nil, err
	}
	if err := load(lp); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("chdb: data dir: %w", err)
	}
	// Must precede chdb_connect: the engine's own handlers would otherwise
	// replace Go's, and a Go panic or SIGTERM would hang the process.
	chdbSetSignalHandlersEnable(0)
	e := &Engine{path: dataDir}
	root, err := e.connect()
	if err != nil {
		return nil, err
	}
	e.root = root
	engineOpen = e
	return e, nil
}

// Path is the engine's data directory.
func (e *Engine) Path() string { return e.path }

// Version is the library's version string.
func (e *Engine) Version() string { return goString(chdbVersion()) }

// Connect opens another session on the engine. settings are ClickHouse
// query-level settings applied to this session only, as if by SET.
func (e *Engine) Connect(settings map[string]string) (*Conn, error) {
	return e.connect(settingArgs(settings)...)
}

func (e *Engine) connect(extra ...string) (*Conn, error) {
	args := append([]string{"vakt", "--path=" + e.path}, extra...)
	cargs := make([][]byte, len(args))
	ptrs := make([]*byte, len(args)+1)
	for i, a := range args {
		cargs[i] = append([]byte(a), 0)
		ptrs[i] = &cargs[i][0]
	}
	pp := chdbConnect(int32(len(args)), unsafe.Pointer(&ptrs[0]))
	runtime.KeepAlive(cargs)
	runtime.KeepAlive(ptrs)
	if pp == nil {
		return nil, fmt.Errorf("chdb: connect to %s failed (another process may own this data dir, or a setting is invalid)", e.path)
	}
	// chdb_connect returns a pointer to the connection handle.
	return &Conn{handle: *pp, holder: pp}, nil
}

// Close shuts the engine down. Every other Conn must be closed first.
func (e *Engine) Close() error {
	engineMu.Lock()
	defer engineMu.Unlock()
	if e.root != nil {
		e.root.Close()
		e.root = nil
	}
	if engineOpen == e {
		engineOpen = nil
	}
	return nil
}

// Root returns the engine's long-lived session, for callers that serialise
// their own use of it.
func (e *Engine) Root() *Conn { return e.root }

// Conn is one session. It runs one statement at a time; the mutex makes
// concurrent callers queue instead of corrupting its state.
type Conn struct {
	mu     sync.Mutex
	handle unsafe.Pointer  // chdb_connection
	holder *unsafe.Pointer // the chdb_connection* that chdb_close_conn takes
}

// Close ends the session.
func (c *Conn) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holder != nil {
		chdbCloseConn(c.holder)
		c.holder, c.handle = nil, nil
	}
}

// Result is a finished statement's output and counters.
type Result struct {
	Data         []byte
	Elapsed      float64
	RowsRead     uint64
	BytesRead    uint64
	RowsWritten  uint64
	BytesWritten uint64
}

// Error is an exception raised by the engine.
type Error struct {
	Code    int    // ClickHouse error code, 0 when the text carries none
	Message string // full exception text
}

func (e *Error) Error() string { return e.Message }

var codeRe = regexp.MustCompile(`Code: (\d+)\.`)

func newError(msg string) *Error {
	e := &Error{Message: msg}
	if m := codeRe.FindStringSubmatch(msg); m != nil {
		e.Code, _ = strconv.Atoi(m[1])
	}
	return e
}

// Query runs one statement and returns its output in format (for example
// "TabSeparated", "Native", "JSON"). A FORMAT clause in the query wins.
func (c *Conn) Query(query, format string) (*Result, error) {
	return c.QueryWithParams(query, format, nil)
}

// QueryWithParams runs a statement with server-side bound {name:Type}
// parameters; values are never interpolated into the SQL.
func (c *Conn) QueryWithParams(query, format string, params map[string]string) (*Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.handle == nil {
		return nil, errors.New("chdb: connection closed")
	}
	if format == "" {
		format = "TabSeparated"
	}
	q, f := []byte(query), []byte(format)
	var res unsafe.Pointer
	if len(params) == 0 {
		res = chdbQueryN(c.handle, bytesPtr(q), uintptr(len(q)), bytesPtr(f), uintptr(len(f)))
	} else {
		n := len(params)
		names, values := make([]unsafe.Pointer, 0, n), make([]unsafe.Pointer, 0, n)
		nameLens, valueLens := make([]uintptr, 0, n), make([]uintptr, 0, n)
		keep := make([][]byte, 0, 2*n)
		for k, v := range params {
			// libchdb rejects a NULL value pointer even with length 0: give
			// an empty value a buffer (its length still says empty).
			kb, vb := []byte(k), append(make([]byte, 0, 1), v...)
			keep = append(keep, kb, vb)
			names, nameLens = append(names, bytesPtr(kb)), append(nameLens, uintptr(len(kb)))
			values, valueLens = append(values, unsafe.Pointer(unsafe.SliceData(vb))), append(valueLens, uintptr(len(vb)))
		}
		res = chdbQueryWithParamsN(c.handle, bytesPtr(q), uintptr(len(q)), bytesPtr(f), uintptr(len(f)),
			unsafe.Pointer(&names[0]), unsafe.Pointer(&nameLens[0]), unsafe.Pointer(&values[0]), unsafe.Pointer(&valueLens[0]), uintptr(n))
		runtime.KeepAlive(keep)
		runtime.KeepAlive(names)
		runtime.KeepAlive(values)
		runtime.KeepAlive(nameLens)
		runtime.KeepAlive(valueLens)
	}
	runtime.KeepAlive(q)
	runtime.KeepAlive(f)
	return takeResult(res)
}

// Insert streams body, encoded in format, into the INSERT statement query
// (which must carry no FORMAT clause or inline data). Binary-safe: this is
// the only correct way to send Native data to the engine.
func (c *Conn) Insert(query, format string, chunks func(yield func([]byte) error) error) (*Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.handle == nil {
		return nil, errors.New("chdb: connection closed")
	}
	q, f := []byte(query), []byte(format)
	stream := chdbStreamInsertN(c.handle, bytesPtr(q), uintptr(len(q)), bytesPtr(f), uintptr(len(f)))
	runtime.KeepAlive(q)
	runtime.KeepAlive(f)
	if stream == nil {
		return nil, errors.New("chdb: stream insert returned no handle")
	}
	defer chdbDestroyInsertStream(stream)
	if msg := goString(chdbStreamInsertError(stream)); msg != "" {
		return nil, newError(msg)
	}
	err := chunks(func(b []byte) error {
		if len(b) == 0 {
			return nil
		}
		rc := chdbStreamAppend(stream, unsafe.Pointer(&b[0]), uintptr(len(b)))
		runtime.KeepAlive(b)
		if rc != 0 {
			if msg := goString(chdbStreamInsertError(stream)); msg != "" {
				return newError(msg)
			}
			return errors.New("chdb: stream append failed")
		}
		return nil
	})
	if err != nil {
		chdbStreamCancelInsert(stream)
		return nil, err
	}
	return takeResult(chdbStreamDone(stream))
}

func takeResult(res unsafe.Pointer) (*Result, error) {
	if res == nil {
		return nil, errors.New("chdb: query returned no result")
	}
	defer chdbDestroyQueryResult(res)
	if msg := goString(chdbResultError(res)); msg != "" {
		return nil, newError(msg)
	}
	r := &Result{
		Elapsed:      chdbResultElapsed(res),
		RowsRead:     chdbResultRowsRead(res),
		BytesRead:    chdbResultBytesRead(res),
		RowsWritten:  chdbResultRowsWritten(res),
		BytesWritten: chdbResultBytesWritten(res),
	}
	if n := chdbResultLength(res); n > 0 {
		buf := chdbResultBuffer(res)
		r.Data = make([]byte, n)
		copy(r.Data, unsafe.Slice(buf, n))
	}
	return r, nil
}

func settingArgs(settings map[string]string) []string {
	args := make([]string, 0, len(settings))
	for k, v := range settings {
		args = append(args, "--"+k+"="+v)
	}
	return args
}

func bytesPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// goString copies a NUL-terminated C string; 0 yields "".
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}
