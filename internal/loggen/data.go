package loggen

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
)

// makeClients draws distinct public addresses, a few per network, and
// gives each client a kind and a user agent it keeps.
func (g *Generator) makeClients() {
	n := g.cfg.Clients
	n6 := int(float64(n)*g.cfg.IPv6Share + 0.5)
	n4 := n - n6
	r := g.rng
	seen := make(map[netip.Addr]bool, n)

	// About three clients per /24 and two per /48: many networks, but some
	// shared ones too, as behind NAT or in one cloud region.
	nets4 := make([][3]byte, max(1, n4/3))
	for i := range nets4 {
		b := randomIn(r, allocated4[r.IntN(len(allocated4))]).As4()
		nets4[i] = [3]byte{b[0], b[1], b[2]}
	}
	nets6 := make([][6]byte, max(1, n6/2))
	for i := range nets6 {
		nets6[i] = randomNet48(r)
	}
	for len(g.clients) < n {
		var ip netip.Addr
		if len(g.clients) < n4 {
			p := nets4[r.IntN(len(nets4))]
			ip = netip.AddrFrom4([4]byte{p[0], p[1], p[2], byte(1 + r.IntN(254))})
		} else {
			var b [16]byte
			copy(b[:6], nets6[r.IntN(len(nets6))][:])
			sub := r.Uint64()
			b[6], b[7] = byte(sub), byte(sub>>8)
			iid := r.Uint64()
			if iid&3 == 0 {
				iid &= 0xffff // some hosts use small interface ids like ::1a2b
			}
			for k := range 8 {
				b[8+k] = byte(iid >> (56 - 8*k))
			}
			ip = netip.AddrFrom16(b)
		}
		if seen[ip] || !public(ip) {
			continue
		}
		seen[ip] = true
		g.clients = append(g.clients, client{ip: ip})
	}
	// Interleave v4 and v6 so that neither is favoured by position.
	r.Shuffle(len(g.clients), func(i, j int) { g.clients[i], g.clients[j] = g.clients[j], g.clients[i] })

	nAtk := 0
	if g.cfg.AttackShare > 0 && n >= 2 {
		nAtk = max(1, n/50)
	}
	for i := range g.clients {
		c := &g.clients[i]
		switch {
		case i < nAtk:
			c.kind = attacker
			c.ua = attackerAgents[r.IntN(len(attackerAgents))]
			g.attackers = append(g.attackers, i)
		case r.Float64() < 0.1:
			c.kind = crawler
			c.ua = crawlerAgents[r.IntN(len(crawlerAgents))]
			g.benign = append(g.benign, i)
		default:
			c.kind = browser
			c.ua = browserAgents[r.IntN(len(browserAgents))]
			c.h2 = r.Float64() < 0.5
			g.benign = append(g.benign, i)
		}
	}
}

// randomNet48 returns the first six bytes of a /48 inside one of the
// allocated networks.
func randomNet48(r *rand.Rand) [6]byte {
	b := randomIn(r, allocated6[r.IntN(len(allocated6))]).As16()
	return [6]byte(b[:6])
}

