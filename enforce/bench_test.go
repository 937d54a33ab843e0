package enforce

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

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
	reqs := make([]*http.Request, 1024)
	for i := range reqs {
		r := httptest.NewRequest(http.MethodGet, "/decide", nil)
		r.Host = "localhost"
		r.Header.Set(HeaderKey, ep.key)
		r.Header.Set(HeaderSite, "shop")
		r.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", i%3, i%256, (i*7)%256)) // some banned, most not
		reqs[i] = r
	}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		clear(w.h)
		ep.ServeHTTP(w, reqs[i%len(reqs)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }
