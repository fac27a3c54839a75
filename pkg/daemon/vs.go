package daemon

import (
	"context"
	"log/slog"
	"sync"

	"github.com/xalived/xalived/pkg/config"
	"github.com/xalived/xalived/pkg/control"
	"github.com/xalived/xalived/pkg/notify"
)

// vsRunner reports the configured virtual servers. Health checking lands with pkg/check.
type vsRunner struct {
	mu     sync.Mutex
	vss    []control.VirtualServer
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startVirtualServers(ctx context.Context, cfg *config.Config, disp *notify.Dispatcher, log *slog.Logger) *vsRunner {
	_, cancel := context.WithCancel(ctx)
	v := &vsRunner{cancel: cancel}
	for _, vs := range cfg.VirtualServers {
		cv := control.VirtualServer{Protocol: vs.Protocol, Scheduler: vs.LBAlgo, Port: int(vs.Port), FWMark: vs.Fwmark,
			RealServers: []control.RealServer{}}
		if vs.Address.IsValid() {
			cv.Address = vs.Address.String()
		}
		for _, rs := range vs.RealServers {
			cv.RealServers = append(cv.RealServers, control.RealServer{Address: rs.Address.String(), Port: int(rs.Port),
				Weight: rs.Weight, Healthy: len(rs.Checkers) == 0})
		}
		v.vss = append(v.vss, cv)
	}
	return v
}

func (v *vsRunner) status() ([]control.VirtualServer, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]control.VirtualServer, len(v.vss))
	for i, vs := range v.vss {
		vs.RealServers = append([]control.RealServer(nil), vs.RealServers...)
		out[i] = vs
	}
	return out, false
}

func (v *vsRunner) stop() {
	v.cancel()
	v.wg.Wait()
}
