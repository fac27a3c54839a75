package netif

import (
	"net/netip"
	"strings"
	"testing"
)

func scope(s Scope) *Scope { return &s }

func TestRoutes(t *testing.T) {
	a, _ := pair(t)
	a.MustRun(t, "ip", "addr", "add", "2001:db8::1/64", "dev", dev, "nodad")
	routes := []Route{
		{To: netip.MustParsePrefix("203.0.113.0/25"), Via: netip.MustParseAddr("198.51.100.2"), Dev: dev, Table: 100, Metric: 5},
		{To: netip.MustParsePrefix("203.0.113.128/25"), Dev: dev, Src: netip.MustParseAddr("198.51.100.1")},
		{To: netip.MustParsePrefix("0.0.0.0/0"), Via: netip.MustParseAddr("203.0.113.254"), Dev: dev, OnLink: true, Table: 101},
		{To: netip.MustParsePrefix("203.0.113.64/26"), Type: RouteBlackhole, Table: 102},
		{To: netip.MustParsePrefix("203.0.113.0/26"), Type: RouteUnreachable, Table: 102, Metric: 7},
		{To: netip.MustParsePrefix("203.0.113.192/26"), Type: RouteProhibit, Table: 102},
		{To: netip.MustParsePrefix("2001:db8:1::/48"), Via: netip.MustParseAddr("2001:db8::2"), Dev: dev, Metric: 10},
		{To: netip.MustParsePrefix("2001:db8:2::/48"), Dev: dev, Scope: scope(ScopeLink), Table: 103},
		{To: netip.MustParsePrefix("203.0.113.0/24"), Table: 104, Nexthops: []Nexthop{
			{Via: netip.MustParseAddr("198.51.100.2"), Dev: dev},
			{Via: netip.MustParseAddr("198.51.100.3"), Weight: 3},
		}},
	}
	want := []string{
		"203.0.113.0/25 via 198.51.100.2 dev nif0 table 100 metric 5",
		"203.0.113.128/25 dev nif0 scope link src 198.51.100.1",
		"default via 203.0.113.254 dev nif0 table 101 onlink",
		"blackhole 203.0.113.64/26 table 102",
		"unreachable 203.0.113.0/26 table 102 metric 7",
		"prohibit 203.0.113.192/26 table 102",
		"2001:db8:1::/48 via 2001:db8::2 dev nif0 metric 10",
		"2001:db8:2::/48 dev nif0 table 103",
		"203.0.113.0/24 table 104 \n\tnexthop via 198.51.100.2 dev nif0 weight 1 \n\tnexthop via 198.51.100.3 dev nif0 weight 3",
	}
	show := func() string {
		return a.MustRun(t, "ip", "-4", "route", "show", "table", "all") + a.MustRun(t, "ip", "-6", "route", "show", "table", "all")
	}
	a.Do(t, func() {
		for _, r := range routes {
			if err := AddRoute(r); err != nil {
				t.Fatal(err)
			}
			if err := AddRoute(r); err != nil {
				t.Fatalf("second add: %v", err)
			}
		}
	})
	out := show()
	for _, w := range want {
		if n := strings.Count(out, w); n != 1 {
			t.Errorf("route %q appears %d times in:\n%s", w, n, out)
		}
	}
	a.Do(t, func() {
		for _, r := range routes {
			if err := DelRoute(r); err != nil {
				t.Fatal(err)
			}
			if err := DelRoute(r); err != nil {
				t.Fatalf("second delete: %v", err)
			}
		}
		bad := []Route{
			{},
			{To: netip.MustParsePrefix("203.0.113.0/24")},
			{To: netip.MustParsePrefix("203.0.113.0/24"), Via: netip.MustParseAddr("2001:db8::2")},
			{To: netip.MustParsePrefix("203.0.113.0/24"), Type: RouteBlackhole, Dev: dev},
			{To: netip.MustParsePrefix("203.0.113.0/24"), Via: netip.MustParseAddr("198.51.100.2"),
				Nexthops: []Nexthop{{Via: netip.MustParseAddr("198.51.100.3")}}},
			{To: netip.MustParsePrefix("203.0.113.0/24"), Nexthops: []Nexthop{{Weight: 2}}},
		}
		for _, r := range bad {
			if err := AddRoute(r); err == nil {
				t.Errorf("bad route %+v accepted", r)
			}
		}
	})
	out = show()
	for _, w := range want {
		if strings.Contains(out, w) {
			t.Errorf("route %q left after delete", w)
		}
	}
}

func TestRules(t *testing.T) {
	a, _ := pair(t)
	mask := uint32(0xff)
	rules := []Rule{
		{From: netip.MustParsePrefix("198.51.100.10/32"), Table: 100, Preference: 100},
		{To: netip.MustParsePrefix("203.0.113.0/24"), Table: 101, Preference: 101, IIF: dev},
		{Table: 102, Preference: 102, HasFwMark: true, FwMark: 0x10, FwMask: &mask},
		{Table: 103, Preference: 103, HasFwMark: true, FwMark: 7, OIF: dev},
		{IPv6: true, From: netip.MustParsePrefix("2001:db8::/64"), Table: 104, Preference: 104},
	}
	want := []string{
		"100:\tfrom 198.51.100.10 lookup 100",
		"101:\tfrom all to 203.0.113.0/24 iif nif0 lookup 101",
		"102:\tfrom all fwmark 0x10/0xff lookup 102",
		"103:\tfrom all fwmark 0x7 oif nif0 lookup 103",
		"104:\tfrom 2001:db8::/64 lookup 104",
	}
	show := func() string {
		return a.MustRun(t, "ip", "-4", "rule", "show") + a.MustRun(t, "ip", "-6", "rule", "show")
	}
	a.Do(t, func() {
		for _, r := range rules {
			if err := AddRule(r); err != nil {
				t.Fatal(err)
			}
			if err := AddRule(r); err != nil {
				t.Fatalf("second add: %v", err)
			}
		}
	})
	out := show()
	for _, w := range want {
		if n := strings.Count(out, w+" \n") + strings.Count(out, w+"\n"); n != 1 {
			t.Errorf("rule %q appears %d times in:\n%s", w, n, out)
		}
	}
	a.Do(t, func() {
		for _, r := range rules {
			if err := DelRule(r); err != nil {
				t.Fatal(err)
			}
			if err := DelRule(r); err != nil {
				t.Fatalf("second delete: %v", err)
			}
		}
		if err := AddRule(Rule{Preference: 5}); err == nil {
			t.Error("rule without a table accepted")
		}
	})
	out = show()
	for _, w := range want {
		if strings.Contains(out, w) {
			t.Errorf("rule %q left after delete:\n%s", w, out)
		}
	}
}
