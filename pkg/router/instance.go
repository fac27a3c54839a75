package router

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/xalived/xalived/pkg/vrrp"
)

// instance is the runtime of one vrrp_instance; owned by the Run goroutine.
type instance struct {
	cfg   *InstanceConfig
	m     vrrp.Machine
	group *group
	// timers: one heap entry per timer, allocated once.
	timers [vrrp.NumTimers]*timerEntry
	// adverts caches the encoded packets per priority sent.
	adverts map[uint8][]Packet
	// lastPrio, lastAdverts: the entry of adverts used last (a master sends at one
	// priority for long), looked up without hashing.
	lastPrio    uint8
	lastAdverts []Packet
	authData    [vrrp.AuthDataLen]byte
	holdsVIPs   bool
	vips        vipSlot
	removed     bool
	taken       bool // reload bookkeeping

	drops, notes [vrrp.NumReasons]uint64
	rx, tx       uint64
}

type group struct {
	cfg     SyncGroupConfig
	members []*instance
	state   vrrp.State // last notified aggregate state
}

type tracker struct {
	up       bool
	value    int
	isScript bool
	script   vrrp.ScriptState
	scfg     ScriptConfig
}

type demuxKey struct {
	iface string
	ipv6  bool
	vrid  uint8
}

// build installs cfg on a fresh router.
func (r *Router) build(cfg Config) {
	r.cfg = cfg
	for _, s := range cfg.Scripts {
		r.trackers[s.Name] = &tracker{isScript: true, script: vrrp.NewScriptState(s.InitFail), scfg: s}
	}
	for i := range cfg.Instances {
		r.insts = append(r.insts, r.newInstance(&cfg.Instances[i]))
	}
	r.index()
}

func (r *Router) newInstance(c *InstanceConfig) *instance {
	in := &instance{cfg: c, authData: vrrp.PassAuthData(c.AuthPass)}
	for t := range in.timers {
		in.timers[t] = &timerEntry{in: in, t: vrrp.Timer(t), index: -1}
	}
	in.m = vrrp.NewMachine(c.fsmConfig(false), c.Source, c.Priority)
	return in
}

// index rebuilds names, groups and sync flags after the instance list changed.
func (r *Router) index() {
	r.byName = map[string]*instance{}
	r.byKey = map[demuxKey][]*instance{}
	for _, in := range r.insts {
		r.byName[in.cfg.Name] = in
		k := demuxKey{iface: in.cfg.Interface, ipv6: in.cfg.IPv6, vrid: in.cfg.VRID}
		r.byKey[k] = append(r.byKey[k], in)
		in.group = nil
	}
	r.groups = nil
	for _, gc := range r.cfg.SyncGroups {
		g := &group{cfg: gc}
		for _, name := range gc.Members {
			if in := r.byName[name]; in != nil {
				in.group = g
				g.members = append(g.members, in)
			}
		}
		r.groups = append(r.groups, g)
	}
	for _, in := range r.insts {
		in.m.Cfg = in.cfg.fsmConfig(in.group != nil)
		in.m.Local = in.cfg.Source
	}
}

func (r *Router) startInstance(in *instance) {
	prio, fault := r.effective(in)
	in.m.Priority, in.m.Faulty = prio, fault
	r.step(in, vrrp.Event{Kind: vrrp.EvStartup})
}

// effective computes the effective priority and fault of in from its trackers.
func (r *Router) effective(in *instance) (uint8, bool) {
	refs := in.cfg.Tracks
	syncNoWeights := false
	if in.group != nil {
		refs = append(slices.Clip(refs), in.group.cfg.Tracks...)
		syncNoWeights = !in.group.cfg.TrackingWeight
	}
	tracks := make([]vrrp.Track, 0, len(refs))
	for _, ref := range refs {
		t := vrrp.Track{Kind: ref.Kind, Weight: ref.Weight, Reverse: ref.Reverse, Up: true}
		if tr := r.trackers[ref.Name]; tr != nil {
			t.Up, t.Value = tr.up, tr.value
			if tr.isScript {
				t.Up = tr.script.OK
			}
		}
		tracks = append(tracks, t)
	}
	return vrrp.EffectivePriority(in.cfg.Priority, tracks, syncNoWeights)
}

