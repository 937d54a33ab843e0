package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/store"
)

// Sources of a retention policy.
const (
	SourceTables = "tables"        // TTLs read from the ClickHouse tables
	SourceConfig = "configuration" // the tables were not reachable
)

// RetentionPolicy is how long vakt keeps each kind of data.
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
	RawIPMaxAge  time.Duration `json:"-"`
	SaltEpoch    time.Duration `json:"-"`
	SaltDestroys time.Duration `json:"-"`
}

// MarshalJSON writes the durations in seconds.
func (p RetentionPolicy) MarshalJSON() ([]byte, error) {
	type plain RetentionPolicy
	return json.Marshal(struct {
		plain
		RawIPMaxAge  int64 `json:"raw_ip_max_age_seconds"`
		SaltEpoch    int64 `json:"salt_epoch_seconds"`
		SaltDestroys int64 `json:"salt_destroyed_after_epoch_seconds"`
	}{plain(p), int64(p.RawIPMaxAge / time.Second), int64(p.SaltEpoch / time.Second), int64(p.SaltDestroys / time.Second)})
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

// ReadRetention reads the retention from the tables when ClickHouse is
// reachable and the tables exist, and from the configuration otherwise.
func ReadRetention(ctx context.Context, cfg config.Config, log *slog.Logger) RetentionPolicy {
	sc := schemaConfig(cfg)
	p := RetentionPolicy{
		Source:       SourceConfig,
		Database:     cfg.ClickHouse.Database,
		RawIPMaxAge:  cfg.Streams.RawMaxAge,
		SaltEpoch:    cfg.Pseudonymize.EpochLength,
		SaltDestroys: cfg.Pseudonymize.Grace,
	}
	configured := store.ConfiguredRetention(sc)
	for _, c := range configured {
		d := int(c.TTL / (24 * time.Hour))
		p.Tables = append(p.Tables, TableRetention{Table: c.Table, ConfigKey: c.ConfigKey, Days: d, ConfiguredDays: d})
	}
	eng, err := OpenEngines(ctx, cfg, Need{ClickHouse: true}, "retention", log)
	if err != nil {
		p.Why = "ClickHouse not reachable: " + err.Error()
		return p
	}
	defer eng.Close()
	read, err := store.ReadRetention(ctx, eng.CH, sc)
	if err != nil {
		p.Why = err.Error()
		if errors.Is(err, store.ErrNoSchema) {
			p.Why = "the tables do not exist yet"
		}
		return p
	}
	p.Source, p.Why = SourceTables, ""
	for i, r := range read {
		p.Tables[i].Days = int(r.TTL / (24 * time.Hour))
	}
	return p
}

// RetentionCommand is `vakt retention`.
func RetentionCommand(ctx context.Context, cfg config.Config, format string, log *slog.Logger, out io.Writer) error {
	p := ReadRetention(ctx, cfg, log)
	switch format {
	case "", "text":
		p.WriteText(out)
		return nil
	case FormatJSON:
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	return fmt.Errorf("--format %q: use text or json", format)
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
	store.HealthTable: {
		"Per-minute statistics of each website with no client identifiers: numbers of requests by response " +
			"class, bytes sent and response times.", ""},
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

// days is a whole number of days as text.
func days(d time.Duration) string { return daysWords(int(d / (24 * time.Hour))) }

// daysWords says n days, with months or years for long periods.
func daysWords(n int) string {
	s := fmt.Sprintf("%d days", n)
	if n == 1 {
		s = "1 day"
	}
	switch {
	case n >= 365 && n%365 == 0:
		years := n / 365
		if years == 1 {
			return s + " (1 year)"
		}
		return fmt.Sprintf("%s (%d years)", s, years)
	case n >= 60:
		return fmt.Sprintf("%s (about %d months)", s, int(math.Round(float64(n)/30.44)))
	}
	return s
}

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
