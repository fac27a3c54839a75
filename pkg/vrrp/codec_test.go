package vrrp

import (
	"bytes"
	"errors"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/xalived/xalived/internal/pcap"
)

// capture describes one keepalived 2.2.7 capture in testdata and the configuration that
// produced it.
type capture struct {
	file     string
	version  uint8
	ipv6     bool
	unicast  bool
	vrid     uint8
	interval uint16
	auth     uint8
	pass     string
	vips     []string
}

var captures = []capture{
	{file: "keepalived-2.2.7-v2-ipv4-authpass.pcap", version: 2, vrid: 51, interval: 1, auth: AuthPass, pass: "secret12", vips: []string{"192.0.2.100", "192.0.2.101"}},
	{file: "keepalived-2.2.7-v2-ipv4-unicast.pcap", version: 2, unicast: true, interval: 1, vips: []string{"192.0.2.100"}},
	{file: "keepalived-2.2.7-v3-ipv4-100ms.pcap", version: 3, interval: 10, vips: []string{"192.0.2.100"}},
	{file: "keepalived-2.2.7-v3-ipv4-vmac.pcap", version: 3, interval: 100, vips: []string{"192.0.2.100"}},
	{file: "keepalived-2.2.7-v3-ipv6.pcap", version: 3, ipv6: true, interval: 100, vips: []string{"2001:db8::100"}},
}

type capturedAdvert struct {
	meta    Meta
	payload []byte
}

func loadCapture(t *testing.T, file string) []capturedAdvert {
	t.Helper()
	frames, err := pcap.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var out []capturedAdvert
	for _, f := range frames {
		m, p, err := ParseEthernet(f)
		if errors.Is(err, ErrNotVRRP) {
			continue // ARP, NA, MLD
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out = append(out, capturedAdvert{m, p})
	}
	if len(out) == 0 {
		t.Fatalf("%s: no VRRP packets", file)
	}
	return out
}

func (c capture) view(vrid uint8) *InstanceView {
	v := &InstanceView{
		VRID: vrid, Version: c.version, IPv6: c.ipv6, Unicast: c.unicast, Active: true,
		AuthType: c.auth, AuthData: PassAuthData(c.pass), Interval: c.interval,
		EffectivePriority: 100,
	}
	for _, s := range c.vips {
		v.VIPs = append(v.VIPs, netip.MustParseAddr(s))
	}
	return v
}

func TestCapturesRoundTrip(t *testing.T) {
	for _, c := range captures {
		t.Run(c.file, func(t *testing.T) {
			pkts := loadCapture(t, c.file)
			sawZero := false
			for i, p := range pkts {
				msg := p.payload[:p.meta.Length]
				a, err := Unmarshal(msg, p.meta.IPv6())
				if err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				if a.Version != c.version || a.Interval != c.interval || len(a.Addrs) != len(c.vips) {
					t.Fatalf("packet %d: decoded %+v", i, a)
				}
				if c.vrid != 0 && a.VRID != c.vrid {
					t.Fatalf("packet %d: vrid %d, want %d", i, a.VRID, c.vrid)
				}
				if c.pass != "" && a.AuthData != PassAuthData(c.pass) {
					t.Fatalf("packet %d: auth data %q", i, a.AuthData[:])
				}
				if a.Priority == 0 {
					sawZero = true
				}
				if !VerifyChecksum(msg, a.Version, p.meta.Src, p.meta.Dst, ChecksumPseudo) {
					t.Fatalf("packet %d: checksum (keepalived's default form) does not verify", i)
				}
				wire := a.Checksum
				a.Checksum = 0
				got, err := a.Marshal(p.meta.Src, p.meta.Dst, ChecksumPseudo)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, msg) || a.Checksum != wire {
					t.Fatalf("packet %d: re-encoded\n%x\nwant\n%x", i, got, msg)
				}
				// The receive ladder accepts it with the matching configuration.
				view := c.view(a.VRID)
				adv, r := Check(p.meta, p.payload, view)
				if r != Accept {
					t.Fatalf("packet %d: Check = %v", i, r)
				}
				if adv.Notes != 0 {
					t.Fatalf("packet %d: notes %b", i, adv.Notes)
				}
			}
			if !sawZero {
				t.Errorf("capture has no priority-0 advert (SIGTERM of the master)")
			}
		})
	}
}

