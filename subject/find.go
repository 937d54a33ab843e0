package subject

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/vakt-dev/vakt/store"
)

// Found is what `vakt subject find` reports: per living epoch and site,
// the rows held; never the address or an id.
type Found struct {
	Epochs     []FoundEpoch `json:"epochs"`
	Unlinkable *Unlinkable  `json:"not_identifiable,omitempty"`
	// Requests and ClientRollups count the rows of every epoch.
	Requests      uint64 `json:"requests"`
	ClientRollups uint64 `json:"client_rollup_rows"`
}

// FoundEpoch is one living epoch.
type FoundEpoch struct {
	Epoch
	Sites []FoundSite `json:"sites"`
}

// FoundSite counts the rows of one site in one epoch.
type FoundSite struct {
	Site          string    `json:"site"`
	Requests      uint64    `json:"requests"`
	ClientRollups uint64    `json:"client_rollup_rows"`
	FirstSeen     time.Time `json:"first_seen"`
	LastSeen      time.Time `json:"last_seen"`
}

// Find counts the target's rows per epoch and site, in the requests table
// and the client rollup.
func Find(ctx context.Context, d Deps, t *Target) (*Found, error) {
	f := &Found{Epochs: []FoundEpoch{}, Unlinkable: t.Unlinkable}
	bySite := map[[2]any]*FoundSite{}
	for _, e := range t.Epochs {
		f.Epochs = append(f.Epochs, FoundEpoch{Epoch: e, Sites: []FoundSite{}})
	}
	if len(t.Epochs) == 0 {
		return f, nil
	}
	qctx := t.ctx(ctx)
	rows, err := d.CH.Query(qctx, "SELECT epoch, site, count(), min(ts), max(ts) FROM "+d.table(store.RequestsTable)+
		" WHERE "+whoWhere+" GROUP BY epoch, site ORDER BY epoch, site")
	if err != nil {
		return nil, chError("find requests", err)
	}
	for rows.Next() {
		var s FoundSite
		var epoch uint32
		if err := rows.Scan(&epoch, &s.Site, &s.Requests, &s.FirstSeen, &s.LastSeen); err != nil {
			rows.Close()
			return nil, fmt.Errorf("find requests: %w", err)
		}
		s.FirstSeen, s.LastSeen = s.FirstSeen.UTC(), s.LastSeen.UTC()
		f.add(epoch, s, bySite)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find requests: %w", err)
	}
	rows, err = d.CH.Query(qctx, "SELECT epoch, site, count(), min(first_seen), max(last_seen) FROM "+d.table(store.ClientsTable)+
		" FINAL WHERE "+whoWhere+" GROUP BY epoch, site ORDER BY epoch, site")
	if err != nil {
		return nil, chError("find client rollups", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s FoundSite
		var epoch uint32
		var n uint64
		if err := rows.Scan(&epoch, &s.Site, &n, &s.FirstSeen, &s.LastSeen); err != nil {
			return nil, fmt.Errorf("find client rollups: %w", err)
		}
		if p, ok := bySite[[2]any{epoch, s.Site}]; ok {
			p.ClientRollups = n
		} else {
			s.ClientRollups = n
			s.FirstSeen, s.LastSeen = s.FirstSeen.UTC(), s.LastSeen.UTC()
			f.add(epoch, s, bySite)
		}
		f.ClientRollups += n
	}
	return f, rows.Err()
}

func (f *Found) add(epoch uint32, s FoundSite, bySite map[[2]any]*FoundSite) {
	for i := range f.Epochs {
		if f.Epochs[i].Epoch.Epoch == epoch {
			f.Epochs[i].Sites = append(f.Epochs[i].Sites, s)
			bySite[[2]any{epoch, s.Site}] = &f.Epochs[i].Sites[len(f.Epochs[i].Sites)-1]
			f.Requests += s.Requests
			return
		}
	}
}

// Held says whether anything of the address is held.
func (f *Found) Held() bool { return f.Requests > 0 || f.ClientRollups > 0 }

// Write writes the answer as table (plain words) or json.
func (f *Found) Write(format string, out io.Writer) error {
	if format == "json" {
		return writeJSON(out, f)
	}
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	if len(f.Epochs) == 0 {
		fmt.Fprintln(out, "No salt epoch lives: no stored row can be tied to this address.")
	} else if !f.Held() {
		fmt.Fprintf(out, "Nothing held for this address in the %d epoch(s) whose salts live (%s to %s).\n",
			len(f.Epochs), ts(f.Epochs[0].Start), ts(f.Epochs[len(f.Epochs)-1].End))
	} else {
		fmt.Fprintf(out, "Held for this address: %d request rows and %d hourly client-activity rows.\n\n", f.Requests, f.ClientRollups)
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EPOCH\tEPOCH START\tSALT DESTROYED AT\tSITE\tREQUESTS\tCLIENT ROLLUP ROWS\tFIRST SEEN\tLAST SEEN")
		for _, e := range f.Epochs {
			for _, s := range e.Sites {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", e.Epoch.Epoch, ts(e.Start), ts(e.DestroyAt), s.Site,
					s.Requests, s.ClientRollups, ts(s.FirstSeen), ts(s.LastSeen))
			}
		}
		tw.Flush()
		fmt.Fprintln(out, "\nPer-minute site health holds no client ids and is not affected by requests about an address.")
	}
	if f.Unlinkable != nil {
		fmt.Fprintln(out, "\n"+f.Unlinkable.Statement)
	}
	return nil
}
