package loader

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/xalived/xalived/internal/pcap"
	"github.com/xalived/xalived/pkg/vrrp"
)

// TestReasonNumbering pins bpf/reasons.h to pkg/vrrp's DropReason: same numbers, same names.
func TestReasonNumbering(t *testing.T) {
	spec, err := loadXdp()
	if err != nil {
		t.Fatal(err)
	}
	var e *btf.Enum
	if err := spec.Types.TypeByName("xa_reason", &e); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range e.Values {
		name := strings.ToLower(strings.TrimPrefix(v.Name, "XA_"))
		if name == "reason_max" {
			if int(v.Value) != len(vrrp.Reasons())+1 || int(v.Value) != NumReasons {
				t.Errorf("XA_REASON_MAX %d, vrrp has %d reasons, counters hold %d", v.Value, len(vrrp.Reasons())+1, NumReasons)
			}
			continue
		}
		n++
		if got := vrrp.DropReason(v.Value).String(); got != name {
			t.Errorf("%s = %d is %q in pkg/vrrp", v.Name, v.Value, got)
		}
	}
	if n != len(vrrp.Reasons())+1 {
		t.Errorf("%d reasons in C, %d in pkg/vrrp", n, len(vrrp.Reasons())+1)
	}
}

// diffInstance is an instance of the differential harness with the view pkg/vrrp checks against.
type diffInstance struct {
	in    Instance
	state State
}

func (di diffInstance) view() *vrrp.InstanceView {
	in := di.in
	v := &vrrp.InstanceView{
		VRID: in.Key.VRID, Version: in.Version, IPv6: in.Key.Family == IPv6, Unicast: in.Unicast,
		Active:   di.state == StateBackup || di.state == StateMaster,
		AuthType: in.AuthType, Interval: in.Interval, VIPs: in.VIPs, EffectivePriority: in.Priority,
		OwnerIgnoreAdverts: in.OwnerIgnoreAdverts, CheckUnicastSrc: in.CheckUnicastSrc,
	}
	copy(v.AuthData[:], in.AuthPass)
	for _, p := range in.UnicastPeers {
		v.Peers = append(v.Peers, vrrp.Peer{Addr: p.Addr, MinTTL: p.MinTTL, MaxTTL: p.MaxTTL})
	}
	return v
}

// diffInstances covers every configuration knob the ladder reads.
func diffInstances() []diffInstance {
	a100 := netip.MustParseAddr("192.0.2.100")
	a101 := netip.MustParseAddr("192.0.2.101")
	mk := func(f Family, vrid uint8, mod func(*Instance)) Instance {
		in := inst4()
		if f == IPv6 {
			in = inst6()
		}
		in.Key.VRID = vrid
		in.VIPs = []netip.Addr{netip.AddrFrom4([4]byte{203, 0, 113, vrid})}
		if f == IPv6 {
			in.VIPs = []netip.Addr{netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: vrid})}
		}
		mod(&in)
		return in
	}
	return []diffInstance{
		// The captures' instances (VRID 51), plus variants on other VRIDs.
		{mk(IPv4, 51, func(in *Instance) { in.Interval = 100; in.VIPs = []netip.Addr{a100} }), StateBackup},
		{mk(IPv6, 51, func(in *Instance) { in.VIPs = []netip.Addr{netip.MustParseAddr("2001:db8::100")} }), StateBackup},
		{mk(IPv4, 52, func(in *Instance) {
			in.Version, in.Interval, in.AuthType, in.AuthPass = 2, 1, 1, "secret12"
			in.VIPs = []netip.Addr{vip4b, a101}
		}), StateBackup},
		{mk(IPv4, 53, func(in *Instance) {
			in.Version, in.Interval, in.Unicast, in.CheckUnicastSrc = 2, 1, true, true
			in.UnicastPeers = []UnicastPeer{{Addr: netip.MustParseAddr("10.99.0.1"), MinTTL: 2, MaxTTL: 200}, {Addr: peer4}}
		}), StateMaster},
		{mk(IPv4, 54, func(in *Instance) {}), StateInit},
		{mk(IPv4, 55, func(in *Instance) { in.Priority, in.OwnerIgnoreAdverts = 255, true }), StateBackup},
		{mk(IPv4, 51, func(in *Instance) { in.Key.VLAN = 100; in.Interval = 10 }), StateBackup},
		{mk(IPv6, 56, func(in *Instance) { in.Unicast = true }), StateBackup},
	}
}

type diffHarness struct {
	d     *Dataplane
	insts map[InstanceKey]diffInstance
}

