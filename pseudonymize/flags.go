package pseudonymize

import (
	"encoding/base64"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/vakt-dev/vakt/internal/event"
)

// Threat signals are computed here, from the raw request target before the
// query string is scrubbed: afterwards the evidence is gone. They are
// heuristics for triage (which clients probe, how often), not a WAF: a flag
// says "looks like", and false negatives are expected against a determined
// attacker.

// maxDecodeRounds bounds URL decoding: attackers nest encodings to slip past
// single-pass filters, and a bound keeps a hostile target from costing more
// than a few passes.
const maxDecodeRounds = 4

// Base64 payload search bounds, per target.
const (
	minBase64Len    = 12
	maxBase64Len    = 4096
	maxBase64Values = 16
)

// rule is one pattern family member: the regexp runs only when the text
// contains one of the literals, because Go's regexp engine costs microseconds
// per target on large alternations and nearly every target is clean. A nil
// regexp means a literal alone is the signal.
type rule struct {
	any []string
	re  *regexp.Regexp
}

func (r rule) match(s string) bool {
	for _, lit := range r.any {
		if strings.Contains(s, lit) {
			return r.re == nil || r.re.MatchString(s)
		}
	}
	return false
}

func matchAny(rules []rule, s string) bool {
	for _, r := range rules {
		if r.match(s) {
			return true
		}
	}
	return false
}

// sqlInjection matches injection syntax rather than SQL words, so that
// searches like "select a theme" or "cats and dogs" stay clean. It runs on
// text with SQL comments and white space normalised to single spaces.
var sqlInjection = []rule{
	// ' OR 1=1, " AND "a"="a, ') or ('x' like ...; and a quote closing
	// the literal then commenting out or ending the statement.
	{[]string{"'", `"`, "`"}, regexp.MustCompile(
		`['"` + "`" + `]\s*\)?\s*(or|and|xor|\|\||&&)\s+['"(]?\w+['")]?\s*(=|<|>|like\b|is\b|in\s*\()` +
			`|['"` + "`" + `]\s*(--|#|;)`)},
	{[]string{" or ", " and "}, regexp.MustCompile(`\b(or|and)\s+\d+\s*=\s*\d+\b`)}, // 1 OR 1=1
	{[]string{"union"}, regexp.MustCompile(`\bunion(\s+(all|distinct))?\s+select\b`)},
	{[]string{"sleep", "benchmark"}, regexp.MustCompile(`\b(sleep|benchmark|pg_sleep)\s*\(`)},
	{[]string{"waitfor"}, regexp.MustCompile(`\bwaitfor\s+delay\b`)},
	{[]string{"information_schema", "xp_cmdshell", "sysobjects"}, nil},
	{[]string{"load_file"}, regexp.MustCompile(`\bload_file\s*\(`)},
	{[]string{"outfile", "dumpfile"}, regexp.MustCompile(`\binto\s+(out|dump)file\b`)},
	{[]string{"extractvalue", "updatexml"}, regexp.MustCompile(`\b(extractvalue|updatexml)\s*\(`)},
	{[]string{";"}, regexp.MustCompile(`;\s*(drop|insert|update|delete|select|shutdown|exec|declare)\s`)},
}

var xss = []rule{
	{[]string{"<"}, regexp.MustCompile(`<\s*/?\s*(script|iframe|frame|svg|img|body|object|embed|style|link|meta|base|form|input|video|audio|details|marquee|math)\b`)},
	{[]string{"script"}, regexp.MustCompile(`\b(javascript|vbscript|livescript)\s*:`)},
	// An event handler attribute after a tag's white space, quote or slash;
	// "?onload=cb" (a callback name) does not match.
	{[]string{" on", `"on`, "'on", "/on"}, regexp.MustCompile(`[\s"'/]on(error|load|mouseover|mouseout|focus|blur|click|toggle|begin|animationstart|pointerover|wheel)\s*=`)},
	{[]string{"document"}, regexp.MustCompile(`\bdocument\s*\.\s*(cookie|domain|write)\b`)},
	{[]string{"alert", "prompt", "confirm"}, regexp.MustCompile(`\b(alert|prompt|confirm)\s*\(`)},
	{[]string{"text/html"}, regexp.MustCompile(`\bdata\s*:\s*text/html`)},
	{[]string{"srcdoc"}, regexp.MustCompile(`\bsrcdoc\s*=`)},
}

