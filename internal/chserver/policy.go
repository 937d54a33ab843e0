package chserver

import (
	"container/list"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vakt-dev/vakt/internal/chdb"
)

// The statement policy is decided from the engine's own parser, never from
// the text: formatQuerySingleLine parses the statement (bound as a parameter,
// so it cannot smuggle a second statement in, and it refuses multi-statements
// with code 62), then EXPLAIN AST of that single canonical statement gives
// the tree, which is checked against allow-lists.
//
// Why the allow-lists are complete: in ClickHouse every way a statement
// reaches files, the network or other processes is one of: a table function
// (file, url, s3, remote, executable, mysql, input, ...), a table or database
// engine (File, URL, S3, Executable, MySQL, Filesystem, ...), a dictionary
// source, INTO OUTFILE / FROM INFILE, INSERT INTO FUNCTION, BACKUP/RESTORE,
// ATTACH ... FROM, SYSTEM and KILL statements, a setting that names a path,
// URL or disk, or one of a handful of scalar functions (file,
// catboostEvaluate). Statement kinds, table functions, engines, ALTER commands
// and settings are allowed only when listed here, so anything new the engine
// adds is refused until someone lists it; dictionaries, OUTFILE/INFILE and
// INSERT INTO FUNCTION are refused structurally; scalar functions are refused
// when they are table functions in disguise (file) or load files.

// Statement kinds (EXPLAIN AST root nodes) each account may run.
var (
	readKinds = map[string]bool{
		"SelectWithUnionQuery": true, "SelectIntersectExceptQuery": true,
		"ShowTables": true, "ShowCreateTableQuery": true, "ShowCreateDatabaseQuery": true,
		"ShowCreateViewQuery": true, "ShowColumns": true, "ShowIndexes": true,
		"ShowProcesslistQuery": true, "ShowEnginesQuery": true, "ShowFunctions": true,
		"DescribeQuery":    true,
		"ExistsTableQuery": true, "ExistsDatabaseQuery": true, "ExistsViewQuery": true, "ExistsDictionaryQuery": true,
		"Explain": true,
	}
	// writeKinds are what vakt's own account adds: its schema code and
	// migrations (store/) need these, and no SYSTEM or KILL statement.
	writeKinds = map[string]bool{
		"InsertQuery": true, "CreateQuery": true, "AlterQuery": true, "DropQuery": true,
		"DetachQuery": true, "TruncateQuery": true, "Rename": true, "OptimizeQuery": true,
		"DeleteQuery": true, "UpdateQuery": true,
	}
	// allowedTableFunctions generate data in memory or read other tables.
	allowedTableFunctions = map[string]bool{
		"numbers": true, "numbers_mt": true, "zeros": true, "zeros_mt": true, "values": true,
		"generateseries": true, "generate_series": true, "null": true, "primes": true,
		"generaterandom": true, "view": true, "merge": true,
	}
	// allowedEngines store in the engine's own data dir (tables) or hold
	// tables (databases).
	allowedEngines = map[string]bool{
		"MergeTree": true, "ReplacingMergeTree": true, "SummingMergeTree": true, "AggregatingMergeTree": true,
		"CollapsingMergeTree": true, "VersionedCollapsingMergeTree": true, "CoalescingMergeTree": true,
		"Memory": true, "Null": true, "Buffer": true, "Join": true, "Set": true,
		"Log": true, "TinyLog": true, "StripeLog": true,
		"Atomic": true, // database engine
	}
	// allowedAlterCommands are ALTER TABLE commands on columns, indexes,
	// TTLs, settings and data; FREEZE, FETCH, MOVE ... TO DISK and ATTACH
	// PARTITION (from the filesystem) are not among them.
	allowedAlterCommands = map[string]bool{
		"ADD_COLUMN": true, "DROP_COLUMN": true, "MODIFY_COLUMN": true, "COMMENT_COLUMN": true,
		"RENAME_COLUMN": true, "MATERIALIZE_COLUMN": true, "MODIFY_TTL": true, "REMOVE_TTL": true,
		"MATERIALIZE_TTL": true, "MODIFY_ORDER_BY": true, "ADD_INDEX": true, "DROP_INDEX": true,
		"MATERIALIZE_INDEX": true, "ADD_PROJECTION": true, "DROP_PROJECTION": true,
		"MATERIALIZE_PROJECTION": true, "ADD_CONSTRAINT": true, "DROP_CONSTRAINT": true,
		"DELETE": true, "UPDATE": true, "DROP_PARTITION": true, "MODIFY_SETTING": true,
		"RESET_SETTING": true, "MODIFY_COMMENT": true, "MODIFY_QUERY": true,
	}
	// deniedScalarFunctions read files, or load models from them.
	deniedScalarFunctions = map[string]bool{"file": true, "catboostevaluate": true}
)

