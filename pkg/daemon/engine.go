package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xalived/xalived/pkg/config"
	"github.com/xalived/xalived/pkg/control"
	"github.com/xalived/xalived/pkg/netif"
	"github.com/xalived/xalived/pkg/notify"
	"github.com/xalived/xalived/pkg/router"
	"github.com/xalived/xalived/pkg/vrrp"
	"github.com/xalived/xalived/pkg/vrrpsock"
)

// sourceWait bounds how long start-up waits for an interface's advert source address.
const sourceWait = 5 * time.Second

// realEngine runs the VRRP router on the raw-socket dataplane with netlink host effects.
type realEngine struct {
	d   *Daemon
	log *slog.Logger
	ctx context.Context

	r        *router.Router
	routerWG sync.WaitGroup
	sender   *vrrpsock.Sender
	ann      *netif.Announcer
	vmacs    *netif.VMACs
	notif    *notifier
	disp     *notify.Dispatcher
	dispStop context.CancelFunc
	dispWG   sync.WaitGroup
	watchWG  sync.WaitGroup
	watchStp context.CancelFunc
	vs       *vsRunner
	inc      *config.Incremental // the configuration's last parse, so a reload re-parses what changed
	reloadMu sync.Mutex          // one reload at a time (SIGHUP and the control socket): inc is not concurrent
	running  *config.Config      // the model running (the last one started or reloaded)
	syncd    *syncDaemons
	xdp      *xdpPlane // nil on the socket dataplane

	mu   sync.Mutex // guards what reloads change
	plan *plan
	rx   map[listenKey]*rxRun
	// polls is what the router polls before a master-down (router.Options.Poll): the open
	// receivers with the interface their packets are delivered for. Swapped whole by
	// syncReceivers; read by the router goroutine without e.mu, which a reload holds while
	// it waits for that goroutine.
	polls    atomic.Pointer[[]rxPoll]
	trackers *trackerSet
	vmacMade map[string]netif.VMAC
	closed   bool
	// rtWG waits for the goroutine that keeps the threads realtime (watchRealtime).
	rtWG   sync.WaitGroup
	rtStop context.CancelFunc
}

type rxPoll struct {
	r     *vrrpsock.Receiver
	iface string
}

// poll reads what waits in every receiver now (router.Options.Poll).
func (e *realEngine) poll(deliver func([]router.Received), idle func()) {
	ps := e.polls.Load()
	if ps == nil {
		return
	}
	for _, p := range *ps {
		// A receiver closed by a reload meanwhile reports nothing: its packets are gone anyway.
		_ = p.r.Poll(func(pks []vrrpsock.Packet) { deliver(toReceived(p.iface, pks)) }, idle)
	}
}

// toReceived turns what a receiver read on the interface named iface into router packets
// (the payloads are fresh: the router takes them as they are).
func toReceived(iface string, pks []vrrpsock.Packet) []router.Received {
	batch := make([]router.Received, len(pks))
	for i, pk := range pks {
		batch[i] = router.Received{Interface: iface, Meta: vrrp.Meta{Src: pk.Src, Dst: pk.Dst, TTL: pk.TTL}, Payload: pk.Payload}
	}
	return batch
}

type rxRun struct {
	iface  string
	groups []netip.Addr
	r      *vrrpsock.Receiver
	cancel context.CancelFunc
	done   chan struct{}
}

// loadConfig parses the configuration file, logs warnings and returns errors as
// "FILE:LINE: message" lines.
func loadConfig(inc *config.Incremental, opts Options, log *slog.Logger) (*config.Config, error) {
	cfg, diags, err := inc.ParseFile(opts.ConfigFile)
	var bad []string
	for _, dg := range diags {
		if dg.Severity == config.Error {
			bad = append(bad, dg.String())
		} else {
			log.Warn("config", "msg", dg.String())
		}
	}
	if err != nil {
		if len(bad) > 0 {
			return nil, fmt.Errorf("%s", strings.Join(bad, "\n"))
		}
		return nil, err
	}
	return cfg, nil
}

func lookupInterface(name string) (netif.Info, error) { return netif.InterfaceByName(name) }

