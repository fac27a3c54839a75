package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/internal/testenv"
	"github.com/xalived/xalived/pkg/vrrp"
)

// The XDP dataplane of the daemon, in the lab: node eth0s run xalived's XDP program in native
// mode; the bridge ports facing them run an XDP_PASS program, because on veth a native XDP_TX
// frame reaches the peer only when the peer runs XDP.

// xdpLab is a lab whose node-facing bridge ports run an XDP_PASS program.
func xdpLab(t *testing.T, n int) *Lab {
	t.Helper()
	testenv.RequireCommand(t, "bpftool", "arping")
	l := NewLab(t, n)
	for _, nd := range l.Nodes {
		attachPass(t, l.Bridge, "pn"+strconv.Itoa(nd.Index))
	}
	return l
}

// inNetns runs f on a thread inside ns, which returns to its namespace before it is unlocked.
func inNetns(t testing.TB, ns *nstest.NS, f func() error) {
	t.Helper()
	h, err := netns.GetFromName(ns.Name)
	if err != nil {
		t.Fatalf("netns %s: %v", ns.Name, err)
	}
	defer h.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(h); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		err = f()
		if rerr := netns.Set(orig); rerr == nil {
			runtime.UnlockOSThread() // otherwise the thread ends with this goroutine
		} else if err == nil {
			err = rerr
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatalf("in %s: %v", ns.Name, err)
	}
}

// sendAdverts sends n VRRPv3 adverts (VRID vrid, priority prio, IP TTL ttl) from the client
// to 224.0.0.18: traffic whose count the test knows exactly.
func sendAdverts(t testing.TB, l *Lab, vrid, prio uint8, ttl, n int) {
	t.Helper()
	src, dst := netip.MustParseAddr(l.Client.IPv4), vrrp.GroupIPv4
	a := vrrp.Advert{Version: 3, Type: vrrp.TypeAdvertisement, VRID: vrid, Priority: prio, Interval: 10,
		Addrs: []netip.Addr{netip.MustParseAddr("203.0.113.59")}}
	msg, err := a.Marshal(src, dst, vrrp.ChecksumPseudo)
	if err != nil {
		t.Fatal(err)
	}
	inNetns(t, l.Client.NS, func() error {
		ifc, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, 112)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifc.Index)}); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, ttl); err != nil {
			return err
		}
		to := &unix.SockaddrInet4{Addr: dst.As4()}
		for range n {
			if err := unix.Sendto(fd, msg, 0, to); err != nil {
				return err
			}
			time.Sleep(5 * time.Millisecond)
		}
		return nil
	})
}

// attachPass attaches a two-instruction XDP_PASS program in native mode to dev in ns. The
// attachment lasts as long as the interface (the namespace is removed with the test).
func attachPass(t testing.TB, ns *nstest.NS, dev string) {
	t.Helper()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.XDP, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 2 /* XDP_PASS */), asm.Return()}})
	if err != nil {
		t.Fatalf("xdp pass program: %v", err)
	}
	defer prog.Close()
	inNetns(t, ns, func() error {
		lk, err := netlink.LinkByName(dev)
		if err != nil {
			return err
		}
		return netlink.LinkSetXdpFdWithFlags(lk, prog.FD(), nl.XDP_FLAGS_DRV_MODE)
	})
}

// bpffsFor mounts a new bpf filesystem for node n that outlives its daemons (`ip netns exec`
// gives each process a private /sys, so pins under /sys/fs/bpf would die with the process).
func bpffsFor(t testing.TB, n *Node) string {
	t.Helper()
	dir, err := os.MkdirTemp(n.Dir, "bpffs-")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "bpf", "bpf", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount bpffs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		// A failed test may leave pins: removing the mount removes them and the links.
		_ = exec.Command("umount", "-l", dir).Run()
	})
	return dir
}

