package vrrp

import (
	"net/netip"
	"testing"
	"time"
)

// A discrete-event simulation of several routers on one segment: every advert goes through
// Marshal, Check and Step, with a virtual clock. It checks the RFC timings end to end, the
// same ones measured against keepalived 2.2.7 (reference §2.13).

type simNode struct {
	name         string
	cfg          Config
	m            Machine
	addr         netip.Addr
	timers       [NumTimers]time.Time
	alive        bool
	hasVIPs      bool
	garps        int
	becameMaster []time.Duration
	lastSent     time.Duration
}

type simDelivery struct {
	to  *simNode
	msg []byte
	src netip.Addr
}

type sim struct {
	t     *testing.T
	now   time.Time
	nodes []*simNode
	queue []simDelivery
	// partitioned drops every advert.
	partitioned bool
	vip         netip.Addr
}

func newSim(t *testing.T) *sim {
	return &sim{t: t, now: t0, vip: netip.MustParseAddr("203.0.113.1")}
}

func (s *sim) add(name string, addr string, version uint8, prio uint8, interval time.Duration, mut func(*Config)) *simNode {
	n := &simNode{name: name, addr: netip.MustParseAddr(addr), cfg: DefaultConfig(version)}
	n.cfg.Priority, n.cfg.Interval = prio, interval
	if mut != nil {
		mut(&n.cfg)
	}
	n.m = NewMachine(&n.cfg, n.addr, prio)
	s.nodes = append(s.nodes, n)
	return n
}

func (s *sim) view(n *simNode) *InstanceView {
	return &InstanceView{VRID: 1, Version: n.cfg.Version, Active: n.m.State == StateBackup || n.m.State == StateMaster,
		Interval: WireInterval(n.cfg.Version, n.cfg.Interval), VIPs: []netip.Addr{s.vip}, EffectivePriority: n.m.Priority}
}

func (s *sim) step(n *simNode, ev Event) {
	prev := n.m.State
	var as []Action
	n.m, as = Step(n.m, ev, s.now)
	if n.m.State == StateMaster && prev != StateMaster {
		n.becameMaster = append(n.becameMaster, s.now.Sub(t0))
	}
	for _, a := range as {
		switch a.Kind {
		case ActArm:
			n.timers[a.Timer] = a.At
		case ActDisarm:
			n.timers[a.Timer] = time.Time{}
		case ActGARP:
			n.garps += a.Count
		case ActAddVIPs:
			n.hasVIPs = true
		case ActRemoveVIPs:
			n.hasVIPs = false
		case ActSendAdvert:
			ad := Advert{Version: n.cfg.Version, Type: 1, VRID: 1, Priority: a.Priority,
				Interval: WireInterval(n.cfg.Version, n.cfg.Interval), Addrs: []netip.Addr{s.vip}}
			msg, err := ad.Marshal(n.addr, GroupIPv4, ChecksumPseudo)
			if err != nil {
				s.t.Fatal(err)
			}
			n.lastSent = s.now.Sub(t0)
			for _, o := range s.nodes {
				if o != n {
					s.queue = append(s.queue, simDelivery{o, msg, n.addr})
				}
			}
		}
	}
}

// run advances the virtual clock to until, firing timers and delivering adverts.
func (s *sim) run(until time.Duration) {
	end := t0.Add(until)
	for {
		for len(s.queue) > 0 {
			d := s.queue[0]
			s.queue = s.queue[1:]
			if !d.to.alive || s.partitioned {
				continue
			}
			a, r := Check(Meta{Src: d.src, Dst: GroupIPv4, TTL: 255, Length: len(d.msg)}, d.msg, s.view(d.to))
			if r != Accept {
				continue
			}
			s.step(d.to, Event{Kind: EvAdvert, Advert: &a, Src: d.src})
		}
		var next *simNode
		var nt Timer
		var when time.Time
		for _, n := range s.nodes {
			if !n.alive {
				continue
			}
			for t, at := range n.timers {
				if !at.IsZero() && (when.IsZero() || at.Before(when)) {
					next, nt, when = n, Timer(t), at
				}
			}
		}
		if next == nil || when.After(end) {
			s.now = end
			return
		}
		s.now = when
		next.timers[nt] = time.Time{}
		s.step(next, Event{Kind: EvTimer, Timer: nt, Due: when})
	}
}