// paramEscaper writes a string in the escaped form the engine reads query
// parameter values in.
var paramEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\t", `\t`, "\r", `\r`, "\x00", `\0`)

// decision is a cached verdict on one statement.
type decision struct {
	err     error
	kind    string   // root kind
	setting []string // names set in SETTINGS clauses
	values  []string // and their values
}

// checker runs the parser on an internal session of its own.
type checker struct {
	mu         sync.Mutex
	conn       *chdb.Conn
	tableFuncs map[string]bool // lower-case names of every table function
	scalars    map[string]bool // lower-case names of every ordinary function
	cache      *lru
	misses     atomic.Int64 // decisions made by the parser, not the cache
}

func newChecker(e *chdb.Engine) (*checker, error) {
	// readonly 2, not 1: EXPLAIN applies the statement's SETTINGS clause,
	// which the settings check judges afterwards.
	conn, err := e.Connect(map[string]string{"readonly": "2", "max_execution_time": "10"})
	if err != nil {
		return nil, err
	}
	c := &checker{conn: conn, cache: newLRU(4096)}
	c.tableFuncs, err = names(conn, "SELECT lower(name) FROM system.table_functions")
	if err == nil {
		c.scalars, err = names(conn, "SELECT lower(name) FROM system.functions")
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse engine: list functions: %w", err)
	}
	return c, nil
}

func names(c *chdb.Conn, q string) (map[string]bool, error) {
	r, err := c.Query(q, "TSVRaw")
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, n := range strings.Split(string(r.Data), "\n") {
		if n != "" {
			m[n] = true
		}
	}
	return m, nil
}

func (c *checker) close() { c.conn.Close() }

// check parses stmt (with its query parameters bound) and returns the
// statement's kind and SETTINGS clauses, or why it is refused. get says the
// request came by GET (no state change); user names the account in errors.
func (c *checker) check(stmt string, params map[string]string, mode accessMode, user string) decision {
	key := cacheKey(stmt, params, mode)
	if d, ok := c.cache.get(key); ok {
		return withUser(d, user)
	}
	c.misses.Add(1)
	d := c.decide(stmt, params, mode)
	// Engine errors (syntax, missing parameter) are not cached: they are
	// cheap to repeat and may depend on the engine's state.
	if d.err == nil || isPolicyError(d.err) {
		c.cache.put(key, d)
	}
	return withUser(d, user)
}

func (c *checker) decide(stmt string, params map[string]string, mode accessMode) decision {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, err := c.conn.QueryWithParams("SELECT formatQuerySingleLine({vakt_statement:String})", "RawBLOB",
		map[string]string{"vakt_statement": paramEscaper.Replace(stmt)})
	if err != nil {
		return decision{err: err}
	}
	canonical := string(r.Data)
	// The canonical text is one statement: EXPLAIN AST cannot run another.
	r, err = c.conn.QueryWithParams("EXPLAIN AST "+canonical, "TabSeparated", params)
	if err != nil {
		return decision{err: err}
	}
	tree := parseAST(string(r.Data))
	if tree == nil {
		return decision{err: denied("an empty statement")}
	}
	d := decision{kind: tree.kind}
	if err := c.walk(tree, mode); err != nil {
		d.err = err
		return d
	}
	names, values, err := settingsClauses(canonical, countKind(tree, "Set"))
	if err != nil {
		d.err = err
		return d
	}
	d.setting, d.values = names, values
	return d
}

