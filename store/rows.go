package store

import (
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/internal/event"
)

// rowFixedBytes approximates a row's fixed-width columns as sent to
// ClickHouse; strings are added by length.
const rowFixedBytes = 8 + 8 + 8 + 1 + 4 + 4 + 2 + 8 + 2*5 + 4 + 8

// rows holds a batch column by column, in insertColumns order, so the
// insert appends whole slices instead of boxing every value.
type rows struct {
	ts                                []int64 // Unix milliseconds
	site                              []string
	clientID, networkID               []uint64
	ipVersion                         []uint8
	epoch                             []uint32
	country                           []string
	asn                               []uint32
	asOrg, method, path, query, proto []string
	status                            []uint16
	bytes                             []uint64
	referrer, userAgent, host         []string
	requestTime, upstreamTime         []float32
	requestTimeNull, upstreamTimeNull []bool
	flags                             []uint32
	batchKey                          []uint64
	signature                         []string
	size                              int // approximate bytes of the batch
	n                                 int
}

func (r *rows) len() int { return r.n }

// add appends one event of the ingest batch with the given key.
func (r *rows) add(e *event.Event, batchKey uint64) {
	r.ts = append(r.ts, e.Time.UnixMilli())
	r.site = append(r.site, e.Site)
	r.clientID = append(r.clientID, e.ClientID)
	r.networkID = append(r.networkID, e.NetworkID)
	r.ipVersion = append(r.ipVersion, e.IPVersion)
	r.epoch = append(r.epoch, e.Epoch)
	r.country = append(r.country, e.Country)
	r.asn = append(r.asn, e.ASN)
	r.asOrg = append(r.asOrg, e.ASOrg)
	r.method = append(r.method, e.Method)
	r.path = append(r.path, e.Path)
	r.query = append(r.query, e.Query)
	r.proto = append(r.proto, e.Protocol)
	r.status = append(r.status, e.Status)
	r.bytes = append(r.bytes, e.Bytes)
	r.referrer = append(r.referrer, e.Referrer)
	r.userAgent = append(r.userAgent, e.UserAgent)
	r.host = append(r.host, e.Host)
	rt, rtNull := seconds(e.RequestTime)
	r.requestTime = append(r.requestTime, rt)
	r.requestTimeNull = append(r.requestTimeNull, rtNull)
	ut, utNull := seconds(e.UpstreamTime)
	r.upstreamTime = append(r.upstreamTime, ut)
	r.upstreamTimeNull = append(r.upstreamTimeNull, utNull)
	r.flags = append(r.flags, uint32(e.Flags))
	r.batchKey = append(r.batchKey, batchKey)
	r.signature = append(r.signature, e.Signature)
	r.size += rowFixedBytes + len(e.Signature) + len(e.Site) + len(e.Country) + len(e.ASOrg) + len(e.Method) +
		len(e.Path) + len(e.Query) + len(e.Protocol) + len(e.Referrer) + len(e.UserAgent) + len(e.Host)
	r.n++
}

// seconds converts a logged duration to the column value; Unknown (or any
// negative duration) is NULL.
func seconds(d time.Duration) (float32, bool) {
	if d < 0 {
		return 0, true
	}
	return float32(d.Seconds()), false
}

// truncate drops rows from n on, to undo a message that failed to decode
// half way.
func (r *rows) truncate(n int) {
	if n >= r.n {
		return
	}
	r.ts = r.ts[:n]
	r.site = r.site[:n]
	r.clientID = r.clientID[:n]
	r.networkID = r.networkID[:n]
	r.ipVersion = r.ipVersion[:n]
	r.epoch = r.epoch[:n]
	r.country = r.country[:n]
	r.asn = r.asn[:n]
	r.asOrg = r.asOrg[:n]
	r.method = r.method[:n]
	r.path = r.path[:n]
	r.query = r.query[:n]
	r.proto = r.proto[:n]
	r.status = r.status[:n]
	r.bytes = r.bytes[:n]
	r.referrer = r.referrer[:n]
	r.userAgent = r.userAgent[:n]
	r.host = r.host[:n]
	r.requestTime = r.requestTime[:n]
	r.requestTimeNull = r.requestTimeNull[:n]
	r.upstreamTime = r.upstreamTime[:n]
	r.upstreamTimeNull = r.upstreamTimeNull[:n]
	r.flags = r.flags[:n]
	r.batchKey = r.batchKey[:n]
	r.signature = r.signature[:n]
	r.n = n
	r.size = 0 // recomputed below; truncation is rare (corrupt messages)
	for i := range n {
		r.size += rowFixedBytes + len(r.signature[i]) + len(r.site[i]) + len(r.country[i]) + len(r.asOrg[i]) + len(r.method[i]) +
			len(r.path[i]) + len(r.query[i]) + len(r.proto[i]) + len(r.referrer[i]) + len(r.userAgent[i]) + len(r.host[i])
	}
}

// reset empties the buffer, keeping its capacity for the next batch but
// dropping string references so their memory can be reclaimed.
func (r *rows) reset() {
	clearStrings := func(s ...[]string) {
		for _, x := range s {
			clear(x)
		}
	}
	clearStrings(r.site, r.country, r.asOrg, r.method, r.path, r.query, r.proto, r.referrer, r.userAgent, r.host, r.signature)
	r.truncate(0)
}

// columns returns the batch's column slices in insertColumns order, in the
// types clickhouse-go's columnar Append accepts.
func (r *rows) columns() []any {
	return []any{
		r.ts, r.site, r.clientID, r.networkID, r.ipVersion, r.epoch, r.country, r.asn, r.asOrg,
		r.method, r.path, r.query, r.proto, r.status, r.bytes, r.referrer, r.userAgent, r.host,
		nullable(r.requestTime, r.requestTimeNull), nullable(r.upstreamTime, r.upstreamTimeNull),
		r.flags, r.batchKey, r.signature,
	}
}

// nullable is the []*float32 a Nullable(Float32) column appends, pointing
// into v so that it costs one allocation, not one per row.
func nullable(v []float32, null []bool) []*float32 {
	p := make([]*float32, len(v))
	for i := range v {
		if !null[i] {
			p[i] = &v[i]
		}
	}
	return p
}

// insertSQL is the INSERT every batch uses, with an explicit column list so
// that columns added to the table later (with defaults) do not break it.
func insertSQL(db string) string {
	s := "INSERT INTO " + tableName(db, RequestsTable) + " ("
	for i, c := range insertColumns {
		if i > 0 {
			s += ", "
		}
		s += "`" + c.name + "`"
	}
	return s + ")"
}

// columnTypes tells clickhouse-go's HTTP batch the column types, which
// saves it a DESCRIBE TABLE round trip per insert.
func columnTypes() []clickhouse.ColumnNameAndType {
	ct := make([]clickhouse.ColumnNameAndType, len(insertColumns))
	for i, c := range insertColumns {
		ct[i] = clickhouse.ColumnNameAndType{Name: c.name, Type: c.typ}
	}
	return ct
}

// appendColumns appends r to b column by column.
func appendColumns(b driver.Batch, r *rows) error {
	for i, v := range r.columns() {
		if err := b.Column(i).Append(v); err != nil {
			return fmt.Errorf("column %s: %w", insertColumns[i].name, err)
		}
	}
	return nil
}
