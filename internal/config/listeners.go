package config

import (
	"fmt"
	"net"

	"github.com/vakt-dev/vakt/internal/configkit"
)

// Loopback is not a trust boundary, but it is the only place a listener
// without TLS (or, for syslog, without authentication) may be put by
// default: vakt refuses, at `vakt check` and at start, any listener on
// another address unless the configuration says it was meant.

// LoopbackAddr reports whether hostport's host is a loopback address
// (127.0.0.0/8, ::1) or "localhost"; see configkit.LoopbackAddr.
func LoopbackAddr(hostport string) bool { return configkit.LoopbackAddr(hostport) }

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
			ps = append(ps, newProblem(key,
				fmt.Sprintf("%q is not a loopback address and %s has no TLS: its credentials and data would cross the network in the clear", v, what),
				fmt.Sprintf("listen on 127.0.0.1 (reach it through an SSH tunnel or a TLS proxy), or set %s: true if the network between is private", allowKey)))
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
		ps = append(ps, newProblem("http.auth",
			fmt.Sprintf("is none while http.listen %q is not a loopback address: anyone who reaches it reads the dashboard and /metrics", c.HTTP.Listen),
			"use http.auth: token (the default), or listen on 127.0.0.1"))
	} else {
		plaintext("http.listen", c.HTTP.Listen, "the dashboard (token authentication)", "http.allow_plaintext_remote", c.HTTP.AllowPlaintextRemote)
	}
	// ingest.syslog's listeners are the ingest stage's Problems.
	return ps
}
