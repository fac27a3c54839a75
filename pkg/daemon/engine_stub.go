package daemon

import (
	"context"
	"errors"
)

// newRealEngine builds the engine from the configuration; it lands with pkg/router.
func newRealEngine(ctx context.Context, d *Daemon) (engine, error) {
	return nil, errors.New("daemon: the VRRP engine is not built in yet")
}
