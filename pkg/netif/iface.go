package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Info is what the daemon needs to know about an interface.
type Info struct {
	Index int
	Name  string
	MAC   net.HardwareAddr
	MTU   int
	Up    bool // administratively up and with carrier (IFF_UP and IFF_RUNNING)
	// IPv4 is the primary IPv4 address: the first one that is not secondary. Invalid if none.
	IPv4 netip.Addr
	// IPv6LinkLocal is the first usable (not tentative, not failed DAD) fe80::/10 address.
	IPv6LinkLocal netip.Addr
}

// InterfaceByName returns the facts of the named interface.
func InterfaceByName(name string) (Info, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return Info{}, fmt.Errorf("interface %s: %w", name, err)
	}
	return info(l)
}

// InterfaceByIndex returns the facts of the interface with this index.
func InterfaceByIndex(index int) (Info, error) {
	l, err := netlink.LinkByIndex(index)
	if err != nil {
		return Info{}, fmt.Errorf("interface %d: %w", index, err)
	}
	return info(l)
}

// IsNotExist reports whether err says an interface does not exist.
func IsNotExist(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}

func info(l netlink.Link) (Info, error) {
	a := l.Attrs()
	in := Info{Index: a.Index, Name: a.Name, MAC: a.HardwareAddr, MTU: a.MTU,
		Up: a.RawFlags&unix.IFF_UP != 0 && a.RawFlags&unix.IFF_RUNNING != 0}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return in, fmt.Errorf("interface %s: list addresses: %w", a.Name, err)
	}
	for _, ad := range addrs {
		ip, ok := netip.AddrFromSlice(ad.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		switch {
		case ip.Is4() && !in.IPv4.IsValid() && ad.Flags&unix.IFA_F_SECONDARY == 0:
			in.IPv4 = ip
		case ip.Is6() && ip.IsLinkLocalUnicast() && !in.IPv6LinkLocal.IsValid() &&
			ad.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0:
			in.IPv6LinkLocal = ip
		}
	}
	return in, nil
}
