package router

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xalived/xalived/pkg/vrrp"
)

// Packet is one advert to send.
type Packet struct {
	// Instance is the sending instance's name.
	Instance string
	// Interface is the interface to send on (SendInterface, else Interface).
	Interface string
	VMAC      bool
	VRID      uint8
	Src, Dst  netip.Addr
	TTL       uint8
	// Payload is the VRRP message, checksum included (no IP header: IPv4 senders with
	// IP_HDRINCL can prepend vrrp.AppendIPv4Header). It is shared and read-only, and must
	// not be kept after Send returns.
	Payload []byte
}

// Transport sends adverts. Send is called from the router's goroutine once per wake-up
// with every advert due then (one sendmmsg); it should not block for long.
type Transport interface {
	Send(pkts []Packet) error
}

// Host changes the machine for an instance. Calls come in order from one goroutine;
// the instance's configuration (with its Data) is passed in.
type Host interface {
	// AddVIPs installs what a MASTER owns: VIPs, eVIPs, virtual routes and rules.
	AddVIPs(inst *InstanceConfig) error
	// RemoveVIPs removes them.
	RemoveVIPs(inst *InstanceConfig) error
	// UpdateVIPs reconciles a MASTER whose configuration a reload changed.
	UpdateVIPs(old, new *InstanceConfig) error
	// GARP sends count gratuitous ARPs (IPv4) or unsolicited NAs (IPv6) per VIP.
	GARP(inst *InstanceConfig, count int) error
}

// Notification is a state change (or event) of an instance or sync group.
type Notification struct {
	// Name of the instance, or of the group when Group is set.
	Name  string
	Group bool
	State vrrp.State
	// Priority is the instance's effective priority (0 for groups).
	Priority uint8
	// Removed: the instance left the configuration on reload (keepalived runs
	// notify_deleted if configured, else notify_fault; State is STOP).
	Removed bool
	// RxLowerPrio: a MASTER heard a lower priority (notify_master_rx_lower_pri,
	// FIFO MASTER_RX_LOWER_PRI); State is MASTER.
	RxLowerPrio bool
	// PriorityChanged: the effective priority changed to Priority, State unchanged
	// (notify_priority_changes).
	PriorityChanged bool
}

// Notifier receives notifications in order, after the VIPs of a transition were handled.
type Notifier interface {
	Notify(Notification)
}

// Received is one packet from the receive path.
type Received struct {
	// Interface the packet arrived on (matched against InstanceConfig.Interface; instances
	// with an empty Interface match any).
	Interface string
	Meta      vrrp.Meta
	// Payload is the bytes after the IP header; Deliver copies it.
	Payload []byte
}

// Options tune a Router.
type Options struct {
	// OnError receives Transport and Host errors (the daemon logs them). May be nil.
	OnError func(error)
	// AdvertSlack: adverts due within this window are sent in the same wake-up (batched).
	// 0 = 1 ms.
	AdvertSlack time.Duration
	// QueueLen bounds the pending Deliver/SetTracker calls; 0 = 4096.
	QueueLen int
	// ThreadSetup, if set, runs on the router's goroutine after Run locked it to its OS
	// thread, e.g. to give that thread a realtime scheduling policy (keepalived's
	// vrrp_rt_priority) so adverts stay on time on a busy machine. An error stops Run.
	ThreadSetup func() error
	// MasterDownTimer is told, for instances with ExternalMasterDown, when the FSM arms
	// their master-down timer (at) or stops it (at is zero). It runs on the router's
	// goroutine and must not block (a map update).
	MasterDownTimer func(inst *InstanceConfig, at time.Time)
	// OnMasterDown, if set, is told when an instance's master-down timer fired, how late
	// and why (see MasterDownFired), on the router's goroutine; it must not block (the daemon
	// logs it at debug level, to find where a failover's time goes).
	OnMasterDown func(inst *InstanceConfig, f MasterDownFired)
	// OnSlowWake, if set, is told about a wake-up of the router's thread that came more than
	// SlowWake after the deadline it slept for, or that took longer than SlowWake to run, on
	// the router's goroutine; it must not block (the daemon logs it at debug level: a master's
	// late adverts start there).
	OnSlowWake func(w SlowWake)
	// Poll, if set, is called on the router's goroutine before a due master-down timer fires
	// (once per wake-up, again if the wake-up has run for a millisecond since): it reads what
	// waits in the receive path without blocking and hands it to deliver, which processes it
	// at once; then the router takes what the Deliver queue holds (Poll should return only
	// once packets its receive path had already read were delivered, and call idle while it
	// waits for them: idle serves the Deliver queue, which a receiver may be waiting on). A
	// process that the machine kept from running for longer than the master-down interval
	// then counts the adverts that arrived meanwhile before it decides the master is gone
	// (the receiving goroutine may not have run yet either). deliver takes the packets and
	// their Payloads, as DeliverOwned does.
	Poll func(deliver func([]Received), idle func())
}

