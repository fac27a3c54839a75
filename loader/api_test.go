package loader

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xalived/xalived/pkg/vrrp"
	"golang.org/x/sys/unix"
)

// TestSetInstanceErrors: bad configuration is refused with a clear error and installs nothing.
func TestSetInstanceErrors(t *testing.T) {
	d := newDP(t, Options{})
	cases := []struct {
		name string
		mod  func(*Instance)
		want string
	}{
		{"family", func(in *Instance) { in.Key.Family = 7 }, "family"},
		{"ifindex 0", func(in *Instance) { in.Key.Ifindex = 0 }, "ifindex"},
		{"vlan", func(in *Instance) { in.Key.VLAN = 4095 }, "vlan"},
		{"vrid 0", func(in *Instance) { in.Key.VRID = 0 }, "vrid"},
		{"version", func(in *Instance) { in.Version = 4 }, "version"},
		{"v2 over ipv6", func(in *Instance) { in.Key.Family, in.Version, in.Interval = IPv6, 2, 1 }, "ipv4 only"},
		{"v3 auth", func(in *Instance) { in.AuthType = 1 }, "no authentication"},
		{"AH", func(in *Instance) { in.Version, in.Interval, in.AuthType = 2, 1, 2 }, "AH"},
		{"long password", func(in *Instance) { in.Version, in.Interval, in.AuthType, in.AuthPass = 2, 1, 1, "123456789" }, "longer than 8"},
		{"interval 0", func(in *Instance) { in.Interval = 0 }, "interval"},
		{"interval too long", func(in *Instance) { in.Interval = 4096 }, "interval"},
		{"v2 interval too long", func(in *Instance) { in.Version, in.Interval = 2, 256 }, "interval"},
		{"vip family", func(in *Instance) { in.VIPs = []netip.Addr{vip6} }, "not ipv4"},
		{"no mac", func(in *Instance) { in.ReplyMAC = nil }, "reply mac"},
		{"local address family", func(in *Instance) { in.LocalAddr = ours6 }, "local address"},
		{"peer family", func(in *Instance) { in.UnicastPeers = []UnicastPeer{{Addr: peer6}} }, "unicast peer"},
	}
	for _, c := range cases {
		in := inst4()
		c.mod(&in)
		err := d.SetInstance(in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
	if ks := d.Instances(); len(ks) != 0 {
		t.Errorf("instances installed by failed calls: %v", ks)
	}
	if err := d.DeleteInstance(inst4().Key); !errors.Is(err, ErrUnknownInstance) {
		t.Errorf("delete unknown: %v", err)
	}
	if err := d.SetState(inst4().Key, StateMaster, time.Second); !errors.Is(err, ErrUnknownInstance) {
		t.Errorf("set state unknown: %v", err)
	}
	if err := d.SetInstance(inst4()); err != nil {
		t.Fatal(err)
	}
	if err := d.RenewLease(inst4().Key, time.Second); !errors.Is(err, ErrNotMaster) {
		t.Errorf("renew a backup's lease: %v", err)
	}
	// A VIP answered by another instance on the same interface is refused.
	other := inst4()
	other.Key.VRID = 99
	if err := d.SetInstance(other); err == nil || !strings.Contains(err.Error(), "another instance") {
		t.Errorf("duplicate vip: %v", err)
	}
	if _, err := Open(Options{Name: "a/b"}); err == nil {
		t.Error("open with a slash in the name succeeded")
	}
}

// TestVIPUpdates: changing an instance's VIPs takes effect at once; removing it stops the answers.
func TestVIPUpdates(t *testing.T) {
	d := newDP(t, Options{})
	in := inst4()
	if err := d.SetInstance(in); err != nil {
		t.Fatal(err)
	}
	if err := d.SetState(in.Key, StateMaster, time.Hour); err != nil {
		t.Fatal(err)
	}
	answered := func(vip netip.Addr) bool {
		v, _ := run(t, d, arpRequest(0, peer4, vip))
		return v == xdpTX
	}
	if !answered(vip4) || answered(vip4b) {
		t.Fatal("initial vips")
	}
	in.VIPs = []netip.Addr{vip4b}
	in.ReplyMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 9}
	if err := d.SetInstance(in); err != nil {
		t.Fatal(err)
	}
	if answered(vip4) || !answered(vip4b) {
		t.Error("after replacing the vip list")
	}
	if st, _, _ := d.StateOf(in.Key); st != StateMaster {
		t.Errorf("update reset the state to %s", st)
	}
	if err := d.DeleteInstance(in.Key); err != nil {
		t.Fatal(err)
	}
	if answered(vip4b) {
		t.Error("answered after delete")
	}
	// The slot is reused with clean counters.
	if err := d.SetInstance(inst4()); err != nil {
		t.Fatal(err)
	}
	if c, _ := d.Counters(inst4().Key); c.ARPReplies != 0 {
		t.Errorf("reused slot kept counters: %+v", c)
	}
}

// TestRingBufferOverflow: events that do not fit are counted, sent + lost = produced.
func TestRingBufferOverflow(t *testing.T) {
	d := newDP(t, Options{RingBufferBytes: 4096})
	in := inst4()
	if err := d.SetInstance(in); err != nil {
		t.Fatal(err)
	}
	_ = d.SetState(in.Key, StateBackup, 0)
	const n = 200
	for i := 0; i < n; i++ {
		// Each advert comes from a new master: one peer_changed event each.
		run(t, d, advert{src: netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), prio: 150}.frame())
	}
	c, _ := d.Counters(in.Key)
	if c.Events+c.EventsLost != n || c.EventsLost == 0 || c.Adverts[vrrp.Accept] != n {
		t.Errorf("events %d lost %d accepted %d; want %d in all, some lost", c.Events, c.EventsLost, c.Adverts[vrrp.Accept], n)
	}
	if g, _ := d.GlobalCounters(); g.EventsLost != c.EventsLost {
		t.Errorf("global counters lost %d events, the instance %d", g.EventsLost, c.EventsLost)
	}
	// The peer record still has the latest master.
	if p, _ := d.ReadPeer(in.Key); p.Addr != netip.AddrFrom4([4]byte{198, 51, 100, n - 1}) {
		t.Errorf("peer %+v", p)
	}
	if got := drainEvents(t, d, 50*time.Millisecond); uint64(len(got)) != c.Events {
		t.Errorf("read %d events, %d sent", len(got), c.Events)
	}
}

