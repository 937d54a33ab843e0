package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vakt-dev/vakt/ingest"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/event"
)

// Quarantine is `vakt quarantine`: it prints the samples of rejected lines
// kept in the quarantine stream (masked: no IP or e-mail address), oldest
// first, as a table or as one JSON object per line.
func Quarantine(ctx context.Context, cfg config.Config, f ingest.QuarantineFilter, format string, log *slog.Logger, out io.Writer) error {
	if format != FormatTable && format != FormatJSON {
		return fmt.Errorf("quarantine: format %q: use table or json", format)
	}
	eng, err := OpenEngines(ctx, cfg, Need{NATS: true, Stage: bus.StageQuarantine}, "quarantine", log)
	if err != nil {
		return err
	}
	defer eng.Close()
	samples, err := ingest.ReadQuarantine(ctx, eng.JS, f)
	if err != nil {
		return err
	}
	if format == FormatJSON {
		enc := json.NewEncoder(out)
		for _, s := range samples {
			if err := enc.Encode(s); err != nil {
				return err
			}
		}
		return nil
	}
	if len(samples) == 0 {
		fmt.Fprintln(out, "no rejected lines in the quarantine (samples are kept for a day)")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tSITE\tREASON\tSOURCE\tSAMPLE")
	for _, s := range samples {
		sample := s.Sample
		switch {
		case sample == "" && s.Reason == event.ReasonTooLong:
			sample = "(line too long to keep)"
		case s.Truncated:
			sample += " …"
		}
		sample = strings.ReplaceAll(sample, "\t", " ")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s:%d\t%s\n", s.Time.Local().Format(time.DateTime), s.Site, s.Reason, s.Source, s.Offset, sample)
	}
	return tw.Flush()
}
