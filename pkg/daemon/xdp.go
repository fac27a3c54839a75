package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/xalived/xalived/loader"
	"github.com/xalived/xalived/pkg/control"
	"github.com/xalived/xalived/pkg/router"
	"github.com/xalived/xalived/pkg/vrrp"
)

// Dataplane names accepted by Options.Dataplane.
const (
	DataplaneAuto   = "auto"
	DataplaneXDP    = control.DataplaneXDP
	DataplaneSocket = control.DataplaneSocket
)

// xdpPlane connects the router to the XDP dataplane (package loader): the kernel validates
// adverts, runs each backup's master-down timer and answers ARP/NS for the VIPs of MASTER
// instances; Go only hears what can change an election (ring-buffer events). The send path
// stays the raw socket (XDP cannot originate packets).
//
// The map state of an instance follows the router's decisions synchronously, on the router's
// goroutine, before anything is announced: the master-down arm (BACKUP) and disarm hooks, and
// the adverts handed to the transport (MASTER with a lease renewed by every advert, or a
// priority-0 advert: no longer MASTER).
//
// All methods are safe on a nil *xdpPlane (socket dataplane): they do nothing.
type xdpPlane struct {
	dp       *loader.Dataplane
	log      *slog.Logger
	mode     loader.Mode
	autoMode bool // pick per interface (generic on veth and macvlan)

	r *router.Router // set once, before the router runs

	mu       sync.Mutex
	insts    map[string]*xdpInst // by instance name
	byKey    map[loader.InstanceKey]*xdpInst
	links    map[string]int                       // attached interface name -> ifindex
	groups   map[string]*groupSock                // multicast memberships by interface/family
	resume   map[loader.InstanceKey]time.Duration // live MASTER leases found at adoption: until
	lost     uint64                               // events lost, from the global counters (last poll)
	closed   bool
	stopBG   context.CancelFunc
	bg       sync.WaitGroup
	eventsIn uint64
	started  time.Duration // CLOCK_MONOTONIC at open: older events are a previous run's
}

// xdpInst is one router instance as installed in the maps.
type xdpInst struct {
	name  string
	cfg   router.InstanceConfig
	iface string // where XDP sees its adverts (the VMAC, or the interface)
	key   loader.InstanceKey
	in    loader.Instance
	ok    bool // installed in the maps under key

	state   loader.State // what we last wrote
	lease   time.Duration
	down    *time.Timer // Go's master-down fallback (no advert re-armed the kernel's yet)
	armedAt time.Duration
	lost    uint64

	// preempt_delay: the kernel passes a lower-priority master's adverts (nopreempt mode) until
	// the delay since the first one ran out, then discards them so its timer runs out.
	preempt   *time.Timer
	preempted bool // the kernel is in preempt mode for the delay that ran out
}

// xdpOptions configure openXDP.
type xdpOptions struct {
	Name  string
	BPFFS string
	Mode  string // native (default) or generic
}

// openXDP loads (or adopts, after a crash) the XDP program and its maps.
func openXDP(o xdpOptions, log *slog.Logger) (*xdpPlane, error) {
	mode, auto := loader.ModeNative, false
	switch o.Mode {
	case "", "auto":
		auto = true
	case "native":
	case "generic":
		mode = loader.ModeGeneric
	default:
		return nil, fmt.Errorf("xdp mode %q: want native or generic", o.Mode)
	}
	name := o.Name
	if name == "" {
		name = "xalived"
	}
	lo := loader.Options{Name: name, BPFFS: o.BPFFS}
	dp, err := loader.Open(lo)
	if errors.Is(err, loader.ErrIncompatiblePins) {
		// Pins of another build: a clean start is all that is left.
		bpffs := o.BPFFS
		if bpffs == "" {
			bpffs = "/sys/fs/bpf"
		}
		dir := filepath.Join(bpffs, "xalived", name)
		log.Warn("xdp: pinned objects of another build, removing them", "dir", dir, "err", err)
		if rerr := os.RemoveAll(dir); rerr != nil {
			return nil, fmt.Errorf("xdp: %w", rerr)
		}
		dp, err = loader.Open(lo)
	}
	if err != nil {
		return nil, fmt.Errorf("xdp: %w", err)
	}
	x := &xdpPlane{dp: dp, log: log, mode: mode, autoMode: auto, insts: map[string]*xdpInst{},
		byKey: map[loader.InstanceKey]*xdpInst{}, links: map[string]int{},
		groups: map[string]*groupSock{}, resume: map[loader.InstanceKey]time.Duration{},
		started: loader.Now()}
	if dp.Adopted() {
		// A crashed predecessor: its MASTERs keep answering ARP until their lease runs out;
		// we take those instances over at once (see masterDownTimer).
		for _, k := range dp.Instances() {
			if st, until, err := dp.StateOf(k); err == nil && st == loader.StateMaster && until > loader.Now() {
				x.resume[k] = until
			}
		}
		log.Info("xdp: adopted pinned dataplane", "dir", dp.Dir(), "attached", dp.Attached(), "live_masters", len(x.resume))
	} else {
		log.Info("xdp: loaded", "dir", dp.Dir(), "mode", mode.String())
	}
	return x, nil
}

