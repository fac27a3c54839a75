package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Scope is a kernel address or route scope (RT_SCOPE_*).
type Scope uint8

// Scopes by the names ip(8) and keepalived use.
const (
	ScopeGlobal  Scope = unix.RT_SCOPE_UNIVERSE
	ScopeSite    Scope = unix.RT_SCOPE_SITE
	ScopeLink    Scope = unix.RT_SCOPE_LINK
	ScopeHost    Scope = unix.RT_SCOPE_HOST
	ScopeNowhere Scope = unix.RT_SCOPE_NOWHERE
)

// ParseScope reads "global", "site", "link", "host", "nowhere" or a number 0-255.
func ParseScope(s string) (Scope, error) {
	switch s {
	case "global", "universe":
		return ScopeGlobal, nil
	case "site":
		return ScopeSite, nil
	case "link":
		return ScopeLink, nil
	case "host":
		return ScopeHost, nil
	case "nowhere":
		return ScopeNowhere, nil
	}
	n, err := strconv.ParseUint(s, 0, 8)
	if err != nil {
		return 0, fmt.Errorf("scope %q: not global, site, link, host, nowhere or 0-255", s)
	}
	return Scope(n), nil
}

// Brd says how the broadcast address of an IPv4 VIP is set, as `ip addr add ... brd`.
type Brd uint8

const (
	BrdNone  Brd = iota // no broadcast address (keepalived's default)
	BrdPlus             // "brd +": host bits all ones
	BrdMinus            // "brd -": host bits all zeros
	BrdAddr             // "brd ADDR": VIP.BrdAddr
)

// Forever is the lifetime that never expires.
const Forever = ^uint32(0)

// VIP is one virtual address: an entry of virtual_ipaddress or virtual_ipaddress_excluded.
type VIP struct {
	Prefix  netip.Prefix // address and prefix length (/32 or /128 when none was given)
	Dev     string       // interface
	Label   string       // IPv4 label such as "eth0:1"; must start with Dev
	Brd     Brd
	BrdAddr netip.Addr // with BrdAddr
	Scope   Scope      // default global
	Peer    netip.Prefix
	// PreferredLft is the IPv6 preferred lifetime in seconds. Nil applies keepalived's rule:
	// 0 (deprecated, never chosen as a source) for a /128, Forever otherwise.
	PreferredLft  *uint32
	NoPrefixRoute bool
	NoDAD         bool
	Home          bool
	MngTmpAddr    bool
	AutoJoin      bool
}

func (v VIP) String() string { return fmt.Sprintf("%s dev %s", v.Prefix, v.Dev) }

// netlinkAddr converts a VIP for vishvananda/netlink.
func (v VIP) netlinkAddr() (*netlink.Addr, error) {
	if !v.Prefix.IsValid() {
		return nil, errors.New("no address")
	}
	a := v.Prefix.Addr()
	if a.Is4In6() {
		return nil, errors.New("ipv4-mapped ipv6 address")
	}
	na := &netlink.Addr{IPNet: prefixNet(v.Prefix), Scope: int(v.Scope)}
	if v.Peer.IsValid() {
		if v.Peer.Addr().Is4() != a.Is4() {
			return nil, fmt.Errorf("peer %s of another family", v.Peer)
		}
		na.Peer = prefixNet(v.Peer)
	}
	if a.Is4() {
		na.Label = v.Label
		switch v.Brd {
		case BrdNone:
			na.Broadcast = net.IPv4zero // tells netlink not to invent one
		case BrdPlus, BrdMinus:
			b := a.As4()
			m := net.CIDRMask(v.Prefix.Bits(), 32)
			for i := range b {
				if v.Brd == BrdPlus {
					b[i] |= ^m[i]
				} else {
					b[i] &= m[i]
				}
			}
			na.Broadcast = net.IP(b[:])
		case BrdAddr:
			if !v.BrdAddr.Is4() {
				return nil, fmt.Errorf("broadcast %s is not ipv4", v.BrdAddr)
			}
			na.Broadcast = v.BrdAddr.AsSlice()
		}
	} else {
		if v.Label != "" || v.Brd != BrdNone {
			return nil, errors.New("label and brd are ipv4 only")
		}
		pref := Forever
		if v.PreferredLft != nil {
			pref = *v.PreferredLft
		} else if v.Prefix.Bits() == 128 {
			pref = 0
		}
		if pref != Forever {
			// netlink sends lifetimes only when one is non-zero: valid forever does that.
			na.ValidLft = int(int64(Forever))
			na.PreferedLft = int(pref)
		}
	}
	if v.NoDAD {
		na.Flags |= unix.IFA_F_NODAD
	}
	if v.NoPrefixRoute {
		na.Flags |= unix.IFA_F_NOPREFIXROUTE
	}
	if v.Home {
		na.Flags |= unix.IFA_F_HOMEADDRESS
	}
	if v.MngTmpAddr {
		na.Flags |= unix.IFA_F_MANAGETEMPADDR
	}
	if v.AutoJoin {
		na.Flags |= unix.IFA_F_MCAUTOJOIN
	}
	return na, nil
}

