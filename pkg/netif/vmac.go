package netif

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
)

// VMACAddr returns the virtual router MAC of RFC 3768 / RFC 5798: 00:00:5e:00:01:VRID for
// IPv4 and 00:00:5e:00:02:VRID for IPv6.
func VMACAddr(vrid uint8, ipv6 bool) net.HardwareAddr {
	fam := byte(1)
	if ipv6 {
		fam = 2
	}
	return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, fam, vrid}
}

// VMAC describes a use_vmac interface.
type VMAC struct {
	Name   string // default "vrrp.<VRID>"
	Parent string // the instance's interface
	VRID   uint8
	IPv6   bool
	MAC    net.HardwareAddr // nil: VMACAddr(VRID, IPv6)
}

func (v VMAC) name() string {
	if v.Name != "" {
		return v.Name
	}
	return fmt.Sprintf("vrrp.%d", v.VRID)
}

func (v VMAC) mac() net.HardwareAddr {
	if v.MAC != nil {
		return v.MAC
	}
	return VMACAddr(v.VRID, v.IPv6)
}

// VMACs creates and removes VMAC interfaces and keeps what it changed in sysctls so it can put
// it back: on the VMAC accept_local=1, arp_ignore=1, rp_filter=0 (so that the host takes the
// VIP's traffic arriving with the VMAC's own address), on the parent arp_ignore=1 and
// arp_filter=1 (so that only the VMAC answers ARP for the VIP). The parent's values are
// restored when its last VMAC is deleted.
//
// The kernel applies the larger of all.rp_filter and an interface's own rp_filter, so when
// all.rp_filter is on, the first VMAC turns it off and raises every other interface's own value
// to the old global one, which keeps their filtering as it was; the last VMAC puts all back.
//
// A VMAC gets no kernel-made IPv6 link-local address (it would be derived from the shared
// virtual MAC and so be the same on every router of the group); an IPv6 VMAC gets a copy of
// its parent's link-local address instead, as keepalived does, to send adverts from.
//
// The zero value is ready; it is safe for concurrent use.
type VMACs struct {
	mu       sync.Mutex
	parents  map[string]*parentState // by parent name
	byName   map[string]string       // VMAC name → parent name
	rpSaved  map[string]string       // all.rp_filter and what was raised to keep it, while VMACs exist
	rpActive bool
}

type parentState struct {
	refs  int
	saved map[string]string
}

// Create makes the VMAC (a private-mode macvlan on the parent with the virtual MAC), brings it
// up and sets the sysctls. An existing macvlan of that name on that parent with that MAC is
// reused. It returns the VMAC's facts.
func (m *VMACs) Create(v VMAC) (Info, error) {
	name := v.name()
	in, err := m.create(v, name)
	if err != nil {
		return Info{}, fmt.Errorf("create vmac %s on %s: %w", name, v.Parent, err)
	}
	return in, nil
}

