package config

import (
	"net/netip"
	"strconv"
	"strings"
)

type netipAddr = netip.Addr

// parsePrefixOrAddr reads "IP" or "IP/LEN"; a bare address gets the full
// length (/32 or /128).
func parsePrefixOrAddr(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			// keepalived also accepts a dotted netmask
			i := strings.IndexByte(s, '/')
			a, err1 := netip.ParseAddr(s[:i])
			m, err2 := netip.ParseAddr(s[i+1:])
			if err1 == nil && err2 == nil && a.Is4() && m.Is4() {
				if n, ok := maskLen(m.As4()); ok {
					return netip.PrefixFrom(a, n), nil
				}
			}
			return netip.Prefix{}, err
		}
		return pf, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func maskLen(m [4]byte) (int, bool) {
	v := uint32(m[0])<<24 | uint32(m[1])<<16 | uint32(m[2])<<8 | uint32(m[3])
	n := 0
	for v&0x80000000 != 0 {
		n++
		v <<= 1
	}
	return n, v == 0
}

// addressBlock reads a virtual_ipaddress / static_ipaddress block.
func (p *parser) addressBlock(s stmt) []*Address {
	if !p.enterList(s) {
		return nil
	}
	var out []*Address
	p.list(func(e stmt) {
		if a := p.address(e); a != nil {
			out = append(out, a)
		}
	})
	return out
}

func (p *parser) address(e stmt) *Address {
	w := e.kw()
	if i := strings.IndexByte(w, '/'); i >= 0 && strings.Contains(w[i+1:], ".") {
		// keepalived wants a prefix length here, not a netmask.
		p.errorf(e.pos, "invalid address prefix len %s for address %s - using host length", w[i+1:], w)
		w = w[:i]
	}
	pf, err := parsePrefixOrAddr(w)
	if err != nil {
		p.errorf(e.pos, "VRRP parsed invalid IP %s. skipping IP...", e.kw())
		return nil
	}
	a := &Address{Pos: e.pos, Prefix: pf}
	defer func() {
		if a.Dev != "" && p.hostIfChecks() && !p.interfaceExists(a.Dev) {
			p.errorf(e.pos, "interface %s for ip address %s doesn't exist", a.Dev, e.kw())
		}
	}()
	args := e.args()
	for i := 0; i < len(args); i++ {
		val := func() (string, bool) {
			if i+1 >= len(args) {
				p.errorf(e.pos, "%s: missing value for %s", e.kw(), args[i])
				return "", false
			}
			i++
			return args[i], true
		}
		switch args[i] {
		case "brd", "broadcast":
			if v, ok := val(); ok {
				if v != "+" && v != "-" {
					if _, err := netip.ParseAddr(v); err != nil {
						p.errorf(e.pos, "invalid broadcast address %s", v)
						continue
					}
				}
				a.Broadcast = v
			}
		case "dev":
			if v, ok := val(); ok {
				a.Dev = v
			}
		case "scope":
			if v, ok := val(); ok {
				switch v {
				case "site", "link", "host", "nowhere", "global":
					a.Scope = v
				default:
					if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 255 {
						a.Scope = v
					} else {
						p.errorf(e.pos, "invalid scope '%s'", v)
					}
				}
			}
		case "label":
			if v, ok := val(); ok {
				a.Label = v
			}
		case "peer":
			if v, ok := val(); ok {
				pf, err := parsePrefixOrAddr(v)
				if err != nil {
					p.errorf(e.pos, "invalid peer address %s", v)
					continue
				}
				if strings.Contains(e.kw(), "/") {
					p.errorf(e.pos, "cannot specify address prefix when specifying peer address - ignoring")
					continue
				}
				a.Peer = pf
			}
		case "home":
			a.Home = true
		case "-nodad", "nodad":
			a.NoDAD = true
		case "mngtmpaddr":
			a.MngTmpAddr = true
		case "noprefixroute":
			a.NoPrefixRoute = true
		case "autojoin":
			a.AutoJoin = true
		case "no_track":
			a.NoTrack = true
		case "use_vmac":
			a.UseVMAC = true
		case "preferred_lft":
			if v, ok := val(); ok {
				if v != "forever" {
					if _, err := strconv.ParseUint(v, 10, 32); err != nil {
						p.errorf(e.pos, "invalid preferred_lft %s", v)
						continue
					}
				}
				a.PreferredLft = v
			}
		case "track_group":
			if v, ok := val(); ok {
				a.TrackGroup = v
			}
		default:
			p.errorf(e.pos, "unknown address option '%s'", args[i])
		}
	}
	return a
}

