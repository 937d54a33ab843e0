// Package loggen generates realistic access-log lines in the combined format
// for tests, the demo and benchmarks. Output is a pure function of the
// Config: the same seed and start time give the same lines.
//
// The traffic looks like a small set of web sites: browsers that load a page
// and then its assets, crawlers, a heavy-tailed (Zipf) spread of clients and
// paths, mostly 200 with some 304, 404 and 500, and attack traffic (probes
// for sensitive files, login brute force, path traversal, SQL injection,
// XSS, vulnerability scanners, TLS handshakes on the plain-HTTP port) that is
// labelled so that detection can be tested against ground truth.
//
// Client addresses are drawn from public unicast space only (no private,
// shared, documentation, loopback, link-local or multicast ranges), spread
// over many IPv4 /24 and IPv6 /48 networks, a few clients per network.
package loggen

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/vakt-dev/vakt/logformat"
)

// Attack labels of Line.Attack.
const (
	AttackSensitiveFile = "sensitive_file" // /.env, /.git/config, backups
	AttackBruteForce    = "brute_force"    // repeated POST /wp-login.php, /xmlrpc.php
	AttackPathTraversal = "path_traversal" // ../../etc/passwd, encoded or not
	AttackSQLInjection  = "sql_injection"  // ' OR '1'='1, UNION SELECT, SLEEP()
	AttackXSS           = "xss"            // <script> in the query string
	AttackScanner       = "scanner"        // admin panels and known-vulnerable paths
	AttackTLSProbe      = "tls_probe"      // a TLS ClientHello sent to the HTTP port
)

// Attacks lists every attack label.
var Attacks = []string{AttackSensitiveFile, AttackBruteForce, AttackPathTraversal, AttackSQLInjection,
	AttackXSS, AttackScanner, AttackTLSProbe}

// Config shapes the generated traffic. Zero values select the defaults.
type Config struct {
	Seed uint64
	// Clients is the number of distinct client addresses (default 1000).
	// Half the page views visit clients in turn, so with the default
	// attack share every client appears within about 10*Clients lines.
	Clients int
	// IPv6Share is the fraction of clients with an IPv6 address (default
	// 0.3; negative for IPv4 only).
	IPv6Share float64
	// Sites are the virtual hosts lines are spread over, the first the
	// busiest (default "www.example.com").
	Sites []string
	// Start is the timestamp of the first line (default: now).
	Start time.Time
	// Rate is the mean number of lines per second of log time (default 10):
	// timestamps advance by exponentially distributed gaps.
	Rate float64
	// AttackShare is the fraction of lines that are attacks (default 0.05;
	// negative for none).
	AttackShare float64
	// Now, when set, stamps each line with Now() instead of the synthetic
	// clock, for live demos.
	Now func() time.Time
}

// Line is one generated line and its ground truth.
type Line struct {
	Text   []byte // combined format, no newline
	Time   time.Time
	IP     netip.Addr
	Site   string
	Attack string // one of Attacks, "" for benign traffic
}

// Generator produces lines. It is not safe for concurrent use.
type Generator struct {
	cfg       Config
	rng       *rand.Rand
	clients   []client
	benign    []int // indexes of benign clients, in visiting order
	attackers []int
	nextNew   int // round-robin position in benign
	nextAtk   int // round-robin position in attackers
	pickBen   *rand.Zipf
	pickPage  *rand.Zipf
	pickSite  *rand.Zipf
	sites     []site
	queue     []pending // asset requests following a page view
	t         time.Time // synthetic clock
	tsSec     int64     // cached formatted timestamp of second tsSec
	ts        []byte
}

type clientKind uint8

const (
	browser clientKind = iota
	crawler
	attacker
)

type client struct {
	ip   netip.Addr
	ua   string
	kind clientKind
	h2   bool
}

type pending struct {
	client int
	site   int
	asset  int
	ref    string
}

type site struct {
	name   string
	origin string // https://name
	pages  []resource
	assets []resource
}

type resource struct {
	path string
	size int
}

// New returns a generator for c.
func New(c Config) *Generator {
	if c.Clients <= 0 {
		c.Clients = 1000
	}
	if c.IPv6Share == 0 {
		c.IPv6Share = 0.3
	}
	c.IPv6Share = min(max(c.IPv6Share, 0), 1)
	if len(c.Sites) == 0 {
		c.Sites = []string{"www.example.com"}
	}
	if c.Start.IsZero() {
		c.Start = time.Now()
	}
	if c.Rate <= 0 {
		c.Rate = 10
	}
	if c.AttackShare == 0 {
		c.AttackShare = 0.05
	}
	c.AttackShare = min(max(c.AttackShare, 0), 1)

	g := &Generator{cfg: c, rng: rand.New(rand.NewPCG(c.Seed, 0x9e3779b97f4a7c15)), t: c.Start, tsSec: math.MinInt64}
	g.makeClients()
	for i, name := range c.Sites {
		g.sites = append(g.sites, makeSite(name, uint64(i)))
	}
	g.pickBen = rand.NewZipf(g.rng, 1.1, 5, uint64(len(g.benign)-1))
	g.pickPage = rand.NewZipf(g.rng, 1.2, 1, uint64(len(g.sites[0].pages)-1))
	g.pickSite = rand.NewZipf(g.rng, 1.5, 1, uint64(len(g.sites)-1))
	return g
}

