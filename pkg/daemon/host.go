package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"

	"github.com/xalived/xalived/pkg/netif"
	"github.com/xalived/xalived/pkg/notify"
	"github.com/xalived/xalived/pkg/router"
	"github.com/xalived/xalived/pkg/vrrp"
	"github.com/xalived/xalived/pkg/vrrpsock"
)

// transport sends the router's adverts through the raw-socket dataplane.
type transport struct {
	s   *vrrpsock.Sender
	idx ifIndexCache
	buf []vrrpsock.Outgoing
}

// ifIndexCache resolves interface names to indexes, re-resolving after a failure (an
// interface deleted and re-created gets a new index).
type ifIndexCache struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *ifIndexCache) get(name string) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.m[name]; ok {
		return i, nil
	}
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return 0, fmt.Errorf("interface %s: %w", name, err)
	}
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[name] = ifc.Index
	return ifc.Index, nil
}

func (c *ifIndexCache) forget(name string) {
	c.mu.Lock()
	delete(c.m, name)
	c.mu.Unlock()
}

func (t *transport) Send(pkts []router.Packet) error {
	t.buf = t.buf[:0]
	var errs []error
	for _, p := range pkts {
		idx, err := t.idx.get(p.Interface)
		if err != nil {
			errs = append(errs, fmt.Errorf("advert of %s: %w", p.Instance, err))
			continue
		}
		t.buf = append(t.buf, vrrpsock.Outgoing{IfIndex: idx, Src: p.Src, Dst: p.Dst, TTL: p.TTL, Payload: p.Payload})
	}
	if len(t.buf) > 0 {
		if err := t.s.Send(t.buf); err != nil {
			var pe *vrrpsock.PacketError
			if errors.As(err, &pe) && errors.Is(pe.Err, syscall.ENODEV) {
				for _, p := range pkts {
					t.idx.forget(p.Interface)
				}
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// host applies MASTER's effects with netlink and announces VIPs.
type host struct {
	ctx   context.Context
	ann   *netif.Announcer
	vmacs *netif.VMACs
}

func dataOf(in *router.InstanceConfig) *instData {
	d, _ := in.Data.(*instData)
	if d == nil {
		return &instData{}
	}
	return d
}

func ignoreExists(err error) error {
	if err == nil || errors.Is(err, syscall.EEXIST) {
		return nil
	}
	return err
}

func ignoreMissing(err error) error {
	if err == nil || errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.ESRCH) ||
		errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENODEV) || netif.IsNotExist(err) {
		return nil
	}
	return err
}

func (h *host) AddVIPs(in *router.InstanceConfig) error {
	d := dataOf(in)
	var errs []error
	for _, v := range append(append([]netif.VIP(nil), d.vips...), d.evips...) {
		errs = append(errs, ignoreExists(netif.AddVIP(v)))
	}
	for _, r := range d.routes {
		errs = append(errs, ignoreExists(netif.AddRoute(r)))
	}
	for _, r := range d.rules {
		errs = append(errs, ignoreExists(netif.AddRule(r)))
	}
	return wrapInst(in.Name, "add VIPs", errors.Join(errs...))
}

func (h *host) RemoveVIPs(in *router.InstanceConfig) error {
	d := dataOf(in)
	var errs []error
	for _, r := range d.rules {
		errs = append(errs, ignoreMissing(netif.DelRule(r)))
	}
	for _, r := range d.routes {
		errs = append(errs, ignoreMissing(netif.DelRoute(r)))
	}
	for _, v := range append(append([]netif.VIP(nil), d.vips...), d.evips...) {
		errs = append(errs, ignoreMissing(netif.DelVIP(v)))
	}
	return wrapInst(in.Name, "remove VIPs", errors.Join(errs...))
}

func (h *host) UpdateVIPs(old, nw *router.InstanceConfig) error {
	o, n := dataOf(old), dataOf(nw)
	var errs []error
	keepV := func(list []netif.VIP, v netif.VIP) bool {
		for _, x := range list {
			if x.Prefix == v.Prefix && x.Dev == v.Dev {
				return true
			}
		}
		return false
	}
	oldV := append(append([]netif.VIP(nil), o.vips...), o.evips...)
	newV := append(append([]netif.VIP(nil), n.vips...), n.evips...)
	for _, v := range oldV {
		if !keepV(newV, v) {
			errs = append(errs, ignoreMissing(netif.DelVIP(v)))
		}
	}
	for _, v := range newV {
		if !keepV(oldV, v) {
			errs = append(errs, ignoreExists(netif.AddVIP(v)))
		}
	}
	for _, r := range o.rules {
		errs = append(errs, ignoreMissing(netif.DelRule(r)))
	}
	for _, r := range o.routes {
		errs = append(errs, ignoreMissing(netif.DelRoute(r)))
	}
	for _, r := range n.routes {
		errs = append(errs, ignoreExists(netif.AddRoute(r)))
	}
	for _, r := range n.rules {
		errs = append(errs, ignoreExists(netif.AddRule(r)))
	}
	return wrapInst(nw.Name, "update VIPs", errors.Join(errs...))
}

func (h *host) GARP(in *router.InstanceConfig, count int) error {
	d := dataOf(in)
	var list []netif.Announcement
	var errs []error
	isRouter := map[string]bool{}
	for _, v := range d.vips {
		// The link cache: a burst must not cost a netlink dump of the interface and its
		// addresses (hundreds with many VIPs) per instance.
		index, mac, err := netif.LinkAddr(v.Dev)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		an := netif.Announcement{IfIndex: index, MAC: mac, Addr: v.Prefix.Addr()}
		if an.Addr.Is6() {
			fwd, seen := isRouter[v.Dev]
			if !seen {
				fwd, _ = netif.IPv6Forwarding(v.Dev) // a sysctl read: once per device, not per VIP
				isRouter[v.Dev] = fwd
			}
			an.Router = fwd
		}
		list = append(list, an)
	}
	if len(list) > 0 && count > 0 {
		errs = append(errs, h.ann.Announce(h.ctx, list, count, 0))
	}
	return wrapInst(in.Name, "announce VIPs", errors.Join(errs...))
}

func wrapInst(name, what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %s: %w", name, what, err)
}

// notifier turns router notifications into scripts, FIFO lines and mails.
type notifier struct {
	d         *notify.Dispatcher
	mu        sync.Mutex
	scripts   map[string]notify.VRRPScripts
	mail      map[string]bool
	groups    map[string]notify.VRRPScripts
	groupMail map[string]bool
	onState   func(router.Notification)
}

func (n *notifier) setPlan(p *plan) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.scripts, n.mail = map[string]notify.VRRPScripts{}, map[string]bool{}
	for name, d := range p.data {
		n.scripts[name], n.mail[name] = d.notify, d.mail
	}
	n.groups, n.groupMail = p.groupData, p.groupMail
}

func stateName(s vrrp.State) string {
	switch s {
	case vrrp.StateMaster:
		return notify.StateMaster
	case vrrp.StateBackup:
		return notify.StateBackup
	case vrrp.StateFault:
		return notify.StateFault
	case vrrp.StateStop:
		return notify.StateStop
	}
	return s.String()
}

func (n *notifier) Notify(ev router.Notification) {
	if n.onState != nil {
		n.onState(ev)
	}
	n.mu.Lock()
	var scripts notify.VRRPScripts
	var mail bool
	if ev.Group {
		scripts, mail = n.groups[ev.Name], n.groupMail[ev.Name]
	} else {
		scripts, mail = n.scripts[ev.Name], n.mail[ev.Name]
	}
	n.mu.Unlock()
	state := stateName(ev.State)
	switch {
	case ev.Removed:
		state = notify.StateDeleted
		if scripts.Deleted == nil {
			state = notify.StateFault
		}
	case ev.RxLowerPrio:
		state = notify.StateMasterRxLowerPri
	}
	if n.d != nil {
		n.d.VRRP(notify.VRRPEvent{Group: ev.Group, Name: ev.Name, State: state, Priority: int(ev.Priority), Mail: mail}, scripts)
	}
}
