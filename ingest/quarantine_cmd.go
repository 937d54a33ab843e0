package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/output"
)

// CheckQuarantineFormat refuses an output format `vakt quarantine` does
// not write.
func CheckQuarantineFormat(format string) error {
	if format != output.Table && format != output.JSON {
		return fmt.Errorf("quarantine: format %q: use table or json", format)
	}
	return nil
}

// PrintQuarantine is `vakt quarantine` over the quarantine stream of js: it
// prints the samples of rejected lines (masked: no IP or e-mail address),
// oldest first, as a table or as one JSON object per line.
func PrintQuarantine(ctx context.Context, js jetstream.JetStream, f QuarantineFilter, format string, out io.Writer) error {
	if err := CheckQuarantineFormat(format); err != nil {
		return err
	}
	samples, err := ReadQuarantine(ctx, js, f)
	if err != nil {
		return err
	}
	if format == output.JSON {
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
