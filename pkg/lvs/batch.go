package lvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The IPVS generic netlink interface (include/uapi/linux/ip_vs.h).
const (
	ipvsGenlName    = "IPVS"
	ipvsGenlVersion = 1

	cmdNewService = 1
	cmdSetService = 2
	cmdDelService = 3
	cmdNewDest    = 5
	cmdSetDest    = 6
	cmdDelDest    = 7

	attrService = 1
	attrDest    = 2

	svcAF        = 1
	svcProtocol  = 2
	svcAddr      = 3
	svcPort      = 4
	svcFWMark    = 5
	svcSchedName = 6
	svcFlags     = 7
	svcTimeout   = 8
	svcNetmask   = 9
	svcPEName    = 11

	destAddr      = 1
	destPort      = 2
	destFwdMethod = 3
	destWeight    = 4
	destUThresh   = 5
	destLThresh   = 6
)

// batchSize bounds the requests sent in one sendmsg, so that their acknowledgements fit the
// receive buffer.
const batchSize = 256

// op is one change to the kernel's table.
type op struct {
	cmd  uint8
	svc  Service
	dest *Destination
}

func (o op) String() string {
	names := map[uint8]string{cmdNewService: "add service", cmdSetService: "update service", cmdDelService: "delete service",
		cmdNewDest: "add destination", cmdSetDest: "update destination", cmdDelDest: "delete destination"}
	if o.dest != nil {
		return fmt.Sprintf("service %s: %s %s", o.svc.Key, names[o.cmd], netip.AddrPortFrom(o.dest.Address, o.dest.Port))
	}
	return fmt.Sprintf("service %s: %s", o.svc.Key, names[o.cmd])
}

// writer sends IPVS changes many to a sendmsg and collects one acknowledgement per change.
// moby/ipvs waits for each reply before sending the next request; on a table of 10,000
// destinations that round trip dominates, so writes go through here and reads through moby/ipvs.
type writer struct {
	sock   *nl.NetlinkSocket // kept: the fd is closed when the socket is collected
	fd     int
	family uint16
	seq    uint32
	buf    []byte
}

func newWriter(nsPath string) (*writer, error) {
	fam, err := netlink.GenlFamilyGet(ipvsGenlName)
	if err != nil {
		return nil, fmt.Errorf("%w: generic netlink family IPVS: %v", ErrNoIPVS, err)
	}
	target := netns.None()
	if nsPath != "" {
		if target, err = netns.GetFromPath(nsPath); err != nil {
			return nil, fmt.Errorf("netns %s: %w", nsPath, err)
		}
		defer target.Close()
	}
	s, err := nl.GetNetlinkSocketAt(target, netns.None(), unix.NETLINK_GENERIC)
	if err != nil {
		return nil, fmt.Errorf("ipvs netlink socket: %w", err)
	}
	fd := s.GetFd()
	// Acknowledgements of a whole batch must fit; root may exceed rmem_max.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1) // acks without the request echoed
	tv := unix.Timeval{Sec: 30}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return &writer{sock: s, fd: fd, family: fam.ID, seq: 1}, nil
}

func (w *writer) close() { w.sock.Close() }

// run executes ops in order, batchSize at a time, and returns the ops that succeeded and the
// errors of those that failed. The kernel carries on after a failed request.
func (w *writer) run(ops []op) (done []op, errs []error) {
	for len(ops) > 0 {
		n := min(len(ops), batchSize)
		d, e := w.batch(ops[:n])
		done, errs = append(done, d...), append(errs, e...)
		ops = ops[n:]
	}
	return done, errs
}

func (w *writer) batch(ops []op) (done []op, errs []error) {
	w.buf = w.buf[:0]
	first := w.seq
	for _, o := range ops {
		w.buf = appendRequest(w.buf, w.family, w.seq, o)
		w.seq++
	}
	if err := unix.Sendto(w.fd, w.buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, []error{fmt.Errorf("ipvs netlink send: %w", err)}
	}
	acked := make([]bool, len(ops))
	pending := len(ops)
	rb := make([]byte, 1<<16)
	for pending > 0 {
		n, _, err := unix.Recvfrom(w.fd, rb, 0)
		if err != nil {
			errs = append(errs, fmt.Errorf("ipvs netlink receive (%d requests unanswered): %w", pending, err))
			return done, errs
		}
		msgs, err := syscall.ParseNetlinkMessage(rb[:n])
		if err != nil {
			return done, append(errs, fmt.Errorf("ipvs netlink reply: %w", err))
		}
		for _, m := range msgs {
			i := int(m.Header.Seq - first)
			if m.Header.Type != unix.NLMSG_ERROR || i < 0 || i >= len(ops) || acked[i] || len(m.Data) < 4 {
				continue
			}
			acked[i] = true
			pending--
			if code := int32(binary.NativeEndian.Uint32(m.Data[:4])); code != 0 {
				errs = append(errs, &opError{op: ops[i], key: ops[i].svc.Key, err: schedHint(ops[i], unix.Errno(-code))})
				continue
			}
			done = append(done, ops[i])
		}
	}
	return done, errs
}

