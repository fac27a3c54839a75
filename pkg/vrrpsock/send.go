package vrrpsock

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SendStats counts what a Sender has done.
type SendStats struct {
	Packets  uint64 // accepted by the kernel
	Errors   uint64 // refused by the kernel or invalid
	Syscalls uint64 // sendmmsg / sendmsg calls made
}

// Sender sends adverts. It owns one IPv4 socket (IP_HDRINCL, so it writes the TOS, TTL and DF
// itself) and one IPv6 socket (traffic class, hop limit, source and interface per packet as
// ancillary data). Neither socket receives anything, and multicast loopback is off, so a host's
// own adverts never reach its receivers. A Sender is safe for concurrent use.
type Sender struct {
	mu       sync.Mutex
	v4, v6   *os.File
	b4, b6   batch
	packets  atomic.Uint64
	errs     atomic.Uint64
	syscalls atomic.Uint64
}

// NewSender opens the send sockets in the network namespace of the calling thread.
func NewSender() (*Sender, error) {
	v4, err := newRawSocket(unix.AF_INET, unix.IPPROTO_RAW, "vrrp4-send")
	if err != nil {
		return nil, fmt.Errorf("vrrp sender: %w", err)
	}
	err = control(v4, func(fd int) error {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_HDRINCL, 1); err != nil {
			return fmt.Errorf("ip_hdrincl: %w", err)
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0); err != nil {
			return fmt.Errorf("ip_multicast_loop: %w", err)
		}
		return nil
	})
	if err != nil {
		_ = v4.Close()
		return nil, fmt.Errorf("vrrp sender: %w", err)
	}
	v6, err := newRawSocket(unix.AF_INET6, Protocol, "vrrp6-send")
	if err != nil {
		_ = v4.Close()
		return nil, fmt.Errorf("vrrp sender: %w", err)
	}
	err = control(v6, func(fd int) error {
		if err := dropAll(fd); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, 0); err != nil {
			return fmt.Errorf("ipv6_multicast_loop: %w", err)
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, DefaultTTL); err != nil {
			return fmt.Errorf("ipv6_multicast_hops: %w", err)
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, TOS); err != nil {
			return fmt.Errorf("ipv6_tclass: %w", err)
		}
		return nil
	})
	if err != nil {
		_ = v4.Close()
		_ = v6.Close()
		return nil, fmt.Errorf("vrrp sender: %w", err)
	}
	return &Sender{v4: v4, v6: v6}, nil
}

// Close closes both sockets.
func (s *Sender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.v4.Close(), s.v6.Close())
}

// Stats returns the sender's counters.
func (s *Sender) Stats() SendStats {
	return SendStats{Packets: s.packets.Load(), Errors: s.errs.Load(), Syscalls: s.syscalls.Load()}
}

// PacketError is the failure of one packet of a batch.
type PacketError struct {
	Index int // position in the batch given to Send
	Dst   netip.Addr
	Err   error
}

func (e *PacketError) Error() string {
	return fmt.Sprintf("send vrrp packet %d to %s: %v", e.Index, e.Dst, e.Err)
}

func (e *PacketError) Unwrap() error { return e.Err }

// Send sends every packet of the batch: the IPv4 ones with one sendmmsg call and the IPv6 ones
// with another (more only if the kernel accepts part of a batch). A packet the kernel refuses
// does not stop the others; the result joins one *PacketError per failed packet.
func (s *Sender) Send(batch []Outgoing) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	s.b4.reset()
	s.b6.reset()
	for i, o := range batch {
		switch {
		case o.Dst.Is4():
			s.b4.add4(i, o)
		case o.Dst.Is6() && !o.Dst.Is4In6():
			if o.Src.IsValid() && !o.Src.Is6() {
				errs = append(errs, &PacketError{Index: i, Dst: o.Dst, Err: errors.New("ipv4 source for an ipv6 destination")})
				continue
			}
			s.b6.add6(i, o)
		default:
			errs = append(errs, &PacketError{Index: i, Dst: o.Dst, Err: errors.New("invalid destination")})
		}
	}
	errs = append(errs, s.flush(s.v4, &s.b4, batch)...)
	errs = append(errs, s.flush(s.v6, &s.b6, batch)...)
	s.errs.Add(uint64(len(errs)))
	return errors.Join(errs...)
}

