package config

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Loopback is not a trust boundary, but it is the only place a listener
// without TLS (or, for syslog, without authentication) may be put by
// default: vakt refuses, at `vakt check` and at start, any listener on
// another address unless the configuration says it was meant.

// LoopbackAddr reports whether hostport's host is a loopback address
// (127.0.0.0/8, ::1) or "localhost". An empty host, 0.0.0.0 and :: listen
// on every interface and are not loopback; neither is any other name,
// which may resolve anywhere.
func LoopbackAddr(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// listenerProblems refuses non-loopback listeners that lack authentication
// or TLS unless explicitly allowed: one problem per listener, naming its
// key and the fix. Malformed addresses are reported by Problems.
func (c *Config) listenerProblems() []Problem {
	var ps []Problem
	remote := func(v string) bool {
		if v == "" {
			return false // not listening
		}
		_, _, err := net.SplitHostPort(v)
		return err == nil && !LoopbackAddr(v)
	}
	plaintext := func(key, v, what, allowKey string, allowed bool) {
		if remote(v) && !allowed {
			ps = append(ps, Problem{key,
				fmt.Sprintf("%q is not a loopback address and %s has no TLS: its credentials and data would cross the network in the clear", v, what),
				fmt.Sprintf("listen on 127.0.0.1 (reach it through an SSH tunnel or a TLS proxy), or set %s: true if the network between is private", allowKey)})
		}
	}
	if c.EmbeddedNATS() {
		plaintext("nats.listen", c.NATS.Listen, "the embedded NATS server (authenticated, per-stage users)", "nats.allow_plaintext_remote", c.NATS.AllowPlaintextRemote)
	}
	if c.EmbeddedClickHouse() {
		plaintext("clickhouse.listen", c.ClickHouse.Listen, "the embedded ClickHouse endpoint (authenticated)", "clickhouse.allow_plaintext_remote", c.ClickHouse.AllowPlaintextRemote)
	}
	if remote(c.HTTP.Listen) && c.HTTP.Auth == "none" {
		// Refused outright: anyone on the network would read the dashboard.
		ps = append(ps, Problem{"http.auth",
			fmt.Sprintf("is none while http.listen %q is not a loopback address: anyone who reaches it reads the dashboard and /metrics", c.HTTP.Listen),
			"use http.auth: token (the default), or listen on 127.0.0.1"})
	} else {
		plaintext("http.listen", c.HTTP.Listen, "the dashboard (token authentication)", "http.allow_plaintext_remote", c.HTTP.AllowPlaintextRemote)
	}
	sl := c.Ingest.Syslog
	for _, t := range []struct{ key, v string }{{"ingest.syslog.udp", sl.UDP}, {"ingest.syslog.tcp", sl.TCP}} {
		if remote(t.v) && !sl.AllowRemote {
			ps = append(ps, Problem{t.key,
				fmt.Sprintf("%q is not a loopback address and syslog senders are not authenticated: anyone who reaches the port can inject log lines", t.v),
				"listen on 127.0.0.1, or set ingest.syslog.allow_remote: true and firewall the port to your web servers"})
		}
	}
	if sl.IdleTimeout <= 0 {
		ps = append(ps, Problem{"ingest.syslog.idle_timeout", "must be positive", "use e.g. 2m: a TCP sender silent that long is disconnected (rsyslog reconnects)"})
	} else if sl.IdleTimeout.D() < time.Second {
		ps = append(ps, Problem{"ingest.syslog.idle_timeout", fmt.Sprintf("%s is under a second", sl.IdleTimeout), "use e.g. 2m"})
	}
	if sl.MaxConnections <= 0 {
		ps = append(ps, Problem{"ingest.syslog.max_connections", "must be positive", "use e.g. 512"})
	}
	if sl.MaxConnectionsPerAddress < 0 {
		ps = append(ps, Problem{"ingest.syslog.max_connections_per_address", "must not be negative", "use 0 (no cap) or e.g. 64"})
	}
	return ps
}
