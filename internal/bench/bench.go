// Package bench is `vakt bench`: the pipeline measured end to end on fresh
// embedded engines, through the code path of `vakt import`.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/vakt-dev/vakt/ingest"
	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/loggen"
	"github.com/vakt-dev/vakt/internal/metrics"
)

// Config sizes `vakt bench`.
type Config struct {
	Lines       int           // lines in the generated log
	Clients     int           // distinct client IPs
	LiveFor     time.Duration // how long live mode is measured
	LiveRate    int           // lines per second written in live mode
	WorkDir     string        // where the log and the data dir go; a temp dir when empty
	Keep        bool          // keep WorkDir afterwards
	SampleEvery time.Duration // metrics sampling interval
	CPUProfile  string        // if set, a pprof CPU profile of the import
	MemProfile  string        // if set, a heap profile taken at the Go memory peak
}

// DefaultConfig runs in well under five minutes on a 2-core machine.
func DefaultConfig() Config {
	return Config{Lines: 2_000_000, Clients: 50_000, LiveFor: 10 * time.Second, LiveRate: 2000, SampleEvery: 50 * time.Millisecond}
}

// StageRate is one stage's throughput during the import.
type StageRate struct {
	Stage  string
	Events int64
	Busy   time.Duration // from its first to its last event
}

// PerSecond is the stage's events per second while it was busy.
func (s StageRate) PerSecond() float64 { return float64(s.Events) / max(s.Busy.Seconds(), 1e-9) }

// Result is what `vakt bench` measured.
type Result struct {
	Lines, Stored    int64
	Import           time.Duration
	CPU              time.Duration // user+system CPU of the whole process during the import
	Stages           []StageRate
	PeakRSS          int64       // bytes, whole process (engines included)
	PeakGo           int64       // bytes the Go runtime held from the OS: vakt's own memory
	Threads          []ThreadCPU // the import's CPU by thread name, most first
	LiveLines        int
	LiveP50, LiveP99 time.Duration
	LiveMax          time.Duration
	GenerateTook     time.Duration
}

// Run is `vakt bench`: it generates a realistic access log, pushes it
// through `vakt import`'s code path on fresh embedded engines, and measures
// throughput, CPU, memory, and live-mode latency from a line written to its
// row being queryable.
func Run(ctx context.Context, base config.Config, bc Config, log *slog.Logger, out io.Writer) (Result, error) {
	var res Result
	work := bc.WorkDir
	if work == "" {
		d, err := os.MkdirTemp("", "vakt-bench-")
		if err != nil {
			return res, err
		}
		work = d
	}
	if !bc.Keep {
		defer os.RemoveAll(work)
	}
	cfg := base
	cfg.DataDir = filepath.Join(work, "data")
	cfg.NATS.URL, cfg.ClickHouse.Addr = "", nil
	cfg.NATS.Listen, cfg.ClickHouse.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0", ""

	logPath := filepath.Join(work, "access.log")
	var err error
	if res.GenerateTook, err = generate(logPath, bc, out); err != nil {
		return res, err
	}
	m := metrics.New()
	eng, err := app.OpenEngines(ctx, cfg, app.Need{NATS: true, ClickHouse: true}, "bench", log)
	if err != nil {
		return res, err
	}
	defer eng.Close()
	im, err := app.StartImport(ctx, cfg, eng, []string{logPath}, m, log)
	if err != nil {
		return res, err
	}
	// The stages keep running after the import, for live mode.
	defer im.Close()
	if err := measureImport(ctx, eng, im, m, bc, &res, out); err != nil {
		return res, err
	}

	fmt.Fprintf(out, "live mode: %d lines/s for %s ...\n", bc.LiveRate, bc.LiveFor)
	lat, err := liveLatency(ctx, cfg, eng, m, log, work, bc)
	if err != nil {
		return res, fmt.Errorf("live mode: %w", err)
	}
	res.LiveLines = len(lat)
	if len(lat) > 0 {
		slices.Sort(lat)
		res.LiveP50, res.LiveP99, res.LiveMax = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	}
	return res, nil
}

// generate writes the benchmark's access log and says how long that took.
func generate(logPath string, bc Config, out io.Writer) (time.Duration, error) {
	fmt.Fprintf(out, "generating %d lines from %d clients ...\n", bc.Lines, bc.Clients)
	start := time.Now()
	gen := loggen.New(loggen.Config{
		Seed: 1, Clients: bc.Clients, IPv6Share: 0.25,
		Sites: []string{"www.example.org", "shop.example.org", "api.example.org", "blog.example.org"},
		Start: time.Now().Add(-2 * time.Hour), Rate: float64(bc.Lines) / 3600,
	})
	if _, err := gen.WriteFile(logPath, bc.Lines); err != nil {
		return 0, err
	}
	took := time.Since(start)
	st, err := os.Stat(logPath)
	if err != nil {
		return took, err
	}
	fmt.Fprintf(out, "  %s, %.0f MB, in %s\n", logPath, float64(st.Size())/1e6, took.Round(time.Millisecond))
	return took, nil
}

