// Package netif is the host side of VRRP: everything a VRRP instance changes in the kernel
// except its adverts (pkg/vrrpsock sends those).
//
// It owns: virtual IP addresses (add, remove, and the start-up reconciliation that removes the
// VIPs a crashed run left behind), virtual routes and rules, VMAC macvlan interfaces and the
// sysctls they need, the link and address watcher, gratuitous ARP and unsolicited neighbour
// advertisements, and reading an interface's index, MAC, primary IPv4 and IPv6 link-local
// address.
//
// Every call acts in the network namespace of the calling OS thread: netlink and packet
// sockets are opened there, and sysctls are written through /proc/sys, which the kernel
// resolves in the caller's namespace. The daemon runs in one namespace, so this only matters
// to tests, which lock a thread into a namespace. Adding what exists and removing what is gone
// are not errors, so the daemon can repeat any call after a failure or a restart.
package netif