func newDiffHarness(t testing.TB) *diffHarness {
	h := &diffHarness{d: newDP(t, Options{RingBufferBytes: 4096}), insts: map[InstanceKey]diffInstance{}}
	for _, di := range diffInstances() {
		if err := h.d.SetInstance(di.in); err != nil {
			t.Fatal(err)
		}
		if err := h.d.SetState(di.in.Key, di.state, 1<<62); err != nil {
			t.Fatal(err)
		}
		h.insts[di.in.Key] = di
	}
	return h
}

// goVerdict is what the socket path decides for a frame: ok=false when it is not a VRRP
// packet for the ladder at all. vlan is the 802.1Q tag, tags the number of tags.
func (h *diffHarness) goVerdict(frame []byte) (key InstanceKey, reason vrrp.DropReason, notes vrrp.Notes, instance bool, ok bool) {
	vlan, tags := frameVLAN(frame)
	if tags > 1 || ipv6ExtChain(frame) > MaxIPv6Ext {
		return key, 0, 0, false, false // XDP's documented limits: one tag, MaxIPv6Ext headers
	}
	meta, payload, err := vrrp.ParseEthernet(frame)
	if err != nil {
		return key, 0, 0, false, false
	}
	if len(payload) < vrrp.HeaderLen {
		return key, vrrp.ReasonTruncated, 0, false, true
	}
	key = InstanceKey{Ifindex: loIfindex, VLAN: vlan, Family: IPv4, VRID: payload[1]}
	if meta.IPv6() {
		key.Family = IPv6
	}
	di, found := h.insts[key]
	if !found {
		return key, vrrp.ReasonUnknownVRID, 0, false, true
	}
	adv, r := vrrp.Check(meta, payload, di.view())
	return key, r, adv.Notes, true, true
}

func frameVLAN(f []byte) (vlan uint16, tags int) {
	for off := 12; off+4 <= len(f) && binary.BigEndian.Uint16(f[off:]) == 0x8100; off += 4 {
		if tags == 0 {
			vlan = binary.BigEndian.Uint16(f[off+2:]) & 0x0fff
		}
		tags++
	}
	return vlan, tags
}

// ipv6ExtChain counts the hop-by-hop / destination options headers before the payload.
func ipv6ExtChain(f []byte) int {
	off := 12
	for off+4 <= len(f) && binary.BigEndian.Uint16(f[off:]) == 0x8100 {
		off += 4
	}
	if off+2+40 > len(f) || binary.BigEndian.Uint16(f[off:]) != 0x86dd {
		return 0
	}
	nh, p, n := f[off+2+6], off+2+40, 0
	for (nh == 0 || nh == 60) && p+8 <= len(f) {
		n++
		nh, p = f[p], p+(int(f[p+1])+1)*8
	}
	return n
}

// check runs one frame through both and reports a difference.
func (h *diffHarness) check(t testing.TB, frame []byte) error {
	key, want, wantNotes, instance, isVRRP := h.goVerdict(frame)
	var before, after Counters
	var gBefore, gAfter Counters
	if instance {
		before, _ = h.d.Counters(key)
	}
	gBefore, _ = h.d.GlobalCounters()
	v, _ := run(t, h.d, frame)
	if instance {
		after, _ = h.d.Counters(key)
	}
	gAfter, _ = h.d.GlobalCounters()
	moved := func(a, b Counters) (idx []int) {
		for i := range a.Adverts {
			if a.Adverts[i] != b.Adverts[i] {
				idx = append(idx, i)
			}
		}
		return idx
	}
	gMoved, iMoved := moved(gAfter, gBefore), moved(after, before)
	switch {
	case !isVRRP:
		if v != xdpPass && v != xdpTX && v != xdpDrop || len(gMoved)+len(iMoved) != 0 {
			// ARP/NS frames may be answered or dropped; VRRP counters must not move.
			return fmt.Errorf("not VRRP for pkg/vrrp, but XDP counted global %v instance %v", gMoved, iMoved)
		}
	case !instance:
		if v != xdpPass || len(iMoved) != 0 || fmt.Sprint(gMoved) != fmt.Sprint([]int{int(want)}) {
			return fmt.Errorf("pkg/vrrp %s (no instance); XDP verdict %s, global %v", want, verdictName(v), gMoved)
		}
	default:
		if v != xdpDrop || len(gMoved) != 0 || fmt.Sprint(iMoved) != fmt.Sprint([]int{int(want)}) {
			return fmt.Errorf("pkg/vrrp %s on %s; XDP verdict %s, instance %v, global %v", want, key, verdictName(v), iMoved, gMoved)
		}
		var gotNotes vrrp.Notes
		for i := range after.Notes {
			if after.Notes[i] != before.Notes[i] {
				gotNotes |= 1 << i
			}
		}
		if gotNotes != wantNotes && !duplicateAddrs(frame) {
			return fmt.Errorf("pkg/vrrp notes %b, XDP %b", wantNotes, gotNotes)
		}
	}
	return nil
}

