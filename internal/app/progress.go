package app

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Values of --progress.
const (
	ProgressAuto   = "auto"   // a bar when stderr is a terminal
	ProgressAlways = "always" // a bar even when it is not
	ProgressNever  = "never"
)

// ProgressWriter returns where a command's progress bar goes for mode:
// w, or nil for no bar (mode never, or auto when w is not a terminal).
func ProgressWriter(mode string, w io.Writer) (io.Writer, error) {
	switch mode {
	case ProgressNever:
		return nil, nil
	case ProgressAlways:
		return w, nil
	case ProgressAuto, "":
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return w, nil
		}
		return nil, nil
	}
	return nil, fmt.Errorf("--progress %q: use auto (a bar when stderr is a terminal), always or never", mode)
}

// progressTick is how often the bar is redrawn: often enough to look
// alive, rarely enough to cost nothing.
const progressTick = 200 * time.Millisecond

// importProgress draws `vakt import`'s bar until stop: bytes of the files
// read (compressed bytes for .gz), with the rate and ETA of those, and
// lines read, lines/s, stored and rejected so far.
type importProgress struct {
	bar   *progressbar.ProgressBar
	w     io.Writer
	total int64 // the bar's maximum: the files' size once ingest listed them
	im    *Importer
	start time.Time
	stop  chan struct{}
	done  chan struct{}
}

func startImportProgress(w io.Writer, im *Importer) *importProgress {
	p := &importProgress{im: im, w: w, total: -1, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{}),
		bar: progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(24),
			progressbar.OptionThrottle(progressTick/2),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionShowDescriptionAtLineEnd(),
		)}
	go p.run()
	return p
}

func (p *importProgress) run() {
	defer close(p.done)
	t := time.NewTicker(progressTick)
	defer t.Stop()
	for {
		p.update()
		select {
		case <-p.stop:
			p.update()
			return
		case <-t.C:
		}
	}
}

func (p *importProgress) update() {
	fp := p.im.in.ImportProgress()
	st := p.im.in.Stats()
	var rejected int64
	for _, n := range st.Rejected {
		rejected += n
	}
	var stored uint64
	if p.im.store != nil {
		stored = p.im.store.Stats().Rows
	}
	rate := float64(st.LinesRead) / max(time.Since(p.start).Seconds(), 1e-3)
	file := ""
	if fp.File != "" {
		file = fmt.Sprintf(" file %d/%d %s", min(fp.FilesDone+1, fp.Files), fp.Files, filepath.Base(fp.File))
	}
	if fp.Files > 0 && fp.BytesTotal != p.total {
		p.total = fp.BytesTotal
		p.bar.ChangeMax64(max(p.total, 1))
	}
	p.bar.Describe(fmt.Sprintf("%d lines (%.0f/s), stored %d, rejected %d%s", st.LinesRead, rate, stored, rejected, file))
	_ = p.bar.Set64(fp.BytesRead)
	// The bar redraws by itself only when the percentage moves: draw every
	// tick, so the counts stay live while reading waits (backpressure) or
	// the stages drain.
	_ = p.bar.RenderBlank()
}

// finish draws the last state and ends the bar's line.
func (p *importProgress) finish() {
	close(p.stop)
	<-p.done
	_ = p.bar.Exit()
	fmt.Fprintln(p.w)
}

// stepBars draws one bar per long step of `vakt migrate` (rows copied of
// the rows to copy), created at the step's first report: a migration
// with nothing to copy draws nothing.
type stepBars struct {
	w     io.Writer
	mu    sync.Mutex
	step  string
	start time.Time
	bar   *progressbar.ProgressBar
}

func (s *stepBars) update(step string, done, total uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bar == nil || step != s.step {
		s.finishLocked()
		s.step, s.start = step, time.Now()
		// The engine commits a copy in large blocks: the bar's own rolling
		// rate would mostly read 0, so rate and ETA are over the whole step.
		s.bar = progressbar.NewOptions64(int64(max(total, 1)),
			progressbar.OptionSetWriter(s.w),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetWidth(24),
			progressbar.OptionThrottle(progressTick/2),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionShowDescriptionAtLineEnd(),
		)
	}
	elapsed := time.Since(s.start)
	rate := float64(done) / max(elapsed.Seconds(), 1e-3)
	eta := "?"
	if done > 0 && done < total {
		eta = (time.Duration(float64(total-done)/rate) * time.Second).Round(time.Second).String()
	} else if done >= total {
		eta = "0s"
	}
	s.bar.Describe(fmt.Sprintf("%s: %.0f rows/s, elapsed %s, ETA %s", step, rate, elapsed.Round(time.Second), eta))
	_ = s.bar.Set64(int64(done))
	_ = s.bar.RenderBlank()
}

func (s *stepBars) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finishLocked()
}

func (s *stepBars) finishLocked() {
	if s.bar != nil {
		_ = s.bar.Exit()
		fmt.Fprintln(s.w)
		s.bar = nil
	}
}