func newRealEngine(ctx context.Context, d *Daemon) (engine, error) {
	log := d.log
	inc := config.NewIncremental(config.Options{ConfigID: d.opts.ConfigID})
	cfg, err := loadConfig(inc, d.opts, log)
	if err != nil {
		return nil, err
	}
	e := &realEngine{d: d, log: log, ctx: ctx, vmacs: &netif.VMACs{}, rx: map[listenKey]*rxRun{}, vmacMade: map[string]netif.VMAC{}, inc: inc, running: cfg}
	ok := false
	defer func() {
		if !ok {
			e.teardown()
		}
	}()
	p, err := buildPlan(cfg, lookupInterface, notify.RunAs)
	// An interface that just came up gets its IPv6 link-local address a moment later: wait a
	// little for it rather than refuse to start.
	for deadline := time.Now().Add(sourceWait); errors.Is(err, errNoSource) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		p, err = buildPlan(cfg, lookupInterface, notify.RunAs)
	}
	if err != nil {
		return nil, err
	}
	if err := e.makeVMACs(p); err != nil {
		return nil, err
	}
	// A killed earlier run leaves its VIPs behind: remove them now; MASTER adds them again.
	var all []netif.VIP
	for _, dt := range p.data {
		all = append(all, dt.vips...)
		all = append(all, dt.evips...)
	}
	removed, err := netif.ReconcileVIPs(all)
	for _, v := range removed {
		log.Info("removed VIP left by an earlier run", "vip", v.String())
	}
	if err != nil {
		log.Warn("reconciling VIPs", "err", err)
	}
	if e.xdp, err = startXDP(d.opts, p, log); err != nil {
		return nil, err
	}
	if e.sender, err = vrrpsock.NewSender(); err != nil {
		return nil, err
	}
	if e.ann, err = netif.NewAnnouncer(); err != nil {
		return nil, err
	}
	e.disp = notify.New(notifyConfig(cfg, func(err error) { log.Warn("notify", "err", err) }))
	dctx, dcancel := context.WithCancel(context.Background())
	e.dispStop = dcancel
	e.dispWG.Add(1)
	go func() {
		defer e.dispWG.Done()
		_ = e.disp.Run(dctx)
	}()
	e.syncd = startSyncDaemons(log) // idle unless lvs_sync_daemon is configured
	e.syncd.configure(cfg)
	e.notif = &notifier{d: e.disp, onState: func(n router.Notification) {
		e.syncd.follow(n)
		if n.Group {
			log.Info("sync group state", "group", n.Name, "state", n.State.String())
		} else {
			log.Info("instance state", "instance", n.Name, "state", n.State.String(), "priority", n.Priority)
		}
	}}
	e.notif.setPlan(p)
	h := &host{ctx: ctx, ann: e.ann, vmacs: e.vmacs}
	sched, err := schedulingFrom(&cfg.Global)
	if err != nil {
		return nil, err
	}
	if err := sched.applyProcess(); err != nil {
		log.Warn("process tuning", "err", err)
	}
	if d.opts.RTPriority != nil {
		sched = sched.override(*d.opts.RTPriority)
	}
	rt, rto := sched.startRealtime()
	switch {
	case rto.Err != nil && rto.Default:
		log.Info("vrrp threads stay in the normal scheduling class (no CAP_SYS_NICE?)", "err", rto.Err)
	case rto.Err != nil:
		log.Warn("vrrp threads stay in the normal scheduling class", "err", rto.Err)
	default:
		log.Info("vrrp scheduling", "class", rto.Class, "default", rto.Default, "threads", rto.Threads, "rlimit_rttime_us", rto.RTTimeUS)
	}
	e.watchRealtime(ctx, rt, log)
	// The router's goroutine locks its thread, which may be one the runtime starts then.
	threadSetup := func() error {
		if err := rt.promoteSelf(); err != nil {
			log.Warn("vrrp router thread stays in the normal scheduling class", "err", err)
		}
		return nil
	}
	tr, nf, ro := e.xdp.wrap(&transport{s: e.sender}, e.notif, router.Options{
		ThreadSetup: threadSetup,
		OnError:     func(err error) { log.Warn("vrrp", "err", err) },
		Poll:        e.poll,
		OnSlowWake: func(w router.SlowWake) {
			var late time.Duration
			if !w.Deadline.IsZero() {
				late = w.Woke.Sub(w.Deadline)
			}
			log.Debug("vrrp thread slow", "woke_late", late, "ran", w.Done.Sub(w.Woke), "switches", w.Switches, "preempted", w.Preempted,
				"run_switches", w.RunSwitches, "run_preempted", w.RunPreempted)
		},
		OnMasterDown: func(c *router.InstanceConfig, f router.MasterDownFired) {
			var wake time.Duration // the thread's own wake-up latency, when a deadline woke it
			if !f.WokeFor.IsZero() {
				wake = f.Woke.Sub(f.WokeFor)
			}
			log.Debug("master-down timer fired", "instance", c.Name, "late", f.Late(),
				"due", f.Due.Format("15:04:05.000000"), "wake_latency", wake, "poll", f.Poll,
				"switches", f.Switches, "preempted", f.Preempted)
		},
	})
	e.r, err = router.New(p.router, tr, h, nf, ro)
	if err != nil {
		return nil, err
	}
	e.xdp.start(e.r)
	// Link states before the first state decision: an instance whose interface is down
	// starts in FAULT.
	for name := range p.ifaces {
		e.reportLink(name)
	}
	if err := e.startWatcher(); err != nil {
		return nil, err
	}
	// Receivers open before the router runs: adverts of a running master that arrive
	// meanwhile wait in the router's queue and count before the first master-down timer,
	// so a starting BACKUP does not become MASTER before it could hear anything.
	e.mu.Lock()
	e.plan = p
	err = e.syncReceivers(p)
	e.trackers = startTrackers(ctx, p.trackers, e.trackerResult)
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	e.routerWG.Add(1)
	go func() {
		defer e.routerWG.Done()
		if err := e.r.Run(ctx); err != nil {
			log.Error("vrrp router", "err", err)
		}
	}()
	e.vs = startVirtualServers(ctx, cfg, e.disp, log, nil)
	ok = true
	log.Info("vrrp started", "instances", len(p.router.Instances), "sync_groups", len(p.router.SyncGroups), "dataplane", e.xdp.name())
	return e, nil
}

