// Package metrics defines vakt's own Prometheus metrics in one place. Labels
// are stage names, sites and reasons: never an IP or a client id.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Pipeline holds the metrics every stage reports to.
type Pipeline struct {
	Registry *prometheus.Registry

	LinesRead  *prometheus.CounterVec // stage=ingest, by source kind
	Rejected   *prometheus.CounterVec // by stage and reason
	EventsIn   *prometheus.CounterVec // by stage
	EventsOut  *prometheus.CounterVec // by stage
	Duplicates *prometheus.CounterVec // batches dropped as already published (JetStream) or stored (store), by stage
	// Republished counts batches published again because the stream lost
	// them (NATS restarted) before the next stage took them.
	Republished *prometheus.CounterVec
	// Dropped counts records dropped by a configured policy
	// (ingest.when_full: drop), by stage and reason.
	Dropped        *prometheus.CounterVec
	BatchRecords   *prometheus.HistogramVec // records per batch, by stage
	InsertDuration prometheus.Histogram     // seconds per ClickHouse insert
	InsertErrors   prometheus.Counter
	SaltEpoch      prometheus.Gauge // current salt epoch number
	// SaltConflicts counts epochs whose salt changed in the bucket after
	// use and was refused (pseudonymize/saltseal.go), by epoch.
	SaltConflicts *prometheus.CounterVec
	PublishErrors *prometheus.CounterVec
	// BackpressureWaits counts publishes refused because the next stream
	// was full: the stage waited for the one downstream to catch up.
	BackpressureWaits *prometheus.CounterVec

	// ConsumerPending and ConsumerAckPending are the lag of the pipeline's
	// durable consumers (messages not yet delivered, delivered but not yet
	// acknowledged), polled from JetStream, by consumer.
	ConsumerPending    *prometheus.GaugeVec
	ConsumerAckPending *prometheus.GaugeVec
	// AlertsPublished counts alerts published, by rule and site.
	AlertsPublished *prometheus.CounterVec
	// WebhookDeliveries counts alert webhook deliveries by result (ok,
	// failed after retries, dropped because the queue was full).
	WebhookDeliveries *prometheus.CounterVec
	// RuleErrors counts failed rule evaluations, by rule.
	RuleErrors *prometheus.CounterVec
	// RuleDuration is the time one evaluation of a rule takes, by rule.
	RuleDuration *prometheus.HistogramVec

	// ListenerConnections are the connections a listener holds open, and
	// ListenerClosed those it closed, by listener (syslog_tcp, ...) and
	// reason (peer, idle_timeout, evicted, ...): a flood shows here.
	ListenerConnections *prometheus.GaugeVec
	ListenerClosed      *prometheus.CounterVec

	// HTTPRefused counts requests vakt's HTTP listener refused, by reason
	// (host, origin, auth).
	HTTPRefused *prometheus.CounterVec
	// DashboardQueries counts the dashboard's evaluations (cache misses)
	// by endpoint: requests served from its cache are not counted.
	DashboardQueries *prometheus.CounterVec
}

