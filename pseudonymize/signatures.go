package pseudonymize

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
	"sync"

	"github.com/vakt-dev/vakt/analyze/rules/signatures"
	"github.com/vakt-dev/vakt/internal/event"
)

// Signature matching (analyze/rules/signatures/*.yaml): every request's
// lower-cased, decoded target, its referrer and its user agent are checked
// against the signature files before scrubbing. Nearly every request is
// clean, so the literals of the signatures are found with a bloom filter
// over 4-byte windows: one table lookup per byte of text, and only a hit
// looks at the literals themselves and runs a signature's pattern.

// maxSignatures bounds a set, so that the candidates of one text fit a
// bitset on the stack.
const maxSignatures = 512

// Matcher matches the signatures of a set.
type Matcher struct {
	set *signatures.Set
	// One index per field: the target (path and query, with path-only
	// signatures), the referrer and the user agent.
	target, referer, agent literalIndex
	agents                 agentCache
	// refererPrefilter: every literal of every referrer signature has a
	// refererSuspect byte, so suspectReferer may skip a referrer.
	refererPrefilter bool
}

// literalIndex finds which signatures' literals occur in a text.
type literalIndex struct {
	bloom [1 << 16 / 64]uint64 // hashes of the first 4 bytes of long literals
	long  map[uint32][]literal // first 4 bytes → literals
	short []literal            // literals under 4 bytes, searched one by one
	any   bool
}

type literal struct {
	s    string
	sigs []int // indexes into Matcher.set.Signatures
}

func window(s string) uint32 { return binary.LittleEndian.Uint32([]byte(s[:4])) }

func bloomBit(w uint32) uint32 { return (w * 0x9E3779B1) >> 16 }

func (x *literalIndex) add(lit string, sig int) {
	x.any = true
	if len(lit) < signatures.MinLiteral {
		for i := range x.short {
			if x.short[i].s == lit {
				x.short[i].sigs = append(x.short[i].sigs, sig)
				return
			}
		}
		x.short = append(x.short, literal{lit, []int{sig}})
		return
	}
	w := window(lit)
	b := bloomBit(w)
	x.bloom[b/64] |= 1 << (b % 64)
	if x.long == nil {
		x.long = map[uint32][]literal{}
	}
	for i, l := range x.long[w] {
		if l.s == lit {
			x.long[w][i].sigs = append(x.long[w][i].sigs, sig)
			return
		}
	}
	x.long[w] = append(x.long[w], literal{lit, []int{sig}})
}

// candidates is a bitset of signature indexes.
type candidates [maxSignatures / 64]uint64

func (c *candidates) set(sigs []int) {
	for _, i := range sigs {
		c[i/64] |= 1 << (i % 64)
	}
}

// find marks in c the signatures one of whose literals s contains, and
// reports whether there was any.
func (x *literalIndex) find(s string, c *candidates) bool {
	if !x.any {
		return false
	}
	found := false
	for _, l := range x.short {
		if strings.Contains(s, l.s) {
			c.set(l.sigs)
			found = true
		}
	}
	if len(s) < signatures.MinLiteral || x.long == nil {
		return found
	}
	w := uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16
	for i := 3; i < len(s); i++ {
		w = w&0x00ffffff | uint32(s[i])<<24
		if b := bloomBit(w); x.bloom[b/64]&(1<<(b%64)) != 0 {
			for _, l := range x.long[w] {
				if strings.HasPrefix(s[i-3:], l.s) {
					c.set(l.sigs)
					found = true
				}
			}
		}
		w >>= 8
	}
	return found
}

// NewMatcher indexes a signature set.
func NewMatcher(set *signatures.Set) (*Matcher, error) {
	if len(set.Signatures) > maxSignatures {
		return nil, fmt.Errorf("signatures: %d signatures, at most %d", len(set.Signatures), maxSignatures)
	}
	m := &Matcher{set: set, refererPrefilter: true}
	for i, s := range set.Signatures {
		for _, lit := range s.Any {
			if s.In(signatures.Referer) && !strings.ContainsFunc(lit, func(r rune) bool { return r < 256 && r != '%' && refererSuspect[r] }) {
				m.refererPrefilter = false
			}
			if s.In(signatures.Target) || s.In(signatures.Path) {
				m.target.add(lit, i)
			}
			if s.In(signatures.Referer) {
				m.referer.add(lit, i)
			}
			if s.In(signatures.UserAgent) {
				m.agent.add(lit, i)
			}
		}
	}
	return m, nil
}

// Set returns the matcher's signatures.
func (m *Matcher) Set() *signatures.Set { return m.set }

// match is what a text matched: the first signature of each family, by
// index, or -1.
type match struct{ exploit, probe, allow int }

var noMatch = match{-1, -1, -1}