// startXDP picks the dataplane for Options.Dataplane: nil for the socket path; for xdp the
// loaded program, attached and with p's instances installed; for auto the same, or nil with
// the reason logged when XDP is not available.
func startXDP(o Options, p *plan, log *slog.Logger) (*xdpPlane, error) {
	switch o.Dataplane {
	case "", DataplaneSocket:
		return nil, nil
	case DataplaneXDP, DataplaneAuto:
	default:
		return nil, fmt.Errorf("dataplane %q: want auto, xdp or socket", o.Dataplane)
	}
	x, err := openXDP(xdpOptions{Name: o.Name, BPFFS: o.BPFFS, Mode: o.XDPMode}, log)
	if err == nil {
		if err = x.prepare(p); err != nil {
			_ = x.close(true)
		}
	}
	if err != nil {
		if o.Dataplane == DataplaneXDP {
			return nil, err
		}
		for i := range p.router.Instances {
			p.router.Instances[i].ExternalMasterDown = false
		}
		log.Warn("xdp dataplane unavailable, falling back to the socket dataplane", "reason", err.Error())
		return nil, nil
	}
	return x, nil
}

// prepare marks every instance of p as having its master-down timer in the kernel and
// installs them (before the router runs or reloads, so its first decisions reach the maps).
func (x *xdpPlane) prepare(p *plan) error {
	if x == nil {
		return nil
	}
	for i := range p.router.Instances {
		p.router.Instances[i].ExternalMasterDown = true
	}
	return x.sync(p)
}

// name is the dataplane as the status document names it.
func (x *xdpPlane) name() string {
	if x == nil {
		return control.DataplaneSocket
	}
	return control.DataplaneXDP
}

// wrap returns the transport, notifier and options the router gets on this dataplane.
func (x *xdpPlane) wrap(t router.Transport, n router.Notifier, o router.Options) (router.Transport, router.Notifier, router.Options) {
	if x == nil {
		return t, n, o
	}
	o.MasterDownTimer = x.masterDownTimer
	return &xdpTransport{inner: t, x: x}, &xdpNotifier{inner: n, x: x}, o
}

// start remembers the router and starts the event reader and the overflow poller.
func (x *xdpPlane) start(r *router.Router) {
	if x == nil {
		return
	}
	x.r = r
	ctx, cancel := context.WithCancel(context.Background())
	x.stopBG = cancel
	events := make(chan loader.Event, 1024)
	x.bg.Add(3)
	go func() {
		defer x.bg.Done()
		defer close(events)
		if err := x.dp.ReadEvents(ctx, events); err != nil && ctx.Err() == nil {
			x.log.Error("xdp: ring buffer", "err", err)
		}
	}()
	go func() {
		defer x.bg.Done()
		for ev := range events {
			x.event(ev)
		}
	}()
	go func() {
		defer x.bg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				x.pollLost()
			}
		}
	}()
}

// listenIface is the interface XDP sees the instance's adverts on.
func listenIface(c *router.InstanceConfig) string {
	if c.SendInterface != "" {
		return c.SendInterface
	}
	return c.Interface
}

