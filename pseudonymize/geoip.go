package pseudonymize

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oschwald/geoip2-golang/v2"

	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/pseudonymize/geodata"
)

// DefaultGeoIPReload is how often the databases' files are checked for a
// new version (geoipupdate replaces them weekly).
const DefaultGeoIPReload = time.Minute

// GeoIPConfig locates MaxMind-format databases for enrichment. For either
// left empty, the open databases of OpenDataDir are used (unless OpenData
// is "off"); with neither, that enrichment is off.
type GeoIPConfig struct {
	// CountryDB is a GeoLite2-Country or GeoLite2-City database (or DB-IP's
	// Country or City Lite, or the commercial GeoIP2 ones).
	CountryDB string `yaml:"country_db"`
	// ASNDB is a GeoLite2-ASN database (or DB-IP's ASN Lite).
	ASNDB string `yaml:"asn_db"`
	// Reload is how often the files' modification times are checked; a
	// changed file is loaded and swapped in atomically.
	Reload time.Duration `yaml:"reload"`
	// OpenData is "auto" (the default: use the open databases built by
	// `make geoip` or `vakt geoip build` for a kind with no file
	// configured) or "off".
	OpenData string `yaml:"open_data"`
	// OpenDataDir holds the open databases; empty: ~/.cache/vakt/geoip
	// (geodata.DefaultDir).
	OpenDataDir string `yaml:"open_data_dir"`
}

// Values of GeoIPConfig.OpenData.
const (
	OpenDataAuto = "auto"
	OpenDataOff  = "off"
)

// openDataDir is the directory the open databases are read from.
func (c GeoIPConfig) openDataDir() string {
	if c.OpenDataDir != "" {
		return c.OpenDataDir
	}
	return geodata.DefaultDir()
}

