package analyze

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/output"
	"github.com/vakt-dev/vakt/store"
)

// Sources of a retention policy.
const (
	SourceTables = "tables"        // TTLs read from the ClickHouse tables
	SourceConfig = "configuration" // the tables were not reachable
)

// RetentionPolicy is how long vakt keeps each kind of data: the one model
// behind `vakt retention` and the dashboard's status.
type RetentionPolicy struct {
	// Source says where the table retention comes from: SourceTables or
	// SourceConfig; Why says why not the tables.
	Source   string `json:"source"`
	Why      string `json:"why,omitempty"`
	Database string `json:"database"`
	// Tables in the order requests, client rollups, health rollups.
	Tables []TableRetention `json:"tables"`
	// The stages' own lifetimes, from the configuration (in JSON, whole
	// seconds).
	Lifetimes
}

// Lifetimes are how long the stages before the store keep data.
type Lifetimes struct {
	RawIPMaxAge  time.Duration `json:"-"` // streams.raw_max_age
	EventsMaxAge time.Duration `json:"-"` // streams.events_max_age
	SaltEpoch    time.Duration `json:"-"` // pseudonymize.epoch
	SaltDestroys time.Duration `json:"-"` // pseudonymize.grace: after the epoch ends
}

// MarshalJSON writes the durations in seconds.
func (p RetentionPolicy) MarshalJSON() ([]byte, error) {
	type plain struct {
		Source   string           `json:"source"`
		Why      string           `json:"why,omitempty"`
		Database string           `json:"database"`
		Tables   []TableRetention `json:"tables"`
	}
	return json.Marshal(struct {
		plain
		RawIPMaxAge  int64 `json:"raw_ip_max_age_seconds"`
		SaltEpoch    int64 `json:"salt_epoch_seconds"`
		SaltDestroys int64 `json:"salt_destroyed_after_epoch_seconds"`
	}{plain{p.Source, p.Why, p.Database, p.Tables},
		int64(p.RawIPMaxAge / time.Second), int64(p.SaltEpoch / time.Second), int64(p.SaltDestroys / time.Second)})
}

// TableRetention is one table's retention.
type TableRetention struct {
	Table     string `json:"table"`
	ConfigKey string `json:"config_key"`
	// Days the table keeps its rows; 0 when its TTL is not one vakt set.
	Days int `json:"days"`
	// ConfiguredDays is what the configuration asks for; it differs from
	// Days until the next start or `vakt migrate`.
	ConfiguredDays int `json:"configured_days"`
}

// ConfiguredRetention is the policy the configuration sets (Source
// SourceConfig, Why unset): the schema's TTLs and the stages' lifetimes.
func ConfiguredRetention(sc store.SchemaConfig, life Lifetimes) RetentionPolicy {
	p := RetentionPolicy{Source: SourceConfig, Database: cmp.Or(sc.Database, store.DefaultDatabase), Lifetimes: life}
	for _, c := range store.ConfiguredRetention(sc) {
		d := int(c.TTL / (24 * time.Hour))
		p.Tables = append(p.Tables, TableRetention{Table: c.Table, ConfigKey: c.ConfigKey, Days: d, ConfiguredDays: d})
	}
	return p
}

// ReadRetention is the policy with each table's retention as the table
// states it, or as configured, with the reason, when the tables cannot be
// read. conn nil, with connErr, means ClickHouse was not reachable.
func ReadRetention(ctx context.Context, conn driver.Conn, connErr error, sc store.SchemaConfig, life Lifetimes) RetentionPolicy {
	p := ConfiguredRetention(sc, life)
	if conn == nil {
		p.Why = "ClickHouse not reachable: " + connErr.Error()
		return p
	}
	read, err := store.ReadRetention(ctx, conn, sc)
	if err != nil {
		p.Why = err.Error()
		if errors.Is(err, store.ErrNoSchema) {
			p.Why = "the tables do not exist yet"
		}
		return p
	}
	p.Source = SourceTables
	for i, r := range read {
		p.Tables[i].Days = int(r.TTL / (24 * time.Hour))
	}
	return p
}

