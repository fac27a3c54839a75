package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Wire constants.
const (
	// IPProtocol is the IP protocol number of VRRP.
	IPProtocol = 112
	// TTL is the only TTL / hop limit a multicast advert may carry.
	TTL = 255
	// TOS is the type of service (CS6) keepalived and xalived send with.
	TOS = 0xC0

	// HeaderLen is the fixed VRRP header (version/type .. checksum) in both versions.
	HeaderLen = 8
	// AuthDataLen is the VRRPv2 authentication data trailer.
	AuthDataLen = 8
	// IPv4AddrLen and IPv6AddrLen are the sizes of one address in the address list.
	IPv4AddrLen = 4
	IPv6AddrLen = 16
	// MaxAddrs is the most addresses the 8-bit count field can announce.
	MaxAddrs = 255

	// IPv4HeaderLen is an IPv4 header without options; IPv6HeaderLen the fixed IPv6 header.
	IPv4HeaderLen = 20
	IPv6HeaderLen = 40
	// EthernetHeaderLen is an untagged Ethernet header.
	EthernetHeaderLen = 14

	// TypeAdvertisement is the only VRRP packet type.
	TypeAdvertisement = 1

	// Priority values with a meaning of their own.
	PriorityStop    = 0   // a master stops being master
	PriorityOwner   = 255 // the address owner
	PriorityDefault = 100

	// MaxInterval3 is the largest VRRPv3 Max Adver Int (12 bits, centiseconds).
	MaxInterval3 = 0x0fff
)

// Version numbers.
const (
	Version2 = 2
	Version3 = 3
)

// VRRPv2 authentication types (RFC 2338 §5.3.6; reserved in RFC 3768).
const (
	AuthNone = 0
	AuthPass = 1
	AuthAH   = 2
)

// Multicast groups (RFC 5798 §5.1.1.2, §5.1.2.2).
var (
	GroupIPv4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	GroupIPv6 = netip.MustParseAddr("ff02::12")
)

// Errors returned by Unmarshal and Marshal.
var (
	ErrTruncated = errors.New("vrrp: packet truncated")
	ErrVersion   = errors.New("vrrp: unsupported version")
	ErrFamily    = errors.New("vrrp: address family does not match")
	ErrTooMany   = errors.New("vrrp: too many addresses")
	ErrInterval  = errors.New("vrrp: interval out of range")
)

// ChecksumForm says how a VRRPv3 IPv4 checksum is computed. VRRPv2 always uses the message
// form and IPv6 always the pseudo-header form; the field matters only for v3 over IPv4.
type ChecksumForm uint8

const (
	// ChecksumPseudo: RFC 5798, pseudo-header (src, dst, 0, 112, length) plus message.
	// keepalived's default, and xalived's default on send.
	ChecksumPseudo ChecksumForm = iota
	// ChecksumMessage: RFC 9568 §5.2.8, the VRRP message only (keepalived v3_checksum_as_v2).
	ChecksumMessage
)

func (f ChecksumForm) String() string {
	switch f {
	case ChecksumPseudo:
		return "pseudo"
	case ChecksumMessage:
		return "message"
	}
	return fmt.Sprintf("ChecksumForm(%d)", uint8(f))
}

// Advert is one decoded VRRP advertisement. Fields hold wire values.
type Advert struct {
	Version  uint8
	Type     uint8
	VRID     uint8
	Priority uint8
	// AuthType is the v2 authentication type (0 in v3).
	AuthType uint8
	// Interval is the v2 Adver Int in seconds, or the v3 Max Adver Int in centiseconds.
	Interval uint16
	// Reserved is the v3 4-bit reserved field (sent as 0, kept so re-encoding is exact).
	Reserved uint8
	// Checksum as read from the wire, or as computed by Marshal.
	Checksum uint16
	// Addrs is the address list, all IPv4 or all IPv6.
	Addrs []netip.Addr
	// AuthData is the v2 authentication data (the PASS password, zero padded).
	AuthData [AuthDataLen]byte
	// Notes holds reasons Check counted without dropping (see RECEIVE.md).
	Notes Notes
	// Form is the checksum form Check found valid (v3 over IPv4).
	Form ChecksumForm
}

// IntervalDuration is the advertised interval as a duration.
func (a *Advert) IntervalDuration() time.Duration {
	return IntervalDuration(a.Version, a.Interval)
}

// IntervalDuration converts a wire interval of the given version to a duration.
func IntervalDuration(version uint8, interval uint16) time.Duration {
	if version == Version2 {
		return time.Duration(interval) * time.Second
	}
	return time.Duration(interval) * 10 * time.Millisecond
}

// WireInterval converts a duration to the wire unit of version: v2 seconds (rounded, at
// least 1, at most 255), v3 centiseconds (rounded, 1..4095).
func WireInterval(version uint8, d time.Duration) uint16 {
	if version == Version2 {
		s := (d + time.Second/2) / time.Second
		return uint16(min(max(s, 1), 255))
	}
	cs := (d + 5*time.Millisecond) / (10 * time.Millisecond)
	return uint16(min(max(cs, 1), MaxInterval3))
}

// Len is the encoded length of the VRRP message for an address length alen.
func Len(version uint8, count, alen int) int {
	n := HeaderLen + count*alen
	if version == Version2 {
		n += AuthDataLen
	}
	return n
}

// Len is the encoded length of a.
func (a *Advert) Len() int {
	alen := IPv4AddrLen
	if len(a.Addrs) > 0 && a.Addrs[0].Is6() {
		alen = IPv6AddrLen
	}
	return Len(a.Version, len(a.Addrs), alen)
}

