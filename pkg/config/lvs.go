package config

import (
	"net/netip"
	"strconv"
	"strings"
)

// lbAlgos are the IPVS schedulers keepalived accepts for lb_algo.
var lbAlgos = map[string]bool{"rr": true, "wrr": true, "lc": true, "wlc": true, "lblc": true, "sh": true,
	"mh": true, "dh": true, "fo": true, "ovf": true, "lblcr": true, "sed": true, "nq": true, "twos": true}

func (p *parser) vsGroup(s stmt) {
	nm, _ := p.name(s)
	if !p.enterList(s) {
		return
	}
	g := &VirtualServerGroup{Pos: s.pos, Name: nm}
	p.list(func(e stmt) {
		if e.kw() == "fwmark" {
			ent := VSGEntry{Pos: e.pos}
			if len(e.words) < 2 {
				p.errorf(e.pos, "virtual_server_group %s: fwmark without value", nm)
				return
			}
			if n, ok := p.intIn(e.pos, e.words[1], 1, 1<<32-1); ok {
				ent.Fwmark = uint32(n)
			}
			if len(e.words) > 2 {
				ent.Family = e.words[2]
			}
			g.Entries = append(g.Entries, ent)
			return
		}
		ent := VSGEntry{Pos: e.pos}
		if !p.vsgAddress(e, e.kw(), &ent) {
			return
		}
		if len(e.words) > 1 {
			if v, ok := p.port(e.pos, e.words[1]); ok {
				ent.Port = v
			}
		}
		g.Entries = append(g.Entries, ent)
	})
	if len(g.Entries) == 0 {
		p.errorf(p.lastClose, "virtual server group %s has no entries - removing", nm)
		return
	}
	has4, has6, bareMark := false, false, false
	for _, e := range g.Entries {
		switch {
		case e.Fwmark != 0:
			if e.Family == "" {
				bareMark = true
			}
		case e.Addr.Is4():
			has4 = true
		default:
			has6 = true
		}
	}
	if has4 && has6 && bareMark {
		p.errorf(p.lastClose, "virtual server group %s cannot have IPv4, IPv6 and fwmark without family - removing", nm)
		return
	}
	if nm != "" {
		p.cfg.VirtualServerGroups = append(p.cfg.VirtualServerGroups, g)
	}
}

// vsgAddress reads a.b.c.d, a.b.c.d-e, a.b.c.d-w.x.y.z, a.b.c.d/nn.
func (p *parser) vsgAddress(e stmt, w string, ent *VSGEntry) bool {
	if i := strings.IndexByte(w, '-'); i > 0 {
		a, err := netip.ParseAddr(w[:i])
		if err != nil {
			p.errorf(e.pos, "invalid virtual server group address %s", w)
			return false
		}
		rest := w[i+1:]
		end, err := netip.ParseAddr(rest)
		if err != nil {
			// last-part form
			n, err2 := strconv.ParseUint(rest, 16, 16)
			if a.Is4() {
				n, err2 = strconv.ParseUint(rest, 10, 8)
			}
			if err2 != nil {
				p.errorf(e.pos, "invalid virtual server group range %s", w)
				return false
			}
			b := a.AsSlice()
			if a.Is4() {
				b[3] = byte(n)
			} else {
				b[14], b[15] = byte(n>>8), byte(n)
			}
			end, _ = netip.AddrFromSlice(b)
		}
		if end.Less(a) {
			p.errorf(e.pos, "virtual server group range %s ends before it starts", w)
			return false
		}
		ent.Addr, ent.RangeEnd = a, end
		return true
	}
	if strings.Contains(w, "/") {
		pf, err := netip.ParsePrefix(w)
		if err != nil {
			p.errorf(e.pos, "invalid virtual server group address %s", w)
			return false
		}
		pf = pf.Masked()
		ent.Addr = pf.Addr()
		ent.RangeEnd = lastAddr(pf)
		return true
	}
	a, err := netip.ParseAddr(w)
	if err != nil {
		p.errorf(e.pos, "invalid virtual server group address %s", w)
		return false
	}
	ent.Addr = a
	return true
}

