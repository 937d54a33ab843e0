package enforce

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/pseudonymize"
)

// testEnv is an embedded NATS server with vakt's users: the salts made by
// a pseudonymiser's SaltStore (as vakt_pseudonymize), the endpoint as
// vakt_enforce.
type testEnv struct {
	srv      *bus.Embedded
	pw       map[string]string
	salts    *pseudonymize.SaltStore
	pcfg     pseudonymize.Config
	js       jetstream.JetStream // as vakt_enforce
	storeDir string
}

func startEnv(t testing.TB) *testEnv {
	t.Helper()
	pw := map[string]string{}
	for _, u := range bus.Users() {
		pw[u.Name] = rand.Text()
	}
	dir := t.TempDir()
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: dir, Passwords: pw})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	env := &testEnv{srv: srv, pw: pw, storeDir: dir, pcfg: pseudonymize.Config{TrustedProxies: []string{"10.0.0.0/8"}}}
	sc := bus.DefaultStreamConfig()
	env.connect(t, bus.UserAdmin, &sc, bus.StageSetup)
	pjs := env.connect(t, bus.UserPseudonymize, &sc, bus.StagePseudonymize)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if env.salts, err = pseudonymize.NewSaltStore(ctx, pjs, env.pcfg, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := env.salts.Current(ctx); err != nil {
		t.Fatal(err)
	}
	env.js = env.connect(t, bus.UserEnforce, nil, bus.StageEnforce)
	return env
}

func (env *testEnv) connect(t testing.TB, user string, sc *bus.StreamConfig, stage bus.Stage) jetstream.JetStream {
	t.Helper()
	nc, js, err := bus.Connect(bus.ConnConfig{URL: env.srv.ClientURL(), Name: "test " + user,
		Options: bus.UserOptions(user, env.pw[user]), Ensure: sc, Stage: stage}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return js
}

// keys are the current salt's keys, as the pseudonymiser has them.
func (env *testEnv) keys(t testing.TB) *pseudonymize.Keys {
	t.Helper()
	k, err := env.salts.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// runningEndpoint is an endpoint serving on a loopback port.
type runningEndpoint struct {
	*Endpoint
	url string
	key string
	reg *prometheus.Registry
}

func startEndpoint(t testing.TB, env *testEnv, cfg Config) *runningEndpoint {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	reg := prometheus.NewRegistry()
	key := rand.Text()
	ctx, cancel := context.WithCancel(context.Background())
	e, err := New(ctx, cfg, Deps{JS: env.js, Pseudonymize: env.pcfg, Key: key, Metrics: metrics.NewEnforce(reg)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := e.Listen()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	url := "http://" + ln.Addr().String()
	if _, unix := cfg.unixPath(); unix {
		url = "http://localhost"
	}
	return &runningEndpoint{Endpoint: e, url: url, key: key, reg: reg}
}

// ask sends a decision request as nginx does for a client at addr,
// returning the status and the X-Vakt-Status header.
func (r *runningEndpoint) ask(t testing.TB, addr, site string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.url+"/decide", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", addr)
	req.Header.Set(HeaderSite, site)
	req.Header.Set(HeaderKey, r.key)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get(HeaderStatus)
}

// ban stores a decision for addr's client (or network) id under keys.
func ban(t testing.TB, ds *Decisions, keys *pseudonymize.Keys, scope, addr string, d time.Duration, status int) Decision {
	t.Helper()
	ip := netip.MustParseAddr(addr)
	id := keys.ClientID(ip)
	if scope == ScopeNetwork {
		id = keys.NetworkID(ip)
	}
	now := time.Now().UTC()
	dec := Decision{Scope: scope, ID: strconv.FormatUint(id, 10), Epoch: keys.Epoch(), Rule: "test-rule", Category: "scanning",
		Status: status, Origin: OriginManual, Created: now, Expires: now.Add(d)}
	if _, err := ds.Put(context.Background(), dec); err != nil {
		t.Fatal(err)
	}
	return dec
}

// metricsText is the registry in the text exposition format.
func metricsText(t testing.TB, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		b.WriteString(mf.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// unixClient talks HTTP over the socket at path.
func unixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}}
}
