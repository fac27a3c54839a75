package loader

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/pcap"
	"github.com/xalived/xalived/pkg/vrrp"
)

const (
	xdpDrop = 1
	xdpPass = 2
	xdpTX   = 3
)

func verdictName(v uint32) string {
	return [...]string{"ABORTED", "DROP", "PASS", "TX", "REDIRECT"}[v%5]
}

// TestCaptures: every frame keepalived 2.2.7 sent in the captures is judged as the capture's
// configuration says: VRRP adverts valid (consumed), ARP/NA announcements passed.
func TestCaptures(t *testing.T) {
	a100 := netip.MustParseAddr("192.0.2.100")
	a101 := netip.MustParseAddr("192.0.2.101")
	cases := []struct {
		file string
		in   Instance
	}{
		{"keepalived-2.2.7-v2-ipv4-authpass.pcap", Instance{Version: 2, Interval: 1, AuthType: 1, AuthPass: "secret12",
			VIPs: []netip.Addr{a101, a100}}},
		{"keepalived-2.2.7-v2-ipv4-unicast.pcap", Instance{Version: 2, Interval: 1, Unicast: true, VIPs: []netip.Addr{a100},
			CheckUnicastSrc: true, UnicastPeers: []UnicastPeer{{Addr: netip.MustParseAddr("10.99.0.1")}, {Addr: netip.MustParseAddr("10.99.0.2")}}}},
		{"keepalived-2.2.7-v3-ipv4-100ms.pcap", Instance{Version: 3, Interval: 10, VIPs: []netip.Addr{a100}}},
		{"keepalived-2.2.7-v3-ipv4-vmac.pcap", Instance{Version: 3, Interval: 100, VIPs: []netip.Addr{a100}}},
		{"keepalived-2.2.7-v3-ipv6.pcap", Instance{Version: 3, Interval: 100,
			VIPs: []netip.Addr{netip.MustParseAddr("2001:db8::100")}}},
	}
	d := newDP(t, Options{})
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			frames, err := pcap.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			in := c.in
			in.Key = InstanceKey{Ifindex: loIfindex, Family: IPv4, VRID: 51}
			if in.VIPs[0].Is6() {
				in.Key.Family = IPv6
			}
			in.Priority = 100
			in.ReplyMAC = macOurs
			if err := d.SetInstance(in); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = d.DeleteInstance(in.Key) }()
			if err := d.SetState(in.Key, StateBackup, 0); err != nil {
				t.Fatal(err)
			}
			adverts := 0
			for i, f := range frames {
				isVRRP := isVRRPFrame(f)
				want := uint32(xdpPass)
				if isVRRP {
					want = xdpDrop
					adverts++
				}
				if v, _ := run(t, d, f); v != want {
					t.Errorf("frame %d (vrrp %v): verdict %s, want %s", i+1, isVRRP, verdictName(v), verdictName(want))
				}
			}
			cnt, err := d.Counters(in.Key)
			if err != nil {
				t.Fatal(err)
			}
			if adverts == 0 || cnt.Adverts[vrrp.Accept] != uint64(adverts) {
				t.Errorf("valid adverts %d, want %d; counters %v", cnt.Adverts[vrrp.Accept], adverts, cnt.Adverts)
			}
			if cnt.Notes != [NumReasons]uint64{} {
				t.Errorf("notes %v, want none", cnt.Notes)
			}
			drainEvents(t, d, 0)
		})
	}
}

func isVRRPFrame(f []byte) bool {
	off := 12
	typ := int(f[off])<<8 | int(f[off+1])
	if typ == 0x8100 {
		off += 4
		typ = int(f[off])<<8 | int(f[off+1])
	}
	switch typ {
	case 0x0800:
		return f[off+2+9] == 112
	case 0x86dd:
		return f[off+2+6] == 112
	}
	return false
}

