package vrrpsock

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"sync"
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
	// RecvBuffer is the socket receive buffer in bytes (keepalived's kernel_rx_buf_size);
	// 0 means DefaultRecvBuffer. It is set with SO_RCVBUFFORCE, so net.core.rmem_max does not
	// cap it, or with SO_RCVBUF without CAP_NET_ADMIN.
	RecvBuffer int
	// Coalesce is the least time between two receive system calls while packets arrive
	// densely (the previous two reads less than 2*Coalesce apart and the last batch not
	// full): the reader then waits until Coalesce after its previous read and takes what
	// queued meanwhile in one call. A keepalived master of 255 instances at 10 ms sends its
	// 25,500 adverts/s one by one, evenly spread; read as they come, each costs the reader a
	// wake-up and the consumer another, about a core's worth at that rate. 0 reads every
	// packet as soon as it arrives. Sparse traffic is never delayed.
	Coalesce time.Duration
}

// DefaultRecvBuffer is the receive buffer of a Receiver unless ListenConfig says otherwise.
// One advert costs the buffer about 1 KiB of kernel memory (the skb, not the 40 bytes on the
// wire), so the kernel's usual 208 KiB hold about 200 adverts: 8 ms of 255 instances at 10 ms,
// shorter than a busy machine may keep the reader from running. 4 MiB hold about 160 ms of that
// load, well past the master-down interval; the memory is charged only while adverts queue.
const DefaultRecvBuffer = 4 << 20

// RecvStats counts what a Receiver has seen.
type RecvStats struct {
	Packets   uint64 // delivered to the callback
	Malformed uint64 // dropped: truncated or malformed IP header, missing ancillary data
	Syscalls  uint64 // receive system calls made
	// Overflows counts packets the kernel dropped because the socket's receive buffer was
	// full (SO_RXQ_OVFL): adverts lost before the daemon could read them.
	Overflows uint64
}

// Receiver reads VRRP packets from one interface and family: multicast to the groups it
// joined and unicast to any local address. A receiver stays bound to the interface index it
// was made for; if the interface is deleted it just receives nothing, so the daemon closes it
// and listens again when the interface comes back (with a new index).
type Receiver struct {
	cfg       ListenConfig
	f         *os.File
	packets   atomic.Uint64
	malformed atomic.Uint64
	syscalls  atomic.Uint64
	overflows atomic.Uint64 // the kernel's drop counter, as last reported with a packet

	pollMu   sync.Mutex // one Poll at a time; Run reads with its own ring
	pollRing *rxRing
	// handing: Run read packets and has not yet returned from handing them to its callback.
	// Poll waits for that, so that when it returns, every packet that left the socket before
	// it did has been handed to one callback or the other.
	handing atomic.Bool
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
	f, err := newBlockingRawSocket(fam, Protocol, name)
	if err != nil {
		return nil, fmt.Errorf("listen vrrp on ifindex %d: %w", cfg.IfIndex, err)
	}
	r := &Receiver{cfg: cfg, f: f}
	err = control(f, func(fd int) error {
		// A blocking read returns this often when nothing arrives, to see that Run should end.
		tv := unix.NsecToTimeval(rxWake.Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return fmt.Errorf("receive timeout: %w", err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BINDTOIFINDEX, cfg.IfIndex); err != nil {
			return fmt.Errorf("bind to device: %w", err)
		}
		size := cfg.RecvBuffer
		if size <= 0 {
			size = DefaultRecvBuffer
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size); err != nil {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, size); err != nil {
				return fmt.Errorf("set receive buffer: %w", err)
			}
		}
		// Each packet carries the socket's drop count, so losses show in Stats.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1); err != nil {
			return fmt.Errorf("rxq_ovfl: %w", err)
		}
		// Only the groups joined on this socket, not every group some socket of the host joined.
		if cfg.IPv6 {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL, 0); err != nil {
				return fmt.Errorf("ipv6 multicast_all: %w", err)
			}
		} else if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0); err != nil {
			return fmt.Errorf("ip multicast_all: %w", err)
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
	return RecvStats{Packets: r.packets.Load(), Malformed: r.malformed.Load(), Syscalls: r.syscalls.Load(),
		Overflows: r.overflows.Load()}
}

// Close closes the socket; a Run in progress returns nil (within rxWake).
func (r *Receiver) Close() error { return r.f.Close() }

