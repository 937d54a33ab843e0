package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/vakt-dev/vakt/internal/bus"
)

// readiness is the /readyz answer: each dependency's state. /readyz is
// served without authentication, so it holds states and errors with every
// address taken out (noAddresses), and no credentials.
type readiness struct {
	Ready      bool              `json:"ready"`
	NATS       string            `json:"nats,omitempty"`
	ClickHouse string            `json:"clickhouse,omitempty"`
	Store      string            `json:"store,omitempty"`
	Consumers  map[string]lagMsg `json:"consumers,omitempty"`
}

type lagMsg struct {
	Pending    uint64 `json:"pending"`
	AckPending int    `json:"ack_pending"`
	Error      string `json:"error,omitempty"`
}

// ready checks the engines this process uses: NATS connected, ClickHouse
// answering a ping, the pipeline's consumers reachable (their lag is
// reported, not judged: a backlog is not unreadiness), and, where this
// process stores, its latest insert committed.
func (e *Engines) ready(ctx context.Context) readiness {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	r := readiness{Ready: true}
	if e.NC != nil {
		if st := e.NC.Status(); st == nats.CONNECTED {
			r.NATS = "connected"
		} else {
			r.NATS, r.Ready = st.String(), false
		}
		r.Consumers = map[string]lagMsg{}
		for _, sc := range [][2]string{{bus.RawStream, bus.PseudonymizeConsumer}, {bus.EventsStream, bus.StoreConsumer}} {
			var l lagMsg
			c, err := e.JS.Consumer(ctx, sc[0], sc[1])
			if err == nil {
				info, ierr := c.Info(ctx)
				if err = ierr; err == nil {
					l.Pending, l.AckPending = info.NumPending, info.NumAckPending
				}
			}
			if err != nil {
				l.Error, r.Ready = noAddresses(err.Error()), false
			}
			r.Consumers[sc[1]] = l
		}
	}
	if e.CH != nil {
		if err := e.CH.Ping(ctx); err != nil {
			r.ClickHouse, r.Ready = noAddresses(err.Error()), false
		} else {
			r.ClickHouse = "ok"
		}
	}
	if e.insertHealth != nil {
		switch h := e.insertHealth(); {
		case !h.FailingSince.IsZero():
			r.Store, r.Ready = fmt.Sprintf("inserts failing since %s: %s",
				h.FailingSince.UTC().Format(time.RFC3339), noAddresses(h.LastError)), false
		case h.LastSuccess.IsZero():
			r.Store = "no insert yet"
		default:
			r.Store = "ok"
		}
	}
	return r
}

var (
	urlRE   = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>()]+`)
	tokenRE = regexp.MustCompile(`[\[\]0-9A-Za-z:._%-]+`)
)

// maxStateLen bounds one state in the answer.
const maxStateLen = 300

// noAddresses replaces what may be an address in an error message (the
// endpoint that failed, an IP ClickHouse quotes from a value) by
// "<address>", and shortens it: /readyz is open to anyone who can connect.
func noAddresses(msg string) string {
	msg = urlRE.ReplaceAllString(msg, "<address>") // URLs, with any credentials in them
	msg = tokenRE.ReplaceAllStringFunc(msg, func(tok string) string {
		t := strings.TrimRight(tok, ".:-")
		if _, err := netip.ParseAddr(strings.Trim(t, "[]")); err == nil {
			return "<address>" + tok[len(t):]
		}
		if host, port, err := net.SplitHostPort(t); err == nil && host != "" {
			if _, err := strconv.Atoi(port); err == nil {
				return "<address>" + tok[len(t):]
			}
		}
		return tok
	})
	if len(msg) > maxStateLen {
		msg = strings.ToValidUTF8(msg[:maxStateLen], "") + "…"
	}
	return msg
}

func healthHandlers(mux *http.ServeMux, eng *Engines) {
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		rd := readiness{Ready: true}
		if eng != nil {
			rd = eng.ready(r.Context())
		}
		w.Header().Set("Content-Type", "application/json")
		if !rd.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(rd)
	})
}
