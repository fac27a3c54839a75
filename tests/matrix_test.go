package tests

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// variant is one protocol configuration of the interop matrix.
type variant struct {
	name      string
	version   int
	advert    string
	ipv6      bool
	unicast   bool
	auth      string
	vmac      bool
	kinds     []string
	masterDue time.Duration // generous bound on a takeover
}

func (v variant) vip() string {
	if v.ipv6 {
		return "2001:db8::100"
	}
	return "198.51.100.100"
}

func (v variant) vipCIDR() string {
	if v.ipv6 {
		return v.vip() + "/64"
	}
	return v.vip() + "/24"
}

func (v variant) inst(prio int) Inst {
	return Inst{Name: "VI_1", VRID: 51, Priority: prio, AdvertInt: v.advert, Version: v.version,
		VIPs: []string{v.vipCIDR()}, IPv6: v.ipv6, Unicast: v.unicast, AuthPass: v.auth, VMAC: v.vmac}
}

var variants = []variant{
	{name: "v3-ipv4-mcast", version: 3, advert: "0.1", kinds: pairKinds, masterDue: 3 * time.Second},
	{name: "v3-ipv6-mcast", version: 3, advert: "0.1", ipv6: true, kinds: pairKinds, masterDue: 3 * time.Second},
	{name: "v3-ipv4-unicast", version: 3, advert: "0.1", unicast: true, kinds: pairKinds, masterDue: 3 * time.Second},
	{name: "v3-ipv6-unicast", version: 3, advert: "0.1", ipv6: true, unicast: true, kinds: []string{"xk", "kx"}, masterDue: 3 * time.Second},
	{name: "v3-ipv4-vmac", version: 3, advert: "0.1", vmac: true, kinds: pairKinds, masterDue: 3 * time.Second},
	{name: "v2-ipv4-mcast", version: 2, advert: "1", kinds: pairKinds, masterDue: 8 * time.Second},
	{name: "v2-ipv4-auth", version: 2, advert: "1", auth: "s3cr3t", kinds: []string{"xk", "kx"}, masterDue: 8 * time.Second},
}

// TestInterop runs the election / SIGKILL failover / recovery with preemption cycle for every
// protocol variant and pairing of xalived (x) and keepalived (k). Node 1 has priority 150 and
// node 2 priority 100.
func TestInterop(t *testing.T) {
	for _, v := range variants {
		for _, kind := range kindsFor(v.kinds) {
			t.Run(v.name+"/"+kind, func(t *testing.T) {
				t.Parallel()
				interopCycle(t, v, kind)
			})
		}
	}
}

func interopCycle(t *testing.T, v variant, kind string) {
	l := NewLab(t, 2)
	n1, n2 := l.Nodes[0], l.Nodes[1]
	c1 := Conf{RouterID: "n1", Insts: []Inst{v.inst(150)}}
	c2 := Conf{RouterID: "n2", Insts: []Inst{v.inst(100)}}
	a, b := newSpeaker(t, kind[0], n1), newSpeaker(t, kind[1], n2)
	b.Start(t, c2.Render(n2, l.others(n2)))
	WaitState(t, b, "VI_1", "MASTER", v.masterDue)
	a.Start(t, c1.Render(n1, l.others(n1)))
	// Election: the higher priority preempts the running master.
	WaitState(t, a, "VI_1", "MASTER", v.masterDue)
	WaitState(t, b, "VI_1", "BACKUP", v.masterDue)
	l.WaitHolder(n1, v.vip(), 3*time.Second)

	p := l.Probe(t, v.vip(), 5*time.Millisecond)
	p.WaitReplyAfter(t, time.Now(), 10*time.Second)
	kill := time.Now()
	Crash(t, a)
	WaitState(t, b, "VI_1", "MASTER", v.masterDue)
	p.WaitReplyAfter(t, time.Now(), 10*time.Second)
	t.Logf("%s %s: SIGKILL of master, client gap %v", v.name, kind, p.Gap(kill))

	// The crashed node returns: whatever its dead run left behind, the VIP ends on one node,
	// node 1 by preemption.
	Recover(t, a, c1.Render(n1, l.others(n1)))
	WaitState(t, a, "VI_1", "MASTER", v.masterDue)
	WaitState(t, b, "VI_1", "BACKUP", v.masterDue)
	l.WaitHolder(n1, v.vip(), v.masterDue)
	if h := l.AssertSingleHolder(v.vip()); h != n1 {
		t.Fatalf("%s on node %d after recovery, want node 1", v.vip(), h.Index)
	}
}

