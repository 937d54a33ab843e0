package metrics

import "github.com/prometheus/client_golang/prometheus"

// Enforce holds the decision endpoint's metrics (enforce/). Labels are
// rules, scopes, verdicts and reasons: never an address or an id.
type Enforce struct {
	// Answers counts answers by verdict: allow, deny, allow_list (an
	// address of enforce.allow), undecided (allowed because no salt or no
	// address was there to decide with).
	Answers *prometheus.CounterVec
	// Denied counts denied requests by rule and scope.
	Denied *prometheus.CounterVec
	// Latency is the time from request to answer inside the endpoint.
	Latency prometheus.Histogram
	// SlowAnswers counts answers slower than enforce.slow_answer: the web
	// server had given up and let the request through (fail-open).
	SlowAnswers prometheus.Counter
	// Undecided counts requests allowed without a decision, by reason.
	Undecided *prometheus.CounterVec
	// Active is the number of active decisions, by scope.
	Active *prometheus.GaugeVec
	// Carried counts decisions carried to the id of a new salt epoch.
	Carried prometheus.Counter
	// SaltEpochs is the number of salt epochs whose keys the endpoint
	// holds; 0 means it can deny nothing (every answer is allow).
	SaltEpochs prometheus.Gauge
}

// NewEnforce registers the decision endpoint's metrics on reg.
func NewEnforce(reg prometheus.Registerer) *Enforce {
	m := &Enforce{
		Answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vakt", Subsystem: "enforce", Name: "answers_total", Help: "Decision endpoint answers, by verdict.",
		}, []string{"verdict"}),
		Denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vakt", Subsystem: "enforce", Name: "denied_total", Help: "Requests denied, by the decision's rule and scope.",
		}, []string{"rule", "scope"}),
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "vakt", Subsystem: "enforce", Name: "answer_seconds", Help: "Time to answer a decision request, inside the endpoint.",
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
		}),
		SlowAnswers: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "vakt", Subsystem: "enforce", Name: "slow_answers_total",
			Help: "Answers slower than enforce.slow_answer: the web server had already let the request through (fail-open).",
		}),
		Undecided: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vakt", Subsystem: "enforce", Name: "undecided_total", Help: "Requests allowed without a decision, by reason.",
		}, []string{"reason"}),
		Active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "vakt", Subsystem: "enforce", Name: "decisions_active", Help: "Active decisions, by scope.",
		}, []string{"scope"}),
		Carried: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "vakt", Subsystem: "enforce", Name: "carried_total", Help: "Decisions carried to the id of a new salt epoch.",
		}),
		SaltEpochs: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "vakt", Subsystem: "enforce", Name: "salt_epochs", Help: "Salt epochs whose keys the endpoint holds (0: it can deny nothing).",
		}),
	}
	reg.MustRegister(m.Answers, m.Denied, m.Latency, m.SlowAnswers, m.Undecided, m.Active, m.Carried, m.SaltEpochs)
	return m
}