// Clients returns every client address the generator can produce.
func (g *Generator) Clients() []netip.Addr {
	out := make([]netip.Addr, len(g.clients))
	for i, c := range g.clients {
		out[i] = c.ip
	}
	return out
}

// Next returns the next line.
func (g *Generator) Next() Line {
	var l Line
	l.Text, l.Time, l.IP, l.Site, l.Attack = g.appendLine(nil)
	return l
}

// AppendLine appends the next line (no newline) to dst, for callers that
// only need the text.
func (g *Generator) AppendLine(dst []byte) []byte {
	dst, _, _, _, _ = g.appendLine(dst)
	return dst
}

// Write writes n lines, each ending in a newline, and returns how many lines
// each client address got.
func (g *Generator) Write(w io.Writer, n int) (map[netip.Addr]int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	ips := make(map[netip.Addr]int)
	buf := make([]byte, 0, 1024)
	for range n {
		var ip netip.Addr
		buf, _, ip, _, _ = g.appendLine(buf[:0])
		ips[ip]++
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return ips, err
		}
	}
	return ips, bw.Flush()
}

// WriteFile writes n lines to a new file at path (mode 0600: the lines hold
// IP addresses) and returns how many lines each client address got.
func (g *Generator) WriteFile(path string, n int) (map[netip.Addr]int, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	ips, err := g.Write(f, n)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("loggen: write %s: %w", path, err)
	}
	return ips, nil
}

func (g *Generator) appendLine(dst []byte) ([]byte, time.Time, netip.Addr, string, string) {
	t := g.clock()
	var (
		ci     int
		si     int
		attack string
		req    request
	)
	switch {
	case len(g.attackers) > 0 && g.rng.Float64() < g.cfg.AttackShare:
		ci = g.attackers[g.nextAtk]
		g.nextAtk = (g.nextAtk + 1) % len(g.attackers)
		si = int(g.pickSite.Uint64())
		attack, req = g.attack(&g.clients[ci], &g.sites[si])
	case len(g.queue) > 0 && g.rng.Float64() < 0.6:
		p := g.queue[0]
		g.queue = g.queue[1:]
		if len(g.queue) == 0 {
			g.queue = g.queue[:0:0] // let the backing array go
		}
		ci, si = p.client, p.site
		req = g.asset(&g.clients[ci], &g.sites[si], p.asset, p.ref)
	default:
		// Half the page views come from clients in turn, so that every
		// client shows up (most visitors view one page); the rest follow
		// a heavy-tailed distribution of regulars.
		if g.rng.Float64() < 0.5 {
			ci = g.benign[g.nextNew]
			g.nextNew = (g.nextNew + 1) % len(g.benign)
		} else {
			ci = g.benign[g.pickBen.Uint64()]
		}
		si = int(g.pickSite.Uint64())
		req = g.benignRequest(ci, si)
	}
	c := &g.clients[ci]
	dst = c.ip.AppendTo(dst)
	dst = append(dst, " - - ["...)
	dst = append(dst, g.timestamp(t)...)
	dst = append(dst, `] "`...)
	if req.method != "" {
		dst = append(dst, req.method...)
		dst = append(dst, ' ')
		dst = appendEscaped(dst, req.target)
		dst = append(dst, ' ')
		dst = append(dst, req.proto...)
	} else {
		dst = appendEscaped(dst, req.target)
	}
	dst = append(dst, `" `...)
	dst = strconv.AppendInt(dst, int64(req.status), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(req.bytes), 10)
	dst = append(dst, ` "`...)
	dst = appendEscaped(dst, orDash(req.ref))
	dst = append(dst, `" "`...)
	dst = appendEscaped(dst, orDash(req.ua))
	dst = append(dst, '"')
	return dst, t, c.ip, g.sites[si].name, attack
}

func (g *Generator) clock() time.Time {
	if g.cfg.Now != nil {
		return g.cfg.Now()
	}
	t := g.t
	g.t = g.t.Add(time.Duration(g.rng.ExpFloat64() / g.cfg.Rate * float64(time.Second)))
	return t
}

// timestamp formats t, reusing the previous result within the same second.
func (g *Generator) timestamp(t time.Time) []byte {
	if s := t.Unix(); s != g.tsSec {
		g.tsSec = s
		g.ts = logformat.AppendTime(g.ts[:0], t)
	}
	return g.ts
}

type request struct {
	method, target, proto string
	status, bytes         int
	ref, ua               string
}

func (g *Generator) proto(c *client) string {
	if c.h2 {
		return "HTTP/2.0"
	}
	return "HTTP/1.1"
}

