package app

import (
	"context"

	"github.com/vakt-dev/vakt/internal/health"
)

// readiness is the /readyz answer (health.Readiness).
type readiness = health.Readiness

// ready checks the engines this process uses (health.Check).
func (e *Engines) ready(ctx context.Context) readiness {
	return health.Check(ctx, health.Deps{NC: e.NC, JS: e.JS, CH: e.CH, InsertHealth: e.insertHealth})
}
