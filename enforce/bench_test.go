package enforce

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/vakt-dev/vakt/internal/testenv"
)

// BenchmarkDecide measures one decision request through the endpoint's
// handler (key check, address, ids under the salt, lookup, answer,
// metrics) with 4,900 client bans and 100 network bans in memory, for
// addresses that are mostly allowed. With -cpu 1, 1e9 / ns/op is the
// decisions per second of one core:
//
//	go test -run '^$' -bench BenchmarkDecide -cpu 1 ./enforce/
func BenchmarkDecide(b *testing.B) {
	env := startEnv(b)
	ep := startEndpoint(b, env, Config{})
	keys := env.keys(b)
	ctx := context.Background()
	now := time.Now().UTC()
	for i := range 5_000 {
		scope, id := ScopeClient, keys.ClientID(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		if i < 100 {
			scope, id = ScopeNetwork, keys.NetworkID(netip.AddrFrom4([4]byte{172, 16, byte(i), 1}))
		}
		d := Decision{Scope: scope, ID: strconv.FormatUint(id, 10), Epoch: keys.Epoch(), Rule: "bench", Status: 403,
			Origin: OriginManual, Created: now, Expires: now.Add(time.Hour)}
		if _, err := ep.Decisions().Put(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
	testenv.WaitFor(b, 60*time.Second, "decisions loaded", func() bool {
		return len(ep.set.load().byID) == 5_000 && ep.ring.keys(keys.Epoch()) != nil
	})
	reqs := make([]*fasthttp.RequestCtx, 1024)
	for i := range reqs {
		var r fasthttp.Request
		r.SetRequestURI("/decide")
		r.Header.SetHost("localhost")
		r.Header.Set(HeaderKey, ep.key)
		r.Header.Set(HeaderSite, "shop")
		r.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", i%3, i%256, (i*7)%256)) // some banned, most not
		reqs[i] = &fasthttp.RequestCtx{}
		reqs[i].Init(&r, nil, nil)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c := reqs[i%len(reqs)]
		c.Response.Reset()
		ep.serve(c)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

// BenchmarkDecideHTTP measures decision requests through the endpoint's
// server as nginx sends them: the request nginx's snippet builds, on
// kept-alive connections (1, or 4 as an nginx upstream keepalive pool), 50
// decisions in memory, the client allowed; on TCP loopback and on a unix
// socket. The client is a few lines writing bytes and reading the
// answer's head, so the profile is mostly the server's:
//
//	go test -run '^$' -bench BenchmarkDecideHTTP -cpu 1 -cpuprofile cpu.out ./enforce/
func BenchmarkDecideHTTP(b *testing.B) {
	env := startEnv(b)
	sock := filepath.Join(b.TempDir(), "enforce.sock")
	for _, listen := range []string{"127.0.0.1:0", "unix:" + sock} {
		network, addr := "tcp", ""
		ep := startEndpoint(b, env, Config{Listen: listen})
		if path, unix := ep.cfg.unixPath(); unix {
			network, addr = "unix", path
		} else {
			addr = strings.TrimPrefix(ep.url, "http://")
		}
		for _, conns := range []int{1, 4} {
			b.Run(fmt.Sprintf("%s/conns=%d", network, conns), func(b *testing.B) { benchmarkAnswers(b, env, ep, network, addr, conns) })
		}
	}
}

func benchmarkAnswers(b *testing.B, env *testEnv, ep *runningEndpoint, network, addr string, conns int) {
	keys := env.keys(b)
	if len(ep.set.load().byID) == 0 {
		for i := range 50 {
			ban(b, ep.Decisions(), keys, ScopeClient, fmt.Sprintf("10.9.0.%d", i+1), time.Hour, 403)
		}
	}
	testenv.WaitFor(b, 60*time.Second, "decisions loaded", func() bool {
		return len(ep.set.load().byID) == 50 && ep.ring.keys(keys.Epoch()) != nil
	})
	req := []byte("GET /decide HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 198.51.100.7\r\n" +
		"X-Vakt-Site: bench\r\nX-Vakt-Key: " + ep.key + "\r\nX-Vakt-Deny-Status: 403\r\n\r\n")
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial(network, addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		cs[i] = c
	}
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N / conns
	for i, c := range cs {
		n := per
		if i == 0 {
			n += b.N % conns
		}
		wg.Go(func() {
			buf := make([]byte, 4096)
			for range n {
				if _, err := c.Write(req); err != nil {
					b.Error(err)
					return
				}
				if err := readHead(c, buf); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

// readHead reads one answer without a body (204) from c.
func readHead(c net.Conn, buf []byte) error {
	have := 0
	for {
		n, err := c.Read(buf[have:])
		if err != nil {
			return err
		}
		have += n
		if bytes.HasSuffix(buf[:have], []byte("\r\n\r\n")) {
			if !bytes.HasPrefix(buf, []byte("HTTP/1.1 204")) {
				return fmt.Errorf("answer %q", buf[:have])
			}
			return nil
		}
	}
}
