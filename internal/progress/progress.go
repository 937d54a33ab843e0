// Package progress draws progress bars of long commands (vakt import,
// vakt migrate) on a terminal, with schollz/progressbar.
package progress

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
	Auto   = "auto"   // a bar when stderr is a terminal
	Always = "always" // a bar even when it is not
	Never  = "never"
)

// Writer returns where a command's progress bar goes for mode:
// w, or nil for no bar (mode never, or auto when w is not a terminal).
func Writer(mode string, w io.Writer) (io.Writer, error) {
	switch mode {
	case Never:
		return nil, nil
	case Always:
		return w, nil
	case Auto, "":
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

// ImportState is what an import has done so far.
type ImportState struct {
	Files, FilesDone      int
	File                  string // being read
	BytesRead, BytesTotal int64  // of the files (compressed bytes for .gz)
	LinesRead, Rejected   int64
	Stored                uint64
}

// Import draws `vakt import`'s bar until Finish: bytes of the files read,
// with the rate and ETA of those, and lines read, lines/s, stored and
// rejected so far, as state reports them.
type Import struct {
	bar   *progressbar.ProgressBar
	w     io.Writer
	total int64 // the bar's maximum: the files' size once ingest listed them
	state func() ImportState
	start time.Time
	stop  chan struct{}
	done  chan struct{}
}

// StartImport draws an import's bar on w, polling state.
func StartImport(w io.Writer, state func() ImportState) *Import {
	p := &Import{state: state, w: w, total: -1, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{}),
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

func (p *Import) run() {
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

func (p *Import) update() {
	fp := p.state()
	rate := float64(fp.LinesRead) / max(time.Since(p.start).Seconds(), 1e-3)
	file := ""
	if fp.File != "" {
		file = fmt.Sprintf(" file %d/%d %s", min(fp.FilesDone+1, fp.Files), fp.Files, filepath.Base(fp.File))
	}
	if fp.Files > 0 && fp.BytesTotal != p.total {
		p.total = fp.BytesTotal
		p.bar.ChangeMax64(max(p.total, 1))
	}
	p.bar.Describe(fmt.Sprintf("%d lines (%.0f/s), stored %d, rejected %d%s", fp.LinesRead, rate, fp.Stored, fp.Rejected, file))
	_ = p.bar.Set64(fp.BytesRead)
	// The bar redraws by itself only when the percentage moves: draw every
	// tick, so the counts stay live while reading waits (backpressure) or
	// the stages drain.
	_ = p.bar.RenderBlank()
}

// Finish draws the last state and ends the bar's line.
func (p *Import) Finish() {
	close(p.stop)
	<-p.done
	_ = p.bar.Exit()
	fmt.Fprintln(p.w)
}

// Steps draws one bar per long step of `vakt migrate` (rows copied of
// the rows to copy), created at the step's first report: a migration
// with nothing to copy draws nothing.
type Steps struct {
	w     io.Writer
	mu    sync.Mutex
	step  string
	start time.Time
	bar   *progressbar.ProgressBar
}

// NewSteps draws step bars on w.
func NewSteps(w io.Writer) *Steps { return &Steps{w: w} }

// Update reports done of total rows of step.
func (s *Steps) Update(step string, done, total uint64) {
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

// Finish ends the last bar's line.
func (s *Steps) Finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finishLocked()
}

func (s *Steps) finishLocked() {
	if s.bar != nil {
		_ = s.bar.Exit()
		fmt.Fprintln(s.w)
		s.bar = nil
	}
}
