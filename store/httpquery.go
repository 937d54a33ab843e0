package store

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// QueryHTTP runs query over ClickHouse's HTTP interface (cfg.Protocol
// "http": a ClickHouse server's or the embedded endpoint) and returns the
// engine's own output in format (a ClickHouse format name, TabSeparated,
// JSONEachRow ...) and settings, as clickhouse-client would print it. A refused query
// is a *clickhouse.Exception.
func QueryHTTP(ctx context.Context, cfg ClickHouseConfig, query, format string, settings map[string]string) (io.ReadCloser, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Addr) == 0 {
		return nil, fmt.Errorf("clickhouse.addr: no address")
	}
	tc, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	scheme := "http"
	if tc != nil {
		scheme = "https"
	}
	// Like Open, the session starts in "default": statements qualify tables.
	params := url.Values{"default_format": {format}, "database": {"default"}}
	for k, v := range settings {
		params.Set(k, v)
	}
	u := scheme + "://" + cfg.Addr[0] + "/?" + params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(query))
	if err != nil {
		return nil, fmt.Errorf("clickhouse http: %w", err)
	}
	req.SetBasicAuth(cfg.Username, cfg.Password)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("clickhouse http %s: %w", cfg.Addr[0], err)
	}
	if res.StatusCode != http.StatusOK {
		defer res.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		return nil, httpException(res, string(b))
	}
	return res.Body, nil
}

var exceptionRe = regexp.MustCompile(`(?s)^Code: (\d+)\. DB::Exception: (.*?)\s*$`)

// httpException reads the exception ClickHouse's HTTP interface answers
// with: its code in X-ClickHouse-Exception-Code, the text in the body.
func httpException(res *http.Response, body string) error {
	code, _ := strconv.Atoi(res.Header.Get("X-ClickHouse-Exception-Code"))
	msg := strings.TrimSpace(body)
	if m := exceptionRe.FindStringSubmatch(msg); m != nil {
		if code == 0 {
			code, _ = strconv.Atoi(m[1])
		}
		msg = m[2]
	}
	if code == 0 {
		return fmt.Errorf("clickhouse http: %s: %s", res.Status, msg)
	}
	return &clickhouse.Exception{Code: int32(code), Message: msg}
}
