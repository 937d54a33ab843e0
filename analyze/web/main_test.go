package web_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/loggen"
	"github.com/vakt-dev/vakt/internal/secrets"
	"github.com/vakt-dev/vakt/internal/testenv"
	"github.com/vakt-dev/vakt/logformat"
	"github.com/vakt-dev/vakt/store"
)

// The tests run against one real `vakt run --demo` in this process (one
// ClickHouse engine per process): embedded NATS and ClickHouse, every
// stage, and the HTTP server with the dashboard, on free ports. Before the
// tests, labelled traffic for two sites goes through the real pipeline
// from the RAW stream on (pseudonymiser, events stream, store), so the
// figures on the page can be checked against the generated traffic.
var (
	baseURL string       // http://host:port of the running vakt's HTTP server
	token   string       // its token, from the dashboard URL vakt printed
	eng     *app.Engines // the running vakt's engines, as a second command sees them
	truth   *seeded
	runCfg  config.Config
)

// Seeded sites. The demo adds live traffic under ingest.DemoSite.
var seededSites = []string{"shop.example", "blog.example"}

var quiet = slog.New(slog.DiscardHandler)

func TestMain(m *testing.M) {
	testenv.MainCHDB()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "vakt-dashboard-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cfg := config.Defaults()
	cfg.DataDir = dir
	cfg.NATS.Listen = "127.0.0.1:0"
	cfg.ClickHouse.Listen = "127.0.0.1:0"
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Ingest.Demo = true
	cfg.Ingest.DemoRate = 20
	runCfg = cfg

	ctx, cancel := context.WithCancel(context.Background())
	out := &lines{}
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, cfg, quiet, out) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			fmt.Fprintln(os.Stderr, "vakt run did not stop within 30s of its context ending")
			os.Exit(1)
		}
	}()
	dashRE := regexp.MustCompile(`dashboard:\s+(http://[^/\s]+)/\?token=([0-9a-f]{64})\n`)
	deadline := time.Now().Add(90 * time.Second)
	for baseURL == "" {
		if m := dashRE.FindStringSubmatch(out.String()); m != nil {
			baseURL, token = m[1], m[2]
			break
		}
		select {
		case err := <-done:
			fmt.Fprintf(os.Stderr, "vakt run stopped: %v\n%s", err, out.String())
			return 1
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "vakt run printed no dashboard address:\n%s", out.String())
			return 1
		}
	}
	eng, err = app.OpenEngines(ctx, cfg, app.Need{NATS: true, ClickHouse: true}, "dashboard-test", quiet)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open the running vakt's engines:", err)
		return 1
	}
	defer eng.Close()
	if truth, err = seed(ctx, eng); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		return 1
	}
	// The printed token is the one in the data dir.
	if v, err := secrets.Read(dir, app.HTTPTokenName); err != nil || v != token {
		fmt.Fprintf(os.Stderr, "the printed token is not %s: %v\n", secrets.Path(dir, app.HTTPTokenName), err)
		return 1
	}
	return m.Run()
}

// authGet is http.Get with the running vakt's token.
func authGet(url string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return http.DefaultClient.Do(req)
}

// pageURL is the dashboard's URL with query, as a browser opens it the
// first time: with the token, which it swaps for a session cookie.
func pageURL(query string) string {
	if query != "" {
		query += "&"
	}
	return baseURL + "/?" + query + "token=" + token
}

// lines collects what `vakt run` prints.
type lines struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var _ io.Writer = (*lines)(nil)

// seeded is the ground truth of the seeded traffic, per site.
type seeded struct {
	requests map[string]int
	status   map[string]*[5]int // 2xx, 3xx, 4xx, 5xx, other
	times    map[string][]float64
	paths    map[string]map[string]int
	ips      []netip.Addr
	attacks  map[string]int // lines per attack label
	first    time.Time
	last     time.Time
}

const seedLines = 12_000

