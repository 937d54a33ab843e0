package analyze

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DefaultTopN is the length of each top list when n <= 0.
const DefaultTopN = 10

// TopReport returns the n biggest clients, networks, paths, countries, ASNs
// and user agents over f, by requests. Client and network ids are
// pseudonyms of their salt epoch. An unknown country is "", an unknown ASN
// "0".
func TopReport(ctx context.Context, conn driver.Conn, db string, f Filter, n int) (*Top, error) {
	f = f.Resolve(time.Now())
	if err := f.check(); err != nil {
		return nil, err
	}
	if n <= 0 {
		n = DefaultTopN
	}
	ctx = withParams(ctx, f.params())
	q, err := expand(ctx, "SELECT count() FROM {db}.requests WHERE "+where, db)
	if err != nil {
		return nil, err
	}
	var total uint64
	if err := conn.QueryRow(ctx, q).Scan(&total); err != nil {
		return nil, fmt.Errorf("top: %w", chError(err))
	}
	t := &Top{Filter: f}
	lists := []struct {
		dst        *[]TopEntry
		key, label string
	}{
		{&t.Clients, "toString(client_id)", "''"},
		{&t.Networks, "toString(network_id)", "''"},
		{&t.Paths, "path", "''"},
		{&t.Countries, "toString(country)", "''"},
		{&t.ASNs, "toString(asn)", "toString(any(as_org))"},
		{&t.UserAgents, "user_agent", "''"},
	}
	for _, l := range lists {
		*l.dst = []TopEntry{}
		if total == 0 {
			continue
		}
		q, err := expand(ctx, fmt.Sprintf(`SELECT %s AS key, %s AS label, count() AS requests
			FROM {db}.requests WHERE `+where+`
			GROUP BY key ORDER BY requests DESC, key LIMIT %d`, l.key, l.label, n), db)
		if err != nil {
			return nil, err
		}
		rows, err := conn.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("top: %w", chError(err))
		}
		for rows.Next() {
			var e TopEntry
			if err := rows.Scan(&e.Key, &e.Label, &e.Requests); err != nil {
				rows.Close()
				return nil, fmt.Errorf("top: %w", chError(err))
			}
			e.Share = ratio(e.Requests, total)
			*l.dst = append(*l.dst, e)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("top: %w", chError(err))
		}
	}
	t.Total = total
	return t, nil
}