// randomIn returns a random address of p.
func randomIn(r *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		if r.IntN(2) == 1 {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// reserved are the special-purpose ranges of RFC 6890 and its IPv6
// counterparts, plus multicast and the future-use block.
var reserved = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24", "192.88.99.0/24",
		"192.168.0.0/16", "192.175.48.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
		"224.0.0.0/4", "240.0.0.0/4",
		"::/8", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "2002::/16",
		"3fff::/20", "fc00::/7", "fe80::/10", "ff00::/8",
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// public reports whether a is outside every reserved range.
func public(a netip.Addr) bool {
	for _, p := range reserved {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// makeSite builds the page and asset tables of one site, most popular
// first; seed varies asset hashes between sites.
func makeSite(name string, seed uint64) site {
	r := rand.New(rand.NewPCG(seed, 42))
	s := site{name: name, origin: "https://" + name}
	page := func(path string, size int) { s.pages = append(s.pages, resource{path, size}) }
	page("/", 14200)
	page("/blog", 9800)
	page("/products", 12100)
	page("/login", 4300)
	page("/about", 6100)
	page("/pricing", 8700)
	page("/contact", 5200)
	for i := range 40 {
		page(fmt.Sprintf("/blog/%s-%d", words[i%len(words)], 2019+i%6), 18000+r.IntN(30000))
		page(fmt.Sprintf("/products/%d", 1000+i*7), 11000+r.IntN(9000))
		if i < 30 {
			page(fmt.Sprintf("/docs/%s/%s", words[(i+3)%len(words)], words[(i*7)%len(words)]), 9000+r.IntN(20000))
		}
		if i < 10 {
			page("/search?q="+words[(i*5)%len(words)], 7600+r.IntN(4000))
			page(fmt.Sprintf("/api/v1/items?page=%d", i+1), 2100+r.IntN(3000))
		}
	}
	asset := func(path string, size int) { s.assets = append(s.assets, resource{path, size}) }
	h := func() string { return fmt.Sprintf("%08x", r.Uint32()) }
	asset("/static/css/main."+h()+".css", 48211)
	asset("/static/js/app."+h()+".js", 212733)
	asset("/static/js/vendor."+h()+".js", 388120)
	asset("/favicon.ico", 15086)
	asset("/fonts/inter-var.woff2", 97804)
	for i := range 20 {
		ext := []string{".png", ".jpg", ".webp", ".svg"}[i%4]
		asset("/images/"+words[(i*3)%len(words)]+ext, 3000+r.IntN(300000))
	}
	return s
}

var words = []string{
	"getting-started", "release-notes", "privacy", "performance", "kubernetes", "logging", "security",
	"nginx", "caching", "tls", "monitoring", "backup", "migration", "pricing", "teams", "api", "webhooks",
	"search", "analytics", "retention", "dashboards", "alerts", "export", "billing", "sso",
}

var browserAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 Edg/123.0.2420.81",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
	"Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Linux; Android 14; SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 OPR/109.0.0.0",
}

var crawlerAgents = []string{
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
	"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
	"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
	"Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
	"DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
	"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
	"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; +https://openai.com/gptbot)",
}

var attackerAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.129 Safari/537.36",
	"Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:Port Check)",
	"sqlmap/1.8.4#stable (https://sqlmap.org)",
	"Mozilla/5.0 zgrab/0.x",
	"python-requests/2.31.0",
	"Go-http-client/1.1",
	"curl/7.88.1",
	"Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2)",
	"",
}

var searchEngines = []string{
	"https://www.google.com/", "https://www.google.de/", "https://www.bing.com/", "https://duckduckgo.com/",
	"https://search.brave.com/", "https://www.ecosia.org/",
}

var social = []string{
	"https://t.co/", "https://www.reddit.com/", "https://news.ycombinator.com/", "https://www.linkedin.com/",
	"android-app://com.slack/",
}

var sensitiveFiles = []string{
	"/.env", "/.env.production", "/.git/config", "/.git/HEAD", "/wp-config.php.bak", "/config.php~",
	"/.aws/credentials", "/backup.sql", "/db.sql.gz", "/.DS_Store", "/server-status", "/phpinfo.php",
	"/.htpasswd", "/.ssh/id_rsa", "/web.config", "/.vscode/sftp.json",
}

var traversals = []string{
	"/static/../../../../etc/passwd",
	"/download?file=../../../../etc/passwd",
	"/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
	"/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh",
	"/images/..%2f..%2f..%2f..%2fwindows/win.ini",
	"/index.php?page=....//....//....//etc/passwd",
	"/assets/..\\..\\..\\windows\\win.ini",
}

var sqlInjections = []string{
	"/products?id=1'%20OR%20'1'='1",
	"/products?id=1 OR 1=1--",
	"/search?q=1%27%20UNION%20SELECT%20NULL,NULL,version()--",
	"/item.php?id=1 AND SLEEP(5)",
	"/api/v1/items?page=1;DROP TABLE users",
	`/login?user=admin"--&pass=x`,
	"/products?id=-1+union+select+1,concat(user,0x3a,password),3+from+users--",
}

var xss = []string{
	"/search?q=<script>alert(1)</script>",
	"/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
	`/search?q="><img src=x onerror=alert(1)>`,
	"/contact?name=%3Csvg/onload=alert(1)%3E",
	"/blog?ref=javascript:alert(1)",
}

var scannerPaths = []string{
	"/phpmyadmin/", "/pma/", "/admin/", "/manager/html", "/solr/admin/info/system", "/actuator/env",
	"/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/cgi-bin/luci/;stok=/locale", "/boaform/admin/formLogin",
	"/HNAP1/", "/owa/auth/logon.aspx", "/remote/fgt_lang?lang=/../../../..//////////dev/cmdb/sslvpn_websession",
	"/wp-content/plugins/wp-file-manager/readme.txt", "/.well-known/security.txt", "/console/", "/jenkins/login",
}

// tlsHello is the start of a TLS ClientHello as nginx logs it when one
// reaches a plain-HTTP port.
const tlsHello = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x8a\x1f\x90\xc3"