// Run reads packets and calls fn for each, in the calling goroutine, until ctx is done
// (then it returns nil) or the socket fails. Packets are read with recvmmsg(2), up to
// RecvBatch per system call when they queue up. Each Packet's Payload is a fresh slice the
// callback may keep. Run must not be called concurrently with itself.
func (r *Receiver) Run(ctx context.Context, fn func(Packet)) error {
	return r.run(ctx, func(ps []Packet) {
		for _, p := range ps {
			fn(p)
		}
	}, RecvBatch)
}

// RunBatch is Run with one call of fn per receive system call, with every packet it read (up
// to RecvBatch), so that a consumer can hand them on together: with hundreds of instances at
// 10 ms, packets queue up whenever the reader is late, and one hand-over per batch instead of
// per packet keeps the consumer's queue short. The slice is reused after fn returns; the
// Packets (and their Payloads) may be kept.
func (r *Receiver) RunBatch(ctx context.Context, fn func([]Packet)) error {
	return r.run(ctx, fn, RecvBatch)
}

// RecvBatch is how many packets one receive system call can return.
const RecvBatch = 32

// recvBufSize holds the largest valid VRRP packet with room to spare: IPv6 with 255 addresses
// is 4088 bytes, IPv4 with 255 addresses and a full IP header 1096. Longer datagrams are
// counted as malformed.
const recvBufSize = 4160

const recvOOBSize = 96 // IPV6_PKTINFO (40), IPV6_HOPLIMIT (24) and SO_RXQ_OVFL (24)

// rxWake is the receive timeout of a Receiver's blocking socket: how soon a Run whose context
// ended, or whose Receiver was closed, returns while nothing arrives.
const rxWake = 100 * time.Millisecond

// run reads with blocking recvmmsg calls on the socket, outside the runtime's poller: a socket
// in the poller (edge-triggered epoll) wakes a thread for every packet that arrives, even while
// the reader waits out its Coalesce period, which would undo the coalescing. A blocking read
// wakes only its own thread, and only when it waits.
func (r *Receiver) run(ctx context.Context, fn func([]Packet), batch int) error {
	rc, err := r.f.SyscallConn()
	if err != nil {
		return fmt.Errorf("vrrp receive on ifindex %d: %w", r.cfg.IfIndex, err)
	}
	ring := newRxRing(batch)
	out := make([]Packet, 0, batch)
	var pace pacer
	pace.every = r.cfg.Coalesce
	for {
		if d := pace.wait(time.Now()); d > 0 {
			if !pace.sleep(ctx, d) {
				return nil
			}
		}
		var n int
		var rerr error
		if ctx.Err() != nil {
			return nil
		}
		err := rc.Read(func(fd uintptr) bool {
			r.syscalls.Add(1)
			// MSG_WAITFORONE: block for the first packet only, then take what is queued.
			r1, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&ring.msgs[0])), uintptr(len(ring.msgs)), unix.MSG_WAITFORONE, 0, 0)
			n, rerr = int(r1), nil
			if e != 0 {
				n, rerr = 0, e
			}
			if n > 0 {
				r.handing.Store(true)
			}
			return true
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
				return nil
			}
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.ENOBUFS) {
				continue // EAGAIN: the receive timeout, nothing arrived
			}
			return fmt.Errorf("vrrp receive on ifindex %d: %w", r.cfg.IfIndex, err)
		}
		now := time.Now()
		pace.read(now, n == batch)
		out = r.collect(ring, n, now, out[:0])
		ring.rearm(n)
		if len(out) > 0 {
			r.packets.Add(uint64(len(out)))
			fn(out)
			clear(out)
		}
		r.handing.Store(false)
	}
}

// collect parses the n messages of ring into out, each Payload in one fresh allocation for
// the batch (each packet its own slice, capacity clipped, that nothing else writes to).
func (r *Receiver) collect(ring *rxRing, n int, now time.Time, out []Packet) []Packet {
	size := 0
	for i := range n {
		size += int(ring.msgs[i].Len)
	}
	slab := make([]byte, 0, size)
	for i := range n {
		m := &ring.msgs[i]
		if m.Hdr.Flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
			r.malformed.Add(1)
			continue
		}
		buf := ring.buf(i)[:m.Len]
		oob := ring.oob(i)[:m.Hdr.Controllen]
		if d, ok := dropCount(oob); ok {
			r.overflows.Store(uint64(d))
		}
		var p Packet
		var perr error
		if r.cfg.IPv6 {
			p, perr = parseIPv6(buf, oob, ring.names[i].Addr)
		} else {
			p, perr = parseIPv4(buf)
			p.IfIndex = r.cfg.IfIndex
		}
		if perr != nil {
			r.malformed.Add(1)
			continue
		}
		off := len(slab)
		slab = append(slab, p.Payload...)
		p.Payload = slab[off:len(slab):len(slab)]
		p.Time = now
		out = append(out, p)
	}
	return out
}

