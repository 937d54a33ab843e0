// Package health is vakt's HTTP listener (Serve: /metrics, the probes and
// the dashboard) and answers its probes: /healthz, and /readyz with each
// dependency's state.
package health

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/httpguard"
	"github.com/vakt-dev/vakt/store"
)

// Readiness is the /readyz answer: each dependency's state. /readyz is
// served without authentication, so it holds states and errors with every
// address taken out (httpguard.NoAddresses), and no credentials.
type Readiness struct {
	Ready      bool                   `json:"ready"`
	NATS       string                 `json:"nats,omitempty"`
	ClickHouse string                 `json:"clickhouse,omitempty"`
	Store      string                 `json:"store,omitempty"`
	Consumers  map[string]ConsumerLag `json:"consumers,omitempty"`
}

// ConsumerLag is one consumer's backlog, or why it could not be read.
type ConsumerLag struct {
	Pending    uint64 `json:"pending"`
	AckPending int    `json:"ack_pending"`
	Error      string `json:"error,omitempty"`
}

// Deps are the engines a process uses; nil ones are not checked.
type Deps struct {
	NC *nats.Conn
	JS jetstream.JetStream
	CH driver.Conn
	// InsertHealth, set where the process runs the store stage, makes
	// failing inserts a readiness failure.
	InsertHealth func() store.InsertHealth
}

// Check checks the engines: NATS connected, ClickHouse answering a ping,
// the pipeline's consumers reachable (their lag is reported, not judged: a
// backlog is not unreadiness), and, where this process stores, its latest
// insert committed.
func Check(ctx context.Context, e Deps) Readiness {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	r := Readiness{Ready: true}
	if e.NC != nil {
		if st := e.NC.Status(); st == nats.CONNECTED {
			r.NATS = "connected"
		} else {
			r.NATS, r.Ready = st.String(), false
		}
		r.Consumers = map[string]ConsumerLag{}
		for _, sc := range [][2]string{{bus.RawStream, bus.PseudonymizeConsumer}, {bus.EventsStream, bus.StoreConsumer}} {
			var l ConsumerLag
			c, err := e.JS.Consumer(ctx, sc[0], sc[1])
			if err == nil {
				info, ierr := c.Info(ctx)
				if err = ierr; err == nil {
					l.Pending, l.AckPending = info.NumPending, info.NumAckPending
				}
			}
			if err != nil {
				l.Error, r.Ready = httpguard.NoAddresses(err.Error()), false
			}
			r.Consumers[sc[1]] = l
		}
	}
	if e.CH != nil {
		if err := e.CH.Ping(ctx); err != nil {
			r.ClickHouse, r.Ready = httpguard.NoAddresses(err.Error()), false
		} else {
			r.ClickHouse = "ok"
		}
	}
	if e.InsertHealth != nil {
		switch h := e.InsertHealth(); {
		case !h.FailingSince.IsZero():
			r.Store, r.Ready = fmt.Sprintf("inserts failing since %s: %s",
				h.FailingSince.UTC().Format(time.RFC3339), httpguard.NoAddresses(h.LastError)), false
		case h.LastSuccess.IsZero():
			r.Store = "no insert yet"
		default:
			r.Store = "ok"
		}
	}
	return r
}

// Handlers serves /healthz and /readyz (ready's answer; always ready when
// ready is nil) on mux.
func Handlers(mux *http.ServeMux, ready func(context.Context) Readiness) {
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		rd := Readiness{Ready: true}
		if ready != nil {
			rd = ready(r.Context())
		}
		w.Header().Set("Content-Type", "application/json")
		if !rd.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(rd)
	})
}
