package pseudonymize

import (
	"encoding/json"
	"fmt"
	"io"
)

// GeoIPStatusCommand is `vakt geoip status`: the databases the
// pseudonymiser would use with c, their dates and licences. It opens them
// as the pseudonymiser does, and needs no engine.
func GeoIPStatusCommand(c GeoIPConfig, format string, out io.Writer) error {
	if format != "text" && format != "json" {
		return fmt.Errorf("--format %q: use text or json", format)
	}
	g, err := NewGeoIP(c, nil)
	dbs := g.Databases()
	if format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if dbs == nil {
			dbs = []GeoIPDatabase{}
		}
		if e := enc.Encode(map[string]any{"databases": dbs, "summary": g.Describe()}); e != nil {
			return e
		}
		return err
	}
	fmt.Fprintln(out, g.Describe())
	for _, d := range dbs {
		fmt.Fprintf(out, "\n%s: %s (%s)\n", d.Kind, d.Path, d.Origin)
		if !d.Loaded {
			fmt.Fprintln(out, "  not loaded: missing or not a database of this kind (vakt check says why)")
		} else {
			fmt.Fprintf(out, "  type %s, built %s\n", d.Type, d.Built)
		}
		if d.Source != "" {
			fmt.Fprintf(out, "  source: %s, data of %s\n", d.Source, d.DataDate)
		}
		fmt.Fprintf(out, "  licence: %s\n", d.Licence)
		if d.Attribution != "" {
			fmt.Fprintf(out, "  attribution: %s\n", d.Attribution)
		}
	}
	return err
}