// walk checks the root statement kind, then every node.
func (c *checker) walk(root *astNode, mode accessMode) error {
	kind := root.kind
	allowed := readKinds[kind] || (mode == modeWrite && writeKinds[kind])
	if !allowed {
		if mode != modeWrite && writeKinds[kind] {
			return &policyError{code: codeReadonly, msg: "Cannot execute query in readonly mode"}
		}
		return denied(describeKind(root))
	}
	if kind == "Explain" {
		// The explained statement is judged like one sent on its own.
		for _, ch := range root.children {
			if ch.kind == "Set" || ch.kind == "ExpressionList" {
				continue
			}
			if !readKinds[ch.kind] && !(mode == modeWrite && writeKinds[ch.kind]) {
				return denied("EXPLAIN of " + describeKind(ch))
			}
		}
	}
	return c.visit(root, nil, mode)
}

func (c *checker) visit(n, parent *astNode, mode accessMode) error {
	switch n.kind {
	case "Function":
		name := strings.ToLower(n.name)
		switch {
		case parent != nil && parent.kind == "TableExpression":
			if !allowedTableFunctions[name] {
				return denied("table function " + n.name)
			}
		case parent != nil && parent.kind == "Storage definition" && parent.children[0] == n:
			if !allowedEngines[n.name] {
				return denied("engine " + n.name)
			}
		case parent != nil && parent.kind == "InsertQuery":
			return denied("INSERT INTO FUNCTION")
		case deniedScalarFunctions[name]:
			return denied("function " + n.name)
		case c.tableFuncs[name] && !c.scalars[name] && !allowedTableFunctions[name]:
			return denied("table function " + n.name)
		}
	case "Dictionary definition", "FunctionWithKeyValueArguments":
		return denied("dictionaries")
	case "AlterCommand":
		if !allowedAlterCommands[n.name] {
			return denied("ALTER " + strings.ReplaceAll(n.name, "_", " "))
		}
	case "Literal":
		if parent != nil {
			switch parent.kind {
			case "SelectWithUnionQuery", "SelectIntersectExceptQuery":
				return denied("INTO OUTFILE")
			case "InsertQuery":
				return denied("FROM INFILE")
			}
		}
	}
	for _, ch := range n.children {
		if err := c.visit(ch, n, mode); err != nil {
			return err
		}
	}
	return nil
}

func describeKind(n *astNode) string {
	switch n.kind {
	case "SYSTEM":
		return "SYSTEM statements"
	case "KillQueryQuery":
		return "KILL statements"
	case "Set":
		return "SET (send settings with the request instead)"
	case "UseQuery":
		return "USE (send the database parameter instead)"
	}
	return strings.TrimSuffix(n.kind, "Query") + " statements"
}

func countKind(n *astNode, kind string) int {
	c := 0
	if n.kind == kind {
		c++
	}
	for _, ch := range n.children {
		c += countKind(ch, kind)
	}
	return c
}

// accessMode is what a request may do.
type accessMode int

const (
	modeRead  accessMode = iota // read-only account
	modeGet                     // vakt's account over GET: no state change
	modeWrite                   // vakt's account over POST
)

// policyError is a refusal; user is filled in when it is returned.
type policyError struct {
	code int
	msg  string
}

func (e *policyError) Error() string { return e.msg }

func denied(what string) error {
	return &policyError{code: codeAccessDenied, msg: what + " is not allowed on vakt's ClickHouse endpoint"}
}

func isPolicyError(err error) bool { _, ok := err.(*policyError); return ok }

