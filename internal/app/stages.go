package app

import (
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/pseudonymize"
	"github.com/vakt-dev/vakt/store"
)

// The functions below map the one configuration file onto each stage's own
// config struct; the stages know nothing of the file.

func streamConfig(c config.Config) bus.StreamConfig {
	s := bus.DefaultStreamConfig()
	s.RawMaxAge = c.Streams.RawMaxAge.D()
	s.RawMaxBytes = c.Streams.RawMaxBytes
	s.EventsMaxAge = c.Streams.EventsMaxAge.D()
	s.EventsMaxBytes = c.Streams.EventsMaxBytes
	s.DuplicateWindow = c.Streams.DuplicateWindow.D()
	s.Replicas = c.Streams.Replicas
	return s
}

func clickHouseConfig(c config.Config) (store.ClickHouseConfig, error) {
	password, err := secret(c.ClickHouse.Password, c.ClickHouse.PasswordFile, "clickhouse.password_file")
	if err != nil {
		return store.ClickHouseConfig{}, err
	}
	return store.ClickHouseConfig{
		Addr:     c.ClickHouse.Addr,
		Protocol: c.ClickHouse.Protocol,
		Database: c.ClickHouse.Database,
		Username: c.ClickHouse.User,
		Password: password,
		TLS:      c.ClickHouse.TLS,
	}, nil
}

func schemaConfig(c config.Config) store.SchemaConfig {
	return store.SchemaConfig{Database: c.ClickHouse.Database, RequestsTTL: c.Retention.Requests.D()}
}

func storeConfig(c config.Config, ch store.ClickHouseConfig) store.Config {
	return store.Config{
		ClickHouse:    ch,
		Schema:        schemaConfig(c),
		BatchRows:     c.Store.BatchRows,
		FlushInterval: c.Store.FlushInterval.D(),
		Workers:       c.Store.Workers,
	}
}

func pseudonymizeConfig(c config.Config) pseudonymize.Config {
	return pseudonymize.Config{
		EpochLength: c.Pseudonymize.Epoch.D(),
		Grace:       c.Pseudonymize.Grace.D(),
		Workers:     c.Pseudonymize.Workers,
		QueryPolicy: pseudonymize.QueryPolicy(c.Pseudonymize.QueryPolicy),
	}
}
