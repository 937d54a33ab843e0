package ingest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/testenv"
)

// TestSyslogRealSenders sends access-log lines with real syslog senders:
// util-linux's logger (RFC 5424 over TCP, newline-framed and
// octet-counted; RFC 3164 over UDP) and nginx itself
// (access_log syslog:server=...,tag=...) over UDP, and checks that every
// line arrives in the RAW stream with the site named by its tag.
func TestSyslogRealSenders(t *testing.T) {
	t.Parallel()
	logger, err := exec.LookPath("logger")
	if err != nil {
		if testenv.CI() {
			t.Fatal("logger (Debian's bsdutils) is required in CI")
		}
		t.Skip("logger not installed")
	}
	port := testenv.FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	js := startNATS(t, bus.DefaultStreamConfig())
	var logs logBuf
	ing, err := New(Config{Follow: true, Site: "fallback", FlushInterval: 20 * time.Millisecond,
		Syslog: SyslogConfig{UDP: addr, TCP: addr}}, js, logs.logger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ing.Run(ctx) }()
	testenv.WaitFor(t, 10*time.Second, "syslog receiver", func() bool { return strings.Contains(logs.String(), "syslog receiver listening") })

	now := time.Now()
	line := func(ip, path string) string {
		return fmt.Sprintf(`%s - - [%s] "GET %s HTTP/1.1" 200 42 "-" "logger test"`, ip, now.Format("02/Jan/2006:15:04:05 -0700"), path)
	}
	sent := map[string]string{} // path → site
	runLogger := func(site, path string, args ...string) {
		t.Helper()
		args = append(args, "-n", "127.0.0.1", "-P", strconv.Itoa(port), "-t", site, line("198.51.100.9", path))
		if out, err := exec.Command(logger, args...).CombinedOutput(); err != nil {
			t.Fatalf("logger %v: %v\n%s", args, err, out)
		}
		sent[path] = site
	}
	for i := range 5 {
		runLogger("tcp-newline", fmt.Sprintf("/tcp5424/%d", i), "--rfc5424", "--tcp")
		runLogger("tcp-octets", fmt.Sprintf("/octets/%d", i), "--rfc5424", "--tcp", "--octet-count")
		runLogger("udp-bsd", fmt.Sprintf("/udp3164/%d", i), "--rfc3164", "--udp")
	}
	// A message that is not syslog at all, over TCP: counted, not stored.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "not syslog\n<13>1 x\n")
	c.Close()

	// nginx logging straight to vakt over UDP.
	front := testenv.FreePort(t)
	testenv.StartNginx(t, fmt.Sprintf(`
  server {
    listen 127.0.0.1:%d;
    access_log syslog:server=%s,tag=nginx_site combined;
    location / { return 204; }
  }`, front, addr), front)
	for i := range 10 {
		path := fmt.Sprintf("/nginx/%d?q=%d", i, i)
		resp, err := (&net.Dialer{}).Dial("tcp", fmt.Sprintf("127.0.0.1:%d", front))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(resp, "GET %s HTTP/1.0\r\n\r\n", path)
		_, _ = io.ReadAll(resp)
		resp.Close()
		sent[path] = "nginx_site"
	}

	recs := readRaw(t, js, len(sent))
	got := map[string]string{}
	for _, r := range recs {
		got[r.Target] = r.Site
		if !strings.HasPrefix(r.Target, "/nginx/") && r.ClientIP != netip.MustParseAddr("198.51.100.9") {
			t.Errorf("%s: client %v", r.Target, r.ClientIP)
		}
		if strings.HasPrefix(r.Target, "/nginx/") && (r.ClientIP != netip.MustParseAddr("127.0.0.1") || r.Status != 204) {
			t.Errorf("%s: client %v status %d", r.Target, r.ClientIP, r.Status)
		}
		if time.Since(r.Time) > time.Minute {
			t.Errorf("%s: time %v", r.Target, r.Time)
		}
	}
	for path, site := range sent {
		if got[path] != site {
			t.Errorf("%s: site %q, want %q", path, got[path], site)
		}
	}
	testenv.WaitFor(t, 10*time.Second, "bad syslog counted", func() bool { return ing.Stats().Rejected[event.ReasonBadSyslog] == 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := ing.Stats()
	if st.LinesRead != int64(len(sent))+2 || st.Published != int64(len(sent)) {
		t.Errorf("stats %+v, want %d lines and %d published", st, len(sent)+2, len(sent))
	}
	out := logs.String()
	if !strings.Contains(out, `"format":"combined"`) {
		t.Errorf("detected format not logged:\n%s", out)
	}
	logs.assertNoIPs(t, map[netip.Addr]int{netip.MustParseAddr("198.51.100.9"): 1})
}

// TestSyslogSiteFrom covers site_from hostname, host and config, and a
// configured format, with messages sent over TCP by the test.
func TestSyslogSiteFrom(t *testing.T) {
	t.Parallel()
	const custom = `$host $remote_addr [$time_local] "$request" $status $request_time`
	now := time.Now().Format("02/Jan/2006:15:04:05 -0700")
	body := func(host, path string) string {
		return fmt.Sprintf(`%s 203.0.113.5 [%s] "GET %s HTTP/1.1" 200 0.004`, host, now, path)
	}
	for _, tc := range []struct {
		siteFrom, hostname, host string
		want                     string
	}{
		{SiteFromHostname, "web-7", "shop.example", "web-7"},
		{SiteFromHost, "web-7", "shop.example", "shop.example"},
		{SiteFromConfig, "web-7", "shop.example", "fallback"},
		{SiteFromTag, "web-7", "shop.example", "tagged"},
		// An address never names a site: it may be a client's own IP.
		{SiteFromHostname, "198.51.100.7", "shop.example", "fallback"},
		{SiteFromHost, "web-7", "[2001:db8::1]:443", "fallback"},
		{SiteFromHost, "web-7", "203.0.113.9:8080", "fallback"},
	} {
		t.Run(tc.siteFrom+"/"+tc.hostname+"/"+tc.host, func(t *testing.T) {
			port := testenv.FreePort(t)
			addr := "127.0.0.1:" + strconv.Itoa(port)
			js := startNATS(t, bus.DefaultStreamConfig())
			ing, err := New(Config{Follow: true, Site: "fallback", FlushInterval: 20 * time.Millisecond,
				Syslog: SyslogConfig{TCP: addr, SiteFrom: tc.siteFrom, Format: custom}}, js, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- ing.Run(ctx) }()
			var c net.Conn
			testenv.WaitFor(t, 10*time.Second, "listener", func() bool { c, err = net.Dial("tcp", addr); return err == nil })
			msg := "<134>1 2024-01-01T00:00:00Z " + tc.hostname + " tagged - - - " + body(tc.host, "/p")
			fmt.Fprintf(c, "%d %s", len(msg), msg)
			c.Close()
			recs := readRaw(t, js, 1)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			r := recs[0]
			if r.Site != tc.want || r.Host != tc.host || r.RequestTime != 4*time.Millisecond || r.Target != "/p" {
				t.Errorf("record %+v, want site %q", r, tc.want)
			}
		})
	}
}

func TestSyslogConfigValidate(t *testing.T) {
	for _, sc := range []SyslogConfig{{UDP: "nope"}, {TCP: "127.0.0.1:1", SiteFrom: "path"}, {UDP: ":1", Format: "yaml"}} {
		if err := (Config{Follow: true, Syslog: sc}).Validate(); err == nil {
			t.Errorf("%+v accepted", sc)
		}
	}
	if err := (Config{Follow: true, Syslog: SyslogConfig{UDP: "127.0.0.1:5514"}}).Validate(); err != nil {
		t.Errorf("udp only: %v", err)
	}
	if err := (Config{Files: []string{"x"}, Format: "nginx_json", SiteFrom: "host"}).Validate(); err != nil {
		t.Error(err)
	}
	if err := (Config{Files: []string{"x"}, Format: "$nope"}).Validate(); err == nil {
		t.Error("bad format accepted")
	}
}
