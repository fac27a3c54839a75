package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xalived/xalived/pkg/check"
	"github.com/xalived/xalived/pkg/config"
	"github.com/xalived/xalived/pkg/control"
	"github.com/xalived/xalived/pkg/lvs"
	"github.com/xalived/xalived/pkg/notify"
)

// resyncEvery is how often the whole IPVS table is compared with the desired state, to undo
// changes made behind our back (ipvsadm by hand); changes of health are applied at once.
const resyncEvery = 30 * time.Second

// suspendPoll is how often the desired state is recomputed while a virtual server has
// ha_suspend: its service appears or leaves as this node gains or loses the virtual address.
const suspendPoll = time.Second

// vsRunner runs the health checkers of the virtual servers (pkg/check), keeps the kernel's IPVS
// table in step with them (pkg/lvs) when the kernel has IPVS, and reports them in the status
// document either way.
type vsRunner struct {
	cfg    *config.Config
	log    *slog.Logger
	disp   *notify.Dispatcher // nil in tests
	sched  *check.Scheduler
	static []control.VirtualServer // when the checkers could not start
	rec    *lvs.Reconciler         // nil without IPVS
	plans  *lvs.Planner            // the desired state, computed again only where it changed
	ipvs   bool                    // rec was set at start (for status, which may race with stop)
	names  map[check.VSKey]string  // checker key -> lvs.VirtualServerName
	keys   []check.VSKey           // checker key of each virtual server
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// Owned by the goroutine that applies (or by start/stop while it does not run).
	health map[lvs.RealServerID]bool
	weight map[lvs.RealServerID]int
	quorum map[string]bool
	// changed names the virtual servers whose health changed since the last Plan (nil: any may
	// have: the Planner then looks every real server up).
	changed  map[string]bool
	warned   bool
	addrs    localAddrs
	failures int // consecutive Apply failures, to log a streak once

	// What the reload that started this runner did (logged by the engine): how long applying
	// the new configuration with the known health took, and how many virtual servers' desired
	// state it computed again.
	knownTook time.Duration
	stopTook  time.Duration // stopping the previous runner
	planned   int
	// checked holds the virtual servers (blocks) whose every real server has its health in
	// health since the checkers started; set before the runner's goroutines start.
	checked map[*config.VirtualServer]bool
}

// ipvsOnce makes the "no IPVS" notice appear once per process, not once per reload.
var ipvsOnce sync.Once