// OpenSources lists the open databases cfg uses: those built in the
// open-data directory for a kind with no MaxMind file configured. Their
// licences ask for the attribution the dashboard shows.
func (c GeoIPConfig) OpenSources() []geodata.Source {
	if c.OpenData == OpenDataOff || (c.CountryDB != "" && c.ASNDB != "") {
		return nil
	}
	m, err := geodata.ReadManifest(c.openDataDir())
	if err != nil {
		return nil
	}
	var out []geodata.Source
	for _, s := range m.Sources {
		if (s.Kind == "country" && c.CountryDB == "") || (s.Kind == "asn" && c.ASNDB == "") {
			if geodata.Path(c.openDataDir(), s.Kind) != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// GeoIP enriches events with the country and autonomous system of the raw
// IP, from MaxMind-format databases read with geoip2-golang. It keeps no IP:
// a lookup reads the database and fills the event's Country, ASN and ASOrg.
// Safe for concurrent use; Run reloads the files when they change.
type GeoIP struct {
	country, asn *geoDB
	reload       time.Duration
	log          *slog.Logger
	// recent holds the last lookups by client id (geoCacheSlots of them,
	// direct-mapped): most requests come from a client seen moments
	// before, and looking an address up in both databases (a tree walk and
	// the decoding of each record) was ~0.75 us of the ~2.6 us a request
	// took to pseudonymise (`vakt bench` profile). Keyed by the keyed
	// client id and epoch, never by the address, an entry holds nothing
	// the stored events do not.
	recent *[geoCacheSlots]atomic.Pointer[geoEntry]
}

// geoCacheSlots is the size of GeoIP.recent: 64 KiB of slots, about 1 MB
// of entries at most. More slots save little more (a Zipf mix of 50,000
// clients: 285 ns a request with 8,192, 210 with 16,384, 165 with 65,536)
// and cost `vakt run` under backpressure memory against its 320 MB bound
// (peak 298 MB without, 305, 309 and 323 MB with them).
const geoCacheSlots = 1 << 13

// geoEntry is one client's enrichment, from the readers it names (a
// reload swaps them, which makes every older entry stale).
type geoEntry struct {
	epoch        uint32
	client       uint64
	country, asn *geoip2.Reader
	code, org    string
	asNumber     uint32
}

// geoDB is one database file and the reader of its last good version.
type geoDB struct {
	key, path string // configuration key and file
	kind      string // "country" or "asn"
	// open describes an open database used by default; nil for a
	// configured (MaxMind-format) file.
	open *geodata.Source
	r    atomic.Pointer[geoip2.Reader]

	mu         sync.Mutex // guards the fields below (Reload may run concurrently)
	mtime      time.Time  // of the version last tried
	size       int64
	missingLog bool // "not found" already logged
}

// NewGeoIP opens the configured databases. A configured file that exists
// but is not a database of the right kind is an error naming the key; one
// that does not exist yet is logged and picked up by Run when it appears.
func NewGeoIP(cfg GeoIPConfig, log *slog.Logger) (*GeoIP, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &GeoIP{reload: max(cfg.Reload, 0), log: log, recent: new([geoCacheSlots]atomic.Pointer[geoEntry])}
	if g.reload == 0 {
		g.reload = Defaults().GeoIP.Reload
	}
	if cfg.CountryDB != "" {
		g.country = &geoDB{key: "pseudonymize.geoip.country_db", path: cfg.CountryDB, kind: "country"}
	}
	if cfg.ASNDB != "" {
		g.asn = &geoDB{key: "pseudonymize.geoip.asn_db", path: cfg.ASNDB, kind: "asn"}
	}
	for _, src := range cfg.OpenSources() {
		db := &geoDB{key: "pseudonymize.geoip.open_data_dir", path: filepath.Join(cfg.openDataDir(), src.File), kind: src.Kind, open: &src}
		if src.Kind == "country" {
			g.country = db
		} else {
			g.asn = db
		}
	}
	var errs []error
	for _, db := range g.dbs() {
		if _, err := db.load(log, true); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return g, errors.Join(errs...)
}

func (g *GeoIP) dbs() []*geoDB {
	var out []*geoDB
	for _, db := range []*geoDB{g.country, g.asn} {
		if db != nil {
			out = append(out, db)
		}
	}
	return out
}

// Configured reports whether any database is configured.
func (g *GeoIP) Configured() bool { return g != nil && (g.country != nil || g.asn != nil) }

// Describe is the one line that says what enrichment does.
func (g *GeoIP) Describe() string {
	if !g.Configured() {
		return "GeoIP enrichment off: no database configured (set pseudonymize.geoip.country_db and/or pseudonymize.geoip.asn_db to MaxMind-format files, " +
			"or build the open databases with `make geoip` or `vakt geoip build`)"
	}
	part := func(db *geoDB, what string) string {
		switch {
		case db == nil:
			return what + " off (not configured)"
		case db.r.Load() == nil:
			return what + " waiting for " + db.path
		case db.open != nil:
			return fmt.Sprintf("%s from open data %s (%s %s, data of %s, %s)", what, db.path, db.open.Package, db.open.Version, db.open.DataDate, db.open.Licence)
		default:
			return what + " from " + db.path
		}
	}
	return "GeoIP enrichment: " + part(g.country, "country") + ", " + part(g.asn, "ASN") +
		"; files checked for updates every " + g.reload.String()
}

// Enrich sets e.Country (ISO 3166 code of the located country, else of the
// registered one) and e.ASN and e.ASOrg from ip. Addresses a database does
// not know leave the fields empty. e.ClientID and e.Epoch, when set (the
// builder sets them first), are ip's id: the enrichment is remembered by
// them (GeoIP.recent).
func (g *GeoIP) Enrich(ip netip.Addr, e *event.Event) {
	var country, asn *geoip2.Reader
	if g.country != nil {
		country = g.country.r.Load()
	}
	if g.asn != nil {
		asn = g.asn.r.Load()
	}
	var slot *atomic.Pointer[geoEntry]
	if e.ClientID != 0 && g.recent != nil {
		slot = &g.recent[e.ClientID%geoCacheSlots]
		if c := slot.Load(); c != nil && c.client == e.ClientID && c.epoch == e.Epoch && c.country == country && c.asn == asn {
			e.Country, e.ASN, e.ASOrg = c.code, c.asNumber, c.org
			return
		}
	}
	if country != nil {
		if c, err := country.Country(ip); err == nil {
			e.Country = c.Country.ISOCode
			if e.Country == "" {
				e.Country = c.RegisteredCountry.ISOCode
			}
		}
	}
	if asn != nil {
		if a, err := asn.ASN(ip); err == nil && a.AutonomousSystemNumber <= 1<<32-1 {
			e.ASN = uint32(a.AutonomousSystemNumber)
			e.ASOrg = a.AutonomousSystemOrganization
		}
	}
	if slot != nil {
		slot.Store(&geoEntry{epoch: e.Epoch, client: e.ClientID, country: country, asn: asn, code: e.Country, org: e.ASOrg, asNumber: e.ASN})
	}
}

// Run checks the files every reload interval until ctx ends and swaps in
// any that changed.
func (g *GeoIP) Run(ctx context.Context) {
	if !g.Configured() {
		return
	}
	t := time.NewTicker(g.reload)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.Reload()
		}
	}
}

// Reload loads every database file whose modification time or size changed
// since it was last tried, and reports whether any was swapped in. A file
// that fails to load leaves the previous version in use.
func (g *GeoIP) Reload() bool {
	changed := false
	for _, db := range g.dbs() {
		ok, err := db.load(g.log, false)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			g.log.Warn("GeoIP database not reloaded; the previous version stays in use", "key", db.key, "err", err)
		}
		changed = changed || ok
	}
	return changed
}

// load reads the file if it changed since the last attempt and swaps it in
// when it is a database of the right kind. The whole file is read into
// memory (not mapped), so a reader still in use by a lookup stays valid
// after the swap; the garbage collector frees it.
func (db *geoDB) load(log *slog.Logger, initial bool) (bool, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	fi, err := os.Stat(db.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !db.missingLog {
			db.missingLog = true
			state := "off until it appears"
			if db.r.Load() != nil {
				state = "the loaded version stays in use"
			}
			log.Warn("GeoIP database file not found; "+db.kind+" enrichment "+state, "key", db.key, "path", db.path)
		}
		return false, fmt.Errorf("%s: %w", db.key, err)
	}
	db.missingLog = false
	if fi.ModTime().Equal(db.mtime) && fi.Size() == db.size {
		return false, nil
	}
	db.mtime, db.size = fi.ModTime(), fi.Size()
	b, err := os.ReadFile(db.path)
	if err != nil {
		return false, fmt.Errorf("%s: %w", db.key, err)
	}
	r, err := geoip2.OpenBytes(b)
	if err != nil {
		return false, fmt.Errorf("%s: %s is not a MaxMind-format database (%w); use a GeoLite2 or DB-IP Lite .mmdb file", db.key, db.path, err)
	}
	// Probe with any address: a database of the wrong kind fails with
	// InvalidMethodError whatever the address.
	probe := netip.IPv4Unspecified()
	if db.kind == "country" {
		_, err = r.Country(probe)
	} else {
		_, err = r.ASN(probe)
	}
	var wrong geoip2.InvalidMethodError
	if errors.As(err, &wrong) {
		want := "GeoLite2-Country or GeoLite2-City (or DB-IP Country/City Lite)"
		if db.kind == "asn" {
			want = "GeoLite2-ASN (or DB-IP ASN Lite)"
		}
		return false, fmt.Errorf("%s: %s is a %s database, without %s data; use a %s database",
			db.key, db.path, r.Metadata().DatabaseType, db.kind, want)
	}
	prev := db.r.Swap(r)
	md := r.Metadata()
	attrs := []any{"key", db.key, "path", db.path, "type", md.DatabaseType,
		"built", time.Unix(int64(md.BuildEpoch), 0).UTC().Format(time.DateOnly)}
	switch {
	case initial: // Describe's line at start says it
		log.Debug("GeoIP database loaded", attrs...)
	case prev == nil:
		log.Info("GeoIP database appeared; "+db.kind+" enrichment on", attrs...)
	default:
		log.Info("GeoIP database reloaded", attrs...)
	}
	return true, nil
}
