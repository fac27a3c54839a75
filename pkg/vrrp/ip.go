package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Meta is what the IP layer tells about a received VRRP message.
type Meta struct {
	Src, Dst netip.Addr
	// TTL is the IPv4 TTL or the IPv6 hop limit.
	TTL uint8
	// Length is the VRRP message length claimed by the IP header: IPv4 total length minus
	// header length, or IPv6 payload length minus extension headers. 0 means the caller
	// does not know it (then the received payload length is used).
	Length int
}

// Multicast reports whether the packet was sent to a multicast group.
func (m Meta) Multicast() bool { return m.Dst.IsMulticast() }

// IPv6 reports whether the packet came over IPv6.
func (m Meta) IPv6() bool { return m.Src.Is6() && !m.Src.Is4In6() }

// Errors of the IP parsers.
var (
	ErrNotVRRP = errors.New("vrrp: not a VRRP packet")
	ErrIP      = errors.New("vrrp: malformed IP header")
)

// EtherType values.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeIPv6 = 0x86DD
	EtherTypeVLAN = 0x8100
)

// ParseEthernet splits an Ethernet frame (optionally with 802.1Q tags) carrying VRRP over
// IPv4 or IPv6 into Meta and the bytes after the IP header (which may include Ethernet
// padding beyond Meta.Length).
func ParseEthernet(frame []byte) (Meta, []byte, error) {
	if len(frame) < EthernetHeaderLen {
		return Meta{}, nil, fmt.Errorf("%w: ethernet frame of %d bytes", ErrTruncated, len(frame))
	}
	off := 12
	et := binary.BigEndian.Uint16(frame[off:])
	for et == EtherTypeVLAN {
		off += 4
		if len(frame) < off+2 {
			return Meta{}, nil, fmt.Errorf("%w: vlan tag", ErrTruncated)
		}
		et = binary.BigEndian.Uint16(frame[off:])
	}
	off += 2
	switch et {
	case EtherTypeIPv4:
		return ParseIPv4(frame[off:])
	case EtherTypeIPv6:
		return ParseIPv6(frame[off:])
	}
	return Meta{}, nil, fmt.Errorf("%w: ethertype %#04x", ErrNotVRRP, et)
}

// ParseIPv4 parses an IPv4 header (with options) of a VRRP packet, as an IPv4 raw socket
// delivers it.
func ParseIPv4(b []byte) (Meta, []byte, error) {
	if len(b) < IPv4HeaderLen {
		return Meta{}, nil, fmt.Errorf("%w: %d bytes", ErrTruncated, len(b))
	}
	if b[0]>>4 != 4 {
		return Meta{}, nil, fmt.Errorf("%w: version %d", ErrIP, b[0]>>4)
	}
	ihl := int(b[0]&0x0f) * 4
	tot := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < IPv4HeaderLen || len(b) < ihl || tot < ihl {
		return Meta{}, nil, fmt.Errorf("%w: header length %d, total %d", ErrIP, ihl, tot)
	}
	if b[9] != IPProtocol {
		return Meta{}, nil, fmt.Errorf("%w: protocol %d", ErrNotVRRP, b[9])
	}
	m := Meta{
		Src:    netip.AddrFrom4([4]byte(b[12:16])),
		Dst:    netip.AddrFrom4([4]byte(b[16:20])),
		TTL:    b[8],
		Length: tot - ihl,
	}
	return m, b[ihl:], nil
}

// ParseIPv6 parses an IPv6 header, skipping hop-by-hop and destination options headers.
func ParseIPv6(b []byte) (Meta, []byte, error) {
	if len(b) < IPv6HeaderLen {
		return Meta{}, nil, fmt.Errorf("%w: %d bytes", ErrTruncated, len(b))
	}
	if b[0]>>4 != 6 {
		return Meta{}, nil, fmt.Errorf("%w: version %d", ErrIP, b[0]>>4)
	}
	m := Meta{
		Src:    netip.AddrFrom16([16]byte(b[8:24])),
		Dst:    netip.AddrFrom16([16]byte(b[24:40])),
		TTL:    b[7],
		Length: int(binary.BigEndian.Uint16(b[4:6])),
	}
	next := b[6]
	rest := b[IPv6HeaderLen:]
	for next == 0 || next == 60 { // hop-by-hop, destination options
		if len(rest) < 8 {
			return Meta{}, nil, fmt.Errorf("%w: extension header", ErrTruncated)
		}
		n := (int(rest[1]) + 1) * 8
		if len(rest) < n || m.Length < n {
			return Meta{}, nil, fmt.Errorf("%w: extension header", ErrTruncated)
		}
		next = rest[0]
		rest = rest[n:]
		m.Length -= n
	}
	if next != IPProtocol {
		return Meta{}, nil, fmt.Errorf("%w: next header %d", ErrNotVRRP, next)
	}
	return m, rest, nil
}

// AppendIPv4Header appends the IPv4 header keepalived sends adverts with (TOS 0xC0, ID 0,
// no DF, protocol 112, the given TTL), checksum included, for a payload of n bytes. It is
// meant for raw sockets with IP_HDRINCL (the kernel fills the ID).
func AppendIPv4Header(b []byte, src, dst netip.Addr, ttl uint8, n int) []byte {
	var h [IPv4HeaderLen]byte
	h[0] = 0x45
	h[1] = TOS
	binary.BigEndian.PutUint16(h[2:4], uint16(IPv4HeaderLen+n))
	h[8] = ttl
	h[9] = IPProtocol
	s4, d4 := src.As4(), dst.As4()
	copy(h[12:16], s4[:])
	copy(h[16:20], d4[:])
	binary.BigEndian.PutUint16(h[10:12], fold(sum16(0, h[:])))
	return append(b, h[:]...)
}
