package lvs

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/xalived/xalived/pkg/config"
)

// RealServerID names a real server of a virtual server, as checkers report its health.
type RealServerID struct {
	VS      string // VirtualServerName of its virtual server
	Address netip.Addr
	Port    uint16
}

// VirtualServerName is the stable name of a virtual_server block: "TCP 203.0.113.1:80",
// "FWM 7" or "group NAME" (with the protocol for address groups).
func VirtualServerName(vs *config.VirtualServer) string {
	proto := strings.ToUpper(vs.Protocol)
	if proto == "" {
		proto = "TCP"
	}
	switch vs.Kind {
	case "fwmark":
		return "FWM " + strconv.FormatUint(uint64(vs.Fwmark), 10)
	case "group":
		return "group " + vs.Group + " " + proto
	}
	return proto + " " + netip.AddrPortFrom(vs.Address, vs.Port).String()
}

// Inputs are what the desired state depends on besides the configuration.
type Inputs struct {
	// Health holds the checkers' verdicts. A real server missing from it is up, unless its
	// virtual server has alpha set (then it starts down until a checker says otherwise).
	Health map[RealServerID]bool
	// Quorum holds each virtual server's previous quorum state (from the last Plan), so that
	// hysteresis can apply. A virtual server missing from it starts with quorum up.
	Quorum map[string]bool
	// Suspended, for ha_suspend virtual servers, reports whether the virtual address is not held
	// by this node (a VRRP backup): such services are left out of the kernel. Nil means held.
	Suspended func(netip.Addr) bool
	// HealthChanged, for a Planner, names the virtual servers (by VirtualServerName) whose real
	// servers' Health may differ from the Health of the Planner's previous Plan: the Planner then
	// looks up the health of those only. Nil means any may differ. FromConfig ignores it.
	HealthChanged map[string]bool
}

// RealServerState is one real server as planned.
type RealServerState struct {
	Address netip.Addr `json:"address"`
	Port    uint16     `json:"port"`
	Weight  int        `json:"weight"` // configured weight
	Healthy bool       `json:"healthy"`
	// InKernel says whether it is a destination (with Weight, or 0 when inhibited).
	InKernel bool `json:"in_kernel"`
	Sorry    bool `json:"sorry_server,omitempty"`
}

// VirtualServerState is one virtual server as planned.
type VirtualServerState struct {
	Name        string     `json:"name"`
	Address     netip.Addr `json:"address,omitzero"`
	Port        uint16     `json:"port,omitempty"`
	Fwmark      uint32     `json:"fwmark,omitempty"`
	Group       string     `json:"group,omitempty"`
	Protocol    string     `json:"protocol"`
	Scheduler   string     `json:"lb_algo"`
	QuorumUp    bool       `json:"quorum_up"`
	AliveWeight int        `json:"alive_weight"`
	Suspended   bool       `json:"ha_suspended,omitempty"`
	// Keys are the IPVS services this virtual server became (several for a group).
	Keys        []Key             `json:"-"`
	RealServers []RealServerState `json:"real_servers"`
}

// Plan is the desired IPVS state for a configuration and its inputs.
type Plan struct {
	Services       []Service
	VirtualServers []VirtualServerState
	// Warnings name settings the kernel interface cannot express (they are approximated).
	Warnings []string
}

// QuorumState returns the quorum state of every virtual server, to feed the next Inputs.
func (p Plan) QuorumState() map[string]bool {
	m := make(map[string]bool, len(p.VirtualServers))
	for _, v := range p.VirtualServers {
		m[v.Name] = v.QuorumUp
	}
	return m
}

// QuorumChanges lists the virtual servers whose quorum came up or went down since prev (the
// previous plan's QuorumState): the daemon runs their quorum_up and quorum_down scripts.
func (p Plan) QuorumChanges(prev map[string]bool) (up, down []string) {
	for _, v := range p.VirtualServers {
		was, seen := prev[v.Name]
		switch {
		case v.QuorumUp && seen && !was:
			up = append(up, v.Name)
		case !v.QuorumUp && (!seen || was):
			down = append(down, v.Name)
		}
	}
	return up, down
}

