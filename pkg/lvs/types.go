package lvs

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Protocol is an IP protocol number IPVS balances.
type Protocol uint16

// Protocols IPVS supports.
const (
	TCP  Protocol = 6
	UDP  Protocol = 17
	SCTP Protocol = 132
)

func (p Protocol) String() string {
	switch p {
	case TCP:
		return "TCP"
	case UDP:
		return "UDP"
	case SCTP:
		return "SCTP"
	}
	return fmt.Sprintf("proto-%d", uint16(p))
}

// ParseProtocol maps keepalived's protocol keyword (case-insensitive) to a Protocol.
func ParseProtocol(s string) (Protocol, error) {
	switch strings.ToUpper(s) {
	case "", "TCP":
		return TCP, nil
	case "UDP":
		return UDP, nil
	case "SCTP":
		return SCTP, nil
	}
	return 0, fmt.Errorf("unknown protocol %q", s)
}

// Forward is a destination's forwarding method, with the kernel's values.
type Forward uint32

// Forwarding methods (IP_VS_CONN_F_*).
const (
	NAT   Forward = 0 // masquerading
	Local Forward = 1
	TUN   Forward = 2
	DR    Forward = 3 // direct routing
)

func (f Forward) String() string {
	switch f {
	case NAT:
		return "NAT"
	case Local:
		return "Local"
	case TUN:
		return "TUN"
	case DR:
		return "DR"
	}
	return fmt.Sprintf("fwd-%d", uint32(f))
}

// ParseForward maps lb_kind (NAT, DR, TUN) to a Forward.
func ParseForward(s string) (Forward, error) {
	switch strings.ToUpper(s) {
	case "", "NAT":
		return NAT, nil
	case "DR":
		return DR, nil
	case "TUN":
		return TUN, nil
	}
	return 0, fmt.Errorf("unknown forwarding method %q", s)
}

// TunnelType is the encapsulation of a TUN destination (IP_VS_CONN_F_TUNNEL_TYPE_*).
type TunnelType uint8

// Tunnel types; GUE needs kernel 5.3, GRE 5.5.
const (
	TunnelIPIP TunnelType = 0
	TunnelGUE  TunnelType = 1
	TunnelGRE  TunnelType = 2
)

// Tunnel flags (IP_VS_TUNNEL_ENCAP_FLAG_*): none means no checksum.
const (
	TunnelCsum    uint16 = 1 << 0
	TunnelRemCsum uint16 = 1 << 1
)

// Address families.
const (
	FamilyIPv4 uint16 = 2  // AF_INET
	FamilyIPv6 uint16 = 10 // AF_INET6
)

// Service flags (IP_VS_SVC_F_*).
const (
	FlagPersistent uint32 = 0x0001
	FlagHashed     uint32 = 0x0002 // set by the kernel; never compared
	FlagOnePacket  uint32 = 0x0004
	FlagSched1     uint32 = 0x0008 // sh-fallback, mh-fallback
	FlagSched2     uint32 = 0x0010 // sh-port, mh-port
	FlagSched3     uint32 = 0x0020
)

// Key identifies an IPVS service: either an address, protocol and port, or a firewall mark.
type Key struct {
	Family   uint16
	Protocol Protocol
	Address  netip.Addr // zero for fwmark services
	Port     uint16
	FWMark   uint32
}

func (k Key) String() string {
	if k.FWMark != 0 {
		if k.Family == FamilyIPv6 {
			return fmt.Sprintf("FWM %d IPv6", k.FWMark)
		}
		return fmt.Sprintf("FWM %d", k.FWMark)
	}
	return fmt.Sprintf("%s %s", k.Protocol, netip.AddrPortFrom(k.Address, k.Port))
}

func (k Key) compare(o Key) int {
	return cmp.Or(cmp.Compare(k.FWMark, o.FWMark), k.Address.Compare(o.Address),
		cmp.Compare(k.Port, o.Port), cmp.Compare(k.Protocol, o.Protocol), cmp.Compare(k.Family, o.Family))
}

// Service is one IPVS virtual service with its destinations, as we want it in the kernel.
type Service struct {
	Key
	Scheduler string // rr, wrr, lc, wlc, lblc, lblcr, sh, dh, sed, nq, mh, fo, ovf, twos
	Flags     uint32 // Flag* values; FlagPersistent is set from Timeout
	Timeout   uint32 // persistence timeout in seconds; 0 means not persistent
	Netmask   uint32 // persistence granularity: an IPv4 mask, or an IPv6 prefix length
	PEName    string // persistence engine (sip)

	Destinations []Destination
}

// Destination is one real server of a service.
type Destination struct {
	Address        netip.Addr
	Port           uint16
	Weight         int
	Forward        Forward
	UpperThreshold uint32
	LowerThreshold uint32
	// Tunnel settings, for Forward TUN only.
	TunnelType  TunnelType
	TunnelPort  uint16 // GUE destination port
	TunnelFlags uint16 // TunnelCsum, TunnelRemCsum
}

