package analyze

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/store"
	"github.com/vakt-dev/vakt/subject/marks"
)

// A rule that judges each salt epoch on its own rows (Rule.PerEpoch) finds
// the same offenders in an epoch whatever range holds the epoch whole. A
// report keeps those findings per rule and epoch (store.RuleResultsTable)
// and, for the epochs of its range that it holds whole, reads them instead
// of evaluating the rule again: over 30 days, evaluating these rules is
// then the work of the range's ragged ends and of the day being written.
// An epoch's findings are used only while nothing they depend on changed:
// the epoch's request count (store.EpochsTable: late rows, an import),
// its restricted clients and the rule's definition; erasure deletes those
// of the erased client's epochs. The range's other epochs, and every epoch
// when the tables are missing or not readable, are evaluated as before.

// epochSettle is how long an epoch must have had no request before its
// findings are kept: the epoch being written changes with every batch.
const epochSettle = time.Hour

// epochCacheFormat changes when the kept findings' form or the evaluation
// of rules does, so that findings kept by an older vakt are not read.
const epochCacheFormat = "1"

// epochsParam names the query parameter with the epochs a query reads.
const epochsParam = "vakt_epochs"

type epochsKey struct{}

// epochSelection is the epochs a query reads: only these, or all but
// these (exclude).
type epochSelection struct {
	exclude bool
	epochs  []uint32
}

func withEpochs(ctx context.Context, s epochSelection) context.Context {
	return context.WithValue(ctx, epochsKey{}, s)
}

func epochsOf(ctx context.Context) (epochSelection, bool) {
	s, ok := ctx.Value(epochsKey{}).(epochSelection)
	return s, ok
}

func (s epochSelection) condition() string {
	op := "IN"
	if s.exclude {
		op = "NOT IN"
	}
	return "epoch " + op + " {" + epochsParam + ":Array(UInt32)}"
}

func (s epochSelection) value() string { return numberList(s.epochs) }

// numberList is l as an array literal, [1,2,3]: a query parameter's value.
func numberList[T uint32 | uint64](l []T) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(e), 10))
	}
	b.WriteByte(']')
	return b.String()
}

// epochExtent is where an epoch's stored requests lie, to the second:
// [first, end).
type epochExtent struct {
	epoch      uint32
	requests   uint64
	first, end time.Time
}