func (g *Generator) benignRequest(ci, si int) request {
	c, s := &g.clients[ci], &g.sites[si]
	r := g.rng
	if r.Float64() < 0.002 {
		// A connection that sent no request before the timeout.
		return request{status: 408, bytes: 0}
	}
	if c.kind == crawler {
		switch x := r.Float64(); {
		case x < 0.08:
			return request{method: "GET", target: "/robots.txt", proto: "HTTP/1.1", status: 200, bytes: 67, ua: c.ua}
		case x < 0.12:
			return request{method: "GET", target: "/sitemap.xml", proto: "HTTP/1.1", status: 200, bytes: 4812, ua: c.ua}
		}
	}
	page := int(g.pickPage.Uint64())
	res := s.pages[page]
	req := request{method: "GET", target: res.path, proto: g.proto(c), ua: c.ua}
	if c.kind == crawler && r.Float64() < 0.05 {
		req.method = "HEAD"
	}
	if res.path == "/login" && c.kind == browser && r.Float64() < 0.5 {
		req.method, req.status, req.bytes = "POST", 302, 0
		if r.Float64() < 0.2 {
			req.status, req.bytes = 401, 1432
		}
		req.ref = s.origin + res.path
		return req
	}
	switch x := r.Float64(); {
	case x < 0.04:
		req.target, req.status, req.bytes = s.missing(r), 404, 153+r.IntN(400)
	case x < 0.047:
		req.status, req.bytes = 500, 177
	case x < 0.067:
		req.status, req.bytes = 301, 169
		req.target += "/"
	case x < 0.1:
		req.status, req.bytes = 304, 0
	default:
		req.status, req.bytes = 200, jitter(r, res.size)
	}
	if req.method == "HEAD" {
		req.bytes = 0
	}
	req.ref = g.referrer(c, s)
	if c.kind == browser && req.status == 200 && req.method == "GET" {
		// The browser fetches some of the page's assets next.
		for range r.IntN(5) {
			g.queue = append(g.queue, pending{client: ci, site: si, asset: r.IntN(len(s.assets)), ref: s.origin + res.path})
		}
	}
	return req
}

func (g *Generator) asset(c *client, s *site, i int, ref string) request {
	a := s.assets[i]
	req := request{method: "GET", target: a.path, proto: g.proto(c), ref: ref, ua: c.ua}
	switch x := g.rng.Float64(); {
	case x < 0.02:
		req.status, req.bytes = 404, 153
	case x < 0.2:
		req.status, req.bytes = 304, 0
	default:
		req.status, req.bytes = 200, a.size
	}
	return req
}

func (g *Generator) referrer(c *client, s *site) string {
	if c.kind == crawler {
		return ""
	}
	switch x := g.rng.Float64(); {
	case x < 0.4:
		return ""
	case x < 0.7:
		return searchEngines[g.rng.IntN(len(searchEngines))]
	case x < 0.95:
		return s.origin + s.pages[g.pickPage.Uint64()].path
	default:
		return social[g.rng.IntN(len(social))]
	}
}

func (g *Generator) attack(c *client, s *site) (string, request) {
	r := g.rng
	kind := Attacks[r.IntN(len(Attacks))]
	req := request{method: "GET", proto: "HTTP/1.1", ua: c.ua, status: 404, bytes: 153}
	pick := func(list []string) string { return list[r.IntN(len(list))] }
	switch kind {
	case AttackSensitiveFile:
		req.target = pick(sensitiveFiles)
		if r.Float64() < 0.2 {
			req.status, req.bytes = 403, 146
		}
	case AttackBruteForce:
		req.method = "POST"
		req.target = pick([]string{"/wp-login.php", "/xmlrpc.php", "/login", "/user/login", "/administrator/index.php"})
		req.status, req.bytes = 200, 3800+r.IntN(900)
		if req.target == "/login" {
			req.status, req.bytes = 401, 1432
		}
		req.ref = s.origin + req.target
	case AttackPathTraversal:
		req.target = pick(traversals)
		req.status = []int{400, 404, 404, 200}[r.IntN(4)]
	case AttackSQLInjection:
		req.target = pick(sqlInjections)
		req.status, req.bytes = []int{200, 200, 500, 404}[r.IntN(4)], 2000+r.IntN(8000)
	case AttackXSS:
		req.target = pick(xss)
		req.status, req.bytes = 200, 5000+r.IntN(5000)
	case AttackScanner:
		req.target = pick(scannerPaths)
	case AttackTLSProbe:
		// Escaped by appendEscaped to \x16\x03\x01... as nginx logs it.
		req = request{target: tlsHello, status: 400, bytes: 157}
	}
	return kind, req
}

func (s *site) missing(r *rand.Rand) string {
	switch r.IntN(4) {
	case 0:
		return "/apple-touch-icon.png"
	case 1:
		return "/blog/old-post-" + strconv.Itoa(r.IntN(500))
	case 2:
		return "/images/banner-" + strconv.Itoa(r.IntN(50)) + ".jpg"
	}
	return "/products/" + strconv.Itoa(9000+r.IntN(1000))
}

func jitter(r *rand.Rand, n int) int { return n - n/10 + r.IntN(n/5+1) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// appendEscaped writes s the way nginx escapes variables in access logs:
// '"', '\' and bytes outside printable ASCII become \xHH.
func appendEscaped(dst []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			dst = append(dst, '\\', 'x', hex[c>>4], hex[c&0xf])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}