// sync attaches to the interfaces of p and installs its instances; instances and interfaces p
// no longer has are removed. Interfaces that do not exist (yet) are skipped: a link event
// calls sync again. A re-created interface (new ifindex) is re-attached.
func (x *xdpPlane) sync(p *plan) error {
	if x == nil {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil
	}
	var errs []error
	// Interfaces: what p needs, by current ifindex.
	want := map[string]int{}
	groups := map[string][]net.IP{}
	for i := range p.router.Instances {
		c := &p.router.Instances[i]
		name := listenIface(c)
		if _, seen := want[name]; seen {
			continue
		}
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			x.log.Warn("xdp: interface not there (yet)", "interface", name, "err", err)
			want[name] = 0
			continue
		}
		want[name] = ifc.Index
	}
	for k, g := range p.listen {
		for _, a := range g {
			groups[k.iface+"/"+famName(k.ipv6)] = append(groups[k.iface+"/"+famName(k.ipv6)], net.IP(a.AsSlice()))
		}
	}
	for name, idx := range x.links {
		if want[name] != idx {
			if err := x.dp.Detach(idx); err != nil {
				errs = append(errs, err)
			}
			delete(x.links, name)
		}
	}
	// Adopted links of interfaces that are no longer wanted (renamed, gone, other config).
	keep := map[int]bool{}
	for _, idx := range want {
		keep[idx] = true
	}
	for _, idx := range x.dp.Attached() {
		if !keep[idx] {
			_ = x.dp.Detach(idx)
		}
	}
	for name, idx := range want {
		if idx == 0 {
			continue
		}
		if err := x.attach(name, idx); err != nil {
			errs = append(errs, err)
			continue
		}
		x.links[name] = idx
	}
	// Multicast memberships keep NIC filters open for the groups (never read).
	for k, gs := range x.groups {
		if _, ok := groups[k]; !ok || want[gs.iface] != gs.ifindex {
			gs.close()
			delete(x.groups, k)
		}
	}
	for k, g := range groups {
		if _, ok := x.groups[k]; ok {
			continue
		}
		iface, fam := splitGroupKey(k)
		if want[iface] == 0 {
			continue
		}
		gs, err := joinGroups(iface, want[iface], fam == "inet6", g)
		if err != nil {
			x.log.Warn("xdp: multicast membership", "interface", iface, "err", err)
			continue
		}
		x.groups[k] = gs
	}

	// Instances.
	seen := map[string]bool{}
	for i := range p.router.Instances {
		c := p.router.Instances[i]
		seen[c.Name] = true
		it := x.insts[c.Name]
		if it == nil {
			it = &xdpInst{name: c.Name}
			x.insts[c.Name] = it
		}
		prio := c.Priority
		if it.ok && it.in.Priority != 0 && it.cfg.Priority == c.Priority {
			prio = it.in.Priority // keep the effective priority the router told us
		}
		it.cfg, it.iface = c, listenIface(&c)
		idx := want[it.iface]
		key := loader.InstanceKey{Ifindex: uint32(idx), Family: loader.IPv4, VRID: c.VRID}
		if c.IPv6 {
			key.Family = loader.IPv6
		}
		if it.ok && (it.key != key || idx == 0) {
			x.uninstall(it)
		}
		if idx == 0 {
			continue
		}
		in, err := loaderInstance(&c, key, prio)
		if err != nil {
			errs = append(errs, fmt.Errorf("xdp: instance %s: %w", c.Name, err))
			continue
		}
		wr := in
		if it.preempted && it.ok {
			wr.NoPreempt = false // a preempt_delay that ran out stays run out
		}
		if err := x.dp.SetInstance(wr); err != nil {
			errs = append(errs, fmt.Errorf("xdp: instance %s: %w", c.Name, err))
			continue
		}
		if !it.ok {
			if st, until, err := x.dp.StateOf(key); err == nil {
				it.state = st
				if st == loader.StateMaster {
					it.lease = until - loader.Now()
				}
			}
		}
		it.key, it.in, it.ok = key, in, true
		x.byKey[key] = it
	}
	for name, it := range x.insts {
		if !seen[name] {
			if it.ok {
				x.uninstall(it)
			}
			if it.down != nil {
				it.down.Stop()
			}
			delete(x.insts, name)
		}
	}
	// Instances left by a crashed predecessor that this configuration does not have.
	for _, k := range x.dp.Instances() {
		if x.byKey[k] == nil {
			_ = x.dp.DeleteInstance(k)
		}
	}
	return errors.Join(errs...)
}