// Probes for secrets, VCS data, backups and server internals.
var (
	// dotFiles are names that, right after '/', '\\' or '=' and a dot, are
	// secrets or repositories, never public content.
	dotFiles = map[string]bool{
		"env": true, "git": true, "svn": true, "hg": true, "bzr": true, "ssh": true, "aws": true,
		"docker": true, "kube": true, "htaccess": true, "htpasswd": true, "ds_store": true,
		"npmrc": true, "pypirc": true, "netrc": true, "pgpass": true, "bash_history": true,
		"zsh_history": true, "mysql_history": true, "vscode": true, "idea": true,
	}
	sensitiveNames = []string{
		"wp-config", "/etc/passwd", "/etc/shadow", "/etc/group", "/proc/self/",
		"web.config", "phpinfo.php", "win.ini", "boot.ini", "credentials.json",
		"docker-compose.y", "/server-status", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519",
	}
	// backupSuffixes end a path that is a dump or an editor's leftover.
	backupSuffixes = []string{".sql", ".bak", ".old", ".orig", ".swp", ".save", ".dump"}
	archiveSuffix  = []string{".gz", ".zip", ".tar", ".tgz", ".bz2"}
)

var badUserAgent = []string{
	"sqlmap", "nikto", "nmap", "masscan", "zgrab", "nuclei", "wpscan",
	"dirbuster", "gobuster", "feroxbuster", "ffuf", "dirb/", "acunetix",
	"netsparker", "havij", "w3af", "openvas", "nessus", "whatweb",
	"jorgee", "zmeu", "morfeus", "fimap", "commix",
	"() {",    // shellshock
	"${jndi:", // log4shell
}

// Flags returns the threat signals of a request from its raw target and user
// agent, with the built-in signatures (Classify).
func Flags(target, userAgent string) event.Flags {
	f, _ := BuiltinMatcher().Classify(target, "", userAgent)
	return f
}

// Classify returns the threat signals of a request from its raw target,
// referrer and user agent, and the id of the signature it matched (an
// exploit's, else a probe's; empty when none). The target is examined as
// logged, lower-cased, and after each of up to maxDecodeRounds URL-decoding
// passes; so is the referrer when it holds a character an exploit needs.
func (m *Matcher) Classify(target, referer, userAgent string) (event.Flags, string) {
	var f event.Flags
	x := noMatch
	if target != "" {
		var tf event.Flags
		tf, x = m.targetFlags(target)
		f |= tf
	}
	if referer != "" {
		x.merge(m.refererMatch(referer))
	}
	if userAgent != "" {
		v := m.agentVerdict(userAgent)
		if v.bad {
			f |= event.FlagBadUserAgent
		}
		x.merge(v.match)
	}
	sf, id := m.flagsOf(x)
	return f | sf, id
}

// agentCache caches the verdict per user agent: a site sees few distinct
// agents, and checking one costs about a microsecond. Cleared when full, so
// a flood of unique agents costs memory no more than maxAgentVerdicts.
type agentCache struct {
	sync.RWMutex
	m map[string]agentVerdict
}

type agentVerdict struct {
	bad   bool // an attack tool's (badUserAgent)
	match match
}

const maxAgentVerdicts = 8192

func (m *Matcher) agentVerdict(userAgent string) agentVerdict {
	c := &m.agents
	c.RLock()
	v, ok := c.m[userAgent]
	c.RUnlock()
	if ok {
		return v
	}
	ua := strings.ToLower(userAgent)
	for _, s := range badUserAgent {
		if strings.Contains(ua, s) {
			v.bad = true
			break
		}
	}
	v.match = m.agentMatch(ua)
	c.Lock()
	if c.m == nil || len(c.m) >= maxAgentVerdicts {
		c.m = make(map[string]agentVerdict, 1024)
	}
	c.m[userAgent] = v
	c.Unlock()
	return v
}

