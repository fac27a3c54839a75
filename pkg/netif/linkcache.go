package netif

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// links caches interface lookups by name for the VIP paths: a MASTER of many instances
// would otherwise ask the kernel for the same link once per VIP. An entry is forgotten when
// a Watcher sees the link appear, vanish or change name, and when an operation on it fails
// (the caller then retries once with a fresh lookup).
// Entries are per network namespace of the calling thread.
var links = struct {
	sync.Mutex
	byName map[linkKey]netlink.Link
}{byName: map[linkKey]netlink.Link{}}

type linkKey struct {
	netns uint64
	name  string
}

// linkLookups counts the kernel lookups cachedLink made (tests).
var linkLookups atomic.Uint64

func keyOf(name string) linkKey {
	var st unix.Stat_t
	if unix.Stat("/proc/thread-self/ns/net", &st) != nil {
		return linkKey{name: name}
	}
	return linkKey{netns: st.Ino, name: name}
}

func cachedLink(name string) (netlink.Link, error) {
	k := keyOf(name)
	links.Lock()
	l, ok := links.byName[k]
	links.Unlock()
	if ok {
		return l, nil
	}
	linkLookups.Add(1)
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil, err
	}
	links.Lock()
	links.byName[k] = l
	links.Unlock()
	return l, nil
}

// forgetLink drops name, or with index > 0 also every entry of that index.
func forgetLink(name string, index int) {
	links.Lock()
	defer links.Unlock()
	k := keyOf(name)
	delete(links.byName, k)
	if index > 0 {
		for n, l := range links.byName {
			if n.netns == k.netns && l.Attrs().Index == index {
				delete(links.byName, n)
			}
		}
	}
}

// withLink runs f on the cached link named name; if f fails on a cached link, the entry is
// dropped and f runs once more on a fresh lookup (the interface may have been recreated).
func withLink(name string, f func(netlink.Link) error) error {
	links.Lock()
	_, wasCached := links.byName[keyOf(name)]
	links.Unlock()
	l, err := cachedLink(name)
	if err != nil {
		return err
	}
	if err = f(l); err == nil || !wasCached {
		if err != nil {
			forgetLink(name, 0)
		}
		return err
	}
	forgetLink(name, 0)
	if l, err = cachedLink(name); err != nil {
		return err
	}
	if err = f(l); err != nil {
		forgetLink(name, 0)
	}
	return err
}

// LinkAddr returns the index and hardware address of the named interface from the link
// cache: what announcing a VIP needs, without asking the kernel per announcement (nor listing
// the interface's addresses, hundreds with many VIPs, as InterfaceByName does). A Watcher
// keeps the cache current when links come, go or change name.
func LinkAddr(name string) (index int, mac net.HardwareAddr, err error) {
	l, err := cachedLink(name)
	if err != nil {
		return 0, nil, fmt.Errorf("interface %s: %w", name, err)
	}
	a := l.Attrs()
	return a.Index, a.HardwareAddr, nil
}