func (x *xdpPlane) attach(name string, idx int) error {
	if x.links[name] == idx {
		return nil
	}
	mode := x.mode
	if x.autoMode {
		// A native XDP_TX on veth reaches the peer only if the peer runs XDP or GRO, which a
		// container's host side rarely does; macvlan (VMACs) has no native hook. The generic
		// hook transmits through the device: ARP replies arrive either way.
		if l, err := netlink.LinkByIndex(idx); err == nil && (l.Type() == "veth" || l.Type() == "macvlan") {
			mode = loader.ModeGeneric
		}
	}
	err := x.dp.Attach(idx, mode)
	if err != nil && mode == loader.ModeNative {
		// Drivers without native XDP (macvlan VMACs, some NICs): the generic hook still works.
		if gerr := x.dp.Attach(idx, loader.ModeGeneric); gerr == nil {
			x.log.Warn("xdp: native mode refused, attached in generic mode", "interface", name, "err", err)
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("xdp: interface %s: %w", name, err)
	}
	x.log.Info("xdp: attached", "interface", name, "ifindex", idx, "mode", mode.String())
	return nil
}

// uninstall removes an instance from the maps; the caller holds x.mu.
func (x *xdpPlane) uninstall(it *xdpInst) {
	if err := x.dp.DeleteInstance(it.key); err != nil && !errors.Is(err, loader.ErrUnknownInstance) {
		x.log.Warn("xdp: delete instance", "instance", it.name, "err", err)
	}
	delete(x.byKey, it.key)
	it.ok = false
	it.state = loader.StateInit
}

// loaderInstance maps a router instance onto what the program checks adverts against.
func loaderInstance(c *router.InstanceConfig, key loader.InstanceKey, prio uint8) (loader.Instance, error) {
	in := loader.Instance{
		Key: key, Version: c.Version, Priority: prio,
		Interval: vrrp.WireInterval(c.Version, c.Interval),
		AuthType: c.AuthType, AuthPass: c.AuthPass,
		Unicast:            len(c.Unicast) > 0,
		NoPreempt:          (c.NoPreempt && c.Priority != vrrp.PriorityOwner && !c.InitialMaster) || c.PreemptDelay > 0,
		OwnerIgnoreAdverts: c.OwnerIgnoreAdverts,
		CheckUnicastSrc:    c.CheckUnicastSrc,
		LocalAddr:          c.Source,
		VIPs:               c.VIPs,
	}
	if c.DownTimerAdverts > 0 && c.DownTimerAdverts < 256 {
		in.DownAdverts = uint8(c.DownTimerAdverts)
	}
	for _, p := range c.Unicast {
		in.UnicastPeers = append(in.UnicastPeers, loader.UnicastPeer{Addr: p.Addr, MinTTL: p.MinTTL, MaxTTL: p.MaxTTL})
	}
	if len(in.VIPs) > 0 {
		mac, err := replyMAC(c)
		if err != nil {
			return in, err
		}
		in.ReplyMAC = mac
	}
	return in, nil
}

// replyMAC is the MAC ARP/NA replies carry: the VMAC's if the instance has one, else the
// interface's.
func replyMAC(c *router.InstanceConfig) (net.HardwareAddr, error) {
	name := c.Interface
	if d, ok := c.Data.(*instData); ok && d != nil && d.vmac != nil {
		name = d.vmac.Name
	}
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("reply mac: %w", err)
	}
	if len(ifc.HardwareAddr) != 6 {
		return nil, fmt.Errorf("reply mac: interface %s has no ethernet address", name)
	}
	return ifc.HardwareAddr, nil
}