func notifyConfig(cfg *config.Config, onErr func(error)) notify.Config {
	g := cfg.Global
	nc := notify.Config{ScriptSecurity: g.EnableScriptSecurity, OnError: onErr}
	if g.ScriptUser != "" {
		if c, err := notify.RunAs(g.ScriptUser, g.ScriptGroup); err == nil {
			nc.ScriptUser = c
		} else {
			onErr(fmt.Errorf("script_user %s: %w", g.ScriptUser, err))
		}
	} else {
		nc.ScriptUser = notify.DefaultScriptUser()
	}
	if g.VRRPNotifyFifo != nil {
		nc.VRRPFIFO = g.VRRPNotifyFifo.Path
	} else if g.NotifyFifo != nil {
		nc.VRRPFIFO = g.NotifyFifo.Path
	}
	if g.LVSNotifyFifo != nil {
		nc.LVSFIFO = g.LVSNotifyFifo.Path
	} else if g.NotifyFifo != nil {
		nc.LVSFIFO = g.NotifyFifo.Path
	}
	if g.SMTPServer != "" && len(g.NotificationEmail) > 0 {
		nc.SMTP = notify.SMTPConfig{Server: notify.SMTPServer(g.SMTPServer, g.SMTPServerPort), HeloName: g.SMTPHeloName,
			From: g.NotificationEmailFrom, To: g.NotificationEmail, RouterID: g.RouterID,
			ConnectTimeout: g.SMTPConnectTimeout.D()}
	}
	return nc
}

func (e *realEngine) reportLink(name string) {
	info, err := netif.InterfaceByName(name)
	e.r.SetTracker(ifTracker(name), err == nil && info.Up, 0)
}

func (e *realEngine) trackerResult(res TrackerResult) {
	switch res.Kind {
	case TrackScript:
		e.r.ScriptResult(res.Name, res.OK)
	case TrackFile:
		e.r.SetTracker(res.Name, res.OK, res.Value)
	case TrackProcess:
		e.r.SetTracker(res.Name, res.OK, res.Value)
	}
	e.log.Debug("tracker", "name", res.Name, "ok", res.OK, "value", res.Value)
}

