package analyze

import (
	"context"
	"slices"
	"time"
)

// keepInterval is how often the alert loop keeps the findings of epochs
// that settled since (keepSettled); keepFirst is when it does the first
// time, once `vakt run` has started.
const (
	keepInterval = 15 * time.Minute
	keepFirst    = time.Minute
)

// keepLoop runs keepSettled until ctx ends.
func (a *Alerter) keepLoop(ctx context.Context) {
	t := time.NewTimer(keepFirst)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.keepSettled(ctx)
		t.Reset(keepInterval)
	}
}

// keepSettled keeps the findings and stage rows (epochcache.go,
// epochstage.go) of every settled epoch that has none yet, so that no
// interactive report pays for an epoch's first evaluation: the report of
// the day after reads yesterday's epoch kept. The newest epoch is left
// out, whatever its last request's time: it is the one being written (an
// import of old logs writes it with old times). It returns how many
// epochs it kept, summed over the rules.
func (a *Alerter) keepSettled(ctx context.Context) int {
	var perEpoch, staged []Rule
	for _, r := range a.rules {
		switch {
		case r.PerEpoch:
			perEpoch = append(perEpoch, r)
		case r.EpochStage != "":
			staged = append(staged, r)
		}
	}
	if len(perEpoch)+len(staged) == 0 {
		return 0
	}
	if a.js != nil {
		var err error
		if ctx, err = LoadRestricted(ctx, a.js); err != nil {
			a.log.Warn("findings not kept this round", "err", err)
			return 0
		}
	}
	extents, err := readEpochExtents(ctx, a.conn, a.db)
	if err != nil || len(extents) < 2 {
		return 0
	}
	now := a.now().UTC()
	slices.SortFunc(extents, func(x, y epochExtent) int { return int(x.epoch) - int(y.epoch) })
	var f Filter
	for _, e := range extents[:len(extents)-1] {
		if !e.end.Add(epochSettle).Before(now) {
			continue
		}
		if f.Since.IsZero() || e.first.Before(f.Since) {
			f.Since = e.first
		}
		f.Until = maxTime(f.Until, e.end)
	}
	// Nothing of the newest epoch in the range, so that it is not whole
	// in it.
	f.Until = minTime(f.Until, extents[len(extents)-1].first)
	if f.Since.IsZero() || !f.Until.After(f.Since) {
		return 0
	}
	rules := slices.Concat(perEpoch, staged)
	plan, err := planEpochs(ctx, a.conn, a.db, perEpoch, staged, f, now)
	if err != nil || plan == nil {
		return 0
	}
	missing := len(plan.fill) > 0
	for _, s := range plan.stages {
		missing = missing || len(s.fill) > 0
	}
	if !missing {
		return 0
	}
	start := time.Now()
	th, err := ThreatReport(ctx, a.conn, a.db, rules, f)
	if err != nil {
		a.log.Warn("findings of settled epochs not kept", "err", err)
		return 0
	}
	if th.Epochs.KeepErr != nil {
		a.log.Warn("findings of settled epochs not kept", "err", th.Epochs.KeepErr)
		return 0
	}
	n := th.Epochs.Evaluated*len(perEpoch) + th.Epochs.StageEvaluated
	a.log.Info("kept the findings of settled epochs", "epochs", th.Epochs.Evaluated, "stage_epochs", th.Epochs.StageEvaluated,
		"took", time.Since(start).Round(time.Millisecond))
	return n
}
