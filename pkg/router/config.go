package router

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/xalived/xalived/pkg/vrrp"
)

// Config is everything the router runs.
type Config struct {
	Instances  []InstanceConfig
	SyncGroups []SyncGroupConfig
	Scripts    []ScriptConfig
}

// InstanceConfig is one vrrp_instance as the router needs it.
type InstanceConfig struct {
	Name string
	// Interface is the configured interface: it identifies the instance and matches
	// Received.Interface. SendInterface, if set, is where adverts go (e.g. the VMAC).
	Interface     string
	SendInterface string
	VRID          uint8
	IPv6          bool
	// Version is 2 or 3 (IPv6 requires 3).
	Version  uint8
	Priority uint8
	Interval time.Duration
	// InitialMaster is `state MASTER`.
	InitialMaster        bool
	NoPreempt            bool
	PreemptDelay         time.Duration
	DownTimerAdverts     int // 0 = 3
	LowerPrioNoAdvert    bool
	HigherPrioSendAdvert bool
	OwnerIgnoreAdverts   bool
	// AuthType is vrrp.AuthNone or vrrp.AuthPass (v2 only); AuthPass is the password.
	AuthType uint8
	AuthPass string
	// ChecksumForm is the v3 IPv4 checksum sent (vrrp.ChecksumPseudo = keepalived's default).
	ChecksumForm vrrp.ChecksumForm
	// Source is the source address of adverts and the tie-break address (required).
	Source netip.Addr
	// Group is the multicast destination; zero = 224.0.0.18 / ff02::12.
	Group netip.Addr
	// Unicast peers: non-empty means unicast mode, one copy of each advert per peer.
	Unicast         []vrrp.Peer
	CheckUnicastSrc bool
	// TTL of sent adverts; 0 = 255.
	TTL  uint8
	VMAC bool
	// VIPs are the advertised addresses (all of the instance's family).
	VIPs []netip.Addr
	// Tracks are the instance's trackers (track_interface/script/file/process). The
	// instance's own interface, unless dont_track_primary, is one with weight 0.
	Tracks []Track
	// GARP settings; nil = keepalived's defaults (5 now, 5 after 5 s, the same on hearing a
	// lower priority, no refresh).
	GARP *GARPConfig
	// Data is opaque to the router and handed back to Host (the daemon puts VIPs with dev,
	// label, brd, scope, eVIPs, routes and rules there).
	Data any
	// ExternalMasterDown: the receive path runs this instance's master-down timer (XDP
	// with a bpf_timer re-armed in the kernel by every valid advert). The router then never
	// arms it itself: it reports arms and disarms through Options.MasterDownTimer and takes
	// expiries through Router.MasterDown, and adverts the kernel passes up through
	// Router.DeliverAdvert.
	ExternalMasterDown bool
}

// GARPConfig are the gratuitous ARP / unsolicited NA settings of an instance.
type GARPConfig struct {
	MasterRepeat        int
	MasterDelay         time.Duration
	MasterRefresh       time.Duration
	MasterRefreshRepeat int
	LowerPrioRepeat     int
	LowerPrioDelay      time.Duration
}

// Track references a tracker by name. The daemon reports results with SetTracker (or
// ScriptResult for scripts listed in Config.Scripts); a tracker never reported counts as up.
type Track struct {
	Name    string
	Kind    vrrp.TrackKind
	Weight  int
	Reverse bool
}

// SyncGroupConfig is a vrrp_sync_group.
type SyncGroupConfig struct {
	Name    string
	Members []string
	// Tracks apply to every member.
	Tracks []Track
	// TrackingWeight is sync_group_tracking_weight: without it members' weights count as 0.
	TrackingWeight bool
}

// ScriptConfig is the rise/fall behaviour of a vrrp_script (the daemon runs the script).
type ScriptConfig struct {
	Name       string
	Rise, Fall int
	InitFail   bool
}

// identity is what keeps an instance the same across a reload (keepalived's rule), not
// its name.
type identity struct {
	vrid    uint8
	ipv6    bool
	iface   string
	unicast bool
	src     netip.Addr // unicast only
	vmac    bool
	group   netip.Addr
}

func (c *InstanceConfig) identity() identity {
	id := identity{vrid: c.VRID, ipv6: c.IPv6, iface: c.Interface, unicast: len(c.Unicast) > 0, vmac: c.VMAC, group: c.group()}
	if id.unicast {
		id.src = c.Source
		id.group = netip.Addr{}
	}
	return id
}