// startWatcher follows link changes of the tracked interfaces.
func (e *realEngine) startWatcher() error {
	w, err := netif.NewWatcher()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(e.ctx)
	e.watchStp = cancel
	ch := make(chan netif.Event, 256)
	e.watchWG.Add(2)
	go func() {
		defer e.watchWG.Done()
		defer close(ch)
		if err := w.Run(ctx, ch); err != nil && ctx.Err() == nil {
			e.log.Error("link watcher", "err", err)
		}
		_ = w.Close()
	}()
	go func() {
		defer e.watchWG.Done()
		for ev := range ch {
			e.linkEvent(ev)
		}
	}()
	return nil
}

func (e *realEngine) linkEvent(ev netif.Event) {
	e.mu.Lock()
	p := e.plan
	e.mu.Unlock()
	if p == nil {
		return
	}
	switch ev.Kind {
	case netif.LinkUp, netif.LinkDown, netif.LinkAppeared, netif.LinkVanished:
		if p.ifaces[ev.IfName] {
			up := ev.Up && ev.Kind != netif.LinkVanished
			e.log.Info("link", "interface", ev.IfName, "event", ev.Kind.String(), "up", up)
			e.r.SetTracker(ifTracker(ev.IfName), up, 0)
		}
		if ev.Kind == netif.LinkAppeared || ev.Kind == netif.LinkVanished {
			e.mu.Lock()
			_ = e.syncReceivers(p)
			e.mu.Unlock()
		}
	case netif.Resync:
		for name := range p.ifaces {
			e.reportLink(name)
		}
	}
}

// makeVMACs creates the VMAC interfaces of p that do not exist yet.
func (e *realEngine) makeVMACs(p *plan) error {
	for _, dt := range p.data {
		if dt.vmac == nil {
			continue
		}
		if _, ok := e.vmacMade[dt.vmac.Name]; ok {
			continue
		}
		if _, err := e.vmacs.Create(*dt.vmac); err != nil {
			return err
		}
		e.vmacMade[dt.vmac.Name] = *dt.vmac
	}
	return nil
}

// dropVMACs deletes VMACs that p no longer uses (all of them when p is nil).
func (e *realEngine) dropVMACs(p *plan) {
	for name := range e.vmacMade {
		used := false
		if p != nil {
			for _, dt := range p.data {
				if dt.vmac != nil && dt.vmac.Name == name {
					used = true
				}
			}
		}
		if !used {
			if err := e.vmacs.Delete(name); err != nil {
				e.log.Warn("delete vmac", "vmac", name, "err", err)
			}
			delete(e.vmacMade, name)
		}
	}
}

// rxCoalesce spaces the advert reads while adverts arrive densely (vrrpsock.ListenConfig): a
// tenth of the shortest advert interval configured, between 1 and 5 ms. A keepalived master of
// 255 instances at 10 ms sends 25,500 adverts a second, evenly spread; read as they come, each
// wakes the reader and the router. At 1 ms they cost a thousand wake-ups a second. The delay
// never makes a takeover: the router polls the sockets before a master-down timer fires.
func rxCoalesce(p *plan) time.Duration {
	shortest := time.Duration(0)
	for _, in := range p.router.Instances {
		if shortest == 0 || in.Interval < shortest {
			shortest = in.Interval
		}
	}
	return min(max(shortest/10, time.Millisecond), 5*time.Millisecond)
}

// syncReceivers opens a receiver per (interface, family) of p and closes the others. The caller
// holds e.mu.
func (e *realEngine) syncReceivers(p *plan) error {
	if e.xdp != nil {
		return e.xdp.sync(p) // XDP consumes the adverts: no receive socket
	}
	var errs []error
	for k, run := range e.rx {
		if groups, ok := p.listen[k]; !ok || !slices.Equal(groups, run.groups) {
			run.stop()
			delete(e.rx, k)
		}
	}
	for k, groups := range p.listen {
		if _, ok := e.rx[k]; ok {
			continue
		}
		ifc, err := net.InterfaceByName(k.iface)
		if err != nil {
			// The interface may appear later (LinkAppeared re-syncs); the instance is in FAULT
			// meanwhile because its interface tracker is down.
			e.log.Warn("cannot listen for adverts yet", "interface", k.iface, "err", err)
			continue
		}
		rcv, err := vrrpsock.Listen(vrrpsock.ListenConfig{IfIndex: ifc.Index, IPv6: k.ipv6, Groups: groups, Coalesce: rxCoalesce(p)})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ctx, cancel := context.WithCancel(e.ctx)
		run := &rxRun{iface: k.deliver, groups: groups, r: rcv, cancel: cancel, done: make(chan struct{})}
		name := k.deliver
		go func() {
			defer close(run.done)
			// One Deliver per recvmmsg batch: under load packets queue up, and one queue
			// entry per batch instead of per packet keeps the router's queue from overflowing.
			// The payloads are fresh slices: the router takes them without another copy.
			err := rcv.RunBatch(ctx, func(pks []vrrpsock.Packet) { e.r.DeliverOwned(toReceived(name, pks)) })
			if err != nil && ctx.Err() == nil {
				e.log.Error("advert receiver", "interface", name, "err", err)
			}
		}()
		e.rx[k] = run
	}
	ps := make([]rxPoll, 0, len(e.rx))
	for _, run := range e.rx {
		ps = append(ps, rxPoll{r: run.r, iface: run.iface})
	}
	e.polls.Store(&ps)
	return errors.Join(errs...)
}