// MasterDownFired describes one master-down timer that fired.
type MasterDownFired struct {
	Due time.Time // the timer's deadline
	// Woke is when the router's thread woke for the run of timers that fired it, and WokeFor
	// the deadline that sleep aimed at (zero if a queued call woke it): Woke-WokeFor is the
	// thread's wake-up latency.
	Woke, WokeFor time.Time
	Fired         time.Time     // when the router acted on it
	Poll          time.Duration // spent polling the receive path first (Options.Poll)
	// Switches and Preempted are the router thread's voluntary and involuntary context
	// switches during the sleep that ended at Woke (1 and 0 when it just slept and woke).
	Switches, Preempted int64
}

// SlowWakeAfter is how late or long a wake-up of the router must be for Options.OnSlowWake.
const SlowWakeAfter = 5 * time.Millisecond

// SlowWake describes a late or long wake-up of the router's thread.
type SlowWake struct {
	Deadline time.Time // what the thread slept for (zero: no timer, a queued call woke it)
	Woke     time.Time // when it ran again
	Done     time.Time // when it had handled the wake-up (timers fired, adverts sent)
	// Switches and Preempted: the thread's voluntary and involuntary context switches
	// during the sleep; RunSwitches and RunPreempted: from Woke to Done (a voluntary switch
	// there: the thread blocked, e.g. the Go runtime parked it).
	Switches, Preempted       int64
	RunSwitches, RunPreempted int64
}

// Late is how long after its deadline the timer fired.
func (f MasterDownFired) Late() time.Duration { return f.Fired.Sub(f.Due) }

// Router runs VRRP instances. Create it with New, then call Run.
type Router struct {
	actBuf    []vrrp.Action // step's reusable action buffer (router goroutine only)
	transport Transport
	host      Host
	notifier  Notifier
	opts      Options

	in      chan func()
	ctl     chan func() // status calls: served before queued packets, so xalivectl answers during a storm
	wait    *waiter     // where Run sleeps; every queue write wakes it
	stop    chan struct{}
	stopped sync.Once
	done    chan struct{}
	running atomic.Bool
	// queueDrops counts Deliver calls dropped because the queue was full.
	queueDrops atomic.Uint64

	// Owned by the Run goroutine.
	cfg       Config
	insts     []*instance
	byName    map[string]*instance
	byKey     map[demuxKey][]*instance
	groups    []*group
	trackers  map[string]*tracker
	timers    timerHeap
	outbox    []Packet
	jobs      []func()
	drops     [vrrp.NumReasons]uint64
	hostQueue *worker
	now       time.Time
	stopping  bool
	// started: the instances ran their startup; before, received packets wait in early.
	started bool
	early   []Received
	// rxAdvert holds the advert being received (see receive).
	rxAdvert vrrp.Advert
	// polledAt: when Options.Poll last ran in this wake-up (zero: not yet).
	polledAt time.Time
	polling  bool // in Options.Poll
	// woke: when the router last woke from its wait, which aimed at wokeFor (zero: none);
	// pollTook: how long Options.Poll took in this wake-up. For OnMasterDown.
	woke, wokeFor time.Time
	pollTook      time.Duration
}

// New validates cfg and returns a router that is not running yet.
func New(cfg Config, t Transport, h Host, n Notifier, opts Options) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if t == nil || h == nil || n == nil {
		return nil, errors.New("router: transport, host and notifier are required")
	}
	if opts.AdvertSlack == 0 {
		opts.AdvertSlack = time.Millisecond
	}
	if opts.QueueLen == 0 {
		// Room for a few rounds of single-packet deliveries from every instance.
		opts.QueueLen = max(4096, 16*len(cfg.Instances))
	}
	r := &Router{
		transport: t, host: h, notifier: n, opts: opts,
		in: make(chan func(), opts.QueueLen), ctl: make(chan func(), 64), stop: make(chan struct{}), done: make(chan struct{}),
		wait:   newWaiter(),
		byName: map[string]*instance{}, trackers: map[string]*tracker{},
		hostQueue: newWorker(),
	}
	r.now = time.Now()
	r.build(cloneConfig(cfg))
	return r, nil
}