// startVirtualServers starts the checkers and, with IPVS, the reconciler of cfg's virtual
// servers. prev is the runner of the previous configuration (nil at start): it is stopped here,
// its checkers' states carry over (a DOWN real server stays DOWN across a reload) and its
// reconciler goes on with the new configuration, changing only the difference, so services
// that stay configured are never removed by a reload.
func startVirtualServers(ctx context.Context, cfg *config.Config, disp *notify.Dispatcher, log *slog.Logger, prev *vsRunner) *vsRunner {
	ctx, cancel := context.WithCancel(ctx)
	v := &vsRunner{cfg: cfg, log: log, disp: disp, cancel: cancel, quorum: map[string]bool{}, plans: &lvs.Planner{}}
	var oldSched *check.Scheduler
	if prev != nil {
		t0 := time.Now()
		prev.cancel()
		prev.wg.Wait()
		v.stopTook = time.Since(t0)
		v.rec, prev.rec = prev.rec, nil
		v.plans = prev.plans
		v.quorum = prev.quorum
		oldSched = prev.sched
	}
	if len(cfg.VirtualServers) == 0 {
		if v.rec != nil {
			v.apply(false) // the virtual servers were removed from the configuration
		}
		return v
	}
	if prev != nil && v.rec != nil {
		t0 := time.Now()
		v.applyKnown(prev)
		v.knownTook = time.Since(t0)
	}
	// Allocated after applyKnown: with 10,000 real servers these maps are large, and the kernel
	// should get a reload's change first.
	nrs := 0
	for _, vs := range cfg.VirtualServers {
		nrs += len(vs.RealServers)
	}
	v.names = make(map[check.VSKey]string, len(cfg.VirtualServers))
	v.health, v.weight = make(map[lvs.RealServerID]bool, nrs), make(map[lvs.RealServerID]int, nrs)
	if v.rec == nil {
		rec, err := lvs.New(lvs.Options{})
		switch {
		case err == nil:
			v.rec = rec
			if prev == nil && cfg.Global.LVSFlush {
				if err := rec.Flush(); err != nil {
					log.Error("lvs_flush", "err", err)
				} else {
					log.Info("lvs_flush: IPVS table flushed")
				}
			}
		case errors.Is(err, lvs.ErrNoIPVS):
			ipvsOnce.Do(func() {
				log.Warn("no IPVS in this kernel: virtual servers are health-checked and reported, not programmed; VRRP runs normally", "err", err)
			})
		default:
			log.Error("IPVS unavailable: virtual servers are health-checked and reported, not programmed", "err", err)
		}
	}

	v.ipvs = v.rec != nil

	specs, warnings, err := check.FromConfig(cfg)
	for _, w := range warnings {
		log.Warn("checkers", "msg", w)
	}
	if err == nil {
		for i := range specs {
			specs[i].HASuspend = cfg.VirtualServers[i].HASuspend
			v.names[specs[i].Key] = lvs.VirtualServerName(cfg.VirtualServers[i])
			v.keys = append(v.keys, specs[i].Key)
		}
		v.sched, err = check.New(specs, v.checkConfig(disp))
	}
	if err != nil {
		log.Error("health checkers not started", "err", err)
		v.sched = nil
		v.static = staticVS(cfg)
		// IPVS still gets the configured real servers (alpha ones stay out until checked).
		if v.rec != nil {
			v.apply(false)
			v.startLoop(ctx, nil)
		}
		return v
	}
	if oldSched != nil {
		if n := v.sched.Inherit(oldSched); n > 0 {
			log.Info("reload: checkers keep their state", "checkers", n)
		}
	}
	// The checkers' initial verdicts (alpha, inherited DOWN) before their first runs, so that
	// a real server is not added and then removed again.
	v.checked = make(map[*config.VirtualServer]bool, len(cfg.VirtualServers))
	for i, s := range v.sched.Status() {
		vs := cfg.VirtualServers[i]
		name := lvs.VirtualServerName(vs)
		n := 0
		for _, rs := range s.RealServers {
			a, err := netip.ParseAddr(rs.Address)
			if err != nil {
				continue
			}
			id := lvs.RealServerID{VS: name, Address: a, Port: rs.Port}
			v.health[id], v.weight[id] = rs.Healthy, rs.Weight
			n++
		}
		if n == len(vs.RealServers) {
			v.checked[vs] = true
		}
	}
	if v.rec != nil {
		v.apply(false)
	}
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		if err := v.sched.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("health checkers", "err", err)
		}
	}()
	v.startLoop(ctx, v.sched.Events())
	return v
}

// applyKnown is the first step of a reload: when every real server of the new configuration was
// a real server of the previous one, the kernel gets the new configuration at once, with the
// health the previous checkers reported, before the new checkers are built (on 10,000 real
// servers that takes longer than the change itself). The new checkers inherit those states, so
// the Apply that follows their start changes nothing unless a real server's checkers changed
// too. A reload that adds a real server waits for the checkers: its initial state (alpha) is
// theirs to say, and guessing it could add a server only to remove it again. Weights are the
// configured ones, except where a MISC_CHECK or FILE_CHECK may have set a dynamic weight: that
// one is kept until the checkers say.
//
// A virtual server block the reload left as it was (the same *config.VirtualServer: the
// configuration's incremental parse shares those) whose real servers all had their health from
// the previous checkers (prev.checked) need not be looked up: only the blocks the reload changed.
func (v *vsRunner) applyKnown(prev *vsRunner) {
	unchanged := prev.checked
	weight := map[lvs.RealServerID]int{}
	for _, vs := range v.cfg.VirtualServers {
		name, same := "", unchanged[vs]
		for _, rs := range vs.RealServers {
			if !same {
				if name == "" {
					name = lvs.VirtualServerName(vs)
				}
				if _, ok := prev.health[lvs.RealServerID{VS: name, Address: rs.Address, Port: rs.Port}]; !ok {
					return
				}
			}
			for _, c := range rs.Checkers {
				if c.Type == config.CheckMisc || c.Type == config.CheckFile {
					if name == "" {
						name = lvs.VirtualServerName(vs)
					}
					id := lvs.RealServerID{VS: name, Address: rs.Address, Port: rs.Port}
					if w, ok := prev.weight[id]; ok {
						weight[id] = w
					}
				}
			}
		}
	}
	// The Planner's last Plan was prev's, with prev.health: what changed since is prev.changed.
	v.health, v.weight, v.changed = prev.health, weight, prev.changed
	v.apply(false)
	v.planned = v.plans.Computed
	// The new checkers' health is another map: the Plan after their start looks it all up.
	v.health, v.weight, v.changed = nil, nil, nil
}