func (s *sim) start(n *simNode) {
	// A (re)started process: fresh machine, no timers, no VIPs.
	n.m = NewMachine(&n.cfg, n.addr, n.cfg.Priority)
	n.timers = [NumTimers]time.Time{}
	n.hasVIPs = false
	n.alive = true
	s.step(n, Event{Kind: EvStartup})
}

func (s *sim) kill(n *simNode) { n.alive = false }

func (s *sim) masters() []string {
	var ms []string
	for _, n := range s.nodes {
		if n.alive && n.m.State == StateMaster {
			ms = append(ms, n.name)
		}
	}
	return ms
}

func (s *sim) onlyMaster(want *simNode) {
	s.t.Helper()
	ms := s.masters()
	if len(ms) != 1 || ms[0] != want.name {
		s.t.Fatalf("at %v masters %v, want [%s]", s.now.Sub(t0), ms, want.name)
	}
	for _, n := range s.nodes {
		if n.alive && n.hasVIPs != (n == want) {
			s.t.Fatalf("at %v %s holds VIPs: %v", s.now.Sub(t0), n.name, n.hasVIPs)
		}
	}
}

func last(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return -1
	}
	return ds[len(ds)-1]
}

func TestSimElectionAndFailover(t *testing.T) {
	for _, tc := range []struct {
		name     string
		version  uint8
		interval time.Duration
		// expected: A (P=150) wins at its master down; B (P=100) takes over after a kill at
		// 3*adv + skew(100), after a stop at skew(100).
		aWins, killTakeover, stopTakeover time.Duration
	}{
		{"v2 1s", 2, time.Second, 3*time.Second + 106*time.Second/256, 3*time.Second + 156*time.Second/256, 156 * time.Second / 256},
		{"v3 100ms", 3, 100 * time.Millisecond, 300*time.Millisecond + 106*100*time.Millisecond/256,
			300*time.Millisecond + 156*100*time.Millisecond/256, 156 * 100 * time.Millisecond / 256},
		{"v3 10ms", 3, 10 * time.Millisecond, 30*time.Millisecond + 106*10*time.Millisecond/256,
			30*time.Millisecond + 156*10*time.Millisecond/256, 156 * 10 * time.Millisecond / 256},
	} {
		t.Run(tc.name+"/kill", func(t *testing.T) {
			s := newSim(t)
			a := s.add("A", "198.51.100.1", tc.version, 150, tc.interval, nil)
			b := s.add("B", "198.51.100.2", tc.version, 100, tc.interval, nil)
			s.start(a)
			s.start(b)
			s.run(20 * tc.interval)
			s.onlyMaster(a)
			if got := a.becameMaster[0]; got != tc.aWins {
				t.Fatalf("A became master at %v, want %v", got, tc.aWins)
			}
			killAt := 20*tc.interval + tc.interval/3
			s.run(killAt)
			s.kill(a)
			lastAdvert := a.lastSent
			s.run(killAt + 10*tc.interval)
			s.onlyMaster(b)
			if got := last(b.becameMaster) - lastAdvert; got != tc.killTakeover {
				t.Fatalf("takeover %v after the last advert, want %v", got, tc.killTakeover)
			}
			// A comes back with a higher priority: it preempts after its master down, not at once.
			back := s.now.Sub(t0)
			s.start(a)
			s.run(back + 10*tc.interval)
			s.onlyMaster(a)
			if got := last(a.becameMaster) - back; got != tc.aWins {
				t.Fatalf("preempted %v after restart, want %v", got, tc.aWins)
			}
		})
		t.Run(tc.name+"/stop", func(t *testing.T) {
			s := newSim(t)
			a := s.add("A", "198.51.100.1", tc.version, 150, tc.interval, nil)
			b := s.add("B", "198.51.100.2", tc.version, 100, tc.interval, nil)
			s.start(a)
			s.start(b)
			s.run(20 * tc.interval)
			stopAt := 20*tc.interval + tc.interval/3
			s.run(stopAt)
			s.step(a, Event{Kind: EvShutdown})
			s.run(stopAt + 10*tc.interval)
			s.onlyMaster(b)
			if got := last(b.becameMaster) - stopAt; got != tc.stopTakeover {
				t.Fatalf("takeover %v after priority 0, want %v", got, tc.stopTakeover)
			}
		})
	}
}