func lastAddr(pf netip.Prefix) netip.Addr {
	b := pf.Addr().AsSlice()
	bits := pf.Bits()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// lvsState is what a virtual or real server set explicitly, for the
// VS -> RS -> checker inheritance.
type lvsState struct {
	delayLoop *Duration
	protoSet  bool
	lbKindSet bool
	lbAlgoSet bool
}

func (p *parser) virtualServer(s stmt) {
	vs := &VirtualServer{Pos: s.pos, Quorum: 1, DelayLoop: Seconds(60)}
	a := s.args()
	ok := true
	switch {
	case len(a) == 0:
		p.errorf(s.pos, "virtual_server: missing address")
		ok = false
	case a[0] == "fwmark":
		vs.Kind = "fwmark"
		if len(a) < 2 {
			p.errorf(s.pos, "virtual_server fwmark: missing value")
			ok = false
		} else if n, good := p.intIn(s.pos, a[1], 1, 1<<32-1); good {
			vs.Fwmark = uint32(n)
		} else {
			ok = false
		}
	case a[0] == "group":
		vs.Kind = "group"
		if len(a) < 2 {
			p.errorf(s.pos, "virtual_server group: missing name")
			ok = false
		} else {
			vs.Group = a[1]
		}
	default:
		vs.Kind = "ip"
		ad, err := netip.ParseAddr(a[0])
		if err != nil {
			port := ""
			if len(a) > 1 {
				port = a[1]
			}
			p.errorf(s.pos, "invalid virtual server IP address/port %s/%s - skipping", a[0], port)
			if p.enter(s) {
				p.skipBlock()
			}
			return
		}
		vs.Address = ad
		// keepalived accepts a missing port (port 0).
		if len(a) < 2 {
		} else if v, good := p.port(s.pos, a[1]); good {
			vs.Port = v
		}
		// keepalived ignores anything after the port.
	}
	if !p.enter(s) {
		return
	}
	x := &vsCtx{vs: vs}
	bodyT(p, vsTable, x)
	if !ok {
		return
	}
	p.vsDefaults(vs, &x.st, x.rss)
	p.cfg.VirtualServers = append(p.cfg.VirtualServers, vs)
}

// vsCtx is what a virtual_server block builds.
type vsCtx struct {
	vs  *VirtualServer
	st  lvsState
	rss []*rsState
}

// vsTable is the keyword table of virtual_server blocks, built once.
var vsTable = newVSTable()

func newVSTable() tableT[*vsCtx] {
	dur := func(get func(*vsCtx) **Duration, lo, hi float64) entry[*vsCtx] { return durField(get, lo, hi) }
	flag := func(get func(*VirtualServer) *bool) entry[*vsCtx] {
		return entry[*vsCtx]{fn: func(p *parser, s stmt, x *vsCtx) { *get(x.vs) = true }}
	}
	algo := entry[*vsCtx]{fn: func(p *parser, s stmt, x *vsCtx) {
		w, ok := p.str(s)
		if !ok {
			return
		}
		if !lbAlgos[w] {
			p.errorf(s.pos, "invalid lvs_scheduler '%s' - ignoring", w)
			return
		}
		x.vs.LBAlgo = w
		x.st.lbAlgoSet = true
	}}
	kind := entry[*vsCtx]{fn: func(p *parser, s stmt, x *vsCtx) {
		w, ok := p.str(s)
		if !ok {
			return
		}
		switch strings.ToUpper(w) {
		case "NAT", "DR":
			x.vs.LBKind = strings.ToUpper(w)
			x.st.lbKindSet = true
		case "TUN":
			x.vs.LBKind = "TUN"
			x.st.lbKindSet = true
			p.tunnelOpts(s, x.vs)
		default:
			p.errorf(s.pos, "PARSER : unknown [%s] routing method for virtual server.", w)
		}
	}}
	tb := tableT[*vsCtx]{
		"delay_loop": {fn: func(p *parser, s stmt, x *vsCtx) {
			if d, ok := p.secArg(s, 0.000001, 1<<31); ok {
				x.vs.DelayLoop = d
				x.st.delayLoop = &d
			}
		}},
		"lb_algo":    algo,
		"lvs_sched":  algo,
		"lb_kind":    kind,
		"lvs_method": kind,
		"protocol": {fn: func(p *parser, s stmt, x *vsCtx) {
			w, ok := p.str(s)
			if !ok {
				return
			}
			switch strings.ToUpper(w) {
			case "TCP", "UDP", "SCTP":
				x.vs.Protocol = strings.ToUpper(w)
				x.st.protoSet = true
			default:
				p.errorf(s.pos, "unknown protocol %s - ignoring", w)
			}
		}},
		"persistence_timeout": {fn: func(p *parser, s stmt, x *vsCtx) {
			if len(s.words) < 2 {
				x.vs.PersistenceTimeout = Seconds(360)
				return
			}
			n, err := strconv.ParseUint(s.words[1], 10, 32)
			if err != nil || n < 1 || n > 1<<32-1 {
				p.errorf(s.pos, "persistence_timeout invalid")
				return
			}
			x.vs.PersistenceTimeout = Seconds(float64(n))
		}},
		"persistence_granularity": {fn: func(p *parser, s stmt, x *vsCtx) {
			w, ok := p.str(s)
			if !ok {
				return
			}
			if _, err := netip.ParseAddr(w); err != nil {
				if n, err := strconv.Atoi(w); err != nil || n < 1 || n > 128 {
					p.errorf(s.pos, "invalid persistence_granularity %s", w)
					return
				}
			}
			x.vs.PersistenceGranularity = w
		}},
		"persistence_engine": {fn: func(p *parser, s stmt, x *vsCtx) { x.vs.PersistenceEngine, _ = p.str(s) }},
		"ha_suspend":         flag(func(vs *VirtualServer) *bool { return &vs.HASuspend }),
		"alpha":              flag(func(vs *VirtualServer) *bool { return &vs.Alpha }),
		"omega":              flag(func(vs *VirtualServer) *bool { return &vs.Omega }),
		"quorum": {fn: func(p *parser, s stmt, x *vsCtx) {
			if n, ok := p.intArg(s, 1, 1<<32-1); ok {
				x.vs.Quorum = n
			} else {
				p.errorf(s.pos, "quorum %s must be in [1, 4294967295] - setting to 1", strings.Join(s.args(), " "))
			}
		}},
		"hysteresis": {fn: func(p *parser, s stmt, x *vsCtx) {
			if n, ok := p.intArg(s, 0, 1<<31-1); ok {
				x.vs.Hysteresis = n
			}
		}},
		"quorum_up":   {fn: func(p *parser, s stmt, x *vsCtx) { x.vs.QuorumUp = p.script(s) }},
		"quorum_down": {fn: func(p *parser, s stmt, x *vsCtx) { x.vs.QuorumDown = p.script(s) }},
		"sorry_server": {fn: func(p *parser, s stmt, x *vsCtx) {
			if !p.need(s, 1) {
				return
			}
			ad, ok := p.addr(s.pos, s.words[1])
			if !ok {
				return
			}
			rs := &RealServer{Pos: s.pos, Address: ad, Weight: 1}
			if len(s.words) > 2 {
				rs.Port, _ = p.port(s.pos, s.words[2])
			}
			x.vs.SorryServer = rs
		}},
		"sorry_server_inhibit": flag(func(vs *VirtualServer) *bool { return &vs.SorryServerInhibit }),
		"sorry_server_lvs_method": {fn: func(p *parser, s stmt, x *vsCtx) {
			w, ok := p.str(s)
			if !ok {
				return
			}
			switch strings.ToUpper(w) {
			case "NAT", "DR", "TUN":
				if x.vs.SorryServer != nil {
					x.vs.SorryServer.LVSMethod = strings.ToUpper(w)
				}
			default:
				p.errorf(s.pos, "PARSER : unknown [%s] routing method for sorry server.", w)
			}
		}},
		"inhibit_on_failure": flag(func(vs *VirtualServer) *bool { return &vs.InhibitOnFailure }),
		"connect_timeout":    dur(func(x *vsCtx) **Duration { return &x.vs.ConnectTimeout }, 0.000001, 1<<31),
		"delay_before_retry": dur(func(x *vsCtx) **Duration { return &x.vs.DelayBeforeRetry }, 0, 1<<31),
		"warmup":             dur(func(x *vsCtx) **Duration { return &x.vs.Warmup }, 0, 1<<31),
		"retry": {fn: func(p *parser, s stmt, x *vsCtx) {
			if n, ok := p.intArg(s, 0, 1<<31-1); ok {
				x.vs.Retry = &n
			}
		}},
		"virtualhost": {fn: func(p *parser, s stmt, x *vsCtx) { x.vs.Virtualhost, _ = p.str(s) }},
		"smtp_alert":  {fn: func(p *parser, s stmt, x *vsCtx) { v := p.boolArg(s); x.vs.SMTPAlert = &v }},
		"snmp_name":   {fn: func(p *parser, s stmt, x *vsCtx) { x.vs.SNMPName, _ = p.str(s) }},
		"ip_family": {fn: func(p *parser, s stmt, x *vsCtx) {
			w, ok := p.str(s)
			if !ok {
				return
			}
			if w != "inet" && w != "inet6" {
				p.errorf(s.pos, "unknown ip_family %s", w)
				return
			}
			x.vs.IPFamily = w
		}},
		"ops": {fn: func(p *parser, s stmt, x *vsCtx) { x.vs.OPS = true }},
		// 2.2.7 accepts (and ignores) weight in a virtual server.
		"weight": {fn: func(p *parser, s stmt, x *vsCtx) {
			x.vs.Other = append(x.vs.Other, Setting{Pos: s.pos, Keyword: s.kw(), Args: append([]string(nil), s.args()...)})
		}},
		"hashed": {fn: func(p *parser, s stmt, x *vsCtx) { x.vs.Hashed = true }},
		"real_server": {block: true, fn: func(p *parser, s stmt, x *vsCtx) {
			if rs, rst := p.realServer(s); rs != nil {
				x.vs.RealServers = append(x.vs.RealServers, rs)
				x.rss = append(x.rss, rst)
			}
		}},
	}
	for _, f := range []string{"flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback", "mh-port", "mh-fallback"} {
		tb[f] = entry[*vsCtx]{fn: func(p *parser, s stmt, x *vsCtx) { x.vs.SchedFlags = append(x.vs.SchedFlags, s.kw()) }}
	}
	return tb
}

func (p *parser) tunnelOpts(s stmt, vs *VirtualServer) {
	a := s.words[2:]
	for i := 0; i < len(a); i++ {
		switch a[i] {
		case "type":
			if i+1 >= len(a) {
				p.errorf(s.pos, "missing tunnel type")
				return
			}
			i++
			switch a[i] {
			case "ipip", "gre":
				vs.TunnelType = a[i]
			case "gue":
				vs.TunnelType = a[i]
				if i+2 < len(a) && a[i+1] == "port" {
					if v, ok := p.port(s.pos, a[i+2]); ok {
						vs.TunnelPort = v
					}
					i += 2
				} else {
					p.errorf(s.pos, "gue tunnel needs a port")
				}
			default:
				p.errorf(s.pos, "unknown tunnel type %s", a[i])
			}
		case "nocsum", "csum", "remcsum":
			vs.TunnelCsum = a[i]
		default:
			p.errorf(s.pos, "unknown TUN option %s", a[i])
		}
	}
}
