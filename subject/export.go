package subject

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/store"
)

// ExportFormat names the export document; ExportVersion changes whenever a
// field changes meaning or goes away (new fields keep the version).
const (
	ExportFormat  = "vakt.subject-export"
	ExportVersion = 1
)

// Information is what the policy owes a requester with their data (Art. 15(1)
// and 13): why, what, from where, to whom, and for how long, the last read
// from the live tables like `vakt retention`.
type Information struct {
	Purposes         []string               `json:"purposes"`
	Categories       []string               `json:"categories"`
	Source           string                 `json:"source"`
	Recipients       string                 `json:"recipients"`
	Retention        []analyze.RetentionRow `json:"retention"`
	RetentionSource  string                 `json:"retention_source"`
	AutomatedMeasure string                 `json:"automated_decisions"`
	Rights           string                 `json:"rights"`
}

// NewInformation fills in the fixed text and the retention policy.
func NewInformation(p analyze.RetentionPolicy) Information {
	rows, _ := p.Rows() // the error only says the figures are the configuration's: RetentionSource says so
	return Information{
		Purposes: []string{
			"keeping the website running (operations, error and performance monitoring)",
			"detecting and preventing threats to its security",
		},
		Categories: []string{
			"request time, website, page requested (path and a query string with its values removed), method and protocol",
			"response status, size and duration",
			"the browser's self-description (user agent) and the referring page (scrubbed)",
			"country and network (autonomous system) derived from the IP address before it was discarded",
			"a pseudonymous client identifier computed from the IP address with a secret key that changes and is destroyed (the IP address itself is not stored)",
		},
		Source:           "the web server's access log, recorded when your device requested pages of the website",
		Recipients:       "none outside the operator; security alerts about abusive clients may go to the operator's own alerting systems",
		Retention:        rows,
		RetentionSource:  p.Source,
		AutomatedMeasure: "threat detection flags clients by rules over their requests; it informs the operator and makes no decision about you by itself",
		Rights: "you may ask for access, a copy (this document), restriction of processing and erasure; an access log records " +
			"what happened and is not rectified, but can be restricted or erased",
	}
}

// Export is the portable copy of everything held under the address's ids.
type Export struct {
	Format      string       `json:"format"`
	Version     int          `json:"version"`
	GeneratedAt time.Time    `json:"generated_at"`
	Information Information  `json:"information"`
	Epochs      []Epoch      `json:"epochs"`
	Unlinkable  *Unlinkable  `json:"not_identifiable,omitempty"`
	Requests    []RequestRow `json:"requests"`
	Activity    []Activity   `json:"client_activity"`
	// SharedAddress is set by the self-service page for an address that
	// looks shared: Requests and Activity are then empty and Daily holds
	// per-day counts only.
	SharedAddress bool       `json:"shared_address,omitempty"`
	Daily         []DayCount `json:"daily_requests,omitempty"`
}

// RequestRow is one stored request, without the client and network ids.
type RequestRow struct {
	TS           time.Time `ch:"ts" json:"ts"`
	Site         string    `ch:"site" json:"site"`
	IPVersion    uint8     `ch:"ip_version" json:"ip_version"`
	Epoch        uint32    `ch:"epoch" json:"epoch"`
	Country      string    `ch:"country" json:"country"`
	ASN          uint32    `ch:"asn" json:"asn"`
	ASOrg        string    `ch:"as_org" json:"as_org"`
	Method       string    `ch:"method" json:"method"`
	Path         string    `ch:"path" json:"path"`
	Query        string    `ch:"query" json:"query"`
	Protocol     string    `ch:"protocol" json:"protocol"`
	Status       uint16    `ch:"status" json:"status"`
	Bytes        uint64    `ch:"bytes" json:"bytes"`
	Referrer     string    `ch:"referrer" json:"referrer"`
	UserAgent    string    `ch:"user_agent" json:"user_agent"`
	Host         string    `ch:"host" json:"host"`
	RequestTime  *float32  `ch:"request_time" json:"request_time"`
	UpstreamTime *float32  `ch:"upstream_time" json:"upstream_time"`
	Flags        uint32    `ch:"flags" json:"threat_flags"`
}

var requestColumns = []string{"ts", "site", "ip_version", "epoch", "country", "asn", "as_org", "method", "path", "query",
	"protocol", "status", "bytes", "referrer", "user_agent", "host", "request_time", "upstream_time", "flags"}

// Activity is one hour of the client rollup, without the ids.
type Activity struct {
	Site      string    `ch:"site" json:"site"`
	Hour      time.Time `ch:"hour" json:"hour"`
	Epoch     uint32    `ch:"epoch" json:"epoch"`
	Requests  uint64    `ch:"requests" json:"requests"`
	Errors    uint64    `ch:"errors" json:"errors"`
	NotFound  uint64    `ch:"not_found" json:"not_found"`
	Bytes     uint64    `ch:"bytes" json:"bytes"`
	Paths     uint64    `ch:"paths" json:"distinct_paths"`
	Methods   []string  `ch:"methods" json:"methods"`
	Flags     uint32    `ch:"flags" json:"threat_flags"`
	Flagged   uint64    `ch:"flagged" json:"flagged_requests"`
	FirstSeen time.Time `ch:"first_seen" json:"first_seen"`
	LastSeen  time.Time `ch:"last_seen" json:"last_seen"`
	Country   string    `ch:"country" json:"country"`
	ASN       uint32    `ch:"asn" json:"asn"`
}