// appendRequest encodes one IPVS request with NLM_F_ACK.
func appendRequest(b []byte, family uint16, seq uint32, o op) []byte {
	start := len(b)
	b = appendHeader(b, family, seq, o.cmd)

	full := o.cmd == cmdNewService || o.cmd == cmdSetService
	if o.cmd == cmdGetDest {
		o.dest = nil
	}
	s := o.svc
	nest := len(b)
	b = attrHeader(b, attrService)
	b = attrU16(b, svcAF, s.Family)
	if s.FWMark != 0 {
		b = attrU32(b, svcFWMark, s.FWMark)
	} else {
		b = attrU16(b, svcProtocol, uint16(s.Protocol))
		b = attrBytes(b, svcAddr, s.Address.AsSlice())
		b = attrBytes(b, svcPort, binary.BigEndian.AppendUint16(nil, s.Port))
	}
	if full || (o.dest != nil && o.cmd != cmdGetDest) {
		// The kernel wants a full service description with destination commands too.
		b = attrBytes(b, svcSchedName, append([]byte(s.Scheduler), 0))
		if s.PEName != "" {
			b = attrBytes(b, svcPEName, append([]byte(s.PEName), 0))
		}
		fl := binary.NativeEndian.AppendUint32(nil, s.Flags)
		fl = binary.NativeEndian.AppendUint32(fl, ^uint32(0))
		b = attrBytes(b, svcFlags, fl)
		b = attrU32(b, svcTimeout, s.Timeout)
		b = attrU32(b, svcNetmask, wireNetmask(s.Family, s.Netmask))
	}
	b = endNest(b, nest)
	if d := o.dest; d != nil {
		nest = len(b)
		b = attrHeader(b, attrDest)
		b = attrBytes(b, destAddr, d.Address.AsSlice())
		b = attrBytes(b, destPort, binary.BigEndian.AppendUint16(nil, d.Port))
		if o.cmd != cmdDelDest {
			b = attrU32(b, destFwdMethod, uint32(d.Forward))
			b = attrU32(b, destWeight, uint32(d.Weight))
			b = attrU32(b, destUThresh, d.UpperThreshold)
			b = attrU32(b, destLThresh, d.LowerThreshold)
			// Tunnel encapsulation (kernel 5.3 for GUE, 5.5 for GRE): sent only when not the
			// ipip default, so older kernels see the requests they know.
			if d.Forward == TUN && (d.TunnelType != TunnelIPIP || d.TunnelPort != 0 || d.TunnelFlags != 0) {
				b = attrBytes(b, destTunType, []byte{byte(d.TunnelType)})
				b = attrBytes(b, destTunPort, binary.BigEndian.AppendUint16(nil, d.TunnelPort))
				b = attrU16(b, destTunFlags, d.TunnelFlags)
			}
		}
		b = endNest(b, nest)
	}
	binary.NativeEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// appendHeader starts an IPVS generic netlink request with NLM_F_ACK; the caller patches the
// length (first 4 bytes from where it started) when the message is complete.
func appendHeader(b []byte, family uint16, seq uint32, cmd uint8) []byte {
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = binary.NativeEndian.AppendUint16(b, family)
	b = binary.NativeEndian.AppendUint16(b, unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	return append(b, cmd, ipvsGenlVersion, 0, 0)
}

func attrHeader(b []byte, typ uint16) []byte {
	b = binary.NativeEndian.AppendUint16(b, 0)
	return binary.NativeEndian.AppendUint16(b, typ) // no NLA_F_NESTED, as ipvsadm and moby/ipvs send it
}

func endNest(b []byte, at int) []byte {
	binary.NativeEndian.PutUint16(b[at:], uint16(len(b)-at))
	return b
}

func attrBytes(b []byte, typ uint16, v []byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(4+len(v)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func attrU16(b []byte, typ, v uint16) []byte {
	return attrBytes(b, typ, binary.NativeEndian.AppendUint16(nil, v))
}

func attrU32(b []byte, typ uint16, v uint32) []byte {
	return attrBytes(b, typ, binary.NativeEndian.AppendUint32(nil, v))
}

var errClosed = errors.New("ipvs reconciler is closed")

// opError is a failed request.
type opError struct {
	op  op
	key Key
	err error
}

func (e *opError) Error() string { return fmt.Sprintf("%s: %v", e.op, e.err) }
func (e *opError) Unwrap() error { return e.err }

// joinLimited joins errors, keeping the first ten: one missing scheduler can fail thousands of
// requests, and the first few say why.
func joinLimited(errs []error) error {
	if len(errs) > 10 {
		errs = append(errs[:10:10], fmt.Errorf("and %d more errors", len(errs)-10))
	}
	return errors.Join(errs...)
}

// Destination attributes only read (include/uapi/linux/ip_vs.h).
const (
	cmdGetDest      = 8
	destAddrFamily  = 11
	destTunType     = 13 // after IPVS_DEST_ATTR_STATS64 (12)
	destTunPort     = 14
	destTunFlags    = 15
	destActiveConns = 7
)

// dests dumps the destinations of one service. moby/ipvs v1.1.0 reads neither the tunnel type
// nor its port and flags, so destinations are read here, with the same socket the writes use.
func (w *writer) dests(s Service) ([]Destination, error) {
	var out []Destination
	w.buf = appendRequest(w.buf[:0], w.family, w.seq, op{cmd: cmdGetDest, svc: s})
	err := w.dump(w.buf, attrDest, func(v []byte) { out = append(out, parseDest(v, s.Family)) })
	if err != nil {
		return nil, fmt.Errorf("read destinations of %s: %w", s.Key, err)
	}
	return out, nil
}

// dump sends req (one request, its sequence number w.seq) as a dump and calls fn with the
// value of every top-level attribute of type typ in the replies.
func (w *writer) dump(req []byte, typ uint16, fn func([]byte)) error {
	seq := w.seq
	w.seq++
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	if err := unix.Sendto(w.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("ipvs netlink send: %w", err)
	}
	rb := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(w.fd, rb, 0)
		if err != nil {
			return fmt.Errorf("ipvs netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(rb[:n])
		if err != nil {
			return fmt.Errorf("ipvs netlink reply: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return nil
			case unix.NLMSG_ERROR:
				if code := int32(binary.NativeEndian.Uint32(m.Data[:4])); code != 0 {
					return unix.Errno(-code)
				}
				return nil
			}
			if len(m.Data) < 4 {
				continue
			}
			for t, v := range attrs(m.Data[4:]) {
				if t == typ {
					fn(v)
				}
			}
		}
	}
}

// request sends req (one acknowledged request, its sequence number w.seq) and returns the
// kernel's verdict as an errno.
func (w *writer) request(req []byte) error {
	seq := w.seq
	w.seq++
	if err := unix.Sendto(w.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("ipvs netlink send: %w", err)
	}
	rb := make([]byte, 4096)
	for {
		n, _, err := unix.Recvfrom(w.fd, rb, 0)
		if err != nil {
			return fmt.Errorf("ipvs netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(rb[:n])
		if err != nil {
			return fmt.Errorf("ipvs netlink reply: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Type == unix.NLMSG_ERROR && m.Header.Seq == seq && len(m.Data) >= 4 {
				if code := int32(binary.NativeEndian.Uint32(m.Data[:4])); code != 0 {
					return unix.Errno(-code)
				}
				return nil
			}
		}
	}
}

// attrs iterates over the netlink attributes in b (type without flags, value).
func attrs(b []byte) func(yield func(uint16, []byte) bool) {
	return func(yield func(uint16, []byte) bool) {
		for len(b) >= 4 {
			l := int(binary.NativeEndian.Uint16(b))
			typ := binary.NativeEndian.Uint16(b[2:]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
			if l < 4 || l > len(b) {
				return
			}
			if !yield(typ, b[4:l]) {
				return
			}
			l = (l + 3) &^ 3
			if l > len(b) {
				return
			}
			b = b[l:]
		}
	}
}

func parseDest(b []byte, svcFamily uint16) Destination {
	var d Destination
	var raw []byte
	fam := svcFamily
	u32 := func(v []byte) uint32 {
		if len(v) < 4 {
			return 0
		}
		return binary.NativeEndian.Uint32(v)
	}
	for typ, v := range attrs(b) {
		switch typ {
		case destAddr:
			raw = v
		case destPort:
			if len(v) >= 2 {
				d.Port = binary.BigEndian.Uint16(v)
			}
		case destFwdMethod:
			d.Forward = Forward(u32(v) & 0x7)
		case destWeight:
			d.Weight = int(int32(u32(v)))
		case destUThresh:
			d.UpperThreshold = u32(v)
		case destLThresh:
			d.LowerThreshold = u32(v)
		case destAddrFamily:
			if len(v) >= 2 {
				fam = binary.NativeEndian.Uint16(v)
			}
		case destTunType:
			if len(v) >= 1 {
				d.TunnelType = TunnelType(v[0])
			}
		case destTunPort:
			if len(v) >= 2 {
				d.TunnelPort = binary.BigEndian.Uint16(v)
			}
		case destTunFlags:
			if len(v) >= 2 {
				d.TunnelFlags = binary.NativeEndian.Uint16(v)
			}
		}
	}
	if fam == FamilyIPv4 && len(raw) >= 4 {
		d.Address = netip.AddrFrom4([4]byte(raw[:4]))
	} else if len(raw) >= 16 {
		d.Address = netip.AddrFrom16([16]byte(raw[:16]))
	}
	return d
}