// FromConfig builds the desired IPVS state of cfg's virtual servers:
//   - a healthy real server is a destination with its weight; an unhealthy one is removed, or kept
//     with weight 0 under inhibit_on_failure;
//   - quorum: the sum of healthy weights must reach quorum (plus hysteresis to come back up,
//     minus hysteresis to go down); while it does not and a sorry_server is set, the sorry server
//     replaces the real servers; otherwise the sorry server is absent, or present with weight 0
//     under sorry_server_inhibit;
//   - alpha: real servers start down until a checker reports them up;
//   - ha_suspend: a service whose virtual address this node does not hold is left out;
//   - a virtual_server_group becomes one service per address (ranges expanded) and per fwmark.
func FromConfig(cfg *config.Config, in Inputs) (Plan, error) {
	p := Plan{Services: make([]Service, 0, len(cfg.VirtualServers)),
		VirtualServers: make([]VirtualServerState, 0, len(cfg.VirtualServers))}
	var errs []error
	groups := map[string]*config.VirtualServerGroup{}
	for _, g := range cfg.VirtualServerGroups {
		groups[g.Name] = g
	}
	for _, vs := range cfg.VirtualServers {
		if err := p.add(vs, groups, in); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %s: %w", vs.Pos.File, vs.Pos.Line, VirtualServerName(vs), err))
		}
	}
	if err := Validate(p.Services); err != nil {
		errs = append(errs, err)
	}
	return p, errors.Join(errs...)
}

func (p *Plan) add(vs *config.VirtualServer, groups map[string]*config.VirtualServerGroup, in Inputs) error {
	name := VirtualServerName(vs)
	proto, err := ParseProtocol(vs.Protocol)
	if err != nil {
		return err
	}
	fwd, err := ParseForward(vs.LBKind)
	if err != nil {
		return err
	}
	tmpl := Service{Scheduler: vs.LBAlgo, PEName: vs.PersistenceEngine}
	if vs.PersistenceTimeout > 0 {
		tmpl.Timeout = uint32(vs.PersistenceTimeout.D().Seconds())
		if tmpl.Timeout == 0 {
			tmpl.Timeout = 1
		}
	}
	for _, f := range vs.SchedFlags {
		switch f {
		case "flag-1", "sh-fallback", "mh-fallback":
			tmpl.Flags |= FlagSched1
		case "flag-2", "sh-port", "mh-port":
			tmpl.Flags |= FlagSched2
		case "flag-3":
			tmpl.Flags |= FlagSched3
		default:
			return fmt.Errorf("unknown scheduler flag %q", f)
		}
	}
	if vs.OPS {
		tmpl.Flags |= FlagOnePacket
	}
	var tun Destination // tunnel settings for TUN destinations
	switch vs.TunnelType {
	case "", "ipip":
	case "gue":
		tun.TunnelType, tun.TunnelPort = TunnelGUE, vs.TunnelPort
	case "gre":
		tun.TunnelType = TunnelGRE
	default:
		return fmt.Errorf("unknown tunnel type %q", vs.TunnelType)
	}
	switch vs.TunnelCsum {
	case "csum":
		tun.TunnelFlags = TunnelCsum
	case "remcsum":
		tun.TunnelFlags = TunnelRemCsum
	}

	// The services this virtual server becomes.
	var keys []Key
	switch vs.Kind {
	case "fwmark":
		keys = append(keys, Key{FWMark: vs.Fwmark, Family: familyOf(vs.IPFamily, netip.Addr{})})
	case "group":
		g := groups[vs.Group]
		if g == nil {
			return fmt.Errorf("virtual_server_group %s is not defined", vs.Group)
		}
		for _, e := range g.Entries {
			if e.Fwmark != 0 {
				keys = append(keys, Key{FWMark: e.Fwmark, Family: familyOf(e.Family, netip.Addr{})})
				continue
			}
			end := e.RangeEnd
			if !end.IsValid() {
				end = e.Addr
			}
			n := 0
			for a := e.Addr; a.IsValid() && a.Compare(end) <= 0; a = a.Next() {
				if n++; n > 65536 {
					return fmt.Errorf("virtual_server_group %s: range %s-%s is too large", g.Name, e.Addr, end)
				}
				keys = append(keys, Key{Protocol: proto, Address: a, Port: e.Port, Family: familyOf("", a)})
			}
		}
	default:
		keys = append(keys, Key{Protocol: proto, Address: vs.Address, Port: vs.Port, Family: familyOf(vs.IPFamily, vs.Address)})
	}
	if len(keys) > 0 {
		nm, err := netmask(vs.PersistenceGranularity, keys[0].Family == FamilyIPv6)
		if err != nil {
			return err
		}
		tmpl.Netmask = nm
	}

	st := VirtualServerState{Name: name, Address: vs.Address, Port: vs.Port, Fwmark: vs.Fwmark, Group: vs.Group,
		Protocol: proto.String(), Scheduler: vs.LBAlgo, Keys: keys}
	if vs.Kind == "fwmark" {
		st.Protocol = ""
	}

	// Real servers: health and weight.
	live := make([]Destination, 0, len(vs.RealServers)+1)
	var inhibited []Destination
	st.RealServers = make([]RealServerState, 0, len(vs.RealServers)+1)
	for _, rs := range vs.RealServers {
		id := RealServerID{VS: name, Address: rs.Address, Port: rs.Port}
		healthy, known := in.Health[id]
		if !known {
			healthy = !(vs.Alpha || rs.Alpha)
		}
		d, err := dest(rs, fwd)
		if err != nil {
			return fmt.Errorf("real_server %s: %w", netip.AddrPortFrom(rs.Address, rs.Port), err)
		}
		if d.Forward == TUN {
			d.TunnelType, d.TunnelPort, d.TunnelFlags = tun.TunnelType, tun.TunnelPort, tun.TunnelFlags
		}
		rst := RealServerState{Address: rs.Address, Port: rs.Port, Weight: rs.Weight, Healthy: healthy}
		switch {
		case healthy:
			live = append(live, d)
			st.AliveWeight += rs.Weight
			rst.InKernel = true
		case rs.InhibitOnFailure || vs.InhibitOnFailure:
			d.Weight = 0
			inhibited = append(inhibited, d)
			rst.InKernel = true
		}
		st.RealServers = append(st.RealServers, rst)
	}

	// Quorum with hysteresis.
	quorum := max(vs.Quorum, 1)
	prev, seen := in.Quorum[name]
	switch {
	case !seen:
		st.QuorumUp = st.AliveWeight >= quorum
	case prev:
		st.QuorumUp = st.AliveWeight >= quorum-vs.Hysteresis
	default:
		st.QuorumUp = st.AliveWeight >= quorum+vs.Hysteresis
	}

	dests := append(live, inhibited...)
	if s := vs.SorryServer; s != nil {
		d, err := dest(s, fwd)
		if err != nil {
			return fmt.Errorf("sorry_server %s: %w", netip.AddrPortFrom(s.Address, s.Port), err)
		}
		sst := RealServerState{Address: s.Address, Port: s.Port, Weight: s.Weight, Healthy: true, Sorry: true}
		switch {
		case !st.QuorumUp:
			// The sorry server takes over: the real servers leave the pool.
			dests = []Destination{d}
			for i := range st.RealServers {
				st.RealServers[i].InKernel = false
			}
			sst.InKernel = true
		case vs.SorryServerInhibit:
			d.Weight = 0
			dests = append(dests, d)
			sst.InKernel = true
		}
		st.RealServers = append(st.RealServers, sst)
	}

	if vs.HASuspend && in.Suspended != nil && vs.Kind == "ip" && in.Suspended(vs.Address) {
		st.Suspended = true
		p.VirtualServers = append(p.VirtualServers, st)
		return nil
	}
	for i, k := range keys {
		s := tmpl
		s.Key = k
		s.Destinations = dests
		if i > 0 {
			s.Destinations = append([]Destination(nil), dests...)
		}
		p.Services = append(p.Services, s)
	}
	p.VirtualServers = append(p.VirtualServers, st)
	return nil
}

