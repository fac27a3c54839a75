package router

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xalived/xalived/pkg/vrrp"
)

// advertFrom is a VRRPv3 advert of vrid from 198.51.100.1 at priority 200, as received on eth0.
func advertFrom(t testing.TB, vrid uint8, interval time.Duration) Received {
	t.Helper()
	src := netip.MustParseAddr("198.51.100.1")
	a := vrrp.Advert{Version: 3, Type: 1, VRID: vrid, Priority: 200, Interval: vrrp.WireInterval(3, interval),
		Addrs: []netip.Addr{netip.MustParseAddr("203.0.113.1")}}
	p, err := a.Marshal(src, vrrp.GroupIPv4, vrrp.ChecksumPseudo)
	if err != nil {
		t.Fatal(err)
	}
	return Received{Interface: "eth0", Meta: vrrp.Meta{Src: src, Dst: vrrp.GroupIPv4, TTL: 255, Length: len(p)}, Payload: p}
}

func instanceStatus(t *testing.T, r *Router, name string) InstanceStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range s.Instances {
		if in.Name == name {
			return in
		}
	}
	t.Fatalf("no instance %s in status", name)
	return InstanceStatus{}
}

// TestQueuedAdvertBeatsDueMasterDown: when the router goroutine was stalled past a BACKUP's
// master-down deadline while the master's advert waited in the queue, the advert counts
// first and the BACKUP stays BACKUP (a late wake-up is not a dead master).
func TestQueuedAdvertBeatsDueMasterDown(t *testing.T) {
	const interval = 200 * time.Millisecond // master-down ≈ 720 ms
	b := testInstance("B", 1, 100, "198.51.100.2")
	b.Interval = interval
	// X's external master-down hook runs on the router goroutine: the test stalls it there.
	x := testInstance("X", 2, 100, "198.51.100.2")
	x.Interval = interval
	x.ExternalMasterDown = true
	var block atomic.Bool
	blocked, release := make(chan struct{}), make(chan struct{})
	opts := Options{MasterDownTimer: func(c *InstanceConfig, at time.Time) {
		if c.Name == "X" && !at.IsZero() && block.CompareAndSwap(true, false) {
			close(blocked)
			<-release
		}
	}}
	r, err := New(Config{Instances: []InstanceConfig{b, x}}, &countTransport{}, nopHost{}, nopHost{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	r.Deliver(advertFrom(t, 1, interval)) // counts right after startup
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(func() { unblock(); cancel(); <-done })
	for instanceStatus(t, r, "B").State == "INIT" {
		time.Sleep(time.Millisecond) // a Status queued before Run is answered before startup
	}
	block.Store(true)
	r.Deliver(advertFrom(t, 2, interval)) // stalls the router goroutine
	select {
	case <-blocked:
	case <-time.After(5 * time.Second):
		t.Fatal("router did not take X's advert")
	}
	time.Sleep(4 * interval) // B's master-down deadline passes while the router is stalled
	r.Deliver(advertFrom(t, 1, interval))
	unblock()
	s := instanceStatus(t, r, "B")
	if s.State != "BACKUP" || s.Transitions != 1 {
		t.Fatalf("B is %s after %d transitions, want BACKUP after 1 (INIT→BACKUP): the queued advert lost to the due master-down timer", s.State, s.Transitions)
	}
}

// TestDeliverCopiesOnce: Deliver's copies survive the caller reusing its buffers, and every
// packet of a batch reaches its own instance.
func TestDeliverCopiesOnce(t *testing.T) {
	var cfgs []InstanceConfig
	for i := range 3 {
		c := testInstance("I"+string(rune('0'+i)), uint8(i+1), 100, "198.51.100.2")
		c.Interval = time.Second
		cfgs = append(cfgs, c)
	}
	r, err := New(Config{Instances: cfgs}, &countTransport{}, nopHost{}, nopHost{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for instanceStatus(t, r, "I0").State == "INIT" {
		time.Sleep(time.Millisecond)
	}
	batch := []Received{advertFrom(t, 1, time.Second), advertFrom(t, 2, time.Second), advertFrom(t, 3, time.Second)}
	r.Deliver(batch...)
	for i := range batch {
		clear(batch[i].Payload) // the caller reuses its buffers at once
	}
	for i := range 3 {
		if s := instanceStatus(t, r, "I"+string(rune('0'+i))); s.RxAdverts != 1 {
			t.Errorf("I%d received %d adverts, want 1", i, s.RxAdverts)
		}
	}
}

// TestAdvertBeforeRunCounts: adverts delivered before Run (the daemon opens its receivers
// first) reach the instances after their startup instead of being dropped in INIT.
func TestAdvertBeforeRunCounts(t *testing.T) {
	c := testInstance("B", 1, 100, "198.51.100.2")
	c.Interval = time.Second
	r, err := New(Config{Instances: []InstanceConfig{c}}, &countTransport{}, nopHost{}, nopHost{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.Deliver(advertFrom(t, 1, time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	s := instanceStatus(t, r, "B")
	for s.State == "INIT" {
		time.Sleep(time.Millisecond)
		s = instanceStatus(t, r, "B")
	}
	if s.RxAdverts != 1 || s.Transitions != 1 {
		t.Fatalf("B: %d adverts received, %d transitions; want the early advert counted (1, 1)", s.RxAdverts, s.Transitions)
	}
}

// recHost records host calls and what it holds.
type recHost struct {
	mu    sync.Mutex
	calls []string
	held  map[string]bool
}

func (h *recHost) rec(op string, c *InstanceConfig, hold *bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, op+" "+c.Name)
	if hold != nil {
		h.held[c.Name] = *hold
	}
	return nil
}
func (h *recHost) AddVIPs(c *InstanceConfig) error       { t := true; return h.rec("add", c, &t) }
func (h *recHost) RemoveVIPs(c *InstanceConfig) error    { f := false; return h.rec("remove", c, &f) }
func (h *recHost) UpdateVIPs(_, c *InstanceConfig) error { t := true; return h.rec("update", c, &t) }
func (h *recHost) GARP(c *InstanceConfig, _ int) error   { return h.rec("garp", c, nil) }

// TestHostWorkCoalesces: N flaps queued while the worker is busy reach the host as at most
// two operations per instance (VIPs, GARP), and the host ends in the FSM's final state.
func TestHostWorkCoalesces(t *testing.T) {
	for _, endMaster := range []bool{true, false} {
		h := &recHost{held: map[string]bool{}}
		c := testInstance("F", 1, 100, "198.51.100.2")
		c.Interval = 10 * time.Millisecond
		r, err := New(Config{Instances: []InstanceConfig{c}}, &countTransport{}, h, nopHost{}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		in := r.insts[0]
		r.now = time.Now()
		r.startInstance(in)
		src := netip.MustParseAddr("198.51.100.1")
		higher := vrrp.Advert{Version: 3, Type: 1, VRID: 1, Priority: 200, Interval: 1,
			Addrs: []netip.Addr{netip.MustParseAddr("203.0.113.1")}}
		const flaps = 50
		for i := range flaps {
			r.now = in.m.DownAt
			r.step(in, vrrp.Event{Kind: vrrp.EvTimer, Timer: vrrp.TimerMasterDown, Due: r.now})
			if in.m.State != vrrp.StateMaster {
				t.Fatalf("flap %d: %s after master-down, want MASTER", i, in.m.State)
			}
			if i == flaps-1 && endMaster {
				break
			}
			r.step(in, vrrp.Event{Kind: vrrp.EvAdvert, Advert: &higher, Src: src})
			if in.m.State != vrrp.StateBackup {
				t.Fatalf("flap %d: %s after a higher priority advert, want BACKUP", i, in.m.State)
			}
		}
		r.flush()
		// The worker was busy meanwhile: it runs only now.
		done := make(chan struct{})
		go func() { r.hostQueue.run(); close(done) }()
		r.hostQueue.close()
		<-done
		if len(h.calls) > 2 {
			t.Errorf("end MASTER=%v: %d host calls for %d flaps, want at most 2: %v", endMaster, len(h.calls), flaps, h.calls)
		}
		if h.held["F"] != endMaster {
			t.Errorf("host holds VIPs=%v, FSM ends in %s", h.held["F"], in.m.State)
		}
	}
}

// TestPolledAdvertBeatsDueMasterDown: when a master-down timer comes due, the router first
// polls the receive path (Options.Poll); adverts found there count before the silence does,
// even if the goroutine that delivers them never ran (here it never does).
func TestPolledAdvertBeatsDueMasterDown(t *testing.T) {
	const interval = 20 * time.Millisecond // master-down ≈ 72 ms
	b := testInstance("B", 1, 100, "198.51.100.2")
	b.Interval = interval
	var polls atomic.Int64
	opts := Options{Poll: func(deliver func([]Received), _ func()) {
		polls.Add(1)
		deliver([]Received{advertFrom(t, 1, interval)})
	}}
	r, err := New(Config{Instances: []InstanceConfig{b}}, &countTransport{}, nopHost{}, nopHost{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	r.Deliver(advertFrom(t, 1, interval))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	time.Sleep(20 * 4 * interval)
	s := instanceStatus(t, r, "B")
	if s.State != "BACKUP" || s.Transitions != 1 {
		t.Fatalf("B is %s after %d transitions, want BACKUP after 1: the polled adverts did not count", s.State, s.Transitions)
	}
	if n := polls.Load(); n < 5 {
		t.Errorf("polled %d times in 20 master-down intervals, want one per interval", n)
	}
}
