package logformat

import (
	"github.com/vakt-dev/vakt/internal/event"
)

// detectLines is how many lines must parse in one format before Auto
// settles on it.
const detectLines = 8

// Auto detects the format of a source from its lines. Until it has
// settled, each line is tried in every built-in format, most specific
// first (caddy, nginx_json, vhost_combined, main, combined); once
// detectLines lines have parsed in one format, that format is the
// source's and onDetect is called, once. After that a line the detected
// format rejects is still tried in the others (a log that mixes formats,
// say after a configuration change, loses nothing), and rejected with the
// detected format's reason only if none parses it.
//
// Custom log_formats cannot be guessed: configure them. A combined line
// with extra fields (timings, say) is detected as combined and the extra
// fields are ignored.
//
// An Auto holds state: use one per source, from one goroutine.
type Auto struct {
	onDetect func(format string)
	cands    []Parser
	counts   []int
	current  int // index in cands of the detected format, or -1
}

// NewAuto returns an auto-detecting parser. onDetect, if not nil, is
// called with the format's name when detection settles.
func NewAuto(onDetect func(format string)) *Auto {
	c := []Parser{caddyParser{}, jsonParser{}, vhostParser{}, mainParser{}, combinedParser{}}
	return &Auto{onDetect: onDetect, cands: c, counts: make([]int, len(c)), current: -1}
}

// OnDetect sets the function called when detection settles.
func (a *Auto) OnDetect(fn func(format string)) { a.onDetect = fn }

// Format returns the detected format, or "auto" before detection settles.
func (a *Auto) Format() string {
	if a.current < 0 {
		return FormatAuto
	}
	return a.cands[a.current].Format()
}

// Parse parses a line as described for Auto.
func (a *Auto) Parse(line []byte, r *event.Raw) error {
	if a.current >= 0 {
		err := a.cands[a.current].Parse(line, r)
		if err == nil {
			return nil
		}
		if ReasonOf(err) == ReasonEmpty || ReasonOf(err) == ReasonTooLong || ReasonOf(err) == ReasonInvalidUTF8 {
			return err // no format would do better
		}
		for i, p := range a.cands {
			if i != a.current && p.Parse(line, r) == nil {
				return nil
			}
		}
		return err
	}
	var first error
	for i, p := range a.cands {
		err := p.Parse(line, r)
		if err == nil {
			a.counts[i]++
			if a.counts[i] >= detectLines {
				a.current = i
				if a.onDetect != nil {
					a.onDetect(p.Format())
				}
			}
			return nil
		}
		if k := ReasonOf(err); k == ReasonEmpty || k == ReasonTooLong || k == ReasonInvalidUTF8 {
			return err
		}
		if first == nil || preferError(line, p) {
			first = err
		}
	}
	return first
}

// preferError picks whose error explains a line no format parses: a JSON
// format's for a line that looks like JSON, combined's otherwise.
func preferError(line []byte, p Parser) bool {
	isJSON := false
	for _, c := range line {
		if c == ' ' || c == '\t' {
			continue
		}
		isJSON = c == '{'
		break
	}
	switch p.Format() {
	case FormatNginxJSON:
		return isJSON
	case FormatCombined:
		return !isJSON
	}
	return false
}