func dest(rs *config.RealServer, vsFwd Forward) (Destination, error) {
	fwd := vsFwd
	if rs.LVSMethod != "" {
		f, err := ParseForward(rs.LVSMethod)
		if err != nil {
			return Destination{}, err
		}
		fwd = f
	}
	if rs.Weight < 0 {
		return Destination{}, fmt.Errorf("negative weight %d", rs.Weight)
	}
	return Destination{Address: rs.Address, Port: rs.Port, Weight: rs.Weight, Forward: fwd,
		UpperThreshold: uint32(max(rs.UThreshold, 0)), LowerThreshold: uint32(max(rs.LThreshold, 0))}, nil
}

func familyOf(word string, a netip.Addr) uint16 {
	switch word {
	case "inet6":
		return FamilyIPv6
	case "inet":
		return FamilyIPv4
	}
	if a.Is6() && !a.Is4In6() {
		return FamilyIPv6
	}
	return FamilyIPv4
}

// netmask parses persistence_granularity: a dotted IPv4 mask, or an IPv6 prefix length.
func netmask(s string, v6 bool) (uint32, error) {
	if s == "" {
		return 0, nil
	}
	if v6 {
		n, err := strconv.ParseUint(strings.TrimPrefix(s, "/"), 10, 8)
		if err != nil || n == 0 || n > 128 {
			return 0, fmt.Errorf("persistence_granularity %q: want an IPv6 prefix length 1-128", s)
		}
		return uint32(n), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		if n, err := strconv.ParseUint(strings.TrimPrefix(s, "/"), 10, 8); err == nil && n >= 1 && n <= 32 {
			return ^uint32(0) << (32 - n), nil
		}
		return 0, fmt.Errorf("persistence_granularity %q: want an IPv4 netmask", s)
	}
	b := a.As4()
	m := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if m != 0 && ^m&(^m+1) != 0 {
		return 0, fmt.Errorf("persistence_granularity %s: not a contiguous netmask", s)
	}
	return m, nil
}
