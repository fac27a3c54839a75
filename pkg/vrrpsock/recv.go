package vrrpsock

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ListenConfig says what a Receiver listens to.
type ListenConfig struct {
	IfIndex int  // interface to bind to; required
	IPv6    bool // family: false for IPv4, true for IPv6
	// Groups are the multicast groups to join on the interface. Nil means the family's
	// VRRP group (224.0.0.18 or ff02::12); an empty non-nil slice joins none (unicast only).
	// Unicast packets to any local address arriving on the interface are always received.
	Groups []netip.Addr
	// RecvBuffer sets SO_RCVBUF in bytes when non-zero (keepalived's kernel_rx_buf_size).
	RecvBuffer int
}

// RecvStats counts what a Receiver has seen.
type RecvStats struct {
	Packets   uint64 // delivered to the callback
	Malformed uint64 // dropped: truncated or malformed IP header, missing ancillary data
}

// Receiver reads VRRP packets from one interface and family.
type Receiver struct {
	cfg       ListenConfig
	f         *os.File
	packets   atomic.Uint64
	malformed atomic.Uint64
}

// Listen opens a raw protocol-112 socket bound to cfg.IfIndex and joins the groups, in the
// network namespace of the calling thread.
func Listen(cfg ListenConfig) (*Receiver, error) {
	if cfg.IfIndex <= 0 {
		return nil, fmt.Errorf("listen vrrp: interface index %d", cfg.IfIndex)
	}
	fam, name := unix.AF_INET, "vrrp4-"+strconv.Itoa(cfg.IfIndex)
	if cfg.IPv6 {
		fam, name = unix.AF_INET6, "vrrp6-"+strconv.Itoa(cfg.IfIndex)
	}
	if cfg.Groups == nil {
		if cfg.IPv6 {
			cfg.Groups = []netip.Addr{GroupV6}
		} else {
			cfg.Groups = []netip.Addr{GroupV4}
		}
	}
	f, err := newRawSocket(fam, Protocol, name)
	if err != nil {
		return nil, fmt.Errorf("listen vrrp on ifindex %d: %w", cfg.IfIndex, err)
	}
	r := &Receiver{cfg: cfg, f: f}
	err = control(f, func(fd int) error {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BINDTOIFINDEX, cfg.IfIndex); err != nil {
			return fmt.Errorf("bind to device: %w", err)
		}
		if cfg.RecvBuffer > 0 {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.RecvBuffer); err != nil {
				return fmt.Errorf("set receive buffer: %w", err)
			}
		}
		if cfg.IPv6 {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1); err != nil {
				return fmt.Errorf("ipv6 recvhoplimit: %w", err)
			}
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1); err != nil {
				return fmt.Errorf("ipv6 recvpktinfo: %w", err)
			}
		}
		return nil
	})
	if err == nil {
		for _, g := range cfg.Groups {
			if err = r.JoinGroup(g); err != nil {
				break
			}
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("listen vrrp on ifindex %d: %w", cfg.IfIndex, err)
	}
	return r, nil
}

// JoinGroup joins a multicast group on the receiver's interface.
func (r *Receiver) JoinGroup(g netip.Addr) error { return r.membership(g, true) }

// LeaveGroup leaves a multicast group on the receiver's interface.
func (r *Receiver) LeaveGroup(g netip.Addr) error { return r.membership(g, false) }

func (r *Receiver) membership(g netip.Addr, join bool) error {
	if !g.IsMulticast() || g.Is6() != r.cfg.IPv6 || g.Is4In6() {
		return fmt.Errorf("join group %s: not a multicast group of this family", g)
	}
	err := control(r.f, func(fd int) error {
		if g.Is4() {
			opt := unix.IP_ADD_MEMBERSHIP
			if !join {
				opt = unix.IP_DROP_MEMBERSHIP
			}
			return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, opt, &unix.IPMreqn{Multiaddr: g.As4(), Ifindex: int32(r.cfg.IfIndex)})
		}
		opt := unix.IPV6_JOIN_GROUP
		if !join {
			opt = unix.IPV6_LEAVE_GROUP
		}
		return unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, opt, &unix.IPv6Mreq{Multiaddr: g.As16(), Interface: uint32(r.cfg.IfIndex)})
	})
	if err != nil {
		verb := "join"
		if !join {
			verb = "leave"
		}
		return fmt.Errorf("%s group %s on ifindex %d: %w", verb, g, r.cfg.IfIndex, err)
	}
	return nil
}

