package loader

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/internal/testenv"
)

// inNS runs fn on a thread that has entered the network namespace of ns.
func inNS(t testing.TB, ns *nstest.NS, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		// The thread is left locked (and so discarded) if switching back fails.
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open(filepath.Join("/run/netns", ns.Name))
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns.Name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("setns back: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// topo is two namespaces joined by a veth pair: "us" runs the dataplane on va, "peer" has vb
// with an XDP_PASS program so that XDP_TX frames from va arrive.
type topo struct {
	us, peer    *nstest.NS
	ifindex     int // va's index in us
	peerIfindex int // vb's index in peer
	vaMAC       net.HardwareAddr
	vbMAC       net.HardwareAddr
	progs       *testprogsObjects
}

func newTopo(t testing.TB) *topo { return newTopoWith(t, false) }

// newTopoWith: sink drops the ARP replies vb counts (benchmarks), instead of passing them.
func newTopoWith(t testing.TB, sink bool) *topo {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "ip", "arping", "ndisc6")
	tp := &topo{us: nstest.New(t, "xdpus"), peer: nstest.New(t, "xdppeer")}
	for _, ns := range []*nstest.NS{tp.us, tp.peer} {
		ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0")
		ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0")
	}
	nstest.Veth(t, tp.us, "va", tp.peer, "vb")
	tp.us.MustRun(t, "ip", "addr", "add", "198.51.100.1/24", "dev", "va")
	tp.peer.MustRun(t, "ip", "addr", "add", "198.51.100.2/24", "dev", "vb")
	tp.peer.MustRun(t, "ip", "addr", "add", "2001:db8::2/64", "dev", "vb")
	inNS(t, tp.us, func() error {
		ifc, err := net.InterfaceByName("va")
		if err != nil {
			return err
		}
		tp.ifindex, tp.vaMAC = ifc.Index, ifc.HardwareAddr
		return nil
	})
	// The peer's XDP program (counting ARP replies, then passing): XDP_TX frames from va
	// reach vb only when vb runs XDP.
	tp.progs = new(testprogsObjects)
	if err := loadTestprogsObjects(tp.progs, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.progs.Close() })
	inNS(t, tp.peer, func() error {
		ifc, err := net.InterfaceByName("vb")
		if err != nil {
			return err
		}
		tp.peerIfindex, tp.vbMAC = ifc.Index, ifc.HardwareAddr
		prog := tp.progs.XdpCountArp
		if sink {
			prog = tp.progs.XdpSinkArp
		}
		l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifc.Index})
		if err != nil {
			return err
		}
		t.Cleanup(func() { _ = l.Close() })
		return nil
	})
	return tp
}

// peerARPReplies is how many ARP replies reached vb so far.
func (tp *topo) peerARPReplies(t testing.TB) uint64 {
	t.Helper()
	var per []uint64
	if err := tp.progs.ArpReplies.Lookup(uint32(0), &per); err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n
}

// attach opens a dataplane with a bpffs of the test's own and attaches it to va.
func (tp *topo) open(t testing.TB, opts Options) *Dataplane {
	t.Helper()
	var d *Dataplane
	var err error
	d, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	inNS(t, tp.us, func() error { return d.Attach(tp.ifindex, ModeNative) })
	return d
}

// arping sends n ARP requests for target from the peer and returns the MACs that answered.
// It waits up to 10 s for answers that are expected, 1.5 s for those that are not.
func (tp *topo) arping(t *testing.T, target netip.Addr, n int, expect bool) []string {
	t.Helper()
	deadline := "1.5"
	if expect {
		deadline = "10"
	}
	out, _ := tp.peer.Run("arping", "-i", "vb", "-S", "198.51.100.2", "-r", "-c", strconv.Itoa(n), "-W", "0.05", "-w", deadline,
		target.String())
	return strings.Fields(out)
}

func (tp *topo) instance(mac net.HardwareAddr) Instance {
	return Instance{
		Key:     InstanceKey{Ifindex: uint32(tp.ifindex), Family: IPv4, VRID: 51},
		Version: 3, Priority: 100, Interval: 10,
		LocalAddr: netip.MustParseAddr("198.51.100.1"),
		VIPs:      []netip.Addr{vip4},
		ReplyMAC:  mac,
	}
}