func (r *rxRun) stop() {
	r.cancel()
	_ = r.r.Close()
	<-r.done
}

func (e *realEngine) Status() control.Status {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st := control.Status{VRRP: []control.Instance{}, VirtualServers: []control.VirtualServer{}}
	snap, err := e.r.Status(ctx)
	if err != nil {
		return st
	}
	e.mu.Lock()
	p := e.plan
	e.mu.Unlock()
	groupMembers := map[string][]string{}
	for _, in := range snap.Instances {
		ci := control.Instance{Name: in.Name, State: in.State, VRID: int(in.VRID), Interface: in.Interface,
			Version: int(in.Version), Priority: int(in.Priority), EffectivePriority: int(in.EffectivePriority),
			MasterIP: in.MasterIP, VIPs: in.VIPs, Transitions: in.Transitions, Dataplane: control.DataplaneSocket,
			AdvertsRx: in.RxAdverts, AdvertsTx: in.TxAdverts, Drops: map[string]uint64{}}
		ci.Family = "inet"
		if p != nil {
			if dt := p.data[in.Name]; dt != nil {
				if len(dt.display) > 0 {
					ci.VIPs = dt.display
				}
				for _, rc := range p.router.Instances {
					if rc.Name == in.Name && rc.IPv6 {
						ci.Family = "inet6"
					}
				}
			}
		}
		if ci.VIPs == nil {
			ci.VIPs = []string{}
		}
		for k, v := range in.Drops {
			ci.Drops[k] = v
			ci.DropsTotal += v
		}
		if in.SyncGroup != "" {
			groupMembers[in.SyncGroup] = append(groupMembers[in.SyncGroup], in.Name)
		}
		st.VRRP = append(st.VRRP, ci)
	}
	if p != nil {
		for _, g := range p.router.SyncGroups {
			sg := control.SyncGroup{Name: g.Name, Members: g.Members}
			sg.State = groupState(st.VRRP, g.Members)
			st.SyncGroups = append(st.SyncGroups, sg)
		}
	}
	e.xdp.decorate(&st)
	if e.vs != nil {
		st.VirtualServers, st.IPVS = e.vs.status()
	}
	return st
}

// groupState is the state of a sync group as its members show it: FAULT if any member is,
// MASTER or BACKUP when all agree, the first member's otherwise.
func groupState(insts []control.Instance, members []string) string {
	states := map[string]bool{}
	for _, in := range insts {
		if slices.Contains(members, in.Name) {
			states[in.State] = true
		}
	}
	switch {
	case states[control.StateFault]:
		return control.StateFault
	case len(states) == 1:
		for s := range states {
			return s
		}
	}
	return control.StateBackup
}

func (e *realEngine) dumpFile(kind dumpKind) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.plan == nil {
		return ""
	}
	if kind == dumpData {
		return e.plan.cfg.Global.StateDumpFile
	}
	return e.plan.cfg.Global.StatsDumpFile
}

func (e *realEngine) Stats() any {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out := map[string]any{}
	if snap, err := e.r.Status(ctx); err == nil {
		out["vrrp"] = snap
	}
	if e.sender != nil {
		out["send"] = e.sender.Stats()
	}
	e.mu.Lock()
	rx := map[string]vrrpsock.RecvStats{}
	for k, run := range e.rx {
		fam := "inet"
		if k.ipv6 {
			fam = "inet6"
		}
		rx[k.iface+"/"+fam] = run.r.Stats()
	}
	e.mu.Unlock()
	out["receive"] = rx
	if xs := e.xdp.stats(); xs != nil {
		out["xdp"] = xs
	}
	if e.disp != nil {
		out["notify"] = e.disp.Stats()
	}
	return out
}