// RetentionRow is one kind of data, where it is kept and how long.
type RetentionRow struct {
	Data  string        // e.g. "Pseudonymised requests"
	Where string        // e.g. "ClickHouse vakt.requests"
	Keep  time.Duration // 0: not kept at all
	Note  string        // how the limit is enforced
}

// MarshalJSON writes Keep for people ("30d", "15m") and in seconds.
func (r RetentionRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Data        string  `json:"data"`
		Where       string  `json:"where"`
		Keep        string  `json:"keep"`
		KeepSeconds float64 `json:"keep_seconds"`
		Note        string  `json:"note,omitempty"`
	}{r.Data, r.Where, ShortDuration(r.Keep), r.Keep.Seconds(), r.Note})
}

// ShortDuration writes a duration in its largest whole unit: 30d, 15m, 36h.
func ShortDuration(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d <= 0:
		return "0"
	case d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

var tableLabels = map[string]string{
	store.RequestsTable:     "Pseudonymised requests",
	store.ClientsTable:      "Hourly activity per pseudonymous client",
	store.HealthTable:       "Per-minute site health (no client ids)",
	store.SignalsTable:      "Hourly threat signals per pseudonymous client",
	store.PathsTable:        "Daily statistics per page (no client ids)",
	store.PathsWeeklyTable:  "Weekly statistics per page (no client ids)",
	store.HealthHourlyTable: "Hourly site health (no client ids)",
	store.SourcesTable:      "Daily requests per country, network operator and browser (no client ids)",
	store.SignalRowsTable:   "Pseudonymised requests with a security warning",
	store.EpochsTable:       "Requests per salt epoch (no client ids)",
	store.RuleResultsTable:  "Threat findings per salt epoch, kept for reports",
}

// Rows lists the policy a row per kind of data, for the dashboard; err
// says why the tables' retention is the configuration's.
func (p RetentionPolicy) Rows() ([]RetentionRow, error) {
	out := []RetentionRow{
		{Data: "Raw events (with IPs)", Where: "NATS stream " + bus.RawStream + ", memory only", Keep: p.RawIPMaxAge,
			Note: "deleted once pseudonymised; at most this old"},
		{Data: "Salts", Where: "NATS KV bucket " + bus.SaltBucket, Keep: p.SaltEpoch + p.SaltDestroys,
			Note: "one per epoch of " + durationWords(p.SaltEpoch) + ", destroyed " + durationWords(p.SaltDestroys) + " after the epoch ends"},
		{Data: "Pseudonymised events in transit", Where: "NATS stream " + bus.EventsStream, Keep: p.EventsMaxAge,
			Note: "deleted once stored; at most this old while the store is down"},
	}
	for _, t := range p.Tables {
		r := RetentionRow{Data: cmp.Or(tableLabels[t.Table], t.Table), Where: "ClickHouse " + p.Database + "." + t.Table,
			Keep: time.Duration(t.Days) * 24 * time.Hour,
			Note: "TTL by whole days (" + t.ConfigKey + "): rows live up to one day longer"}
		if t.Days != t.ConfiguredDays {
			r.Note = fmt.Sprintf("%s asks for %s; the table changes at the next start or with vakt migrate", t.ConfigKey, daysWords(t.ConfiguredDays))
		}
		out = append(out, r)
	}
	if p.Source != SourceTables {
		return out, fmt.Errorf("table retention from the configuration: %s", p.Why)
	}
	return out, nil
}

// descriptions say in plain words what each table holds, and from when
// its period counts.
var descriptions = map[string]struct{ what, from string }{
	store.RequestsTable: {
		"Request records: the time, the website and page requested, the response (status, size, duration), " +
			"the browser's self-description, the referring page, country and network, and a pseudonymous " +
			"client identifier in place of the IP address.", ""},
	store.ClientsTable: {
		"Hourly activity per pseudonymous client identifier: numbers of requests and errors, distinct pages, " +
			"request methods and security warnings.", " after the client's last request in that hour"},
	store.SignalsTable: {
		"Hourly counts of security warnings per pseudonymous client identifier (failed logins, probes for " +
			"administration pages and sensitive files, errors), read by the threat rules.", " after that hour"},
	store.SignalRowsTable: {
		"A copy of the request records that carry a security warning (errors, failed logins, probes, " +
			"attack patterns, tools' browser self-descriptions) with fewer fields, ordered by pseudonymous client " +
			"identifier for the threat rules.", ""},
	store.PathsTable: {
		"Daily statistics of each page of each website with no client identifiers: numbers of requests " +
			"and server errors, and response times.", " after that day"},
	store.PathsWeeklyTable: {
		"The daily statistics of each page summed by week (Monday to Sunday): numbers of requests and " +
			"server errors, and response times, with no client identifiers.", " after the week's first day"},
	store.SourcesTable: {
		"Daily numbers of requests to each website per country, network operator (autonomous system) " +
			"and browser self-description, with no client identifiers.", " after that day"},
	store.EpochsTable: {
		"Numbers of requests per website, day and pseudonymisation period, with the times of the first " +
			"and last, and no client identifiers.", " after the period's last request"},
	store.RuleResultsTable: {
		"The findings of threat rules that judge each pseudonymisation period on its own (pseudonymous " +
			"client or network identifier, numbers of requests and warnings), kept so that reports over many " +
			"days need not evaluate the rules again; deleted with a client's data on erasure.", " after the period's last request"},
	store.HealthHourlyTable: {
		"Hourly statistics of each website with no client identifiers: numbers of requests by response " +
			"class, bytes sent and response times.", ""},
	store.HealthTable: {
		"Per-minute statistics of each website with no client identifiers: numbers of requests by response " +
			"class, bytes sent and response times.", ""},
}

// Write writes the policy as `vakt retention --format` asks: text (or
// "") or json.
func (p RetentionPolicy) Write(format string, out io.Writer) error {
	switch format {
	case "", "text":
		p.WriteText(out)
		return nil
	case output.JSON:
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	return fmt.Errorf("--format %q: use text or json", format)
}

// WriteText writes the policy in plain words, ready to quote in a privacy
// policy.
func (p RetentionPolicy) WriteText(w io.Writer) {
	src := "read from the tables of ClickHouse database " + p.Database
	if p.Source != SourceTables {
		src = "from the configuration (" + p.Why + ")"
	}
	fmt.Fprintf(w, "Retention policy, %s:\n\n", src)
	for _, t := range p.Tables {
		d := descriptions[t.Table]
		kept := "Kept for " + daysWords(t.Days) + d.from + ", then deleted automatically."
		if t.Days == 0 {
			kept = "Its table has a TTL vakt did not set: see SHOW CREATE TABLE " + p.Database + "." + t.Table + "."
		}
		fmt.Fprintf(w, "- %s %s\n", d.what, kept)
	}
	fmt.Fprintf(w, "- IP addresses are never stored in the database. They are held in memory only, for at most %s, while they are replaced by pseudonymous identifiers.\n",
		durationWords(p.RawIPMaxAge))
	fmt.Fprintf(w, "- The secret key that turns an IP address into a pseudonymous identifier changes every %s and is destroyed %s after its period ends. From then on no one, including us, can link an identifier to an IP address.\n",
		durationWords(p.SaltEpoch), durationWords(p.SaltDestroys))
	fmt.Fprintln(w, "\nDeletion happens by whole days, so data may remain up to one day longer than stated.")
	for _, t := range p.Tables {
		if t.Days != t.ConfiguredDays {
			fmt.Fprintf(w, "Note: %s is set to %s, but %s.%s still keeps %s; the table changes at vakt's next start or with vakt migrate.\n",
				t.ConfigKey, daysWords(t.ConfiguredDays), p.Database, t.Table, daysWords(t.Days))
		}
	}
}

// daysWords says n days, with months or years for long periods.
func daysWords(n int) string { return store.DaysWords(n) }

// durationWords says a stage's duration in words: "15 minutes", "24 hours".
func durationWords(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0 && d > 48*time.Hour:
		return unit(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	case d >= time.Second:
		return unit(int64(d.Round(time.Second)/time.Second), "second")
	}
	return strings.TrimSpace(d.String())
}