// TestRenewLeases: one batch renews several leases; a BACKUP in the batch refuses it all.
func TestRenewLeases(t *testing.T) {
	d := newDP(t, Options{})
	var keys []InstanceKey
	for i := 0; i < 3; i++ {
		in := inst4()
		in.Key.VRID = uint8(10 + i)
		in.VIPs = []netip.Addr{netip.AddrFrom4([4]byte{203, 0, 113, byte(100 + i)})}
		if err := d.SetInstance(in); err != nil {
			t.Fatal(err)
		}
		if err := d.SetState(in.Key, StateMaster, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, in.Key)
	}
	if err := d.RenewLeases(keys, time.Hour); err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		st, until, err := d.StateOf(k)
		if err != nil || st != StateMaster || until < Now()+59*time.Minute {
			t.Errorf("%s: %s until %v (now %v): %v", k, st, until, Now(), err)
		}
		if v, _ := run(t, d, arpRequest(0, peer4, netip.AddrFrom4([4]byte{203, 0, 113, byte(100 + i)}))); v != xdpTX {
			t.Errorf("%s: renewed lease not answering (%s)", k, verdictName(v))
		}
	}
	_ = d.SetState(keys[1], StateBackup, 0)
	if err := d.RenewLeases(keys, time.Hour); !errors.Is(err, ErrNotMaster) {
		t.Errorf("renew with a backup in the batch: %v", err)
	}
}