func withUser(d decision, user string) decision {
	if pe, ok := d.err.(*policyError); ok {
		name := errorNames[pe.code]
		d.err = &chdb.Error{Code: pe.code, Message: fmt.Sprintf("Code: %d. DB::Exception: %s: Not enough privileges: %s. (%s)", pe.code, user, pe.msg, name)}
		if pe.code == codeReadonly {
			d.err = &chdb.Error{Code: pe.code, Message: fmt.Sprintf("Code: %d. DB::Exception: %s: %s. (%s)", pe.code, user, pe.msg, name)}
		}
	}
	return d
}

// cacheKey keys a decision by the statement and the mode. Query
// parameters of value types reach the parser as literals, which the policy
// judges by where they stand, never by their value, so their values stay
// out of the key: a dashboard panel or report asks the same statement over
// a new time range each time, and a decision costs two engine calls (5-30
// ms, one at a time). Identifier parameters name tables and columns: a
// statement that may have any keeps every value in its key.
func cacheKey(stmt string, params map[string]string, mode accessMode) string {
	var b strings.Builder
	b.WriteByte(byte('0' + mode))
	b.WriteString(stmt)
	if !strings.Contains(strings.ToLower(stmt), "identifier") {
		return b.String()
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString("\x00" + k + "\x00" + params[k])
	}
	return b.String()
}

// astNode is one line of EXPLAIN AST output.
type astNode struct {
	kind     string // e.g. Function, SelectQuery, "Storage definition"
	name     string // the word after the kind: a function's or command's name
	children []*astNode
}

// multiWordKinds are node kinds whose text has a space in it.
var multiWordKinds = []string{"Columns definition", "Storage definition", "Dictionary definition",
	"Dictionary lifetime", "Dictionary layout", "Dictionary range", "Dictionary settings"}

// parseAST turns EXPLAIN AST's indented lines (TabSeparated-escaped, so a
// literal's line breaks stay on its line) into a tree.
func parseAST(out string) *astNode {
	var root *astNode
	var stack []*astNode // stack[i] is the last node at depth i
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		depth := len(line) - len(strings.TrimLeft(line, " "))
		text := strings.TrimSpace(line)
		n := &astNode{}
		for _, k := range multiWordKinds {
			if strings.HasPrefix(text, k) {
				n.kind = k
			}
		}
		if n.kind == "" {
			f := strings.Fields(text)
			n.kind = f[0]
			if len(f) > 1 {
				n.name = f[1]
			}
		}
		if depth == 0 || root == nil {
			if root != nil {
				// A second root: never expected from one statement.
				return &astNode{kind: "multiple statements"}
			}
			root = n
			stack = []*astNode{n}
			continue
		}
		if depth > len(stack) {
			depth = len(stack)
		}
		parent := stack[depth-1]
		parent.children = append(parent.children, n)
		stack = append(stack[:depth], n)
	}
	return root
}

// lru caches decisions: clickhouse-go repeats the same INSERT text for
// every batch, and dashboards their queries.
type lru struct {
	mu    sync.Mutex
	max   int
	ll    *list.List
	items map[string]*list.Element
}

type lruEntry struct {
	key string
	d   decision
}

func newLRU(max int) *lru { return &lru{max: max, ll: list.New(), items: map[string]*list.Element{}} }

func (l *lru) get(k string) (decision, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.items[k]; ok {
		l.ll.MoveToFront(e)
		return e.Value.(*lruEntry).d, true
	}
	return decision{}, false
}

func (l *lru) put(k string, d decision) {
	if len(k) > 64<<10 {
		return // big one-off statements would push out the useful entries
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.items[k]; ok {
		e.Value.(*lruEntry).d = d
		l.ll.MoveToFront(e)
		return
	}
	l.items[k] = l.ll.PushFront(&lruEntry{key: k, d: d})
	for l.ll.Len() > l.max {
		e := l.ll.Back()
		l.ll.Remove(e)
		delete(l.items, e.Value.(*lruEntry).key)
	}
}
