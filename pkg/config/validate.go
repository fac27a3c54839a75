package config

import (
	"math"
	"net/netip"
	"slices"
	"time"
)

// instanceDefaults applies keepalived's defaults and per-instance rules
// once the block has been read.
func (p *parser) instanceDefaults(v *VRRPInstance, st *instanceState) {
	g := &p.cfg.Global
	// Priority and state.
	if !st.prioSet {
		if v.State == StateMaster {
			v.Priority = 255
		} else {
			v.Priority = 100
		}
	}
	if v.State == "" {
		if v.Priority == 255 {
			v.State = StateMaster
		} else {
			v.State = StateBackup
		}
	}
	if v.VRID == 0 {
		p.lateErrorf(v.Pos, "(%s) the virtual router id must be set", v.Name)
	}
	// Family from the first VIP, otherwise from the source / peers.
	v.Family = "inet"
	switch {
	case len(v.VIPs) > 0:
		if v.VIPs[0].Prefix.Addr().Is6() {
			v.Family = "inet6"
		}
	case v.UnicastSrcIP.IsValid():
		if v.UnicastSrcIP.Is6() {
			v.Family = "inet6"
		}
	case v.McastSrcIP.IsValid():
		if v.McastSrcIP.Is6() {
			v.Family = "inet6"
		}
	case len(v.UnicastPeers) > 0:
		if v.UnicastPeers[0].Addr.Is6() {
			v.Family = "inet6"
		}
	}
	kept := v.VIPs[:0]
	for _, a := range v.VIPs {
		if (a.Prefix.Addr().Is6()) != (v.Family == "inet6") {
			p.lateErrorf(a.Pos, "(%s) address family must match VRRP instance - ignoring %s", v.Name, a.Prefix)
			continue
		}
		kept = append(kept, a)
	}
	v.VIPs = kept
	if len(v.VIPs) == 0 && len(v.ExcludedVIPs) == 0 && !v.NoVirtualIPAddress {
		p.lateErrorf(v.Pos, "(%s) no VIP specified; at least one is sensible", v.Name)
	}
	if len(v.VIPs) > 255 {
		p.lateErrorf(v.VIPs[255].Pos, "(%s) more than 255 VIPs; use virtual_ipaddress_excluded", v.Name)
	}
	// Version.
	if !st.versionSet {
		v.Version = g.VRRPVersion
	}
	if v.Family == "inet6" && v.Version == 2 {
		if st.versionSet {
			p.lateErrorf(v.Pos, "(%s) cannot use IPv6 with VRRP version 2; setting version 3", v.Name)
		}
		v.Version = 3
	}
	// advert_int rounding.
	if !st.advertSet {
		v.AdvertInt = Seconds(1)
	}
	if v.Version == 2 {
		secs := math.Round(float64(v.AdvertInt) / 1e9)
		if secs < 1 {
			secs = 1
		}
		if st.advertSet && float64(v.AdvertInt) != secs*1e9 {
			p.lateErrorf(st.advertPos, "(%s) VRRPv2 advertisement interval %ss must be an integer - rounding to %g", v.Name, st.advertRaw, secs)
		}
		v.AdvertInt = Duration(time.Duration(secs) * time.Second)
	} else {
		cs := math.Round(float64(v.AdvertInt) / 1e7)
		if cs < 1 {
			cs = 1
		}
		if cs > 4095 {
			p.lateErrorf(st.advertPos, "(%s) VRRPv3 advertisement interval %ss is out of range; must be less than 40.96s - setting to 40.95s", v.Name, st.advertRaw)
			cs = 4095
		}
		v.AdvertInt = Duration(time.Duration(cs) * 10 * time.Millisecond)
	}
	if v.DownTimerAdverts == 0 {
		v.DownTimerAdverts = g.VRRPDownTimerAdverts
	}
	// Preemption rules.
	if v.Nopreempt && v.State == StateMaster {
		p.lateErrorf(st.nopreemptPos, "(%s) warning - nopreempt will not work with initial state MASTER - clearing", v.Name)
		v.Nopreempt = false
	}
	if v.Nopreempt && v.Priority == 255 {
		p.lateErrorf(st.nopreemptPos, "(%s) nopreempt is incompatible with priority 255 - clearing", v.Name)
		v.Nopreempt = false
	}
	if st.preemptDelaySet && v.PreemptDelay > 0 {
		switch {
		case v.State == StateMaster:
			p.lateErrorf(st.preemptDelayPos, "(%s) warning - preempt_delay will not work with initial state MASTER - clearing", v.Name)
			v.PreemptDelay = 0
		case v.Nopreempt:
			p.lateErrorf(st.preemptDelayPos, "(%s) preempt_delay is incompatible with nopreempt - clearing", v.Name)
			v.PreemptDelay = 0
		}
	}
	// Strict mode.
	strict := g.VRRPStrict || v.StrictMode
	v.StrictMode = strict
	if st.lowerPrioSet {
	} else {
		v.LowerPrioNoAdvert = g.VRRPLowerPrioNoAdvert || strict
	}
	if !st.higherPrioSet {
		v.HigherPrioSendAdvert = g.VRRPHigherPrioSendAdvert
	}
	if !v.SkipCheckAdvAddr {
		v.SkipCheckAdvAddr = g.VRRPSkipCheckAdvAddr
	}
	if !v.CheckUnicastSrc {
		v.CheckUnicastSrc = g.VRRPCheckUnicastSrc
	}
	if !v.V3ChecksumAsV2 {
		v.V3ChecksumAsV2 = g.V3ChecksumAsV2
	}
	v.Accept = true
	if st.acceptSet {
		v.Accept = !st.noAccept
	} else if strict && v.Priority != 255 {
		v.Accept = false
	}
	if strict {
		if v.Authentication != nil {
			p.lateErrorf(st.authPos, "(%s) strict mode does not support authentication. Ignoring.", v.Name)
			v.Authentication = nil
		}
		if len(v.UnicastPeers) > 0 {
			p.lateErrorf(st.peerPos, "(%s) strict mode does not support unicast peers", v.Name)
		}
		if v.PreemptDelay > 0 {
			p.lateErrorf(st.preemptDelayPos, "(%s) strict mode does not support preempt_delay. Disabling.", v.Name)
			v.PreemptDelay = 0
		}
	}
	if a := v.Authentication; a != nil && a.Pass == "" {
		p.lateWarnf(st.authPos, "(%s) authentication specified but no password given - ignoring", v.Name)
		v.Authentication = nil
	}
	if v.Authentication != nil {
		switch {
		case v.Version == 3:
			p.lateErrorf(st.authPos, "(%s) authentication is not supported with VRRPv3 - ignoring", v.Name)
			v.Authentication = nil
		case v.Authentication.Type == "AH" && v.Family == "inet6":
			p.lateErrorf(st.authPos, "(%s) AH authentication is not supported with IPv6 - ignoring", v.Name)
			v.Authentication = nil
		case v.Authentication.Type == "AH" && v.State == StateMaster:
			p.lateErrorf(v.Pos, "(%s) initial state master is incompatible with AH authentication - clearing", v.Name)
			v.State = StateBackup
		}
	}
	if v.UnicastSrcIP.IsValid() && len(v.UnicastPeers) == 0 {
		p.lateErrorf(v.Pos, "(%s) a unicast keyword has been specified without any unicast peers; defaulting to multicast (deprecated - please update your configuration)", v.Name)
	}
	if v.UnicastTTL != 0 && len(v.UnicastPeers) == 0 {
		p.errorf(st.closePos, "(%s) cannot use unicast_ttl without unicast peers - resetting", v.Name)
		v.UnicastTTL = 0
	}
	for _, up := range v.UnicastPeers {
		if up.MinTTL != 0 || up.MaxTTL != 0 {
			v.CheckUnicastSrc = true
		}
		if up.Addr.Is6() != (v.Family == "inet6") {
			p.lateErrorf(up.Pos, "(%s) unicast peer %s address family does not match the instance", v.Name, up.Addr)
		}
	}
	// GARP settings inherit the globals.
	if !st.garpDelaySet {
		v.GarpMasterDelay = g.VRRPGarpMasterDelay
	}
	if !st.garpRepeatSet {
		v.GarpMasterRepeat = g.VRRPGarpMasterRepeat
	}
	if !st.refreshSet {
		v.GarpMasterRefresh = g.VRRPGarpMasterRefresh
	}
	if !st.refreshRepeatSet {
		v.GarpMasterRefreshRepeat = g.VRRPGarpRefreshRepeat
	}
	if g.VRRPMinGarp {
		if !st.garpRepeatSet {
			v.GarpMasterRepeat = 1
		}
		if !st.garpDelaySet {
			v.GarpMasterDelay = 0
		}
	}
	if !st.lpDelaySet {
		if g.VRRPGarpLowerPrioDelay != nil {
			v.GarpLowerPrioDelay = *g.VRRPGarpLowerPrioDelay
		} else {
			v.GarpLowerPrioDelay = v.GarpMasterDelay
		}
	}
	if !st.lpRepeatSet {
		if g.VRRPGarpLowerPrioRepeat != nil {
			v.GarpLowerPrioRepeat = *g.VRRPGarpLowerPrioRepeat
		} else {
			v.GarpLowerPrioRepeat = v.GarpMasterRepeat
		}
	}
	if v.GarpInterval == 0 {
		v.GarpInterval = g.VRRPGarpInterval
	}
	if v.GnaInterval == 0 {
		v.GnaInterval = g.VRRPGnaInterval
	}
	if v.GarpExtraIf == nil && g.VRRPGarpExtraIf != nil {
		x := *g.VRRPGarpExtraIf
		v.GarpExtraIf = &x
	}
	// The own interface is tracked implicitly.
	kt := v.TrackInterfaces[:0]
	for _, ti := range v.TrackInterfaces {
		if ti.Name == v.Interface && v.Interface != "" {
			p.lateErrorf(ti.Pos, "(%s) ignoring track_interface %s since own interface", v.Name, ti.Name)
			continue
		}
		kt = append(kt, ti)
	}
	v.TrackInterfaces = kt
	// keepalived 2.2.7 refuses an instance without an interface (even with
	// default_interface set) unless it is unicast with a source address.
	if v.Interface == "" && !(v.UnicastSrcIP.IsValid() && len(v.UnicastPeers) > 0) && v.VRF == "" {
		p.lateErrorf(v.Pos, "(%s) unknown interface!", v.Name)
	}
}