func TestSimEqualPriorityFirstMasterStays(t *testing.T) {
	// Equal priorities: whoever times out first stays master, whatever its address.
	s := newSim(t)
	low := s.add("low", "198.51.100.1", 3, 100, time.Second, nil)
	high := s.add("high", "198.51.100.2", 3, 100, time.Second, nil)
	s.start(low)
	s.run(time.Second)
	s.start(high)
	s.run(30 * time.Second)
	s.onlyMaster(low)
}

func TestSimSplitBrainHeals(t *testing.T) {
	// Two masters (as after a partition) with equal priority: the greater address wins at
	// once, and the survivor re-announces (RFC 9568 re-advert plus lower-priority GARPs).
	s := newSim(t)
	low := s.add("low", "198.51.100.1", 3, 100, time.Second, nil)
	high := s.add("high", "198.51.100.2", 3, 100, time.Second, nil)
	s.start(low)
	s.start(high)
	s.partitioned = true
	s.run(5 * time.Second)
	if len(s.masters()) != 2 {
		t.Fatalf("masters %v, want both during the partition", s.masters())
	}
	s.partitioned = false
	garps := high.garps
	s.run(7 * time.Second)
	s.onlyMaster(high)
	if high.garps == garps {
		t.Fatal("the surviving master did not re-announce its VIPs after the heal")
	}
}

func TestSimNopreempt(t *testing.T) {
	// A nopreempt node of higher priority does not take over from a live lower master.
	s := newSim(t)
	b := s.add("B", "198.51.100.2", 2, 100, time.Second, nil)
	a := s.add("A", "198.51.100.1", 2, 150, time.Second, func(c *Config) { c.NoPreempt = true })
	s.start(b)
	s.run(10 * time.Second)
	s.onlyMaster(b)
	s.start(a)
	s.run(60 * time.Second)
	s.onlyMaster(b)
	// ... but takes over when the master dies.
	s.kill(b)
	s.run(70 * time.Second)
	s.onlyMaster(a)
}

func TestSimIntervalMismatchV2(t *testing.T) {
	// RFC 3768: a v2 interval mismatch is dropped, so both become master (keepalived
	// measured the same); v3 adopts the master's interval instead and elects one.
	s := newSim(t)
	a := s.add("A", "198.51.100.1", 2, 150, time.Second, nil)
	b := s.add("B", "198.51.100.2", 2, 100, 2*time.Second, nil)
	s.start(a)
	s.start(b)
	s.run(20 * time.Second)
	if len(s.masters()) != 2 {
		t.Fatalf("v2 masters %v, want both (interval mismatch drops)", s.masters())
	}
	s = newSim(t)
	a = s.add("A", "198.51.100.1", 3, 150, time.Second, nil)
	b = s.add("B", "198.51.100.2", 3, 100, 2*time.Second, nil)
	s.start(a)
	s.start(b)
	s.run(20 * time.Second)
	s.onlyMaster(a)
	if b.m.MasterInterval != time.Second {
		t.Fatalf("backup's Master_Adver_Interval %v, want the master's 1s", b.m.MasterInterval)
	}
}

func TestSimPreemptDelay(t *testing.T) {
	// A higher-priority node with preempt_delay 10 s tolerates the lower master for 10 s
	// after first hearing it, then preempts one master-down interval later.
	s := newSim(t)
	b := s.add("B", "198.51.100.2", 2, 100, time.Second, nil)
	a := s.add("A", "198.51.100.1", 2, 150, time.Second, func(c *Config) { c.PreemptDelay = 10 * time.Second })
	s.start(b)
	s.run(10 * time.Second)
	s.onlyMaster(b)
	s.start(a)
	s.run(20 * time.Second)
	s.onlyMaster(b)
	s.run(40 * time.Second)
	s.onlyMaster(a)
	// B's adverts arrive every second from 10.609375 s (B became master at 3.609375 s); A
	// first hears one at 10.609375 s, stops accepting at 20.609375 s, so its timer set by the
	// last accepted advert (19.609375 s) expires at 19.609375 + 3.4140625 s.
	if got, want := a.becameMaster[0], 19609375*time.Microsecond+3414062500*time.Nanosecond; got != want {
		t.Fatalf("A preempted at %v, want %v", got, want)
	}
}