// xdpSpeaker returns xalived on node n with the XDP dataplane in native mode and a bpffs of
// its own.
func xdpSpeaker(t testing.TB, n *Node) *Xalived {
	t.Helper()
	x := NewXalived(t, n)
	x.Extra = []string{"--dataplane", "xdp", "--xdp-mode", "native", "--bpffs", bpffsFor(t, n)}
	return x
}

func pinDir(x *Xalived) string {
	return filepath.Join(x.Extra[len(x.Extra)-1], "xalived", fmt.Sprintf("node%d", x.node.Index))
}

// xdpInstStats is one instance of the "xdp" part of `xalivectl stats`.
type xdpInstStats struct {
	Key        string            `json:"key"`
	State      string            `json:"state"`
	LeaseMs    int64             `json:"lease_remaining_ms"`
	Adverts    map[string]uint64 `json:"adverts"`
	ARPReplies uint64            `json:"arp_replies"`
	NAReplies  uint64            `json:"na_replies"`
	MasterDown uint64            `json:"master_down"`
	Peer       *struct {
		Addr     string `json:"address"`
		Priority int    `json:"priority"`
	} `json:"peer"`
}

func xdpStats(t testing.TB, x *Xalived, inst string) xdpInstStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "xalivectl"), "--control", x.Socket(), "stats").Output()
	if err != nil {
		t.Fatalf("xalivectl stats: %v", err)
	}
	var doc struct {
		XDP *struct {
			Attached  []string                `json:"attached"`
			Instances map[string]xdpInstStats `json:"instances"`
		} `json:"xdp"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("xalivectl stats: %v: %s", err, out)
	}
	if doc.XDP == nil {
		t.Fatalf("xalivectl stats has no xdp section: %s", out)
	}
	st, ok := doc.XDP.Instances[inst]
	if !ok {
		t.Fatalf("xalivectl stats: no xdp instance %s: %s", inst, out)
	}
	return st
}

var arpingSummary = regexp.MustCompile(`(\d+) packets received`)
var arpingSent = regexp.MustCompile(`(\d+) packets transmitted`)
var arpingFrom = regexp.MustCompile(`bytes from ([0-9A-Fa-f:]{17})`)

// arping sends count ARP requests for addr from the client and returns the replies' MACs.
func arping(t testing.TB, l *Lab, addr string, count int, every time.Duration) (int, []string) {
	t.Helper()
	out, _ := l.Client.Cmd("arping", "-i", "eth0", "-c", strconv.Itoa(count), "-w", "5",
		"-W", fmt.Sprintf("%.3f", every.Seconds()), addr).CombinedOutput()
	m := arpingSummary.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("arping output: %s", out)
	}
	n, _ := strconv.Atoi(m[1])
	var macs []string
	for _, mm := range arpingFrom.FindAllStringSubmatch(string(out), -1) {
		macs = append(macs, strings.ToLower(mm[1]))
	}
	return n, macs
}

func macOf(t testing.TB, n *Node, dev string) string {
	t.Helper()
	out := n.MustRun(t, "cat", "/sys/class/net/"+dev+"/address")
	return strings.TrimSpace(out)
}

func assertDataplane(t testing.TB, sp Speaker, want string) {
	t.Helper()
	x, ok := sp.(*Xalived)
	if !ok {
		return
	}
	in := x.Instance(t, "VI_1")
	if in == nil || in.Dataplane != want {
		t.Fatalf("node %d: status dataplane %v, want %s", x.node.Index, in, want)
	}
}

// TestXDPInterop runs the interop matrix's core cycle with the XDP dataplane (X) against
// keepalived (k) and against xalived on the socket dataplane (x), in both roles: election,
// SIGKILL failover, recovery with preemption, then SIGTERM failover (priority 0).
func TestXDPInterop(t *testing.T) {
	vs := []variant{
		{name: "v3-ipv4-mcast", version: 3, advert: "0.1", masterDue: 3 * time.Second},
		{name: "v3-ipv6-mcast", version: 3, advert: "0.1", ipv6: true, masterDue: 3 * time.Second},
	}
	for _, v := range vs {
		for _, kind := range []string{"Xk", "kX", "Xx", "xX"} {
			t.Run(v.name+"/"+kind, func(t *testing.T) {
				t.Parallel()
				xdpCycle(t, v, kind)
			})
		}
	}
}

func xdpCycle(t *testing.T, v variant, kind string) {
	l := xdpLab(t, 2)
	n1, n2 := l.Nodes[0], l.Nodes[1]
	c1 := Conf{RouterID: "n1", Insts: []Inst{v.inst(150)}}
	c2 := Conf{RouterID: "n2", Insts: []Inst{v.inst(100)}}
	a, b := newSpeaker(t, kind[0], n1), newSpeaker(t, kind[1], n2)
	b.Start(t, c2.Render(n2, nil))
	WaitState(t, b, "VI_1", "MASTER", v.masterDue)
	a.Start(t, c1.Render(n1, nil))
	WaitState(t, a, "VI_1", "MASTER", v.masterDue)
	WaitState(t, b, "VI_1", "BACKUP", v.masterDue)
	l.WaitHolder(n1, v.vip(), 3*time.Second)
	for _, sp := range []Speaker{a, b} {
		if kind[sp.Node().Index-1] == 'X' {
			assertDataplane(t, sp, "xdp")
		}
	}

	p := l.Probe(t, v.vip(), 5*time.Millisecond)
	p.WaitReplyAfter(t, time.Now(), 3*time.Second)
	kill := time.Now()
	Crash(t, a)
	WaitState(t, b, "VI_1", "MASTER", v.masterDue)
	p.WaitReplyAfter(t, time.Now(), 3*time.Second)
	t.Logf("%s %s: SIGKILL of master, client gap %v", v.name, kind, p.Gap(kill))

	// Recover, once the link-local address (the IPv6 advert source) is back.
	n1.MustRun(t, "ip", "link", "set", "eth0", "up")
	nstest.WaitFor(t, 5*time.Second, "link-local address on node 1", func() bool {
		out, err := n1.Run("ip", "-6", "addr", "show", "dev", "eth0", "scope", "link")
		return err == nil && strings.Contains(out, "fe80::") && !strings.Contains(out, "tentative")
	})
	a.Start(t, c1.Render(n1, nil))
	WaitState(t, a, "VI_1", "MASTER", v.masterDue)
	WaitState(t, b, "VI_1", "BACKUP", v.masterDue)
	if h := l.AssertSingleHolder(v.vip()); h != n1 {
		t.Fatalf("%s on node %d after recovery, want node 1", v.vip(), h.Index)
	}
	p.WaitReplyAfter(t, time.Now(), 3*time.Second)

	// SIGTERM: priority 0, the backup takes over after its skew.
	stop := time.Now()
	a.Term(t)
	WaitState(t, b, "VI_1", "MASTER", v.masterDue)
	p.WaitReplyAfter(t, time.Now(), 3*time.Second)
	t.Logf("%s %s: SIGTERM of master, client gap %v", v.name, kind, p.Gap(stop))
	if n1.HasAddr(v.vip()) {
		t.Fatalf("node 1 still has %s after SIGTERM", v.vip())
	}
}

// TestXDPAnswersARP: while MASTER, the VIP's ARP requests (IPv4) and neighbour solicitations
// (IPv6) are answered by the XDP program: the replies are counted in the per-CPU maps one for
// one, and they keep coming when the VIP is removed from the kernel's address list (the kernel
// cannot answer for an address it does not have). While BACKUP nothing is answered from XDP.
// The advert counters match what the peer sent.
func TestXDPAnswersARP(t *testing.T) {
	testenv.RequireCommand(t, "ndisc6")
	l := xdpLab(t, 2)
	n1, n2 := l.Nodes[0], l.Nodes[1]
	i4 := fastInst(150)
	i6 := Inst{Name: "VI_6", VRID: 52, Priority: 150, AdvertInt: "0.1", Version: 3, IPv6: true,
		VIPs: []string{"2001:db8::100/64"}}
	a := xdpSpeaker(t, n1)
	i9 := Inst{Name: "VI_9", VRID: 59, Priority: 150, AdvertInt: "0.1", Version: 3, VIPs: []string{"203.0.113.59/24"}}
	a.Start(t, Conf{RouterID: "n1", Insts: []Inst{i4, i6, i9}}.Render(n1, nil))
	WaitState(t, a, "VI_1", "MASTER", 3*time.Second)
	WaitState(t, a, "VI_6", "MASTER", 3*time.Second)
	mac1 := macOf(t, n1, "eth0")

	before := xdpStats(t, a, "VI_1")
	if before.State != "MASTER" || before.LeaseMs <= 0 {
		t.Fatalf("map state %s lease %d ms, want MASTER with a lease", before.State, before.LeaseMs)
	}
	got, macs := arping(t, l, vip4, 5, 50*time.Millisecond)
	after := xdpStats(t, a, "VI_1")
	if got != 5 || after.ARPReplies-before.ARPReplies != 5 {
		t.Fatalf("arping: %d replies, XDP counted %d, want 5 and 5", got, after.ARPReplies-before.ARPReplies)
	}
	for _, m := range macs {
		if m != mac1 {
			t.Fatalf("ARP reply from %s, want node 1's %s", m, mac1)
		}
	}
	// Without the address in the kernel, only XDP can answer.
	n1.MustRun(t, "ip", "addr", "del", "198.51.100.100/24", "dev", "eth0")
	if got, _ := arping(t, l, vip4, 3, 50*time.Millisecond); got != 3 {
		t.Fatalf("VIP removed from the kernel: %d ARP replies, want 3 (from XDP)", got)
	}
	n1.MustRun(t, "ip", "addr", "add", "198.51.100.100/24", "dev", "eth0")

	// IPv6: neighbour solicitations answered from XDP, counted.
	b6 := xdpStats(t, a, "VI_6")
	out, err := l.Client.Run("ndisc6", "-n", "-r", "3", "-w", "500", "2001:db8::100", "eth0")
	if err != nil {
		t.Fatalf("ndisc6: %v", err)
	}
	if !strings.Contains(strings.ToLower(out), mac1) {
		t.Fatalf("ndisc6 answer %q, want node 1's MAC %s", out, mac1)
	}
	a6 := xdpStats(t, a, "VI_6")
	if a6.NAReplies-b6.NAReplies != 1 {
		t.Fatalf("XDP counted %d NA replies for one solicitation answered", a6.NAReplies-b6.NAReplies)
	}

	// A higher-priority peer takes over: node 1 is BACKUP and XDP no longer answers.
	b := NewXalived(t, n2)
	b.Extra = []string{"--dataplane", "socket"}
	hi4, hi6 := i4, i6
	hi4.Priority, hi6.Priority = 200, 200
	b.Start(t, Conf{RouterID: "n2", Insts: []Inst{hi4, hi6}}.Render(n2, nil))
	WaitState(t, b, "VI_1", "MASTER", 3*time.Second)
	WaitState(t, a, "VI_1", "BACKUP", 3*time.Second)
	WaitState(t, a, "VI_6", "BACKUP", 3*time.Second)
	bs := xdpStats(t, a, "VI_1")
	if bs.State != "BACKUP" {
		t.Fatalf("map state %s, want BACKUP", bs.State)
	}
	mac2 := macOf(t, n2, "eth0")
	got, macs = arping(t, l, vip4, 3, 50*time.Millisecond)
	as := xdpStats(t, a, "VI_1")
	if got != 3 || as.ARPReplies != bs.ARPReplies {
		t.Fatalf("as BACKUP: %d replies (want 3, from node 2), XDP answered %d", got, as.ARPReplies-bs.ARPReplies)
	}
	for _, m := range macs {
		if m != mac2 {
			t.Fatalf("ARP reply from %s while node 1 is BACKUP, want node 2's %s", m, mac2)
		}
	}
	if bs.Peer == nil || bs.Peer.Priority != 200 {
		t.Fatalf("peer record %+v, want node 2 at priority 200", bs.Peer)
	}

	// Counters match the traffic: adverts only the client sends, counted one for one: valid
	// ones for VI_9 (a better master: accepted), and ones with TTL 64 (dropped, reason ttl).
	s0 := xdpStats(t, a, "VI_9")
	sendAdverts(t, l, 59, 200, 255, 7)
	sendAdverts(t, l, 59, 200, 64, 4)
	nstest.WaitFor(t, 3*time.Second, "VI_9 counters", func() bool {
		s1 := xdpStats(t, a, "VI_9")
		return s1.Adverts["accept"]-s0.Adverts["accept"] >= 7 && s1.Adverts["ttl"]-s0.Adverts["ttl"] >= 4
	})
	time.Sleep(200 * time.Millisecond)
	s1 := xdpStats(t, a, "VI_9")
	if acc, ttl := s1.Adverts["accept"]-s0.Adverts["accept"], s1.Adverts["ttl"]-s0.Adverts["ttl"]; acc != 7 || ttl != 4 {
		t.Fatalf("client sent 7 valid adverts and 4 with TTL 64: XDP counted %d accepted, %d ttl drops", acc, ttl)
	}
	if st := a.Instance(t, "VI_9"); st == nil || st.Drops["ttl"] < 4 || st.AdvertsRx < 7 {
		t.Fatalf("status of VI_9 does not show the XDP counters: %+v", st)
	}
}

// TestXDPRestartWithoutARPGap: a MASTER killed with SIGKILL keeps answering ARP from XDP for
// its lease; restarted within it, the daemon adopts the pins and takes over without a single
// unanswered request. Killed and not restarted, XDP stops answering once the lease ran out,
// though the kernel still has the VIP.
func TestXDPRestartWithoutARPGap(t *testing.T) {
	l := xdpLab(t, 1)
	n1 := l.Nodes[0]
	in := fastInst(150)
	in.AdvertInt = "2" // lease 6.4 s: room for a restart on a loaded machine
	conf := Conf{RouterID: "n1", Insts: []Inst{in}}.Render(n1, nil)
	a := xdpSpeaker(t, n1)
	a.Start(t, conf)
	WaitState(t, a, "VI_1", "MASTER", 10*time.Second)

	// arping runs from before the kill until the restarted daemon is MASTER again.
	var out lockedBuffer
	cmd := l.Client.Cmd("arping", "-i", "eth0", "-W", "0.02", vip4)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stopArping := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(os.Interrupt) // arping prints its statistics and exits
			_ = cmd.Wait()
		}
	}
	defer stopArping()
	time.Sleep(500 * time.Millisecond)
	a.Kill(t)
	a.Start(t, conf)
	nstest.WaitFor(t, 3*time.Second, "the restarted daemon adopting the pins", func() bool {
		return strings.Contains(a.Log(), "adopted pinned dataplane")
	})
	WaitState(t, a, "VI_1", "MASTER", 8*time.Second)
	time.Sleep(500 * time.Millisecond)
	stopArping()
	sent, got := -1, -1
	if m := arpingSent.FindStringSubmatch(out.String()); m != nil {
		sent, _ = strconv.Atoi(m[1])
	}
	if m := arpingSummary.FindStringSubmatch(out.String()); m != nil {
		got, _ = strconv.Atoi(m[1])
	}
	// The request in flight when arping was interrupted may miss its reply.
	if sent < 5 || got < sent-1 {
		t.Fatalf("%d of %d ARP requests answered across SIGKILL and restart, want all:\n%s", got, sent, out.String())
	}
	t.Logf("%d of %d ARP requests answered across SIGKILL and restart", got, sent)
	// The new run renews the lease: still answered after the old lease would have run out.
	time.Sleep(7 * time.Second)
	if got, _ := arping(t, l, vip4, 3, 50*time.Millisecond); got != 3 {
		t.Fatalf("after the old lease: %d of 3 answered", got)
	}

	// Killed for good: the lease runs out and XDP drops the requests the kernel would answer.
	a.Kill(t)
	if !n1.HasAddr(vip4) {
		t.Fatalf("the killed daemon's VIP should still be in the kernel")
	}
	time.Sleep(7 * time.Second)
	if got, _ := arping(t, l, vip4, 3, 50*time.Millisecond); got != 0 {
		t.Fatalf("lease over: %d ARP replies for the VIP of a dead daemon, want 0", got)
	}
}

// TestXDPSIGTERMCleanup: a daemon stopped with SIGTERM leaves no XDP program attached and no
// pins.
func TestXDPSIGTERMCleanup(t *testing.T) {
	l := xdpLab(t, 1)
	n1 := l.Nodes[0]
	a := xdpSpeaker(t, n1)
	a.Start(t, Conf{RouterID: "n1", Insts: []Inst{fastInst(150)}}.Render(n1, nil))
	WaitState(t, a, "VI_1", "MASTER", 3*time.Second)
	if out := n1.MustRun(t, "ip", "-d", "link", "show", "eth0"); !strings.Contains(out, "prog/xdp") {
		t.Fatalf("no XDP program on eth0 while running:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(pinDir(a), "prog")); err != nil {
		t.Fatalf("program not pinned: %v", err)
	}
	a.Term(t)
	if out := n1.MustRun(t, "ip", "-d", "link", "show", "eth0"); strings.Contains(out, "prog/xdp") {
		t.Fatalf("XDP program still attached after SIGTERM:\n%s", out)
	}
	if out := n1.MustRun(t, "bpftool", "net", "show", "dev", "eth0"); strings.Contains(out, "xalived") || strings.Contains(out, "id ") {
		t.Fatalf("bpftool net still shows a program:\n%s", out)
	}
	if _, err := os.Stat(pinDir(a)); !os.IsNotExist(err) {
		entries, _ := os.ReadDir(filepath.Dir(pinDir(a)))
		t.Fatalf("pins left after SIGTERM (%v): %v", err, entries)
	}
}

// TestXDPInterfaceReappears: the interface of an instance deleted and re-created gets the
// program attached again and the instance comes back.
func TestXDPInterfaceReappears(t *testing.T) {
	l := xdpLab(t, 1)
	n1 := l.Nodes[0]
	addLink(t, n1)
	n1.MustRun(t, "ip", "addr", "add", "203.0.113.1/24", "dev", "eth1")
	in := fastInst(150)
	in.Interface = "eth1"
	in.VIPs = []string{"203.0.113.100/24"}
	a := xdpSpeaker(t, n1)
	a.Start(t, Conf{RouterID: "n1", Insts: []Inst{in}}.Render(n1, nil))
	WaitState(t, a, "VI_1", "MASTER", 3*time.Second)
	n1.MustRun(t, "ip", "link", "del", "eth1")
	WaitState(t, a, "VI_1", "FAULT", 3*time.Second)
	addLink(t, n1)
	n1.MustRun(t, "ip", "addr", "add", "203.0.113.1/24", "dev", "eth1")
	WaitState(t, a, "VI_1", "MASTER", 5*time.Second)
	nstest.WaitFor(t, 3*time.Second, "XDP on the new eth1", func() bool {
		out, err := n1.Run("ip", "-d", "link", "show", "eth1")
		return err == nil && strings.Contains(out, "prog/xdp")
	})
	if st := xdpStats(t, a, "VI_1"); st.State != "MASTER" {
		t.Fatalf("map state %s after the interface came back, want MASTER", st.State)
	}
}