// flush sends a prepared batch with sendmmsg, skipping over a packet the kernel refuses.
func (s *Sender) flush(f *os.File, b *batch, batch []Outgoing) []error {
	if len(b.msgs) == 0 {
		return nil
	}
	b.finish()
	rc, err := f.SyscallConn()
	if err != nil {
		return []error{fmt.Errorf("send vrrp: %w", err)}
	}
	var errs []error
	for next := 0; next < len(b.msgs); {
		var n int
		var serr error
		err := rc.Write(func(fd uintptr) bool {
			s.syscalls.Add(1)
			r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[next])), uintptr(len(b.msgs)-next), 0, 0, 0)
			if e == unix.EAGAIN {
				return false
			}
			n, serr = int(r), nil
			if e != 0 {
				n, serr = 0, e
			}
			return true
		})
		if err != nil { // the socket itself is unusable (closed): every remaining packet fails
			for ; next < len(b.msgs); next++ {
				i := b.index[next]
				errs = append(errs, &PacketError{Index: i, Dst: batch[i].Dst, Err: err})
			}
			break
		}
		if serr == nil && n <= 0 {
			serr = unix.EIO // sendmmsg sends at least one or fails; never loop on nothing
		}
		if err = serr; err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			// The packet at next is the one the kernel refused; report it and go on.
			i := b.index[next]
			errs = append(errs, &PacketError{Index: i, Dst: batch[i].Dst, Err: err})
			next++
			continue
		}
		s.packets.Add(uint64(n))
		next += n
	}
	return errs
}

// batch holds the kernel structures of one sendmmsg call, reused from tick to tick.
type batch struct {
	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec // two per message: IPv4 header (or nothing) and payload
	hdrs  []byte       // IPv4 headers, 20 bytes per message
	v4    []unix.RawSockaddrInet4
	v6    []unix.RawSockaddrInet6
	oob   []byte // IPv6 ancillary data, oob6Len per message
	index []int  // position in the caller's batch
	pays  [][]byte
}

var oob6Len = unix.CmsgSpace(int(unsafe.Sizeof(unix.Inet6Pktinfo{}))) + unix.CmsgSpace(4)

func (b *batch) reset() {
	b.msgs, b.iovs, b.hdrs, b.v4, b.v6, b.oob, b.index, b.pays =
		b.msgs[:0], b.iovs[:0], b.hdrs[:0], b.v4[:0], b.v6[:0], b.oob[:0], b.index[:0], b.pays[:0]
}

func ttlOf(o Outgoing) uint8 {
	if o.TTL == 0 {
		return DefaultTTL
	}
	return o.TTL
}

func (b *batch) add4(i int, o Outgoing) {
	off := len(b.hdrs)
	b.hdrs = append(b.hdrs, make([]byte, ipv4HeaderLen)...)
	putIPv4Header(b.hdrs[off:], o.Src, o.Dst, ttlOf(o), len(o.Payload))
	b.v4 = append(b.v4, unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: o.Dst.As4()})
	b.index = append(b.index, i)
	b.pays = append(b.pays, o.Payload)
	b.msgs = append(b.msgs, unix.Mmsghdr{})
	// IP_PKTINFO picks the interface per packet; the header already holds the source.
	b.oob = append(b.oob, make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.Inet4Pktinfo{}))))...)
	putCmsg(b.oob[len(b.oob)-unix.CmsgSpace(int(unsafe.Sizeof(unix.Inet4Pktinfo{}))):], unix.IPPROTO_IP, unix.IP_PKTINFO,
		unsafe.Slice((*byte)(unsafe.Pointer(&unix.Inet4Pktinfo{Ifindex: int32(o.IfIndex)})), unsafe.Sizeof(unix.Inet4Pktinfo{})))
}

