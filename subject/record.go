package subject

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/subject/marks"
)

// Record is one request handled, kept for the operator's accountability
// (Art. 5(2)): never the address or an id.
type Record struct {
	At        time.Time `json:"at"`
	Action    string    `json:"action"`
	Reference string    `json:"reference,omitempty"`
	Epochs    []uint32  `json:"epochs"`
	// Requests and ClientRollups are the rows found, exported or erased.
	Requests      uint64 `json:"requests"`
	ClientRollups uint64 `json:"client_rollup_rows"`
	// Outcome: "answered", "nothing held" or "not identifiable (Art. 11(2))".
	Outcome string `json:"outcome"`
}

const recordPrefix = "record."

// CheckReference refuses a reference that holds an address: the record
// must not tie the request to one.
func CheckReference(ref string) error {
	if len(ref) > 200 {
		return errors.New("--ref: at most 200 characters")
	}
	tokens := strings.FieldsFunc(ref, func(r rune) bool {
		return !(r == '.' || r == ':' || r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F')
	})
	for _, tok := range tokens {
		_, err1 := netip.ParseAddr(tok)
		_, err2 := netip.ParseAddr(strings.Trim(tok, ".:"))
		if (err1 == nil || err2 == nil) && strings.ContainsAny(tok, ".:") {
			return errors.New("--ref: holds an IP address; the request record must not: use a ticket number instead")
		}
	}
	return nil
}

// AddRecord keeps r in the subjects bucket, with no expiry: it holds no
// personal data.
func AddRecord(ctx context.Context, js jetstream.JetStream, replicas int, r Record) error {
	kv, err := marks.Ensure(ctx, js, replicas)
	if err != nil {
		return err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	key := recordPrefix + r.At.UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(b[:])
	v, _ := json.Marshal(r)
	if _, err := kv.Create(ctx, strings.ReplaceAll(key, ".", "_"), v); err != nil {
		return fmt.Errorf("keep the request record: %w", err)
	}
	return nil
}

// Records lists the request records, oldest first.
func Records(ctx context.Context, js jetstream.JetStream) ([]Record, error) {
	values, err := marks.Values(ctx, js, strings.TrimSuffix(recordPrefix, ".")+"_")
	if err != nil {
		return nil, err
	}
	out := []Record{}
	for _, v := range values {
		var r Record
		if json.Unmarshal(v, &r) == nil {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

// WriteRecords writes the records as table or json.
func WriteRecords(recs []Record, format string, out io.Writer) error {
	if format == "json" {
		return writeJSON(out, recs)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tACTION\tREFERENCE\tEPOCHS\tREQUESTS\tCLIENT ROLLUP ROWS\tOUTCOME")
	for _, r := range recs {
		ep := make([]string, len(r.Epochs))
		for i, e := range r.Epochs {
			ep[i] = fmt.Sprint(e)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", r.At.UTC().Format(time.RFC3339), r.Action, r.Reference,
			strings.Join(ep, ","), r.Requests, r.ClientRollups, r.Outcome)
	}
	return tw.Flush()
}
