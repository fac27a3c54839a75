package daemon

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/xalived/xalived/pkg/check"
	"github.com/xalived/xalived/pkg/config"
	"github.com/xalived/xalived/pkg/control"
	"github.com/xalived/xalived/pkg/lvs"
	"github.com/xalived/xalived/pkg/notify"
)

// vsRunner runs the health checkers of the virtual servers (pkg/check) and reports them in the
// status document whether or not the kernel has IPVS.
type vsRunner struct {
	sched  *check.Scheduler
	static []control.VirtualServer // when the checkers could not start
	ipvs   bool
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// ipvsOnce makes the "no IPVS" notice appear once per process, not once per reload.
var ipvsOnce sync.Once

func startVirtualServers(ctx context.Context, cfg *config.Config, disp *notify.Dispatcher, log *slog.Logger) *vsRunner {
	ctx, cancel := context.WithCancel(ctx)
	v := &vsRunner{cancel: cancel}
	if len(cfg.VirtualServers) == 0 {
		return v
	}
	if err := lvs.Detect(""); err != nil {
		ipvsOnce.Do(func() {
			if errors.Is(err, lvs.ErrNoIPVS) {
				log.Warn("no IPVS in this kernel: virtual servers are health-checked and reported, not programmed; VRRP runs normally", "err", err)
			} else {
				log.Warn("IPVS unavailable; virtual servers are health-checked only", "err", err)
			}
		})
	} else {
		// The IPVS reconciler is wired once pkg/lvs maps the configuration (lvs.FromConfig).
		ipvsOnce.Do(func() {
			log.Warn("IPVS present but not programmed by this build: virtual servers are health-checked and reported only")
		})
	}
	specs, warnings, err := check.FromConfig(cfg)
	for _, w := range warnings {
		log.Warn("checkers", "msg", w)
	}
	if err == nil {
		g := cfg.Global
		cc := check.Config{Notify: disp, ScriptSecurity: g.EnableScriptSecurity}
		if g.ScriptUser != "" {
			cc.ScriptUser, _ = notify.RunAs(g.ScriptUser, g.ScriptGroup)
		}
		v.sched, err = check.New(specs, cc)
	}
	if err != nil {
		log.Error("health checkers not started", "err", err)
		v.static = staticVS(cfg)
		return v
	}
	v.wg.Add(2)
	go func() {
		defer v.wg.Done()
		if err := v.sched.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("health checkers", "err", err)
		}
	}()
	go func() {
		defer v.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-v.sched.Events():
				log.Info("real server", "rs", ev.RS.String(), "alive", ev.Alive, "weight", ev.Weight)
			}
		}
	}()
	return v
}

// staticVS lists the configured virtual servers without health (checkers not running).
func staticVS(cfg *config.Config) []control.VirtualServer {
	var out []control.VirtualServer
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
		out = append(out, cv)
	}
	return out
}

func (v *vsRunner) status() ([]control.VirtualServer, bool) {
	if v.sched == nil {
		return append([]control.VirtualServer{}, v.static...), v.ipvs
	}
	out := []control.VirtualServer{}
	for _, s := range v.sched.Status() {
		cv := control.VirtualServer{Address: s.Address, Port: int(s.Port), FWMark: s.FWMark, Protocol: s.Protocol,
			RealServers: []control.RealServer{}}
		for _, rs := range s.RealServers {
			cv.RealServers = append(cv.RealServers, control.RealServer{Address: rs.Address, Port: int(rs.Port),
				Weight: rs.Weight, Healthy: rs.Healthy})
		}
		out = append(out, cv)
	}
	return out, v.ipvs
}

func (v *vsRunner) stop() {
	v.cancel()
	v.wg.Wait()
}