func (m *VMACs) create(v VMAC, name string) (Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	parent, err := netlink.LinkByName(v.Parent)
	if err != nil {
		return Info{}, err
	}
	mac := v.mac()
	link, err := netlink.LinkByName(name)
	switch {
	case err == nil:
		mv, ok := link.(*netlink.Macvlan)
		if !ok || mv.ParentIndex != parent.Attrs().Index || mv.HardwareAddr.String() != mac.String() {
			return Info{}, fmt.Errorf("interface %s exists and is not this vmac", name)
		}
	case IsNotExist(err):
		mv := &netlink.Macvlan{
			LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: parent.Attrs().Index, HardwareAddr: mac},
			Mode:      netlink.MACVLAN_MODE_PRIVATE,
		}
		if err := netlink.LinkAdd(mv); err != nil {
			return Info{}, err
		}
		if link, err = netlink.LinkByName(name); err != nil {
			return Info{}, err
		}
	default:
		return Info{}, err
	}
	fail := func(err error) (Info, error) {
		_ = netlink.LinkDel(link)
		return Info{}, err
	}
	if err := netlink.LinkSetIP6AddrGenMode(link, addrGenModeNone); err != nil && v.IPv6 {
		return fail(fmt.Errorf("ipv6 address generation mode: %w", err))
	}
	if _, err := setSysctls([][2]string{
		{"net/ipv4/conf/" + name + "/accept_local", "1"},
		{"net/ipv4/conf/" + name + "/arp_ignore", "1"},
		{"net/ipv4/conf/" + name + "/rp_filter", "0"},
	}); err != nil {
		return fail(err)
	}
	if m.byName == nil {
		m.byName = map[string]string{}
		m.parents = map[string]*parentState{}
	}
	if _, known := m.byName[name]; !known {
		ps := m.parents[v.Parent]
		if ps == nil {
			ps = &parentState{saved: map[string]string{}}
			m.parents[v.Parent] = ps
		}
		saved, err := setSysctls([][2]string{
			{"net/ipv4/conf/" + v.Parent + "/arp_ignore", "1"},
			{"net/ipv4/conf/" + v.Parent + "/arp_filter", "1"},
		})
		for k, old := range saved {
			if _, had := ps.saved[k]; !had {
				ps.saved[k] = old
			}
		}
		if err != nil {
			if ps.refs == 0 {
				restore(ps.saved)
				delete(m.parents, v.Parent)
			}
			return fail(err)
		}
		ps.refs++
		m.byName[name] = v.Parent
	}
	if !m.rpActive {
		if err := m.relaxRPFilter(name); err != nil {
			return Info{}, err
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return Info{}, err
	}
	if v.IPv6 {
		pin, err := info(parent)
		if err != nil {
			return Info{}, err
		}
		if !pin.IPv6LinkLocal.IsValid() {
			return Info{}, fmt.Errorf("parent %s has no usable ipv6 link-local address", v.Parent)
		}
		ll := VIP{Prefix: netip.PrefixFrom(pin.IPv6LinkLocal, 64), Dev: name, NoDAD: true, PreferredLft: ptr(Forever)}
		if err := addVIP(ll); err != nil {
			return Info{}, fmt.Errorf("link-local %s: %w", ll.Prefix, err)
		}
	}
	return info(link)
}

// addrGenModeNone is IN6_ADDR_GEN_MODE_NONE: the kernel makes no link-local address.
const addrGenModeNone = 1

func ptr[T any](v T) *T { return &v }

// relaxRPFilter turns all.rp_filter off if it is on, raising every other interface's own
// rp_filter to the old global value so that only the VMACs lose reverse-path filtering.
func (m *VMACs) relaxRPFilter(vmac string) error {
	const all = "net/ipv4/conf/all/rp_filter"
	old, err := ReadSysctl(all)
	if err != nil || old == "0" {
		return err
	}
	m.rpSaved = map[string]string{}
	m.rpActive = true
	links, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		name := l.Attrs().Name
		if name == vmac {
			continue
		}
		key := "net/ipv4/conf/" + name + "/rp_filter"
		own, err := ReadSysctl(key)
		if err != nil || own >= old { // values are single digits 0-2
			continue
		}
		if err := WriteSysctl(key, old); err != nil {
			return err
		}
		m.rpSaved[key] = own
	}
	if err := WriteSysctl(all, "0"); err != nil {
		return err
	}
	m.rpSaved[all] = old
	return nil
}

func restore(saved map[string]string) error {
	var errs []error
	for k, v := range saved {
		errs = append(errs, WriteSysctl(k, v))
	}
	return errors.Join(errs...)
}

// Delete removes the VMAC; when it was the last one this VMACs made on its parent, the
// parent's sysctls get their old values back. A VMAC that is gone is not an error.
func (m *VMACs) Delete(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	link, err := netlink.LinkByName(name)
	switch {
	case err == nil:
		if _, ok := link.(*netlink.Macvlan); !ok {
			return fmt.Errorf("delete vmac %s: not a macvlan", name)
		}
		if err := netlink.LinkDel(link); err != nil && !IsNotExist(err) {
			errs = append(errs, err)
		}
	case !IsNotExist(err):
		errs = append(errs, err)
	}
	if parent, ok := m.byName[name]; ok && len(errs) == 0 {
		delete(m.byName, name)
		if ps := m.parents[parent]; ps != nil {
			ps.refs--
			if ps.refs <= 0 {
				delete(m.parents, parent)
				if _, err := netlink.LinkByName(parent); err == nil {
					errs = append(errs, restore(ps.saved))
				}
			}
		}
	}
	if len(m.byName) == 0 && m.rpActive && len(errs) == 0 {
		m.rpActive = false
		// Interfaces deleted meanwhile cannot be restored; that is not an error.
		for k, v := range m.rpSaved {
			if err := WriteSysctl(k, v); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		m.rpSaved = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete vmac %s: %w", name, err)
	}
	return nil
}
