// Package grafana holds vakt's Grafana provisioning and dashboards; its test
// runs every panel's SQL on the real engine with the schema vakt creates.
package grafana

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"gopkg.in/yaml.v3"

	"github.com/vakt-dev/vakt/internal/chserver"
	"github.com/vakt-dev/vakt/internal/testenv"
	"github.com/vakt-dev/vakt/store"
)

const pluginType = "grafana-clickhouse-datasource"

// dashboard is the part of a dashboard's JSON the test reads.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string     `json:"name"`
			Query      string     `json:"query"`
			Datasource datasource `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title      string     `json:"title"`
	Type       string     `json:"type"`
	Datasource datasource `json:"datasource"`
	Targets    []struct {
		RefID      string     `json:"refId"`
		RawSQL     string     `json:"rawSql"`
		Datasource datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a row
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// query is one SQL text of a dashboard, where it comes from.
type query struct{ where, sql string }

func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob("dashboards/*.json")
	if err != nil || len(files) < 2 {
		t.Fatalf("dashboards: %v %v", files, err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = d
	}
	return out
}

// queries lists every SQL text of d, checking that each names the
// provisioned data source.
func queries(t *testing.T, file string, d dashboard, uid string) []query {
	t.Helper()
	var out []query
	check := func(where string, ds datasource) {
		if ds.Type != pluginType || ds.UID != uid {
			t.Errorf("%s: data source %+v, want type %s uid %s", where, ds, pluginType, uid)
		}
	}
	for _, v := range d.Templating.List {
		where := fmt.Sprintf("%s variable %s", file, v.Name)
		check(where, v.Datasource)
		out = append(out, query{where, v.Query})
	}
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			check(file+" panel "+p.Title, p.Datasource)
			if len(p.Targets) == 0 {
				t.Errorf("%s panel %q has no query", file, p.Title)
			}
			for _, tg := range p.Targets {
				where := fmt.Sprintf("%s panel %q query %s", file, p.Title, tg.RefID)
				check(where, tg.Datasource)
				out = append(out, query{where, tg.RawSQL})
			}
		}
	}
	walk(d.Panels)
	return out
}

var (
	macroCall = regexp.MustCompile(`\$__(timeFilter|timeFilter_ms|timeInterval|dateFilter)\(([^)]*)\)`)
	leftover  = regexp.MustCompile(`\$__\w+|\$\{?\w+`)
)

// expand substitutes the plugin's macros as its backend does
// (pkg/macros of grafana-clickhouse-datasource) for the range [from, to]
// and interval, and Grafana's variables from vars.
func expand(sql string, from, to time.Time, interval time.Duration, vars map[string]string) (string, error) {
	dt := func(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }
	sql = macroCall.ReplaceAllStringFunc(sql, func(m string) string {
		g := macroCall.FindStringSubmatch(m)
		col := strings.TrimSpace(g[2])
		switch g[1] {
		case "timeFilter":
			return fmt.Sprintf("%s >= %s AND %s <= %s", col, dt(from), col, dt(to))
		case "timeFilter_ms":
			ms := func(t time.Time) string { return fmt.Sprintf("fromUnixTimestamp64Milli(%d)", t.UnixMilli()) }
			return fmt.Sprintf("%s >= %s AND %s <= %s", col, ms(from), col, ms(to))
		case "dateFilter":
			d := func(t time.Time) string { return "toDate('" + t.UTC().Format(time.DateOnly) + "')" }
			return fmt.Sprintf("%s >= %s AND %s <= %s", col, d(from), col, d(to))
		default: // timeInterval
			return fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL %d second)", col, max(int(interval.Seconds()), 1))
		}
	})
	sql = strings.NewReplacer("$__fromTime_ms", fmt.Sprintf("fromUnixTimestamp64Milli(%d)", from.UnixMilli()),
		"$__toTime_ms", fmt.Sprintf("fromUnixTimestamp64Milli(%d)", to.UnixMilli()),
		"$__fromTime", dt(from), "$__toTime", dt(to),
		"$__interval_s", fmt.Sprint(max(int(interval.Seconds()), 1))).Replace(sql)
	for name, v := range vars {
		sql = strings.ReplaceAll(sql, "${"+name+"}", v)
		sql = strings.ReplaceAll(sql, "$"+name, v)
	}
	if m := leftover.FindString(sql); m != "" {
		return "", fmt.Errorf("%s is neither a macro of the plugin the test knows nor a dashboard variable", m)
	}
	return sql, nil
}

func TestProvisionedDataSource(t *testing.T) {
	uid := provisionedUID(t)
	for file, d := range loadDashboards(t) {
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: no uid or title", file)
		}
		if len(queries(t, file, d, uid)) < 5 {
			t.Errorf("%s: fewer than 5 queries", file)
		}
	}
}

func provisionedUID(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("provisioning/datasources/vakt-clickhouse.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type string
			JSONData        map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if f.APIVersion != 1 || len(f.Datasources) != 1 {
		t.Fatalf("provisioning file: %+v", f)
	}
	ds := f.Datasources[0]
	if ds.Type != pluginType || ds.UID == "" || ds.JSONData["protocol"] != "http" || ds.JSONData["port"] != 8123 ||
		ds.JSONData["defaultDatabase"] != "vakt" || ds.JSONData["username"] != "reader" {
		t.Fatalf("data source %+v does not point at vakt's endpoint with the read-only account", ds)
	}
	return ds.UID
}

// TestPanelSQLRunsOnTheEngine runs every panel's and variable's SQL, macros
// expanded, as the read-only account on the embedded engine with the
// schema vakt migrates to and an hour of traffic, for all sites and for
// one: each must succeed, and each must return rows when all sites are
// shown (the seeded traffic has something for every panel).
func TestPanelSQLRunsOnTheEngine(t *testing.T) {
	uid := provisionedUID(t)
	srv := testenv.RunEngine(t, testenv.EngineUsers(map[string]chserver.User{
		"vakt": {Password: "vakt-pw"}, "reader": {Password: "reader-pw", ReadOnly: true}}))
	ctx := t.Context()
	admin := open(t, srv.Addr(), "vakt", "vakt-pw")
	if err := store.Migrate(ctx, admin, store.SchemaConfig{Database: "vakt"}); err != nil {
		t.Fatal(err)
	}
	seed(t, ctx, admin)
	reader := open(t, srv.Addr(), "reader", "reader-pw")

	now := time.Now().UTC()
	from, to := now.Add(-6*time.Hour), now.Add(time.Minute)
	n := 0
	for file, d := range loadDashboards(t) {
		for _, q := range queries(t, file, d, uid) {
			for _, site := range []string{"*", "shop.example"} {
				sql, err := expand(q.sql, from, to, time.Minute, map[string]string{"site": site})
				if err != nil {
					t.Errorf("%s: %v", q.where, err)
					continue
				}
				rows, err := countRows(ctx, reader, sql)
				switch {
				case err != nil:
					t.Errorf("%s (site %s): %v\n%s", q.where, site, err, sql)
				case rows == 0 && site == "*":
					t.Errorf("%s: no rows over seeded traffic\n%s", q.where, sql)
				}
				n++
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d queries ran", n)
	}
}

func open(t *testing.T, addr, user, password string) driver.Conn {
	t.Helper()
	conn, err := store.Open(t.Context(), store.ClickHouseConfig{Addr: []string{addr}, Protocol: store.ProtocolHTTP,
		DialTimeout: 5 * time.Second, Username: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// seed inserts an hour of traffic for two sites: statuses of every class,
// latencies, every threat signal, a scanner with many 404s, countries and
// ASes. The rollups fill from the same insert.
func seed(t *testing.T, ctx context.Context, conn driver.Conn) {
	t.Helper()
	err := conn.Exec(ctx, `INSERT INTO vakt.requests
		(ts, site, client_id, network_id, ip_version, epoch, country, asn, as_org, method, path, query, protocol,
		 status, bytes, referrer, user_agent, host, request_time, upstream_time, flags)
		SELECT now64(3) - toIntervalSecond(number % 3600), ['shop.example', 'blog.example'][number % 2 + 1],
		       number % 97, number % 31, 4, 1, ['SE', 'US', 'DE', ''][number % 4 + 1], [64500, 15169, 3320, 0][number % 4 + 1],
		       ['Example AB', 'Google LLC', 'Deutsche Telekom AG', ''][number % 4 + 1], 'GET',
		       concat('/p/', toString(number % 13)), '', 'HTTP/1.1',
		       [200, 200, 301, 404, 500, 200, 403][number % 7 + 1], 1000 + number, '', 'test-agent', 'www.example',
		       if(number % 5 = 0, NULL, toFloat32(0.01 * (number % 50))), NULL,
		       if(number % 11 = 0, bitShiftLeft(toUInt32(1), number % 6), 0)
		FROM numbers(20000)`)
	if err != nil {
		t.Fatal(err)
	}
}

func countRows(ctx context.Context, conn driver.Conn, sql string) (int, error) {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}