// vsDefaults applies virtual/real server defaults and the VS -> RS ->
// checker inheritance.
func (p *parser) vsDefaults(vs *VirtualServer, st *lvsState, rss []*rsState) {
	if !st.lbAlgoSet {
		vs.LBAlgo = "wlc"
		p.lateErrorf(vs.Pos, "virtual server %s: no scheduler set, setting default 'wlc'", vsName(vs))
	}
	if !st.lbKindSet {
		vs.LBKind = "NAT"
		p.lateErrorf(vs.Pos, "virtual server %s: no forwarding method set, setting default NAT", vsName(vs))
	}
	if vs.Kind == "fwmark" {
		if st.protoSet {
			p.lateErrorf(vs.Pos, "virtual server FWM %d: protocol specified for fwmark - protocol will be ignored", vs.Fwmark)
		}
		vs.Protocol = ""
	} else if !st.protoSet {
		vs.Protocol = "UDP"
		p.lateErrorf(vs.Pos, "virtual server %s: no protocol set - defaulting to UDP", vsName(vs))
	}
	zeroPort := vs.Kind == "ip" && vs.Port == 0
	if vs.Kind == "group" {
		for _, g := range p.cfg.VirtualServerGroups {
			if g.Name == vs.Group {
				for _, e := range g.Entries {
					if e.Fwmark == 0 && e.Port == 0 {
						zeroPort = true
					}
				}
			}
		}
	}
	if zeroPort && vs.PersistenceTimeout == 0 {
		p.lateErrorf(vs.Pos, "virtual server %s: zero port only valid for persistent services - setting persistence_timeout 360", vsName(vs))
		vs.PersistenceTimeout = Seconds(360)
	}
	if vs.OPS && vs.Protocol != "UDP" {
		p.lateErrorf(vs.Pos, "virtual server %s: ops is only valid for UDP - ignoring", vsName(vs))
		vs.OPS = false
	}
	// Real servers: inherit and default.
	// Addresses carry no zone here (p.addr drops it), so equal address and port is equal text.
	var seen map[netip.AddrPort]bool
	if len(vs.RealServers) > 16 {
		seen = make(map[netip.AddrPort]bool, len(vs.RealServers))
	}
	keep := vs.RealServers[:0]
	keepSt := rss[:0]
	for i, rs := range vs.RealServers {
		ap := netip.AddrPortFrom(rs.Address, rs.Port)
		dup := false
		if seen != nil {
			dup = seen[ap]
			seen[ap] = true
		} else {
			for _, k := range keep {
				if k.Address == rs.Address && k.Port == rs.Port {
					dup = true
					break
				}
			}
		}
		if dup {
			p.lateErrorf(rs.Pos, "VS %s: real server %s is duplicated - removing second rs", vsName(vs), rs.Address.String()+":"+itoa(int(rs.Port)))
			continue
		}
		keep = append(keep, rs)
		keepSt = append(keepSt, rss[i])
	}
	vs.RealServers = keep
	rss = keepSt
	total := 0
	for i, rs := range vs.RealServers {
		rst := rss[i]
		if vs.Kind == "ip" && vs.Port != 0 && rs.Port == 0 {
			rs.Port = vs.Port
		}
		if vs.LBKind == "DR" && vs.Kind == "ip" && rs.Port != vs.Port && vs.Port != 0 {
			p.lateErrorf(rs.Pos, "virtual server %s and real server port %d don't match - resetting", vsName(vs), rs.Port)
			rs.Port = vs.Port
		}
		if rs.LVSMethod == "" {
			rs.LVSMethod = vs.LBKind
		}
		if !rs.InhibitOnFailure {
			rs.InhibitOnFailure = vs.InhibitOnFailure
		}
		if !rs.Alpha {
			rs.Alpha = vs.Alpha
		}
		if rs.Virtualhost == "" {
			rs.Virtualhost = vs.Virtualhost
		}
		rs.DelayLoop = vs.DelayLoop
		if rst.delayLoop != nil {
			rs.DelayLoop = *rst.delayLoop
		}
		total += rs.Weight
		for _, cs := range rst.checkers {
			p.checkerDefaults(vs, rs, cs)
		}
	}
	if vs.Quorum > total && len(vs.RealServers) > 0 {
		p.lateWarnf(vs.Pos, "quorum %d for %s exceeds total weight of real servers %d, reducing quorum to %d", vs.Quorum, vsName(vs), total, total)
		vs.Quorum = total
	}
	if vs.Hysteresis >= vs.Quorum && (vs.Hysteresis > 0 || len(vs.RealServers) > 0) {
		h := max(vs.Quorum-1, 0)
		p.lateErrorf(vs.Pos, "virtual server %s: hysteresis %d >= quorum %d; setting hysteresis to %d", vsName(vs), vs.Hysteresis, vs.Quorum, h)
		vs.Hysteresis = h
	}
}

