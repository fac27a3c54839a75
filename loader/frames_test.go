package loader

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// Frame builders for the tests: plain byte layouts after RFC 826, 791, 8200, 4861, 3768 and 5798.

var (
	macPeer = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}
	macOurs = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	macVRRP = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, 51}
)

func csum(sum uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	return sum
}

func fold(sum uint32) uint16 {
	for sum > 0xffff {
		sum = (sum & 0xffff) + sum>>16
	}
	return ^uint16(sum)
}

func ether(dst, src net.HardwareAddr, vlan uint16, typ uint16, payload []byte) []byte {
	f := append([]byte{}, dst...)
	f = append(f, src...)
	if vlan != 0 {
		f = binary.BigEndian.AppendUint16(f, 0x8100)
		f = binary.BigEndian.AppendUint16(f, vlan)
	}
	f = binary.BigEndian.AppendUint16(f, typ)
	return append(f, payload...)
}

// advert describes a VRRP advert frame; zero fields take sensible defaults (see fill).
type advert struct {
	version  uint8
	vrid     uint8
	prio     uint8
	typ      uint8
	interval uint16
	authType uint8
	pass     string
	addrs    []netip.Addr
	src, dst netip.Addr
	ttl      uint8
	vlan     uint16

	countDelta   int    // added to the address count field
	csumDelta    uint16 // added to the correct checksum
	csumV2Form   bool   // v3 IPv4: RFC 9568 message-only checksum instead of keepalived's
	ipLenDelta   int    // added to the IP total / payload length
	trailer      []byte // bytes after the IP packet (padding or garbage)
	truncate     int    // bytes cut from the end of the frame
	ipv6HopByHop bool   // put a hop-by-hop options header before VRRP
	ipv6Fragment bool   // put a fragment header before VRRP
	ihl          int    // IPv4 header length in bytes (options are zeros); default 20
}

func (a advert) fill() advert {
	if a.version == 0 {
		a.version = 3
	}
	if a.vrid == 0 {
		a.vrid = 51
	}
	if a.typ == 0 {
		a.typ = 1
	}
	if a.interval == 0 {
		a.interval = 100
		if a.version == 2 {
			a.interval = 1
		}
	}
	if !a.src.IsValid() {
		a.src = netip.MustParseAddr("198.51.100.2")
	}
	if !a.dst.IsValid() {
		if a.src.Is4() {
			a.dst = netip.MustParseAddr("224.0.0.18")
		} else {
			a.dst = netip.MustParseAddr("ff02::12")
		}
	}
	if a.addrs == nil {
		if a.src.Is4() {
			a.addrs = []netip.Addr{netip.MustParseAddr("203.0.113.10")}
		} else {
			a.addrs = []netip.Addr{netip.MustParseAddr("2001:db8::10")}
		}
	}
	if a.ttl == 0 {
		a.ttl = 255
	}
	if a.ihl == 0 {
		a.ihl = 20
	}
	return a
}

func (a advert) frame() []byte {
	a = a.fill()
	v4 := a.src.Is4()
	m := []byte{a.version<<4 | a.typ, a.vrid, a.prio, byte(len(a.addrs))}
	m[3] = byte(len(a.addrs) + a.countDelta)
	if a.version == 2 {
		m = append(m, a.authType, byte(a.interval), 0, 0)
	} else {
		m = append(m, byte(a.interval>>8)&0x0f, byte(a.interval), 0, 0)
	}
	for _, ad := range a.addrs {
		m = append(m, ad.AsSlice()...)
	}
	if a.version == 2 {
		var pw [8]byte
		copy(pw[:], a.pass)
		m = append(m, pw[:]...)
	}
	var sum uint32
	switch {
	case a.version == 2 || a.csumV2Form:
	case v4:
		sum = csum(sum, a.src.AsSlice())
		sum = csum(sum, a.dst.AsSlice())
		sum += 112 + uint32(len(m))
	default:
		sum = csum(sum, a.src.AsSlice())
		sum = csum(sum, a.dst.AsSlice())
		sum += uint32(len(m)) + 112
	}
	binary.BigEndian.PutUint16(m[6:], fold(csum(sum, m))+a.csumDelta)

	var ip []byte
	if v4 {
		ip = make([]byte, a.ihl)
		ip[0] = 0x40 | byte(a.ihl/4)
		ip[1] = 0xc0
		binary.BigEndian.PutUint16(ip[2:], uint16(a.ihl+len(m)+a.ipLenDelta))
		ip[8] = a.ttl
		ip[9] = 112
		copy(ip[12:], a.src.AsSlice())
		copy(ip[16:], a.dst.AsSlice())
		binary.BigEndian.PutUint16(ip[10:], fold(csum(0, ip)))
		ip = append(ip, m...)
	} else {
		var ext []byte
		nh := byte(112)
		if a.ipv6HopByHop {
			ext = []byte{112, 0, 1, 4, 0, 0, 0, 0} // PadN option
			nh = 0
		}
		if a.ipv6Fragment {
			ext = []byte{112, 0, 0, 0, 0, 0, 0, 1}
			nh = 44
		}
		ip = make([]byte, 40)
		ip[0] = 0x6c
		binary.BigEndian.PutUint16(ip[4:], uint16(len(ext)+len(m)+a.ipLenDelta))
		ip[6] = nh
		ip[7] = a.ttl
		copy(ip[8:], a.src.AsSlice())
		copy(ip[24:], a.dst.AsSlice())
		ip = append(append(ip, ext...), m...)
	}
	ip = append(ip, a.trailer...)
	typ := uint16(0x0800)
	dst := net.HardwareAddr{0x01, 0x00, 0x5e, 0x00, 0x00, 0x12}
	if !v4 {
		typ = 0x86dd
		dst = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 0x12}
	}
	f := ether(dst, macPeer, a.vlan, typ, ip)
	return f[:len(f)-a.truncate]
}

func arpRequest(vlan uint16, sender, target netip.Addr) []byte {
	p := []byte{0, 1, 8, 0, 6, 4, 0, 1}
	p = append(p, macPeer...)
	p = append(p, sender.AsSlice()...)
	p = append(p, 0, 0, 0, 0, 0, 0)
	p = append(p, target.AsSlice()...)
	return ether(net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, macPeer, vlan, 0x0806, p)
}

func icmp6(src, dst netip.Addr, body []byte) []byte {
	sum := csum(0, src.AsSlice())
	sum = csum(sum, dst.AsSlice())
	sum += uint32(len(body)) + 58
	binary.BigEndian.PutUint16(body[2:], fold(csum(sum, body)))
	ip := make([]byte, 40)
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(len(body)))
	ip[6] = 58
	ip[7] = 255
	copy(ip[8:], src.AsSlice())
	copy(ip[24:], dst.AsSlice())
	return append(ip, body...)
}

// neighSolicit builds an NS for target from src (unspecified src: DAD, no SLLA option).
func neighSolicit(vlan uint16, src, target netip.Addr, withSLLA bool) []byte {
	t := target.As16()
	dst := netip.AddrFrom16([16]byte{0xff, 0x02, 10: 0, 11: 1, 12: 0xff, 13: t[13], 14: t[14], 15: t[15]})
	body := []byte{135, 0, 0, 0, 0, 0, 0, 0}
	body = append(body, target.AsSlice()...)
	if withSLLA {
		body = append(body, 1, 1)
		body = append(body, macPeer...)
	}
	d := dst.As16()
	emac := net.HardwareAddr{0x33, 0x33, d[12], d[13], d[14], d[15]}
	return ether(emac, macPeer, vlan, 0x86dd, icmp6(src, dst, body))
}