// TestNetnsARP: arping from the peer is answered by XDP while MASTER, by nobody while BACKUP
// (the kernel has no VIP), and dropped after the lease ran out even when the address is still
// on the interface; the counters match what was sent.
func TestNetnsARP(t *testing.T) {
	tp := newTopo(t)
	d := tp.open(t, Options{Name: randName(), BPFFS: testBPFFS(t)})
	t.Cleanup(func() { _ = d.Close() })
	in := tp.instance(macVRRP)
	if err := d.SetInstance(in); err != nil {
		t.Fatal(err)
	}
	in6 := Instance{Key: InstanceKey{Ifindex: uint32(tp.ifindex), Family: IPv6, VRID: 51}, Version: 3, Priority: 100,
		Interval: 10, VIPs: []netip.Addr{vip6}, ReplyMAC: tp.vaMAC}
	if err := d.SetInstance(in6); err != nil {
		t.Fatal(err)
	}

	// MASTER: answered from XDP with the VMAC.
	if err := d.SetState(in.Key, StateMaster, time.Minute); err != nil {
		t.Fatal(err)
	}
	got := tp.arping(t, vip4, 5, true)
	if len(got) != 5 || !strings.EqualFold(got[0], macVRRP.String()) {
		t.Fatalf("master: replies %v, want 5 from %s", got, macVRRP)
	}
	if n := tp.peerARPReplies(t); n != 5 {
		t.Errorf("the peer saw %d ARP replies, want 5", n)
	}
	c, _ := d.Counters(in.Key)
	if c.ARPReplies != 5 {
		t.Errorf("arp_replies %d, want 5", c.ARPReplies)
	}

	// NS answered with the interface MAC.
	if err := d.SetState(in6.Key, StateMaster, time.Minute); err != nil {
		t.Fatal(err)
	}
	out, err := tp.peer.Run("ndisc6", "-1", "-q", "-r", "3", "-w", "500", vip6.String(), "vb")
	if err != nil || !strings.EqualFold(strings.TrimSpace(out), tp.vaMAC.String()) {
		t.Errorf("ndisc6 while MASTER: %q %v, want %s", out, err, tp.vaMAC)
	}
	if c6, _ := d.Counters(in6.Key); c6.NAReplies == 0 {
		t.Errorf("na_replies 0 after ndisc6 was answered")
	}
	if err := d.SetState(in6.Key, StateBackup, 0); err != nil {
		t.Fatal(err)
	}
	if out, err := tp.peer.Run("ndisc6", "-1", "-q", "-r", "2", "-w", "300", vip6.String(), "vb"); err == nil {
		t.Errorf("ndisc6 answered while BACKUP: %q", out)
	}

	// BACKUP: nobody answers (the kernel does not hold the VIP).
	if err := d.SetState(in.Key, StateBackup, 0); err != nil {
		t.Fatal(err)
	}
	if got := tp.arping(t, vip4, 2, false); len(got) != 0 {
		t.Errorf("backup: replies %v, want none", got)
	}

	// Lease run out, address left on the interface by a "crashed" daemon: XDP drops.
	tp.us.MustRun(t, "ip", "addr", "add", vip4.String()+"/32", "dev", "va")
	if err := d.SetState(in.Key, StateMaster, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := tp.arping(t, vip4, 3, false); len(got) != 0 {
		t.Errorf("expired lease: replies %v, want none", got)
	}
	c, _ = d.Counters(in.Key)
	if c.ARPReplies != 5 || c.LeaseDrops != 3 {
		t.Errorf("arp_replies %d lease_drops %d, want 5 and 3", c.ARPReplies, c.LeaseDrops)
	}
	// Control: as BACKUP the kernel answers for the address it holds, with va's own MAC.
	if err := d.SetState(in.Key, StateBackup, 0); err != nil {
		t.Fatal(err)
	}
	if got := tp.arping(t, vip4, 2, true); len(got) != 2 || !strings.EqualFold(got[0], tp.vaMAC.String()) {
		t.Errorf("backup with the VIP on the interface: replies %v, want 2 from the kernel (%s)", got, tp.vaMAC)
	}
}

// TestNetnsAdopt: a process that goes away without detaching (Release = what a crash leaves)
// is adopted by the next Open: ARP answering never stops. Close then leaves nothing.
func TestNetnsAdopt(t *testing.T) {
	tp := newTopo(t)
	opts := Options{Name: randName(), BPFFS: testBPFFS(t)}
	d := tp.open(t, opts)
	in := tp.instance(macVRRP)
	if err := d.SetInstance(in); err != nil {
		t.Fatal(err)
	}
	if err := d.SetState(in.Key, StateMaster, time.Minute); err != nil {
		t.Fatal(err)
	}
	progInfo, _ := d.prog.Info()
	progID, _ := progInfo.ID()

	// bpftool shows field names from BTF.
	if _, err := os.Stat("/usr/sbin/bpftool"); err == nil {
		out, err := tp.us.Run("bpftool", "map", "dump", "pinned", filepath.Join(d.Dir(), "configs"))
		if err != nil || !strings.Contains(out, `"vrid": 51`) || !strings.Contains(out, `"priority": 100`) {
			t.Errorf("bpftool map dump: %v\n%s", err, out)
		}
	}

	// arping runs across the handover.
	arp := make(chan []string, 1)
	go func() {
		out, _ := tp.peer.Run("arping", "-i", "vb", "-S", "198.51.100.2", "-r", "-c", "30", "-W", "0.05", "-w", "15", vip4.String())
		arp <- strings.Fields(out)
	}()
	time.Sleep(300 * time.Millisecond)
	if err := d.Release(); err != nil {
		t.Fatal(err)
	}
	d2, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d2.Close() })
	if !d2.Adopted() || fmt.Sprint(d2.Attached()) != fmt.Sprint([]int{tp.ifindex}) {
		t.Fatalf("adopted %v, attached %v; want adoption of ifindex %d", d2.Adopted(), d2.Attached(), tp.ifindex)
	}
	info, _ := d2.prog.Info()
	if id, _ := info.ID(); id != progID {
		t.Errorf("program %d after adoption, want the pinned %d", id, progID)
	}
	if ks := d2.Instances(); len(ks) != 1 || ks[0] != in.Key {
		t.Errorf("adopted instances %v", ks)
	}
	if err := d2.RenewLease(in.Key, time.Minute); err != nil {
		t.Fatal(err)
	}
	// Attach on an adopted link is a no-op, and a second instance gets a new slot.
	inNS(t, tp.us, func() error { return d2.Attach(tp.ifindex, ModeNative) })
	other := in
	other.Key.VRID, other.VIPs = 52, []netip.Addr{vip4b}
	if err := d2.SetInstance(other); err != nil {
		t.Fatal(err)
	}
	if got := <-arp; len(got) != 30 {
		t.Errorf("arping across the handover: %d of 30 answered", len(got))
	}
	c, _ := d2.Counters(in.Key)
	if c.ARPReplies != 30 {
		t.Errorf("arp_replies %d, want 30 (counters survive adoption)", c.ARPReplies)
	}
	// A different build / option set refuses to adopt.
	bad := opts
	bad.SocketPath = true
	if _, err := Open(bad); !errors.Is(err, ErrIncompatiblePins) {
		t.Errorf("open with other options: %v, want ErrIncompatiblePins", err)
	}
	if err := d2.Release(); err != nil {
		t.Fatal(err)
	}
	if err := RemovePins(opts.BPFFS, opts.Name); err != nil {
		t.Fatal(err)
	}
	if out := tp.us.MustRun(t, "ip", "-d", "link", "show", "va"); strings.Contains(out, "prog/xdp") {
		t.Errorf("xdp still attached after RemovePins with no holder:\n%s", out)
	}
	d2, err = Open(bad)
	if err != nil || d2.Adopted() {
		t.Fatalf("fresh open after RemovePins: adopted %v, %v", d2 != nil && d2.Adopted(), err)
	}
	inNS(t, tp.us, func() error { return d2.Attach(tp.ifindex, ModeNative) })

	// Clean stop: detached, pins gone.
	if err := d2.Close(); err != nil {
		t.Fatal(err)
	}
	if out := tp.us.MustRun(t, "ip", "-d", "link", "show", "va"); strings.Contains(out, "prog/xdp") {
		t.Errorf("xdp still attached after Close:\n%s", out)
	}
	if _, err := os.Stat(d2.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pin directory %s left: %v", d2.Dir(), err)
	}
}