func (p *parser) checkerDefaults(vs *VirtualServer, rs *RealServer, cs *checkerState) {
	c := cs.c
	defRetry, defDBR := 1, Seconds(1)
	switch c.Type {
	case CheckHTTP, CheckSSL:
		defDBR = Seconds(3)
	case CheckMisc:
		defRetry = 0
	case CheckDNS:
		defRetry = 3
	}
	c.DelayLoop = rs.DelayLoop
	if cs.delayLoop != nil {
		c.DelayLoop = *cs.delayLoop
	}
	if c.Type == CheckDNS {
		defDBR = c.DelayLoop
	}
	pickD := func(own, rsv, vsv *Duration, def Duration) Duration {
		switch {
		case own != nil:
			return *own
		case rsv != nil:
			return *rsv
		case vsv != nil:
			return *vsv
		}
		return def
	}
	c.ConnectTimeout = pickD(cs.connectTimeout, rs.ConnectTimeout, vs.ConnectTimeout, Seconds(5))
	c.DelayBeforeRetry = pickD(cs.delayBeforeRetry, rs.DelayBeforeRetry, vs.DelayBeforeRetry, defDBR)
	c.Warmup = pickD(cs.warmup, rs.Warmup, vs.Warmup, c.DelayLoop)
	switch {
	case cs.retry != nil:
		c.Retry = *cs.retry
	case rs.Retry != nil:
		c.Retry = *rs.Retry
	case vs.Retry != nil:
		c.Retry = *vs.Retry
	default:
		c.Retry = defRetry
	}
	if rs.Alpha || vs.Alpha {
		c.Alpha = true
	}
	if c.Type != CheckMisc && c.Type != CheckFile && c.Type != CheckBFD && c.Type != CheckPing {
		if !cs.connectPortSet {
			c.ConnectPort = rs.Port
		}
		if !c.ConnectIP.IsValid() {
			c.ConnectIP = rs.Address
		}
	}
	if c.Type == CheckPing && !c.ConnectIP.IsValid() {
		c.ConnectIP = rs.Address
	}
	if c.HTTP != nil && c.HTTP.Virtualhost == "" {
		c.HTTP.Virtualhost = rs.Virtualhost
	}
	if c.SMTP != nil {
		for _, h := range c.SMTP.Hosts {
			if !h.ConnectIP.IsValid() {
				h.ConnectIP = rs.Address
			}
			if h.ConnectPort == 0 {
				h.ConnectPort = 25
			}
			h.ConnectTimeout = c.ConnectTimeout
			h.Retry, h.DelayBeforeRetry, h.Warmup, h.DelayLoop = c.Retry, c.DelayBeforeRetry, c.Warmup, c.DelayLoop
		}
		if !cs.connectPortSet && rs.Port == 0 {
			c.ConnectPort = 25
		}
	}
	if c.Type == CheckDNS && !cs.connectPortSet && rs.Port == 0 {
		c.ConnectPort = 53
	}
}