// routeBlock reads virtual_routes (tracked: virtual true) or static_routes.
func (p *parser) routeBlock(s stmt, virtual bool) []*Route {
	if !p.enterList(s) {
		return nil
	}
	var out []*Route
	p.list(func(e stmt) {
		r := p.route(e)
		if r == nil {
			return
		}
		if p.hostIfChecks() {
			for _, d := range r.devs() {
				if !p.interfaceExists(d) {
					p.errorf(e.pos, "interface %s for VROUTE nexthop doesn't exist", d)
				}
			}
		}
		if !r.NoTrack && r.Dev == "" {
			p.errorf(e.pos, "cannot track route %s with no interface specified, not tracking", r.Dst)
			r.NoTrack = true
		}
		out = append(out, r)
	})
	return out
}

// devs lists the interfaces a route names.
func (r *Route) devs() []string {
	var out []string
	if r.Dev != "" {
		out = append(out, r.Dev)
	}
	for _, nh := range r.Nexthops {
		if nh.Dev != "" {
			out = append(out, nh.Dev)
		}
	}
	return out
}

var routeTypes = map[string]bool{"unicast": true, "blackhole": true, "unreachable": true, "prohibit": true,
	"throw": true, "local": true, "broadcast": true, "anycast": true, "multicast": true, "nat": true}

var routeValueOpts = map[string]bool{"mtu": true, "advmss": true, "rtt": true, "rttvar": true, "reordering": true,
	"window": true, "cwnd": true, "initcwnd": true, "ssthresh": true, "realms": true, "rto_min": true,
	"initrwnd": true, "features": true, "quickack": true, "congctl": true, "pref": true, "expires": true,
	"fastopen_no_cookie": true, "tos": true, "dsfield": true, "encap": true, "ttl-propagate": true}

func (p *parser) route(e stmt) *Route {
	r := &Route{Pos: e.pos}
	w := e.words
	i := 0
	if routeTypes[w[0]] {
		if w[0] != "unicast" {
			r.Type = w[0]
		}
		i++
	}
	dstSet := false
	for ; i < len(w); i++ {
		val := func() (string, bool) {
			if i+1 >= len(w) {
				p.errorf(e.pos, "route: missing value for %s", w[i])
				return "", false
			}
			i++
			return w[i], true
		}
		switch w[i] {
		case "to":
			if v, ok := val(); ok {
				p.routeDst(e, r, v)
				dstSet = true
			}
		case "src":
			if v, ok := val(); ok {
				if a, err := netip.ParseAddr(v); err == nil {
					r.Src = a
				} else {
					p.errorf(e.pos, "invalid route src address %s", v)
				}
			}
		case "from":
			if v, ok := val(); ok {
				if pf, err := parsePrefixOrAddr(v); err == nil {
					r.From = pf
				} else {
					p.errorf(e.pos, "invalid route from address %s", v)
				}
			}
		case "or":
			p.warnf(e.pos, "\"or\" for routes is deprecated. Please use \"nexthop\"")
			if v, ok := val(); ok {
				a, err := netip.ParseAddr(v)
				if err != nil {
					p.errorf(e.pos, "invalid route gateway %s", v)
					continue
				}
				if len(r.Nexthops) == 0 && r.Via.IsValid() {
					r.Nexthops = append(r.Nexthops, Nexthop{Via: r.Via, Dev: r.Dev})
					r.Via = netip.Addr{}
				}
				r.Nexthops = append(r.Nexthops, Nexthop{Via: a})
			}
		case "via", "gw":
			if w[i] == "gw" {
				p.warnf(e.pos, "\"gw\" for routes is deprecated. Please use \"via\"")
			}
			if v, ok := val(); ok {
				if v == "inet" || v == "inet6" {
					if v2, ok := val(); ok {
						v = v2
					}
				}
				if a, err := netip.ParseAddr(v); err == nil {
					r.Via = a
				} else {
					p.errorf(e.pos, "invalid route gateway %s", v)
				}
			}
		case "dev", "oif":
			if v, ok := val(); ok {
				r.Dev = v
			}
		case "table":
			if v, ok := val(); ok {
				r.Table = v
			}
		case "metric", "priority", "preference":
			if v, ok := val(); ok {
				if n, err := strconv.ParseUint(v, 10, 32); err == nil {
					m := uint32(n)
					r.Metric = &m
				} else {
					p.errorf(e.pos, "invalid route metric %s", v)
				}
			}
		case "scope":
			if v, ok := val(); ok {
				r.Scope = v
			}
		case "protocol":
			if v, ok := val(); ok {
				r.Protocol = v
			}
		case "onlink":
			r.OnLink = true
		case "no_track":
			r.NoTrack = true
		case "track_group":
			if v, ok := val(); ok {
				r.TrackGroup = v
			}
		case "nexthop":
			nh := Nexthop{}
			for i+1 < len(w) && w[i+1] != "nexthop" {
				i++
				switch w[i] {
				case "via", "gw":
					if v, ok := val(); ok {
						if a, err := netip.ParseAddr(v); err == nil {
							nh.Via = a
						} else {
							p.errorf(e.pos, "invalid nexthop gateway %s", v)
						}
					}
				case "dev":
					if v, ok := val(); ok {
						nh.Dev = v
					}
				case "weight":
					if v, ok := val(); ok {
						if n, ok := p.intIn(e.pos, v, 1, 256); ok {
							nh.Weight = int(n)
						}
					}
				case "onlink":
					nh.OnLink = true
				default:
					p.errorf(e.pos, "unknown nexthop option '%s'", w[i])
				}
			}
			r.Nexthops = append(r.Nexthops, nh)
		case "blackhole", "unreachable", "prohibit", "throw":
			r.Type = w[i]
		case "add", "append", "prepend", "replace":
		default:
			if routeValueOpts[w[i]] || strings.HasPrefix(w[i], "lock") {
				name := w[i]
				if v, ok := val(); ok {
					if r.Options == nil {
						r.Options = map[string]string{}
					}
					r.Options[name] = v
				}
				continue
			}
			if !dstSet {
				p.routeDst(e, r, w[i])
				dstSet = true
				continue
			}
			p.errorf(e.pos, "unknown route option '%s'", w[i])
		}
	}
	if !dstSet {
		p.errorf(e.pos, "route has no destination")
		return nil
	}
	return r
}

