package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Source is a group of log files that share a site label and a format.
type Source struct {
	// Files are paths or glob patterns.
	Files []string `yaml:"files"`
	// Site labels every event of these files (default: Config.Site).
	Site string `yaml:"site"`
	// Format is the log format of the files (see Config.Format; default:
	// Config.Format).
	Format string `yaml:"format"`
}

// sources returns every source with defaults applied: Files and Site as
// the first, then Sources.
func (c Config) sources() []Source {
	var out []Source
	if len(c.Files) > 0 {
		out = append(out, Source{Files: c.Files, Site: c.Site, Format: c.Format})
	}
	for _, s := range c.Sources {
		if s.Site == "" {
			s.Site = c.Site
		}
		if s.Format == "" {
			s.Format = c.Format
		}
		out = append(out, s)
	}
	return out
}

// fileSink returns a sink for the lines of one file of src, with its own
// parser (a detecting parser keeps state per file).
func (i *Ingest) fileSink(src Source, path, id string, ageFlush bool) *sink {
	s := i.newSink(sourceFile, path, src.Site, id, ageFlush)
	s.parse = i.parserFor(src.Format, path)
	s.siteFromHost = i.cfg.SiteFrom == SiteFromHost
	s.keyed = true
	return s
}

// sourceKey names a followed source in checkpoint keys: the host name and
// a hash of its absolute patterns. Two vakt processes on one host that
// follow the same patterns share checkpoints, which they must not do at
// the same time.
func sourceKey(patterns []string) string {
	abs := make([]string, 0, len(patterns))
	for _, p := range patterns {
		if a, err := filepath.Abs(p); err == nil {
			p = a
		}
		abs = append(abs, p)
	}
	slices.Sort(abs)
	abs = slices.Compact(abs)
	h := sha256.Sum256([]byte(strings.Join(abs, "\x00")))
	host, _ := os.Hostname()
	return keyToken(host) + "." + hex.EncodeToString(h[:6])
}

// keyToken makes s usable as one token of a KV key.
func keyToken(s string) string {
	b := []byte(s)
	for k, c := range b {
		if !(c-'0' < 10 || (c|0x20)-'a' < 26 || c == '-' || c == '_') {
			b[k] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}
