package enforce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/output"
	"github.com/vakt-dev/vakt/pseudonymize"
)

// AddRequest is `vakt decisions add`: exactly one of IP, ID (with Scope
// and Epoch) or ASN says whom.
type AddRequest struct {
	// IP is hashed at once under the current salt into a client id (or
	// with Scope network a network id) and dropped.
	IP       string
	Scope    string // client (default) or network
	ID       string // a pseudonymous id from a report
	Epoch    uint32 // the id's salt epoch
	ASN      uint32
	Duration time.Duration
	Status   int    // 403 (default) or 429
	Site     string // empty: every site
}

// Add makes a manual decision. js must be allowed to read the salts (as
// vakt_enforce) when an IP is given.
func Add(ctx context.Context, js jetstream.JetStream, pcfg pseudonymize.Config, ds *Decisions, req AddRequest) (Decision, error) {
	now := time.Now().UTC()
	if req.Status == 0 {
		req.Status = 403
	}
	if req.Scope == "" {
		req.Scope = ScopeClient
	}
	d := Decision{Site: req.Site, Rule: OriginManual, Status: req.Status, Origin: OriginManual, Created: now, Expires: now.Add(req.Duration)}
	given := 0
	for _, set := range []bool{req.IP != "", req.ID != "", req.ASN != 0} {
		if set {
			given++
		}
	}
	if given != 1 {
		return Decision{}, errors.New("say whom: exactly one of --ip ADDRESS, --client ID --epoch N, --network ID --epoch N or --asn N")
	}
	switch {
	case req.IP != "":
		ip, err := netip.ParseAddr(req.IP)
		if err != nil || ip.Zone() != "" {
			// The flag's value is not repeated: it may be an address.
			return Decision{}, errors.New("--ip: not an IPv4 or IPv6 address")
		}
		keys, err := currentKeys(ctx, js, pcfg)
		if err != nil {
			return Decision{}, err
		}
		d.Scope, d.Epoch = req.Scope, keys.Epoch()
		switch req.Scope {
		case ScopeClient:
			d.ID = strconv.FormatUint(keys.ClientID(ip), 10)
		case ScopeNetwork:
			d.ID = strconv.FormatUint(keys.NetworkID(ip), 10)
		default:
			return Decision{}, fmt.Errorf("--scope %q: use client or network with --ip", req.Scope)
		}
	case req.ID != "":
		d.Scope, d.ID, d.Epoch = req.Scope, req.ID, req.Epoch
	default:
		d.Scope, d.ID = ScopeASN, strconv.FormatUint(uint64(req.ASN), 10)
	}
	if err := d.Check(); err != nil {
		return Decision{}, err
	}
	if _, err := ds.Put(ctx, d); err != nil {
		return Decision{}, err
	}
	return d, nil
}

// currentKeys are the keys of the current epoch's salt, read only.
func currentKeys(ctx context.Context, js jetstream.JetStream, pcfg pseudonymize.Config) (*pseudonymize.Keys, error) {
	salts, err := pseudonymize.NewSaltReader(ctx, js, pcfg, nil)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, errors.New("no salt for the current epoch yet: no pseudonymiser has run on this NATS (start vakt run first)")
	}
	if err != nil {
		return nil, err
	}
	cur, err := salts.EpochOf(time.Now())
	if err != nil {
		return nil, err
	}
	keys, err := salts.Lookup(ctx, cur)
	if err != nil {
		return nil, fmt.Errorf("no salt for the current epoch %d yet (the pseudonymiser makes it with the first event of the epoch): %w", cur, err)
	}
	return keys, nil
}

// listColumns are the columns of `vakt decisions list`.
var listColumns = []output.Column{
	{Name: "key", Type: "String"}, {Name: "scope", Type: "String"}, {Name: "id", Type: "String"},
	{Name: "epoch", Type: "UInt32"}, {Name: "site", Type: "String"}, {Name: "rule", Type: "String"},
	{Name: "status", Type: "UInt16"}, {Name: "origin", Type: "String"},
	{Name: "created", Type: "DateTime"}, {Name: "expires", Type: "DateTime"}, {Name: "hits", Type: "UInt64"},
}

// PrintList writes decisions in format (table, json, csv or tsv).
func PrintList(out io.Writer, list []Listed, format string) error {
	w, err := output.NewWriter(format, listColumns, out)
	if err != nil {
		return err
	}
	for _, d := range list {
		site := d.Site
		if site == "" && format == output.Table {
			site = "*"
		}
		if err := w.Row([]any{d.Key, d.Scope, d.ID, d.Epoch, site, d.Rule, uint16(d.Status), d.Origin,
			d.Created.UTC(), d.Expires.UTC(), d.Hits}); err != nil {
			return err
		}
	}
	return w.Flush()
}
