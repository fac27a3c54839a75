package tests

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReloadUnderTraffic: SIGHUP on a MASTER with a configuration that keeps VI_1 and adds
// VI_2 must not flap VI_1 (no transition, the client keeps its replies), must start VI_2, and a
// bad file afterwards must be reported as FILE:LINE and change nothing.
func TestReloadUnderTraffic(t *testing.T) {
	l := NewLab(t, 2)
	n1, n2 := l.Nodes[0], l.Nodes[1]
	x := NewXalived(t, n1)
	k := NewKeepalived(t, n2)
	c1 := Conf{RouterID: "n1", Insts: []Inst{fastInst(150)}}
	x.Start(t, c1.Render(n1, nil))
	k.Start(t, Conf{RouterID: "n2", Insts: []Inst{fastInst(100)}}.Render(n2, nil))
	WaitState(t, x, "VI_1", "MASTER", 3*time.Second)
	WaitState(t, k, "VI_1", "BACKUP", 3*time.Second)
	before := x.Instance(t, "VI_1")
	p := l.Probe(t, vip4, 5*time.Millisecond)
	p.WaitReplyAfter(t, time.Now(), 10*time.Second)

	c2 := c1
	c2.Insts = append([]Inst{}, c1.Insts...)
	c2.Insts = append(c2.Insts, Inst{Name: "VI_2", VRID: 52, Priority: 150, AdvertInt: "0.1", Version: 3,
		VIPs: []string{"198.51.100.101/24"}})
	reload := time.Now()
	x.Reload(t, c2.Render(n1, nil))
	WaitState(t, x, "VI_2", "MASTER", 3*time.Second)
	time.Sleep(500 * time.Millisecond)
	after := x.Instance(t, "VI_1")
	if after == nil || after.State != "MASTER" || after.Transitions != before.Transitions {
		t.Fatalf("VI_1 flapped on reload: before %+v after %+v", before, after)
	}
	gap := p.Gap(reload)
	t.Logf("reload under traffic: longest client gap %v", gap)
	if gap > time.Second {
		t.Errorf("client lost the VIP for %v during a reload", gap)
	}
	l.WaitHolder(n1, "198.51.100.101", 3*time.Second)

	// A bad file: xalivectl reload reports FILE:LINE, SIGHUP logs it, nothing changes.
	bad := c2.Render(n1, nil) + "vrrp_instance VI_3 {\n  virtual_router_id 300\n}\n"
	x.writeConf(t, bad)
	out, err := exec.CommandContext(context.Background(), filepath.Join(binDir, "xalivectl"), "--control", x.Socket(), "reload").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "keepalived.conf:") {
		t.Fatalf("reload of a bad file: err %v, output %q; want a FILE:LINE message", err, out)
	}
	x.Reload(t, bad)
	time.Sleep(300 * time.Millisecond)
	if !strings.Contains(x.Log(), "keepalived.conf:") {
		t.Errorf("SIGHUP with a bad file logged no FILE:LINE message")
	}
	for _, in := range []string{"VI_1", "VI_2"} {
		if s := x.State(t, in); s != "MASTER" {
			t.Fatalf("%s is %s after a rejected reload", in, s)
		}
	}
	if h := l.AssertSingleHolder(vip4); h != n1 {
		t.Fatalf("VIP on node %d", h.Index)
	}
}

// TestControlStop: `xalivectl stop` is a graceful stop: priority 0, VIPs removed, exit.
func TestControlStop(t *testing.T) {
	l := NewLab(t, 2)
	n1, n2 := l.Nodes[0], l.Nodes[1]
	x, y := NewXalived(t, n1), NewXalived(t, n2)
	x.Start(t, Conf{RouterID: "n1", Insts: []Inst{fastInst(150)}}.Render(n1, nil))
	y.Start(t, Conf{RouterID: "n2", Insts: []Inst{fastInst(100)}}.Render(n2, nil))
	WaitState(t, x, "VI_1", "MASTER", 3*time.Second)
	WaitState(t, y, "VI_1", "BACKUP", 3*time.Second)
	if out, err := exec.Command(filepath.Join(binDir, "xalivectl"), "--control", x.Socket(), "stop").CombinedOutput(); err != nil {
		t.Fatalf("xalivectl stop: %v: %s", err, out)
	}
	x.wait(t, 10*time.Second)
	WaitState(t, y, "VI_1", "MASTER", 3*time.Second)
	if n1.HasAddr(vip4) {
		t.Error("stopped node still holds the VIP")
	}
	if h := l.AssertSingleHolder(vip4); h != n2 {
		t.Fatalf("VIP on node %d", h.Index)
	}
}

// TestVMACLifecycle: use_vmac creates vrrp.VRID with the virtual MAC carrying the VIP while
// MASTER; SIGTERM removes the VIP and the VMAC.
func TestVMACLifecycle(t *testing.T) {
	l := NewLab(t, 1)
	n1 := l.Nodes[0]
	x := NewXalived(t, n1)
	in := fastInst(150)
	in.VMAC = true
	x.Start(t, Conf{RouterID: "n1", Insts: []Inst{in}}.Render(n1, nil))
	WaitState(t, x, "VI_1", "MASTER", 3*time.Second)
	out := n1.MustRun(t, "ip", "-o", "addr", "show", "dev", "vrrp.51")
	if !strings.Contains(out, vip4+"/24") {
		t.Fatalf("VIP not on the VMAC: %s", out)
	}
	link := n1.MustRun(t, "ip", "-o", "link", "show", "dev", "vrrp.51")
	if !strings.Contains(link, "00:00:5e:00:01:33") || !strings.Contains(link, "macvlan") && !strings.Contains(link, "@eth0") {
		t.Fatalf("VMAC link: %s", link)
	}
	x.Term(t)
	if _, err := n1.Run("ip", "link", "show", "dev", "vrrp.51"); err == nil {
		t.Fatal("VMAC left after SIGTERM")
	}
	if n1.HasAddr(vip4) {
		t.Fatal("VIP left after SIGTERM")
	}
}

// TestCrashReconcile: a SIGKILLed xalived leaves its VIP in the kernel; started again as a
// backup it removes that VIP, so the address is on the new master only.
func TestCrashReconcile(t *testing.T) {
	l := NewLab(t, 2)
	n1, n2 := l.Nodes[0], l.Nodes[1]
	x, k := NewXalived(t, n1), NewKeepalived(t, n2)
	x.Start(t, Conf{RouterID: "n1", Insts: []Inst{fastInst(150)}}.Render(n1, nil))
	k.Start(t, Conf{RouterID: "n2", Insts: []Inst{fastInst(100)}}.Render(n2, nil))
	WaitState(t, x, "VI_1", "MASTER", 3*time.Second)
	WaitState(t, k, "VI_1", "BACKUP", 3*time.Second)
	x.Kill(t)
	WaitState(t, k, "VI_1", "MASTER", 3*time.Second)
	if !n1.HasAddr(vip4) {
		t.Fatal("test premise: a killed daemon leaves its VIP behind")
	}
	x.Start(t, Conf{RouterID: "n1", Insts: []Inst{fastInst(50)}}.Render(n1, nil))
	WaitState(t, x, "VI_1", "BACKUP", 3*time.Second)
	if h := l.AssertSingleHolder(vip4); h != n2 {
		t.Fatalf("VIP on node %d, want 2 only", h.Index)
	}
	if !strings.Contains(x.Log(), "removed VIP left by an earlier run") {
		t.Error("the restart did not report the reconciled VIP")
	}
}
