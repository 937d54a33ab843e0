package chserver_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/internal/chserver"
	"github.com/vakt-dev/vakt/internal/testenv"
)

var (
	srv     *chserver.Server
	dataDir string
)

// The endpoint's accounts in these tests.
const (
	writer         = "vakt"
	writerPassword = "w-s3cret"
)

func TestMain(m *testing.M) {
	lib := testenv.MainCHDB()
	dir, err := os.MkdirTemp("", "chserver-test")
	if err != nil {
		panic(err)
	}
	dataDir = dir
	srv, err = chserver.Start(context.Background(), chserver.Config{
		DataDir: dir, Listen: "127.0.0.1:0", LibPath: lib,
		// Small limits, so the tests can reach them.
		MaxQueryMemory: 512 << 20, MaxConcurrentQueries: 2, QueueWait: 500 * time.Millisecond,
		BodyIdleTimeout: 2 * time.Second,
		Users: map[string]chserver.User{
			writer:   {Password: writerPassword},
			"reader": {Password: "s3cret", ReadOnly: true},
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	srv.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

func open(t *testing.T, user, password string) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:     []string{srv.Addr()},
		Protocol: clickhouse.HTTP,
		Auth:     clickhouse.Auth{Username: user, Password: password},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Ping(context.Background()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	return conn
}

func get(t *testing.T, query string, extra url.Values) (*http.Response, string) {
	t.Helper()
	v := url.Values{"query": {query}}
	for k, vs := range extra {
		v[k] = vs
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/?"+v.Encode(), nil)
	req.SetBasicAuth(writer, writerPassword)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestCurlStyleQueries(t *testing.T) {
	tests := []struct {
		name, query string
		params      url.Values
		status      int
		body        string // expected body, or a substring for errors
		code        string // X-ClickHouse-Exception-Code
	}{
		{"select one", "SELECT 1", nil, 200, "1\n", ""},
		{"default format is TSV", "SELECT 'a', 2", nil, 200, "a\t2\n", ""},
		{"default_format", "SELECT 1 AS x", url.Values{"default_format": {"JSONEachRow"}}, 200, `{"x":1}` + "\n", ""},
		{"format clause wins", "SELECT 1 AS x FORMAT CSVWithNames", url.Values{"default_format": {"JSONEachRow"}}, 200, "\"x\"\n1\n", ""},
		{"setting applies", "SELECT getSetting('max_threads')", url.Values{"max_threads": {"3"}}, 200, "3\n", ""},
		{"bound parameter", "SELECT {n:UInt8} * 2", url.Values{"param_n": {"21"}}, 200, "42\n", ""},
		{"empty parameter", "SELECT {s:String} = ''", url.Values{"param_s": {""}}, 200, "1\n", ""},
		{"unknown table", "SELECT * FROM no_such_table", nil, 500, "UNKNOWN_TABLE", "60"},
		{"syntax error", "SELEKT 1", nil, 500, "Syntax error", "62"},
		{"unknown setting", "SELECT 1", url.Values{"no_such_setting": {"1"}}, 500, "Unknown setting", "115"},
		{"GET is read-only", "CREATE TABLE t_get (x UInt8) ENGINE = Memory", nil, 403, "READONLY", "164"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, body := get(t, tc.query, tc.params)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, body)
			}
			if tc.code == "" && body != tc.body {
				t.Fatalf("body %q, want %q", body, tc.body)
			}
			if tc.code != "" {
				if !strings.Contains(body, tc.body) {
					t.Fatalf("body %q does not mention %q", body, tc.body)
				}
				if got := res.Header.Get("X-ClickHouse-Exception-Code"); got != tc.code {
					t.Fatalf("exception code %q, want %q", got, tc.code)
				}
			}
		})
	}
}

func TestPostInsertFormatsAndGzip(t *testing.T) {
	post := func(q string, body []byte, gz bool) (int, string) {
		t.Helper()
		var rd io.Reader = bytes.NewReader(body)
		if gz {
			var b bytes.Buffer
			w := gzip.NewWriter(&b)
			w.Write(body)
			w.Close()
			rd = &b
		}
		u := srv.URL() + "/"
		if q != "" {
			u += "?query=" + url.QueryEscape(q)
		}
		req, _ := http.NewRequest(http.MethodPost, u, rd)
		if gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
		req.SetBasicAuth(writer, writerPassword)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	steps := []struct {
		query string
		body  string
		gz    bool
	}{
		{"", "CREATE TABLE post_t (id UInt32, s String) ENGINE = MergeTree ORDER BY id", false},
		{"INSERT INTO post_t FORMAT CSV", "1,a\n2,b\n", false},                      // data after FORMAT in the body
		{"", "INSERT INTO post_t FORMAT TabSeparated\n3\tc\n4\td\n", false},         // statement and data in the body
		{"INSERT INTO post_t (id, s) FORMAT JSONEachRow", `{"id":5,"s":"e"}`, true}, // gzip body
		{"INSERT INTO post_t VALUES", "(6, 'f')", false},                            // query + body concatenated
	}
	for _, s := range steps {
		if code, body := post(s.query, []byte(s.body), s.gz); code != 200 {
			t.Fatalf("%q: status %d: %s", s.query+s.body, code, body)
		}
	}
	if _, body := get(t, "SELECT groupArray(s) FROM (SELECT s FROM post_t ORDER BY id)", nil); body != "['a','b','c','d','e','f']\n" {
		t.Fatalf("rows: %q", body)
	}
}

func TestClickHouseGoDDLBatchAndTypedReads(t *testing.T) {
	ctx := context.Background()
	conn := open(t, writer, writerPassword)
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS go_test"); err != nil {
		t.Fatal(err)
	}
	err := conn.Exec(ctx, `CREATE TABLE go_test.typed (
		ts DateTime64(3, 'UTC'), id UInt64, site LowCardinality(String), path String,
		status UInt16, latency Nullable(Float32), ip IPv6, tags Array(String)
	) ENGINE = MergeTree PARTITION BY toDate(ts) ORDER BY (site, ts)
	TTL toDateTime(ts) + INTERVAL 30 DAY SETTINGS ttl_only_drop_parts = 1`)
	if err != nil {
		t.Fatalf("DDL: %v", err)
	}
	const rows = 200_000
	base := time.Now().UTC().Truncate(time.Millisecond)
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO go_test.typed")
	if err != nil {
		t.Fatalf("prepare batch: %v", err)
	}
	var wantStatusSum uint64
	for i := 0; i < rows; i++ {
		var lat *float32
		if i%3 != 0 {
			v := float32(i%1000) / 1000
			lat = &v
		}
		status := uint16(200 + (i%5)*100)
		wantStatusSum += uint64(status)
		err := batch.Append(base.Add(time.Duration(i)*time.Millisecond), uint64(i), fmt.Sprintf("site-%d", i%7),
			fmt.Sprintf("/p/%d", i), status, lat, "2001:db8::1", []string{"a", fmt.Sprint(i % 2)})
		if err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	start := time.Now()
	if err := batch.Send(); err != nil {
		t.Fatalf("send: %v", err)
	}
	t.Logf("200k-row batch insert over HTTP: %v", time.Since(start))

	var count, statusSum uint64
	var nulls uint64
	if err := conn.QueryRow(ctx, "SELECT count(), sum(status), countIf(latency IS NULL) FROM go_test.typed").Scan(&count, &statusSum, &nulls); err != nil {
		t.Fatal(err)
	}
	if count != rows || statusSum != wantStatusSum || nulls != (rows+2)/3 {
		t.Fatalf("count %d sum %d nulls %d; want %d %d %d", count, statusSum, nulls, rows, wantStatusSum, (rows+2)/3)
	}

	var (
		ts      time.Time
		id      uint64
		site    string
		path    string
		status  uint16
		latency *float32
		tags    []string
	)
	row := conn.QueryRow(ctx, "SELECT ts, id, site, path, status, latency, tags FROM go_test.typed WHERE id = {id:UInt64}",
		clickhouse.Named("id", "12345"))
	if err := row.Scan(&ts, &id, &site, &path, &status, &latency, &tags); err != nil {
		t.Fatal(err)
	}
	if !ts.Equal(base.Add(12345*time.Millisecond)) || id != 12345 || site != "site-4" || path != "/p/12345" ||
		status != 200 || latency != nil || len(tags) != 2 || tags[1] != "1" {
		t.Fatalf("row: %v %d %q %q %d %v %v", ts, id, site, path, status, latency, tags)
	}

	rowsIt, err := conn.Query(ctx, "SELECT site, count() AS n FROM go_test.typed GROUP BY site ORDER BY site")
	if err != nil {
		t.Fatal(err)
	}
	defer rowsIt.Close()
	var total uint64
	for rowsIt.Next() {
		var s string
		var n uint64
		if err := rowsIt.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != rows {
		t.Fatalf("group by total %d", total)
	}
}

func TestClickHouseGoErrorCarriesMessage(t *testing.T) {
	conn := open(t, writer, writerPassword)
	err := conn.Exec(context.Background(), "SELECT * FROM go_test.does_not_exist")
	if err == nil {
		t.Fatal("no error")
	}
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		t.Fatalf("error %T %v is not a *clickhouse.Exception", err, err)
	}
	if ex.Code != 60 || !strings.Contains(ex.Message, "does_not_exist") {
		t.Fatalf("exception code %d message %q", ex.Code, ex.Message)
	}
}

func TestUsersAndReadOnly(t *testing.T) {
	ctx := context.Background()
	reader := open(t, "reader", "s3cret")
	var one uint8
	if err := reader.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("read-only user cannot read: %v", err)
	}
	err := reader.Exec(ctx, "CREATE TABLE ro_t (x UInt8) ENGINE = Memory")
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || ex.Code != 164 {
		t.Fatalf("read-only user wrote: %v", err)
	}
	bad, err := clickhouse.Open(&clickhouse.Options{Addr: []string{srv.Addr()}, Protocol: clickhouse.HTTP,
		Auth: clickhouse.Auth{Username: "reader", Password: "wrong"}})
	if err == nil {
		err = bad.Ping(ctx)
		bad.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "Authentication failed") {
		t.Fatalf("wrong password accepted or unclear: %v", err)
	}
}