// TestReasons: one frame per rung of the receive ladder (pkg/vrrp/RECEIVE.md), with the verdict,
// the counter it must move and the notes of accepted adverts.
func TestReasons(t *testing.T) {
	v2 := func(in *Instance) { in.Version, in.Interval, in.AuthType, in.AuthPass = 2, 1, 1, "pw" }
	v2a := advert{version: 2, authType: 1, pass: "pw", interval: 1}
	with := func(a advert, f func(*advert)) advert { f(&a); return a }
	big := make([]netip.Addr, 255)
	for i := range big {
		big[i] = netip.AddrFrom4([4]byte{203, 0, 113, byte(i)})
	}
	big6 := make([]netip.Addr, 200)
	for i := range big6 {
		big6[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
	}
	unicast := func(in *Instance) { in.Unicast = true }
	ucheck := func(in *Instance) {
		in.Unicast, in.CheckUnicastSrc = true, true
		in.UnicastPeers = []UnicastPeer{{Addr: peer4, MinTTL: 60, MaxTTL: 64}, {Addr: netip.MustParseAddr("198.51.100.3")}}
	}
	cases := []struct {
		name   string
		cfg    func(*Instance)
		state  State // default BACKUP
		v6     bool
		adv    advert
		raw    []byte // instead of adv
		reason vrrp.DropReason
		notes  []vrrp.DropReason
		global bool // counted in the global counters (no instance)
		none   bool // not VRRP for us: passed, nothing counted
	}{
		{name: "v3 ipv4", reason: vrrp.Accept},
		{name: "v3 ipv4 master", state: StateMaster, reason: vrrp.Accept},
		{name: "v3 ipv4 rfc9568 checksum", adv: advert{csumV2Form: true}, reason: vrrp.Accept},
		{name: "v3 ipv6", v6: true, reason: vrrp.Accept},
		{name: "v2 password", cfg: v2, adv: v2a, reason: vrrp.Accept},
		{name: "v2 padded to 60 bytes", cfg: v2, adv: with(v2a, func(a *advert) { a.trailer = make([]byte, 6) }), reason: vrrp.Accept},
		{name: "long trailer after the ip packet", adv: advert{trailer: make([]byte, 100)}, reason: vrrp.Accept},
		{name: "ipv4 options", adv: advert{ihl: 24}, reason: vrrp.Accept},
		{name: "vlan", cfg: func(in *Instance) { in.Key.VLAN = 100 }, adv: advert{vlan: 100}, reason: vrrp.Accept},
		{name: "vlan ipv6", v6: true, cfg: func(in *Instance) { in.Key.VLAN = 4094 }, adv: advert{vlan: 4094}, reason: vrrp.Accept},
		{name: "ipv6 hop-by-hop header", v6: true, adv: advert{ipv6HopByHop: true}, reason: vrrp.Accept},
		{name: "255 addresses", cfg: func(in *Instance) { in.VIPs = big }, adv: advert{addrs: big}, reason: vrrp.Accept},
		{name: "200 ipv6 addresses", v6: true, cfg: func(in *Instance) { in.VIPs = big6 }, adv: advert{addrs: big6}, reason: vrrp.Accept},
		{name: "address list in another order", cfg: func(in *Instance) { in.VIPs = []netip.Addr{vip4, vip4b} },
			adv: advert{addrs: []netip.Addr{vip4b, vip4}}, reason: vrrp.Accept},
		{name: "unicast", cfg: unicast, adv: advert{dst: ours4, ttl: 64}, reason: vrrp.Accept},
		{name: "unicast from a checked peer", cfg: ucheck, adv: advert{dst: ours4, ttl: 63}, reason: vrrp.Accept},
		{name: "unicast from an unbounded peer", cfg: ucheck, adv: advert{src: netip.MustParseAddr("198.51.100.3"), dst: ours4, ttl: 1}, reason: vrrp.Accept},

		{name: "truncated vrrp header", adv: advert{truncate: 6}, reason: vrrp.ReasonTruncated, global: true},
		{name: "unknown vrid", adv: advert{vrid: 52}, reason: vrrp.ReasonUnknownVRID, global: true},
		{name: "other vlan", cfg: func(in *Instance) { in.Key.VLAN = 100 }, adv: advert{vlan: 200}, reason: vrrp.ReasonUnknownVRID, global: true},
		{name: "tagged advert, untagged instance", adv: advert{vlan: 7}, reason: vrrp.ReasonUnknownVRID, global: true},
		{name: "ipv4 ihl below 5", adv: advert{ihl: 16}, none: true},
		{name: "ipv6 fragment header", v6: true, adv: advert{ipv6Fragment: true}, none: true},
		{name: "not vrrp", raw: ether(macOurs, macPeer, 0, 0x0800, append([]byte{0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 198, 51, 100, 2, 198, 51, 100, 1}, make([]byte, 8)...)), none: true},
		{name: "vlan tag cut", raw: append(ether(macOurs, macPeer, 0, 0x8100, nil), 0), none: true},

		{name: "init", state: StateInit, reason: vrrp.ReasonState},
		{name: "fault", state: StateFault, reason: vrrp.ReasonState},
		{name: "ipv6 multicast on unicast instance", v6: true, cfg: unicast, reason: vrrp.ReasonDst},
		{name: "count larger than addresses", adv: advert{countDelta: 1}, reason: vrrp.ReasonLength},
		{name: "count smaller than addresses", adv: advert{countDelta: -1}, reason: vrrp.ReasonLength},
		{name: "ip total length too big", adv: advert{ipLenDelta: 4}, reason: vrrp.ReasonLength},
		{name: "ip total length too small", adv: advert{ipLenDelta: -4}, reason: vrrp.ReasonLength},
		{name: "ipv6 payload length", v6: true, adv: advert{ipLenDelta: 2}, reason: vrrp.ReasonLength},
		{name: "v2 advert to v3 instance", adv: advert{version: 2, interval: 1}, reason: vrrp.ReasonLength},
		{name: "v3 advert to v2 instance", cfg: v2, reason: vrrp.ReasonLength},
		{name: "ip length beyond the frame", adv: advert{countDelta: 1, ipLenDelta: 4}, reason: vrrp.ReasonTruncated},
		{name: "frame cut in the address list", adv: advert{addrs: []netip.Addr{vip4, vip4b}, truncate: 2}, reason: vrrp.ReasonTruncated},
		{name: "v2 frame cut in the auth data", cfg: v2, adv: with(v2a, func(a *advert) { a.truncate = 8 }), reason: vrrp.ReasonTruncated},
		{name: "ttl 254", adv: advert{ttl: 254}, reason: vrrp.ReasonTTL},
		{name: "hop limit 1", v6: true, adv: advert{ttl: 1}, reason: vrrp.ReasonTTL},
		{name: "v3 advert with the v2 length to v2 instance", cfg: v2, adv: advert{trailer: make([]byte, 8), ipLenDelta: 8}, reason: vrrp.ReasonVersion},
		{name: "v2 wrong password", cfg: v2, adv: with(v2a, func(a *advert) { a.pass = "pX" }), reason: vrrp.ReasonAuth},
		{name: "v2 auth type 0 to password instance", cfg: v2, adv: with(v2a, func(a *advert) { a.authType, a.pass = 0, "" }), reason: vrrp.ReasonAuth},
		{name: "v2 auth type 2 (AH)", cfg: v2, adv: with(v2a, func(a *advert) { a.authType = 2 }), reason: vrrp.ReasonAuth},
		{name: "v2 interval mismatch", cfg: v2, adv: with(v2a, func(a *advert) { a.interval = 2 }), reason: vrrp.ReasonInterval},
		{name: "v3 interval 0", adv: advert{interval: 0xf000}, reason: vrrp.ReasonInterval},
		{name: "v3 interval mismatch is a note", adv: advert{interval: 50}, reason: vrrp.Accept, notes: []vrrp.DropReason{vrrp.ReasonInterval}},
		{name: "type 2", adv: advert{typ: 2}, reason: vrrp.ReasonType},
		{name: "checksum", adv: advert{csumDelta: 1}, reason: vrrp.ReasonChecksum},
		{name: "ipv6 checksum", v6: true, adv: advert{csumDelta: 0x100}, reason: vrrp.ReasonChecksum},
		{name: "ipv6 message-only checksum", v6: true, adv: advert{csumV2Form: true}, reason: vrrp.ReasonChecksum},
		{name: "v2 checksum", cfg: v2, adv: with(v2a, func(a *advert) { a.csumDelta = 7 }), reason: vrrp.ReasonChecksum},
		{name: "ipv4 multicast on unicast instance", cfg: unicast, reason: vrrp.ReasonDst},
		{name: "ipv4 unicast on multicast instance", adv: advert{dst: ours4}, reason: vrrp.ReasonDst},
		{name: "owner ignores adverts", cfg: func(in *Instance) { in.Priority = 255; in.OwnerIgnoreAdverts = true }, reason: vrrp.ReasonOwner},
		{name: "owner processes adverts by default", cfg: func(in *Instance) { in.Priority = 255 }, reason: vrrp.Accept},
		{name: "address list differs", adv: advert{addrs: []netip.Addr{vip4b}}, reason: vrrp.Accept, notes: []vrrp.DropReason{vrrp.ReasonAddrList}},
		{name: "address count differs", adv: advert{addrs: []netip.Addr{vip4, vip4b}}, reason: vrrp.Accept, notes: []vrrp.DropReason{vrrp.ReasonAddrCount}},
		{name: "v3 no addresses", adv: advert{addrs: []netip.Addr{}}, reason: vrrp.Accept, notes: []vrrp.DropReason{vrrp.ReasonAddrCount}},
		{name: "unicast from a stranger", cfg: ucheck, adv: advert{src: netip.MustParseAddr("198.51.100.77"), dst: ours4, ttl: 64}, reason: vrrp.ReasonUnicastSrc},
		{name: "unicast peer ttl above bound", cfg: ucheck, adv: advert{dst: ours4, ttl: 255}, reason: vrrp.ReasonTTL},
		{name: "unicast peer ttl below bound", cfg: ucheck, adv: advert{dst: ours4, ttl: 59}, reason: vrrp.ReasonTTL},
	}
	d := newDP(t, Options{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := inst4()
			if c.v6 {
				in = inst6()
			}
			if c.cfg != nil {
				c.cfg(&in)
			}
			if err := d.SetInstance(in); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = d.DeleteInstance(in.Key) }()
			st := c.state
			if st == 0 && c.name != "init" {
				st = StateBackup
			}
			if err := d.SetState(in.Key, st, time.Hour); err != nil {
				t.Fatal(err)
			}
			frame := c.raw
			if frame == nil {
				a := c.adv
				if c.v6 {
					if !a.src.IsValid() {
						a.src = peer6
					}
					if a.addrs == nil {
						a.addrs = []netip.Addr{vip6}
					}
				}
				frame = a.frame()
			}
			g0, _ := d.GlobalCounters()
			v, _ := run(t, d, frame)
			g1, _ := d.GlobalCounters()
			cnt, err := d.Counters(in.Key)
			if err != nil {
				t.Fatal(err)
			}
			var instTotal, globalTotal uint64
			for i := range cnt.Adverts {
				instTotal += cnt.Adverts[i]
				globalTotal += g1.Adverts[i] - g0.Adverts[i]
			}
			switch {
			case c.none:
				if v != xdpPass || instTotal+globalTotal != 0 {
					t.Errorf("verdict %s, counted %d+%d; want PASS, nothing counted", verdictName(v), instTotal, globalTotal)
				}
			case c.global:
				if v != xdpPass || globalTotal != 1 || g1.Adverts[c.reason]-g0.Adverts[c.reason] != 1 || instTotal != 0 {
					t.Errorf("verdict %s, global %v; want PASS and global %s", verdictName(v), diff(g1, g0), c.reason)
				}
			default:
				if v != xdpDrop || instTotal != 1 || cnt.Adverts[c.reason] != 1 {
					t.Errorf("verdict %s, counters %v; want DROP and %s", verdictName(v), cnt.Adverts, c.reason)
				}
			}
			var notes []vrrp.DropReason
			for i, n := range cnt.Notes {
				if n != 0 {
					notes = append(notes, vrrp.DropReason(i))
				}
			}
			if fmt.Sprint(notes) != fmt.Sprint(c.notes) {
				t.Errorf("notes %v, want %v", notes, c.notes)
			}
			drainEvents(t, d, 0)
		})
	}
}

