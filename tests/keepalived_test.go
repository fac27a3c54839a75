package tests

import (
	"testing"
	"time"
)

// TestKeepalivedPairFailover checks the harness itself with keepalived on both nodes: the
// higher priority wins, SIGKILL of the master moves the VIP, and the client sees it come back.
func TestKeepalivedPairFailover(t *testing.T) {
	l := NewLab(t, 2)
	const vip = "198.51.100.100"
	conf := Conf{RouterID: "t", Insts: []Inst{{Name: "VI_1", VRID: 51, AdvertInt: "0.1", Version: 3,
		VIPs: []string{vip + "/24"}}}}
	a, b := NewKeepalived(t, l.Nodes[0]), NewKeepalived(t, l.Nodes[1])
	ca, cb := conf, conf
	ca.Insts = []Inst{conf.Insts[0]}
	ca.Insts[0].Priority = 150
	cb.Insts = []Inst{conf.Insts[0]}
	cb.Insts[0].Priority = 100
	a.Start(t, ca.Render(l.Nodes[0], l.others(l.Nodes[0])))
	b.Start(t, cb.Render(l.Nodes[1], l.others(l.Nodes[1])))
	WaitState(t, a, "VI_1", "MASTER", 5*time.Second)
	WaitState(t, b, "VI_1", "BACKUP", 5*time.Second)
	l.WaitHolder(l.Nodes[0], vip, 3*time.Second)

	p := l.Probe(t, vip, 5*time.Millisecond)
	p.WaitReplyAfter(t, time.Now(), 10*time.Second)
	kill := time.Now()
	Crash(t, a)
	WaitState(t, b, "VI_1", "MASTER", 3*time.Second)
	p.WaitReplyAfter(t, time.Now(), 10*time.Second)
	gap := p.Gap(kill)
	t.Logf("keepalived v3 0.1 s SIGKILL: client gap %v", gap)
	// 3 x 0.1 s + skew(100) = 0.361 s; anything near it shows the harness measures the outage.
	if gap < 250*time.Millisecond || gap > 2*time.Second {
		t.Errorf("gap %v out of any sane range for a 0.36 s master-down interval", gap)
	}
	// The node comes back: keepalived removes the VIPs its dead run left and, with the higher
	// priority, takes the VIP back; it must end on exactly one node.
	Recover(t, a, ca.Render(l.Nodes[0], l.others(l.Nodes[0])))
	WaitState(t, a, "VI_1", "MASTER", 5*time.Second)
	WaitState(t, b, "VI_1", "BACKUP", 5*time.Second)
	if h := l.AssertSingleHolder(vip); h != l.Nodes[0] {
		t.Fatalf("VIP on node %d", h.Index)
	}
}