// retrack feeds priority and fault changes of every instance to its machine.
func (r *Router) retrack() {
	for _, in := range r.insts {
		prio, fault := r.effective(in)
		if in.m.State == vrrp.StateInit {
			in.m.Priority, in.m.Faulty = prio, fault
			continue
		}
		if prio != in.m.Priority {
			r.step(in, vrrp.Event{Kind: vrrp.EvPriority, Priority: prio})
			n := Notification{Name: in.cfg.Name, State: in.m.State, Priority: prio, PriorityChanged: true}
			r.later(func() { r.notifier.Notify(n) })
		}
		if fault != in.m.Faulty {
			k := vrrp.EvUnfault
			if fault {
				k = vrrp.EvFault
			}
			r.step(in, vrrp.Event{Kind: k})
		}
	}
}

func (r *Router) setTracker(name string, up bool, value int) {
	t, ok := r.trackers[name]
	if ok && (t.isScript || (t.up == up && t.value == value)) {
		return // scripts report through ScriptResult
	}
	if !ok {
		t = &tracker{}
		r.trackers[name] = t
	}
	t.up, t.value = up, value
	r.retrack()
}

func (r *Router) scriptResult(name string, success bool) {
	t := r.trackers[name]
	if t == nil {
		t = &tracker{isScript: true, script: vrrp.NewScriptState(false), scfg: ScriptConfig{Name: name, Rise: 1, Fall: 1}}
		r.trackers[name] = t
	}
	var changed bool
	t.script, changed = t.script.Result(success, t.scfg.Rise, t.scfg.Fall)
	if changed {
		r.retrack()
	}
}

// step feeds one event to an instance and applies the sync-group rules.
func (r *Router) step(in *instance, ev vrrp.Event) {
	prev := in.m.State
	// One action buffer reused across steps (25,500 steps a second for 255 instances at
	// 10 ms); a step nested inside apply finds it taken and allocates its own.
	buf := r.actBuf
	r.actBuf = nil
	var as []vrrp.Action
	in.m, as = vrrp.StepAppend(in.m, ev, r.now, buf[:0])
	r.apply(in, as)
	clear(as)
	r.actBuf = as[:0]
	if in.group != nil && !r.stopping {
		r.settle(in.group, in, prev)
	}
}

func (r *Router) settle(g *group, changed *instance, prev vrrp.State) {
	idx := slices.Index(g.members, changed)
	for range 2 * (len(g.members) + 2) {
		views := make([]vrrp.SyncMember, len(g.members))
		for i, m := range g.members {
			views[i] = vrrp.SyncMemberOf(&m.m)
		}
		orders := vrrp.SyncDecide(views, idx, prev)
		if len(orders) == 0 {
			break
		}
		idx = -1
		for _, o := range orders {
			m := g.members[o.Member]
			p := m.m.State
			var as []vrrp.Action
			m.m, as = vrrp.Step(m.m, vrrp.Event{Kind: o.Kind}, r.now)
			r.apply(m, as)
			if m.m.State != p {
				idx, prev = o.Member, p
			}
		}
	}
	if s := g.aggregate(); s != g.state && s != vrrp.StateInit {
		g.state = s
		n := Notification{Name: g.cfg.Name, Group: true, State: s}
		r.later(func() { r.notifier.Notify(n) })
	}
}

func (g *group) aggregate() vrrp.State {
	all := func(s vrrp.State) bool {
		for _, m := range g.members {
			if m.m.State != s {
				return false
			}
		}
		return len(g.members) > 0
	}
	for _, m := range g.members {
		if m.m.State == vrrp.StateFault {
			return vrrp.StateFault
		}
	}
	switch {
	case all(vrrp.StateMaster):
		return vrrp.StateMaster
	case all(vrrp.StateStop):
		return vrrp.StateStop
	}
	for _, m := range g.members {
		if m.m.State == vrrp.StateBackup {
			return vrrp.StateBackup
		}
	}
	return g.state
}