func (e *realEngine) Reload(ctx context.Context) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	gc0 := gcCycles()
	t0 := time.Now()
	cfg, err := loadConfig(e.inc, e.d.opts, e.log)
	if err != nil {
		return err
	}
	tParse := time.Since(t0)
	// When the reload changed virtual_server blocks only, everything VRRP uses is the previous
	// model's (shared, not re-parsed): the instances, trackers and receivers stay as they run.
	// (That previous model must be the one running: not one a failed reload parsed.)
	vrrpSame := e.inc.LastPath == "block" && e.inc.Base == e.running
	var p *plan
	if !vrrpSame {
		if p, err = buildPlan(cfg, lookupInterface, notify.RunAs); err != nil {
			return err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("shutting down")
	}
	if !vrrpSame {
		if err := e.reloadVRRP(ctx, p); err != nil {
			return err
		}
	}
	tVRRP := time.Since(t0) - tParse
	// The new runner stops the old one, inherits its checkers' states and its IPVS services.
	e.vs = startVirtualServers(e.ctx, cfg, e.disp, e.log, e.vs)
	e.syncd.configure(cfg) // without lvs_sync_daemon now, this stops the threads
	e.running = cfg
	e.log.Info("reload: timing", "parse", tParse, "parse_path", e.inc.LastPath, "vrrp", tVRRP, "vrrp_kept", vrrpSame,
		"vs_stop", e.vs.stopTook, "ipvs_known", e.vs.knownTook, "virtual_servers_planned", e.vs.planned, "total", time.Since(t0),
		"gc_cycles", gcCycles()-gc0)
	return nil
}

// reloadVRRP moves the VRRP side to the plan p (with e.mu held).
func (e *realEngine) reloadVRRP(ctx context.Context, p *plan) error {
	if err := e.makeVMACs(p); err != nil {
		return err
	}
	old := e.plan
	if err := e.xdp.prepare(p); err != nil {
		e.log.Warn("reload: xdp", "err", err)
	}
	e.notif.setPlan(p)
	if err := e.r.Reload(ctx, p.router); err != nil {
		e.notif.setPlan(old)
		e.dropVMACs(old)
		return err
	}
	e.plan = p
	for name := range p.ifaces {
		if !old.ifaces[name] {
			e.reportLink(name)
		}
	}
	e.trackers.stop()
	e.trackers = startTrackers(e.ctx, p.trackers, e.trackerResult)
	if err := e.syncReceivers(p); err != nil {
		e.log.Warn("reload: receivers", "err", err)
	}
	e.dropVMACs(p)
	return nil
}

// gcCycles is how many garbage collections the process completed (reload timings report it).
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

func (e *realEngine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	ts := e.trackers
	e.trackers = nil
	e.mu.Unlock()
	ts.stop()
	var err error
	if e.r != nil {
		err = e.r.Shutdown(ctx)
		e.routerWG.Wait()
	}
	if e.vs != nil {
		e.vs.stop()
	}
	e.teardown()
	return err
}

// teardown releases everything but the router (stopped by Shutdown, or never started).
func (e *realEngine) teardown() {
	e.stopRealtime()
	e.syncd.close() // after the router's STOP notifications
	if e.watchStp != nil {
		e.watchStp()
		e.watchWG.Wait()
	}
	e.mu.Lock()
	for k, run := range e.rx {
		run.stop()
		delete(e.rx, k)
	}
	e.dropVMACs(nil)
	e.mu.Unlock()
	if e.disp != nil {
		// notify_stop scripts and FIFO lines queued by the shutdown get a moment to start.
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			st := e.disp.Stats()
			if st.Scripts.Pending == 0 && st.FIFO.Pending == 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		e.dispStop()
		e.dispWG.Wait()
	}
	if err := e.xdp.close(true); err != nil {
		e.log.Warn("xdp: close", "err", err)
	}
	if e.sender != nil {
		_ = e.sender.Close()
	}
	if e.ann != nil {
		_ = e.ann.Close()
	}
	_ = os.Getpid
}