// checkConfig is the checkers' configuration from global_defs: script_user (keepalived_script
// by default), enable_script_security, rs_init_notifies, and ha_suspend's address test.
func (v *vsRunner) checkConfig(disp *notify.Dispatcher) check.Config {
	g := v.cfg.Global
	cc := check.Config{Notify: disp, ScriptSecurity: g.EnableScriptSecurity, InitNotifies: g.RSInitNotifies,
		AddressLocal: v.addrs.has}
	nc, err := notify.ConfigFromGlobal(g)
	if err != nil {
		v.log.Warn("checkers: MISC_CHECK scripts without a user run as the daemon's user", "err", err)
	} else {
		cc.ScriptUser, cc.ScriptSecurity = nc.ScriptUser, nc.ScriptSecurity
	}
	return cc
}

// startLoop applies every change of health to IPVS (events are coalesced: a burst of changes
// becomes one Apply), and resyncs periodically. Without IPVS it only logs the changes.
func (v *vsRunner) startLoop(ctx context.Context, events <-chan check.Event) {
	suspend := false
	for _, vs := range v.cfg.VirtualServers {
		suspend = suspend || vs.HASuspend
	}
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		resync := time.NewTicker(resyncEvery)
		defer resync.Stop()
		var poll <-chan time.Time
		if suspend && v.rec != nil {
			t := time.NewTicker(suspendPoll)
			defer t.Stop()
			poll = t.C
		}
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-events:
				changed := v.record(ev)
			drain:
				for {
					select {
					case <-ctx.Done():
						// A reload replaces this runner: it must not wait for a burst (the
						// first event of each of 10,000 real servers) to be recorded.
						return
					case ev := <-events:
						changed = v.record(ev) || changed
					default:
						break drain
					}
				}
				if changed && v.rec != nil {
					v.apply(false)
				}
			case <-poll:
				v.apply(false)
			case <-resync.C:
				if v.rec != nil {
					v.apply(true)
				}
			}
		}
	}()
}

// record notes a checker's verdict and reports whether it changes what v knew. The first event
// of every real server repeats the state v took from the checkers at start (or across a
// reload): on 10,000 real servers, logging and applying those would only cost time.
func (v *vsRunner) record(ev check.Event) bool {
	name, ok := v.names[ev.RS.VS]
	if !ok {
		v.log.Info("real server", "rs", ev.RS.String(), "alive", ev.Alive, "weight", ev.Weight)
		return false
	}
	id := lvs.RealServerID{VS: name, Address: ev.RS.Addr, Port: ev.RS.Port}
	h, known := v.health[id]
	if known && h == ev.Alive && v.weight[id] == ev.Weight {
		return false
	}
	v.log.Info("real server", "rs", ev.RS.String(), "alive", ev.Alive, "weight", ev.Weight)
	v.health[id], v.weight[id] = ev.Alive, ev.Weight
	if v.changed != nil {
		v.changed[name] = true
	}
	return true
}

// apply computes the desired IPVS state from the configuration and the health so far and has
// the reconciler change the kernel's table by the difference (full compares it all).
func (v *vsRunner) apply(full bool) {
	plan, err := v.plans.Plan(v.cfg, lvs.Inputs{Health: v.health, Quorum: v.quorum, HealthChanged: v.changed,
		Suspended: func(a netip.Addr) bool { return !v.addrs.has(a) }})
	if v.changed == nil {
		v.changed = map[string]bool{}
	} else {
		clear(v.changed)
	}
	if !v.warned {
		v.warned = true
		for _, w := range plan.Warnings {
			v.log.Warn("ipvs", "msg", w)
		}
		if err != nil {
			v.log.Error("ipvs: virtual servers left out", "err", err)
		}
	}
	applyDynamicWeights(&plan, v.weight)
	var ch lvs.Changes
	if full {
		ch, err = v.rec.Resync(plan.Services)
	} else {
		ch, err = v.rec.Apply(plan.Services)
	}
	v.quorum = plan.QuorumState() // for the next Plan, after the kernel has this one
	if ch.Total() > 0 {
		v.log.Info("ipvs updated", "changes", ch.String())
	}
	if err != nil {
		v.failures++
		if v.failures == 1 || full {
			v.log.Error("ipvs", "err", err)
		}
		return
	}
	v.failures = 0
}