func (m *Matcher) targetFlags(target string) (event.Flags, match) {
	raw := strings.ToLower(target)
	var f event.Flags
	x := noMatch

	// Encodings no browser produces, used to smuggle payloads past filters:
	// null bytes, overlong UTF-8, IIS %u escapes, and percent-encoded dots
	// (RFC 3986: unreserved characters are never encoded).
	if strings.Contains(raw, "%") {
		for _, s := range []string{"%00", "%c0%ae", "%c0%af", "%c1%9c", "%e0%80%ae", "%u00", "%u2215", "%u2216", "%2e"} {
			if strings.Contains(raw, s) {
				f |= event.FlagEncodedPayload
				break
			}
		}
	}
	if strings.Contains(raw, `\x`) || strings.Contains(raw, `\u00`) {
		f |= event.FlagEncodedPayload
	}

	// Layer 0 is the target as logged; layer 1 is one decoding (what the
	// application sees). A signal that appears only at layer 2 or deeper
	// was hidden by nested encoding.
	layer := raw
	for round := 0; round <= maxDecodeRounds; round++ {
		sig := signals(layer)
		if round >= 2 && sig&^f != 0 {
			sig |= event.FlagEncodedPayload
		}
		f |= sig
		x.merge(m.targetLayer(layer))
		next := strings.ToLower(decodeOnce(layer))
		if next == layer {
			break
		}
		layer = next
	}
	if _, query, ok := strings.Cut(target, "?"); ok {
		f |= base64Flags(query)
	}
	return f, x
}

// signals runs the pattern families over one lower-case decoded layer.
func signals(s string) event.Flags {
	var f event.Flags
	if strings.Contains(s, "..") && (strings.Contains(s, "../") || strings.Contains(s, `..\`) || strings.HasSuffix(s, "/..")) {
		f |= event.FlagPathTraversal
	}
	if sensitiveFile(s) {
		f |= event.FlagSensitiveFile
	}
	// Nearly every target is plain (letters, digits, / . - _ = & %): those
	// can only match the few rules that need none of injectionBytes, so the
	// rest are skipped. FuzzSignalsPrefilter checks this equals running all.
	sqlRules, xssRules := sqlInjection, xss
	if !hasInjectionByte(s) {
		sqlRules, xssRules = sqlPlain, xssPlain
	}
	if matchAny(sqlRules, normalizeSQL(s)) {
		f |= event.FlagSQLInjection
	}
	if matchAny(xssRules, s) {
		f |= event.FlagXSS
	}
	return f
}

// injectionBytes are the characters of which every SQL-injection and XSS
// rule needs at least one, except the rules in sqlPlain and xssPlain. White
// space and '*' count: normalizeSQL turns white space and /* comments */
// into spaces.
const injectionBytes = "'\"`(;<:* \t\n\r\v\f"

// injectionSet is injectionBytes as a table: strings.ContainsAny would
// build it again on every call.
var injectionSet = func() (t [256]bool) {
	for i := 0; i < len(injectionBytes); i++ {
		t[injectionBytes[i]] = true
	}
	return t
}()

func hasInjectionByte(s string) bool {
	for i := 0; i < len(s); i++ {
		if injectionSet[s[i]] {
			return true
		}
	}
	return false
}

// sqlPlain and xssPlain are the rules that can match text without any of
// injectionBytes.
var (
	sqlPlain = []rule{sqlInjection[5]}        // information_schema, xp_cmdshell, sysobjects
	xssPlain = []rule{xss[2], xss[3], xss[6]} // "/onerror=", "document.cookie", "srcdoc="
)

// normalizeSQL turns comments (UNION/**/SELECT) and any white space into
// single spaces, so that the literals of the rules find them.
func normalizeSQL(s string) string {
	if strings.Contains(s, "/*") {
		s = sqlComment.ReplaceAllString(s, " ")
	}
	if strings.ContainsAny(s, "\t\n\r\v\f") {
		s = strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return ' '
			}
			return r
		}, s)
	}
	return s
}

var sqlComment = regexp.MustCompile(`/\*.*?\*/`)

func sensitiveFile(s string) bool {
	for i := strings.IndexByte(s, '.'); i >= 0; {
		if i == 0 || s[i-1] == '/' || s[i-1] == '\\' || s[i-1] == '=' {
			j := i + 1
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] == '_') {
				j++
			}
			if dotFiles[s[i+1:j]] && (j == len(s) || !isWordByte(s[j])) {
				return true
			}
		}
		next := strings.IndexByte(s[i+1:], '.')
		if next < 0 {
			break
		}
		i += 1 + next
	}
	for _, n := range sensitiveNames {
		if strings.Contains(s, n) {
			return true
		}
	}
	path := s
	if i := strings.IndexAny(path, "?#;"); i >= 0 {
		path = path[:i]
	}
	for _, a := range archiveSuffix {
		if p, ok := strings.CutSuffix(path, a); ok {
			path = p
			break
		}
	}
	for _, b := range backupSuffixes {
		if strings.HasSuffix(path, b) {
			return true
		}
	}
	return false
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// base64Flags decodes query values that look like base64 and flags the
// payloads hidden in them. It works on the query as logged, because base64
// is case-sensitive and lower-casing would destroy it.
func base64Flags(query string) event.Flags {
	var f event.Flags
	seen := 0
	for part := range strings.SplitSeq(query, "&") {
		_, v, ok := strings.Cut(part, "=")
		if !ok || len(v) < minBase64Len || len(v) > maxBase64Len {
			continue
		}
		v = decodeOnce(v) // what the application sees, padding included
		if !isBase64(v) {
			continue
		}
		if seen++; seen > maxBase64Values {
			break
		}
		if b, ok := decodeBase64(v); ok {
			if sig := signals(strings.ToLower(b)); sig != 0 {
				f |= sig | event.FlagEncodedPayload
			}
		}
	}
	return f
}