// apply executes the FSM's actions: adverts to the outbox, timers to the heap, host work
// and notifications to the ordered worker.
func (r *Router) apply(in *instance, as []vrrp.Action) {
	cfg := in.cfg
	for _, a := range as {
		switch a.Kind {
		case vrrp.ActSendAdvert:
			pkts := r.advertsFor(in, a.Priority)
			r.outbox = append(r.outbox, pkts...)
			in.tx += uint64(len(pkts))
		case vrrp.ActAddVIPs:
			in.holdsVIPs = true
			r.wantVIPs(in, true)
		case vrrp.ActRemoveVIPs:
			in.holdsVIPs = false
			r.wantVIPs(in, false)
		case vrrp.ActGARP:
			r.garp(in, a.Count)
		case vrrp.ActArm:
			if a.Timer == vrrp.TimerMasterDown && cfg.ExternalMasterDown {
				r.externalDown(cfg, a.At)
				continue
			}
			r.timers.arm(in.timers[a.Timer], a.At)
		case vrrp.ActDisarm:
			if a.Timer == vrrp.TimerMasterDown && cfg.ExternalMasterDown {
				r.externalDown(cfg, time.Time{})
				continue
			}
			r.timers.disarm(in.timers[a.Timer])
		case vrrp.ActNotify:
			n := Notification{Name: cfg.Name, State: a.State, Priority: in.m.Priority, Removed: in.removed}
			r.later(func() { r.notifier.Notify(n) })
		case vrrp.ActMasterRxLowerPrio:
			n := Notification{Name: cfg.Name, State: vrrp.StateMaster, Priority: in.m.Priority, RxLowerPrio: true}
			r.later(func() { r.notifier.Notify(n) })
			r.regarpGroup(in)
		}
	}
}

// regarpGroup: after a split brain the other masters of in's sync group re-announce too.
func (r *Router) regarpGroup(in *instance) {
	if in.group == nil {
		return
	}
	for _, m := range in.group.members {
		g := m.cfg.garp()
		if m == in || m.m.State != vrrp.StateMaster || g.LowerPrioRepeat <= 0 {
			continue
		}
		r.garp(m, g.LowerPrioRepeat)
		if g.LowerPrioDelay > 0 {
			r.timers.arm(m.timers[vrrp.TimerGARPLowerPrio], r.now.Add(g.LowerPrioDelay))
		}
	}
}

func (r *Router) hostErr(cfg *InstanceConfig, what string, err error) {
	if err != nil {
		r.reportError(fmt.Errorf("router: instance %s: %s: %w", cfg.Name, what, err))
	}
}

// advertsFor returns the encoded adverts of in at priority prio: one to the group, or one
// per unicast peer (each with its own checksum).
func (r *Router) advertsFor(in *instance, prio uint8) []Packet {
	if in.lastAdverts != nil && in.lastPrio == prio {
		return in.lastAdverts
	}
	if pk, ok := in.adverts[prio]; ok {
		in.lastPrio, in.lastAdverts = prio, pk
		return pk
	}
	c := in.cfg
	a := vrrp.Advert{
		Version: c.Version, Type: vrrp.TypeAdvertisement, VRID: c.VRID, Priority: prio,
		AuthType: c.AuthType, AuthData: in.authData,
		Interval: vrrp.WireInterval(c.Version, c.Interval), Addrs: c.VIPs,
	}
	dsts := []netip.Addr{c.group()}
	if len(c.Unicast) > 0 {
		dsts = dsts[:0]
		for _, p := range c.Unicast {
			dsts = append(dsts, p.Addr)
		}
	}
	iface := c.SendInterface
	if iface == "" {
		iface = c.Interface
	}
	ttl := c.TTL
	if ttl == 0 {
		ttl = vrrp.TTL
	}
	pkts := make([]Packet, 0, len(dsts))
	for _, d := range dsts {
		b, err := a.Marshal(c.Source, d, c.ChecksumForm)
		if err != nil { // validated config: cannot happen
			r.reportError(fmt.Errorf("router: instance %s: encode advert: %w", c.Name, err))
			return nil
		}
		pkts = append(pkts, Packet{Instance: c.Name, Interface: iface, VMAC: c.VMAC, VRID: c.VRID,
			Src: c.Source, Dst: d, TTL: ttl, Payload: b})
	}
	if in.adverts == nil || len(in.adverts) > 4 {
		in.adverts = map[uint8][]Packet{}
	}
	in.adverts[prio] = pkts
	return pkts
}

func (in *instance) view() vrrp.InstanceView {
	c := in.cfg
	return vrrp.InstanceView{
		VRID: c.VRID, Version: c.Version, IPv6: c.IPv6, Unicast: len(c.Unicast) > 0,
		Active:   in.m.State == vrrp.StateBackup || in.m.State == vrrp.StateMaster,
		AuthType: c.AuthType, AuthData: in.authData,
		Interval: vrrp.WireInterval(c.Version, c.Interval), VIPs: c.VIPs,
		EffectivePriority: in.m.Priority, OwnerIgnoreAdverts: c.OwnerIgnoreAdverts,
		CheckUnicastSrc: c.CheckUnicastSrc, Peers: c.Unicast,
	}
}