// masterDownInterval is the lease of a MASTER: a backup takes over after this long.
func masterDownInterval(c *router.InstanceConfig, prio uint8) time.Duration {
	n := c.DownTimerAdverts
	if n <= 0 {
		n = 3
	}
	skew := time.Duration(256-int(prio)) * c.Interval / 256
	if c.Version == vrrp.Version2 {
		skew = time.Duration(256-int(prio)) * time.Second / 256
	}
	return time.Duration(n)*c.Interval + skew
}

// setState writes an instance's state; the caller holds x.mu.
func (x *xdpPlane) setState(it *xdpInst, s loader.State, lease time.Duration) {
	if !it.ok {
		return
	}
	if err := x.dp.SetState(it.key, s, lease); err != nil {
		x.log.Warn("xdp: set state", "instance", it.name, "state", s.String(), "err", err)
		return
	}
	it.state, it.lease = s, lease
}

// masterDownTimer is router.Options.MasterDownTimer: the FSM armed (BACKUP) or stopped the
// master-down timer. It runs on the router's goroutine before anything of the step is sent or
// announced, so the map follows the FSM first.
func (x *xdpPlane) masterDownTimer(c *router.InstanceConfig, at time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	it := x.insts[c.Name]
	if it == nil {
		return
	}
	if at.IsZero() {
		if it.down != nil {
			it.down.Stop()
		}
		x.endPreemptDelay(it)
		if it.state == loader.StateBackup {
			x.setState(it, loader.StateInit, 0)
		}
		return
	}
	if until, ok := x.resume[it.key]; ok {
		// Restarted after a crash while MASTER with a live lease: keep answering and take
		// the instance over now instead of waiting a master-down interval. A backup of equal
		// or lower priority takes over no sooner than the lease ends: with an advert interval
		// of lease left, none has.
		delete(x.resume, it.key)
		if it.state == loader.StateMaster && until-loader.Now() > it.cfg.Interval {
			name := it.name
			x.log.Info("xdp: resuming MASTER left by the previous run", "instance", name)
			go x.r.MasterDown(name)
			return
		}
	}
	if it.state != loader.StateBackup {
		x.setState(it, loader.StateBackup, 0)
	}
	// The kernel's timer is armed by adverts only: when none re-arms it (no master yet, a
	// preempted lower priority) Go's fires.
	it.armedAt = loader.Now()
	name, key, armed := it.name, it.key, it.armedAt
	d := time.Until(at)
	if it.down != nil {
		it.down.Stop()
	}
	it.down = time.AfterFunc(d, func() { x.fallbackDown(name, key, armed) })
}

func (x *xdpPlane) fallbackDown(name string, key loader.InstanceKey, armed time.Duration) {
	x.mu.Lock()
	it := x.insts[name]
	stale := it == nil || it.armedAt != armed || x.closed
	x.mu.Unlock()
	if stale {
		return
	}
	p, err := x.dp.ReadPeer(key)
	if err == nil && p.LastSeen > armed {
		return // an advert re-armed the kernel's timer since: it decides
	}
	x.log.Debug("xdp: master down (no advert since the timer was armed)", "instance", name,
		"armed_ago", loader.Now()-armed, "peer", p.Addr.String(), "last_seen_ago", loader.Now()-p.LastSeen)
	x.r.MasterDown(name)
}

// beforeSend runs on the router's goroutine for every batch of adverts, before it leaves:
// MASTER in the map with a lease renewed by each advert, or no longer MASTER on priority 0.
func (x *xdpPlane) beforeSend(pkts []router.Packet) {
	x.mu.Lock()
	defer x.mu.Unlock()
	last := ""
	for i := range pkts {
		p := &pkts[i]
		if p.Instance == last || len(p.Payload) < 3 {
			continue
		}
		last = p.Instance
		it := x.insts[p.Instance]
		if it == nil {
			continue
		}
		prio := p.Payload[2]
		if prio == 0 {
			if it.state == loader.StateMaster {
				x.setState(it, loader.StateInit, 0)
			}
			continue
		}
		if it.state != loader.StateMaster {
			x.endPreemptDelay(it)
		}
		x.setState(it, loader.StateMaster, masterDownInterval(&it.cfg, prio))
	}
}