func diff(a, b Counters) []uint64 {
	out := make([]uint64, len(a.Adverts))
	for i := range out {
		out[i] = a.Adverts[i] - b.Adverts[i]
	}
	return out
}

// TestSocketPath: with the socket path on, adverts of known instances are passed, valid or not.
func TestSocketPath(t *testing.T) {
	d := newDP(t, Options{SocketPath: true})
	if err := d.SetInstance(inst4()); err != nil {
		t.Fatal(err)
	}
	_ = d.SetState(inst4().Key, StateBackup, 0)
	for _, a := range []advert{{}, {ttl: 1}} {
		if v, _ := run(t, d, a.frame()); v != xdpPass {
			t.Errorf("verdict %s, want PASS", verdictName(v))
		}
	}
	c, _ := d.Counters(inst4().Key)
	if c.Adverts[vrrp.Accept] != 1 || c.Adverts[vrrp.ReasonTTL] != 1 {
		t.Errorf("counters %v", c.Adverts)
	}
}

// TestElection: what a valid advert does to the peer record, the timer and the event stream,
// in BACKUP and in MASTER.
func TestElection(t *testing.T) {
	d := newDP(t, Options{})
	in := inst4()
	if err := d.SetInstance(in); err != nil {
		t.Fatal(err)
	}
	k := in.Key
	type step struct {
		name   string
		state  State
		lease  time.Duration
		adv    advert
		events []EventType
		peer   uint8 // expected peer priority afterwards (0: unchanged check skipped)
		down   time.Duration
	}
	hi := netip.MustParseAddr("198.51.100.9")
	steps := []step{
		{name: "first master", state: StateBackup, adv: advert{src: peer4, prio: 150}, events: []EventType{EventPeerChanged}, peer: 150,
			down: 3*time.Second + 609375*time.Microsecond},
		{name: "same master again", state: StateBackup, adv: advert{src: peer4, prio: 150}, peer: 150},
		{name: "priority change", state: StateBackup, adv: advert{src: peer4, prio: 120}, events: []EventType{EventPeerChanged}, peer: 120},
		{name: "interval change (v3 adopts)", state: StateBackup, adv: advert{src: peer4, prio: 120, interval: 50}, events: []EventType{EventPeerChanged, EventCheckFailed}, peer: 120,
			down: 1500*time.Millisecond + 304687500},
		{name: "lower priority discarded (preempt)", state: StateBackup, adv: advert{src: hi, prio: 50}, peer: 120},
		{name: "priority 0", state: StateBackup, adv: advert{src: peer4, prio: 0, interval: 50}, events: []EventType{EventPrioZero}, peer: 0,
			down: 304687500},
		{name: "master hears lower", state: StateMaster, lease: time.Hour, adv: advert{src: peer4, prio: 90}, events: []EventType{EventLowerPrio}},
		{name: "master hears higher", state: StateMaster, lease: time.Hour, adv: advert{src: peer4, prio: 110}, events: []EventType{EventPreempted}, peer: 110},
		{name: "master ties, higher address", state: StateMaster, lease: time.Hour, adv: advert{src: hi, prio: 100}, events: []EventType{EventPreempted}, peer: 100},
		{name: "master ties, lower address", state: StateMaster, lease: time.Hour, adv: advert{src: netip.MustParseAddr("198.51.100.0"), prio: 100}, events: []EventType{EventLowerPrio}},
		{name: "master hears priority 0", state: StateMaster, lease: time.Hour, adv: advert{src: peer4, prio: 0}, events: []EventType{EventPrioZero}},
		{name: "expired master is a backup", state: StateMaster, lease: -time.Second, adv: advert{src: peer4, prio: 200}, events: []EventType{EventPeerChanged}, peer: 200},
	}
	for _, s := range steps {
		if err := d.SetState(k, s.state, s.lease); err != nil {
			t.Fatal(err)
		}
		before, _ := d.ReadPeer(k)
		if v, _ := run(t, d, s.adv.frame()); v != xdpDrop {
			t.Fatalf("%s: verdict %s", s.name, verdictName(v))
		}
		evs := drainEvents(t, d, 50*time.Millisecond)
		var got []EventType
		for _, e := range evs {
			got = append(got, e.Type)
			if e.Key != k || e.Addr != s.adv.fill().src || e.Priority != s.adv.prio {
				t.Errorf("%s: event %+v", s.name, e)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(s.events) {
			t.Errorf("%s: events %v, want %v", s.name, got, s.events)
		}
		p, err := d.ReadPeer(k)
		if err != nil {
			t.Fatal(err)
		}
		discard := s.name == "lower priority discarded (preempt)" || s.name == "master hears lower"
		if s.peer != 0 && !discard && (p.Priority != s.peer || p.Addr != s.adv.fill().src) {
			t.Errorf("%s: peer %+v, want priority %d from %s", s.name, p, s.peer, s.adv.fill().src)
		}
		if discard {
			if p != before {
				t.Errorf("%s: peer record changed: %+v -> %+v", s.name, before, p)
			}
		}
		if s.down != 0 && p.DownIn != s.down {
			t.Errorf("%s: master-down interval %v, want %v", s.name, p.DownIn, s.down)
		}
	}
	// Nopreempt: a lower priority is accepted.
	in.NoPreempt = true
	if err := d.SetInstance(in); err != nil {
		t.Fatal(err)
	}
	_ = d.SetState(k, StateBackup, 0)
	run(t, d, advert{src: hi, prio: 50}.frame())
	if p, _ := d.ReadPeer(k); p.Priority != 50 {
		t.Errorf("nopreempt: peer %+v, want priority 50 accepted", p)
	}
	drainEvents(t, d, 0)
}

// TestCheckFailedEvents: configuration mismatches are reported, at most once a second.
func TestCheckFailedEvents(t *testing.T) {
	d := newDP(t, Options{})
	in := inst4()
	in.Version, in.Interval = 2, 1
	if err := d.SetInstance(in); err != nil {
		t.Fatal(err)
	}
	_ = d.SetState(in.Key, StateBackup, 0)
	bad := advert{version: 2, interval: 3, prio: 77}.frame()
	run(t, d, bad)
	run(t, d, bad)
	run(t, d, advert{version: 2, interval: 1, ttl: 3}.frame()) // TTL: not a config mismatch
	evs := drainEvents(t, d, 50*time.Millisecond)
	if len(evs) != 1 || evs[0].Type != EventCheckFailed || evs[0].Reason != vrrp.ReasonInterval || evs[0].Priority != 77 || evs[0].Interval != 3 {
		t.Fatalf("events %+v, want one check_failed/interval", evs)
	}
	c, _ := d.Counters(in.Key)
	if c.Adverts[vrrp.ReasonInterval] != 2 || c.Events != 1 {
		t.Errorf("counters %+v", c)
	}
}

// TestMasterDownTimer: the kernel timer fires Master_Down_Interval after the last advert, and
// only for a backup; deleting the instance cancels it.
func TestMasterDownTimer(t *testing.T) {
	d := newDP(t, Options{})
	in := inst4()
	in.Interval = 10 // 100 ms: down = 300 ms + (256-100)/256 * 100 ms
	if err := d.SetInstance(in); err != nil {
		t.Fatal(err)
	}
	_ = d.SetState(in.Key, StateBackup, 0)
	t0, err := d.Timer()
	if err != nil {
		t.Fatal(err)
	}
	start := Now()
	run(t, d, advert{src: peer4, prio: 150, interval: 10}.frame())
	evs := drainEvents(t, d, 100*time.Millisecond)
	if len(evs) != 1 || evs[0].Type != EventPeerChanged {
		t.Fatalf("events %+v, want peer_changed", evs)
	}
	evs = drainEvents(t, d, 2*time.Second)
	if len(evs) != 1 || evs[0].Type != EventMasterDown || evs[0].Addr != peer4 || evs[0].Priority != 150 {
		t.Fatalf("events %+v, want master_down from %s", evs, peer4)
	}
	want := 300*time.Millisecond + 60937500
	if got := evs[0].Time - start; got < want {
		t.Errorf("master down after %v, before the interval %v", got, want)
	}
	c, _ := d.Counters(in.Key)
	t1, _ := d.Timer()
	// The callback scans up to the highest slot in use (the instance has the slot of its wire
	// index, 51).
	if scan := uint64(d.insts[in.Key].slot) + 1; c.MasterDown != 1 || t1.Runs-t0.Runs != 1 || t1.Scanned-t0.Scanned != scan || t1.RunTime <= t0.RunTime {
		t.Errorf("master_down counter %d, timer %+v -> %+v, want 1 expiry from 1 callback scanning %d slots", c.MasterDown, t0, t1, scan)
	}

	// Adverts keep coming past the first deadline: the timer is not re-armed by them but by
	// its own callback, for what is left, and expires Master_Down_Interval after the last one.
	var last time.Duration
	for i := 0; i < 6; i++ {
		last = Now() // before: the program sees the advert after this, not after run returns
		run(t, d, advert{src: peer4, prio: 150, interval: 10}.frame())
		time.Sleep(100 * time.Millisecond)
	}
	// (A test process stalled past the interval between two adverts sees an extra expiry.)
	evs = drainEvents(t, d, 2*time.Second)
	if len(evs) == 0 || evs[len(evs)-1].Type != EventMasterDown {
		t.Fatalf("events %+v, want master_down last", evs)
	}
	if got := evs[len(evs)-1].Time - last; got < want {
		t.Errorf("master down %v after the last advert, before the interval %v", got, want)
	}
	c, _ = d.Counters(in.Key)
	t2, _ := d.Timer()
	if c.MasterDown < 2 || t2.Runs-t1.Runs < 3 {
		t.Errorf("master_down counter %d, timer runs %d, want 2 and at least 3 (re-armed by its callback)", c.MasterDown, t2.Runs-t1.Runs)
	}

	// MASTER with a live lease: the expiry is counted but not reported.
	_ = d.SetState(in.Key, StateMaster, time.Hour)
	run(t, d, advert{src: peer4, prio: 150, interval: 10}.frame()) // preempted: timer armed
	if evs := drainEvents(t, d, 50*time.Millisecond); len(evs) != 1 || evs[0].Type != EventPreempted {
		t.Fatalf("events %+v, want preempted", evs)
	}
	if evs := drainEvents(t, d, 700*time.Millisecond); len(evs) != 0 {
		t.Errorf("events %+v while MASTER, want none", evs)
	}

	// Delete cancels a running timer.
	_ = d.SetState(in.Key, StateBackup, 0)
	run(t, d, advert{src: peer4, prio: 150, interval: 10}.frame())
	drainEvents(t, d, 20*time.Millisecond)
	if err := d.DeleteInstance(in.Key); err != nil {
		t.Fatal(err)
	}
	if evs := drainEvents(t, d, 700*time.Millisecond); len(evs) != 0 {
		t.Errorf("events %+v after delete, want none", evs)
	}
}

func arpReply(vlan uint16, mac net.HardwareAddr, vip, asker netip.Addr) []byte {
	p := []byte{0, 1, 8, 0, 6, 4, 0, 2}
	p = append(p, mac...)
	p = append(p, vip.AsSlice()...)
	p = append(p, macPeer...)
	p = append(p, asker.AsSlice()...)
	return ether(macPeer, mac, vlan, 0x0806, p)
}

// TestARP: answered with the configured MAC only for a MASTER with a live lease.
func TestARP(t *testing.T) {
	d := newDP(t, Options{})
	in := inst4()
	in.VIPs = []netip.Addr{vip4, vip4b}
	if err := d.SetInstance(in); err != nil {
		t.Fatal(err)
	}
	vl := inst4()
	vl.Key.VLAN, vl.Key.VRID, vl.VIPs, vl.ReplyMAC = 10, 52, []netip.Addr{netip.MustParseAddr("203.0.113.20")}, macOurs
	if err := d.SetInstance(vl); err != nil {
		t.Fatal(err)
	}
	_ = d.SetState(vl.Key, StateMaster, time.Hour)
	other := netip.MustParseAddr("203.0.113.99")
	cases := []struct {
		name  string
		state State
		lease time.Duration
		frame []byte
		want  uint32
		out   []byte
	}{
		{"master", StateMaster, time.Hour, arpRequest(0, peer4, vip4), xdpTX, arpReply(0, macVRRP, vip4, peer4)},
		{"master, second vip", StateMaster, time.Hour, arpRequest(0, peer4, vip4b), xdpTX, arpReply(0, macVRRP, vip4b, peer4)},
		{"master, probe from 0.0.0.0", StateMaster, time.Hour, arpRequest(0, netip.IPv4Unspecified(), vip4), xdpTX, arpReply(0, macVRRP, vip4, netip.IPv4Unspecified())},
		{"vlan master", StateMaster, time.Hour, arpRequest(10, peer4, netip.MustParseAddr("203.0.113.20")), xdpTX, arpReply(10, macOurs, netip.MustParseAddr("203.0.113.20"), peer4)},
		{"vip of another vlan", StateMaster, time.Hour, arpRequest(11, peer4, netip.MustParseAddr("203.0.113.20")), xdpPass, nil},
		{"not a vip", StateMaster, time.Hour, arpRequest(0, peer4, other), xdpPass, nil},
		{"gratuitous", StateMaster, time.Hour, arpRequest(0, vip4, vip4), xdpPass, nil},
		{"reply, not request", StateMaster, time.Hour, arpReply(0, macPeer, vip4, peer4), xdpPass, nil},
		{"truncated", StateMaster, time.Hour, arpRequest(0, peer4, vip4)[:38], xdpPass, nil},
		{"backup", StateBackup, 0, arpRequest(0, peer4, vip4), xdpPass, nil},
		{"fault", StateFault, 0, arpRequest(0, peer4, vip4), xdpPass, nil},
		{"lease expired", StateMaster, -time.Second, arpRequest(0, peer4, vip4), xdpDrop, nil},
	}
	var replies, drops uint64
	for _, c := range cases {
		if err := d.SetState(in.Key, c.state, c.lease); err != nil {
			t.Fatal(err)
		}
		v, out := run(t, d, c.frame)
		if v != c.want {
			t.Errorf("%s: verdict %s, want %s", c.name, verdictName(v), verdictName(c.want))
			continue
		}
		if c.want == xdpTX && c.name != "vlan master" {
			replies++
		}
		if c.want == xdpDrop {
			drops++
		}
		if c.out != nil && !bytes.Equal(out, c.out) {
			t.Errorf("%s: reply\n got %x\nwant %x", c.name, out, c.out)
		}
	}
	cnt, _ := d.Counters(in.Key)
	if cnt.ARPReplies != replies || cnt.LeaseDrops != drops {
		t.Errorf("counters arp_replies %d lease_drops %d, want %d %d", cnt.ARPReplies, cnt.LeaseDrops, replies, drops)
	}
}

// TestNS: neighbour solicitations answered with a solicited, override NA carrying the target
// link-layer address, checksum included.
func TestNS(t *testing.T) {
	d := newDP(t, Options{})
	in := inst6()
	if err := d.SetInstance(in); err != nil {
		t.Fatal(err)
	}
	asker := netip.MustParseAddr("2001:db8::2")
	na := func(vlan uint16, dst netip.Addr, dmac net.HardwareAddr, flags byte) []byte {
		body := []byte{136, 0, 0, 0, flags, 0, 0, 0}
		body = append(body, vip6.AsSlice()...)
		body = append(body, 2, 1)
		body = append(body, macOurs...)
		return ether(dmac, macOurs, vlan, 0x86dd, icmp6(vip6, dst, body))
	}
	allNodes := netip.MustParseAddr("ff02::1")
	cases := []struct {
		name  string
		state State
		lease time.Duration
		frame []byte
		want  uint32
		out   []byte
	}{
		{"master", StateMaster, time.Hour, neighSolicit(0, asker, vip6, true), xdpTX, na(0, asker, macPeer, 0x60)},
		{"master, no SLLA (frame grows)", StateMaster, time.Hour, neighSolicit(0, asker, vip6, false), xdpTX, na(0, asker, macPeer, 0x60)},
		{"master, link-local asker", StateMaster, time.Hour, neighSolicit(0, peer6, vip6, true), xdpTX, na(0, peer6, macPeer, 0x60)},
		{"dad probe", StateMaster, time.Hour, neighSolicit(0, netip.IPv6Unspecified(), vip6, false), xdpTX,
			na(0, allNodes, net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, 0x20)},
		{"trailing options (frame shrinks)", StateMaster, time.Hour, func() []byte {
			f := neighSolicit(0, asker, vip6, true)
			return append(f, make([]byte, 16)...) // junk after the IPv6 payload
		}(), xdpTX, na(0, asker, macPeer, 0x60)},
		{"not a vip", StateMaster, time.Hour, neighSolicit(0, asker, netip.MustParseAddr("2001:db8::99"), true), xdpPass, nil},
		{"hop limit 64", StateMaster, time.Hour, func() []byte { f := neighSolicit(0, asker, vip6, true); f[21] = 64; return f }(), xdpPass, nil},
		{"backup", StateBackup, 0, neighSolicit(0, asker, vip6, true), xdpPass, nil},
		{"lease expired", StateMaster, -time.Second, neighSolicit(0, asker, vip6, true), xdpDrop, nil},
	}
	var replies, drops uint64
	for _, c := range cases {
		if err := d.SetState(in.Key, c.state, c.lease); err != nil {
			t.Fatal(err)
		}
		v, out := run(t, d, c.frame)
		if v != c.want {
			t.Errorf("%s: verdict %s, want %s", c.name, verdictName(v), verdictName(c.want))
			continue
		}
		switch v {
		case xdpTX:
			replies++
		case xdpDrop:
			drops++
		}
		if c.out != nil && !bytes.Equal(out, c.out) {
			t.Errorf("%s: reply\n got %x\nwant %x", c.name, out, c.out)
		}
	}
	cnt, _ := d.Counters(in.Key)
	if cnt.NAReplies != replies || cnt.LeaseDrops != drops {
		t.Errorf("counters na_replies %d lease_drops %d, want %d %d", cnt.NAReplies, cnt.LeaseDrops, replies, drops)
	}
}

// TestFastPath: an advert byte for byte the last accepted one takes the fast path (only the
// deadline and the count move: the raw last_seen_ns stays), and anything that could change
// its verdict sends it through the whole ladder again: a new configuration, another state, a
// different TTL or byte.
func TestFastPath(t *testing.T) {
	d := newDP(t, Options{})
	in := inst4()
	in.VIPs = []netip.Addr{netip.MustParseAddr("203.0.113.10")} // advert{}'s address: no notes
	if err := d.SetInstance(in); err != nil {
		t.Fatal(err)
	}
	k := in.Key
	_ = d.SetState(k, StateBackup, 0)
	raw := func() xdpXaPeer {
		var p xdpXaPeer
		if err := d.maps.Peers.Lookup(d.insts[k].slot, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	adv := advert{src: peer4, prio: 150}
	accepted := func() uint64 { c, _ := d.Counters(k); return c.Adverts[vrrp.Accept] }
	if v, _ := run(t, d, adv.frame()); v != xdpDrop {
		t.Fatalf("verdict %s", verdictName(v))
	}
	p1 := raw()
	var gen uint32
	_ = d.maps.InstGen.Lookup(uint32(0), &gen)
	if p1.SnapGen != gen || gen == 0 || p1.SnapLen != 12 {
		t.Fatalf("no snapshot after a valid advert: %+v", p1)
	}
	time.Sleep(2 * time.Millisecond)
	run(t, d, adv.frame())
	p2 := raw()
	if p2.LastSeenNs != p1.LastSeenNs || p2.DueNs <= p1.DueNs || accepted() != 2 {
		t.Errorf("repeat: last_seen %d -> %d, due %d -> %d, accepted %d; want the fast path (due moved only)",
			p1.LastSeenNs, p2.LastSeenNs, p1.DueNs, p2.DueNs, accepted())
	}
	if pr, _ := d.ReadPeer(k); pr.LastSeen != time.Duration(p2.DueNs-p2.DownNs) {
		t.Errorf("ReadPeer last seen %v, want due - down %v", pr.LastSeen, time.Duration(p2.DueNs-p2.DownNs))
	}
	drainEvents(t, d, 0)

	// A different TTL: the ladder (and its drop).
	if v, _ := run(t, d, advert{src: peer4, prio: 150, ttl: 64}.frame()); v != xdpDrop {
		t.Fatalf("verdict %s", verdictName(v))
	}
	if c, _ := d.Counters(k); c.Adverts[vrrp.ReasonTTL] != 1 {
		t.Errorf("ttl 64 after a snapshot: counters %v, want one ttl drop", c.Adverts)
	}
	// One byte off (the checksum): the ladder.
	f := adv.frame()
	f[len(f)-5] ^= 1
	run(t, d, f)
	if c, _ := d.Counters(k); c.Adverts[vrrp.ReasonChecksum] != 1 {
		t.Errorf("a changed byte after a snapshot: counters %v, want one checksum drop", c.Adverts)
	}
	// A new configuration: the same advert is judged against it (v3 interval 100 -> 50: noted).
	in.Interval = 50
	if err := d.SetInstance(in); err != nil {
		t.Fatal(err)
	}
	run(t, d, adv.frame())
	if c, _ := d.Counters(k); c.Notes[vrrp.ReasonInterval] != 1 {
		t.Errorf("after a configuration change: notes %v, want an interval note", c.Notes)
	}
	if p := raw(); p.SnapGen != 0 {
		t.Errorf("an advert with a note left a snapshot: %+v", p)
	}
	in.Interval = 100
	if err := d.SetInstance(in); err != nil {
		t.Fatal(err)
	}
	run(t, d, adv.frame())
	// MASTER: the ladder and the election (a better master preempts), never the fast path.
	_ = d.SetState(k, StateMaster, time.Hour)
	drainEvents(t, d, 0)
	run(t, d, adv.frame())
	if evs := drainEvents(t, d, 50*time.Millisecond); len(evs) != 1 || evs[0].Type != EventPreempted {
		t.Errorf("MASTER hearing the snapshot's advert: events %+v, want preempted", evs)
	}
	if got := accepted(); got != 5 {
		t.Errorf("accepted %d, want 5", got)
	}
}
