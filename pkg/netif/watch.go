package netif

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// EventKind says what changed.
type EventKind uint8

const (
	// LinkAppeared: an interface the watcher did not know exists now.
	LinkAppeared EventKind = iota + 1
	// LinkUp: a known interface became up (IFF_UP and carrier).
	LinkUp
	// LinkDown: a known interface stopped being up.
	LinkDown
	// LinkVanished: the interface was deleted.
	LinkVanished
	// AddrAdded: an address was added to an interface (or became usable after DAD).
	AddrAdded
	// AddrRemoved: an address was removed.
	AddrRemoved
	// Resync: the kernel dropped notifications (socket overflow); re-read what matters.
	Resync
)

var kindNames = [...]string{"", "link-appeared", "link-up", "link-down", "link-vanished", "addr-added", "addr-removed", "resync"}

func (k EventKind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return fmt.Sprintf("event(%d)", k)
}

// Event is one change of links or addresses.
type Event struct {
	Kind    EventKind
	IfIndex int
	IfName  string
	Up      bool         // link events: the interface's state after the change
	Addr    netip.Prefix // address events
	// Tentative is set on an AddrAdded whose IPv6 address still awaits DAD; a second AddrAdded
	// without it follows when the address becomes usable.
	Tentative bool
}

// Watcher reports link and address changes from one rtnetlink socket, in the order the kernel
// made them. Link events are reduced to changes of existence and up/down state; renames,
// MTU or promiscuity changes are not reported.
type Watcher struct {
	f     *os.File
	links map[int]linkState
}

type linkState struct {
	name string
	up   bool
	mac  string // hardware address: GARPs take it from the link cache
}

// NewWatcher subscribes to link and address notifications in the calling thread's namespace
// and reads the current links, so that the first change reported is a real change.
func NewWatcher() (*Watcher, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("watch links: %w", err)
	}
	sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK,
		Groups: unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch links: bind: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	w := &Watcher{f: os.NewFile(uintptr(fd), "rtnetlink-watch"), links: map[int]linkState{}}
	links, err := netlink.LinkList()
	if err != nil {
		w.f.Close()
		return nil, fmt.Errorf("watch links: list: %w", err)
	}
	for _, l := range links {
		a := l.Attrs()
		w.links[a.Index] = linkState{name: a.Name, up: a.RawFlags&unix.IFF_UP != 0 && a.RawFlags&unix.IFF_RUNNING != 0,
			mac: string(a.HardwareAddr)}
	}
	return w, nil
}

// Close closes the socket; a Run in progress returns nil.
func (w *Watcher) Close() error { return w.f.Close() }