func (c *InstanceConfig) group() netip.Addr {
	if c.Group.IsValid() {
		return c.Group
	}
	if c.IPv6 {
		return vrrp.GroupIPv6
	}
	return vrrp.GroupIPv4
}

func (c *InstanceConfig) garp() GARPConfig {
	if c.GARP != nil {
		return *c.GARP
	}
	d := vrrp.DefaultConfig(c.Version)
	return GARPConfig{MasterRepeat: d.GARPMasterRepeat, MasterDelay: d.GARPMasterDelay,
		MasterRefreshRepeat: d.GARPMasterRefreshRepeat, LowerPrioRepeat: d.GARPLowerPrioRepeat,
		LowerPrioDelay: d.GARPLowerPrioDelay}
}

// fsmConfig derives the FSM's configuration.
func (c *InstanceConfig) fsmConfig(inSync bool) *vrrp.Config {
	g := c.garp()
	return &vrrp.Config{
		Version: c.Version, Priority: c.Priority, Interval: c.Interval,
		InitialMaster: c.InitialMaster, NoPreempt: c.NoPreempt, PreemptDelay: c.PreemptDelay,
		DownTimerAdverts: c.DownTimerAdverts, LowerPrioNoAdvert: c.LowerPrioNoAdvert,
		HigherPrioSendAdvert: c.HigherPrioSendAdvert, InSyncGroup: inSync,
		GARPMasterRepeat: g.MasterRepeat, GARPMasterDelay: g.MasterDelay,
		GARPMasterRefresh: g.MasterRefresh, GARPMasterRefreshRepeat: g.MasterRefreshRepeat,
		GARPLowerPrioRepeat: g.LowerPrioRepeat, GARPLowerPrioDelay: g.LowerPrioDelay,
	}
}

// ErrConfig is wrapped by every validation error.
var ErrConfig = errors.New("router: invalid config")

// Validate checks a configuration for what the router relies on.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	names := map[string]bool{}
	ids := map[identity]string{}
	for i := range c.Instances {
		in := &c.Instances[i]
		if in.Name == "" {
			bad("instance %d has no name", i)
		} else if names[in.Name] {
			bad("instance %s defined twice", in.Name)
		}
		names[in.Name] = true
		if in.VRID == 0 {
			bad("instance %s: virtual_router_id must be 1..255", in.Name)
		}
		if in.Priority == 0 {
			bad("instance %s: priority must be 1..255", in.Name)
		}
		if in.Version != vrrp.Version2 && in.Version != vrrp.Version3 {
			bad("instance %s: version %d", in.Name, in.Version)
		}
		if in.IPv6 && in.Version != vrrp.Version3 {
			bad("instance %s: IPv6 needs VRRP version 3", in.Name)
		}
		if in.Interval < 10*time.Millisecond || (in.Version == vrrp.Version2 && in.Interval < time.Second) {
			bad("instance %s: advert_int %v too small", in.Name, in.Interval)
		}
		if !in.Source.IsValid() || in.Source.Is6() != in.IPv6 {
			bad("instance %s: source address %v missing or of the wrong family", in.Name, in.Source)
		}
		if len(in.VIPs) > vrrp.MaxAddrs {
			bad("instance %s: %d VIPs, at most %d", in.Name, len(in.VIPs), vrrp.MaxAddrs)
		}
		for _, v := range in.VIPs {
			if !v.IsValid() || v.Is6() != in.IPv6 {
				bad("instance %s: VIP %v of the wrong family", in.Name, v)
			}
		}
		for _, p := range in.Unicast {
			if !p.Addr.IsValid() || p.Addr.Is6() != in.IPv6 {
				bad("instance %s: unicast peer %v of the wrong family", in.Name, p.Addr)
			}
		}
		if in.AuthType != vrrp.AuthNone && (in.AuthType != vrrp.AuthPass || in.Version != vrrp.Version2) {
			bad("instance %s: authentication type %d not supported (PASS with version 2 only)", in.Name, in.AuthType)
		}
		id := in.identity()
		if other, dup := ids[id]; dup {
			bad("instances %s and %s share VRID %d on the same interface, family and group", other, in.Name, in.VRID)
		}
		ids[id] = in.Name
	}
	member := map[string]string{}
	for _, g := range c.SyncGroups {
		for _, m := range g.Members {
			if !names[m] {
				bad("sync group %s: unknown instance %s", g.Name, m)
			}
			if other, ok := member[m]; ok {
				bad("instance %s is in sync groups %s and %s", m, other, g.Name)
			}
			member[m] = g.Name
		}
	}
	return errors.Join(errs...)
}
