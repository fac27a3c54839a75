package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/xalived/xalived/pkg/config"
	"github.com/xalived/xalived/pkg/netif"
	"github.com/xalived/xalived/pkg/notify"
	"github.com/xalived/xalived/pkg/router"
	"github.com/xalived/xalived/pkg/vrrp"
)

// Tracker names are namespaced by kind, because the router addresses trackers by name alone.
func ifTracker(name string) string      { return "if:" + name }
func scriptTrackerName(n string) string { return "script:" + n }
func fileTrackerName(n string) string   { return "file:" + n }
func procTrackerName(n string) string   { return "process:" + n }

// errNoSource: an instance's interface has no address to send adverts from (yet: an IPv6
// link-local appears a moment after the link comes up).
var errNoSource = errors.New("no source address")

// instData is what the daemon attaches to each router instance (InstanceConfig.Data): the host
// effects of MASTER and the notify scripts.
type instData struct {
	name    string
	vips    []netif.VIP // virtual_ipaddress
	evips   []netif.VIP // virtual_ipaddress_excluded
	routes  []netif.Route
	rules   []netif.Rule
	vmac    *netif.VMAC
	notify  notify.VRRPScripts
	mail    bool
	display []string // VIPs as written, for status
	iface   string   // configured interface
	version int
}

// plan is a configuration turned into what the daemon runs.
type plan struct {
	cfg       *config.Config
	router    router.Config
	data      map[string]*instData
	groupData map[string]notify.VRRPScripts
	groupMail map[string]bool
	trackers  []tracker
	// ifaces are the interfaces whose link state feeds trackers ("if:NAME").
	ifaces map[string]bool
	// listen are the (interface, family) pairs to receive adverts on, with the groups to join.
	listen map[listenKey][]netip.Addr
}

type listenKey struct {
	iface string // where to listen: the interface, or its VMAC
	ipv6  bool
	// deliver is the configured interface the router knows the instances by.
	deliver string
}

// ifaceLookup resolves interfaces; tests replace it.
type ifaceLookup func(name string) (netif.Info, error)