// measureImport runs the import with the profiles and the sampler on, and
// checks that every published event was stored.
func measureImport(ctx context.Context, eng *app.Engines, im *app.Importer, m *metrics.Pipeline, bc Config, res *Result, out io.Writer) error {
	fmt.Fprintln(out, "importing ...")
	if bc.CPUProfile != "" {
		pf, err := os.Create(bc.CPUProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
	}
	sampler := startSampler(m, bc.SampleEvery, bc.MemProfile)
	cpu0 := cpuTime()
	start := time.Now()
	if err := im.Run(ctx); err != nil {
		return err
	}
	res.Import = time.Since(start)
	res.CPU = cpuTime() - cpu0
	if bc.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	samples := sampler.stop()
	stats := im.IngestStats()
	res.Lines = stats.LinesRead
	if err := eng.CH.QueryRow(ctx, "SELECT toInt64(count()) FROM vakt.requests").Scan(&res.Stored); err != nil {
		return err
	}
	if res.Stored != stats.Published {
		return fmt.Errorf("stored %d rows, ingest published %d: the pipeline lost or duplicated events", res.Stored, stats.Published)
	}
	res.Stages = stageRates(samples)
	res.PeakRSS, res.PeakGo = peakRSS(), sampler.peakGo
	res.Threads = sampler.threads.result()
	return nil
}

// Print writes the result for a person.
func (r Result) Print(w io.Writer) {
	fmt.Fprintf(w, "\nend to end (vakt import, embedded NATS + ClickHouse engine, all stages, durable)\n")
	fmt.Fprintf(w, "  lines:            %d read, %d stored (verified by count())\n", r.Lines, r.Stored)
	fmt.Fprintf(w, "  elapsed:          %s\n", r.Import.Round(time.Millisecond))
	fmt.Fprintf(w, "  throughput:       %.0f lines/s\n", float64(r.Lines)/r.Import.Seconds())
	fmt.Fprintf(w, "  CPU:              %.1f s (%.2f cores busy)\n", r.CPU.Seconds(), r.CPU.Seconds()/r.Import.Seconds())
	fmt.Fprintf(w, "  peak RSS:         %d MB (whole process: engines included)\n", r.PeakRSS>>20)
	fmt.Fprintf(w, "  peak Go memory:   %d MB (vakt's own, beyond the engines' C++ heap)\n", r.PeakGo>>20)
	if len(r.Threads) > 0 {
		fmt.Fprintf(w, "  CPU by thread:   ")
		for i, t := range r.Threads[:min(len(r.Threads), 6)] {
			if i > 0 {
				fmt.Fprint(w, ",")
			}
			fmt.Fprintf(w, " %s %.1f s", t.Name, t.CPU.Seconds())
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "per stage (events/s while busy)\n")
	for _, s := range r.Stages {
		fmt.Fprintf(w, "  %-13s     %.0f/s (%d events in %s)\n", s.Stage+":", s.PerSecond(), s.Events, s.Busy.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "live mode (line written → row queryable)\n")
	fmt.Fprintf(w, "  lines:            %d\n", r.LiveLines)
	fmt.Fprintf(w, "  p50 / p99 / max:  %s / %s / %s\n", r.LiveP50.Round(time.Millisecond), r.LiveP99.Round(time.Millisecond), r.LiveMax.Round(time.Millisecond))
}

// sampler records the stages' event counters and the Go runtime's memory.
type sampler struct {
	m          *metrics.Pipeline
	memProfile string    // heap profile path, rewritten at each new peak
	lastDump   time.Time // heap dumps are rate-limited
	stopc      chan struct{}
	done       chan struct{}
	samples    []sample
	peakGo     int64
	// threads is sampled every threadsEvery samples: reading every
	// thread's stat file is too dear for each one.
	threads *threadCPU
}

const threadsEvery = 4

type sample struct {
	t      time.Time
	counts map[string]float64 // events out by stage
}

func startSampler(m *metrics.Pipeline, every time.Duration, memProfile string) *sampler {
	s := &sampler{m: m, memProfile: memProfile, stopc: make(chan struct{}), done: make(chan struct{}), threads: newThreadCPU()}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.take()
			select {
			case <-s.stopc:
				s.take()
				s.threads.sample()
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) take() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if held := int64(ms.Sys - ms.HeapReleased); held > s.peakGo {
		s.peakGo = held
		if s.memProfile != "" && time.Since(s.lastDump) > 500*time.Millisecond {
			if f, err := os.Create(s.memProfile); err == nil {
				pprof.WriteHeapProfile(f)
				f.Close()
			}
			s.lastDump = time.Now()
		}
	}
	counts := map[string]float64{}
	families, _ := s.m.Registry.Gather()
	for _, f := range families {
		if f.GetName() != "vakt_events_out_total" {
			continue
		}
		for _, mt := range f.GetMetric() {
			counts[label(mt, "stage")] = mt.GetCounter().GetValue()
		}
	}
	s.samples = append(s.samples, sample{time.Now(), counts})
	if len(s.samples)%threadsEvery == 0 {
		s.threads.sample()
	}
}

func (s *sampler) stop() []sample {
	close(s.stopc)
	<-s.done
	return s.samples
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// stageRates turns counter samples into each stage's busy window and rate.
func stageRates(samples []sample) []StageRate {
	var out []StageRate
	for _, stage := range []string{"ingest", "pseudonymize", "store"} {
		var first, last time.Time
		var prev, final float64
		for _, s := range samples {
			v := s.counts[stage]
			if v > prev {
				if first.IsZero() {
					first = s.t
				}
				last = s.t
			}
			prev, final = v, v
		}
		busy := last.Sub(first)
		out = append(out, StageRate{Stage: stage, Events: int64(final), Busy: busy})
	}
	return out
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS reads the process's high-water resident set size.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// liveLatency follows a file that is written at bc.LiveRate lines per second
// and measures, per line, the time from its write to its row being visible
// to a query. Each line has a unique path, /live/<n>.
func liveLatency(ctx context.Context, cfg config.Config, eng *app.Engines, m *metrics.Pipeline, log *slog.Logger, work string, bc Config) ([]time.Duration, error) {
	path := filepath.Join(work, "live.log")
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	icfg := cfg.IngestStage(true)
	icfg.Files, icfg.Site, icfg.Demo, icfg.FromStart = []string{path}, "bench-live", false, true
	ijs, err := eng.StageJS(bus.StageIngest)
	if err != nil {
		return nil, err
	}
	in, err := ingest.New(icfg, ijs, log, m)
	if err != nil {
		return nil, err
	}
	ictx, stop := context.WithCancel(ctx)
	idone := make(chan error, 1)
	go func() { idone <- in.Run(ictx) }()
	defer func() { stop(); <-idone }()

	w := &liveWriter{written: make([]time.Time, int(bc.LiveFor.Seconds()*float64(bc.LiveRate)))}
	writeErr := make(chan error, 1)
	go func() { writeErr <- w.write(f, bc.LiveRate) }()
	lat, err := w.await(ctx, eng, time.Now().Add(bc.LiveFor+30*time.Second))
	if err != nil {
		return nil, err
	}
	if err := <-writeErr; err != nil {
		return nil, err
	}
	if total := len(w.written); len(lat) < total {
		return lat, fmt.Errorf("only %d of %d live lines became queryable within %s", len(lat), total, bc.LiveFor+30*time.Second)
	}
	return lat, nil
}

// liveWriter writes the live lines and remembers when each was written.
type liveWriter struct {
	mu      sync.Mutex
	written []time.Time // by line number
}

// write writes every line, rate lines per second in batches every 10ms.
func (lw *liveWriter) write(f io.Writer, rate int) error {
	total := len(lw.written)
	w := bufio.NewWriter(f)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	per := max(rate/100, 1)
	for n := 0; n < total; {
		<-tick.C
		now := time.Now()
		for i := 0; i < per && n < total; i++ {
			fmt.Fprintf(w, "203.0.113.%d - - [%s] \"GET /live/%d HTTP/1.1\" 200 512 \"-\" \"vakt-bench\"\n",
				1+n%250, now.Format("02/Jan/2006:15:04:05 -0700"), n)
			lw.mu.Lock()
			lw.written[n] = now
			lw.mu.Unlock()
			n++
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// await queries the rows of the live lines until all are there or the
// deadline passes, and returns each line's latency.
func (lw *liveWriter) await(ctx context.Context, eng *app.Engines, deadline time.Time) ([]time.Duration, error) {
	total := len(lw.written)
	var lat []time.Duration
	seen := make([]bool, total)
	for len(lat) < total && time.Now().Before(deadline) {
		rows, err := eng.CH.Query(ctx, "SELECT toUInt32(substring(path, 7)) FROM vakt.requests WHERE site = 'bench-live'")
		if err != nil {
			return nil, err
		}
		now := time.Now()
		for rows.Next() {
			var n uint32
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return nil, err
			}
			if int(n) < total && !seen[n] {
				seen[n] = true
				lw.mu.Lock()
				lat = append(lat, now.Sub(lw.written[n]))
				lw.mu.Unlock()
			}
		}
		rows.Close()
		time.Sleep(20 * time.Millisecond)
	}
	return lat, nil
}
