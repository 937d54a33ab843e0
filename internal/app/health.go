package app

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/vakt-dev/vakt/internal/bus"
)

// readiness is the /readyz answer: each dependency's state.
type readiness struct {
	Ready      bool              `json:"ready"`
	NATS       string            `json:"nats,omitempty"`
	ClickHouse string            `json:"clickhouse,omitempty"`
	Consumers  map[string]lagMsg `json:"consumers,omitempty"`
}

type lagMsg struct {
	Pending    uint64 `json:"pending"`
	AckPending int    `json:"ack_pending"`
	Error      string `json:"error,omitempty"`
}

// ready checks the engines this process uses: NATS connected, ClickHouse
// answering a ping, and the pipeline's consumers reachable (their lag is
// reported, not judged: a backlog is not unreadiness).
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
				l.Error, r.Ready = err.Error(), false
			}
			r.Consumers[sc[1]] = l
		}
	}
	if e.CH != nil {
		if err := e.CH.Ping(ctx); err != nil {
			r.ClickHouse, r.Ready = err.Error(), false
		} else {
			r.ClickHouse = "ok"
		}
	}
	return r
}

// healthHandlers serves /healthz (the process is alive) and /readyz (its
// dependencies answer: 200 or 503, with details as JSON).
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
