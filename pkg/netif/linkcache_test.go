package netif

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/testenv"
)

// TestVIPLinkCache: VIPs on one device look the link up once, not per VIP, and a device
// deleted and recreated under the same name (no watcher running) still gets its VIPs.
func TestVIPLinkCache(t *testing.T) {
	testenv.RequireRoot(t)
	a, _ := pair(t)
	a.Do(t, func() {
		forgetLink(dev, 0)
		before := linkLookups.Load()
		for i := range 20 {
			v := VIP{Prefix: netip.MustParsePrefix(fmt.Sprintf("203.0.113.%d/32", i+1)), Dev: dev}
			if err := AddVIP(v); err != nil {
				t.Fatal(err)
			}
			if err := DelVIP(v); err != nil {
				t.Fatal(err)
			}
		}
		if n := linkLookups.Load() - before; n != 1 {
			t.Errorf("20 VIPs added and removed with %d link lookups, want 1", n)
		}
	})
	a.MustRun(t, "ip", "link", "del", dev)
	a.MustRun(t, "ip", "link", "add", dev, "type", "veth", "peer", "name", "nifx")
	v := VIP{Prefix: netip.MustParsePrefix("203.0.113.99/32"), Dev: dev}
	a.Do(t, func() {
		if err := AddVIP(v); err != nil {
			t.Fatalf("add on the recreated device: %v", err)
		}
	})
	found := false
	for _, ad := range addrs(t, a, dev) {
		found = found || ad.Local == "203.0.113.99"
	}
	if !found {
		t.Fatal("the VIP is not on the recreated device")
	}
}

// TestLinkAddr: announcing VIPs takes the index and MAC from the link cache (one lookup for
// many bursts), and a Watcher makes it look again once the MAC changed.
func TestLinkAddr(t *testing.T) {
	testenv.RequireRoot(t)
	a, _ := pair(t)
	var w *Watcher
	var want Info
	a.Do(t, func() {
		forgetLink(dev, 0)
		var err error
		if want, err = InterfaceByName(dev); err != nil {
			t.Fatal(err)
		}
		if w, err = NewWatcher(); err != nil {
			t.Fatal(err)
		}
		before := linkLookups.Load()
		for range 10 {
			idx, mac, err := LinkAddr(dev)
			if err != nil || idx != want.Index || mac.String() != want.MAC.String() {
				t.Fatalf("LinkAddr: %d %v %v, want %d %v", idx, mac, err, want.Index, want.MAC)
			}
		}
		if n := linkLookups.Load() - before; n != 1 {
			t.Errorf("10 LinkAddr calls with %d link lookups, want 1", n)
		}
		if _, _, err := LinkAddr("nif-none"); !IsNotExist(err) {
			t.Errorf("LinkAddr of a missing interface: %v, want a not-exist error", err)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Do(t, func() { _ = w.Run(ctx, make(chan Event, 64)) }) // forgets in a's namespace
	}()
	defer func() { cancel(); <-done; _ = w.Close() }()
	time.Sleep(50 * time.Millisecond) // the watcher reads before the change
	a.MustRun(t, "ip", "link", "set", dev, "address", "02:00:5e:00:53:42")
	deadline := time.Now().Add(5 * time.Second)
	for {
		var mac net.HardwareAddr
		a.Do(t, func() { _, mac, _ = LinkAddr(dev) })
		if mac.String() == "02:00:5e:00:53:42" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("LinkAddr still says %v after the MAC changed", mac)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
