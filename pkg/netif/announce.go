package netif

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Frame sizes.
const (
	ethHeaderLen = 14
	arpLen       = 28
	naICMPLen    = 4 + 4 + 16 + 8 // type/code/checksum, flags, target, target link-layer option
	// GARPLen and NALen are the lengths of the frames GratuitousARP and UnsolicitedNA build.
	GARPLen = ethHeaderLen + arpLen
	NALen   = ethHeaderLen + 40 + naICMPLen
)

var (
	broadcastMAC   = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	allNodesMAC    = net.HardwareAddr{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}
	allNodes       = netip.MustParseAddr("ff02::1")
	errNotEthernet = errors.New("source mac is not a 6-byte ethernet address")
)

// Neighbour advertisement flags (RFC 4861 §4.4).
const (
	naRouter    = 0x80
	naOverride  = 0x20
	icmpv6NA    = 136
	optTargetLL = 2
)

// GratuitousARP builds the Ethernet frame that announces vip at mac: a broadcast ARP request
// (op 1) with sender and target protocol address both the VIP and target hardware address
// broadcast, as keepalived sends it.
func GratuitousARP(mac net.HardwareAddr, vip netip.Addr) ([]byte, error) {
	if len(mac) != 6 {
		return nil, errNotEthernet
	}
	if !vip.Is4() {
		return nil, fmt.Errorf("gratuitous arp for %s: not ipv4", vip)
	}
	f := make([]byte, GARPLen)
	copy(f[0:6], broadcastMAC)
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:], unix.ETH_P_ARP)
	a := f[ethHeaderLen:]
	binary.BigEndian.PutUint16(a[0:], 1) // hardware type ethernet
	binary.BigEndian.PutUint16(a[2:], unix.ETH_P_IP)
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:], 1) // request
	ip := vip.As4()
	copy(a[8:14], mac)
	copy(a[14:18], ip[:])
	copy(a[18:24], broadcastMAC)
	copy(a[24:28], ip[:])
	return f, nil
}

// UnsolicitedNA builds the Ethernet frame that announces vip at mac over IPv6: a neighbour
// advertisement from the VIP to ff02::1 (hop limit 255) with the Override flag, the Router
// flag when router is set, and a target link-layer address option.
func UnsolicitedNA(mac net.HardwareAddr, vip netip.Addr, router bool) ([]byte, error) {
	if len(mac) != 6 {
		return nil, errNotEthernet
	}
	if !vip.Is6() || vip.Is4In6() {
		return nil, fmt.Errorf("unsolicited na for %s: not ipv6", vip)
	}
	f := make([]byte, NALen)
	copy(f[0:6], allNodesMAC)
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:], unix.ETH_P_IPV6)
	ip := f[ethHeaderLen:]
	ip[0] = 6 << 4
	binary.BigEndian.PutUint16(ip[4:], naICMPLen)
	ip[6] = unix.IPPROTO_ICMPV6
	ip[7] = 255
	src, dst := vip.As16(), allNodes.As16()
	copy(ip[8:24], src[:])
	copy(ip[24:40], dst[:])
	icmp := ip[40:]
	icmp[0] = icmpv6NA
	icmp[4] = naOverride
	if router {
		icmp[4] |= naRouter
	}
	copy(icmp[8:24], src[:])
	icmp[24], icmp[25] = optTargetLL, 1
	copy(icmp[26:32], mac)
	binary.BigEndian.PutUint16(icmp[2:], icmpv6Checksum(src, dst, icmp))
	return f, nil
}

func icmpv6Checksum(src, dst [16]byte, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src[:])
	add(dst[:])
	var l [8]byte
	binary.BigEndian.PutUint32(l[0:], uint32(len(msg)))
	l[7] = unix.IPPROTO_ICMPV6
	add(l[:])
	add(msg)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// Announcement is one address to announce on one interface.
type Announcement struct {
	IfIndex int
	MAC     net.HardwareAddr // source MAC: the interface's, or the VMAC for use_vmac
	Addr    netip.Addr       // IPv4: gratuitous ARP; IPv6: unsolicited NA
	Router  bool             // IPv6: set the Router flag (see IPv6Forwarding)
}

// Announcer sends gratuitous ARPs and unsolicited neighbour advertisements from an AF_PACKET
// socket that receives nothing. It is safe for concurrent use.
type Announcer struct {
	mu sync.Mutex
	fd int
}

// NewAnnouncer opens the packet socket in the calling thread's namespace.
func NewAnnouncer() (*Announcer, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("announcer: packet socket: %w", err)
	}
	return &Announcer{fd: fd}, nil
}

// Close closes the socket.
func (a *Announcer) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fd < 0 {
		return nil
	}
	err := unix.Close(a.fd)
	a.fd = -1
	return err
}

// Announce sends repeat rounds over the list (each round announces every entry once), with
// gap between any two frames (0: back to back, keepalived's default), until done or ctx ends.
// keepalived's defaults on becoming MASTER are repeat 5, and the same again garp_master_delay
// (5 s) later, which is the caller's timer. Failures of single frames do not stop the rest.
func (a *Announcer) Announce(ctx context.Context, list []Announcement, repeat int, gap time.Duration) error {
	frames := make([][]byte, len(list))
	var errs []error
	for i, an := range list {
		var err error
		if an.Addr.Is4() {
			frames[i], err = GratuitousARP(an.MAC, an.Addr)
		} else {
			frames[i], err = UnsolicitedNA(an.MAC, an.Addr, an.Router)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("announce %s on ifindex %d: %w", an.Addr, an.IfIndex, err))
		}
	}
	var timer *time.Timer
	first := true
	for range repeat {
		for i, f := range frames {
			if f == nil {
				continue
			}
			if !first && gap > 0 {
				if timer == nil {
					timer = time.NewTimer(gap)
					defer timer.Stop()
				} else {
					timer.Reset(gap)
				}
				select {
				case <-timer.C:
				case <-ctx.Done():
					return errors.Join(append(errs, ctx.Err())...)
				}
			} else if ctx.Err() != nil {
				return errors.Join(append(errs, ctx.Err())...)
			}
			first = false
			if err := a.send(list[i].IfIndex, f); err != nil {
				errs = append(errs, fmt.Errorf("announce %s on ifindex %d: %w", list[i].Addr, list[i].IfIndex, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (a *Announcer) send(ifIndex int, frame []byte) error {
	sa := &unix.SockaddrLinklayer{
		Protocol: htons(binary.BigEndian.Uint16(frame[12:14])),
		Ifindex:  ifIndex,
		Halen:    6,
	}
	copy(sa.Addr[:], frame[0:6])
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fd < 0 {
		return errors.New("announcer closed")
	}
	return unix.Sendto(a.fd, frame, 0, sa)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