func isBase64(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '+' || c == '/' || c == '-' || c == '_' || c == '=' || c == ' ') {
			return false
		}
	}
	return true
}

// decodeBase64 tries the standard and URL alphabets, padded or not, and
// accepts only printable text: binary tokens are not payloads.
func decodeBase64(v string) (string, bool) {
	v = strings.ReplaceAll(v, " ", "+") // an unencoded '+' became ' '
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(v)
		if err != nil {
			continue
		}
		if printable(b) {
			return string(b), true
		}
	}
	return "", false
}

func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
}

// decodeOnce performs one lenient decoding pass: %XX, IIS %uXXXX, \xHH and
// \u00HH escapes, '+' as space, and the overlong UTF-8 forms of '.', '/' and
// '\'. Invalid escapes stay as they are.
func decodeOnce(s string) string {
	if !strings.ContainsAny(s, "%+\\") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			b.WriteByte(' ')
		case c == '%' && i+5 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') && isHex4(s[i+2:i+6]):
			b.WriteRune(rune(hex4(s[i+2 : i+6])))
			i += 5
		case c == '%' && strings.HasPrefix(s[i:], "%c0%ae"), c == '%' && strings.HasPrefix(s[i:], "%e0%80%ae"):
			b.WriteByte('.')
			i += overlongLen(s[i:]) - 1
		case c == '%' && strings.HasPrefix(s[i:], "%c0%af"):
			b.WriteByte('/')
			i += 5
		case c == '%' && strings.HasPrefix(s[i:], "%c1%9c"):
			b.WriteByte('\\')
			i += 5
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		case c == '\\' && i+3 < len(s) && s[i+1] == 'x' && isHex(s[i+2]) && isHex(s[i+3]):
			b.WriteByte(unhex(s[i+2])<<4 | unhex(s[i+3]))
			i += 3
		case c == '\\' && i+5 < len(s) && s[i+1] == 'u' && isHex4(s[i+2:i+6]):
			b.WriteRune(rune(hex4(s[i+2 : i+6])))
			i += 5
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func overlongLen(s string) int {
	if strings.HasPrefix(s, "%e0%80%ae") {
		return len("%e0%80%ae")
	}
	return len("%c0%ae")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isHex4(s string) bool { return isHex(s[0]) && isHex(s[1]) && isHex(s[2]) && isHex(s[3]) }

func hex4(s string) uint16 {
	return uint16(unhex(s[0]))<<12 | uint16(unhex(s[1]))<<8 | uint16(unhex(s[2]))<<4 | uint16(unhex(s[3]))
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