func itoa(n int) string {
	const digits = "0123456789"
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = digits[n%10]
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// vsName formats a virtual server the way messages name it.
func vsName(vs *VirtualServer) string {
	switch vs.Kind {
	case "fwmark":
		return "FWM " + itoa(int(vs.Fwmark))
	case "group":
		return "[" + vs.Group + "]:" + itoa(int(vs.Port))
	}
	proto := vs.Protocol
	if proto == "" {
		proto = "TCP"
	}
	return "[" + vs.Address.String() + "]:" + lower(proto) + ":" + itoa(int(vs.Port))
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// trackerWeightRules applies keepalived's rules on tracker weights: an
// address owner (priority 255) never changes priority, so weighted trackers
// are dropped from it; members of a sync group ignore weights unless the
// group sets sync_group_tracking_weight.
func (p *parser) trackerWeightRules() {
	c := p.cfg
	weights := map[string]map[string]int{"script": {}, "file": {}, "process": {}, "bfd": {}}
	for _, s := range c.Scripts {
		weights["script"][s.Name] = s.Weight
	}
	for _, f := range c.TrackFiles {
		weights["file"][f.Name] = f.Weight
	}
	for _, t := range c.TrackProcesses {
		weights["process"][t.Name] = t.Weight
	}
	for _, b := range c.BFDInstances {
		weights["bfd"][b.Name] = b.Weight
	}
	groups := map[string]*SyncGroup{}
	for _, g := range c.SyncGroups {
		groups[g.Name] = g
	}
	for _, v := range c.Instances {
		owner := v.Priority == 255
		g := groups[v.SyncGroup]
		inGroup := g != nil && !g.SyncGroupTrackingWeight
		if !owner && !inGroup {
			continue
		}
		why := "address owner"
		if !owner {
			why = "SYNC group"
		}
		kept := v.TrackInterfaces[:0]
		for _, ti := range v.TrackInterfaces {
			if ti.Weight != 0 {
				if owner {
					p.lateErrorf(ti.Pos, "(%s) ignoring %s tracked interface due to address owner", v.Name, ti.Name)
					continue
				}
				p.lateErrorf(ti.Pos, "(%s) ignoring %s tracked interface weight due to SYNC group", v.Name, ti.Name)
				ti.Weight = 0
			}
			kept = append(kept, ti)
		}
		v.TrackInterfaces = kept
		filter := func(kind string, refs []TrackRef) []TrackRef {
			out := refs[:0]
			for _, r := range refs {
				w := weights[kind][r.Name]
				if r.Weight != nil {
					w = *r.Weight
				}
				if w != 0 {
					p.lateErrorf(r.Pos, "(%s) ignoring tracked %s %s with weights due to %s", v.Name, kind, r.Name, why)
					continue
				}
				out = append(out, r)
			}
			return out
		}
		v.TrackScripts = filter("script", v.TrackScripts)
		v.TrackFiles = filter("file", v.TrackFiles)
		v.TrackProcesses = filter("process", v.TrackProcesses)
		v.TrackBFDs = filter("bfd", v.TrackBFDs)
	}
}

// finish resolves references between blocks once everything is read.
func (p *parser) finish() {
	c := p.cfg
	insts := map[string]*VRRPInstance{}
	for _, v := range c.Instances {
		insts[v.Name] = v
	}
	scripts := map[string]*VRRPScript{}
	for _, s := range c.Scripts {
		scripts[s.Name] = s
	}
	files := map[string]bool{}
	for _, f := range c.TrackFiles {
		files[f.Name] = true
	}
	procs := map[string]bool{}
	for _, t := range c.TrackProcesses {
		procs[t.Name] = true
	}
	bfds := map[string]bool{}
	for _, b := range c.BFDInstances {
		bfds[b.Name] = true
	}
	for _, g := range c.SyncGroups {
		kept := g.Instances[:0]
		for _, n := range g.Instances {
			v, ok := insts[n]
			if !ok {
				p.lateErrorf(g.Pos, "virtual router %s specified in sync group %s doesn't exist - ignoring", n, g.Name)
				continue
			}
			if v.SyncGroup != "" {
				p.lateErrorf(g.Pos, "vrrp instance %s cannot be in more than one sync group - ignoring in %s", n, g.Name)
				continue
			}
			v.SyncGroup = g.Name
			for _, gt := range g.TrackInterfaces {
				tracked := gt.Name == v.Interface
				for _, ti := range v.TrackInterfaces {
					tracked = tracked || ti.Name == gt.Name
				}
				if tracked {
					p.lateErrorf(gt.Pos, "(%s) track_interface %s is configured on VRRP instance and sync group; remove vrrp instance or sync group config", v.Name, gt.Name)
				}
			}
			kept = append(kept, n)
		}
		g.Instances = kept
		if len(kept) == 0 {
			p.lateErrorf(g.Pos, "sync group %s, no matching virtual router found in group declaration - removing", g.Name)
		} else if len(kept) == 1 {
			p.lateErrorf(g.Pos, "sync group %s has only 1 virtual router(s) - this probably isn't what you want", g.Name)
		}
	}
	p.trackerWeightRules()
	// Duplicate (interface, family, vrid) among multicast instances.
	type key struct {
		ifc    string
		family string
		vrid   int
	}
	seen := map[key]string{}
	for _, v := range c.Instances {
		if len(v.UnicastPeers) > 0 || v.VRID == 0 {
			continue
		}
		k := key{v.Interface, v.Family, v.VRID}
		if o, ok := seen[k]; ok {
			p.lateErrorf(v.Pos, "%s and %s both use VRID %d with %s on interface %s", o, v.Name, v.VRID, map[string]string{"inet": "IPv4", "inet6": "IPv6"}[v.Family], v.Interface)
			continue
		}
		seen[k] = v.Name
	}
	groups := map[string]bool{}
	for _, g := range c.VirtualServerGroups {
		groups[g.Name] = true
	}
	if p.track != nil {
		p.track.finPre = len(p.diags)
	}
	for _, vs := range c.VirtualServers {
		n := len(p.diags)
		p.vsRefs(vs, groups, files, bfds)
		if p.track != nil {
			var mine []Diagnostic
			if len(p.diags) > n {
				mine = slices.Clone(p.diags[n:]) // p.diags gets sorted in place
			}
			p.track.finVS = append(p.track.finVS, mine)
		}
	}
	if c.Global.RouterID == "" {
		c.Global.RouterID = hostname()
		if p.track != nil {
			p.track.routerIDDefault = true
		}
	}
	if p.opts.HostChecks {
		p.hostChecks()
	}
}

// vsRefs reports the references of a virtual server to other blocks that do not exist: its
// virtual_server_group, and its checkers' track_file and bfd_instance.
func (p *parser) vsRefs(vs *VirtualServer, groups, files, bfds map[string]bool) {
	if vs.Kind == "group" && !groups[vs.Group] {
		p.lateErrorf(vs.Pos, "virtual server group %s does not exist", vs.Group)
	}
	for _, rs := range vs.RealServers {
		for _, ch := range rs.Checkers {
			if ch.File != nil && !files[ch.File.TrackFile] {
				p.lateErrorf(ch.Pos, "FILE_CHECK: track_file %s not found", ch.File.TrackFile)
			}
			if ch.BFD != nil && !bfds[ch.BFD.Name] {
				p.lateErrorf(ch.Pos, "BFD_CHECK: bfd_instance %s not found", ch.BFD.Name)
			}
		}
	}
}
