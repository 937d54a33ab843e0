package enforce

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/testenv"
)

// TestEndpointGuards: the endpoint's server (fasthttp, not net/http) keeps
// what internal/httpguard gives vakt's other listeners: the key, the Host
// check, a cap on the request head (431) and on the connections, a
// request body not buffered beyond a cap, a slow request cut off; and it
// reads repeated X-Forwarded-For headers and X-Forwarded-Host as before.
func TestEndpointGuards(t *testing.T) {
	env := startEnv(t)
	ep := startEndpoint(t, env, Config{MaxConnections: 2})
	addr := strings.TrimPrefix(ep.url, "http://")
	keys := env.keys(t)
	ban(t, ep.Decisions(), keys, ScopeClient, "192.0.2.7", time.Hour, 403)
	testenv.WaitFor(t, 10*time.Second, "ban enforced", func() bool { s, _ := ep.ask(t, "192.0.2.7", "shop"); return s == http.StatusForbidden })
	http.DefaultClient.CloseIdleConnections() // max_connections is 2

	head := func(extra string) string {
		return "GET /decide HTTP/1.1\r\nHost: localhost\r\nX-Vakt-Key: " + ep.key + "\r\n" + extra + "\r\n"
	}
	c1 := dialEndpoint(t, addr)
	for _, c := range []struct {
		what, req string
		status    int
	}{
		{"no key", "GET /decide HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 192.0.2.7\r\n\r\n", 401},
		{"foreign Host", "GET /decide HTTP/1.1\r\nHost: attacker.example\r\nX-Vakt-Key: " + ep.key + "\r\n\r\n", 403},
		{"banned client", head("X-Forwarded-For: 192.0.2.7\r\n"), 403},
		{"two X-Forwarded-For headers: the last is the peer's", head("X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-For: 10.1.2.3\r\n"), 403},
		{"two X-Forwarded-For headers: a forged first one", head("X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-For: 192.0.2.99\r\n"), 204},
		{"site from X-Forwarded-Host", head("X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Host: shop:8443\r\n"), 403},
		{"a body larger than the buffered cap is skipped", "POST /upload HTTP/1.1\r\nHost: localhost\r\nX-Vakt-Key: " + ep.key +
			"\r\nX-Forwarded-For: 192.0.2.8\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("x", 100_000), 204},
		{"the same connection after the body", head("X-Forwarded-For: 192.0.2.8\r\n"), 204},
	} {
		if got := c1.ask(t, c.req); got != c.status {
			t.Errorf("%s: %d, want %d", c.what, got, c.status)
		}
	}

	// A request head over the cap: 431.
	big := dialEndpoint(t, addr)
	if got := big.ask(t, head("X-Filler: "+strings.Repeat("a", maxHeaderBytes)+"\r\n")); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a %d-byte header: %d, want 431", maxHeaderBytes, got)
	}
	big.Close()

	// Connections: with c1 open and c2 stalled, a third is not served
	// until one closes; c2, which never finishes its request, is cut off.
	c2 := dialEndpoint(t, addr)
	if _, err := c2.Write([]byte("GET /decide HTTP/1.1\r\nHost: loc")); err != nil {
		t.Fatal(err)
	}
	c3 := dialEndpoint(t, addr)
	if _, err := c3.Write([]byte(head("X-Forwarded-For: 192.0.2.8\r\n"))); err != nil {
		t.Fatal(err)
	}
	c3.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c3.r.Peek(1); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a third connection was served while max_connections (2) were open: %v", err)
	}
	c2.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := io.ReadAll(c2.r); err != nil {
		t.Errorf("a stalled request head: %v, want the connection closed after %s", err, readTimeout)
	}
	c3.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(c3.r, nil)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Errorf("the third connection once the stalled one was closed: %v %v, want 204", resp, err)
	}
}

type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialEndpoint(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

// ask writes req and returns the answer's status.
func (c *rawConn) ask(t *testing.T, req string) int {
	t.Helper()
	c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