// demux finds the instance a packet is for: same interface (or an instance without one),
// family and VRID; among several, the one whose mode (unicast/multicast) and peers match,
// and among equals the first configured. Candidates come from a map, not a scan of every
// instance per packet.
func (r *Router) demux(p *Received, vrid uint8) *instance {
	v6 := p.Meta.IPv6()
	exact := r.byKey[demuxKey{iface: p.Interface, ipv6: v6, vrid: vrid}]
	var wild []*instance
	if p.Interface != "" {
		wild = r.byKey[demuxKey{ipv6: v6, vrid: vrid}]
	}
	if len(exact)+len(wild) == 1 { // the common case
		if len(exact) == 1 {
			return exact[0]
		}
		return wild[0]
	}
	var best *instance
	bestScore, bestPos := -1, 0
	for _, list := range [2][]*instance{exact, wild} {
		for _, in := range list {
			c := in.cfg
			score := 0
			unicast := len(c.Unicast) > 0
			if unicast == !p.Meta.Multicast() {
				score++
				if unicast && slices.ContainsFunc(c.Unicast, func(pe vrrp.Peer) bool { return pe.Addr == p.Meta.Src }) {
					score++
				}
			}
			pos := slices.Index(r.insts, in)
			if score > bestScore || (score == bestScore && pos < bestPos) {
				best, bestScore, bestPos = in, score, pos
			}
		}
	}
	return best
}

func (r *Router) receive(p *Received) {
	if !r.started {
		r.early = append(r.early, *p)
		return
	}
	p.Meta.Src, p.Meta.Dst = p.Meta.Src.Unmap(), p.Meta.Dst.Unmap() // v4-mapped from dual-stack sockets
	vrid, ok := vrrp.PeekVRID(p.Payload)
	if !ok {
		r.drops[vrrp.ReasonTruncated]++
		return
	}
	in := r.demux(p, vrid)
	if in == nil {
		r.drops[vrrp.ReasonUnknownVRID]++
		return
	}
	view := in.view()
	var reason vrrp.DropReason
	// The router's own Advert, not a fresh one per packet: the machine does not keep it, and
	// at 25,500 adverts a second every allocation spared is garbage not collected.
	a := &r.rxAdvert
	*a, reason = vrrp.Check(p.Meta, p.Payload, &view)
	if reason != vrrp.Accept {
		in.drops[reason]++
		return
	}
	for _, n := range vrrp.Reasons() {
		if a.Notes.Has(n) {
			in.notes[n]++
		}
	}
	in.rx++
	r.step(in, vrrp.Event{Kind: vrrp.EvAdvert, Advert: a, Src: p.Meta.Src})
	*a = vrrp.Advert{}
}

// fireDue runs every timer that is due, and advert timers due within the slack, so that
// adverts of many instances leave in one batch.
func (r *Router) fireDue() {
	for len(r.timers) > 0 {
		e := r.timers[0]
		due := !e.at.After(r.now)
		if !due && (e.t != vrrp.TimerAdvert || e.at.Sub(r.now) > r.opts.AdvertSlack) {
			return
		}
		if e.t == vrrp.TimerMasterDown && r.opts.Poll != nil && !r.polling && (r.polledAt.IsZero() || time.Since(r.polledAt) > pollAgain) {
			// Adverts waiting in the socket count before silence does: poll, then look at
			// the timers again (the adverts re-armed theirs). Not again from a call that
			// the poll's idle runs (a reload fires timers too).
			r.polledAt = time.Now()
			r.polling = true
			r.opts.Poll(r.deliverPolled, r.pollIdle)
			r.polling = false
			r.pollTook += time.Since(r.polledAt)
			// What the receiving goroutine handed over meanwhile (Poll waited for it).
			r.drain(r.opts.QueueLen)
			continue
		}
		r.timers.disarm(e)
		if e.t == vrrp.TimerMasterDown && r.opts.OnMasterDown != nil {
			r.opts.OnMasterDown(e.in.cfg, MasterDownFired{Due: e.at, Woke: r.woke, WokeFor: r.wokeFor, Fired: r.now, Poll: r.pollTook,
				Switches: r.wait.vcsw, Preempted: r.wait.ivcsw})
		}
		r.step(e.in, vrrp.Event{Kind: vrrp.EvTimer, Timer: e.t, Due: e.at})
	}
}