// Stats returns the receiver's counters.
func (r *Receiver) Stats() RecvStats {
	return RecvStats{Packets: r.packets.Load(), Malformed: r.malformed.Load()}
}

// Close closes the socket; a Run in progress returns.
func (r *Receiver) Close() error { return r.f.Close() }

// Run reads packets and calls fn for each, in the calling goroutine, until ctx is done
// (then it returns nil) or the socket fails. Each Packet's Payload is a fresh slice the
// callback may keep. Run must not be called concurrently with itself.
func (r *Receiver) Run(ctx context.Context, fn func(Packet)) error {
	if err := r.f.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("vrrp receive on ifindex %d: %w", r.cfg.IfIndex, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = r.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	rc, err := r.f.SyscallConn()
	if err != nil {
		return fmt.Errorf("vrrp receive on ifindex %d: %w", r.cfg.IfIndex, err)
	}
	buf := make([]byte, maxPacket)
	oob := make([]byte, 128)
	for {
		var n, oobn, flags int
		var from unix.Sockaddr
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, oobn, flags, from, rerr = unix.Recvmsg(int(fd), buf, oob, 0)
			return rerr != unix.EAGAIN
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.ENOBUFS) {
				continue
			}
			return fmt.Errorf("vrrp receive on ifindex %d: %w", r.cfg.IfIndex, err)
		}
		now := time.Now()
		if flags&unix.MSG_TRUNC != 0 {
			r.malformed.Add(1)
			continue
		}
		var p Packet
		var perr error
		if r.cfg.IPv6 {
			p, perr = parseIPv6(buf[:n], oob[:oobn], from)
		} else {
			p, perr = parseIPv4(buf[:n])
			p.IfIndex = r.cfg.IfIndex
		}
		if perr != nil {
			r.malformed.Add(1)
			continue
		}
		p.Payload = append([]byte(nil), p.Payload...)
		p.Time = now
		r.packets.Add(1)
		fn(p)
	}
}

var errNoAncillary = errors.New("missing hop limit or packet info")

// parseIPv6 builds a Packet from an IPv6 raw socket read: the payload, the IPV6_HOPLIMIT and
// IPV6_PKTINFO ancillary data, and the source address.
func parseIPv6(b, oob []byte, from unix.Sockaddr) (p Packet, err error) {
	sa, ok := from.(*unix.SockaddrInet6)
	if !ok {
		return p, errNoAncillary
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return p, err
	}
	var haveHops, haveInfo bool
	for _, m := range msgs {
		if m.Header.Level != unix.IPPROTO_IPV6 {
			continue
		}
		switch m.Header.Type {
		case unix.IPV6_HOPLIMIT:
			if len(m.Data) >= 4 {
				p.TTL = uint8(binary.NativeEndian.Uint32(m.Data))
				haveHops = true
			}
		case unix.IPV6_PKTINFO:
			if len(m.Data) >= int(unsafe.Sizeof(unix.Inet6Pktinfo{})) {
				p.Dst = netip.AddrFrom16([16]byte(m.Data[:16]))
				p.IfIndex = int(binary.NativeEndian.Uint32(m.Data[16:20]))
				haveInfo = true
			}
		}
	}
	if !haveHops || !haveInfo {
		return p, errNoAncillary
	}
	p.Src = netip.AddrFrom16(sa.Addr) // no zone: IfIndex says where it came from
	p.IPTotalLen = ipv6HeaderLen + len(b)
	p.Payload = b
	return p, nil
}
