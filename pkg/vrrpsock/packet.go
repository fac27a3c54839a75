package vrrpsock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Protocol is the IP protocol number of VRRP.
const Protocol = 112

// Well-known VRRP multicast groups (RFC 3768 §5.2.2, RFC 5798 §5.1.1.2).
var (
	GroupV4 = netip.MustParseAddr("224.0.0.18")
	GroupV6 = netip.MustParseAddr("ff02::12")
)

// TOS is the IPv4 type of service / IPv6 traffic class of every advert (DSCP CS6, as keepalived).
const TOS = 0xC0

// DefaultTTL is the TTL / hop limit of multicast adverts; RFC 3768 and 5798 require 255.
const DefaultTTL = 255

const (
	ipv4HeaderLen = 20
	ipv6HeaderLen = 40
)

// Packet is one received VRRP packet with the IP facts the receive checks need.
type Packet struct {
	IfIndex int        // interface the packet arrived on
	Src     netip.Addr // IP source, without a zone (IfIndex says where it came from)
	Dst     netip.Addr // IP destination: the group or our unicast address
	TTL     uint8      // IPv4 TTL or IPv6 hop limit
	// IPTotalLen is the IPv4 total length field, or for IPv6 the 40-byte header plus the
	// payload the kernel delivered (extension headers already removed).
	IPTotalLen int
	Payload    []byte    // from the VRRP header to the end of the IP payload; owned by the receiver of the Packet
	Time       time.Time // when the packet was read from the socket
}

// Outgoing is one advert to send.
type Outgoing struct {
	IfIndex int        // interface to send on (the VMAC interface to send from the virtual MAC)
	Src     netip.Addr // IP source; invalid means the kernel chooses
	Dst     netip.Addr // group or unicast peer; its family selects IPv4 or IPv6
	TTL     uint8      // TTL / hop limit; 0 means DefaultTTL (255)
	Payload []byte     // VRRP header and body, checksum already computed by the caller
}

var (
	errShort    = errors.New("shorter than an ipv4 header")
	errVersion  = errors.New("not ipv4")
	errIHL      = errors.New("bad header length")
	errTotalLen = errors.New("total length does not match the datagram")
)

// parseIPv4 splits a datagram as an IPv4 raw socket delivers it (header included) into
// the facts of a Packet. The payload aliases b.
func parseIPv4(b []byte) (p Packet, err error) {
	if len(b) < ipv4HeaderLen {
		return p, errShort
	}
	if b[0]>>4 != 4 {
		return p, errVersion
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < ipv4HeaderLen || ihl > len(b) {
		return p, fmt.Errorf("%w: %d", errIHL, ihl)
	}
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if total < ihl || total > len(b) {
		return p, fmt.Errorf("%w: %d of %d", errTotalLen, total, len(b))
	}
	p.TTL = b[8]
	p.Src = netip.AddrFrom4([4]byte(b[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	p.IPTotalLen = total
	p.Payload = b[ihl:total]
	return p, nil
}

// putIPv4Header writes the 20-byte header of an advert into h (len(h) >= 20). The kernel
// fills the ID when it is zero; the checksum is computed here so a capture shows it right.
func putIPv4Header(h []byte, src, dst netip.Addr, ttl uint8, payloadLen int) {
	h[0] = 4<<4 | ipv4HeaderLen/4
	h[1] = TOS
	binary.BigEndian.PutUint16(h[2:4], uint16(ipv4HeaderLen+payloadLen))
	binary.BigEndian.PutUint16(h[4:6], 0) // ID: the kernel fills it
	binary.BigEndian.PutUint16(h[6:8], 0) // flags and fragment offset: DF off
	h[8] = ttl
	h[9] = Protocol
	h[10], h[11] = 0, 0
	var s [4]byte
	if src.Is4() {
		s = src.As4()
	}
	copy(h[12:16], s[:])
	d := dst.As4()
	copy(h[16:20], d[:])
	binary.BigEndian.PutUint16(h[10:12], ipChecksum(h[:ipv4HeaderLen]))
}

func ipChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