// TestVIPCache: the ARP responder's per-CPU VIP cache (bpf/neigh.h lookup_vip4) never answers
// from a stale entry: on every CPU, after a hit has filled the cache, a new reply MAC, a VIP
// moved to another instance and a deleted instance take effect at once.
func TestVIPCache(t *testing.T) {
	d := newDP(t, Options{})
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var orig unix.CPUSet
	if err := unix.SchedGetaffinity(0, &orig); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.SchedSetaffinity(0, &orig) }()
	// onEveryCPU asks twice per CPU (a fill, then a hit) and wants the same answer: the
	// reply's source MAC, or nil when not answered.
	onEveryCPU := func(what string, vip netip.Addr, want net.HardwareAddr) {
		t.Helper()
		for cpu := 0; cpu < 1024; cpu++ {
			if !orig.IsSet(cpu) {
				continue
			}
			var one unix.CPUSet
			one.Set(cpu)
			if err := unix.SchedSetaffinity(0, &one); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				v, out := run(t, d, arpRequest(0, peer4, vip))
				var got net.HardwareAddr
				if v == xdpTX {
					got = net.HardwareAddr(out[6:12])
				}
				if got.String() != want.String() {
					t.Errorf("%s: cpu %d, request %d: reply from %q, want %q", what, cpu, i, got, want)
				}
			}
		}
	}
	macA := net.HardwareAddr{0x02, 0, 0, 0, 0, 0xa}
	macB := net.HardwareAddr{0x02, 0, 0, 0, 0, 0xb}
	macC := net.HardwareAddr{0x02, 0, 0, 0, 0, 0xc}
	in := inst4()
	in.ReplyMAC = macA
	if err := d.SetInstance(in); err != nil {
		t.Fatal(err)
	}
	if err := d.SetState(in.Key, StateMaster, time.Hour); err != nil {
		t.Fatal(err)
	}
	onEveryCPU("master", vip4, macA)

	in.ReplyMAC = macB
	if err := d.SetInstance(in); err != nil {
		t.Fatal(err)
	}
	onEveryCPU("new reply mac", vip4, macB)

	// The VIP moves to a BACKUP instance: not answered; then that instance becomes MASTER.
	in.VIPs = []netip.Addr{vip4b}
	if err := d.SetInstance(in); err != nil {
		t.Fatal(err)
	}
	in2 := inst4()
	in2.Key.VRID = 52
	in2.ReplyMAC = macC
	if err := d.SetInstance(in2); err != nil {
		t.Fatal(err)
	}
	if err := d.SetState(in2.Key, StateBackup, 0); err != nil {
		t.Fatal(err)
	}
	onEveryCPU("moved to a backup", vip4, nil)
	onEveryCPU("the remaining vip", vip4b, macB)
	if err := d.SetState(in2.Key, StateMaster, time.Hour); err != nil {
		t.Fatal(err)
	}
	onEveryCPU("moved to a master", vip4, macC)
	c, _ := d.Counters(in2.Key)
	if c.ARPReplies == 0 {
		t.Errorf("replies for the moved vip not counted on its new instance: %+v", c)
	}

	if err := d.DeleteInstance(in2.Key); err != nil {
		t.Fatal(err)
	}
	onEveryCPU("deleted", vip4, nil)
	onEveryCPU("the other instance's vip", vip4b, macB)
}

// TestInterfaceBases: an interface gets a base in vrid_index with its first instance and
// loses it with its last (also when that first instance is refused), and a base handed out
// again starts empty.
func TestInterfaceBases(t *testing.T) {
	d := newDP(t, Options{MaxInstances: 2})
	a := inst4()
	b := inst4()
	b.Key.VRID, b.VIPs = 52, []netip.Addr{vip4b}
	if err := d.SetInstance(a); err != nil {
		t.Fatal(err)
	}
	if err := d.SetInstance(b); err != nil {
		t.Fatal(err)
	}
	if len(d.ifaces) != 1 {
		t.Fatalf("interfaces %v, want one", d.ifaces)
	}
	other := inst4()
	other.Key.Ifindex, other.VIPs = 99, []netip.Addr{netip.MustParseAddr("203.0.113.77")}
	if err := d.SetInstance(other); err == nil {
		t.Fatal("a third instance was accepted with two slots")
	}
	if len(d.ifaces) != 1 {
		t.Errorf("a refused instance left an interface base behind: %v", d.ifaces)
	}
	if err := d.DeleteInstance(a.Key); err != nil {
		t.Fatal(err)
	}
	if len(d.ifaces) != 1 {
		t.Errorf("interfaces %v after deleting one of two instances, want one", d.ifaces)
	}
	if err := d.DeleteInstance(b.Key); err != nil {
		t.Fatal(err)
	}
	var n uint32
	var k xdpXaIfKey
	var v xdpXaIf
	for it := d.maps.Ifaces.Iterate(); it.Next(&k, &v); {
		n++
	}
	var direct uint32
	_ = d.maps.IfDirect.Lookup(uint32(loIfindex), &direct)
	if len(d.ifaces) != 0 || n != 0 || direct != 0 {
		t.Errorf("after the last instance: interfaces %v, %d in the map, if_direct %d", d.ifaces, n, direct)
	}
	// Back again: adverts are found (the base's old entries were cleared).
	if err := d.SetInstance(b); err != nil {
		t.Fatal(err)
	}
	_ = d.SetState(b.Key, StateBackup, 0)
	run(t, d, advert{vrid: 51}.frame())
	run(t, d, advert{vrid: 52, addrs: []netip.Addr{vip4b}}.frame())
	g, _ := d.GlobalCounters()
	c, _ := d.Counters(b.Key)
	if g.Adverts[vrrp.ReasonUnknownVRID] != 1 || c.Adverts[vrrp.Accept] != 1 {
		t.Errorf("unknown %d (want 1: VRID 51 is gone), accepted for 52 %d (want 1)", g.Adverts[vrrp.ReasonUnknownVRID], c.Adverts[vrrp.Accept])
	}
}