// TestSIGTERMPriorityZero: a master stopped with SIGTERM sends priority 0, so its peer takes over
// after the skew time instead of the master-down interval, and the stopped node's VIP is gone.
func TestSIGTERMPriorityZero(t *testing.T) {
	for _, kind := range kindsFor(pairKinds) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			l := NewLab(t, 2)
			n1, n2 := l.Nodes[0], l.Nodes[1]
			a, b := newSpeaker(t, kind[0], n1), newSpeaker(t, kind[1], n2)
			// advert_int 1 s: a takeover within well under the 3.6 s master-down interval
			// can only come from the priority-0 advert.
			i1, i2 := fastInst(150), fastInst(100)
			i1.AdvertInt, i2.AdvertInt = "1", "1"
			a.Start(t, Conf{RouterID: "n1", Insts: []Inst{i1}}.Render(n1, nil))
			WaitState(t, a, "VI_1", "MASTER", 5*time.Second)
			b.Start(t, Conf{RouterID: "n2", Insts: []Inst{i2}}.Render(n2, nil))
			WaitState(t, b, "VI_1", "BACKUP", 5*time.Second)
			time.Sleep(300 * time.Millisecond)
			p := l.Probe(t, vip4, 5*time.Millisecond)
			p.WaitReplyAfter(t, time.Now(), 10*time.Second)
			stop := time.Now()
			a.Term(t)
			if n1.HasAddr(vip4) {
				t.Errorf("node 1 still holds %s after SIGTERM", vip4)
			}
			WaitState(t, b, "VI_1", "MASTER", 5*time.Second)
			p.WaitReplyAfter(t, time.Now(), 10*time.Second)
			// The client's outage, not the wall clock of the test (which includes the daemon's
			// own shutdown and status polling): after a priority-0 advert the backup waits the
			// skew (0.6 s here), without it the master-down interval (3.6 s).
			gap := p.Gap(stop)
			t.Logf("%s: SIGTERM, client gap %v", kind, gap)
			if gap > 2500*time.Millisecond {
				t.Errorf("client gap %v: the backup waited for the master-down interval, no priority-0 advert seen", gap)
			}
			if h := l.AssertSingleHolder(vip4); h != n2 {
				t.Fatalf("VIP on node %d", h.Index)
			}
		})
	}
}

// TestNopreempt: with nopreempt, a higher-priority node joining a running master stays BACKUP.
func TestNopreempt(t *testing.T) {
	for _, kind := range kindsFor([]string{"xx", "xk", "kx"}) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			l := NewLab(t, 2)
			n1, n2 := l.Nodes[0], l.Nodes[1]
			low, high := newSpeaker(t, kind[0], n1), newSpeaker(t, kind[1], n2)
			i1, i2 := fastInst(100), fastInst(150)
			i1.Nopreempt, i2.Nopreempt = true, true
			low.Start(t, Conf{RouterID: "n1", Insts: []Inst{i1}}.Render(n1, nil))
			WaitState(t, low, "VI_1", "MASTER", 3*time.Second)
			high.Start(t, Conf{RouterID: "n2", Insts: []Inst{i2}}.Render(n2, nil))
			WaitState(t, high, "VI_1", "BACKUP", 3*time.Second)
			// Many master-down intervals (0.34 s): a preempting node would have taken over.
			time.Sleep(1500 * time.Millisecond)
			if s := high.State(t, "VI_1"); s != "BACKUP" {
				t.Fatalf("nopreempt node is %s, want BACKUP", s)
			}
			if h := l.AssertSingleHolder(vip4); h != n1 {
				t.Fatalf("VIP on node %d, want 1", h.Index)
			}
		})
	}
}

// TestPreemptDelay: a higher-priority node waits preempt_delay before taking over.
func TestPreemptDelay(t *testing.T) {
	for _, kind := range kindsFor([]string{"xk", "kx", "xx"}) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			l := NewLab(t, 2)
			n1, n2 := l.Nodes[0], l.Nodes[1]
			low, high := newSpeaker(t, kind[0], n1), newSpeaker(t, kind[1], n2)
			i1, i2 := fastInst(100), fastInst(150)
			i2.PreemptDelay = 3
			low.Start(t, Conf{RouterID: "n1", Insts: []Inst{i1}}.Render(n1, nil))
			WaitState(t, low, "VI_1", "MASTER", 3*time.Second)
			start := time.Now()
			high.Start(t, Conf{RouterID: "n2", Insts: []Inst{i2}}.Render(n2, nil))
			WaitState(t, high, "VI_1", "BACKUP", 3*time.Second)
			time.Sleep(time.Second)
			if s := high.State(t, "VI_1"); s != "BACKUP" {
				t.Fatalf("node with preempt_delay 3 is %s after 1 s, want BACKUP", s)
			}
			WaitState(t, high, "VI_1", "MASTER", 8*time.Second)
			t.Logf("%s: preempted %v after start (preempt_delay 3 s)", kind, time.Since(start))
			WaitState(t, low, "VI_1", "BACKUP", 3*time.Second)
			if h := l.AssertSingleHolder(vip4); h != n2 {
				t.Fatalf("VIP on node %d, want 2", h.Index)
			}
		})
	}
}

