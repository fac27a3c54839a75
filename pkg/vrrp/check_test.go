package vrrp

import (
	"net/netip"
	"testing"
)

var (
	ckSrc  = netip.MustParseAddr("198.51.100.2")
	ckVIP  = netip.MustParseAddr("203.0.113.10")
	ckVIP2 = netip.MustParseAddr("203.0.113.11")
)

// ckPacket builds a valid v2 PASS or v3 advert for VRID 9 and lets mut spoil it. It
// returns meta and payload as the IP layer would hand them over.
func ckPacket(t *testing.T, version uint8, mut func(a *Advert, m *Meta)) (Meta, []byte) {
	t.Helper()
	a := Advert{Version: version, Type: 1, VRID: 9, Priority: 120, Interval: 1, Addrs: []netip.Addr{ckVIP}}
	if version == 2 {
		a.AuthType = AuthPass
		a.AuthData = PassAuthData("pw")
	} else {
		a.Interval = 100
	}
	m := Meta{Src: ckSrc, Dst: GroupIPv4, TTL: 255}
	if mut != nil {
		mut(&a, &m)
	}
	b, err := a.Marshal(m.Src, m.Dst, ChecksumPseudo)
	if err != nil {
		t.Fatal(err)
	}
	m.Length = len(b)
	return m, b
}

func ckView(version uint8) *InstanceView {
	v := &InstanceView{VRID: 9, Version: version, Active: true, Interval: 1, AuthType: AuthPass,
		AuthData: PassAuthData("pw"), VIPs: []netip.Addr{ckVIP}, EffectivePriority: 100}
	if version == 3 {
		v.Interval, v.AuthType, v.AuthData = 100, AuthNone, [8]byte{}
	}
	return v
}

