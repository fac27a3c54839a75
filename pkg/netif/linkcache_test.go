package netif

import (
	"fmt"
	"net/netip"
	"testing"

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