// Run runs the router until ctx is cancelled or Shutdown is called; either way it shuts
// down gracefully (priority-0 adverts from masters, VIPs released, STOP notified) and waits
// for its goroutines before returning.
func (r *Router) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("router: Run called twice")
	}
	defer close(r.done)
	// The router's goroutine owns its OS thread: it sleeps in that thread (waiter), and
	// ThreadSetup may give the thread its own scheduling class. Never unlocked: the thread
	// ends with Run, and its settings with it.
	runtime.LockOSThread()
	// A timer slack of 1 µs for this thread's sleeps (the kernel's default is 50 µs; a
	// realtime thread has none anyway).
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1000, 0, 0, 0)
	if r.opts.ThreadSetup != nil {
		if err := r.opts.ThreadSetup(); err != nil {
			return fmt.Errorf("router: thread setup: %w", err)
		}
	}
	if err := r.wait.open(); err != nil {
		return err
	}
	defer r.wait.close()
	stopWake := context.AfterFunc(ctx, r.wait.wake)
	defer stopWake()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.hostQueue.run()
	}()
	defer func() {
		r.hostQueue.close()
		wg.Wait()
	}()

	// Tracker results reported before Run count before startup.
	r.drain(r.opts.QueueLen)
	r.now = time.Now()
	for _, in := range r.insts {
		r.startInstance(in)
	}
	// Adverts received before Run (the receivers open first) count right after startup,
	// before any master-down timer can fire.
	r.started = true
	for i := range r.early {
		r.receive(&r.early[i])
	}
	r.early = nil
	r.flush()

	for {
		var deadline time.Time
		if len(r.timers) > 0 {
			deadline = r.timers[0].at
		}
		if err := r.wait.sleep(deadline, r.pending); err != nil {
			r.shutdown()
			return err
		}
		r.now = time.Now()
		r.woke = r.now
		r.wokeFor = deadline
		if ctx.Err() != nil || r.isStopped() {
			r.shutdown()
			return nil
		}
		// The call that woke the router first (status calls jump the queue in drain, but
		// not ahead of what was queued before they were made and woke the router).
		select {
		case f := <-r.in:
			f()
		default:
		}
		// Packets that queued up while this goroutine waited for a CPU count before the
		// timers that expired meanwhile: a late wake-up must not turn into a false
		// master-down while the master's adverts sit in the queue.
		r.drain(r.opts.QueueLen)
		r.polledAt = time.Time{}
		r.pollTook = 0
		r.fireDue()
		r.flush()
		if r.opts.OnSlowWake != nil {
			done := time.Now()
			if (!deadline.IsZero() && r.woke.Sub(deadline) > SlowWakeAfter) || done.Sub(r.woke) > SlowWakeAfter {
				var ru unix.Rusage
				_ = unix.Getrusage(unix.RUSAGE_THREAD, &ru)
				r.opts.OnSlowWake(SlowWake{Deadline: deadline, Woke: r.woke, Done: done, Switches: r.wait.vcsw, Preempted: r.wait.ivcsw,
					RunSwitches: ru.Nvcsw - r.wait.after.Nvcsw, RunPreempted: ru.Nivcsw - r.wait.after.Nivcsw})
			}
		}
	}
}

// pending reports work for the router: a queued call, or a stop.
func (r *Router) pending() bool {
	return len(r.in) > 0 || len(r.ctl) > 0 || r.isStopped()
}

func (r *Router) isStopped() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

func (r *Router) drain(n int) {
	for range n {
		select {
		case f := <-r.ctl:
			f()
			continue
		default:
		}
		select {
		case f := <-r.in:
			// Each item at its own time: one that stalled (a blocking hook, a lost CPU)
			// must not leave the next with a stale clock, which would arm its master-down
			// timer in the past.
			r.now = time.Now()
			f()
		default:
			return
		}
	}
}

// Shutdown stops a running router gracefully and waits until Run returned, or ctx ends.
func (r *Router) Shutdown(ctx context.Context) error {
	r.stopped.Do(func() { close(r.stop) })
	r.wait.wake()
	if !r.running.Load() {
		return nil
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("router: shutdown: %w", ctx.Err())
	}
}

// call runs f on the router goroutine and waits for it.
func (r *Router) call(ctx context.Context, f func()) error {
	return r.callVia(ctx, r.in, f)
}

