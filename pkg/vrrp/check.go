package vrrp

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"net/netip"
)

// DropReason says why a received packet was dropped, or (as a Note) what was counted about
// an accepted one. The numbers are stable: the XDP program uses them as counter indexes and
// String gives the counter / metric name. RECEIVE.md is the normative list.
type DropReason uint8

// Reasons, in ladder order. Accept (0) means the packet passed.
const (
	Accept            DropReason = iota // "accept"
	ReasonTruncated                     // "truncated": fewer bytes than the header or than the IP length claims
	ReasonUnknownVRID                   // "unknown_vrid": no instance with this VRID (demux)
	ReasonState                         // "state": instance in INIT, FAULT or STOP ignores adverts
	ReasonDst                           // "dst": multicast packet for a unicast instance, or the reverse
	ReasonLength                        // "length": IP length != 8 + count*addrlen (+8 auth in v2)
	ReasonTTL                           // "ttl": multicast TTL/hop limit != 255, or unicast peer TTL outside [min,max]
	ReasonVersion                       // "version": version != configured
	ReasonAuth                          // "auth": v2 auth type unknown / mismatching, or wrong password
	ReasonInterval                      // "interval": v2 Adver Int != configured, v3 Max Adver Int == 0; note: v3 mismatch
	ReasonType                          // "type": type != 1 (ADVERTISEMENT)
	ReasonChecksum                      // "checksum": no accepted checksum form matches
	ReasonOwner                         // "owner": owner_ignore_adverts and local effective priority 255
	ReasonAddrCount                     // "addr_count" (note only): address count differs from the VIPs
	ReasonAddrList                      // "addr_list" (note only): same count, different addresses
	ReasonUnicastSrc                    // "unicast_src": check_unicast_src and the source is no configured peer
	// NumReasons is the number of reasons (array size for counters).
	NumReasons
)

var reasonNames = [NumReasons]string{
	Accept:            "accept",
	ReasonTruncated:   "truncated",
	ReasonUnknownVRID: "unknown_vrid",
	ReasonState:       "state",
	ReasonDst:         "dst",
	ReasonLength:      "length",
	ReasonTTL:         "ttl",
	ReasonVersion:     "version",
	ReasonAuth:        "auth",
	ReasonInterval:    "interval",
	ReasonType:        "type",
	ReasonChecksum:    "checksum",
	ReasonOwner:       "owner",
	ReasonAddrCount:   "addr_count",
	ReasonAddrList:    "addr_list",
	ReasonUnicastSrc:  "unicast_src",
}

func (r DropReason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("DropReason(%d)", uint8(r))
}

// Reasons returns every reason except Accept, in numeric order (for counters).
func Reasons() []DropReason {
	rs := make([]DropReason, 0, NumReasons-1)
	for r := Accept + 1; r < NumReasons; r++ {
		rs = append(rs, r)
	}
	return rs
}

// Notes is a set of reasons counted on an accepted packet.
type Notes uint32

// Has reports whether r is in the set.
func (n Notes) Has(r DropReason) bool { return n&(1<<r) != 0 }

func (n *Notes) add(r DropReason) { *n |= 1 << r }

// Peer is a unicast peer as the receive check sees it.
type Peer struct {
	Addr netip.Addr
	// MinTTL and MaxTTL bound the TTL of packets from this peer when CheckUnicastSrc is
	// set; 0 means no bound (MaxTTL 0 = 255).
	MinTTL, MaxTTL uint8
}

// InstanceView is the part of an instance's configuration and state the receive checks use.
type InstanceView struct {
	VRID    uint8
	Version uint8
	IPv6    bool
	Unicast bool
	// Active is false in INIT, FAULT and STOP: adverts are ignored then.
	Active bool
	// AuthType and AuthData are the v2 authentication settings (AuthData = PassAuthData).
	AuthType uint8
	AuthData [AuthDataLen]byte
	// Interval is the configured interval in the wire unit of Version.
	Interval uint16
	// VIPs is the configured (advertised) address list.
	VIPs []netip.Addr
	// EffectivePriority is the current priority (255 for an owner).
	EffectivePriority  uint8
	OwnerIgnoreAdverts bool
	// CheckUnicastSrc requires the source to be in Peers (and in its TTL bounds).
	CheckUnicastSrc bool
	Peers           []Peer
}

// PeekVRID returns the VRID of a VRRP message for demultiplexing.
func PeekVRID(payload []byte) (uint8, bool) {
	if len(payload) < HeaderLen {
		return 0, false
	}
	return payload[1], true
}