func prefixNet(p netip.Prefix) *net.IPNet {
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}
}

// AddVIP adds the address. An address that is already there (same address and prefix
// length on the device) is left as it is and is not an error.
func AddVIP(v VIP) error {
	if err := addVIP(v); err != nil {
		return fmt.Errorf("add vip %s on %s: %w", v.Prefix, v.Dev, err)
	}
	return nil
}

func addVIP(v VIP) error {
	na, err := v.netlinkAddr()
	if err != nil {
		return err
	}
	// No address dump first: an address that is there already (same address and prefix
	// length) makes the exclusive add fail with EEXIST and stays as it is.
	return withLink(v.Dev, func(link netlink.Link) error {
		if err := netlink.AddrAdd(link, na); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
		return nil
	})
}

// DelVIP removes the address; an address that is not there is not an error.
func DelVIP(v VIP) error {
	if err := delVIP(v); err != nil {
		return fmt.Errorf("delete vip %s on %s: %w", v.Prefix, v.Dev, err)
	}
	return nil
}

func delVIP(v VIP) error {
	na := &netlink.Addr{IPNet: prefixNet(v.Prefix)}
	if v.Peer.IsValid() {
		na.Peer = prefixNet(v.Peer)
	}
	if v.Prefix.Addr().Is4() {
		// No label: the kernel would then match it too, and a leftover from a run with
		// another label must still go.
		na.Broadcast = net.IPv4zero
	}
	err := withLink(v.Dev, func(link netlink.Link) error {
		err := netlink.AddrDel(link, na)
		if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
			return nil
		}
		return err
	})
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil // the interface went away and the address with it
	}
	return err
}

// HasVIP reports whether the address (address and prefix length) is on the device.
func HasVIP(v VIP) (bool, error) {
	link, err := netlink.LinkByName(v.Dev)
	if err != nil {
		return false, fmt.Errorf("look up vip %s on %s: %w", v.Prefix, v.Dev, err)
	}
	ok, err := findAddr(link, v)
	if err != nil {
		return false, fmt.Errorf("look up vip %s on %s: %w", v.Prefix, v.Dev, err)
	}
	return ok, nil
}

// findAddr looks for the VIP's address with the kernel prefix length it would have (the
// peer's with a peer).
func findAddr(link netlink.Link, v VIP) (bool, error) {
	bits := v.Prefix.Bits()
	if v.Peer.IsValid() {
		bits = v.Peer.Bits()
	}
	fam := netlink.FAMILY_V4
	if v.Prefix.Addr().Is6() {
		fam = netlink.FAMILY_V6
	}
	addrs, err := netlink.AddrList(link, fam)
	if err != nil {
		return false, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		if a.Peer != nil {
			ones, _ = a.Peer.Mask.Size()
		}
		if ip.Unmap() == v.Prefix.Addr() && ones == bits {
			return true, nil
		}
	}
	return false, nil
}

// ReconcileVIPs removes, among the given VIPs, those present on their devices, and returns
// the ones it removed. The daemon calls it at start with the VIPs of every instance that is
// not MASTER (at start: all of them), so that addresses a killed previous run left behind do
// not linger on a backup; a MASTER adds them again. Addresses that are not in the list are
// never touched. Errors for single VIPs do not stop the others.
func ReconcileVIPs(vips []VIP) ([]VIP, error) {
	var removed []VIP
	var errs []error
	for _, v := range vips {
		ok, err := HasVIP(v)
		if err != nil {
			var nf netlink.LinkNotFoundError
			if !errors.As(err, &nf) {
				errs = append(errs, err)
			}
			continue
		}
		if !ok {
			continue
		}
		if err := DelVIP(v); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, v)
	}
	return removed, errors.Join(errs...)
}