// callVia runs f on the router's goroutine through queue q and waits for it.
func (r *Router) callVia(ctx context.Context, q chan func(), f func()) error {
	ran := make(chan struct{})
	wrapped := func() { f(); close(ran) }
	select {
	case q <- wrapped:
		r.wait.wake()
	case <-r.done:
		return errors.New("router: not running")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ran:
		return nil
	case <-r.done:
		return errors.New("router: stopped")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// post queues f without waiting; false if the queue is full.
func (r *Router) post(f func()) bool {
	select {
	case r.in <- f:
		r.wait.wake()
		return true
	default:
		r.queueDrops.Add(1)
		return false
	}
}

// Deliver hands received packets to the router. It copies them (one buffer for the whole
// batch) and does not block for long: when the queue is full it waits up to deliverWait for
// room, then drops the batch and counts it (queue_full in Status).
func (r *Router) Deliver(pkts ...Received) {
	n := 0
	for _, p := range pkts {
		n += len(p.Payload)
	}
	buf := make([]byte, 0, n)
	cp := make([]Received, len(pkts))
	for i, p := range pkts {
		cp[i] = p
		off := len(buf)
		buf = append(buf, p.Payload...)
		cp[i].Payload = buf[off:len(buf):len(buf)]
	}
	r.DeliverOwned(cp)
}

// DeliverOwned is Deliver without the copy: the router takes pkts and their Payloads, which
// the caller must not touch afterwards (vrrpsock.Receiver.RunBatch hands out such packets).
func (r *Router) DeliverOwned(pkts []Received) {
	if len(pkts) == 0 {
		return
	}
	r.postWait(func() {
		for i := range pkts {
			r.receive(&pkts[i])
		}
	})
}

// deliverWait is how long Deliver waits for room in a full queue: about one advert interval
// at the fastest rate, so that a router goroutine that lost its CPU for a moment gets the
// adverts late rather than never (a lost advert can turn into a false master-down).
const deliverWait = 10 * time.Millisecond

// postWait queues f, waiting up to deliverWait when the queue is full; false if dropped.
func (r *Router) postWait(f func()) bool {
	select {
	case r.in <- f:
		r.wait.wake()
		return true
	default:
	}
	r.wait.wake()
	t := time.NewTimer(deliverWait)
	defer t.Stop()
	select {
	case r.in <- f:
		r.wait.wake()
		return true
	case <-r.done:
	case <-t.C:
	}
	r.queueDrops.Add(1)
	return false
}

// DeliverAdvert hands over an advert that was already checked (by the XDP ladder, which
// is vrrp.Check's twin) for the named instance, e.g. from a ring-buffer event: a new
// master, a priority change, priority 0, or a lower or higher priority heard by a master.
func (r *Router) DeliverAdvert(name string, src netip.Addr, a vrrp.Advert) {
	a.Addrs = slices.Clone(a.Addrs)
	r.post(func() {
		if in := r.byName[name]; in != nil && (in.m.State == vrrp.StateBackup || in.m.State == vrrp.StateMaster) {
			in.rx++
			r.step(in, vrrp.Event{Kind: vrrp.EvAdvert, Advert: &a, Src: src.Unmap()})
		}
	})
}

// MasterDown reports that the external master-down timer of the named instance fired
// (ExternalMasterDown). Ignored for other instances and in states where it means nothing.
func (r *Router) MasterDown(name string) {
	r.post(func() {
		if in := r.byName[name]; in != nil && in.cfg.ExternalMasterDown {
			r.step(in, vrrp.Event{Kind: vrrp.EvTimer, Timer: vrrp.TimerMasterDown, Due: r.now})
		}
	})
}

// SetTracker reports the result of an interface, process or file tracker: up for
// interfaces and processes, value for files.
func (r *Router) SetTracker(name string, up bool, value int) {
	r.post(func() { r.setTracker(name, up, value) })
}

// ScriptResult reports one run of a vrrp_script (success: exit 0 within the timeout); the
// rise/fall of its ScriptConfig decide when its trackers change.
func (r *Router) ScriptResult(name string, success bool) {
	r.post(func() { r.scriptResult(name, success) })
}

// Reload applies a new configuration without flapping: instances with the same identity
// (VRID, family, interface, unicast and source, VMAC, multicast group) keep their state,
// removed ones stop and release their VIPs, new ones start. A running router applies it
// on its goroutine; an invalid cfg changes nothing.
func (r *Router) Reload(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cloneConfig(cfg)
	return r.call(ctx, func() {
		r.now = time.Now()
		r.reload(cfg)
		r.fireDue()
		r.flush()
	})
}

// Status returns a snapshot of every instance.
func (r *Router) Status(ctx context.Context) (Snapshot, error) {
	var s Snapshot
	err := r.callVia(ctx, r.ctl, func() { s = r.snapshot() })
	return s, err
}

func cloneConfig(c Config) Config {
	out := Config{
		Instances:  append([]InstanceConfig(nil), c.Instances...),
		SyncGroups: append([]SyncGroupConfig(nil), c.SyncGroups...),
		Scripts:    append([]ScriptConfig(nil), c.Scripts...),
	}
	for i := range out.Instances {
		in := &out.Instances[i]
		in.VIPs = append([]netip.Addr(nil), in.VIPs...)
		in.Unicast = append([]vrrp.Peer(nil), in.Unicast...)
		in.Tracks = append([]Track(nil), in.Tracks...)
		if in.GARP != nil {
			g := *in.GARP
			in.GARP = &g
		}
	}
	return out
}

func (r *Router) reportError(err error) {
	if err != nil && r.opts.OnError != nil {
		r.opts.OnError(err)
	}
}