// buildPlan maps a parsed configuration onto router instances and host effects. Every error
// names the instance and, where there is one, the file and line.
func buildPlan(cfg *config.Config, lookup ifaceLookup, scriptCred func(user, group string) (*syscall.Credential, error)) (*plan, error) {
	p := &plan{cfg: cfg, data: map[string]*instData{}, groupData: map[string]notify.VRRPScripts{},
		groupMail: map[string]bool{}, ifaces: map[string]bool{}, listen: map[listenKey][]netip.Addr{}}
	var errs []error
	bad := func(pos config.Pos, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", pos.File, pos.Line, fmt.Sprintf(format, args...)))
	}
	scripts := map[string]*config.VRRPScript{}
	for _, s := range cfg.Scripts {
		scripts[s.Name] = s
	}
	files := map[string]*config.TrackFile{}
	for _, f := range cfg.TrackFiles {
		files[f.Name] = f
	}
	procs := map[string]*config.TrackProcess{}
	for _, pr := range cfg.TrackProcesses {
		procs[pr.Name] = pr
	}
	usedScripts, usedFiles, usedProcs := map[string]bool{}, map[string]bool{}, map[string]bool{}

	tracks := func(pos config.Pos, t config.Tracking, own string, dontTrackPrimary bool) []router.Track {
		var out []router.Track
		seen := map[string]bool{}
		if own != "" && !dontTrackPrimary {
			out = append(out, router.Track{Name: ifTracker(own), Kind: vrrp.TrackInterface})
			p.ifaces[own] = true
			seen[ifTracker(own)] = true
		}
		for _, ti := range t.TrackInterfaces {
			n := ifTracker(ti.Name)
			if seen[n] {
				continue
			}
			seen[n] = true
			p.ifaces[ti.Name] = true
			out = append(out, router.Track{Name: n, Kind: vrrp.TrackInterface, Weight: ti.Weight, Reverse: ti.Reverse})
		}
		for _, ref := range t.TrackScripts {
			s, ok := scripts[ref.Name]
			if !ok {
				bad(ref.Pos, "track_script %s: no such vrrp_script", ref.Name)
				continue
			}
			usedScripts[ref.Name] = true
			w, rev := s.Weight, s.Reverse
			if ref.Weight != nil {
				w = *ref.Weight
			}
			if ref.Reverse {
				rev = true
			}
			if ref.NoReverse {
				rev = false
			}
			out = append(out, router.Track{Name: scriptTrackerName(ref.Name), Kind: vrrp.TrackScript, Weight: w, Reverse: rev})
		}
		for _, ref := range t.TrackFiles {
			f, ok := files[ref.Name]
			if !ok {
				bad(ref.Pos, "track_file %s: no such track_file", ref.Name)
				continue
			}
			usedFiles[ref.Name] = true
			w, rev := f.Weight, f.Reverse
			if ref.Weight != nil {
				w = *ref.Weight
			}
			if ref.Reverse {
				rev = true
			}
			out = append(out, router.Track{Name: fileTrackerName(ref.Name), Kind: vrrp.TrackFile, Weight: w, Reverse: rev})
		}
		for _, ref := range t.TrackProcesses {
			pr, ok := procs[ref.Name]
			if !ok {
				bad(ref.Pos, "track_process %s: no such vrrp_track_process", ref.Name)
				continue
			}
			usedProcs[ref.Name] = true
			w, rev := pr.Weight, pr.Reverse
			if ref.Weight != nil {
				w = *ref.Weight
			}
			if ref.Reverse {
				rev = true
			}
			out = append(out, router.Track{Name: procTrackerName(ref.Name), Kind: vrrp.TrackProcess, Weight: w, Reverse: rev})
		}
		_ = pos
		return out
	}

	g := cfg.Global
	for _, ci := range cfg.Instances {
		in, d, err := mapInstance(cfg, ci, lookup)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: vrrp_instance %s: %w", ci.Pos.File, ci.Pos.Line, ci.Name, err))
			continue
		}
		in.Tracks = tracks(ci.Pos, ci.Tracking, ci.Interface, ci.DontTrackPrimary)
		in.Data = d
		d.notify = scriptsOf(ci.Notify, errsAppender(&errs, ci.Pos))
		d.mail = boolOr(ci.SMTPAlert, boolOr(g.SMTPAlertVRRP, boolOr(g.SMTPAlert, false)))
		p.router.Instances = append(p.router.Instances, in)
		p.data[ci.Name] = d
		k := listenKey{iface: ci.Interface, ipv6: in.IPv6, deliver: ci.Interface}
		if d.vmac != nil && !ci.VMACXmitBase {
			// A private macvlan takes the frames sent from its own MAC: with VMAC peers the
			// adverts arrive on the VMAC, not on its parent (keepalived listens there too).
			k.iface = d.vmac.Name
		}
		groups := p.listen[k]
		if groups == nil {
			groups = []netip.Addr{}
		}
		if len(in.Unicast) == 0 {
			grp := in.Group
			if !grp.IsValid() {
				grp = vrrp.GroupIPv4
				if in.IPv6 {
					grp = vrrp.GroupIPv6
				}
			}
			if !containsAddr(groups, grp) {
				groups = append(groups, grp)
			}
		}
		p.listen[k] = groups
	}
	for _, sg := range cfg.SyncGroups {
		p.router.SyncGroups = append(p.router.SyncGroups, router.SyncGroupConfig{
			Name: sg.Name, Members: append([]string(nil), sg.Instances...),
			Tracks:         tracks(sg.Pos, sg.Tracking, "", true),
			TrackingWeight: sg.SyncGroupTrackingWeight,
		})
		p.groupData[sg.Name] = scriptsOf(sg.Notify, errsAppender(&errs, sg.Pos))
		p.groupMail[sg.Name] = boolOr(sg.SMTPAlert, boolOr(g.SMTPAlertVRRP, boolOr(g.SMTPAlert, false)))
	}
	for _, s := range cfg.Scripts {
		if !usedScripts[s.Name] || s.Script == nil {
			continue
		}
		name := scriptTrackerName(s.Name)
		p.router.Scripts = append(p.router.Scripts, router.ScriptConfig{Name: name, Rise: s.Rise, Fall: s.Fall, InitFail: s.InitFail})
		interval := s.Interval.D()
		if interval <= 0 {
			interval = time.Second
		}
		timeout := s.Timeout.D()
		if timeout <= 0 {
			timeout = interval
		}
		st := &scriptTracker{name: name, argv: scriptArgv(s.Script), interval: interval, timeout: timeout, raw: true}
		user, group := s.User, s.Group
		if user == "" {
			user, group = s.Script.User, s.Script.Group
		}
		if user == "" {
			user, group = g.ScriptUser, g.ScriptGroup
		}
		if user != "" && scriptCred != nil {
			c, err := scriptCred(user, group)
			if err != nil {
				bad(s.Pos, "vrrp_script %s: user %s: %v", s.Name, user, err)
				continue
			}
			st.cred = c
		}
		p.trackers = append(p.trackers, st)
	}
	for _, f := range cfg.TrackFiles {
		if usedFiles[f.Name] {
			p.trackers = append(p.trackers, &fileTracker{name: fileTrackerName(f.Name), path: f.File, every: 200 * time.Millisecond})
		}
	}
	for _, pr := range cfg.TrackProcesses {
		if !usedProcs[pr.Name] {
			continue
		}
		p.trackers = append(p.trackers, &processTracker{name: procTrackerName(pr.Name), process: pr.Process,
			args: pr.Args, partial: pr.ParamMatch == "partial", full: pr.FullCommand, quorum: pr.Quorum,
			quorumMax: pr.QuorumMax, every: 500 * time.Millisecond, procRoot: "/proc", selfPID: 0})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

func errsAppender(errs *[]error, pos config.Pos) func(error) {
	return func(err error) { *errs = append(*errs, fmt.Errorf("%s:%d: %w", pos.File, pos.Line, err)) }
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

func scriptArgv(s *config.Script) []string {
	if s == nil {
		return nil
	}
	if len(s.Args) > 0 {
		return append([]string(nil), s.Args...)
	}
	argv, err := notify.SplitCommand(s.Cmd)
	if err != nil {
		return strings.Fields(s.Cmd)
	}
	return argv
}

func notifyScript(s *config.Script, fail func(error)) *notify.Script {
	if s == nil {
		return nil
	}
	ns := notify.Script{Argv: scriptArgv(s)}
	if len(ns.Argv) == 0 {
		return nil
	}
	if s.User != "" {
		c, err := notify.RunAs(s.User, s.Group)
		if err != nil {
			fail(fmt.Errorf("notify script %s: %w", s.Cmd, err))
			return nil
		}
		ns.Cred = c
	}
	return &ns
}

func scriptsOf(n config.Notify, fail func(error)) notify.VRRPScripts {
	return notify.VRRPScripts{
		Master: notifyScript(n.NotifyMaster, fail), Backup: notifyScript(n.NotifyBackup, fail),
		Fault: notifyScript(n.NotifyFault, fail), Stop: notifyScript(n.NotifyStop, fail),
		Deleted: notifyScript(n.NotifyDeleted, fail), Generic: notifyScript(n.NotifyScript, fail),
		MasterRxLowerPri: notifyScript(n.NotifyMasterRxLowerPr, fail),
	}
}

// mapInstance maps one vrrp_instance. The interface must exist now (its addresses give the
// advert source when none is configured).
func mapInstance(cfg *config.Config, ci *config.VRRPInstance, lookup ifaceLookup) (router.InstanceConfig, *instData, error) {
	ipv6 := ci.Family == "inet6"
	in := router.InstanceConfig{
		Name: ci.Name, Interface: ci.Interface, VRID: uint8(ci.VRID), IPv6: ipv6,
		Version: uint8(ci.Version), Priority: uint8(ci.Priority), Interval: ci.AdvertInt.D(),
		InitialMaster: ci.State == config.StateMaster, NoPreempt: ci.Nopreempt,
		PreemptDelay: ci.PreemptDelay.D(), DownTimerAdverts: ci.DownTimerAdverts,
		LowerPrioNoAdvert: ci.LowerPrioNoAdvert, HigherPrioSendAdvert: ci.HigherPrioSendAdvert,
		OwnerIgnoreAdverts: ci.OwnerIgnoreAdverts, CheckUnicastSrc: ci.CheckUnicastSrc,
		TTL: uint8(ci.UnicastTTL), VMAC: ci.UseVMAC != nil,
	}
	if in.Version == 0 {
		in.Version = 2
	}
	if ipv6 {
		in.Version = 3
	}
	if ci.V3ChecksumAsV2 {
		in.ChecksumForm = vrrp.ChecksumMessage
	}
	if ci.Authentication != nil && strings.EqualFold(ci.Authentication.Type, "PASS") {
		in.AuthType, in.AuthPass = vrrp.AuthPass, ci.Authentication.Pass
	} else if ci.Authentication != nil {
		return in, nil, fmt.Errorf("auth_type %s is not supported (PASS only)", ci.Authentication.Type)
	}
	if ci.Interface == "" {
		return in, nil, errors.New("no interface (unicast instances without an interface are not supported)")
	}
	info, err := lookup(ci.Interface)
	if err != nil {
		return in, nil, err
	}
	switch {
	case ci.UnicastSrcIP.IsValid() && len(ci.UnicastPeers) > 0:
		in.Source = ci.UnicastSrcIP
	case ci.McastSrcIP.IsValid():
		in.Source = ci.McastSrcIP
	case ipv6:
		in.Source = info.IPv6LinkLocal
	default:
		in.Source = info.IPv4
	}
	if !in.Source.IsValid() {
		return in, nil, fmt.Errorf("interface %s has no usable %s address for the advert source: %w", ci.Interface, map[bool]string{false: "IPv4", true: "IPv6 link-local"}[ipv6], errNoSource)
	}
	in.Source = in.Source.WithZone("")
	if ci.McastDstIP.IsValid() {
		in.Group = ci.McastDstIP
	} else if ipv6 && cfg.Global.VRRPMcastGroup6.IsValid() {
		in.Group = cfg.Global.VRRPMcastGroup6
	} else if !ipv6 && cfg.Global.VRRPMcastGroup4.IsValid() {
		in.Group = cfg.Global.VRRPMcastGroup4
	}
	for _, up := range ci.UnicastPeers {
		in.Unicast = append(in.Unicast, vrrp.Peer{Addr: up.Addr, MinTTL: uint8(up.MinTTL), MaxTTL: uint8(up.MaxTTL)})
	}
	in.GARP = &router.GARPConfig{
		MasterRepeat: ci.GarpMasterRepeat, MasterDelay: ci.GarpMasterDelay.D(),
		MasterRefresh: ci.GarpMasterRefresh.D(), MasterRefreshRepeat: ci.GarpMasterRefreshRepeat,
		LowerPrioRepeat: ci.GarpLowerPrioRepeat, LowerPrioDelay: ci.GarpLowerPrioDelay.D(),
	}
	d := &instData{name: ci.Name, iface: ci.Interface, version: int(in.Version)}
	vipDev := ci.Interface
	if ci.UseVMAC != nil {
		v := &netif.VMAC{Name: ci.UseVMAC.Name, Parent: ci.Interface, VRID: in.VRID, IPv6: ipv6}
		if ci.UseVMAC.MAC != "" {
			mac, err := parseVMACAddr(ci.UseVMAC.MAC, in.VRID)
			if err != nil {
				return in, nil, err
			}
			v.MAC = mac
		}
		if v.Name == "" {
			v.Name = "vrrp." + strconv.Itoa(int(in.VRID))
		}
		d.vmac = v
		vipDev = v.Name
		if !ci.VMACXmitBase {
			in.SendInterface = v.Name
		}
	}
	for _, a := range ci.VIPs {
		v, err := mapVIP(a, vipDev)
		if err != nil {
			return in, nil, fmt.Errorf("%s:%d: %w", a.Pos.File, a.Pos.Line, err)
		}
		if v.Prefix.Addr().Is6() != ipv6 {
			continue // keepalived ignores VIPs of the other family (use virtual_ipaddress_excluded)
		}
		d.vips = append(d.vips, v)
		d.display = append(d.display, v.Prefix.String())
		in.VIPs = append(in.VIPs, v.Prefix.Addr())
	}
	for _, a := range ci.ExcludedVIPs {
		v, err := mapVIP(a, ci.Interface)
		if err != nil {
			return in, nil, fmt.Errorf("%s:%d: %w", a.Pos.File, a.Pos.Line, err)
		}
		d.evips = append(d.evips, v)
	}
	for _, r := range ci.VirtualRoutes {
		nr, err := mapRoute(r)
		if err != nil {
			return in, nil, fmt.Errorf("%s:%d: %w", r.Pos.File, r.Pos.Line, err)
		}
		d.routes = append(d.routes, nr)
	}
	for _, r := range ci.VirtualRules {
		nr, err := mapRule(r)
		if err != nil {
			return in, nil, fmt.Errorf("%s:%d: %w", r.Pos.File, r.Pos.Line, err)
		}
		d.rules = append(d.rules, nr)
	}
	return in, d, nil
}

func parseVMACAddr(s string, vrid uint8) (net.HardwareAddr, error) {
	parts := strings.Split(s, ":")
	if len(parts) == 5 {
		s += fmt.Sprintf(":%02x", vrid)
	}
	mac, err := net.ParseMAC(s)
	if err != nil {
		return nil, fmt.Errorf("use_vmac address %q: %w", s, err)
	}
	return mac, nil
}

func mapVIP(a *config.Address, dev string) (netif.VIP, error) {
	v := netif.VIP{Prefix: a.Prefix, Dev: dev, Label: a.Label, Peer: a.Peer, NoPrefixRoute: a.NoPrefixRoute,
		NoDAD: true, Home: a.Home, MngTmpAddr: a.MngTmpAddr, AutoJoin: a.AutoJoin}
	if a.Dev != "" {
		v.Dev = a.Dev
	}
	if a.Scope != "" {
		sc, err := netif.ParseScope(a.Scope)
		if err != nil {
			return v, err
		}
		v.Scope = sc
	}
	switch a.Broadcast {
	case "":
	case "+":
		v.Brd = netif.BrdPlus
	case "-":
		v.Brd = netif.BrdMinus
	default:
		b, err := netip.ParseAddr(a.Broadcast)
		if err != nil {
			return v, fmt.Errorf("brd %q: %w", a.Broadcast, err)
		}
		v.Brd, v.BrdAddr = netif.BrdAddr, b
	}
	if a.PreferredLft != "" {
		var lft uint32 = netif.Forever
		if a.PreferredLft != "forever" {
			n, err := strconv.ParseUint(a.PreferredLft, 10, 32)
			if err != nil {
				return v, fmt.Errorf("preferred_lft %q: %w", a.PreferredLft, err)
			}
			lft = uint32(n)
		}
		v.PreferredLft = &lft
	}
	return v, nil
}

// parseTable resolves a table number or name (iproute2's rt_tables); main is 0 for routes.
func parseTable(s string) (int, error) {
	t, err := netif.TableID(s)
	if t == 254 {
		t = 0
	}
	return t, err
}

func mapRoute(r *config.Route) (netif.Route, error) {
	nr := netif.Route{To: r.Dst, Via: r.Via, Dev: r.Dev, Src: r.Src, OnLink: r.OnLink}
	for _, nh := range r.Nexthops {
		nr.Nexthops = append(nr.Nexthops, netif.Nexthop{Via: nh.Via, Dev: nh.Dev, Weight: nh.Weight, OnLink: nh.OnLink})
	}
	switch r.Type {
	case "", "unicast":
	case "blackhole":
		nr.Type = netif.RouteBlackhole
	case "unreachable":
		nr.Type = netif.RouteUnreachable
	case "prohibit":
		nr.Type = netif.RouteProhibit
	default:
		return nr, fmt.Errorf("route type %s is not supported", r.Type)
	}
	t, err := parseTable(r.Table)
	if err != nil {
		return nr, err
	}
	nr.Table = t
	if r.Metric != nil {
		nr.Metric = int(*r.Metric)
	}
	if r.Scope != "" {
		sc, err := netif.ParseScope(r.Scope)
		if err != nil {
			return nr, err
		}
		nr.Scope = &sc
	}
	return nr, nil
}

func mapRule(r *config.Rule) (netif.Rule, error) {
	nr := netif.Rule{IPv6: r.Family == "inet6", From: r.From, To: r.To, IIF: r.IIF, OIF: r.OIF}
	t, err := parseTable(r.Table)
	if err != nil {
		return nr, err
	}
	if t == 0 {
		t = 254
	}
	nr.Table = t
	if r.Preference != nil {
		nr.Preference = int(*r.Preference)
	}
	if r.Fwmark != "" {
		mark, mask, hasMask := strings.Cut(r.Fwmark, "/")
		m, err := strconv.ParseUint(mark, 0, 32)
		if err != nil {
			return nr, fmt.Errorf("fwmark %q: %w", r.Fwmark, err)
		}
		nr.FwMark, nr.HasFwMark = uint32(m), true
		if hasMask {
			mk, err := strconv.ParseUint(mask, 0, 32)
			if err != nil {
				return nr, fmt.Errorf("fwmark %q: %w", r.Fwmark, err)
			}
			m32 := uint32(mk)
			nr.FwMask = &m32
		}
	}
	if r.Action != "" && r.Action != "lookup" && r.Action != "table" {
		return nr, fmt.Errorf("rule action %s is not supported", r.Action)
	}
	return nr, nil
}
