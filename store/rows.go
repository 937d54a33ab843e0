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
	r.size += r.rowSize(r.n)
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

// rowColumn is one of rows' slices, for the operations that treat every
// column alike.
type rowColumn interface {
	truncate(n int)
	keep(keep []bool)
	clear()
}

type col[T any] struct{ s *[]T }

func (c col[T]) truncate(n int)   { *c.s = (*c.s)[:n] }
func (c col[T]) keep(keep []bool) { *c.s = compact(*c.s, keep) }
func (c col[T]) clear()           { clear(*c.s) }

// all lists every column once; TestRowsKeep checks that none is missing.
func (r *rows) all() []rowColumn {
	return []rowColumn{
		col[int64]{&r.ts}, col[string]{&r.site}, col[uint64]{&r.clientID}, col[uint64]{&r.networkID},
		col[uint8]{&r.ipVersion}, col[uint32]{&r.epoch}, col[string]{&r.country}, col[uint32]{&r.asn},
		col[string]{&r.asOrg}, col[string]{&r.method}, col[string]{&r.path}, col[string]{&r.query},
		col[string]{&r.proto}, col[uint16]{&r.status}, col[uint64]{&r.bytes}, col[string]{&r.referrer},
		col[string]{&r.userAgent}, col[string]{&r.host}, col[float32]{&r.requestTime}, col[bool]{&r.requestTimeNull},
		col[float32]{&r.upstreamTime}, col[bool]{&r.upstreamTimeNull}, col[uint32]{&r.flags},
		col[uint64]{&r.batchKey}, col[string]{&r.signature},
	}
}

// rowSize approximates row i's bytes as sent to ClickHouse.
func (r *rows) rowSize(i int) int {
	return rowFixedBytes + len(r.signature[i]) + len(r.site[i]) + len(r.country[i]) + len(r.asOrg[i]) + len(r.method[i]) +
		len(r.path[i]) + len(r.query[i]) + len(r.proto[i]) + len(r.referrer[i]) + len(r.userAgent[i]) + len(r.host[i])
}

// resize sets the row count to n after the columns changed length.
func (r *rows) resize(n int) {
	r.n = n
	r.size = 0 // recomputed: truncation and erasures are rare
	for i := range n {
		r.size += r.rowSize(i)
	}
}

// truncate drops rows from n on, to undo a message that failed to decode
// half way.
func (r *rows) truncate(n int) {
	if n >= r.n {
		return
	}
	for _, c := range r.all() {
		c.truncate(n)
	}
	r.resize(n)
}

// keep keeps the rows whose keep[i] is true, in order.
func (r *rows) keep(keep []bool) {
	for _, c := range r.all() {
		c.keep(keep)
	}
	r.resize(len(r.ts))
}

// reset empties the buffer, keeping its capacity for the next batch but
// dropping string references so their memory can be reclaimed.
func (r *rows) reset() {
	for _, c := range r.all() {
		c.clear()
	}
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
// saves it a DESCRIBE TABLE round trip per insert. LowCardinality columns
// are sent as String and the server builds their dictionaries: the
// driver's dictionary building (a Go map lookup per value, eight such
// columns) took 1.5 of the import's 32 CPU-s, and the engine converting
// costs less than that (`vakt bench`: -1.2 CPU-s per 2 M lines).
func columnTypes() []clickhouse.ColumnNameAndType {
	ct := make([]clickhouse.ColumnNameAndType, len(insertColumns))
	for i, c := range insertColumns {
		typ := c.typ
		if typ == "LowCardinality(String)" {
			typ = "String"
		}
		ct[i] = clickhouse.ColumnNameAndType{Name: c.name, Type: typ}
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
