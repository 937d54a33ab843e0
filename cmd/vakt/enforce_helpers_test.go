package main

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// browserUA is the user agent of the test's benign clients and of the
// attackers that are not caught by theirs.
const browserUA = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"

// webClient is an HTTP client whose connections come from one loopback
// address (any of 127.0.0.0/8 works on Linux), so that nginx sees it as
// its own client. No keep-alive: nginx's test config has few connections.
type webClient struct {
	addr netip.Addr
	http *http.Client
	base string
}

func newWebClient(addr, base string) *webClient {
	a := netip.MustParseAddr(addr)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: a.AsSlice()}, Timeout: 5 * time.Second}
	return &webClient{addr: a, base: base, http: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		// A redirect is an answer too.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends one request and returns its status (0 on a transport error)
// and how long it took.
func (c *webClient) do(method, target, ua string) (int, time.Duration) {
	req, err := http.NewRequest(method, c.base+target, nil)
	if err != nil {
		return 0, 0
	}
	req.Header.Set("User-Agent", ua)
	start := time.Now()
	resp, err := c.http.Do(req)
	took := time.Since(start)
	if err != nil {
		return 0, took
	}
	resp.Body.Close()
	return resp.StatusCode, took
}

// webRoot writes the site's static pages and the login's password file.
func webRoot(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{"index.html": "home\n", "about.html": "about\n", "login": "login\n"}
	for i := range 20 {
		files[fmt.Sprintf("products/%d.html", i)] = fmt.Sprintf("product %d\n", i)
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "htpasswd"), []byte("admin:{PLAIN}correct horse\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// snippet reads a configs/ file with its placeholders replaced.
func snippet(t *testing.T, name string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "configs", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer(replace...).Replace(string(b))
}

// benignLoad is the benign clients' traffic: each worker takes the next
// client in turn and asks for a page, until stopped. Every answer must be
// 200.
type benignLoad struct {
	clients []*webClient
	mu      sync.Mutex
	sent    int
	bad     map[int]int // status → count, for answers other than 200
	lat     []time.Duration
	next    int
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startBenign(clients []*webClient, workers int) *benignLoad {
	b := &benignLoad{clients: clients, bad: map[int]int{}, stop: make(chan struct{})}
	pages := []string{"/", "/about.html"}
	for i := range 20 {
		pages = append(pages, fmt.Sprintf("/products/%d.html", i))
	}
	for range workers {
		b.wg.Go(func() {
			for {
				select {
				case <-b.stop:
					return
				default:
				}
				b.mu.Lock()
				c, n := b.clients[b.next%len(b.clients)], b.next
				b.next++
				b.mu.Unlock()
				status, took := c.do(http.MethodGet, pages[n%len(pages)], browserUA)
				b.mu.Lock()
				b.sent++
				b.lat = append(b.lat, took)
				if status != http.StatusOK {
					b.bad[status]++
				}
				b.mu.Unlock()
				// A person reads the page: keeps each client's rate far below a flood.
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	return b
}

// finish stops the load and returns requests sent, the non-200 answers
// and the latencies.
func (b *benignLoad) finish() (int, map[int]int, []time.Duration) {
	close(b.stop)
	b.wg.Wait()
	return b.sent, b.bad, b.lat
}

// percentile of sorted-in-place durations.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(p*float64(len(ds))))]
}

// blackHole accepts connections on addr and never answers: a hung vakt.
func blackHole(t *testing.T, network, addr string) {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
}