func (b *batch) add6(i int, o Outgoing) {
	sa := unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: o.Dst.As16()}
	if o.Dst.IsLinkLocalUnicast() || o.Dst.IsLinkLocalMulticast() || o.Dst.IsInterfaceLocalMulticast() {
		sa.Scope_id = uint32(o.IfIndex)
	}
	b.v6 = append(b.v6, sa)
	b.index = append(b.index, i)
	b.pays = append(b.pays, o.Payload)
	b.msgs = append(b.msgs, unix.Mmsghdr{})
	off := len(b.oob)
	b.oob = append(b.oob, make([]byte, oob6Len)...)
	info := unix.Inet6Pktinfo{Ifindex: uint32(o.IfIndex)}
	if o.Src.IsValid() {
		info.Addr = o.Src.As16()
	}
	n := putCmsg(b.oob[off:], unix.IPPROTO_IPV6, unix.IPV6_PKTINFO,
		unsafe.Slice((*byte)(unsafe.Pointer(&info)), unsafe.Sizeof(info)))
	hops := int32(ttlOf(o))
	putCmsg(b.oob[off+n:], unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT,
		unsafe.Slice((*byte)(unsafe.Pointer(&hops)), 4))
}

// finish points every message at its buffers, once the slices have stopped growing.
func (b *batch) finish() {
	b.iovs = b.iovs[:0]
	for range b.msgs {
		b.iovs = append(b.iovs, unix.Iovec{}, unix.Iovec{})
	}
	is4 := len(b.v4) > 0
	oobOff := 0
	for k := range b.msgs {
		h := &b.msgs[k].Hdr
		*h = unix.Msghdr{}
		iov := b.iovs[2*k : 2*k+2]
		niov := 0
		if is4 {
			hdr := b.hdrs[k*ipv4HeaderLen : (k+1)*ipv4HeaderLen]
			iov[0].Base = &hdr[0]
			iov[0].SetLen(len(hdr))
			niov = 1
		}
		if p := b.pays[k]; len(p) > 0 {
			iov[niov].Base = &p[0]
			iov[niov].SetLen(len(p))
			niov++
		}
		h.Iov = &iov[0]
		h.SetIovlen(niov)
		var oobLen int
		if is4 {
			h.Name = (*byte)(unsafe.Pointer(&b.v4[k]))
			h.Namelen = unix.SizeofSockaddrInet4
			oobLen = unix.CmsgSpace(int(unsafe.Sizeof(unix.Inet4Pktinfo{})))
		} else {
			h.Name = (*byte)(unsafe.Pointer(&b.v6[k]))
			h.Namelen = unix.SizeofSockaddrInet6
			oobLen = oob6Len
		}
		h.Control = &b.oob[oobOff]
		h.SetControllen(oobLen)
		oobOff += oobLen
	}
}

// putCmsg writes one control message into b and returns the space it took.
func putCmsg(b []byte, level, typ int, data []byte) int {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = int32(level)
	h.Type = int32(typ)
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return unix.CmsgSpace(len(data))
}

// sendEach sends a prepared batch with one sendmsg per packet: the baseline the benchmark
// compares sendmmsg with.
func (s *Sender) sendEach(out []Outgoing) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b4.reset()
	s.b6.reset()
	for i, o := range out {
		if o.Dst.Is4() {
			s.b4.add4(i, o)
		} else {
			s.b6.add6(i, o)
		}
	}
	for _, fb := range []struct {
		f *os.File
		b *batch
	}{{s.v4, &s.b4}, {s.v6, &s.b6}} {
		if len(fb.b.msgs) == 0 {
			continue
		}
		fb.b.finish()
		rc, err := fb.f.SyscallConn()
		if err != nil {
			return err
		}
		for k := range fb.b.msgs {
			var serr error
			err := rc.Write(func(fd uintptr) bool {
				s.syscalls.Add(1)
				_, _, e := unix.Syscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&fb.b.msgs[k].Hdr)), 0)
				if e == unix.EAGAIN {
					return false
				}
				if e != 0 {
					serr = e
				}
				return true
			})
			if err == nil {
				err = serr
			}
			if err != nil {
				return fmt.Errorf("sendmsg: %w", err)
			}
			s.packets.Add(1)
		}
	}
	return nil
}