// New creates the metrics on a fresh registry with Go and process collectors.
func New() *Pipeline {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) prometheus.Collector { reg.MustRegister(c); return c }
	return &Pipeline{
		Registry: reg,
		LinesRead: f(prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vakt", Name: "lines_read_total", Help: "Log lines read by ingest.",
		}, []string{"source"})).(*prometheus.CounterVec),
		Rejected: f(prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vakt", Name: "rejected_total", Help: "Lines or events rejected, by stage and reason.",
		}, []string{"stage", "reason"})).(*prometheus.CounterVec),
		EventsIn: f(prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vakt", Name: "events_in_total", Help: "Events received by a stage.",
		}, []string{"stage"})).(*prometheus.CounterVec),
		EventsOut: f(prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vakt", Name: "events_out_total", Help: "Events a stage passed on (published, or committed by store).",
		}, []string{"stage"})).(*prometheus.CounterVec),
		Duplicates: f(prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vakt", Name: "duplicates_total", Help: "Batches recognised as already published (by JetStream) or already stored (by store), by stage.",
		}, []string{"stage"})).(*prometheus.CounterVec),
		Republished: f(prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vakt", Name: "republished_total", Help: "Batches published again because a NATS restart lost them before the next stage took them.",
		}, []string{"stage"})).(*prometheus.CounterVec),
		Dropped: f(prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vakt", Name: "dropped_total", Help: "Records dropped by a configured policy (ingest.when_full: drop), by stage and reason.",
		}, []string{"stage", "reason"})).(*prometheus.CounterVec),
		BatchRecords: f(prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "vakt", Name: "batch_records", Help: "Records per batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}, []string{"stage"})).(*prometheus.HistogramVec),
		InsertDuration: f(prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "vakt", Name: "insert_duration_seconds", Help: "ClickHouse batch insert latency.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		})).(prometheus.Histogram),
		InsertErrors: f(prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "vakt", Name: "insert_errors_total", Help: "Failed ClickHouse inserts (retried).",
		})).(prometheus.Counter),
		SaltEpoch: f(prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "vakt", Name: "salt_epoch", Help: "Current pseudonymisation epoch number.",
		})).(prometheus.Gauge),
		SaltConflicts: f(prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vakt", Name: "salt_conflicts_total", Help: "Epochs refused because their salt was replaced or removed in the salt bucket after use; the pipeline waits for `vakt salts rotate`.",
		}, []string{"epoch"})).(*prometheus.CounterVec),
		BackpressureWaits: f(prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vakt", Name: "backpressure_waits_total", Help: "Publishes refused by a full stream and retried (flow control, not errors).",
		}, []string{"stage"})).(*prometheus.CounterVec),
		PublishErrors: f(prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vakt", Name: "publish_errors_total", Help: "Failed JetStream publishes (retried).",
		}, []string{"stage"})).(*prometheus.CounterVec),
		ConsumerPending: f(prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "vakt", Name: "consumer_pending", Help: "Messages of a pipeline stream not yet delivered to its durable consumer (lag).",
		}, []string{"consumer"})).(*prometheus.GaugeVec),
		ConsumerAckPending: f(prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "vakt", Name: "consumer_ack_pending", Help: "Messages delivered to a durable consumer and not yet acknowledged.",
		}, []string{"consumer"})).(*prometheus.GaugeVec),
		AlertsPublished: f(prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vakt", Name: "alerts_published_total", Help: "Alerts published on vakt.alerts.<site>, by rule and site.",
		}, []string{"rule", "site"})).(*prometheus.CounterVec),
		WebhookDeliveries: f(prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vakt", Name: "alert_webhook_deliveries_total", Help: "Alert webhook deliveries by result: ok, failed (after retries) or dropped (queue full).",
		}, []string{"result"})).(*prometheus.CounterVec),
		RuleErrors: f(prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vakt", Name: "rule_errors_total", Help: "Failed evaluations of a detection rule by the alert loop.",
		}, []string{"rule"})).(*prometheus.CounterVec),
		RuleDuration: f(prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "vakt", Name: "rule_duration_seconds", Help: "Time one evaluation of a detection rule takes.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"rule"})).(*prometheus.HistogramVec),
		ListenerConnections: f(prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "vakt", Name: "listener_connections", Help: "Connections a listener holds open, by listener.",
		}, []string{"listener"})).(*prometheus.GaugeVec),
		ListenerClosed: f(prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vakt", Name: "listener_connections_closed_total", Help: "Connections a listener closed, by listener and reason (peer, idle_timeout, incomplete_frame, evicted, framing, shutdown).",
		}, []string{"listener", "reason"})).(*prometheus.CounterVec),
		HTTPRefused: f(prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vakt", Name: "http_refused_total", Help: "Requests the dashboard/metrics listener refused, by reason: host (not a loopback or allowed name), origin (from a page of another origin), auth (no or wrong token).",
		}, []string{"reason"})).(*prometheus.CounterVec),
		DashboardQueries: f(prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vakt", Name: "dashboard_queries_total", Help: "Dashboard answers computed (not served from its cache), by endpoint.",
		}, []string{"endpoint"})).(*prometheus.CounterVec),
	}
}
