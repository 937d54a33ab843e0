package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/httpguard"
	"github.com/vakt-dev/vakt/pseudonymize"
	"github.com/vakt-dev/vakt/subject"
)

// selfServiceStage serves the visitors' page until ctx ends.
type selfServiceStage struct {
	ln net.Listener
	h  *subject.SelfService
}

func (s selfServiceStage) Run(ctx context.Context) error {
	// httpguard.Serve bounds connections, times and headers, and logs no
	// connection error (they name the peer's address).
	stop := httpguard.Serve(s.ln, s.h.Handler(s.ln.Addr().String()), httpguard.Options{})
	<-ctx.Done()
	stop()
	return ctx.Err()
}

// startSelfService builds the self-service page of `vakt run`
// (subject.listen set): as vakt_subject, which may read the salts. It
// returns the stage and the page's URL.
func startSelfService(ctx context.Context, cfg config.Config, eng *Engines, log *slog.Logger) (Stage, string, error) {
	sc := cfg.Subject.WithDefaults()
	proxies, err := pseudonymize.ParseTrustedProxies(cfg.Pseudonymize.TrustedProxies)
	if err != nil {
		return nil, "", err
	}
	js, err := eng.StageJS(bus.StageSubject)
	if err != nil {
		return nil, "", err
	}
	salts, err := pseudonymize.NewSaltStore(ctx, js, cfg.Pseudonymize, log)
	if err != nil {
		return nil, "", fmt.Errorf("subject.listen: %w", err)
	}
	d := subject.Deps{Salts: salts, CH: eng.CH, DB: cfg.ClickHouse.Database, Cluster: cfg.ClickHouse.Cluster}
	info := func(ctx context.Context) subject.Information {
		return subject.NewInformation(ReadRetentionWith(ctx, cfg, eng))
	}
	ln, err := net.Listen("tcp", sc.Listen)
	if err != nil {
		return nil, "", fmt.Errorf("subject.listen %s: %w", sc.Listen, err)
	}
	h := subject.NewSelfService(d, sc, proxies, info, log)
	log.Info("self-service page listening", "listen", sc.Listen)
	return selfServiceStage{ln: ln, h: h}, "http://" + ln.Addr().String() + "/", nil
}