// preemptDelay runs preempt_delay for a backup whose master changed to prio: a lower master
// starts the delay, a higher or equal one cancels it.
func (x *xdpPlane) preemptDelay(name string, prio uint8) {
	x.mu.Lock()
	defer x.mu.Unlock()
	it := x.insts[name]
	if it == nil || !it.ok || it.cfg.PreemptDelay <= 0 || it.cfg.NoPreempt {
		return
	}
	if prio >= it.in.Priority || prio == 0 {
		x.endPreemptDelay(it)
		return
	}
	if it.preempt != nil || it.preempted {
		return
	}
	it.preempt = time.AfterFunc(it.cfg.PreemptDelay, func() {
		x.mu.Lock()
		defer x.mu.Unlock()
		if it.preempt == nil || x.closed || !it.ok {
			return
		}
		in := it.in
		in.NoPreempt = false
		if err := x.dp.SetInstance(in); err != nil {
			x.log.Warn("xdp: preempt_delay", "instance", it.name, "err", err)
			return
		}
		it.preempted = true
		x.log.Debug("xdp: preempt_delay over, lower-priority adverts now discarded", "instance", it.name)
	})
}

// endPreemptDelay puts the kernel back in the instance's configured mode; the caller holds x.mu.
func (x *xdpPlane) endPreemptDelay(it *xdpInst) {
	if it.preempt != nil {
		it.preempt.Stop()
		it.preempt = nil
	}
	if it.preempted && it.ok {
		if err := x.dp.SetInstance(it.in); err != nil {
			x.log.Warn("xdp: preempt_delay", "instance", it.name, "err", err)
			return
		}
	}
	it.preempted = false
}

// setPriority follows the instance's effective priority (trackers) into the map.
func (x *xdpPlane) setPriority(name string, prio uint8) {
	x.mu.Lock()
	defer x.mu.Unlock()
	it := x.insts[name]
	if it == nil || !it.ok || it.in.Priority == prio || prio == 0 {
		return
	}
	in := it.in
	in.Priority = prio
	wr := in
	if it.preempted {
		wr.NoPreempt = false
	}
	if err := x.dp.SetInstance(wr); err != nil {
		x.log.Warn("xdp: priority", "instance", name, "err", err)
		return
	}
	it.in = in
}

// event turns a ring-buffer record into a router call.
func (x *xdpPlane) event(ev loader.Event) {
	if ev.Time < x.started {
		return // queued for a crashed predecessor; the peer records and timers carry on
	}
	x.mu.Lock()
	x.eventsIn++
	it := x.byKey[ev.Key]
	var name string
	var c router.InstanceConfig
	if it != nil {
		name, c = it.name, it.cfg
	}
	x.mu.Unlock()
	if it == nil {
		return
	}
	x.log.Debug("xdp: event", "instance", name, "type", ev.Type.String(), "from", ev.Addr.String(),
		"priority", ev.Priority, "age", loader.Now()-ev.Time)
	switch ev.Type {
	case loader.EventMasterDown:
		// Read late (this process was descheduled): an advert accepted since the expiry
		// means the master is back, and the kernel re-armed the timer.
		if p, err := x.dp.ReadPeer(ev.Key); err == nil && p.LastSeen > ev.Time {
			return
		}
		x.r.MasterDown(name)
	case loader.EventPeerChanged, loader.EventPrioZero, loader.EventPreempted, loader.EventLowerPrio:
		if ev.Type == loader.EventPeerChanged {
			x.preemptDelay(name, ev.Priority)
		}
		x.r.DeliverAdvert(name, ev.Addr, advertOf(&c, ev.Priority, ev.Interval))
	case loader.EventCheckFailed:
		x.log.Warn("xdp: advert refused", "instance", name, "from", ev.Addr.String(), "reason", ev.Reason.String(),
			"priority", ev.Priority, "interval", ev.Interval)
	}
}

func advertOf(c *router.InstanceConfig, prio uint8, interval uint16) vrrp.Advert {
	return vrrp.Advert{Version: c.Version, Type: vrrp.TypeAdvertisement, VRID: c.VRID, Priority: prio,
		AuthType: c.AuthType, AuthData: vrrp.PassAuthData(c.AuthPass), Interval: interval, Addrs: c.VIPs}
}