// Run reads notifications and sends events on ch until ctx is done (it returns nil then) or
// the socket fails. It blocks on a full channel. Run must not be called concurrently.
func (w *Watcher) Run(ctx context.Context, ch chan<- Event) error {
	if err := w.f.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("watch links: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = w.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	rc, err := w.f.SyscallConn()
	if err != nil {
		return fmt.Errorf("watch links: %w", err)
	}
	buf := make([]byte, 1<<16)
	for {
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), buf, 0)
			return rerr != unix.EAGAIN
		})
		if err == nil {
			err = rerr
		}
		var evs []Event
		switch {
		case err == nil:
			evs = w.parse(buf[:n])
		case ctx.Err() != nil || errors.Is(err, os.ErrClosed):
			return nil
		case errors.Is(err, unix.ENOBUFS):
			evs = []Event{{Kind: Resync}}
		case errors.Is(err, unix.EINTR):
			continue
		default:
			return fmt.Errorf("watch links: %w", err)
		}
		for _, e := range evs {
			select {
			case ch <- e:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// parse turns one datagram of rtnetlink notifications into events.
func (w *Watcher) parse(b []byte) []Event {
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return []Event{{Kind: Resync}}
	}
	var evs []Event
	for _, m := range msgs {
		switch m.Header.Type {
		case unix.RTM_NEWLINK, unix.RTM_DELLINK:
			if e, ok := w.linkEvent(m); ok {
				evs = append(evs, e)
			}
		case unix.RTM_NEWADDR, unix.RTM_DELADDR:
			if e, ok := w.addrEvent(m); ok {
				evs = append(evs, e)
			}
		}
	}
	return evs
}

func (w *Watcher) linkEvent(m syscall.NetlinkMessage) (Event, bool) {
	if len(m.Data) < unix.SizeofIfInfomsg {
		return Event{}, false
	}
	index := int(int32(binary.NativeEndian.Uint32(m.Data[4:8])))
	flags := binary.NativeEndian.Uint32(m.Data[8:12])
	name, mac, haveMAC := "", "", false
	for _, a := range routeAttrs(m.Data[unix.SizeofIfInfomsg:]) {
		switch a.typ {
		case unix.IFLA_IFNAME:
			name = string(trimNUL(a.value))
		case unix.IFLA_ADDRESS:
			mac, haveMAC = string(a.value), true
		}
	}
	old, known := w.links[index]
	if name == "" {
		name = old.name
	}
	if !haveMAC {
		mac = old.mac
	}
	if !known || m.Header.Type == unix.RTM_DELLINK || name != old.name || mac != old.mac {
		// Appeared, vanished, renamed or readdressed: VIP paths and GARPs look it up again.
		forgetLink(name, index)
		if known && old.name != name {
			forgetLink(old.name, 0)
		}
	}
	if m.Header.Type == unix.RTM_DELLINK {
		if !known {
			return Event{}, false
		}
		delete(w.links, index)
		return Event{Kind: LinkVanished, IfIndex: index, IfName: name}, true
	}
	up := flags&unix.IFF_UP != 0 && flags&unix.IFF_RUNNING != 0
	w.links[index] = linkState{name: name, up: up, mac: mac}
	e := Event{IfIndex: index, IfName: name, Up: up}
	switch {
	case !known:
		e.Kind = LinkAppeared
	case old.up == up:
		return Event{}, false
	case up:
		e.Kind = LinkUp
	default:
		e.Kind = LinkDown
	}
	return e, true
}

func (w *Watcher) addrEvent(m syscall.NetlinkMessage) (Event, bool) {
	if len(m.Data) < unix.SizeofIfAddrmsg {
		return Event{}, false
	}
	prefixLen := int(m.Data[1])
	flags := uint32(m.Data[2])
	index := int(binary.NativeEndian.Uint32(m.Data[4:8]))
	var addr, local netip.Addr
	for _, a := range routeAttrs(m.Data[unix.SizeofIfAddrmsg:]) {
		switch a.typ {
		case unix.IFA_ADDRESS:
			addr, _ = netip.AddrFromSlice(a.value)
		case unix.IFA_LOCAL:
			local, _ = netip.AddrFromSlice(a.value)
		case unix.IFA_FLAGS:
			if len(a.value) >= 4 {
				flags = binary.NativeEndian.Uint32(a.value)
			}
		}
	}
	if local.IsValid() { // IPv4 (and peer addresses): IFA_LOCAL is the address itself
		addr = local
	}
	if !addr.IsValid() {
		return Event{}, false
	}
	p, err := addr.Prefix(prefixLen)
	if err != nil {
		return Event{}, false
	}
	e := Event{Kind: AddrAdded, IfIndex: index, IfName: w.links[index].name, Addr: netip.PrefixFrom(addr, p.Bits())}
	if m.Header.Type == unix.RTM_DELADDR {
		e.Kind = AddrRemoved
	} else {
		e.Tentative = flags&unix.IFA_F_TENTATIVE != 0
	}
	return e, true
}

type routeAttr struct {
	typ   uint16
	value []byte
}

// routeAttrs splits rtnetlink attributes, stopping at the first malformed one (the standard
// library's parser panics on some malformed input).
func routeAttrs(b []byte) []routeAttr {
	var attrs []routeAttr
	for len(b) >= unix.SizeofRtAttr {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		if l < unix.SizeofRtAttr || l > len(b) {
			break
		}
		attrs = append(attrs, routeAttr{typ: binary.NativeEndian.Uint16(b[2:4]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER), value: b[unix.SizeofRtAttr:l]})
		next := (l + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1)
		if next > len(b) {
			break
		}
		b = b[next:]
	}
	return attrs
}

func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}