// Poll reads what waits in the socket now, without blocking, and calls fn with it (batches of
// up to RecvBatch, as RunBatch does; the slice is not reused). It may run while Run or
// RunBatch runs on another goroutine: each packet goes to one of them, and Poll returns only
// once Run has handed on what it had read (or after handWait), calling idle (if not nil)
// meanwhile: Run's callback may be waiting for the caller, e.g. for room in a queue that only
// the caller empties. A consumer whose own goroutine was kept from running (a loaded machine)
// polls before acting on silence, so that adverts that arrived meanwhile count first,
// whatever the reading goroutine is doing.
func (r *Receiver) Poll(fn func([]Packet), idle func()) error {
	r.pollMu.Lock()
	defer r.pollMu.Unlock()
	if r.pollRing == nil {
		r.pollRing = newRxRing(RecvBatch)
	}
	rc, err := r.f.SyscallConn()
	if err != nil {
		return fmt.Errorf("vrrp poll on ifindex %d: %w", r.cfg.IfIndex, err)
	}
	ring := r.pollRing
	defer r.waitHanding(idle)
	// A bounded number of rounds: the socket may fill as fast as it is read.
	for range 64 {
		var n int
		var rerr error
		err := rc.Control(func(fd uintptr) {
			r.syscalls.Add(1)
			r1, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&ring.msgs[0])), uintptr(len(ring.msgs)), unix.MSG_DONTWAIT, 0, 0)
			n = int(r1)
			if e != 0 {
				n, rerr = 0, e
			}
		})
		if err == nil {
			err = rerr
		}
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) || errors.Is(err, os.ErrClosed) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("vrrp poll on ifindex %d: %w", r.cfg.IfIndex, err)
		}
		out := r.collect(ring, n, time.Now(), nil)
		ring.rearm(n)
		if len(out) > 0 {
			r.packets.Add(uint64(len(out)))
			fn(out)
		}
		if n < len(ring.msgs) {
			return nil
		}
	}
	return nil
}

// handWait bounds how long Poll waits for Run to hand over what it read: a callback that
// blocks (a full consumer queue) must not stall the poller for long.
const handWait = 20 * time.Millisecond

// handNap is how long the poller's thread sleeps between two looks at Run: a plain
// nanosleep of the calling thread, which wakes that thread itself (a goroutine locked to a
// realtime thread that yielded to the Go scheduler would wait for some other thread of the
// runtime to hand it back).
const handNap = 20 * time.Microsecond

// waitHanding waits until Run has handed over what it read, or handWait passed, calling
// idle between looks.
func (r *Receiver) waitHanding(idle func()) {
	if !r.handing.Load() {
		return
	}
	deadline := time.Now().Add(handWait)
	nap := unix.NsecToTimespec(handNap.Nanoseconds())
	for r.handing.Load() && time.Now().Before(deadline) {
		if idle != nil {
			idle()
			if !r.handing.Load() {
				return
			}
		}
		_ = unix.Nanosleep(&nap, nil)
	}
}

// pacer spaces the reads of a Receiver by its Coalesce while packets arrive densely.
type pacer struct {
	every time.Duration
	prev  time.Time // the last read that returned packets
	next  time.Time // no read before this
	timer *time.Timer
}

// read records a read at now that returned packets (full: as many as one call takes).
func (p *pacer) read(now time.Time, full bool) {
	if p.every <= 0 {
		return
	}
	dense := !p.prev.IsZero() && now.Sub(p.prev) < 2*p.every
	p.prev = now
	p.next = time.Time{}
	if dense && !full {
		p.next = now.Add(p.every)
	}
}

// wait returns how long to wait before the next read.
func (p *pacer) wait(now time.Time) time.Duration {
	if p.next.IsZero() {
		return 0
	}
	return p.next.Sub(now)
}

// sleep waits d; false if ctx ended first.
func (p *pacer) sleep(ctx context.Context, d time.Duration) bool {
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	select {
	case <-ctx.Done():
		p.timer.Stop()
		return false
	case <-p.timer.C:
		return true
	}
}