// pollAgain: a wake-up that has run this long since it polled (many instances changing state
// at once) polls again before the next master-down.
const pollAgain = time.Millisecond

// deliverPolled processes packets Options.Poll read, at once and each at its own time.
func (r *Router) deliverPolled(pkts []Received) {
	for i := range pkts {
		r.now = time.Now()
		r.receive(&pkts[i])
	}
}

// pollIdle serves the Deliver queue while Options.Poll waits for a receiver to hand over
// what it read (it may be waiting for room in that queue).
func (r *Router) pollIdle() { r.drain(r.opts.QueueLen) }

func (r *Router) externalDown(cfg *InstanceConfig, at time.Time) {
	if r.opts.MasterDownTimer != nil {
		r.opts.MasterDownTimer(cfg, at)
	}
}

// later queues host work or a notification; flush hands it to the worker after the
// adverts of the same wake-up left, so a new master's advert always precedes its GARPs
// (the old master drops its VIPs first) without giving up batching.
func (r *Router) later(f func()) { r.jobs = append(r.jobs, f) }

func (r *Router) flush() {
	if len(r.outbox) > 0 {
		if err := r.transport.Send(r.outbox); err != nil {
			r.reportError(fmt.Errorf("router: send %d adverts: %w", len(r.outbox), err))
		}
		clear(r.outbox)
		r.outbox = r.outbox[:0]
	}
	for _, j := range r.jobs {
		r.hostQueue.push(j)
	}
	clear(r.jobs)
	r.jobs = r.jobs[:0]
}

func (r *Router) shutdown() {
	r.now = time.Now()
	r.stopping = true
	for _, in := range r.insts {
		r.step(in, vrrp.Event{Kind: vrrp.EvShutdown})
	}
	r.flush()
}

// reload applies a validated configuration (see Router.Reload).
func (r *Router) reload(cfg Config) {
	old := map[identity]*instance{}
	for _, in := range r.insts {
		in.taken = false
		old[in.cfg.identity()] = in
	}
	var next, fresh []*instance
	for i := range cfg.Instances {
		c := &cfg.Instances[i]
		in, ok := old[c.identity()]
		if ok && !in.taken {
			in.taken = true
			prev := in.cfg
			in.cfg = c
			in.authData = vrrp.PassAuthData(c.AuthPass)
			in.adverts, in.lastAdverts = nil, nil
			if in.holdsVIPs {
				r.wantVIPs(in, true) // UpdateVIPs(prev, c) if the host holds prev's
			}
			if prev.ExternalMasterDown != c.ExternalMasterDown && !in.m.DownAt.IsZero() {
				// Hand the running master-down timer over between Go and the dataplane.
				if c.ExternalMasterDown {
					r.timers.disarm(in.timers[vrrp.TimerMasterDown])
					r.externalDown(c, in.m.DownAt)
				} else {
					r.externalDown(prev, time.Time{})
					r.timers.arm(in.timers[vrrp.TimerMasterDown], in.m.DownAt)
				}
			}
			next = append(next, in)
			continue
		}
		in = r.newInstance(c)
		next = append(next, in)
		fresh = append(fresh, in)
	}
	for _, in := range r.insts {
		if !in.taken {
			in.removed = true
			if in.group != nil {
				in.group.members = slices.DeleteFunc(in.group.members, func(m *instance) bool { return m == in })
				in.group = nil
			}
			r.step(in, vrrp.Event{Kind: vrrp.EvShutdown})
			for _, e := range in.timers {
				r.timers.disarm(e)
			}
			if in.cfg.ExternalMasterDown {
				r.externalDown(in.cfg, time.Time{})
			}
		}
	}
	for _, s := range cfg.Scripts {
		if t := r.trackers[s.Name]; t != nil && t.isScript {
			t.scfg = s
		} else {
			r.trackers[s.Name] = &tracker{isScript: true, script: vrrp.NewScriptState(s.InitFail), scfg: s}
		}
	}
	r.cfg = cfg
	r.insts = next
	r.index()
	r.retrack()
	for _, in := range fresh {
		r.startInstance(in)
	}
	for _, g := range r.groups {
		if len(g.members) > 0 {
			r.settle(g, g.members[0], g.members[0].m.State)
		}
	}
}