// addLink gives node n a second interface eth1 (a veth pair inside its namespace), up.
func addLink(t testing.TB, n *Node) {
	t.Helper()
	n.MustRun(t, "ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p")
	n.MustRun(t, "ip", "link", "set", "eth1", "up")
	n.MustRun(t, "ip", "link", "set", "eth1p", "up")
}

// TestTrackInterfaceDown: the master's tracked interface goes down: FAULT, the peer takes over;
// the link returns: the node preempts back.
func TestTrackInterfaceDown(t *testing.T) {
	for _, kind := range kindsFor([]string{"xk", "xx"}) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			l := NewLab(t, 2)
			n1, n2 := l.Nodes[0], l.Nodes[1]
			addLink(t, n1)
			a, b := newSpeaker(t, kind[0], n1), newSpeaker(t, kind[1], n2)
			i1 := fastInst(150)
			i1.TrackIfs = []string{"eth1"}
			a.Start(t, Conf{RouterID: "n1", Insts: []Inst{i1}}.Render(n1, nil))
			b.Start(t, Conf{RouterID: "n2", Insts: []Inst{fastInst(100)}}.Render(n2, nil))
			WaitState(t, a, "VI_1", "MASTER", 3*time.Second)
			WaitState(t, b, "VI_1", "BACKUP", 3*time.Second)
			n1.MustRun(t, "ip", "link", "set", "eth1", "down")
			WaitState(t, a, "VI_1", "FAULT", 3*time.Second)
			WaitState(t, b, "VI_1", "MASTER", 3*time.Second)
			if h := l.AssertSingleHolder(vip4); h != n2 {
				t.Fatalf("VIP on node %d during the fault, want 2", h.Index)
			}
			n1.MustRun(t, "ip", "link", "set", "eth1", "up")
			WaitState(t, a, "VI_1", "MASTER", 3*time.Second)
			if h := l.AssertSingleHolder(vip4); h != n1 {
				t.Fatalf("VIP on node %d after recovery, want 1", h.Index)
			}
		})
	}
}

// TestTrackScriptFailing: a failing vrrp_script with a negative weight lowers the master's
// priority below its peer's, which preempts; with weight 0 the master goes FAULT.
func TestTrackScriptFailing(t *testing.T) {
	for _, tc := range []struct {
		kind   string
		weight int
		state  string
	}{{"xk", -60, "BACKUP"}, {"xx", 0, "FAULT"}, {"xx", -60, "BACKUP"}, {"kx", -60, "BACKUP"}} {
		if env := os.Getenv("XALIVED_INTEROP_KINDS"); env != "" {
			tc.kind = env
		}
		t.Run(fmt.Sprintf("%s/weight%d", tc.kind, tc.weight), func(t *testing.T) {
			t.Parallel()
			l := NewLab(t, 2)
			n1, n2 := l.Nodes[0], l.Nodes[1]
			flag := n1.writeFile(t, "healthy", "", 0o644)
			script := n1.writeFile(t, "check.sh", "#!/bin/sh\ntest -e "+flag+"\n", 0o755)
			a, b := newSpeaker(t, tc.kind[0], n1), newSpeaker(t, tc.kind[1], n2)
			i1 := fastInst(150)
			i1.TrackScripts = []string{"chk"}
			c1 := Conf{RouterID: "n1", Insts: []Inst{i1},
				Scripts: []Script{{Name: "chk", Cmd: script, Interval: 1, Weight: tc.weight, WeightGiven: true}}}
			a.Start(t, c1.Render(n1, nil))
			b.Start(t, Conf{RouterID: "n2", Insts: []Inst{fastInst(100)}}.Render(n2, nil))
			WaitState(t, a, "VI_1", "MASTER", 4*time.Second)
			WaitState(t, b, "VI_1", "BACKUP", 3*time.Second)
			if err := removeFile(flag); err != nil {
				t.Fatal(err)
			}
			WaitState(t, a, "VI_1", tc.state, 5*time.Second)
			WaitState(t, b, "VI_1", "MASTER", 3*time.Second)
			if h := l.AssertSingleHolder(vip4); h != n2 {
				t.Fatalf("VIP on node %d, want 2", h.Index)
			}
			if x, ok := a.(*Xalived); ok {
				if in := x.Instance(t, "VI_1"); in == nil || (tc.weight != 0 && in.EffectivePriority != 90) {
					t.Errorf("effective priority with the script failing: %+v, want 90", in)
				}
			}
		})
	}
}

