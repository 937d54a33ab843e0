package analyze

import (
	"context"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/internal/config"
)

// AlertsConfig is the alert loop's configuration: the alerts section, the
// database, rules.dir and the buckets' replicas.
func AlertsConfig(cfg config.Config) Config {
	a := cfg.Alerts
	return Config{
		Database: cfg.ClickHouse.Database, RuleDirs: []string{cfg.Rules.Dir}, Interval: a.Interval.D(),
		WebhookURL: a.WebhookURL, WebhookTimeout: a.WebhookTimeout.D(), WebhookRetries: a.WebhookRetries,
		BucketReplicas: cfg.Streams.Replicas,
	}
}

// lifetimes are the stages' lifetimes the retention policy states: the
// salt schedule the pseudonymiser uses, the streams' maximum ages.
func lifetimes(cfg config.Config) Lifetimes {
	pc := cfg.Pseudonymize.WithDefaults()
	return Lifetimes{
		RawIPMaxAge: cfg.Streams.RawMaxAge, EventsMaxAge: cfg.Streams.EventsMaxAge,
		SaltEpoch: pc.EpochLength, SaltDestroys: pc.Grace,
	}
}

// RetentionOf is ReadRetention for the configuration cfg: the tables it
// sets up and the lifetimes of its stages. conn is nil when ClickHouse is
// not reachable (connErr).
func RetentionOf(ctx context.Context, conn driver.Conn, connErr error, cfg config.Config) RetentionPolicy {
	return ReadRetention(ctx, conn, connErr, cfg.Schema(), lifetimes(cfg))
}