// TestNetnsKeepalived: Debian's keepalived as master feeds adverts; the peer record tracks it
// and, once it is SIGKILLed, the kernel timer reports master down after Master_Down_Interval.
func TestNetnsKeepalived(t *testing.T) {
	testenv.RequireCommand(t, "keepalived")
	tp := newTopo(t)
	d := tp.open(t, Options{Name: randName(), BPFFS: testBPFFS(t)})
	t.Cleanup(func() { _ = d.Close() })
	in := tp.instance(macVRRP)
	if err := d.SetInstance(in); err != nil {
		t.Fatal(err)
	}
	if err := d.SetState(in.Key, StateBackup, 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan Event, 64)
	done := make(chan error, 1)
	go func() { done <- d.ReadEvents(ctx, events) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("read events: %v", err)
		}
	})

	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	err := os.WriteFile(conf, []byte(`global_defs {
	router_id xdp-test
	vrrp_version 3
}
vrrp_instance VI_1 {
	state MASTER
	interface vb
	virtual_router_id 51
	priority 150
	advert_int 0.1
	virtual_ipaddress {
		203.0.113.10/32
	}
}
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	vrrpPid := filepath.Join(dir, "vrrp.pid")
	ka := tp.peer.Start(t, "keepalived", "-n", "-l", "-P", "-R", "-f", conf,
		"-p", filepath.Join(dir, "keepalived.pid"), "-r", vrrpPid)

	// The peer record follows keepalived's master.
	var ev Event
	select {
	case ev = <-events:
	case <-time.After(10 * time.Second):
		t.Fatal("no event from keepalived's adverts within 10 s")
	}
	if ev.Type != EventPeerChanged || ev.Addr != netip.MustParseAddr("198.51.100.2") || ev.Priority != 150 || ev.Interval != 10 {
		t.Fatalf("first event %+v, want peer_changed from 198.51.100.2 priority 150 interval 10", ev)
	}
	// Wait for a few more adverts rather than a fixed time: on a loaded machine keepalived's
	// own timers run late ("A thread timer expired ... ago"), which is not what this test checks.
	var p Peer
	var c Counters
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		if p, err = d.ReadPeer(in.Key); err != nil {
			t.Fatal(err)
		}
		c, _ = d.Counters(in.Key)
		if p.Priority == 150 && c.Adverts[0] >= 3 && Now()-p.LastSeen <= time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("peer %+v, counters %v: keepalived's adverts not tracked", p, c.Adverts)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for len(events) > 0 {
		t.Logf("early event %+v", <-events)
	}

	// SIGKILL: the VRRP child first (it would send priority 0 if it saw SIGTERM), then the parent.
	b, err := os.ReadFile(vrrpPid)
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(child, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := Now()
	_ = ka.Process.Kill()
	killDeadline := time.After(3 * time.Second)
	for {
		select {
		case ev = <-events:
		case <-killDeadline:
			t.Fatal("no master_down within 3 s of SIGKILL")
		}
		t.Logf("event %+v (%v after kill)", ev, ev.Time-killed)
		if ev.Type == EventMasterDown && ev.Time > killed {
			break // (an earlier one means keepalived stalled past the interval on a loaded machine)
		}
	}
	p, _ = d.ReadPeer(in.Key)
	down := ev.Time - p.LastSeen
	want := 300*time.Millisecond + 60937500 // 3 x 100 ms + (256-100)/256 x 100 ms
	if p.DownIn != want || down < want {
		t.Errorf("master down %v after the last advert, armed %v; want %v", down, p.DownIn, want)
	}
	t.Logf("master_down %v after the last advert (interval %v), %v after SIGKILL", down, want, ev.Time-killed)
	c, _ = d.Counters(in.Key)
	if c.MasterDown < 1 {
		t.Errorf("master_down counter %d", c.MasterDown)
	}
}

// TestNetnsGeneric: generic (skb) mode answers too, and Detach stops it.
func TestNetnsGeneric(t *testing.T) {
	tp := newTopo(t)
	d, err := Open(Options{Name: randName(), BPFFS: testBPFFS(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	inNS(t, tp.us, func() error { return d.Attach(tp.ifindex, ModeGeneric) })
	if out := tp.us.MustRun(t, "ip", "link", "show", "va"); !strings.Contains(out, "xdpgeneric") {
		t.Fatalf("not attached in generic mode:\n%s", out)
	}
	in := tp.instance(macVRRP)
	if err := d.SetInstance(in); err != nil {
		t.Fatal(err)
	}
	if err := d.SetState(in.Key, StateMaster, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := tp.arping(t, vip4, 2, true); len(got) != 2 {
		t.Errorf("generic mode: replies %v, want 2", got)
	}
	if err := d.Detach(tp.ifindex); err != nil {
		t.Fatal(err)
	}
	if got := tp.arping(t, vip4, 1, false); len(got) != 0 {
		t.Errorf("answered after Detach: %v", got)
	}
	if len(d.Attached()) != 0 {
		t.Errorf("attached %v after Detach", d.Attached())
	}
}