func readEpochExtents(ctx context.Context, conn driver.Conn, db string) ([]epochExtent, error) {
	rows, err := conn.Query(ctx, "SELECT epoch, sum(requests), min(first_ts), max(end_ts) FROM `"+db+"`."+store.EpochsTable+
		" GROUP BY epoch ORDER BY epoch")
	if err != nil {
		return nil, chError(err)
	}
	defer rows.Close()
	var out []epochExtent
	for rows.Next() {
		var e epochExtent
		if err := rows.Scan(&e.epoch, &e.requests, &e.first, &e.end); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ruleHash identifies a rule's definition: what it finds, not how it is
// shown (severity, description and action are read from the rule). The
// SQL with its macros expanded, so that a vakt whose macros differ does
// not read what another kept.
func ruleHash(r Rule) uint64 {
	h := fnv.New64a()
	for _, s := range []string{epochCacheFormat, r.Name, r.Scope, expandMacros(r.SQL)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	for _, k := range slices.Sorted(maps.Keys(r.Thresholds)) {
		h.Write([]byte(k))
		_ = binary.Write(h, binary.LittleEndian, r.Thresholds[k])
	}
	return h.Sum64()
}

// epochFingerprints is, per epoch, the hash of its request count and of
// its restricted clients: what an epoch's findings were evaluated over.
func epochFingerprints(extents []epochExtent, restricted []marks.Client) map[uint32]uint64 {
	byEpoch := map[uint32][]uint64{}
	for _, c := range restricted {
		byEpoch[c.Epoch] = append(byEpoch[c.Epoch], c.ID)
	}
	out := make(map[uint32]uint64, len(extents))
	for _, e := range extents {
		ids := byEpoch[e.epoch]
		slices.Sort(ids)
		h := fnv.New64a()
		_ = binary.Write(h, binary.LittleEndian, e.requests)
		_ = binary.Write(h, binary.LittleEndian, ids)
		out[e.epoch] = h.Sum64()
	}
	return out
}

// epochPlan is how a report evaluates its per-epoch rules: the kept
// findings of the epochs it holds whole, the rules evaluated over those
// whole epochs without valid findings (to be kept), and over the rest.
type epochPlan struct {
	rules  []Rule
	hashes []uint64
	kept   map[uint32][][]Offender // per epoch, per rule (decodeKept)
	// keptText is the kept findings as read, per epoch and rule: the
	// epochs kept whole.
	keptText map[uint32][]*string
	fill     []uint32 // whole epochs to evaluate and keep
	whole    []uint32 // every whole epoch: kept and fill
	ext      map[uint32]epochExtent
	fp       map[uint32]uint64
	stages   []*stagePlan // of the staged rules
	// fillRanges and liveRanges are the time ranges to evaluate over,
	// the fill epochs' and the others'.
	fillRanges, liveRanges []Filter
}

// planEpochs reads the epochs' extents and the kept findings of the
// per-epoch rules and kept rows of the staged ones (Rule.EpochStage). It
// returns nil, and no error, when that would not make the report faster
// (planPays), as when f holds no epoch whole.
func planEpochs(ctx context.Context, conn driver.Conn, db string, rules, staged []Rule, f Filter, now time.Time) (*epochPlan, error) {
	extents, err := readEpochExtents(ctx, conn, db)
	if err != nil {
		return nil, err
	}
	p := &epochPlan{rules: rules, kept: map[uint32][][]Offender{}, keptText: map[uint32][]*string{}, ext: map[uint32]epochExtent{}}
	var live []epochExtent
	for _, e := range extents {
		p.ext[e.epoch] = e
		switch {
		case !e.end.After(f.Since) || !e.first.Before(f.Until):
			// no row in the range
		case !e.first.Before(f.Since) && !e.end.After(f.Until) && e.end.Add(epochSettle).Before(now):
			p.whole = append(p.whole, e.epoch)
		default:
			live = append(live, e)
		}
	}
	liveRanges := coveringRanges(live, f)
	if !planPays(p.whole, live, p.ext, f, len(liveRanges)) {
		return nil, nil
	}
	p.fp = epochFingerprints(extents, restrictedOf(ctx))
	for _, r := range rules {
		p.hashes = append(p.hashes, ruleHash(r))
	}
	for _, r := range staged {
		p.stages = append(p.stages, &stagePlan{rule: r, hash: stageHash(r)})
	}
	if err := p.readKept(ctx, conn, db); err != nil {
		return nil, err
	}
	if len(rules) > 0 {
		var fill []epochExtent
		for _, e := range p.whole {
			if _, ok := p.keptText[e]; !ok {
				p.fill = append(p.fill, e)
				fill = append(fill, p.ext[e])
			}
		}
		p.fillRanges = coveringRanges(fill, Filter{Since: f.Since, Until: f.Until, Bucket: f.Bucket})
		p.liveRanges = liveRanges
	}
	for _, s := range p.stages {
		for _, e := range p.whole {
			if !slices.Contains(s.kept, e) {
				s.fill = append(s.fill, e)
			}
		}
	}
	return p, nil
}

// planPays reports whether kept findings make a report faster: they spare
// evaluating the whole epochs' rows, but the per-epoch rules are then
// evaluated once per live range (one at each end of f, each query analysed
// again) and the staged rules over kept and live rows. The plan is used
// when the whole epochs hold at least 1.5 times the other rows for each
// of the ranges live epochs cover, a live epoch's rows counted in
// proportion to its time in f.
// Threat reports over the 30 M-row set, with the plan against without
// (medians of five to seven, alternating; whole share, live ranges): the
// last 24 h, whose one whole epoch was the last 1.9 h (7 %, 1), 396
// against 334 ms; three days ending then (69 %, 1) 378 against 493; noon
// to noon over two days (50 %, 2) 655 against 480, three (67 %, 2) 569
// against 497, four (75 %, 2) 568 against 588, five (80 %, 2) 618 against
// 694; seven days (86 %, 1) 469 against 937.
func planPays(whole []uint32, live []epochExtent, ext map[uint32]epochExtent, f Filter, ranges int) bool {
	var kept, rest float64
	for _, e := range whole {
		kept += float64(ext[e].requests)
	}
	for _, e := range live {
		// end is a second after the last row at least (store.EpochsTable).
		if since, until := maxTime(f.Since, e.first), minTime(f.Until, e.end); until.After(since) {
			rest += float64(e.requests) * float64(until.Sub(since)) / float64(e.end.Sub(e.first))
		}
	}
	return len(whole) > 0 && kept >= 1.5*rest*float64(ranges)
}

// coveringRanges is f narrowed to the time ranges that hold the epochs'
// rows within f, overlapping ones merged.
func coveringRanges(epochs []epochExtent, f Filter) []Filter {
	slices.SortFunc(epochs, func(a, b epochExtent) int { return a.first.Compare(b.first) })
	var out []Filter
	for _, e := range epochs {
		since, until := maxTime(f.Since, e.first), minTime(f.Until, e.end)
		if !until.After(since) {
			continue
		}
		if n := len(out); n > 0 && !since.After(out[n-1].Until) {
			out[n-1].Until = maxTime(out[n-1].Until, until)
			continue
		}
		g := f
		g.Since, g.Until = since, until
		out = append(out, g)
	}
	return out
}

// Log logs how the per-epoch findings were come by, and why they were
// not kept or not read: a user that may not insert into the rule results
// (the security role alone) only at debug level.
func (u EpochUse) Log(log *slog.Logger) {
	if u.Kept+u.Evaluated+u.StageKept > 0 {
		log.Debug("per-epoch rules", "epochs_kept", u.Kept, "epochs_evaluated", u.Evaluated,
			"stage_epochs_kept", u.StageKept, "stage_epochs_evaluated", u.StageEvaluated)
	}
	var ex *clickhouse.Exception
	switch err := u.KeepErr; {
	case err == nil:
	case errors.As(err, &ex) && ex.Code == 497: // ACCESS_DENIED
		log.Debug("the per-epoch findings were not kept: the user may not insert into "+store.RuleResultsTable, "err", err)
	default:
		log.Warn("the per-epoch findings were not kept; the next report evaluates those epochs again", "err", err)
	}
	if u.PlanErr != nil {
		log.Warn("kept per-epoch findings not read; every epoch was evaluated", "err", u.PlanErr)
	}
}

// keptOffender is an offender as kept: what the rule's query returned.
type keptOffender struct {
	Site       string              `json:"site"`
	ID         string              `json:"id"`
	Epoch      uint32              `json:"epoch"`
	Requests   uint64              `json:"requests"`
	FirstSeen  time.Time           `json:"first_seen"`
	LastSeen   time.Time           `json:"last_seen"`
	Country    string              `json:"country,omitempty"`
	ASN        uint32              `json:"asn,omitempty"`
	Signatures []string            `json:"signatures,omitempty"`
	Evidence   map[string]*float64 `json:"evidence"` // nil: NULL (NaN)
}

// readKept reads the valid kept findings of the whole epochs (an epoch
// counts as kept when every per-epoch rule's findings for it are valid)
// and which whole epochs each stage has valid rows of.
func (p *epochPlan) readKept(ctx context.Context, conn driver.Conn, db string) error {
	stageHashes := make([]uint64, len(p.stages))
	for i, s := range p.stages {
		stageHashes[i] = s.hash
	}
	qctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{
		"hashes": numberList(slices.Concat(p.hashes, stageHashes)), "stages": numberList(stageHashes),
		"epochs": numberList(p.whole)}))
	// A stage's rows stay in the engine: only their type is read.
	rows, err := conn.Query(qctx, "SELECT rule_hash, epoch, argMax(fingerprint, evaluated_at), "+
		"if(has({stages:Array(UInt64)}, rule_hash), '', argMax(kept, evaluated_at)), argMax(structure, evaluated_at) FROM `"+db+"`."+
		store.RuleResultsTable+" WHERE has({hashes:Array(UInt64)}, rule_hash) AND has({epochs:Array(UInt32)}, epoch) GROUP BY rule_hash, epoch")
	if err != nil {
		return chError(err)
	}
	defer rows.Close()
	found := map[uint32][]*string{}
	for rows.Next() {
		var (
			hash, fp        uint64
			epoch           uint32
			text, structure string
		)
		if err := rows.Scan(&hash, &epoch, &fp, &text, &structure); err != nil {
			return err
		}
		if fp != p.fp[epoch] {
			continue
		}
		for _, s := range p.stages {
			if s.hash != hash {
				continue
			}
			if structure != "" && s.columns == nil {
				if err := json.Unmarshal([]byte(structure), &s.columns); err != nil {
					return fmt.Errorf("kept epoch stage of rule %s: %w", s.rule.Name, err)
				}
			}
			s.kept = append(s.kept, epoch)
		}
		for i, h := range p.hashes {
			if h != hash {
				continue
			}
			if found[epoch] == nil {
				found[epoch] = make([]*string, len(p.rules))
			}
			found[epoch][i] = &text
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for e, byRule := range found {
		if !slices.Contains(byRule, nil) {
			p.keptText[e] = byRule
		}
	}
	return nil
}

// decodeKept decodes the kept findings read (readKept): a report does it
// while the engine evaluates the rest.
func (p *epochPlan) decodeKept() error {
	for e, byRule := range p.keptText {
		out := make([][]Offender, len(byRule))
		for i, text := range byRule {
			kept, err := unmarshalKept([]byte(*text))
			if err != nil {
				return fmt.Errorf("kept findings of rule %s, epoch %d: %w", p.rules[i].Name, e, err)
			}
			out[i] = p.rules[i].fromKept(kept)
		}
		p.kept[e] = out
	}
	return nil
}

func (r Rule) fromKept(kept []keptOffender) []Offender {
	out := make([]Offender, 0, len(kept))
	for _, k := range kept {
		o := Offender{Rule: r.Name, Category: r.Category, Scope: r.Scope, Severity: r.Severity,
			Site: k.Site, ID: k.ID, Epoch: k.Epoch, Requests: k.Requests, FirstSeen: k.FirstSeen.UTC(), LastSeen: k.LastSeen.UTC(),
			Country: k.Country, ASN: k.ASN, Signatures: k.Signatures, Evidence: make(map[string]float64, len(k.Evidence))}
		for name, v := range k.Evidence {
			o.Evidence[name] = math.NaN()
			if v != nil {
				o.Evidence[name] = *v
			}
		}
		out = append(out, o)
	}
	return out
}

func toKept(l []Offender) []keptOffender {
	out := make([]keptOffender, len(l))
	for i, o := range l {
		k := keptOffender{Site: o.Site, ID: o.ID, Epoch: o.Epoch, Requests: o.Requests, FirstSeen: o.FirstSeen, LastSeen: o.LastSeen,
			Country: o.Country, ASN: o.ASN, Signatures: o.Signatures, Evidence: make(map[string]*float64, len(o.Evidence))}
		for name, v := range o.Evidence {
			if !math.IsNaN(v) {
				k.Evidence[name] = &v
			} else {
				k.Evidence[name] = nil
			}
		}
		out[i] = k
	}
	return out
}

// offenders are the findings of rule i over f: kept, filled and live.
// filled are rule i's findings over the fill epochs (every site), live
// its findings over the other epochs (f's site).
func (p *epochPlan) offenders(i int, f Filter, filled, live []Offender) []Offender {
	n := len(filled) + len(live)
	for _, e := range p.whole {
		if byRule, ok := p.kept[e]; ok {
			n += len(byRule[i])
		}
	}
	out := make([]Offender, 0, n) // an Offender is ~200 bytes: grown, copied again and again
	for _, e := range p.whole {
		if byRule, ok := p.kept[e]; ok {
			out = append(out, bySite(byRule[i], f.Site)...)
		}
	}
	out = append(out, bySite(filled, f.Site)...)
	return append(out, live...)
}

func bySite(l []Offender, site string) []Offender {
	if site == "" {
		return l
	}
	var out []Offender
	for _, o := range l {
		if o.Site == site {
			out = append(out, o)
		}
	}
	return out
}

// keep writes the findings over the fill epochs (filled, per rule), one
// row per rule and epoch, empty ones included.
func (p *epochPlan) keep(ctx context.Context, conn driver.Conn, db string, filled [][]Offender) error {
	byEpoch := map[uint32][][]Offender{}
	for _, e := range p.fill {
		byEpoch[e] = make([][]Offender, len(p.rules))
	}
	for i, l := range filled {
		for _, o := range l {
			if byEpoch[o.Epoch] == nil {
				return fmt.Errorf("rule %s: an offender of epoch %d, outside the epochs evaluated: a per_epoch rule must return its offenders' epoch", p.rules[i].Name, o.Epoch)
			}
			byEpoch[o.Epoch][i] = append(byEpoch[o.Epoch][i], o)
		}
	}
	ictx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"async_insert": 0}))
	b, err := conn.PrepareBatch(ictx, "INSERT INTO `"+db+"`."+store.RuleResultsTable+
		" (rule, rule_hash, epoch, fingerprint, end_ts, evaluated_at, kept)")
	if err != nil {
		return chError(err)
	}
	defer b.Close()
	now := time.Now().UTC()
	for _, e := range p.fill {
		for i, r := range p.rules {
			text, err := json.Marshal(toKept(byEpoch[e][i]))
			if err != nil {
				_ = b.Abort()
				return err
			}
			if err := b.Append(r.Name, p.hashes[i], e, p.fp[e], p.ext[e].end, now, string(text)); err != nil {
				_ = b.Abort()
				return err
			}
		}
	}
	return chError(b.Send())
}
