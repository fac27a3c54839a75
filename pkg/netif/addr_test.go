package netif

import (
	"net/netip"
	"strings"
	"testing"
)

func u32(v uint32) *uint32 { return &v }

func TestVIPAddRemove(t *testing.T) {
	a, _ := pair(t)
	vips := []VIP{
		// The kernel wants one scope per subnet: the site-scoped VIP gets its own subnet.
		{Prefix: netip.MustParsePrefix("203.0.113.10/24"), Dev: dev, Label: dev + ":vip", Brd: BrdPlus, Scope: ScopeSite},
		{Prefix: netip.MustParsePrefix("198.51.100.11/24"), Dev: dev, Brd: BrdMinus},
		{Prefix: netip.MustParsePrefix("198.51.100.12/24"), Dev: dev, Brd: BrdAddr, BrdAddr: netip.MustParseAddr("198.51.100.254")},
		{Prefix: netip.MustParsePrefix("198.51.100.13/32"), Dev: dev},
		{Prefix: netip.MustParsePrefix("203.0.113.1/32"), Dev: dev, Peer: netip.MustParsePrefix("203.0.113.2/32")},
		{Prefix: netip.MustParsePrefix("2001:db8::10/128"), Dev: dev, NoDAD: true, NoPrefixRoute: true},
		{Prefix: netip.MustParsePrefix("2001:db8::11/64"), Dev: dev, NoDAD: true},
		{Prefix: netip.MustParsePrefix("2001:db8::12/128"), Dev: dev, NoDAD: true, PreferredLft: u32(Forever)},
	}
	a.Do(t, func() {
		for _, v := range vips {
			if err := AddVIP(v); err != nil {
				t.Fatal(err)
			}
			if err := AddVIP(v); err != nil { // idempotent
				t.Fatalf("second add: %v", err)
			}
		}
	})
	got := map[string]jsonAddr{}
	for _, ad := range addrs(t, a, dev) {
		if _, dup := got[ad.Local]; dup {
			t.Errorf("address %s twice", ad.Local)
		}
		got[ad.Local] = ad
	}
	want := map[string]jsonAddr{
		"203.0.113.10":  {Prefixlen: 24, Broadcast: "203.0.113.255", Scope: "site", Label: "nif0:vip"},
		"198.51.100.11": {Prefixlen: 24, Broadcast: "198.51.100.0", Scope: "global", Label: dev},
		"198.51.100.12": {Prefixlen: 24, Broadcast: "198.51.100.254", Scope: "global", Label: dev},
		"198.51.100.13": {Prefixlen: 32, Scope: "global", Label: dev},
		"203.0.113.1":   {Prefixlen: 32, Address: "203.0.113.2", Scope: "global", Label: dev},
		"2001:db8::10":  {Prefixlen: 128, Scope: "global", NoDAD: true, NoPrefixRoute: true, Preferred: 0},
		"2001:db8::11":  {Prefixlen: 64, Scope: "global", NoDAD: true, Preferred: uint64(Forever)},
		"2001:db8::12":  {Prefixlen: 128, Scope: "global", NoDAD: true, Preferred: uint64(Forever)},
	}
	for ip, w := range want {
		g, ok := got[ip]
		if !ok {
			t.Errorf("%s missing", ip)
			continue
		}
		if w.Preferred == 0 && !strings.Contains(ip, ":") {
			w.Preferred = uint64(Forever)
		}
		g.Family, g.Local = "", ""
		if g != w {
			t.Errorf("%s:\n got  %+v\n want %+v", ip, g, w)
		}
	}
	a.Do(t, func() {
		for _, v := range vips {
			if ok, err := HasVIP(v); err != nil || !ok {
				t.Errorf("HasVIP(%s) = %v, %v", v, ok, err)
			}
			if err := DelVIP(v); err != nil {
				t.Fatal(err)
			}
			if err := DelVIP(v); err != nil { // idempotent
				t.Fatalf("second delete: %v", err)
			}
			if ok, err := HasVIP(v); err != nil || ok {
				t.Errorf("after delete HasVIP(%s) = %v, %v", v, ok, err)
			}
		}
		if err := DelVIP(VIP{Prefix: netip.MustParsePrefix("198.51.100.10/24"), Dev: "nif-gone"}); err != nil {
			t.Errorf("delete on a vanished interface: %v", err)
		}
		err := AddVIP(VIP{Prefix: netip.MustParsePrefix("198.51.100.10/24"), Dev: "nif-gone"})
		if err == nil || !strings.Contains(err.Error(), "add vip 198.51.100.10/24 on nif-gone") {
			t.Errorf("add on a missing interface: %v", err)
		}
		if err := AddVIP(VIP{Prefix: netip.MustParsePrefix("2001:db8::1/64"), Dev: dev, Label: "x"}); err == nil {
			t.Error("ipv6 vip with a label accepted")
		}
	})
	left := addrs(t, a, dev)
	for _, ad := range left {
		if _, ours := want[ad.Local]; ours {
			t.Errorf("%s left after delete", ad.Local)
		}
	}
}

func TestReconcileVIPs(t *testing.T) {
	a, _ := pair(t)
	// A killed previous run left two of the configured VIPs; the admin has another address.
	a.MustRun(t, "ip", "addr", "add", "198.51.100.50/32", "dev", dev, "label", dev+":old")
	a.MustRun(t, "ip", "addr", "add", "2001:db8::50/128", "dev", dev, "nodad")
	a.MustRun(t, "ip", "addr", "add", "198.51.100.60/32", "dev", dev)
	configured := []VIP{
		{Prefix: netip.MustParsePrefix("198.51.100.50/32"), Dev: dev, Label: dev + ":new"}, // label changed since
		{Prefix: netip.MustParsePrefix("198.51.100.51/32"), Dev: dev},                      // not there
		{Prefix: netip.MustParsePrefix("198.51.100.60/24"), Dev: dev},                      // other prefix: not ours
		{Prefix: netip.MustParsePrefix("2001:db8::50/128"), Dev: dev},
		{Prefix: netip.MustParsePrefix("198.51.100.52/32"), Dev: "nif-gone"}, // interface missing
	}
	var removed []VIP
	a.Do(t, func() {
		var err error
		if removed, err = ReconcileVIPs(configured); err != nil {
			t.Fatal(err)
		}
	})
	if len(removed) != 2 || removed[0].Prefix != configured[0].Prefix || removed[1].Prefix != configured[3].Prefix {
		t.Fatalf("removed %v", removed)
	}
	have := map[string]bool{}
	for _, ad := range addrs(t, a, dev) {
		have[ad.Local] = true
	}
	if have["198.51.100.50"] || have["2001:db8::50"] || !have["198.51.100.60"] || !have["198.51.100.1"] {
		t.Fatalf("after reconcile: %v", have)
	}
	// Reconcile then add as MASTER: one copy each.
	a.Do(t, func() {
		for _, v := range configured[:2] {
			if err := AddVIP(v); err != nil {
				t.Fatal(err)
			}
		}
	})
	n := 0
	for _, ad := range addrs(t, a, dev) {
		if ad.Local == "198.51.100.50" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("198.51.100.50 present %d times", n)
	}
}

func TestParseScope(t *testing.T) {
	for in, want := range map[string]Scope{"global": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255, "7": 7} {
		if got, err := ParseScope(in); err != nil || got != want {
			t.Errorf("ParseScope(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "planet", "256", "-1"} {
		if _, err := ParseScope(in); err == nil {
			t.Errorf("ParseScope(%q) accepted", in)
		}
	}
}