// DestKey identifies a destination within its service.
type DestKey struct {
	Address netip.Addr
	Port    uint16
}

// Key returns the destination's identity within its service.
func (d Destination) Key() DestKey { return DestKey{d.Address, d.Port} }

// normalize fills the values the kernel fills, so that comparing the desired state with what the
// kernel reports finds no spurious difference.
func (s Service) normalize() Service {
	s = s.normalizeKey()
	return s.normalizeDests(true)
}

// normalizeKey is normalize without the destinations.
func (s Service) normalizeKey() Service {
	if s.Family == 0 {
		s.Family = FamilyIPv4
		if s.Address.Is6() && !s.Address.Is4In6() {
			s.Family = FamilyIPv6
		}
	}
	if s.FWMark != 0 {
		// The kernel reports fwmark services with no protocol, address or port.
		s.Protocol, s.Address, s.Port = 0, netip.Addr{}, 0
	} else {
		s.Address = s.Address.Unmap()
	}
	if s.Scheduler == "" {
		s.Scheduler = "wlc"
	}
	if s.Timeout > 0 {
		s.Flags |= FlagPersistent
	} else {
		s.Flags &^= FlagPersistent
	}
	s.Flags &^= FlagHashed
	if s.Netmask == 0 {
		if s.Family == FamilyIPv6 {
			s.Netmask = 128
		} else {
			s.Netmask = 0xffffffff
		}
	}
	return s
}

// normalizeView is normalize for reading only: destinations already in normal form are shared
// with s, not copied.
func (s Service) normalizeView() Service {
	return s.normalizeKey().normalizeDests(false)
}

func (s Service) normalizeDests(copyAlways bool) Service {
	if !copyAlways && normalDests(s.Destinations) {
		return s
	}
	ds := make([]Destination, len(s.Destinations))
	for i, d := range s.Destinations {
		d.Address = d.Address.Unmap()
		if d.Forward != TUN {
			d.TunnelType, d.TunnelPort, d.TunnelFlags = 0, 0, 0
		}
		ds[i] = d
	}
	slices.SortFunc(ds, destOrder)
	s.Destinations = ds
	return s
}

// normalDests reports whether normalize would leave ds as they are: sorted by address and port,
// addresses unmapped, tunnel settings only on TUN destinations.
func normalDests(ds []Destination) bool {
	for i, d := range ds {
		if d.Address.Is4In6() || d.Forward != TUN && (d.TunnelType != 0 || d.TunnelPort != 0 || d.TunnelFlags != 0) {
			return false
		}
		if i > 0 && destOrder(ds[i-1], d) > 0 {
			return false
		}
	}
	return true
}

// destOrder is the order of destinations: by address, then port.
func destOrder(a, b Destination) int {
	if a.Address.Is4() && b.Address.Is4() { // the common case, without Compare's generality
		x, y := a.Address.As4(), b.Address.As4()
		return cmp.Or(cmp.Compare(binary.BigEndian.Uint32(x[:]), binary.BigEndian.Uint32(y[:])), cmp.Compare(a.Port, b.Port))
	}
	return cmp.Or(a.Address.Compare(b.Address), cmp.Compare(a.Port, b.Port))
}

// sameAttrs reports whether two services differ only in their destinations.
func (s Service) sameAttrs(o Service) bool {
	return s.Scheduler == o.Scheduler && s.Flags&^FlagHashed == o.Flags&^FlagHashed &&
		s.Timeout == o.Timeout && s.Netmask == o.Netmask && s.PEName == o.PEName
}

func (d Destination) same(o Destination) bool {
	return d == o
}

// equal reports whether two normalized services are the same (hashed flag aside).
func (s Service) equal(o Service) bool {
	return s.Key == o.Key && s.sameAttrs(o) && slices.Equal(s.Destinations, o.Destinations)
}

// Validate reports a desired state IPVS cannot hold: duplicate services or destinations, a
// service without an address or mark, a negative weight.
func Validate(services []Service) error {
	seen := make(map[Key]bool, len(services))
	for _, s := range services {
		n := s.normalizeView()
		if err := n.validate(); err != nil {
			return err
		}
		if seen[n.Key] {
			return fmt.Errorf("service %s: listed twice", n.Key)
		}
		seen[n.Key] = true
	}
	return nil
}

// validate checks one normalized service (its destinations are sorted, so a duplicate is next
// to its twin).
func (n Service) validate() error {
	if n.FWMark == 0 && !n.Address.IsValid() {
		return fmt.Errorf("service %s: no address and no fwmark", n.Key)
	}
	for i, d := range n.Destinations {
		if !d.Address.IsValid() {
			return fmt.Errorf("service %s: destination without address", n.Key)
		}
		if d.Weight < 0 {
			return fmt.Errorf("service %s: destination %s: negative weight %d", n.Key, d.Address, d.Weight)
		}
		if i > 0 && d.Key() == n.Destinations[i-1].Key() {
			return fmt.Errorf("service %s: destination %s listed twice", n.Key, netip.AddrPortFrom(d.Address, d.Port))
		}
	}
	return nil
}