// seed generates labelled traffic of the last 50 minutes (loggen: browsers,
// crawlers and every kind of attacker), gives each request a request time,
// and publishes it to the RAW stream the way ingest does. It returns when
// the store holds every request.
func seed(ctx context.Context, eng *app.Engines) (*seeded, error) {
	now := time.Now()
	span := 48 * time.Minute
	gen := loggen.New(loggen.Config{
		Seed: 42, Clients: 400, Sites: seededSites,
		Start: now.Add(-50 * time.Minute), Rate: seedLines / span.Seconds(),
	})
	rng := rand.New(rand.NewPCG(42, 43))
	t := &seeded{requests: map[string]int{}, status: map[string]*[5]int{}, times: map[string][]float64{},
		paths: map[string]map[string]int{}, attacks: map[string]int{}}
	for _, s := range seededSites {
		t.status[s] = &[5]int{}
		t.paths[s] = map[string]int{}
	}
	// Published as ingest does, as its NATS user.
	ijs, err := eng.StageJS(bus.StageIngest)
	if err != nil {
		return nil, err
	}
	seen := map[netip.Addr]bool{}
	batch := map[string][]byte{}
	n := map[string]int{}
	msgs := 0
	publish := func(site string) error {
		if n[site] == 0 {
			return nil
		}
		msg := &nats.Msg{Subject: bus.RawSubject(site), Data: batch[site], Header: nats.Header{}}
		msg.Header.Set(bus.HeaderRecords, strconv.Itoa(n[site]))
		msgs++
		if _, err := ijs.PublishMsg(ctx, msg, jetstream.WithMsgID(fmt.Sprintf("dashboard-test-%d", msgs))); err != nil {
			return err
		}
		batch[site], n[site] = nil, 0
		return nil
	}
	for range seedLines {
		l := gen.Next()
		var r event.Raw
		if err := logformat.ParseCombined(l.Text, &r); err != nil {
			continue // not stored, not counted
		}
		r.Site = l.Site
		ms := requestMillis(rng, &r)
		r.RequestTime = time.Duration(ms) * time.Millisecond

		t.requests[r.Site]++
		switch c := r.Status / 100; {
		case c >= 2 && c <= 5:
			t.status[r.Site][c-2]++
		default:
			t.status[r.Site][4]++
		}
		t.times[r.Site] = append(t.times[r.Site], float64(ms)/1000)
		path, _, _ := strings.Cut(r.Target, "?")
		t.paths[r.Site][path]++
		if !seen[l.IP] {
			seen[l.IP] = true
			t.ips = append(t.ips, l.IP)
		}
		if l.Attack != "" {
			t.attacks[l.Attack]++
		}
		if t.first.IsZero() {
			t.first = r.Time
		}
		t.last = r.Time

		batch[r.Site] = event.AppendRaw(batch[r.Site], &r)
		if n[r.Site]++; n[r.Site] == 500 {
			if err := publish(r.Site); err != nil {
				return nil, err
			}
		}
	}
	for _, s := range seededSites {
		if err := publish(s); err != nil {
			return nil, err
		}
	}
	// Stored when the store has committed every row, and each view its
	// part of every insert (a view's part commits after the requests').
	deadline := time.Now().Add(60 * time.Second)
	sites := "site IN ('shop.example', 'blog.example')"
	for {
		var stored, activity, signals, signalRows, signalling uint64
		err := eng.CH.QueryRow(ctx, "SELECT (SELECT count() FROM vakt.requests WHERE "+sites+"), "+
			"(SELECT sum(requests) FROM vakt.client_activity_1h WHERE "+sites+"), "+
			"(SELECT sum(requests) FROM vakt.client_signals_1h WHERE "+sites+"), "+
			"(SELECT count() FROM vakt.signal_requests WHERE "+sites+"), "+
			"(SELECT count() FROM vakt.requests WHERE "+sites+" AND ("+store.SignalRowCondition()+"))").
			Scan(&stored, &activity, &signals, &signalRows, &signalling)
		want := t.requests[seededSites[0]] + t.requests[seededSites[1]]
		if err == nil && int(stored) == want && activity == stored && signals == stored && signalRows == signalling {
			return t, nil
		}
		if time.Now().After(deadline) {
			return nil, errors.Join(fmt.Errorf("store holds %d of %d seeded requests", stored, want), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// requestMillis gives a request a plausible time: static files are fast,
// pages slower with a tail, server errors slow.
func requestMillis(rng *rand.Rand, r *event.Raw) int {
	path, _, _ := strings.Cut(r.Target, "?")
	switch {
	case r.Status >= 500:
		return 300 + rng.IntN(2000)
	case slices.ContainsFunc([]string{".css", ".js", ".png", ".svg", ".jpg", ".woff2", ".ico"}, func(s string) bool { return strings.HasSuffix(path, s) }):
		return 1 + rng.IntN(20)
	case rng.IntN(100) < 3:
		return 400 + rng.IntN(1500)
	}
	return 20 + rng.IntN(180)
}
