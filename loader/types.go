package loader

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/xalived/xalived/pkg/vrrp"
)

// Family is an address family as the kernel numbers it.
type Family uint8

// Address families.
const (
	IPv4 Family = 2  // AF_INET
	IPv6 Family = 10 // AF_INET6
)

func (f Family) String() string {
	switch f {
	case IPv4:
		return "ipv4"
	case IPv6:
		return "ipv6"
	}
	return fmt.Sprintf("family(%d)", uint8(f))
}

func (f Family) addrLen() int {
	if f == IPv4 {
		return 4
	}
	return 16
}

// InstanceKey names a VRRP instance as adverts on the wire name it.
type InstanceKey struct {
	Ifindex uint32 // interface the program is attached to
	VLAN    uint16 // 802.1Q VLAN ID of the adverts, 0 untagged
	Family  Family
	VRID    uint8
}

func (k InstanceKey) String() string {
	return fmt.Sprintf("if%d/vlan%d/%s/vrid%d", k.Ifindex, k.VLAN, k.Family, k.VRID)
}

func (k InstanceKey) raw() xdpXaInstKey {
	return xdpXaInstKey{Ifindex: k.Ifindex, Vlan: k.VLAN, Family: uint8(k.Family), Vrid: k.VRID}
}

func keyFromRaw(r xdpXaInstKey) InstanceKey {
	return InstanceKey{Ifindex: r.Ifindex, VLAN: r.Vlan, Family: Family(r.Family), VRID: r.Vrid}
}

// Instance is what the receive checks compare adverts against, plus the VIPs to answer for.
type Instance struct {
	Key         InstanceKey
	Version     uint8  // 2 or 3
	Priority    uint8  // effective priority: skew, tie-break and preemption use it
	Interval    uint16 // advert interval in wire units: v2 seconds, v3 centiseconds
	AuthType    uint8  // v2: 0 none, 1 simple password (AH is not supported in XDP)
	AuthPass    string // v2 simple password, at most 8 bytes
	DownAdverts uint8  // adverts in Master_Down_Interval; 0 means 3

	Unicast            bool // unicast peers: no TTL 255 rule, unicast destination required
	NoPreempt          bool // a backup accepts lower-priority adverts and re-arms its timer
	OwnerIgnoreAdverts bool // priority 255 drops every advert
	CheckUnicastSrc    bool // unicast: the source must be one of UnicastPeers, TTL within bounds
	UnicastPeers       []UnicastPeer

	LocalAddr netip.Addr   // our primary address (tie-break between two masters)
	VIPs      []netip.Addr // the instance's addresses, of Key.Family; answered while MASTER
	ReplyMAC  net.HardwareAddr
}

// UnicastPeer is a unicast peer with the TTL bounds its adverts must respect.
type UnicastPeer struct {
	Addr           netip.Addr
	MinTTL, MaxTTL uint8 // 0: no bound (MaxTTL 0 = 255)
}

// State is an instance's state as the program sees it.
type State uint32

// States (keepalived's numbers). Adverts are checked only in BACKUP and MASTER (rung 3).
const (
	StateInit   State = 0
	StateBackup State = 1
	StateMaster State = 2
	StateFault  State = 3
)

func (s State) String() string {
	switch s {
	case StateInit:
		return "INIT"
	case StateBackup:
		return "BACKUP"
	case StateMaster:
		return "MASTER"
	case StateFault:
		return "FAULT"
	}
	return fmt.Sprintf("state(%d)", uint32(s))
}

// EventType says what an Event reports.
type EventType uint32

// Event types (bpf/consts.h).
const (
	EventMasterDown  EventType = EventType(xdpXaEventTypeXA_EV_MASTER_DOWN)  // no valid advert for Master_Down_Interval
	EventPeerChanged EventType = EventType(xdpXaEventTypeXA_EV_PEER_CHANGED) // backup: new master, or its priority/interval changed
	EventPrioZero    EventType = EventType(xdpXaEventTypeXA_EV_PRIO_ZERO)    // the master resigned
	EventPreempted   EventType = EventType(xdpXaEventTypeXA_EV_PREEMPTED)    // MASTER heard a better master
	EventLowerPrio   EventType = EventType(xdpXaEventTypeXA_EV_LOWER_PRIO)   // MASTER heard a worse one (RFC 9568: advert now)
	EventCheckFailed EventType = EventType(xdpXaEventTypeXA_EV_CHECK_FAILED) // auth/version/interval/address-list mismatch (1/s)
)

func (t EventType) String() string {
	switch t {
	case EventMasterDown:
		return "master_down"
	case EventPeerChanged:
		return "peer_changed"
	case EventPrioZero:
		return "priority_zero"
	case EventPreempted:
		return "preempted"
	case EventLowerPrio:
		return "lower_priority"
	case EventCheckFailed:
		return "check_failed"
	}
	return fmt.Sprintf("event(%d)", uint32(t))
}

// Event is one ring buffer record.
type Event struct {
	Time     time.Duration // CLOCK_MONOTONIC
	Key      InstanceKey
	Type     EventType
	Reason   vrrp.DropReason // EventCheckFailed: the drop, or the note (interval, addr_count, addr_list)
	Addr     netip.Addr      // advert source (master down: the last master)
	Priority uint8
	Interval uint16 // wire units
}

// Peer is the current master as the program last accepted it.
type Peer struct {
	Addr     netip.Addr // invalid if no advert was accepted yet
	Priority uint8
	Interval uint16        // wire units
	LastSeen time.Duration // CLOCK_MONOTONIC, 0 never
	DownIn   time.Duration // master-down interval last armed
}

// Counters are an instance's counters summed over CPUs.
type Counters struct {
	Adverts    [NumReasons]uint64 // by vrrp.DropReason: [vrrp.Accept] accepted, others dropped
	Notes      [NumReasons]uint64 // findings on accepted adverts: interval (v3), addr_count, addr_list
	PrioZero   uint64
	ARPReplies uint64
	NAReplies  uint64
	LeaseDrops uint64 // ARP/NS dropped because the MASTER lease ran out
	MasterDown uint64 // timer expiries
	Events     uint64
	EventsLost uint64 // ring buffer full: read the peer records
}

// NumReasons is the number of vrrp.DropReason values the program counts (bpf/reasons.h).
const NumReasons = len(xdpXaCounters{}.Adverts)

func addrFrom(f Family, b [16]byte) netip.Addr {
	if f == IPv4 {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16(b)
}

func addrBytes(a netip.Addr) [16]byte {
	var b [16]byte
	if a.Is4() {
		v := a.As4()
		copy(b[:], v[:])
		return b
	}
	return a.As16()
}