func TestChecksumForms(t *testing.T) {
	src := netip.MustParseAddr("198.51.100.1")
	dst := GroupIPv4
	a := Advert{Version: 3, Type: 1, VRID: 7, Priority: 100, Interval: 100,
		Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.10")}}
	pseudo, err := a.Marshal(src, dst, ChecksumPseudo)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := a.Marshal(src, dst, ChecksumMessage)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(pseudo, msg) {
		t.Fatal("both forms give the same checksum")
	}
	if !VerifyChecksum(pseudo, 3, src, dst, ChecksumPseudo) || VerifyChecksum(pseudo, 3, src, dst, ChecksumMessage) {
		t.Fatal("pseudo form verifies wrongly")
	}
	if !VerifyChecksum(msg, 3, src, dst, ChecksumMessage) || VerifyChecksum(msg, 3, src, dst, ChecksumPseudo) {
		t.Fatal("message form verifies wrongly")
	}
	// The RFC 9568 form is the VRRPv2 algorithm over the v3 message.
	if ComputeChecksum(msg, 2, src, dst, ChecksumPseudo) != a.Checksum {
		t.Fatal("message form differs from the v2 algorithm")
	}
	view := &InstanceView{VRID: 7, Version: 3, Active: true, Interval: 100, VIPs: a.Addrs, EffectivePriority: 100}
	meta := Meta{Src: src, Dst: dst, TTL: 255, Length: len(msg)}
	for _, b := range [][]byte{pseudo, msg} {
		adv, r := Check(meta, b, view)
		if r != Accept {
			t.Fatalf("Check = %v", r)
		}
		want := ChecksumPseudo
		if bytes.Equal(b, msg) {
			want = ChecksumMessage
		}
		if adv.Form != want {
			t.Fatalf("form %v, want %v", adv.Form, want)
		}
	}
	// SetChecksum re-targets a pseudo-header checksum to a unicast peer.
	peer := netip.MustParseAddr("198.51.100.2")
	SetChecksum(pseudo, 3, src, peer, ChecksumPseudo)
	if !VerifyChecksum(pseudo, 3, src, peer, ChecksumPseudo) {
		t.Fatal("SetChecksum")
	}
}

func TestIPv4HeaderRoundTrip(t *testing.T) {
	src, dst := netip.MustParseAddr("198.51.100.1"), GroupIPv4
	a := Advert{Version: 2, Type: 1, VRID: 1, Priority: 100, Interval: 1, Addrs: []netip.Addr{netip.MustParseAddr("203.0.113.1")}}
	msg, _ := a.Marshal(src, dst, ChecksumPseudo)
	pkt := AppendIPv4Header(nil, src, dst, 255, len(msg))
	if fold(sum16(0, pkt)) != 0 {
		t.Fatal("IPv4 header checksum invalid")
	}
	pkt = append(pkt, msg...)
	m, p, err := ParseIPv4(pkt)
	if err != nil || m.Src != src || m.Dst != dst || m.TTL != 255 || m.Length != len(msg) || !bytes.Equal(p, msg) || pkt[1] != TOS {
		t.Fatalf("ParseIPv4 = %+v %x %v", m, p, err)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		b    []byte
		ipv6 bool
		want error
	}{
		"empty":      {nil, false, ErrTruncated},
		"short":      {[]byte{0x21, 1, 100, 1, 0, 1, 0}, false, ErrTruncated},
		"count":      {[]byte{0x21, 1, 100, 2, 0, 1, 0, 0, 1, 2, 3, 4}, false, ErrTruncated},
		"version":    {[]byte{0x41, 1, 100, 0, 0, 1, 0, 0}, false, ErrVersion},
		"v2 on ipv6": {[]byte{0x21, 1, 100, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, true, ErrFamily},
		"trailing":   {[]byte{0x31, 1, 100, 0, 0, 100, 0, 0, 9}, false, ErrTruncated},
	} {
		if _, err := Unmarshal(tc.b, tc.ipv6); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", name, err, tc.want)
		}
	}
	bad := Advert{Version: 3, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("2001:db8::1")}}
	if _, err := bad.Marshal(netip.Addr{}, netip.Addr{}, ChecksumPseudo); !errors.Is(err, ErrFamily) {
		t.Errorf("mixed families: %v", err)
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, c := range captures {
		frames, err := pcap.ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			f.Fatal(err)
		}
		for _, fr := range frames {
			if m, p, err := ParseEthernet(fr); err == nil {
				f.Add(p[:m.Length], m.IPv6())
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, ipv6 bool) {
		a, err := Unmarshal(b, ipv6)
		if err != nil {
			return
		}
		out, err := a.MarshalRaw()
		if err != nil {
			t.Fatalf("decoded packet does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip\n%x\n%x", out, b)
		}
	})
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte{0x31, 1, 100, 1, 0, 100, 0, 0, 198, 51, 100, 1}, uint8(255), false)
	f.Add([]byte{0x21, 1, 100, 1, 1, 1, 0, 0, 198, 51, 100, 1, 's', 'e', 'c', 'r', 'e', 't', 0, 0}, uint8(255), false)
	f.Fuzz(func(t *testing.T, b []byte, ttl uint8, ipv6 bool) {
		src, dst := netip.MustParseAddr("198.51.100.2"), GroupIPv4
		if ipv6 {
			src, dst = netip.MustParseAddr("fe80::2"), GroupIPv6
		}
		for _, v := range []uint8{2, 3} {
			view := &InstanceView{VRID: 1, Version: v, IPv6: ipv6, Active: true, Interval: 1, AuthType: AuthPass, AuthData: PassAuthData("secret")}
			a, r := Check(Meta{Src: src, Dst: dst, TTL: ttl}, b, view)
			if r == Accept {
				if _, err := a.MarshalRaw(); err != nil {
					t.Fatalf("accepted advert does not encode: %v", err)
				}
			}
		}
	})
}