// rxRing holds the kernel structures of one recvmmsg call, reused from call to call.
type rxRing struct {
	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec
	bufs  []byte
	oobs  []byte
	names []unix.RawSockaddrInet6
}

func newRxRing(n int) *rxRing {
	r := &rxRing{
		msgs:  make([]unix.Mmsghdr, n),
		iovs:  make([]unix.Iovec, n),
		bufs:  make([]byte, n*recvBufSize),
		oobs:  make([]byte, n*recvOOBSize),
		names: make([]unix.RawSockaddrInet6, n),
	}
	for i := range n {
		r.iovs[i].Base = &r.bufs[i*recvBufSize]
		r.iovs[i].SetLen(recvBufSize)
		h := &r.msgs[i].Hdr
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Control = &r.oobs[i*recvOOBSize]
	}
	r.rearm(n)
	return r
}

// rearm resets what the kernel wrote into the first n headers.
func (r *rxRing) rearm(n int) {
	for i := range n {
		h := &r.msgs[i].Hdr
		h.Namelen = unix.SizeofSockaddrInet6
		h.SetControllen(recvOOBSize)
		h.Flags = 0
		r.msgs[i].Len = 0
	}
}

func (r *rxRing) buf(i int) []byte { return r.bufs[i*recvBufSize : (i+1)*recvBufSize] }
func (r *rxRing) oob(i int) []byte { return r.oobs[i*recvOOBSize : (i+1)*recvOOBSize] }

var (
	errNoAncillary = errors.New("missing hop limit or packet info")
	errBadCmsg     = errors.New("malformed control message")
)

// parseIPv6 builds a Packet from an IPv6 raw socket read: the payload, the IPV6_HOPLIMIT and
// IPV6_PKTINFO ancillary data, and the source address.
func parseIPv6(b, oob []byte, src [16]byte) (p Packet, err error) {
	var haveHops, haveInfo bool
	err = walkCmsgs(oob, func(level, typ int32, data []byte) {
		if level != unix.IPPROTO_IPV6 {
			return
		}
		switch typ {
		case unix.IPV6_HOPLIMIT:
			if len(data) >= 4 {
				p.TTL = uint8(binary.NativeEndian.Uint32(data))
				haveHops = true
			}
		case unix.IPV6_PKTINFO:
			if len(data) >= int(unsafe.Sizeof(unix.Inet6Pktinfo{})) {
				p.Dst = netip.AddrFrom16([16]byte(data[:16]))
				p.IfIndex = int(binary.NativeEndian.Uint32(data[16:20]))
				haveInfo = true
			}
		}
	})
	if err != nil {
		return p, err
	}
	if !haveHops || !haveInfo {
		return p, errNoAncillary
	}
	p.Src = netip.AddrFrom16(src) // no zone: IfIndex says where it came from
	p.IPTotalLen = ipv6HeaderLen + len(b)
	p.Payload = b
	return p, nil
}

// dropCount returns the socket's drop counter from an SO_RXQ_OVFL control message; the kernel
// adds one only once the socket has dropped something.
func dropCount(oob []byte) (uint32, bool) {
	var d uint32
	var ok bool
	_ = walkCmsgs(oob, func(level, typ int32, data []byte) {
		if level == unix.SOL_SOCKET && typ == unix.SO_RXQ_OVFL && len(data) >= 4 {
			d, ok = binary.NativeEndian.Uint32(data), true
		}
	})
	return d, ok
}

// walkCmsgs calls fn for each control message in oob without allocating.
func walkCmsgs(oob []byte, fn func(level, typ int32, data []byte)) error {
	hdr := unix.CmsgLen(0)
	lenSize := int(unsafe.Sizeof(unix.Cmsghdr{}.Len)) // size_t
	for len(oob) >= hdr {
		var l uint64
		if lenSize == 8 {
			l = binary.NativeEndian.Uint64(oob)
		} else {
			l = uint64(binary.NativeEndian.Uint32(oob))
		}
		if l < uint64(hdr) || l > uint64(len(oob)) {
			return errBadCmsg
		}
		level := int32(binary.NativeEndian.Uint32(oob[lenSize:]))
		typ := int32(binary.NativeEndian.Uint32(oob[lenSize+4:]))
		fn(level, typ, oob[hdr:l])
		next := unix.CmsgSpace(int(l) - hdr)
		if next >= len(oob) {
			break
		}
		oob = oob[next:]
	}
	return nil
}
