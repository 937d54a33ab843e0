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
	if c.Streams.AckWait > 0 {
		s.AckWait = c.Streams.AckWait.D()
	}
	return s
}

func clickHouseConfig(c config.Config) (store.ClickHouseConfig, error) {
	user := c.ClickHouse.User
	password, err := secret(c.ClickHouse.Password, c.ClickHouse.PasswordFile, "clickhouse.password_file")
	if err == nil && c.EmbeddedClickHouse() {
		// vakt's own account of the embedded endpoint, generated if need be.
		user, password, err = embeddedAccount(c, false)
	}
	if err != nil {
		return store.ClickHouseConfig{}, err
	}
	return store.ClickHouseConfig{
		Addr:     c.ClickHouse.Addr,
		Protocol: c.ClickHouse.Protocol,
		Database: c.ClickHouse.Database,
		Username: user,
		Password: password,
		TLS:      c.ClickHouse.TLS,
		CAFile:   c.ClickHouse.CAFile,
		CertFile: c.ClickHouse.CertFile,
		KeyFile:  c.ClickHouse.KeyFile,
	}, nil
}

func schemaConfig(c config.Config) store.SchemaConfig {
	return store.SchemaConfig{
		Database:         c.ClickHouse.Database,
		Cluster:          c.ClickHouse.Cluster,
		RequestsTTL:      c.Retention.Requests.D(),
		ClientRollupsTTL: c.Retention.ClientRollups.D(),
		HealthRollupsTTL: c.Retention.HealthRollups.D(),
	}
}

func storeConfig(c config.Config, ch store.ClickHouseConfig) store.Config {
	return store.Config{
		ClickHouse:    ch,
		Schema:        schemaConfig(c),
		BatchRows:     c.Store.BatchRows,
		BatchBytes:    c.Store.BatchBytes,
		FlushInterval: c.Store.FlushInterval.D(),
		Workers:       c.Store.Workers,
		// The final flush of a stopping vakt.
		ShutdownTimeout: c.ShutdownTimeout.D(),
	}
}

func pseudonymizeConfig(c config.Config) pseudonymize.Config {
	p := c.Pseudonymize
	var sites map[string]pseudonymize.SitePolicy
	if len(p.Sites) > 0 {
		sites = make(map[string]pseudonymize.SitePolicy, len(p.Sites))
		for name, s := range p.Sites {
			sites[name] = pseudonymize.SitePolicy{QueryPolicy: pseudonymize.QueryPolicy(s.QueryPolicy), Hosts: s.Hosts}
		}
	}
	return pseudonymize.Config{
		EpochLength:    p.Epoch.D(),
		Grace:          p.Grace.D(),
		Workers:        p.Workers,
		QueryPolicy:    pseudonymize.QueryPolicy(p.QueryPolicy),
		Sites:          sites,
		TrustedProxies: p.TrustedProxies,
		GeoIP:          pseudonymize.GeoIPConfig{CountryDB: p.GeoIP.CountryDB, ASNDB: p.GeoIP.ASNDB, Reload: p.GeoIP.Reload.D()},
	}
}
