//go:build !xalived_router

package daemon

import (
	"context"
	"errors"
)

// newRealEngine is replaced by engine.go once pkg/router is on this branch (until then
// `-tags xalived_router` with the router package present builds the real one).
func newRealEngine(ctx context.Context, d *Daemon) (engine, error) {
	return nil, errors.New("daemon: the VRRP engine is not built in yet")
}
