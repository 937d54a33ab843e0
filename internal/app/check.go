package app

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/analyze/rules/signatures"
	"github.com/vakt-dev/vakt/internal/config"
)

// Check is `vakt check`: the configuration's problems (config.Check, with
// the rule files loaded as the alerter loads them), and with connect,
// once there are none, a connection to the engines.
func Check(ctx context.Context, cfg config.Config, loadErr error, connect bool, log *slog.Logger) []config.Problem {
	ps := config.Check(cfg, loadErr, func(dir string) error {
		_, err := analyze.LoadRules(dir)
		if dir != "" {
			_, sigErr := signatures.Load(filepath.Join(dir, "signatures"))
			err = errors.Join(err, sigErr)
		}
		return err
	})
	if connect && len(ps) == 0 {
		eng, err := OpenEngines(ctx, cfg, Need{NATS: true, ClickHouse: true}, "check", log)
		if err != nil {
			ps = append(ps, config.Problem{Key: "(connect)", Problem: err.Error(), Fix: "check the addresses, credentials and that the servers run"})
		} else {
			eng.Close()
		}
	}
	return ps
}