// TestSyncGroup: two instances in a sync group; a fault on one member takes the other member's
// VIP to the peer too.
func TestSyncGroup(t *testing.T) {
	for _, kind := range kindsFor([]string{"xk", "xx"}) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			l := NewLab(t, 2)
			n1, n2 := l.Nodes[0], l.Nodes[1]
			addLink(t, n1)
			insts := func(prio int, track bool) []Inst {
				a := fastInst(prio)
				b := Inst{Name: "VI_2", VRID: 52, Priority: prio, AdvertInt: "0.1", Version: 3,
					VIPs: []string{"198.51.100.101/24"}}
				if track {
					b.TrackIfs = []string{"eth1"}
				}
				return []Inst{a, b}
			}
			g := []Group{{Name: "G1", Members: []string{"VI_1", "VI_2"}}}
			a, b := newSpeaker(t, kind[0], n1), newSpeaker(t, kind[1], n2)
			a.Start(t, Conf{RouterID: "n1", Groups: g, Insts: insts(150, true)}.Render(n1, nil))
			b.Start(t, Conf{RouterID: "n2", Groups: g, Insts: insts(100, false)}.Render(n2, nil))
			for _, in := range []string{"VI_1", "VI_2"} {
				WaitState(t, a, in, "MASTER", 3*time.Second)
				WaitState(t, b, in, "BACKUP", 3*time.Second)
			}
			n1.MustRun(t, "ip", "link", "set", "eth1", "down")
			for _, in := range []string{"VI_1", "VI_2"} {
				WaitState(t, a, in, "FAULT", 3*time.Second)
				WaitState(t, b, in, "MASTER", 3*time.Second)
			}
			for _, vip := range []string{vip4, "198.51.100.101"} {
				if h := l.AssertSingleHolder(vip); h != n2 {
					t.Fatalf("%s on node %d, want 2", vip, h.Index)
				}
			}
		})
	}
}

// TestThreeNodes: three speakers on one segment (xalived, xalived, keepalived); the highest
// priority wins, its crash hands the VIP to the next, never to two nodes.
func TestThreeNodes(t *testing.T) {
	l := NewLab(t, 3)
	sp := []Speaker{NewXalived(t, l.Nodes[0]), NewXalived(t, l.Nodes[1]), NewKeepalived(t, l.Nodes[2])}
	prios := []int{150, 120, 100}
	for i, s := range sp {
		n := l.Nodes[i]
		s.Start(t, Conf{RouterID: fmt.Sprintf("n%d", i+1), Insts: []Inst{fastInst(prios[i])}}.Render(n, nil))
	}
	WaitState(t, sp[0], "VI_1", "MASTER", 3*time.Second)
	WaitState(t, sp[1], "VI_1", "BACKUP", 3*time.Second)
	WaitState(t, sp[2], "VI_1", "BACKUP", 3*time.Second)
	l.WaitHolder(l.Nodes[0], vip4, 3*time.Second)
	Crash(t, sp[0])
	WaitState(t, sp[1], "VI_1", "MASTER", 3*time.Second)
	time.Sleep(500 * time.Millisecond)
	if s := sp[2].State(t, "VI_1"); s != "BACKUP" {
		t.Fatalf("keepalived (lowest priority) is %s, want BACKUP", s)
	}
	// The dead node's kernel still holds the VIP behind a down link; count the live ones.
	var live []*Node
	for _, n := range l.Holders(vip4) {
		if n != l.Nodes[0] {
			live = append(live, n)
		}
	}
	if len(live) != 1 || live[0] != l.Nodes[1] {
		t.Fatalf("VIP on %d live nodes, want exactly node 2", len(live))
	}
	Recover(t, sp[0], Conf{RouterID: "n1", Insts: []Inst{fastInst(150)}}.Render(l.Nodes[0], nil))
	WaitState(t, sp[0], "VI_1", "MASTER", 3*time.Second)
	if h := l.AssertSingleHolder(vip4); h != l.Nodes[0] {
		t.Fatalf("VIP on node %d, want 1", h.Index)
	}
}
