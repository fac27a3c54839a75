package daemon

import (
	"fmt"
	"net"
	"strings"

	"golang.org/x/sys/unix"
)

// groupSock holds multicast memberships on one interface so that NICs keep passing the
// VRRP groups' frames to XDP on the XDP path, where no raw receive socket is open. It is a
// UDP socket bound to no port: it never receives an advert and is never read.
type groupSock struct {
	fd      int
	iface   string
	ifindex int
}

func splitGroupKey(k string) (iface, fam string) {
	i := strings.LastIndexByte(k, '/')
	return k[:i], k[i+1:]
}

func joinGroups(iface string, ifindex int, ipv6 bool, groups []net.IP) (*groupSock, error) {
	domain := unix.AF_INET
	if ipv6 {
		domain = unix.AF_INET6
	}
	fd, err := unix.Socket(domain, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("membership socket: %w", err)
	}
	for _, g := range groups {
		if ipv6 {
			mr := &unix.IPv6Mreq{Interface: uint32(ifindex)}
			copy(mr.Multiaddr[:], g.To16())
			err = unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, mr)
		} else {
			mr := &unix.IPMreqn{Ifindex: int32(ifindex)}
			copy(mr.Multiaddr[:], g.To4())
			err = unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mr)
		}
		if err != nil {
			_ = unix.Close(fd)
			return nil, fmt.Errorf("join %s on %s: %w", g, iface, err)
		}
	}
	return &groupSock{fd: fd, iface: iface, ifindex: ifindex}, nil
}

func (g *groupSock) close() { _ = unix.Close(g.fd) }