// pollLost: events the ring buffer could not hold are replaced by the peer records.
func (x *xdpPlane) pollLost() {
	type todo struct {
		name string
		key  loader.InstanceKey
		cfg  router.InstanceConfig
	}
	// One lookup a second in the steady state: the global counters count every lost event, and
	// the instances' counters are read only when that moved.
	g, err := x.dp.GlobalCounters()
	x.mu.Lock()
	if err == nil && g.EventsLost == x.lost {
		x.mu.Unlock()
		return
	}
	if err == nil {
		x.lost = g.EventsLost
	}
	x.mu.Unlock()
	var work []todo
	x.mu.Lock()
	for _, it := range x.insts {
		if !it.ok {
			continue
		}
		c, err := x.dp.Counters(it.key)
		if err != nil {
			continue
		}
		if c.EventsLost != it.lost {
			it.lost = c.EventsLost
			work = append(work, todo{it.name, it.key, it.cfg})
		}
	}
	x.mu.Unlock()
	for _, w := range work {
		p, err := x.dp.ReadPeer(w.key)
		if err != nil || !p.Addr.IsValid() {
			continue
		}
		x.log.Warn("xdp: ring buffer overflowed, reading the peer record", "instance", w.name)
		if loader.Now()-p.LastSeen > p.DownIn {
			x.r.MasterDown(w.name)
		} else {
			x.r.DeliverAdvert(w.name, p.Addr, advertOf(&w.cfg, p.Priority, p.Interval))
		}
	}
}

// close stops the readers; with detach it removes the program from every interface and every
// pin (a clean stop), without it the pins stay for a successor to adopt.
func (x *xdpPlane) close(detach bool) error {
	if x == nil {
		return nil
	}
	x.mu.Lock()
	x.closed = true
	for _, it := range x.insts {
		if it.down != nil {
			it.down.Stop()
		}
	}
	for k, gs := range x.groups {
		gs.close()
		delete(x.groups, k)
	}
	x.mu.Unlock()
	if x.stopBG != nil {
		x.stopBG()
		x.bg.Wait()
	}
	if !detach {
		return x.dp.Release()
	}
	return x.dp.Close()
}

// xdpInstanceStatus is one instance in the XDP part of `xalivectl stats`.
type xdpInstanceStatus struct {
	Key        string            `json:"key"`
	Interface  string            `json:"interface"`
	State      string            `json:"state"`
	LeaseMs    int64             `json:"lease_remaining_ms,omitempty"`
	Priority   uint8             `json:"priority"`
	Peer       *xdpPeerStatus    `json:"peer,omitempty"`
	Adverts    map[string]uint64 `json:"adverts"`
	Notes      map[string]uint64 `json:"notes,omitempty"`
	PrioZero   uint64            `json:"priority_zero"`
	ARPReplies uint64            `json:"arp_replies"`
	NAReplies  uint64            `json:"na_replies"`
	LeaseDrops uint64            `json:"lease_drops"`
	MasterDown uint64            `json:"master_down"`
	Events     uint64            `json:"events"`
	EventsLost uint64            `json:"events_lost"`
}

type xdpPeerStatus struct {
	Addr        string `json:"address"`
	Priority    uint8  `json:"priority"`
	Interval    uint16 `json:"interval"`
	AgoMs       int64  `json:"last_seen_ms_ago"`
	DownAfterMs int64  `json:"master_down_ms"`
}

// xdpStats is the XDP part of `xalivectl stats`.
type xdpStats struct {
	Dir        string                       `json:"pin_dir"`
	Mode       string                       `json:"mode"`
	Attached   []string                     `json:"attached"`
	Instances  map[string]xdpInstanceStatus `json:"instances"`
	Unmatched  map[string]uint64            `json:"unmatched"`
	EventsRead uint64                       `json:"events_read"`
	Timer      *xdpTimerStats               `json:"master_down_timer,omitempty"`
}

// xdpTimerStats is the program's one master-down timer: callbacks and their run time.
type xdpTimerStats struct {
	Runs    uint64 `json:"callbacks"`
	RunNs   uint64 `json:"run_ns"`
	Scanned uint64 `json:"slots_scanned"`
}