// Check runs the receive ladder of RECEIVE.md over one packet: meta from the IP layer,
// payload = the bytes after the IP header (Ethernet padding beyond meta.Length is ignored).
// It returns the decoded advert and Accept, or the first failing reason. Counted-only
// findings are in Advert.Notes.
func Check(meta Meta, payload []byte, inst *InstanceView) (Advert, DropReason) {
	// 1. truncated: not even a VRRP header.
	if len(payload) < HeaderLen {
		return Advert{}, ReasonTruncated
	}
	// 2. unknown_vrid (normally decided by the demux before Check).
	if payload[1] != inst.VRID {
		return Advert{}, ReasonUnknownVRID
	}
	// 3. state.
	if !inst.Active {
		return Advert{}, ReasonState
	}
	// 4. dst, IPv6 only at this rung (keepalived checks IPv4 after the checksum).
	if inst.IPv6 && meta.Multicast() == inst.Unicast {
		return Advert{}, ReasonDst
	}
	// 5. length, computed from the packet's count and the CONFIGURED version (the ladder as
	// published to the XDP program; keepalived uses the packet's version nibble, see
	// RECEIVE.md), then truncated.
	alen := IPv4AddrLen
	if inst.IPv6 {
		alen = IPv6AddrLen
	}
	n := meta.Length
	if n == 0 {
		n = len(payload)
	}
	want := HeaderLen + int(payload[3])*alen
	if inst.Version == Version2 && !inst.IPv6 {
		want += AuthDataLen
	}
	if n != want {
		return Advert{}, ReasonLength
	}
	if len(payload) < n {
		return Advert{}, ReasonTruncated
	}
	msg := payload[:n]
	// 6. ttl, multicast instances only.
	if !inst.Unicast && meta.TTL != TTL {
		return Advert{}, ReasonTTL
	}
	// 7. version.
	version := msg[0] >> 4
	if version != inst.Version {
		return Advert{}, ReasonVersion
	}
	var notes Notes
	if version == Version2 {
		// 8. auth (v2).
		at := msg[4]
		if at != inst.AuthType || at == AuthAH || at > AuthAH {
			return Advert{}, ReasonAuth
		}
		if at == AuthPass && subtle.ConstantTimeCompare(msg[n-AuthDataLen:], inst.AuthData[:]) != 1 {
			return Advert{}, ReasonAuth
		}
		// 9. interval (v2: drop on mismatch).
		if uint16(msg[5]) != inst.Interval {
			return Advert{}, ReasonInterval
		}
	} else {
		// 9. interval (v3: 0 is invalid; a mismatch is only counted, the backup adopts it).
		iv := binary.BigEndian.Uint16(msg[4:6]) & MaxInterval3
		if iv == 0 {
			return Advert{}, ReasonInterval
		}
		if iv != inst.Interval {
			notes.add(ReasonInterval)
		}
	}
	// 10. type.
	if msg[0]&0x0f != TypeAdvertisement {
		return Advert{}, ReasonType
	}
	// 11. checksum.
	form := ChecksumPseudo
	if !VerifyChecksum(msg, version, meta.Src, meta.Dst, ChecksumPseudo) {
		if version == Version3 && !inst.IPv6 && VerifyChecksum(msg, version, meta.Src, meta.Dst, ChecksumMessage) {
			form = ChecksumMessage
		} else {
			return Advert{}, ReasonChecksum
		}
	}
	if version == Version2 {
		form = ChecksumMessage
	}
	// 12. dst, IPv4.
	if !inst.IPv6 && meta.Multicast() == inst.Unicast {
		return Advert{}, ReasonDst
	}
	// 13. owner.
	if inst.OwnerIgnoreAdverts && inst.EffectivePriority == PriorityOwner {
		return Advert{}, ReasonOwner
	}
	a, err := Unmarshal(msg, inst.IPv6)
	if err != nil { // cannot happen after the checks above; keep the ladder total
		return Advert{}, ReasonLength
	}
	a.Form = form
	// 14. addr_count / addr_list: counted, accepted (RFC 9568 §7.1; keepalived ≥ 2.3.3).
	if len(a.Addrs) != len(inst.VIPs) {
		notes.add(ReasonAddrCount)
	} else if !sameAddrs(a.Addrs, inst.VIPs) {
		notes.add(ReasonAddrList)
	}
	// 15. unicast_src / ttl for unicast peers.
	if inst.Unicast && inst.CheckUnicastSrc {
		p, ok := findPeer(inst.Peers, meta.Src)
		if !ok {
			return Advert{}, ReasonUnicastSrc
		}
		maxTTL := p.MaxTTL
		if maxTTL == 0 {
			maxTTL = 255
		}
		if meta.TTL < p.MinTTL || meta.TTL > maxTTL {
			return Advert{}, ReasonTTL
		}
	}
	a.Notes = notes
	return a, Accept
}

func findPeer(ps []Peer, a netip.Addr) (Peer, bool) {
	for _, p := range ps {
		if p.Addr == a {
			return p, true
		}
	}
	return Peer{}, false
}

// sameAddrs compares two equally long lists as sets.
func sameAddrs(a, b []netip.Addr) bool {
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
