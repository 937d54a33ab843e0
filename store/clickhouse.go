package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Protocols ClickHouseConfig.Protocol accepts.
const (
	// ProtocolNative is ClickHouse's TCP protocol (port 9000/9440).
	ProtocolNative = "native"
	// ProtocolHTTP is the HTTP interface (port 8123/8443): the default,
	// because it is the protocol of the embedded endpoint, so the one every
	// test drives against the real engine (README, "Why HTTP").
	ProtocolHTTP = "http"
)

// DefaultDatabase is the database vakt's tables live in.
const DefaultDatabase = "vakt"

// ClickHouseConfig says how to reach ClickHouse.
type ClickHouseConfig struct {
	// Addr lists host:port of the servers (8123/8443 HTTP, 9000/9440 native).
	Addr []string `yaml:"addr"`
	// Protocol is "http" (default) or "native".
	Protocol string `yaml:"protocol"`
	// Database holds vakt's tables (default "vakt"). Sessions always start
	// in "default" because this one may not exist before Migrate; every
	// statement qualifies its table names instead.
	Database string `yaml:"database"`
	Username string `yaml:"username"` // default "default"
	Password string `yaml:"password"`
	// TLS turns on TLS, with the system's roots unless CAFile is set.
	TLS bool `yaml:"tls"`
	// CAFile (PEM) verifies the server's certificate; setting it turns TLS
	// on. CertFile and KeyFile are a client certificate, for servers that
	// ask for one.
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// DialTimeout bounds connecting and the initial ping (default 10s).
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// MaxOpenConns bounds the connection pool (default 8).
	MaxOpenConns int `yaml:"max_open_conns"`
}

func (c ClickHouseConfig) withDefaults() ClickHouseConfig {
	if c.Protocol == "" {
		c.Protocol = ProtocolHTTP
	}
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.Username == "" {
		c.Username = "default"
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.MaxOpenConns == 0 {
		c.MaxOpenConns = 8
	}
	return c
}

// HTTP reports whether the connection speaks ClickHouse's HTTP interface.
func (c ClickHouseConfig) HTTP() bool { return c.withDefaults().Protocol == ProtocolHTTP }

// Validate reports the first invalid setting, naming its key and the fix.
// Unset fields are valid: they take their defaults.
func (c ClickHouseConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if len(c.Addr) == 0 {
		errs = append(errs, errors.New("clickhouse.addr: no address; set host:port of a ClickHouse server (8123 http, 9000 native)"))
	}
	for _, a := range c.Addr {
		if a == "" || !strings.Contains(a, ":") {
			errs = append(errs, fmt.Errorf("clickhouse.addr: %q is not host:port", a))
		}
	}
	if c.Protocol != ProtocolNative && c.Protocol != ProtocolHTTP {
		errs = append(errs, fmt.Errorf("clickhouse.protocol: %q is unknown; use %q or %q", c.Protocol, ProtocolNative, ProtocolHTTP))
	}
	if !validIdent(c.Database) {
		errs = append(errs, fmt.Errorf("clickhouse.database: %q is not a plain identifier; use letters, digits and '_'", c.Database))
	}
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("clickhouse.dial_timeout: %s is negative; use e.g. 10s", c.DialTimeout))
	}
	if c.MaxOpenConns < 0 {
		errs = append(errs, fmt.Errorf("clickhouse.max_open_conns: %d is negative; use e.g. 8", c.MaxOpenConns))
	}
	return errors.Join(errs...)
}

// Open connects to ClickHouse and pings it. The connection is safe for
// concurrent use; close it when done.
func Open(ctx context.Context, cfg ClickHouseConfig) (driver.Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	opts := &clickhouse.Options{
		Addr: cfg.Addr,
		Auth: clickhouse.Auth{
			// Not cfg.Database: it may not exist yet (Migrate creates it),
			// and a session in a missing database fails every query.
			Database: "default",
			Username: cfg.Username,
			Password: cfg.Password,
		},
		DialTimeout:     cfg.DialTimeout,
		MaxOpenConns:    cfg.MaxOpenConns,
		MaxIdleConns:    cfg.MaxOpenConns,
		ConnMaxLifetime: time.Hour,
		ClientInfo: clickhouse.ClientInfo{
			Products: []struct{ Name, Version string }{{Name: "vakt", Version: "store"}},
		},
	}
	switch cfg.Protocol {
	case ProtocolHTTP:
		opts.Protocol = clickhouse.HTTP
		// The HTTP endpoint is the embedded engine on loopback: compressing
		// would only cost CPU on both ends.
	default:
		opts.Protocol = clickhouse.Native
		opts.Compression = &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
	}
	tc, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	opts.TLS = tc
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s %v: %w", cfg.Protocol, cfg.Addr, err)
	}
	pctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	if err := conn.Ping(pctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("clickhouse %s %v: ping: %w", cfg.Protocol, cfg.Addr, err)
	}
	return conn, nil
}

// tlsConfig is nil when TLS is off.
func (c ClickHouseConfig) tlsConfig() (*tls.Config, error) {
	if !c.TLS && c.CAFile == "" && c.CertFile == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("clickhouse.ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("clickhouse.ca_file %s: no PEM certificate in it", c.CAFile)
		}
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("clickhouse.cert_file / key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// validIdent limits database names to plain identifiers, since they are
// spliced into DDL (ClickHouse cannot bind identifiers as parameters).
func validIdent(s string) bool { return identRE.MatchString(s) }

// WithHint adds the fix for the usual connection failures.
func WithHint(err error) error {
	var ex *clickhouse.Exception
	switch {
	case errors.As(err, &ex) && ex.Code == 516, strings.Contains(err.Error(), "AUTHENTICATION_FAILED"):
		return fmt.Errorf("%w (check clickhouse.user and clickhouse.password(_file))", err)
	case strings.Contains(err.Error(), "x509:") || strings.Contains(err.Error(), "certificate"):
		return fmt.Errorf("%w (set clickhouse.ca_file to the CA that signed the server's certificate)", err)
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"),
		strings.Contains(err.Error(), "first record does not look like a TLS handshake"):
		return fmt.Errorf("%w (the server does not speak TLS there: unset clickhouse.tls and clickhouse.ca_file, or use its TLS port)", err)
	}
	return err
}