// Collect reads every row held under the target's ids.
func Collect(ctx context.Context, d Deps, t *Target, info Information, now time.Time) (*Export, error) {
	x := &Export{Format: ExportFormat, Version: ExportVersion, GeneratedAt: now.UTC(), Information: info,
		Epochs: append([]Epoch{}, t.Epochs...), Unlinkable: t.Unlinkable, Requests: []RequestRow{}, Activity: []Activity{}}
	if len(t.Epochs) == 0 {
		return x, nil
	}
	qctx := t.ctx(ctx)
	cols := ""
	for i, c := range requestColumns {
		if i > 0 {
			cols += ", "
		}
		cols += "`" + c + "`"
	}
	if err := d.CH.Select(qctx, &x.Requests, "SELECT "+cols+" FROM "+d.table(store.RequestsTable)+
		" WHERE "+whoWhere+" ORDER BY ts, site, path"); err != nil {
		return nil, chError("export requests", err)
	}
	if err := d.CH.Select(qctx, &x.Activity, "SELECT site, hour, epoch, sum(requests) AS requests, sum(errors) AS errors, "+
		"sum(not_found) AS not_found, sum(bytes) AS bytes, uniqMerge(paths) AS paths, "+
		"arraySort(groupUniqArrayArray(methods)) AS methods, groupBitOr(flags) AS flags, sum(flagged) AS flagged, "+
		"min(first_seen) AS first_seen, max(last_seen) AS last_seen, anyLast(country) AS country, anyLast(asn) AS asn FROM "+
		d.table(store.ClientsTable)+" WHERE "+whoWhere+" GROUP BY site, hour, epoch ORDER BY hour, site, epoch"); err != nil {
		return nil, chError("export client activity", err)
	}
	for i := range x.Requests {
		x.Requests[i].TS = x.Requests[i].TS.UTC()
	}
	for i := range x.Activity {
		a := &x.Activity[i]
		a.Hour, a.FirstSeen, a.LastSeen = a.Hour.UTC(), a.FirstSeen.UTC(), a.LastSeen.UTC()
	}
	return x, nil
}

// Write writes the export as json (one document) or csv (documented in
// docs/privacy.md: "#" lines with the format, version and information, then
// the requests and the client activity, each with its header row, separated
// by an empty line).
func (x *Export) Write(format string, out io.Writer) error {
	switch format {
	case "json":
		return writeJSON(out, x)
	case "csv":
		return x.writeCSV(out)
	}
	return fmt.Errorf("--format %q: use json or csv", format)
}

func (x *Export) writeCSV(out io.Writer) error {
	fmt.Fprintf(out, "# format: %s\n# version: %d\n# generated_at: %s\n", x.Format, x.Version, x.GeneratedAt.Format(time.RFC3339))
	info := x.Information
	for _, p := range info.Purposes {
		fmt.Fprintf(out, "# purpose: %s\n", p)
	}
	for _, c := range info.Categories {
		fmt.Fprintf(out, "# category: %s\n", c)
	}
	fmt.Fprintf(out, "# source: %s\n# recipients: %s\n", info.Source, info.Recipients)
	for _, r := range info.Retention {
		fmt.Fprintf(out, "# retention: %s (%s): %s\n", r.Data, r.Where, analyze.ShortDuration(r.Keep))
	}
	fmt.Fprintf(out, "# automated_decisions: %s\n# rights: %s\n", info.AutomatedMeasure, info.Rights)
	if x.Unlinkable != nil {
		fmt.Fprintf(out, "# not_identifiable: %s\n", x.Unlinkable.Statement)
	}
	fmt.Fprintln(out, "# section: requests")
	w := csv.NewWriter(out)
	header := append([]string{}, requestColumns...)
	header[len(header)-1] = "threat_flags" // as in JSON
	_ = w.Write(header)
	f32 := func(v *float32) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(float64(*v), 'g', -1, 32)
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	for _, r := range x.Requests {
		_ = w.Write([]string{r.TS.Format("2006-01-02T15:04:05.000Z07:00"), r.Site, u(uint64(r.IPVersion)), u(uint64(r.Epoch)), r.Country,
			u(uint64(r.ASN)), r.ASOrg, r.Method, r.Path, r.Query, r.Protocol, u(uint64(r.Status)), u(r.Bytes), r.Referrer,
			r.UserAgent, r.Host, f32(r.RequestTime), f32(r.UpstreamTime), u(uint64(r.Flags))})
	}
	w.Flush()
	fmt.Fprintln(out, "\n# section: client_activity")
	_ = w.Write([]string{"site", "hour", "epoch", "requests", "errors", "not_found", "bytes", "distinct_paths", "methods",
		"threat_flags", "flagged_requests", "first_seen", "last_seen", "country", "asn"})
	for _, a := range x.Activity {
		methods, _ := json.Marshal(a.Methods)
		_ = w.Write([]string{a.Site, a.Hour.Format(time.RFC3339), u(uint64(a.Epoch)), u(a.Requests), u(a.Errors), u(a.NotFound),
			u(a.Bytes), u(a.Paths), string(methods), u(uint64(a.Flags)), u(a.Flagged), a.FirstSeen.Format(time.RFC3339),
			a.LastSeen.Format(time.RFC3339), a.Country, u(uint64(a.ASN))})
	}
	w.Flush()
	return w.Error()
}
