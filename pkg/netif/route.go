package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteType is the kind of a route; the zero value is an ordinary unicast route.
type RouteType uint8

const (
	RouteUnicast RouteType = iota
	RouteBlackhole
	RouteUnreachable
	RouteProhibit
)

// Route is one entry of virtual_routes, the subset of `ip route` keepalived users write.
type Route struct {
	To     netip.Prefix // destination ("default" is 0.0.0.0/0 or ::/0); required
	Type   RouteType
	Via    netip.Addr // gateway ("via" or "gw")
	Dev    string
	Src    netip.Addr // preferred source
	Table  int        // 0 means main
	Metric int        // "metric" / "priority"
	// Scope is the route scope; nil chooses as ip(8) does: link for a unicast route without
	// a gateway, global otherwise.
	Scope  *Scope
	OnLink bool
	// Nexthops makes a multipath route; Via and Dev must then be empty.
	Nexthops []Nexthop
}

// Nexthop is one path of a multipath route ("nexthop via A dev D weight W onlink").
type Nexthop struct {
	Via    netip.Addr
	Dev    string
	Weight int // 1..256; 0 means 1
	OnLink bool
}

func (r Route) String() string {
	var b strings.Builder
	switch r.Type {
	case RouteBlackhole:
		b.WriteString("blackhole ")
	case RouteUnreachable:
		b.WriteString("unreachable ")
	case RouteProhibit:
		b.WriteString("prohibit ")
	}
	b.WriteString(r.To.String())
	if r.Via.IsValid() {
		fmt.Fprintf(&b, " via %s", r.Via)
	}
	if r.Dev != "" {
		fmt.Fprintf(&b, " dev %s", r.Dev)
	}
	if r.Table != 0 {
		fmt.Fprintf(&b, " table %d", r.Table)
	}
	for _, nh := range r.Nexthops {
		b.WriteString(" nexthop")
		if nh.Via.IsValid() {
			fmt.Fprintf(&b, " via %s", nh.Via)
		}
		if nh.Dev != "" {
			fmt.Fprintf(&b, " dev %s", nh.Dev)
		}
		fmt.Fprintf(&b, " weight %d", max(nh.Weight, 1))
	}
	return b.String()
}

func (r Route) netlinkRoute() (*netlink.Route, error) {
	if !r.To.IsValid() {
		return nil, errors.New("no destination")
	}
	v4 := r.To.Addr().Is4()
	nr := &netlink.Route{Dst: prefixNet(r.To), Table: r.Table, Priority: r.Metric, Protocol: unix.RTPROT_BOOT}
	if v4 {
		nr.Family = netlink.FAMILY_V4
	} else {
		nr.Family = netlink.FAMILY_V6
	}
	switch r.Type {
	case RouteUnicast:
		nr.Type = unix.RTN_UNICAST
	case RouteBlackhole:
		nr.Type = unix.RTN_BLACKHOLE
	case RouteUnreachable:
		nr.Type = unix.RTN_UNREACHABLE
	case RouteProhibit:
		nr.Type = unix.RTN_PROHIBIT
	default:
		return nil, fmt.Errorf("route type %d", r.Type)
	}
	if r.Type != RouteUnicast && (r.Via.IsValid() || r.Dev != "") {
		return nil, errors.New("blackhole, unreachable and prohibit routes take no gateway or device")
	}
	if r.Via.IsValid() {
		if r.Via.Is4() != v4 {
			return nil, fmt.Errorf("gateway %s of another family", r.Via)
		}
		nr.Gw = r.Via.AsSlice()
	}
	if r.Src.IsValid() {
		if r.Src.Is4() != v4 {
			return nil, fmt.Errorf("source %s of another family", r.Src)
		}
		nr.Src = r.Src.AsSlice()
	}
	if r.Dev != "" {
		link, err := netlink.LinkByName(r.Dev)
		if err != nil {
			return nil, err
		}
		nr.LinkIndex = link.Attrs().Index
	}
	if len(r.Nexthops) > 0 {
		if r.Type != RouteUnicast || r.Via.IsValid() || r.Dev != "" {
			return nil, errors.New("a multipath route takes its gateways and devices in nexthop only")
		}
		for _, nh := range r.Nexthops {
			info := &netlink.NexthopInfo{Hops: max(nh.Weight, 1) - 1}
			if nh.Weight < 0 || nh.Weight > 256 {
				return nil, fmt.Errorf("nexthop weight %d out of 1..256", nh.Weight)
			}
			if nh.Via.IsValid() {
				if nh.Via.Is4() != v4 {
					return nil, fmt.Errorf("nexthop gateway %s of another family", nh.Via)
				}
				info.Gw = nh.Via.AsSlice()
			}
			if nh.Dev != "" {
				link, err := netlink.LinkByName(nh.Dev)
				if err != nil {
					return nil, err
				}
				info.LinkIndex = link.Attrs().Index
			}
			if info.LinkIndex == 0 && info.Gw == nil {
				return nil, errors.New("a nexthop needs a gateway or a device")
			}
			if nh.OnLink {
				info.Flags |= int(netlink.FLAG_ONLINK)
			}
			nr.MultiPath = append(nr.MultiPath, info)
		}
		nr.Scope = netlink.SCOPE_UNIVERSE
		if r.Scope != nil {
			nr.Scope = netlink.Scope(*r.Scope)
		}
		return nr, nil
	}
	if r.Type == RouteUnicast && nr.LinkIndex == 0 && !r.Via.IsValid() {
		return nil, errors.New("a unicast route needs a gateway or a device")
	}
	switch {
	case r.Scope != nil:
		nr.Scope = netlink.Scope(*r.Scope)
	case r.Type == RouteUnicast && !r.Via.IsValid():
		nr.Scope = netlink.SCOPE_LINK
	default:
		nr.Scope = netlink.SCOPE_UNIVERSE
	}
	if r.OnLink {
		nr.Flags |= int(netlink.FLAG_ONLINK)
	}
	return nr, nil
}