func reasonMap(c *[loader.NumReasons]uint64, skipAccept bool) map[string]uint64 {
	m := map[string]uint64{}
	for i, v := range c {
		if v == 0 || (skipAccept && vrrp.DropReason(i) == vrrp.Accept) {
			continue
		}
		m[vrrp.DropReason(i).String()] = v
	}
	return m
}

// stats reads every instance's counters, state and peer record.
func (x *xdpPlane) stats() *xdpStats {
	if x == nil {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	s := &xdpStats{Dir: x.dp.Dir(), Mode: x.mode.String(), Instances: map[string]xdpInstanceStatus{}, EventsRead: x.eventsIn}
	for name := range x.links {
		s.Attached = append(s.Attached, name)
	}
	sort.Strings(s.Attached)
	now := loader.Now()
	for name, it := range x.insts {
		if !it.ok {
			continue
		}
		st := xdpInstanceStatus{Key: it.key.String(), Interface: it.iface, Priority: it.in.Priority}
		if state, until, err := x.dp.StateOf(it.key); err == nil {
			st.State = state.String()
			if state == loader.StateMaster {
				st.LeaseMs = (until - now).Milliseconds()
			}
		}
		if p, err := x.dp.ReadPeer(it.key); err == nil && p.Addr.IsValid() {
			st.Peer = &xdpPeerStatus{Addr: p.Addr.String(), Priority: p.Priority, Interval: p.Interval,
				AgoMs: (now - p.LastSeen).Milliseconds(), DownAfterMs: p.DownIn.Milliseconds()}
		}
		if c, err := x.dp.Counters(it.key); err == nil {
			st.Adverts = reasonMap(&c.Adverts, false)
			st.Notes = reasonMap(&c.Notes, false)
			st.PrioZero, st.ARPReplies, st.NAReplies = c.PrioZero, c.ARPReplies, c.NAReplies
			st.LeaseDrops, st.MasterDown, st.Events, st.EventsLost = c.LeaseDrops, c.MasterDown, c.Events, c.EventsLost
		}
		s.Instances[name] = st
	}
	if g, err := x.dp.GlobalCounters(); err == nil {
		s.Unmatched = reasonMap(&g.Adverts, false)
	}
	if t, err := x.dp.Timer(); err == nil {
		s.Timer = &xdpTimerStats{Runs: t.Runs, RunNs: uint64(t.RunTime), Scanned: t.Scanned}
	}
	return s
}

// decorate puts the XDP counters into the status document: accepted adverts and drops by
// reason come from the per-CPU maps (the router never sees adverts on this path).
func (x *xdpPlane) decorate(st *control.Status) {
	if x == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := range st.VRRP {
		in := &st.VRRP[i]
		in.Dataplane = control.DataplaneXDP
		it := x.insts[in.Name]
		if it == nil || !it.ok {
			continue
		}
		c, err := x.dp.Counters(it.key)
		if err != nil {
			continue
		}
		in.AdvertsRx = c.Adverts[vrrp.Accept]
		if in.Drops == nil {
			in.Drops = map[string]uint64{}
		}
		for k, v := range reasonMap(&c.Adverts, true) {
			in.Drops[k] += v
			in.DropsTotal += v
		}
	}
}

// xdpTransport renews the MASTER lease (or ends it) before the adverts leave.
type xdpTransport struct {
	inner router.Transport
	x     *xdpPlane
}

func (t *xdpTransport) Send(pkts []router.Packet) error {
	t.x.beforeSend(pkts)
	return t.inner.Send(pkts)
}

// xdpNotifier follows effective-priority changes into the map.
type xdpNotifier struct {
	inner router.Notifier
	x     *xdpPlane
}

func (n *xdpNotifier) Notify(no router.Notification) {
	if !no.Group && no.PriorityChanged {
		n.x.setPriority(no.Name, no.Priority)
	}
	n.inner.Notify(no)
}

func famName(ipv6 bool) string {
	if ipv6 {
		return "inet6"
	}
	return "inet"
}