func TestCheckLadder(t *testing.T) {
	type row struct {
		name    string
		version uint8
		pkt     func(a *Advert, m *Meta)
		raw     func(b []byte, m *Meta) []byte // applied after encoding
		view    func(v *InstanceView)
		want    DropReason
		notes   []DropReason
	}
	rows := []row{
		{name: "v2 valid", version: 2, want: Accept},
		{name: "v3 valid", version: 3, want: Accept},
		{name: "truncated header", version: 3, raw: func(b []byte, m *Meta) []byte { m.Length = 0; return b[:7] }, want: ReasonTruncated},
		{name: "truncated body", version: 3, raw: func(b []byte, m *Meta) []byte { return b[:10] }, want: ReasonTruncated},
		{name: "unknown vrid", version: 3, view: func(v *InstanceView) { v.VRID = 10 }, want: ReasonUnknownVRID},
		{name: "fault state", version: 3, view: func(v *InstanceView) { v.Active = false }, want: ReasonState},
		{name: "ip length", version: 3, raw: func(b []byte, m *Meta) []byte { m.Length += 4; return append(b, 0, 0, 0, 0) }, want: ReasonLength},
		{name: "count vs length", version: 3, pkt: func(a *Advert, m *Meta) { a.Addrs = append(a.Addrs, ckVIP2) },
			raw: func(b []byte, m *Meta) []byte { b[3] = 1; return b }, want: ReasonLength},
		{name: "padding tolerated", version: 3, raw: func(b []byte, m *Meta) []byte { return append(b, make([]byte, 18)...) }, want: Accept},
		{name: "ttl", version: 3, pkt: func(a *Advert, m *Meta) { m.TTL = 254 }, want: ReasonTTL},
		{name: "ttl ignored for unicast", version: 3, pkt: func(a *Advert, m *Meta) { m.TTL = 64; m.Dst = netip.MustParseAddr("198.51.100.1") },
			view: func(v *InstanceView) { v.Unicast = true }, want: Accept},
		{name: "length: a v3 packet to a v2 instance fails at length", version: 3, view: func(v *InstanceView) { *v = *ckView(2) }, want: ReasonLength},
		{name: "length: a v2 packet to a v3 instance fails at length", version: 2, view: func(v *InstanceView) { *v = *ckView(3) }, want: ReasonLength},
		{name: "version: v2-sized v3 packet to a v2 instance", version: 3, view: func(v *InstanceView) { *v = *ckView(2); v.AuthType = 0; v.AuthData = [8]byte{} },
			raw: func(b []byte, m *Meta) []byte { b = append(b, make([]byte, 8)...); m.Length += 8; return b }, want: ReasonVersion},
		{name: "version: unknown", version: 3, raw: func(b []byte, m *Meta) []byte { b[0] = 0x41; return b }, want: ReasonVersion},
		{name: "v2 length includes the auth data", version: 2, raw: func(b []byte, m *Meta) []byte { m.Length -= 8; return b[:len(b)-8] }, want: ReasonLength},
		{name: "length before ttl", version: 3, pkt: func(a *Advert, m *Meta) { m.TTL = 1 }, raw: func(b []byte, m *Meta) []byte { m.Length++; return append(b, 0) }, want: ReasonLength},
		{name: "ttl before version", version: 3, pkt: func(a *Advert, m *Meta) { m.TTL = 1 }, view: func(v *InstanceView) { *v = *ckView(2); v.AuthType = 0; v.AuthData = [8]byte{} },
			raw: func(b []byte, m *Meta) []byte { b = append(b, make([]byte, 8)...); m.Length += 8; return b }, want: ReasonTTL},
		{name: "auth type", version: 2, pkt: func(a *Advert, m *Meta) { a.AuthType = AuthNone }, want: ReasonAuth},
		{name: "auth unknown type", version: 2, pkt: func(a *Advert, m *Meta) { a.AuthType = 3 }, view: func(v *InstanceView) { v.AuthType = 3 }, want: ReasonAuth},
		{name: "auth AH unsupported", version: 2, pkt: func(a *Advert, m *Meta) { a.AuthType = AuthAH }, view: func(v *InstanceView) { v.AuthType = AuthAH }, want: ReasonAuth},
		{name: "auth password", version: 2, pkt: func(a *Advert, m *Meta) { a.AuthData = PassAuthData("wrong") }, want: ReasonAuth},
		{name: "auth before interval", version: 2, pkt: func(a *Advert, m *Meta) { a.AuthData = PassAuthData("wrong"); a.Interval = 2 }, want: ReasonAuth},
		{name: "v2 interval mismatch drops", version: 2, pkt: func(a *Advert, m *Meta) { a.Interval = 2 }, want: ReasonInterval},
		{name: "v3 interval mismatch counts", version: 3, pkt: func(a *Advert, m *Meta) { a.Interval = 50 }, want: Accept, notes: []DropReason{ReasonInterval}},
		{name: "v3 interval zero drops", version: 3, pkt: func(a *Advert, m *Meta) { a.Interval = 0 }, want: ReasonInterval},
		{name: "type", version: 3, pkt: func(a *Advert, m *Meta) { a.Type = 2 }, want: ReasonType},
		{name: "interval before type", version: 2, pkt: func(a *Advert, m *Meta) { a.Type = 2; a.Interval = 3 }, want: ReasonInterval},
		{name: "checksum", version: 3, raw: func(b []byte, m *Meta) []byte { b[7]++; return b }, want: ReasonChecksum},
		{name: "checksum v2", version: 2, raw: func(b []byte, m *Meta) []byte { b[7]++; return b }, want: ReasonChecksum},
		{name: "type before checksum", version: 3, pkt: func(a *Advert, m *Meta) { a.Type = 2 }, raw: func(b []byte, m *Meta) []byte { b[7]++; return b }, want: ReasonType},
		{name: "dst: unicast to multicast instance", version: 3, pkt: func(a *Advert, m *Meta) { m.Dst = netip.MustParseAddr("198.51.100.1") }, want: ReasonDst},
		{name: "dst: multicast to unicast instance", version: 3, view: func(v *InstanceView) { v.Unicast = true }, want: ReasonDst},
		{name: "checksum before ipv4 dst", version: 3, pkt: func(a *Advert, m *Meta) { m.Dst = netip.MustParseAddr("198.51.100.1") },
			raw: func(b []byte, m *Meta) []byte { b[7]++; return b }, want: ReasonChecksum},
		{name: "owner ignores adverts", version: 3, view: func(v *InstanceView) { v.EffectivePriority = 255; v.OwnerIgnoreAdverts = true }, want: ReasonOwner},
		{name: "owner accepts by default", version: 3, view: func(v *InstanceView) { v.EffectivePriority = 255 }, want: Accept},
		{name: "addr count counted", version: 3, pkt: func(a *Advert, m *Meta) { a.Addrs = append(a.Addrs, ckVIP2) }, want: Accept, notes: []DropReason{ReasonAddrCount}},
		{name: "addr list counted", version: 2, pkt: func(a *Advert, m *Meta) { a.Addrs = []netip.Addr{ckVIP2} }, want: Accept, notes: []DropReason{ReasonAddrList}},
		{name: "addr list order ignored", version: 3, pkt: func(a *Advert, m *Meta) { a.Addrs = []netip.Addr{ckVIP2, ckVIP} },
			view: func(v *InstanceView) { v.VIPs = []netip.Addr{ckVIP, ckVIP2} }, want: Accept},
		{name: "unicast src unknown", version: 3, pkt: func(a *Advert, m *Meta) { m.Dst = netip.MustParseAddr("198.51.100.1") },
			view: func(v *InstanceView) {
				v.Unicast, v.CheckUnicastSrc = true, true
				v.Peers = []Peer{{Addr: netip.MustParseAddr("198.51.100.3")}}
			}, want: ReasonUnicastSrc},
		{name: "unicast src known", version: 3, pkt: func(a *Advert, m *Meta) { m.Dst = netip.MustParseAddr("198.51.100.1"); m.TTL = 64 },
			view: func(v *InstanceView) {
				v.Unicast, v.CheckUnicastSrc = true, true
				v.Peers = []Peer{{Addr: ckSrc}}
			}, want: Accept},
		{name: "unicast peer ttl bounds", version: 3, pkt: func(a *Advert, m *Meta) { m.Dst = netip.MustParseAddr("198.51.100.1"); m.TTL = 60 },
			view: func(v *InstanceView) {
				v.Unicast, v.CheckUnicastSrc = true, true
				v.Peers = []Peer{{Addr: ckSrc, MinTTL: 62, MaxTTL: 64}}
			}, want: ReasonTTL},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			m, b := ckPacket(t, r.version, r.pkt)
			if r.raw != nil {
				b = r.raw(b, &m)
			}
			v := ckView(r.version)
			if r.view != nil {
				r.view(v)
			}
			a, got := Check(m, b, v)
			if got != r.want {
				t.Fatalf("Check = %v, want %v", got, r.want)
			}
			var want Notes
			for _, n := range r.notes {
				want.add(n)
			}
			if a.Notes != want {
				t.Fatalf("notes %b, want %b", a.Notes, want)
			}
			if got == Accept && (a.VRID != 9 || a.Priority != 120) {
				t.Fatalf("decoded %+v", a)
			}
		})
	}
}