// AddRoute adds the route; a route that exists already is not an error.
func AddRoute(r Route) error {
	nr, err := r.netlinkRoute()
	if err == nil {
		err = netlink.RouteAdd(nr)
		if errors.Is(err, unix.EEXIST) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("add route %s: %w", r, err)
	}
	return nil
}

// DelRoute removes the route; a route that is gone is not an error.
func DelRoute(r Route) error {
	nr, err := r.netlinkRoute()
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil // the device went away and its routes with it
		}
		return fmt.Errorf("delete route %s: %w", r, err)
	}
	if err := netlink.RouteDel(nr); err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete route %s: %w", r, err)
	}
	return nil
}

// Rule is one entry of virtual_rules, the subset of `ip rule` keepalived users write.
type Rule struct {
	IPv6       bool         // family when neither From nor To is given
	From, To   netip.Prefix // selectors; invalid means "all"
	Table      int          // lookup table; required
	Preference int          // "preference" / "priority" / "order"; required by keepalived
	IIF, OIF   string
	FwMark     uint32
	FwMask     *uint32 // nil: no mask ("fwmark N"); set: "fwmark N/MASK"
	HasFwMark  bool    // match FwMark (fwmark 0 is a valid match)
}

func (r Rule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pref %d", r.Preference)
	if r.From.IsValid() {
		fmt.Fprintf(&b, " from %s", r.From)
	}
	if r.To.IsValid() {
		fmt.Fprintf(&b, " to %s", r.To)
	}
	if r.HasFwMark {
		fmt.Fprintf(&b, " fwmark %#x", r.FwMark)
	}
	if r.IIF != "" {
		fmt.Fprintf(&b, " iif %s", r.IIF)
	}
	if r.OIF != "" {
		fmt.Fprintf(&b, " oif %s", r.OIF)
	}
	fmt.Fprintf(&b, " table %d", r.Table)
	return b.String()
}

func (r Rule) netlinkRule() (*netlink.Rule, error) {
	if r.Table <= 0 {
		return nil, errors.New("no table")
	}
	if r.Preference < 0 {
		return nil, errors.New("negative preference")
	}
	nr := netlink.NewRule()
	nr.Family = netlink.FAMILY_V4
	if r.IPv6 {
		nr.Family = netlink.FAMILY_V6
	}
	v6 := r.IPv6
	for _, p := range []netip.Prefix{r.From, r.To} {
		if p.IsValid() {
			v6 = p.Addr().Is6()
		}
	}
	if r.From.IsValid() && r.To.IsValid() && r.From.Addr().Is6() != r.To.Addr().Is6() {
		return nil, errors.New("from and to of different families")
	}
	if v6 {
		nr.Family = netlink.FAMILY_V6
	}
	if r.From.IsValid() {
		nr.Src = prefixNet(r.From)
	}
	if r.To.IsValid() {
		nr.Dst = prefixNet(r.To)
	}
	nr.Table = r.Table
	nr.Priority = r.Preference
	nr.IifName, nr.OifName = r.IIF, r.OIF
	if r.HasFwMark {
		nr.Mark = r.FwMark
		m := ^uint32(0)
		if r.FwMask != nil {
			m = *r.FwMask
		}
		nr.Mask = &m
	}
	return nr, nil
}

// AddRule adds the rule unless an identical one exists.
func AddRule(r Rule) error {
	nr, err := r.netlinkRule()
	if err == nil {
		var have bool
		if have, err = hasRule(nr); err == nil && !have {
			err = netlink.RuleAdd(nr)
			if errors.Is(err, unix.EEXIST) {
				err = nil
			}
		}
	}
	if err != nil {
		return fmt.Errorf("add rule %s: %w", r, err)
	}
	return nil
}

// DelRule removes the rule; a rule that is gone is not an error.
func DelRule(r Rule) error {
	nr, err := r.netlinkRule()
	if err == nil {
		err = netlink.RuleDel(nr)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("delete rule %s: %w", r, err)
	}
	return nil
}

// hasRule reports whether a rule with the same selectors, table and preference exists: the
// kernel accepts identical rules twice, so idempotence needs a look first.
func hasRule(want *netlink.Rule) (bool, error) {
	rules, err := netlink.RuleList(want.Family)
	if err != nil {
		return false, fmt.Errorf("list rules: %w", err)
	}
	same := func(a, b *net.IPNet) bool {
		if a == nil || b == nil {
			return a == nil && b == nil
		}
		return a.String() == b.String()
	}
	for _, r := range rules {
		if r.Priority == want.Priority && r.Table == want.Table && same(r.Src, want.Src) && same(r.Dst, want.Dst) &&
			r.IifName == want.IifName && r.OifName == want.OifName && r.Mark == want.Mark &&
			(r.Mask == nil) == (want.Mask == nil) && (r.Mask == nil || *r.Mask == *want.Mask) {
			return true, nil
		}
	}
	return false, nil
}
