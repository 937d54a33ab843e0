// Package signatures holds the request signatures of the detection rules:
// data files, one per family (exploit.yaml, probe.yaml, allow.yaml), that
// the pseudonymiser matches against each raw request before its query
// string and referrer are scrubbed. The files here are built in; a
// "signatures" directory inside rules.dir replaces a built-in file of the
// same name and adds others, without a rebuild. Format and families:
// analyze/rules/README.md.
package signatures

import (
	"embed"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/vakt-dev/vakt/internal/configkit"
)

//go:embed *.yaml
var builtin embed.FS

// Families: what a match means, and which flag bit the pseudonymiser sets.
const (
	// Exploit: an attempt to exploit a known vulnerability; one confident
	// match makes the client an offender.
	Exploit = "exploit"
	// Probe: a request for a path only scanners ask for (web shells,
	// upload scripts, archive and backup names); a handful refused makes a
	// small kit.
	Probe = "probe"
	// Allow: a client the probe rules leave alone (search and SEO
	// crawlers, uptime monitors, git clients), by its user agent. Never
	// consulted by the exploit rule.
	Allow = "allow"
)

// Fields a signature can look at.
const (
	Target    = "target"     // path and query string, each decoding layer
	Path      = "path"       // the path alone, each decoding layer
	Referer   = "referer"    // the Referer header, decoded
	UserAgent = "user_agent" // the User-Agent header
)

// MinLiteral is the shortest literal the fast prefilter indexes; shorter
// ones are searched one by one, so a family may have only a few.
const (
	MinLiteral      = 4
	maxShortLiteral = 12 // short literals across all families
)

// Signature is one pattern of a family.
type Signature struct {
	ID     string   `yaml:"id"`
	Name   string   `yaml:"name"`
	CVE    string   `yaml:"cve"`
	Fields []string `yaml:"in"`
	// Any are lower-case literals, at least one of which the (lower-cased,
	// decoded) text must contain; they are the prefilter.
	Any []string `yaml:"any"`
	// Pattern, when set, must also match (RE2, on the lower-cased text).
	Pattern  string `yaml:"pattern"`
	Disabled bool   `yaml:"disabled"`

	Family string         `yaml:"-"`
	Source string         `yaml:"-"`
	Re     *regexp.Regexp `yaml:"-"`
}

// In reports whether the signature looks at field.
func (s *Signature) In(field string) bool { return slices.Contains(s.Fields, field) }

type file struct {
	Family      string      `yaml:"family"`
	Description string      `yaml:"description"`
	Signatures  []Signature `yaml:"signatures"`
}

// Set is every signature, in file order (built-in files sorted by name,
// then the directory's), with the ids unique.
type Set struct {
	Signatures []*Signature
	byID       map[string]*Signature
}

// Lookup returns the signature with an id.
func (s *Set) Lookup(id string) (*Signature, bool) {
	sig, ok := s.byID[id]
	return sig, ok
}

var (
	idRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	cveRE  = regexp.MustCompile(`^CVE-\d{4}-\d{4,7}$`)
	fields = []string{Target, Path, Referer, UserAgent}
)

// Builtin returns the built-in signatures.
func Builtin() *Set {
	s, err := Load()
	if err != nil {
		panic("built-in signatures: " + err.Error())
	}
	return s
}

// Load returns the built-in signature files, each replaced by the file of
// the same name in a directory of dirs, plus the directories' other *.yaml
// files. Empty dirs and dirs that do not exist are skipped: the signatures
// directory is optional inside rules.dir. Every problem is reported, each
// naming its file.
func Load(dirs ...string) (*Set, error) {
	var errs []error
	read, err := configkit.ReadYAMLFiles(builtin, "*.yaml", "signatures/", dirs, true)
	if err != nil {
		errs = append(errs, fmt.Errorf("signatures: %w", err))
	}
	files := map[string][]byte{} // base name → content
	srcs := map[string]string{}
	for _, f := range read {
		files[f.Base], srcs[f.Base] = f.Data, f.Src
	}
	order := make([]string, 0, len(files))
	for n := range files {
		order = append(order, n)
	}
	sort.Strings(order)
	set := &Set{byID: map[string]*Signature{}}
	short := 0
	for _, n := range order {
		sigs, err := parse(srcs[n], files[n])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, s := range sigs {
			if old, dup := set.byID[s.ID]; dup {
				errs = append(errs, fmt.Errorf("signatures %s: id %q is already used in %s: ids must be unique", s.Source, s.ID, old.Source))
				continue
			}
			set.byID[s.ID] = s
			set.Signatures = append(set.Signatures, s)
			for _, l := range s.Any {
				if len(l) < MinLiteral {
					short++
				}
			}
		}
	}
	if short > maxShortLiteral {
		errs = append(errs, fmt.Errorf("signatures: %d literals shorter than %d bytes, at most %d: each costs a search of every request; lengthen them", short, MinLiteral, maxShortLiteral))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return set, nil
}

func parse(src string, b []byte) ([]*Signature, error) {
	var f file
	if err := configkit.DecodeYAML(b, &f, false); err != nil {
		if errors.Is(err, configkit.ErrEmpty) {
			return nil, nil // an empty file switches a built-in family off
		}
		return nil, fmt.Errorf("signatures %s: %w", src, err)
	}
	switch f.Family {
	case Exploit, Probe, Allow:
	default:
		return nil, fmt.Errorf("signatures %s: family %q: use exploit, probe or allow", src, f.Family)
	}
	var out []*Signature
	var errs []error
	for i := range f.Signatures {
		s := &f.Signatures[i]
		if s.Disabled {
			continue
		}
		s.Family, s.Source = f.Family, src
		if err := s.check(); err != nil {
			errs = append(errs, fmt.Errorf("signatures %s: %s: %w", src, s.label(i), err))
			continue
		}
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}

func (s *Signature) label(i int) string {
	if s.ID != "" {
		return "signature " + s.ID
	}
	return fmt.Sprintf("signature #%d", i+1)
}

func (s *Signature) check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !idRE.MatchString(s.ID) {
		bad("id %q: use lower-case letters, digits, '-', '_' and '.' (at most 64)", s.ID)
	}
	if s.Name == "" {
		bad("name is empty: say what the signature catches")
	}
	if s.CVE != "" && !cveRE.MatchString(s.CVE) {
		bad("cve %q: write it as CVE-2021-44228", s.CVE)
	}
	if len(s.Fields) == 0 {
		s.Fields = []string{Target, Referer, UserAgent}
	}
	for _, f := range s.Fields {
		if !slices.Contains(fields, f) {
			bad("in: %q: use %s", f, strings.Join(fields, ", "))
		}
	}
	if s.Family == Allow && (len(s.Fields) != 1 || s.Fields[0] != UserAgent) {
		bad("in: allow signatures look at the user agent only: write in: [user_agent]")
	}
	if len(s.Any) == 0 {
		bad("any is empty: list the literals one of which every match contains (they keep matching fast)")
	}
	for _, l := range s.Any {
		if l != strings.ToLower(l) || len(l) < 2 {
			bad("any: %q: literals are lower case (text is lower-cased before matching) and at least 2 bytes", l)
		}
	}
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			bad("pattern: %v", err)
		}
		s.Re = re
	}
	return errors.Join(errs...)
}