func TestCheckIPv6(t *testing.T) {
	src := netip.MustParseAddr("fe80::2")
	a := Advert{Version: 3, Type: 1, VRID: 9, Priority: 120, Interval: 100, Addrs: []netip.Addr{netip.MustParseAddr("2001:db8::10")}}
	b, _ := a.Marshal(src, GroupIPv6, ChecksumMessage) // form is ignored for IPv6
	v := &InstanceView{VRID: 9, Version: 3, IPv6: true, Active: true, Interval: 100, VIPs: a.Addrs}
	m := Meta{Src: src, Dst: GroupIPv6, TTL: 255, Length: len(b)}
	if _, r := Check(m, b, v); r != Accept {
		t.Fatalf("valid: %v", r)
	}
	// On IPv6 the dst rung comes before length (keepalived's order).
	m2 := m
	m2.Dst = netip.MustParseAddr("fe80::1")
	m2.Length++
	if _, r := Check(m2, b, v); r != ReasonDst {
		t.Fatalf("dst: %v", r)
	}
	// The message-only form is not accepted over IPv6.
	SetChecksum(b, 2, src, GroupIPv6, ChecksumMessage)
	if _, r := Check(m, b, v); r != ReasonChecksum {
		t.Fatalf("message-form checksum over IPv6: %v", r)
	}
}

func TestReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Reasons() {
		s := r.String()
		if s == "" || seen[s] || s[0] == 'D' {
			t.Fatalf("reason %d has a bad or duplicate name %q", r, s)
		}
		seen[s] = true
	}
	// The numbers are an ABI with the XDP program: pin a few.
	if ReasonTruncated != 1 || ReasonChecksum != 11 || ReasonUnicastSrc != 15 {
		t.Fatal("reason numbers changed; update RECEIVE.md and bpf/")
	}
}