func (a *match) merge(b match) {
	if a.exploit < 0 {
		a.exploit = b.exploit
	}
	if a.probe < 0 {
		a.probe = b.probe
	}
	if a.allow < 0 {
		a.allow = b.allow
	}
}

// verify runs the candidate signatures that look at field over s, in
// order, and returns the first match of each family. pathEnd bounds the
// text path-only signatures see.
func (m *Matcher) verify(c *candidates, field string, s string, pathEnd int) match {
	out := noMatch
	for w, word := range c {
		for w64 := word; w64 != 0; w64 &= w64 - 1 {
			i := w*64 + bits.TrailingZeros64(w64)
			sig := m.set.Signatures[i]
			text := s
			switch {
			case sig.In(field):
			case field == signatures.Target && sig.In(signatures.Path):
				text = s[:pathEnd]
				if !containsAny(text, sig.Any) {
					continue
				}
			default:
				continue
			}
			if sig.Re != nil && !sig.Re.MatchString(text) {
				continue
			}
			var slot *int
			switch sig.Family {
			case signatures.Exploit:
				slot = &out.exploit
			case signatures.Probe:
				slot = &out.probe
			default:
				slot = &out.allow
			}
			if *slot < 0 {
				*slot = i
			}
		}
	}
	return out
}

func containsAny(s string, lits []string) bool {
	for _, l := range lits {
		if strings.Contains(s, l) {
			return true
		}
	}
	return false
}

// targetLayer matches one lower-case decoding layer of the target.
func (m *Matcher) targetLayer(layer string) match {
	var c candidates
	if !m.target.find(layer, &c) {
		return noMatch
	}
	pathEnd := strings.IndexByte(layer, '?')
	if pathEnd < 0 {
		pathEnd = len(layer)
	}
	return m.verify(&c, signatures.Target, layer, pathEnd)
}

// refererSuspect: a referrer without any of these bytes, raw or
// percent-encoded, cannot carry an exploit (every referrer signature needs
// one), so most referrers are never decoded or searched. Benign referrers
// do encode other bytes (%20, %2F, %3A, %3D, %26 in search links).
var refererSuspect = func() (t [256]bool) {
	for _, c := range []byte("${}()<>'\"`;|\\@#\n") {
		t[c] = true
	}
	t['%'] = true // double encoding: %25
	return t
}()

func suspectReferer(ref string) bool {
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if c == '%' && i+1 < len(ref) && (ref[i+1] == 'u' || ref[i+1] == 'U') {
			return true // IIS %uXXXX: rare, decoded rather than second-guessed
		}
		if c == '%' && i+2 < len(ref) && isHex(ref[i+1]) && isHex(ref[i+2]) {
			// Overlong UTF-8 (%c0%af, %c1%9c, %e0%80%ae) decodes to '/', '\' or '.'.
			if b := unhex(ref[i+1])<<4 | unhex(ref[i+2]); refererSuspect[b] || b == 0xc0 || b == 0xc1 || b == 0xe0 {
				return true
			}
			i += 2
			continue
		}
		if c != '%' && refererSuspect[c] {
			return true
		}
	}
	return false
}

func (m *Matcher) refererMatch(ref string) match {
	if ref == "" || ref == "-" || !m.referer.any {
		return noMatch
	}
	if m.refererPrefilter && !suspectReferer(ref) {
		return noMatch
	}
	out := noMatch
	layer := strings.ToLower(ref)
	for round := 0; round <= maxDecodeRounds; round++ {
		var c candidates
		if m.referer.find(layer, &c) {
			out.merge(m.verify(&c, signatures.Referer, layer, len(layer)))
		}
		next := strings.ToLower(decodeOnce(layer))
		if next == layer {
			break
		}
		layer = next
	}
	return out
}

func (m *Matcher) agentMatch(lowerUA string) match {
	var c candidates
	if !m.agent.find(lowerUA, &c) {
		return noMatch
	}
	return m.verify(&c, signatures.UserAgent, lowerUA, len(lowerUA))
}

// flagsOf turns a match into flags and the signature id to store: the
// exploit's, else the probe's.
func (m *Matcher) flagsOf(x match) (event.Flags, string) {
	var f event.Flags
	id := ""
	if x.probe >= 0 {
		f |= event.FlagProbe
		id = m.set.Signatures[x.probe].ID
	}
	if x.exploit >= 0 {
		f |= event.FlagExploit
		id = m.set.Signatures[x.exploit].ID
	}
	if x.allow >= 0 {
		f |= event.FlagAllowed
	}
	return f, id
}

var (
	builtinMatcherOnce sync.Once
	builtinMatcher     *Matcher
)

// BuiltinMatcher matches the built-in signatures.
func BuiltinMatcher() *Matcher {
	builtinMatcherOnce.Do(func() {
		m, err := NewMatcher(signatures.Builtin())
		if err != nil {
			panic(err)
		}
		builtinMatcher = m
	})
	return builtinMatcher
}