// applyDynamicWeights sets the weight of live destinations to the checkers' dynamic weight
// (MISC_CHECK exit codes, FILE_CHECK) where it differs from the configured one.
func applyDynamicWeights(p *lvs.Plan, weights map[lvs.RealServerID]int) {
	if len(weights) == 0 {
		return
	}
	copied := false
	for _, vs := range p.VirtualServers {
		var set map[lvs.DestKey]int
		for _, rs := range vs.RealServers {
			w, ok := weights[lvs.RealServerID{VS: vs.Name, Address: rs.Address, Port: rs.Port}]
			if !ok || rs.Sorry || !rs.Healthy || !rs.InKernel || w == rs.Weight || w < 0 {
				continue
			}
			if set == nil {
				set = map[lvs.DestKey]int{}
			}
			set[lvs.DestKey{Address: rs.Address, Port: rs.Port}] = w
		}
		if set == nil {
			continue
		}
		keys := map[lvs.Key]bool{}
		for _, k := range vs.Keys {
			keys[k] = true
		}
		for i := range p.Services {
			if !keys[p.Services[i].Key] {
				continue
			}
			// The Plan and its destinations are the Planner's: change copies.
			if !copied {
				p.Services, copied = slices.Clone(p.Services), true
			}
			p.Services[i].Destinations = slices.Clone(p.Services[i].Destinations)
			for j := range p.Services[i].Destinations {
				d := &p.Services[i].Destinations[j]
				if w, ok := set[d.Key()]; ok && d.Weight != 0 {
					d.Weight = w
				}
			}
		}
	}
}

// localAddrs answers "is this address configured on this host" for ha_suspend, from a listing
// at most a fraction of a second old (checkers of many virtual servers ask at once).
type localAddrs struct {
	mu   sync.Mutex
	at   time.Time
	have map[netip.Addr]bool
}

func (l *localAddrs) has(a netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); l.have == nil || now.Sub(l.at) > 200*time.Millisecond {
		l.at = now
		l.have = map[netip.Addr]bool{}
		addrs, err := net.InterfaceAddrs()
		if err == nil {
			for _, ad := range addrs {
				if p, err := netip.ParsePrefix(ad.String()); err == nil {
					l.have[p.Addr().Unmap()] = true
				}
			}
		}
	}
	return l.have[a.Unmap()]
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
	for i, s := range v.sched.Status() {
		cv := control.VirtualServer{Address: s.Address, Port: int(s.Port), FWMark: s.FWMark, Protocol: s.Protocol,
			Scheduler: v.cfg.VirtualServers[i].LBAlgo, RealServers: []control.RealServer{}}
		for _, rs := range s.RealServers {
			cv.RealServers = append(cv.RealServers, control.RealServer{Address: rs.Address, Port: int(rs.Port),
				Weight: rs.Weight, Healthy: rs.Healthy})
		}
		out = append(out, cv)
	}
	return out, v.ipvs
}

// stop ends the checkers and removes the services this daemon put in IPVS, as keepalived does
// when it stops; services of others stay.
func (v *vsRunner) stop() {
	v.cancel()
	v.wg.Wait()
	v.omega()
	if v.rec == nil {
		return
	}
	ch, err := v.rec.Shutdown()
	if err != nil {
		v.log.Error("ipvs: removing our services", "err", err)
	} else if ch.Total() > 0 {
		v.log.Info("ipvs: our services removed", "changes", ch.String())
	}
	v.rec.Close()
	v.rec = nil
}

// omega runs, for the virtual servers with omega set, what keepalived runs at shutdown: the
// notify_down of every real server still up (with its lvs FIFO line), then quorum_down when the
// virtual server had quorum. Without omega nothing runs at shutdown. No mail is sent.
func (v *vsRunner) omega() {
	if v.sched == nil || v.disp == nil {
		return
	}
	for i, s := range v.sched.Status() {
		vs := v.cfg.VirtualServers[i]
		if !vs.Omega {
			continue
		}
		if i >= len(v.keys) {
			return
		}
		key := v.keys[i]
		proto := strings.ToLower(key.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		downs := map[netip.AddrPort]*config.Script{}
		for _, c := range vs.RealServers {
			downs[netip.AddrPortFrom(c.Address, c.Port)] = c.NotifyDown
		}
		for _, rs := range s.RealServers {
			a, err := netip.ParseAddr(rs.Address)
			if !rs.Healthy || err != nil {
				continue
			}
			script, _ := notify.ScriptFromConfig(downs[netip.AddrPortFrom(a, rs.Port)])
			v.disp.RealServer(notify.RealServerEvent{RS: notify.ServiceName(rs.Address, proto, rs.Port), VS: key.String(),
				Script: script, Reason: "shutdown (omega)"})
		}
		if s.QuorumUp {
			script, _ := notify.ScriptFromConfig(vs.QuorumDown)
			v.disp.VirtualServer(key.String(), false, script, false, "=> shutdown (omega) for VS "+key.String()+" <=")
		}
	}
}
