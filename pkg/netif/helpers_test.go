package netif

import (
	"encoding/json"
	"testing"

	"github.com/xalived/xalived/internal/nstest"
)

// Interface names in these tests never exist on the host, so a call that wrongly ran in
// the host namespace fails instead of touching a host interface.
const (
	dev  = "nif0"
	peer = "nif1"
)

// pair makes two namespaces joined by a veth nif0 (in a) — nif1 (in b), with addresses.
func pair(t testing.TB) (a, b *nstest.NS) {
	t.Helper()
	a, b = nstest.New(t, "nia"), nstest.New(t, "nib")
	nstest.Veth(t, a, dev, b, peer)
	a.MustRun(t, "ip", "addr", "add", "198.51.100.1/24", "dev", dev)
	b.MustRun(t, "ip", "addr", "add", "198.51.100.2/24", "dev", peer)
	return a, b
}

type jsonAddr struct {
	Family        string `json:"family"`
	Local         string `json:"local"`
	Address       string `json:"address"`
	Prefixlen     int    `json:"prefixlen"`
	Broadcast     string `json:"broadcast"`
	Scope         string `json:"scope"`
	Label         string `json:"label"`
	NoDAD         bool   `json:"nodad"`
	NoPrefixRoute bool   `json:"noprefixroute"`
	Preferred     uint64 `json:"preferred_life_time"`
}

// addrs returns the addresses `ip -j addr` shows on ifname in ns.
func addrs(t testing.TB, ns *nstest.NS, ifname string) []jsonAddr {
	t.Helper()
	out := ns.MustRun(t, "ip", "-j", "addr", "show", "dev", ifname)
	var links []struct {
		AddrInfo []jsonAddr `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j addr: %v: %s", err, out)
	}
	return links[0].AddrInfo
}