// duplicateAddrs: pkg/vrrp compares address lists as sets, XDP as multisets (a hash); they
// differ only for adverts listing one address twice.
func duplicateAddrs(frame []byte) bool {
	meta, p, err := vrrp.ParseEthernet(frame)
	if err != nil || len(p) < 8 {
		return false
	}
	alen := 4
	if meta.IPv6() {
		alen = 16
	}
	seen := map[string]bool{}
	for i := 0; i < int(p[3]) && 8+(i+1)*alen <= len(p); i++ {
		a := string(p[8+i*alen : 8+(i+1)*alen])
		if seen[a] {
			return true
		}
		seen[a] = true
	}
	return false
}

// diffSeeds are the captures plus hand-made adverts for each instance of the harness.
func diffSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, f := range []string{"keepalived-2.2.7-v2-ipv4-authpass.pcap", "keepalived-2.2.7-v2-ipv4-unicast.pcap",
		"keepalived-2.2.7-v3-ipv4-100ms.pcap", "keepalived-2.2.7-v3-ipv4-vmac.pcap", "keepalived-2.2.7-v3-ipv6.pcap"} {
		frames, err := pcap.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, fr := range frames {
			if isVRRPFrame(fr) {
				seeds = append(seeds, fr)
			}
		}
	}
	a100 := netip.MustParseAddr("192.0.2.100")
	for _, a := range []advert{
		{vrid: 51, addrs: []netip.Addr{a100}},
		{vrid: 51, addrs: []netip.Addr{a100}, csumV2Form: true},
		{vrid: 51, vlan: 100, interval: 10},
		{vrid: 51, src: peer6, addrs: []netip.Addr{netip.MustParseAddr("2001:db8::100")}, ipv6HopByHop: true},
		{vrid: 52, version: 2, authType: 1, pass: "secret12", addrs: []netip.Addr{netip.MustParseAddr("192.0.2.101"), vip4b}},
		{vrid: 53, version: 2, dst: ours4, ttl: 64},
		{vrid: 54},
		{vrid: 55},
		{vrid: 56, src: peer6, dst: ours6},
	} {
		seeds = append(seeds, a.frame())
	}
	// Either side of the checksum's inline/bpf_loop boundary (bpf/parse.h CSUM_INLINE_WORDS,
	// 8 words): v3 IPv4 with 6 and 7 addresses, v2 IPv4 with 4 and 5, v3 IPv6 with 2.
	many := func(n int, v6 bool) []netip.Addr {
		var out []netip.Addr
		for i := range n {
			if v6 {
				out = append(out, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)}))
			} else {
				out = append(out, netip.AddrFrom4([4]byte{192, 0, 2, byte(100 + i)}))
			}
		}
		return out
	}
	for _, a := range []advert{
		{vrid: 51, addrs: many(6, false)},
		{vrid: 51, addrs: many(7, false)},
		{vrid: 52, version: 2, authType: 1, pass: "secret12", addrs: many(4, false)},
		{vrid: 52, version: 2, authType: 1, pass: "secret12", addrs: many(5, false)},
		{vrid: 51, src: peer6, addrs: many(2, true)},
	} {
		seeds = append(seeds, a.frame())
	}
	return seeds
}

// TestDifferential: the captures, hand-made adverts and every single-byte mutation of them
// (three values per byte) get the same reason and notes from pkg/vrrp and from XDP.
func TestDifferential(t *testing.T) {
	h := newDiffHarness(t)
	fails, runs := 0, 0
	for _, seed := range diffSeeds(t) {
		for pos := -1; pos < len(seed); pos++ {
			vals := []int{0}
			if pos >= 0 {
				vals = []int{0, 0xff, int(seed[pos]) + 1}
			}
			for _, val := range vals {
				f := append([]byte(nil), seed...)
				if pos >= 0 {
					f[pos] = byte(val)
				}
				runs++
				if err := h.check(t, f); err != nil {
					fails++
					if fails <= 10 {
						t.Errorf("frame %x: %v", f, err)
					}
				}
			}
		}
	}
	if fails > 0 {
		t.Errorf("%d of %d frames differ", fails, runs)
	}
	t.Logf("%d frames agree", runs)
}

// FuzzDifferential: any frame gets the same verdict and reason from pkg/vrrp and from XDP.
// Run: go test ./loader -run '^$' -fuzz FuzzDifferential (root).
func FuzzDifferential(f *testing.F) {
	for _, s := range diffSeeds(f) {
		f.Add(s)
	}
	h := newDiffHarness(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) < 14 || len(frame) > 3000 {
			return // BPF_PROG_TEST_RUN wants an Ethernet header; larger frames go to fragments
		}
		if err := h.check(t, frame); err != nil {
			t.Fatalf("frame %x: %v", frame, err)
		}
	})
}
