package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/internal/testenv"
)

// startSecureClickHouse serves the ClickHouse engine behind TLS (a
// terminating proxy, as a load balancer or stunnel in front of a server
// would be) and accepts only user vakt_writer with the given password.
func startSecureClickHouse(t *testing.T, password string) (tlsAddr, plainAddr, caFile string) {
	t.Helper()
	dir := t.TempDir()
	srv := testenv.RunEngine(t, testenv.EngineDataDir(filepath.Join(dir, "clickhouse")), testenv.EngineAccount("vakt_writer", password))
	caFile, cert := writeTLSFiles(t, dir)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, err := net.Dial("tcp", srv.Addr())
				if err != nil {
					return
				}
				defer b.Close()
				go io.Copy(b, c)
				io.Copy(c, b)
			}()
		}
	}()
	return ln.Addr().String(), srv.Addr(), caFile
}

// TestStoreOverClickHouseTLSWithCredentials imports through a store that
// reaches ClickHouse over TLS with a user and a password file: every line
// is stored, and the password appears nowhere in vakt's output. A wrong
// password, an untrusted certificate and TLS to a plain-text port each
// fail at once with the key to fix.
func TestStoreOverClickHouseTLSWithCredentials(t *testing.T) {
	testenv.CHDBLib(t)
	const password = "ch-s3cret-pass"
	tlsAddr, plainAddr, caFile := startSecureClickHouse(t, password)
	work := t.TempDir()
	tl := writeTestLog(t, work, 2_000, 300)
	pwFile := filepath.Join(work, "ch-password")
	os.WriteFile(pwFile, []byte(password+"\n"), 0o600)
	badPw := filepath.Join(work, "bad-password")
	os.WriteFile(badPw, []byte("wrong-guess\n"), 0o600)

	conf := func(name, clickhouse string) string {
		f := filepath.Join(work, name)
		c := fmt.Sprintf("nats: {listen: \"127.0.0.1:0\"}\nhttp: {listen: \"\"}\nalerts: {enabled: false}\nclickhouse:\n  user: vakt_writer\n%s", clickhouse)
		if err := os.WriteFile(f, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	imp := func(cfg, data string) (string, string, time.Duration, error) {
		start := time.Now()
		stdout, stderr, err := vakt(t, "import", "--config", cfg, "--data-dir", filepath.Join(work, data), "--site", "tls.example", tl.path)
		return stdout, stderr, time.Since(start), err
	}

	good := conf("good.yaml", fmt.Sprintf("  addr: [%s]\n  ca_file: %s\n  password_file: %s\n", tlsAddr, caFile, pwFile))
	stdout, stderr, _, err := imp(good, "data")
	if err != nil {
		t.Fatalf("import over ClickHouse TLS: %v\n%s\n%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout, fmt.Sprintf("stored:      %d", tl.valid)) {
		t.Fatalf("not everything stored over TLS:\n%s", stdout)
	}
	if strings.Contains(stdout+stderr, password) {
		t.Fatal("the ClickHouse password appears in vakt's output")
	}
	if rows := queryCount(t, plainAddr, password); rows != tl.valid {
		t.Fatalf("ClickHouse holds %d rows, want %d", rows, tl.valid)
	}

	for _, tc := range []struct {
		name, clickhouse, want string
		secret                 string // must not be echoed
	}{
		{"wrong password", fmt.Sprintf("  addr: [%s]\n  ca_file: %s\n  password_file: %s\n", tlsAddr, caFile, badPw),
			"check clickhouse.user and clickhouse.password(_file)", "wrong-guess"},
		{"untrusted certificate", fmt.Sprintf("  addr: [%s]\n  tls: true\n  password_file: %s\n", tlsAddr, pwFile),
			"set clickhouse.ca_file", password},
		{"TLS to a plain port", fmt.Sprintf("  addr: [%s]\n  ca_file: %s\n  password_file: %s\n", plainAddr, caFile, pwFile),
			"the server does not speak TLS there", password},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, took, err := imp(conf(strings.ReplaceAll(tc.name, " ", "_")+".yaml", tc.clickhouse), "data-"+strings.ReplaceAll(tc.name, " ", "_"))
			t.Logf("%s (%s): %s", tc.name, took.Round(time.Millisecond), strings.TrimSpace(stderr))
			if err == nil {
				t.Fatal("import succeeded")
			}
			if took > 20*time.Second {
				t.Errorf("took %s to fail", took)
			}
			if !strings.Contains(stderr, "clickhouse") || !strings.Contains(stderr, tc.want) {
				t.Errorf("unclear error, want %q in:\n%s", tc.want, stderr)
			}
			if strings.Contains(stderr, tc.secret) {
				t.Error("a password is echoed in the error")
			}
		})
	}
}

// queryCount counts vakt.requests directly on the engine's endpoint.
func queryCount(t *testing.T, addr, password string) int {
	t.Helper()
	conn := openCHAs(t, addr, "vakt_writer", password)
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM vakt.requests").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func openCHAs(t *testing.T, addr, user, password string) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Protocol: clickhouse.HTTP,
		Auth: clickhouse.Auth{Username: user, Password: password}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