func (p *parser) routeDst(e stmt, r *Route, v string) {
	if v == "default" {
		r.Dst = netip.MustParsePrefix("0.0.0.0/0")
		return
	}
	pf, err := parsePrefixOrAddr(v)
	if err != nil {
		p.errorf(e.pos, "invalid route destination %s", v)
		return
	}
	r.Dst = pf
}

func (p *parser) ruleBlock(s stmt) []*Rule {
	if !p.enterList(s) {
		return nil
	}
	var out []*Rule
	p.list(func(e stmt) {
		if r := p.rule(e); r != nil {
			out = append(out, r)
		}
	})
	return out
}

var ruleActions = map[string]bool{"unicast": true, "blackhole": true, "unreachable": true, "prohibit": true, "nat": true}

var ruleValueOpts = map[string]bool{"tos": true, "dsfield": true, "realms": true, "goto": true,
	"suppress_prefixlength": true, "suppress_ifgroup": true, "uidrange": true, "ipproto": true,
	"sport": true, "dport": true, "l3mdev": false, "protocol": true, "tun_id": true}

func (p *parser) rule(e stmt) *Rule {
	r := &Rule{Pos: e.pos}
	w := e.words
	for i := 0; i < len(w); i++ {
		val := func() (string, bool) {
			if i+1 >= len(w) {
				p.errorf(e.pos, "rule: missing value for %s", w[i])
				return "", false
			}
			i++
			return w[i], true
		}
		switch w[i] {
		case "from", "to":
			which := w[i]
			if v, ok := val(); ok {
				var pf netip.Prefix
				if v == "all" {
					r.Options = setOpt(r.Options, which, "all")
					continue
				}
				pf, err := parsePrefixOrAddr(v)
				if err != nil {
					p.errorf(e.pos, "invalid rule %s address %s", which, v)
					continue
				}
				if which == "from" {
					r.From = pf
				} else {
					r.To = pf
				}
			}
		case "not":
			r.Not = true
		case "preference", "priority":
			if v, ok := val(); ok {
				if n, err := strconv.ParseUint(v, 10, 32); err == nil {
					m := uint32(n)
					r.Preference = &m
				} else {
					p.errorf(e.pos, "invalid rule preference %s", v)
				}
			}
		case "table", "lookup":
			if v, ok := val(); ok {
				r.Table = v
			}
		case "fwmark":
			if v, ok := val(); ok {
				r.Fwmark = v
			}
		case "iif", "dev":
			if v, ok := val(); ok {
				r.IIF = v
			}
		case "oif":
			if v, ok := val(); ok {
				r.OIF = v
			}
		case "inet", "inet6":
			r.Family = w[i]
		case "no_track":
			r.NoTrack = true
		case "track_group":
			if v, ok := val(); ok {
				r.TrackGroup = v
			}
		case "l3mdev":
			r.Options = setOpt(r.Options, "l3mdev", "")
		default:
			if ruleActions[w[i]] {
				r.Action = w[i]
				continue
			}
			if ruleValueOpts[w[i]] {
				name := w[i]
				if v, ok := val(); ok {
					r.Options = setOpt(r.Options, name, v)
				}
				continue
			}
			p.errorf(e.pos, "unknown rule option '%s'", w[i])
		}
	}
	if r.From.IsValid() && r.To.IsValid() && r.From.Addr().Is4() != r.To.Addr().Is4() {
		p.errorf(e.pos, "rule from and to address families differ")
	}
	if r.Preference == nil {
		p.errorf(e.pos, "rule has no preference specified - this is probably not what you want")
	}
	return r
}

func setOpt(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}