// Unmarshal decodes a VRRP message. ipv6 says which IP family carried it (it fixes the
// address length of v3). b must hold exactly the message; trailing bytes are an error, so
// callers trim to the length the IP header gives. The checksum is not verified here: Check
// and VerifyChecksum do that, because it needs the IP addresses.
func Unmarshal(b []byte, ipv6 bool) (Advert, error) {
	var a Advert
	if len(b) < HeaderLen {
		return a, fmt.Errorf("%w: %d bytes, want at least %d", ErrTruncated, len(b), HeaderLen)
	}
	a.Version = b[0] >> 4
	a.Type = b[0] & 0x0f
	a.VRID = b[1]
	a.Priority = b[2]
	count := int(b[3])
	alen := IPv4AddrLen
	switch a.Version {
	case Version2:
		if ipv6 {
			return a, fmt.Errorf("%w: version 2 over IPv6", ErrFamily)
		}
		a.AuthType = b[4]
		a.Interval = uint16(b[5])
	case Version3:
		a.Reserved = b[4] >> 4
		a.Interval = binary.BigEndian.Uint16(b[4:6]) & MaxInterval3
		if ipv6 {
			alen = IPv6AddrLen
		}
	default:
		return a, fmt.Errorf("%w: %d", ErrVersion, a.Version)
	}
	a.Checksum = binary.BigEndian.Uint16(b[6:8])
	want := Len(a.Version, count, alen)
	if len(b) != want {
		return a, fmt.Errorf("%w: %d bytes for %d addresses, want %d", ErrTruncated, len(b), count, want)
	}
	if count > 0 {
		a.Addrs = make([]netip.Addr, count)
	}
	off := HeaderLen
	for i := range count {
		if alen == IPv4AddrLen {
			a.Addrs[i] = netip.AddrFrom4([4]byte(b[off : off+4]))
		} else {
			a.Addrs[i] = netip.AddrFrom16([16]byte(b[off : off+16]))
		}
		off += alen
	}
	if a.Version == Version2 {
		copy(a.AuthData[:], b[off:off+AuthDataLen])
	}
	return a, nil
}

// Marshal encodes a with a freshly computed checksum (stored in a.Checksum). src and dst
// are the IP addresses of the packet, needed for the pseudo-header forms; form chooses the
// v3 IPv4 checksum.
func (a *Advert) Marshal(src, dst netip.Addr, form ChecksumForm) ([]byte, error) {
	return a.AppendMarshal(nil, src, dst, form)
}

// AppendMarshal is Marshal appending to b.
func (a *Advert) AppendMarshal(b []byte, src, dst netip.Addr, form ChecksumForm) ([]byte, error) {
	start := len(b)
	b, err := a.appendRaw(b)
	if err != nil {
		return b[:start], err
	}
	msg := b[start:]
	msg[6], msg[7] = 0, 0
	a.Checksum = ComputeChecksum(msg, a.Version, src, dst, form)
	binary.BigEndian.PutUint16(msg[6:8], a.Checksum)
	return b, nil
}

// MarshalRaw encodes a keeping a.Checksum as it is (for tests and crafted packets).
func (a *Advert) MarshalRaw() ([]byte, error) { return a.appendRaw(nil) }

func (a *Advert) appendRaw(b []byte) ([]byte, error) {
	if len(a.Addrs) > MaxAddrs {
		return b, fmt.Errorf("%w: %d", ErrTooMany, len(a.Addrs))
	}
	v6 := len(a.Addrs) > 0 && a.Addrs[0].Is6() && !a.Addrs[0].Is4In6()
	for _, ad := range a.Addrs {
		if ad.Is4() == v6 || !ad.IsValid() {
			return b, fmt.Errorf("%w: mixed or invalid address %v", ErrFamily, ad)
		}
	}
	var hdr [HeaderLen]byte
	hdr[0] = a.Version<<4 | a.Type&0x0f
	hdr[1] = a.VRID
	hdr[2] = a.Priority
	hdr[3] = uint8(len(a.Addrs))
	switch a.Version {
	case Version2:
		if v6 {
			return b, fmt.Errorf("%w: version 2 carries IPv4 only", ErrFamily)
		}
		if a.Interval > 255 {
			return b, fmt.Errorf("%w: v2 interval %d", ErrInterval, a.Interval)
		}
		hdr[4] = a.AuthType
		hdr[5] = uint8(a.Interval)
	case Version3:
		if a.Interval > MaxInterval3 {
			return b, fmt.Errorf("%w: v3 interval %d", ErrInterval, a.Interval)
		}
		binary.BigEndian.PutUint16(hdr[4:6], uint16(a.Reserved&0x0f)<<12|a.Interval)
	default:
		return b, fmt.Errorf("%w: %d", ErrVersion, a.Version)
	}
	binary.BigEndian.PutUint16(hdr[6:8], a.Checksum)
	b = append(b, hdr[:]...)
	for _, ad := range a.Addrs {
		b = append(b, ad.AsSlice()...)
	}
	if a.Version == Version2 {
		b = append(b, a.AuthData[:]...)
	}
	return b, nil
}

// PassAuthData returns a password as keepalived puts it on the wire: at most 8 bytes, zero
// padded.
func PassAuthData(pass string) [AuthDataLen]byte {
	var d [AuthDataLen]byte
	copy(d[:], pass)
	return d
}
