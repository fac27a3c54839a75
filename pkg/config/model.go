package config

import (
	"net/netip"
)

// Pos is where a node of the configuration came from: the file (as given to
// Parse or as matched by an include) and the 1-based line number.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

// Config is a whole parsed, defaulted keepalived.conf. Slices keep the order
// of the file; names are unique within each slice once validated.
type Config struct {
	// ConfigID is the id @name lines were matched against.
	ConfigID string `json:"config_id"`
	// Files lists every file read, the main file first.
	Files []string `json:"files"`

	Global GlobalDefs `json:"global_defs"`

	LinkbeatInterfaces []LinkbeatInterface `json:"linkbeat_interfaces,omitempty"`
	InterfaceDelays    []InterfaceDelay    `json:"interface_up_down_delays,omitempty"`
	TrackGroups        []*TrackGroup       `json:"track_groups,omitempty"`
	StaticAddresses    []*Address          `json:"static_ipaddress,omitempty"`
	StaticRoutes       []*Route            `json:"static_routes,omitempty"`
	StaticRules        []*Rule             `json:"static_rules,omitempty"`
	TrackFiles         []*TrackFile        `json:"track_files,omitempty"`
	TrackProcesses     []*TrackProcess     `json:"track_processes,omitempty"`
	Scripts            []*VRRPScript       `json:"vrrp_scripts,omitempty"`
	BFDInstances       []*BFDInstance      `json:"bfd_instances,omitempty"`
	SyncGroups         []*SyncGroup        `json:"vrrp_sync_groups,omitempty"`
	GarpGroups         []*GarpGroup        `json:"garp_groups,omitempty"`
	Instances          []*VRRPInstance     `json:"vrrp_instances,omitempty"`

	SSL                 *SSLConfig            `json:"ssl,omitempty"`
	VirtualServerGroups []*VirtualServerGroup `json:"virtual_server_groups,omitempty"`
	VirtualServers      []*VirtualServer      `json:"virtual_servers,omitempty"`
}

// Setting is a keyword line kept verbatim: used for keywords keepalived
// accepts but the model does not type, so nothing in a file is lost.
type Setting struct {
	Pos     Pos      `json:"pos"`
	Keyword string   `json:"keyword"`
	Args    []string `json:"args,omitempty"`
}

// Script is a command line to run (notify scripts, vrrp_script, MISC_CHECK,
// quorum_up, ...): the raw text as written and its arguments split the way
// keepalived splits them (on unquoted spaces).
type Script struct {
	Pos  Pos      `json:"pos"`
	Cmd  string   `json:"cmd"`
	Args []string `json:"args"`
	// User and Group run the script when set ("user [group]" after the command).
	User  string `json:"user,omitempty"`
	Group string `json:"group,omitempty"`
}

// GlobalDefs is the global_defs block, with keepalived's defaults applied.
// Keywords that only tune keepalived's own process (scheduling, netlink
// buffers, SNMP, D-Bus...) are kept in Other.
type GlobalDefs struct {
	Pos Pos `json:"pos"`

	RouterID               string   `json:"router_id"`
	NotificationEmail      []string `json:"notification_email,omitempty"`
	NotificationEmailFrom  string   `json:"notification_email_from,omitempty"`
	SMTPServer             string   `json:"smtp_server,omitempty"`
	SMTPServerPort         uint16   `json:"smtp_server_port,omitempty"`
	SMTPHeloName           string   `json:"smtp_helo_name,omitempty"`
	SMTPConnectTimeout     Duration `json:"smtp_connect_timeout"`
	SMTPAlert              *bool    `json:"smtp_alert,omitempty"`
	SMTPAlertVRRP          *bool    `json:"smtp_alert_vrrp,omitempty"`
	SMTPAlertChecker       *bool    `json:"smtp_alert_checker,omitempty"`
	NoEmailFaults          bool     `json:"no_email_faults,omitempty"`
	NoCheckerEmails        bool     `json:"no_checker_emails,omitempty"`
	CheckerLogAllFailures  bool     `json:"checker_log_all_failures,omitempty"`
	DefaultInterface       string   `json:"default_interface,omitempty"`
	DynamicInterfaces      bool     `json:"dynamic_interfaces,omitempty"`
	DynamicInterfacesAllow bool     `json:"dynamic_interfaces_allow_if_changes,omitempty"`
	NetNamespace           string   `json:"net_namespace,omitempty"`
	Instance               string   `json:"instance,omitempty"`
	LinkbeatUsePolling     bool     `json:"linkbeat_use_polling,omitempty"`

	VRRPVersion               int            `json:"vrrp_version"`
	VRRPMcastGroup4           netip.Addr     `json:"vrrp_mcast_group4"`
	VRRPMcastGroup6           netip.Addr     `json:"vrrp_mcast_group6"`
	VRRPGarpMasterDelay       Duration       `json:"vrrp_garp_master_delay"`
	VRRPGarpMasterRepeat      int            `json:"vrrp_garp_master_repeat"`
	VRRPGarpMasterRefresh     Duration       `json:"vrrp_garp_master_refresh"`
	VRRPGarpRefreshRepeat     int            `json:"vrrp_garp_master_refresh_repeat"`
	VRRPGarpLowerPrioDelay    *Duration      `json:"vrrp_garp_lower_prio_delay,omitempty"`
	VRRPGarpLowerPrioRepeat   *int           `json:"vrrp_garp_lower_prio_repeat,omitempty"`
	VRRPGarpInterval          Duration       `json:"vrrp_garp_interval"`
	VRRPGnaInterval           Duration       `json:"vrrp_gna_interval"`
	VRRPMinGarp               bool           `json:"vrrp_min_garp,omitempty"`
	VRRPGarpExtraIf           *GarpExtraIf   `json:"vrrp_garp_extra_if,omitempty"`
	VRRPDownTimerAdverts      int            `json:"vrrp_down_timer_adverts"`
	VRRPLowerPrioNoAdvert     bool           `json:"vrrp_lower_prio_no_advert"`
	VRRPHigherPrioSendAdvert  bool           `json:"vrrp_higher_prio_send_advert"`
	VRRPOwnerIgnoreAdverts    bool           `json:"vrrp_owner_ignore_adverts"`
	V3ChecksumAsV2            bool           `json:"v3_checksum_as_v2,omitempty"`
	VRRPStrict                bool           `json:"vrrp_strict"`
	VRRPCheckUnicastSrc       bool           `json:"vrrp_check_unicast_src,omitempty"`
	VRRPSkipCheckAdvAddr      bool           `json:"vrrp_skip_check_adv_addr,omitempty"`
	VRRPIptables              []string       `json:"vrrp_iptables,omitempty"`
	VRRPIpsets                []string       `json:"vrrp_ipsets,omitempty"`
	Nftables                  *string        `json:"nftables,omitempty"`
	VRRPStartupDelay          Duration       `json:"vrrp_startup_delay,omitempty"`
	VRRPNotifyPriorityChanges bool           `json:"vrrp_notify_priority_changes,omitempty"`
	VmacPrefix                string         `json:"vmac_prefix,omitempty"`
	VmacAddrPrefix            string         `json:"vmac_addr_prefix,omitempty"`
	LogUnknownVRIDs           bool           `json:"log_unknown_vrids,omitempty"`
	LVSSyncDaemon             *LVSSyncDaemon `json:"lvs_sync_daemon,omitempty"`
	LVSTimeouts               *LVSTimeouts   `json:"lvs_timeouts,omitempty"`
	LVSFlush                  bool           `json:"lvs_flush,omitempty"`
	LVSFlushOnStop            string         `json:"lvs_flush_on_stop,omitempty"`

	ScriptUser           string `json:"script_user,omitempty"`
	ScriptGroup          string `json:"script_group,omitempty"`
	EnableScriptSecurity bool   `json:"enable_script_security,omitempty"`

	NotifyFifo        *Fifo    `json:"notify_fifo,omitempty"`
	VRRPNotifyFifo    *Fifo    `json:"vrrp_notify_fifo,omitempty"`
	LVSNotifyFifo     *Fifo    `json:"lvs_notify_fifo,omitempty"`
	FifoWriteOnReload bool     `json:"fifo_write_vrrp_states_on_reload,omitempty"`
	RSInitNotifies    bool     `json:"rs_init_notifies,omitempty"`
	ReloadCheckConfig *string  `json:"reload_check_config,omitempty"`
	StartupScript     *Script  `json:"startup_script,omitempty"`
	StartupTimeout    Duration `json:"startup_script_timeout,omitempty"`
	ShutdownScript    *Script  `json:"shutdown_script,omitempty"`
	ShutdownTimeout   Duration `json:"shutdown_script_timeout,omitempty"`
	StateDumpFile     string   `json:"state_dump_file,omitempty"`
	StatsDumpFile     string   `json:"stats_dump_file,omitempty"`
	JSONDumpFile      string   `json:"json_dump_file,omitempty"`

	// Other keeps every other valid global keyword verbatim.
	Other []Setting `json:"other,omitempty"`
}

// GarpExtraIf is vrrp_garp_extra_if / garp_extra_if: periodic gratuitous
// ARP on VIP interfaces other than the VRRP interface.
type GarpExtraIf struct {
	Pos      Pos      `json:"pos"`
	Interval Duration `json:"interval"`
	All      bool     `json:"all,omitempty"`
}

// Fifo is a notify FIFO and its optional script.
type Fifo struct {
	Pos    Pos     `json:"pos"`
	Path   string  `json:"path"`
	Group  string  `json:"group,omitempty"`
	Script *Script `json:"script,omitempty"`
}

// LVSSyncDaemon is global lvs_sync_daemon.
type LVSSyncDaemon struct {
	Pos       Pos        `json:"pos"`
	Interface string     `json:"interface"`
	Instance  string     `json:"instance,omitempty"`
	SyncID    int        `json:"id,omitempty"`
	MaxLen    int        `json:"maxlen,omitempty"`
	Port      int        `json:"port,omitempty"`
	TTL       int        `json:"ttl,omitempty"`
	Group     netip.Addr `json:"group,omitzero"`
}

// LVSTimeouts is global lvs_timeouts.
type LVSTimeouts struct {
	Pos    Pos      `json:"pos"`
	TCP    Duration `json:"tcp,omitempty"`
	TCPFin Duration `json:"tcpfin,omitempty"`
	UDP    Duration `json:"udp,omitempty"`
}

// LinkbeatInterface is one line of linkbeat_interfaces.
type LinkbeatInterface struct {
	Pos    Pos    `json:"pos"`
	Name   string `json:"name"`
	Method string `json:"method,omitempty"`
}

// InterfaceDelay is one line of interface_up_down_delays.
type InterfaceDelay struct {
	Pos       Pos      `json:"pos"`
	Interface string   `json:"interface"`
	Down      Duration `json:"down"`
	Up        Duration `json:"up"`
}

// TrackGroup is a track_group block: instances that static addresses,
// routes and rules can put into FAULT.
type TrackGroup struct {
	Pos       Pos      `json:"pos"`
	Name      string   `json:"name"`
	Instances []string `json:"group"`
}

// VRRPScript is a vrrp_script block.
type VRRPScript struct {
	Pos      Pos      `json:"pos"`
	Name     string   `json:"name"`
	Script   *Script  `json:"script"`
	Interval Duration `json:"interval"`
	Timeout  Duration `json:"timeout"`
	Weight   int      `json:"weight"`
	Reverse  bool     `json:"reverse,omitempty"`
	Rise     int      `json:"rise"`
	Fall     int      `json:"fall"`
	User     string   `json:"user,omitempty"`
	Group    string   `json:"group,omitempty"`
	InitFail bool     `json:"init_fail,omitempty"`
}

// TrackFile is a track_file (vrrp_track_file) block.
type TrackFile struct {
	Pos       Pos    `json:"pos"`
	Name      string `json:"name"`
	File      string `json:"file"`
	Weight    int    `json:"weight"`
	Reverse   bool   `json:"reverse,omitempty"`
	InitFile  bool   `json:"init_file,omitempty"`
	InitValue int    `json:"init_value,omitempty"`
	Overwrite bool   `json:"overwrite,omitempty"`
}

// TrackProcess is a vrrp_track_process block.
type TrackProcess struct {
	Pos            Pos      `json:"pos"`
	Name           string   `json:"name"`
	Process        string   `json:"process"`
	Args           []string `json:"args,omitempty"`
	ParamMatch     string   `json:"param_match,omitempty"`
	Weight         int      `json:"weight"`
	Reverse        bool     `json:"reverse,omitempty"`
	Quorum         int      `json:"quorum"`
	QuorumMax      int      `json:"quorum_max,omitempty"`
	ForkDelay      Duration `json:"fork_delay,omitempty"`
	TerminateDelay Duration `json:"terminate_delay,omitempty"`
	FullCommand    bool     `json:"full_command,omitempty"`
}

// BFDInstance is a bfd_instance block (RFC 5880 session).
type BFDInstance struct {
	Pos        Pos        `json:"pos"`
	Name       string     `json:"name"`
	NeighborIP netip.Addr `json:"neighbor_ip"`
	SourceIP   netip.Addr `json:"source_ip,omitzero"`
	MinRx      Duration   `json:"min_rx"`
	MinTx      Duration   `json:"min_tx"`
	IdleTx     Duration   `json:"idle_tx"`
	Multiplier int        `json:"multiplier"`
	Passive    bool       `json:"passive,omitempty"`
	TTL        int        `json:"ttl"`
	MaxHops    int        `json:"max_hops,omitempty"`
	Multihop   bool       `json:"multihop,omitempty"`
	Weight     int        `json:"weight,omitempty"`
	Reverse    bool       `json:"reverse,omitempty"`
	// VRRP and Checker restrict which process uses the session.
	VRRP    bool `json:"vrrp,omitempty"`
	Checker bool `json:"checker,omitempty"`
}

// SyncGroup is a vrrp_sync_group block.
type SyncGroup struct {
	Pos       Pos      `json:"pos"`
	Name      string   `json:"name"`
	Instances []string `json:"group"`
	Tracking
	Notify
	GlobalTracking          bool `json:"global_tracking,omitempty"`
	SyncGroupTrackingWeight bool `json:"sync_group_tracking_weight,omitempty"`
}

// Tracking is what an instance or sync group tracks.
type Tracking struct {
	TrackInterfaces []TrackedInterface `json:"track_interface,omitempty"`
	TrackScripts    []TrackRef         `json:"track_script,omitempty"`
	TrackFiles      []TrackRef         `json:"track_file,omitempty"`
	TrackProcesses  []TrackRef         `json:"track_process,omitempty"`
	TrackBFDs       []TrackRef         `json:"track_bfd,omitempty"`
}

// TrackedInterface is one line of track_interface.
type TrackedInterface struct {
	Pos     Pos    `json:"pos"`
	Name    string `json:"name"`
	Weight  int    `json:"weight"`
	Reverse bool   `json:"reverse,omitempty"`
}

// TrackRef is one line of track_script/track_file/track_process/track_bfd:
// a reference by name, with an optional weight overriding the tracker's.
type TrackRef struct {
	Pos     Pos    `json:"pos"`
	Name    string `json:"name"`
	Weight  *int   `json:"weight,omitempty"`
	Reverse bool   `json:"reverse,omitempty"`
	// NoReverse is an explicit "noreverse" (overrides the tracker's reverse).
	NoReverse bool `json:"noreverse,omitempty"`
}

// Notify holds notify scripts of an instance or a sync group.
type Notify struct {
	NotifyMaster          *Script `json:"notify_master,omitempty"`
	NotifyBackup          *Script `json:"notify_backup,omitempty"`
	NotifyFault           *Script `json:"notify_fault,omitempty"`
	NotifyStop            *Script `json:"notify_stop,omitempty"`
	NotifyDeleted         *Script `json:"notify_deleted,omitempty"`
	NotifyMasterRxLowerPr *Script `json:"notify_master_rx_lower_pri,omitempty"`
	NotifyScript          *Script `json:"notify,omitempty"`
	NotifyPriorityChanges bool    `json:"notify_priority_changes,omitempty"`
	SMTPAlert             *bool   `json:"smtp_alert,omitempty"`
}

// State names a VRRP state as written in the configuration.
type State string

// The initial states a configuration may ask for.
const (
	StateBackup State = "BACKUP"
	StateMaster State = "MASTER"
)

// VRRPInstance is a vrrp_instance block, defaulted and validated.
type VRRPInstance struct {
	Pos  Pos    `json:"pos"`
	Name string `json:"name"`

	// State is the initial state wanted (BACKUP unless the file says MASTER
	// or the priority is 255).
	State     State  `json:"state"`
	Interface string `json:"interface,omitempty"`
	VRF       string `json:"vrf,omitempty"`
	VRID      int    `json:"virtual_router_id"`
	// Priority is the configured base priority (1..255; 255 = address owner).
	Priority int `json:"priority"`
	// AdvertInt is the advertisement interval after keepalived's rounding
	// (whole seconds for v2, centiseconds for v3).
	AdvertInt Duration `json:"advert_int"`
	// Version is 2 or 3 (IPv6 instances are always 3).
	Version int `json:"version"`
	// Family is "inet" or "inet6", decided by the first VIP (or source/peers).
	Family string `json:"family"`

	Nopreempt            bool     `json:"nopreempt,omitempty"`
	PreemptDelay         Duration `json:"preempt_delay,omitempty"`
	TimerExpiredBackup   bool     `json:"timer_expired_backup,omitempty"`
	DownTimerAdverts     int      `json:"down_timer_adverts"`
	SkipCheckAdvAddr     bool     `json:"skip_check_adv_addr,omitempty"`
	StrictMode           bool     `json:"strict_mode,omitempty"`
	Debug                int      `json:"debug,omitempty"`
	LowerPrioNoAdvert    bool     `json:"lower_prio_no_advert"`
	HigherPrioSendAdvert bool     `json:"higher_prio_send_advert"`
	OwnerIgnoreAdverts   bool     `json:"owner_ignore_adverts,omitempty"`
	V3ChecksumAsV2       bool     `json:"v3_checksum_as_v2,omitempty"`

	McastSrcIP         netip.Addr    `json:"mcast_src_ip,omitzero"`
	UnicastSrcIP       netip.Addr    `json:"unicast_src_ip,omitzero"`
	McastDstIP         netip.Addr    `json:"mcast_dst_ip,omitzero"`
	UnicastPeers       []UnicastPeer `json:"unicast_peer,omitempty"`
	UnicastTTL         int           `json:"unicast_ttl,omitempty"`
	UnicastFaultNoPeer bool          `json:"unicast_fault_no_peer,omitempty"`
	CheckUnicastSrc    bool          `json:"check_unicast_src,omitempty"`
	OldUnicastChecksum string        `json:"old_unicast_checksum,omitempty"`
	TrackSrcIP         bool          `json:"track_src_ip,omitempty"`
	DontTrackPrimary   bool          `json:"dont_track_primary,omitempty"`

	Tracking

	UseVMAC      *VMAC   `json:"use_vmac,omitempty"`
	UseVMACAddr  bool    `json:"use_vmac_addr,omitempty"`
	VMACXmitBase bool    `json:"vmac_xmit_base,omitempty"`
	UseIPVlan    *IPVlan `json:"use_ipvlan,omitempty"`
	NativeIPv6   bool    `json:"native_ipv6,omitempty"`

	VIPs               []*Address `json:"virtual_ipaddress,omitempty"`
	ExcludedVIPs       []*Address `json:"virtual_ipaddress_excluded,omitempty"`
	NoVirtualIPAddress bool       `json:"no_virtual_ipaddress,omitempty"`
	VirtualRoutes      []*Route   `json:"virtual_routes,omitempty"`
	VirtualRules       []*Rule    `json:"virtual_rules,omitempty"`
	PromoteSecondaries bool       `json:"promote_secondaries,omitempty"`
	// Accept is false for no_accept (default true unless strict and not owner).
	Accept bool `json:"accept"`

	Authentication *Authentication `json:"authentication,omitempty"`

	GarpMasterDelay         Duration     `json:"garp_master_delay"`
	GarpMasterRepeat        int          `json:"garp_master_repeat"`
	GarpMasterRefresh       Duration     `json:"garp_master_refresh"`
	GarpMasterRefreshRepeat int          `json:"garp_master_refresh_repeat"`
	GarpLowerPrioDelay      Duration     `json:"garp_lower_prio_delay"`
	GarpLowerPrioRepeat     int          `json:"garp_lower_prio_repeat"`
	GarpInterval            Duration     `json:"garp_interval,omitempty"`
	GnaInterval             Duration     `json:"gna_interval,omitempty"`
	GarpExtraIf             *GarpExtraIf `json:"garp_extra_if,omitempty"`

	Notify

	LVSSyncDaemonInterface string `json:"lvs_sync_daemon_interface,omitempty"`
	KernelRxBufSize        int    `json:"kernel_rx_buf_size,omitempty"`
	LinkbeatUsePolling     bool   `json:"linkbeat_use_polling,omitempty"`

	// SyncGroup names the vrrp_sync_group the instance belongs to, if any.
	SyncGroup string `json:"sync_group,omitempty"`
}

// UnicastPeer is one unicast_peer entry.
type UnicastPeer struct {
	Pos    Pos        `json:"pos"`
	Addr   netip.Addr `json:"address"`
	MinTTL int        `json:"min_ttl,omitempty"`
	MaxTTL int        `json:"max_ttl,omitempty"`
}

// VMAC is use_vmac: the macvlan interface carrying the virtual MAC.
type VMAC struct {
	Pos           Pos    `json:"pos"`
	Name          string `json:"name,omitempty"`
	MAC           string `json:"mac,omitempty"`
	NetlinkNotify bool   `json:"netlink_notify_msg,omitempty"`
	Group         string `json:"group,omitempty"`
}

// IPVlan is use_ipvlan.
type IPVlan struct {
	Pos   Pos          `json:"pos"`
	Name  string       `json:"name,omitempty"`
	Addr  netip.Prefix `json:"address,omitzero"`
	Mode  string       `json:"mode,omitempty"`
	Group string       `json:"group,omitempty"`
}

// Authentication is the authentication block (VRRPv2 only).
type Authentication struct {
	Pos  Pos    `json:"pos"`
	Type string `json:"auth_type"`
	// Pass is truncated to 8 bytes as keepalived does.
	Pass string `json:"auth_pass,omitempty"`
}

// Address is one line of virtual_ipaddress, virtual_ipaddress_excluded or
// static_ipaddress (ip addr add syntax).
type Address struct {
	Pos           Pos          `json:"pos"`
	Prefix        netip.Prefix `json:"prefix"`
	Broadcast     string       `json:"broadcast,omitempty"`
	Dev           string       `json:"dev,omitempty"`
	Scope         string       `json:"scope,omitempty"`
	Label         string       `json:"label,omitempty"`
	Peer          netip.Prefix `json:"peer,omitzero"`
	Home          bool         `json:"home,omitempty"`
	NoDAD         bool         `json:"nodad,omitempty"`
	MngTmpAddr    bool         `json:"mngtmpaddr,omitempty"`
	NoPrefixRoute bool         `json:"noprefixroute,omitempty"`
	AutoJoin      bool         `json:"autojoin,omitempty"`
	NoTrack       bool         `json:"no_track,omitempty"`
	UseVMAC       bool         `json:"use_vmac,omitempty"`
	// PreferredLft is "forever" or seconds; empty means the default.
	PreferredLft string `json:"preferred_lft,omitempty"`
	TrackGroup   string `json:"track_group,omitempty"`
}

// Route is one line of virtual_routes or static_routes (ip route syntax).
type Route struct {
	Pos Pos `json:"pos"`
	// Type is unicast (default), blackhole, unreachable, prohibit, throw, ...
	Type       string       `json:"type,omitempty"`
	Dst        netip.Prefix `json:"to"`
	Src        netip.Addr   `json:"src,omitzero"`
	From       netip.Prefix `json:"from,omitzero"`
	Via        netip.Addr   `json:"via,omitzero"`
	Dev        string       `json:"dev,omitempty"`
	Table      string       `json:"table,omitempty"`
	Metric     *uint32      `json:"metric,omitempty"`
	Scope      string       `json:"scope,omitempty"`
	Protocol   string       `json:"protocol,omitempty"`
	OnLink     bool         `json:"onlink,omitempty"`
	Nexthops   []Nexthop    `json:"nexthops,omitempty"`
	NoTrack    bool         `json:"no_track,omitempty"`
	TrackGroup string       `json:"track_group,omitempty"`
	// Options keeps the remaining "name value" pairs (mtu, advmss, ...).
	Options map[string]string `json:"options,omitempty"`
}

// Nexthop is one nexthop of a multipath route.
type Nexthop struct {
	Via    netip.Addr `json:"via,omitzero"`
	Dev    string     `json:"dev,omitempty"`
	Weight int        `json:"weight,omitempty"`
	OnLink bool       `json:"onlink,omitempty"`
}

// Rule is one line of virtual_rules or static_rules (ip rule syntax).
type Rule struct {
	Pos        Pos          `json:"pos"`
	From       netip.Prefix `json:"from,omitzero"`
	To         netip.Prefix `json:"to,omitzero"`
	Family     string       `json:"family,omitempty"`
	Preference *uint32      `json:"preference,omitempty"`
	Table      string       `json:"table,omitempty"`
	Fwmark     string       `json:"fwmark,omitempty"`
	IIF        string       `json:"iif,omitempty"`
	OIF        string       `json:"oif,omitempty"`
	Action     string       `json:"action,omitempty"`
	Not        bool         `json:"not,omitempty"`
	NoTrack    bool         `json:"no_track,omitempty"`
	TrackGroup string       `json:"track_group,omitempty"`
	// Options keeps the remaining "name value" pairs (tos, goto, ...).
	Options map[string]string `json:"options,omitempty"`
}

// GarpGroup is a garp_group block.
type GarpGroup struct {
	Pos         Pos      `json:"pos"`
	Interval    Duration `json:"garp_interval,omitempty"`
	GnaInterval Duration `json:"gna_interval,omitempty"`
	Interface   string   `json:"interface,omitempty"`
	Interfaces  []string `json:"interfaces,omitempty"`
}

// SSLConfig is the SSL block used by SSL_GET.
type SSLConfig struct {
	Pos         Pos    `json:"pos"`
	Password    string `json:"password,omitempty"`
	CA          string `json:"ca,omitempty"`
	Certificate string `json:"certificate,omitempty"`
	Key         string `json:"key,omitempty"`
}

// VirtualServerGroup is a virtual_server_group block.
type VirtualServerGroup struct {
	Pos     Pos        `json:"pos"`
	Name    string     `json:"name"`
	Entries []VSGEntry `json:"entries"`
}

// VSGEntry is one line of a virtual_server_group: an address (or a range of
// addresses ending at RangeEnd) and port, or a fwmark.
type VSGEntry struct {
	Pos      Pos        `json:"pos"`
	Addr     netip.Addr `json:"address,omitzero"`
	RangeEnd netip.Addr `json:"range_end,omitzero"`
	Port     uint16     `json:"port,omitempty"`
	Fwmark   uint32     `json:"fwmark,omitempty"`
	Family   string     `json:"family,omitempty"`
}

// VirtualServer is a virtual_server block (an IPVS service) with its real
// servers. Exactly one of Address, Fwmark or Group identifies it.
type VirtualServer struct {
	Pos Pos `json:"pos"`
	// Kind is "ip", "fwmark" or "group".
	Kind     string     `json:"kind"`
	Address  netip.Addr `json:"address,omitzero"`
	Port     uint16     `json:"port,omitempty"`
	Fwmark   uint32     `json:"fwmark,omitempty"`
	Group    string     `json:"group,omitempty"`
	IPFamily string     `json:"ip_family,omitempty"`
	// Protocol is TCP, UDP or SCTP.
	Protocol string `json:"protocol"`
	// LBAlgo is the IPVS scheduler (lb_algo / lvs_sched).
	LBAlgo string `json:"lb_algo"`
	// LBKind is NAT, DR or TUN (lb_kind / lvs_method).
	LBKind     string `json:"lb_kind"`
	TunnelType string `json:"tunnel_type,omitempty"`
	TunnelPort uint16 `json:"tunnel_port,omitempty"`
	TunnelCsum string `json:"tunnel_csum,omitempty"`
	// SchedFlags: flag-1..3, sh-port, sh-fallback, mh-port, mh-fallback.
	SchedFlags []string `json:"sched_flags,omitempty"`
	OPS        bool     `json:"ops,omitempty"`
	Hashed     bool     `json:"hashed,omitempty"`

	PersistenceTimeout     Duration `json:"persistence_timeout,omitempty"`
	PersistenceGranularity string   `json:"persistence_granularity,omitempty"`
	PersistenceEngine      string   `json:"persistence_engine,omitempty"`

	HASuspend          bool        `json:"ha_suspend,omitempty"`
	Alpha              bool        `json:"alpha,omitempty"`
	Omega              bool        `json:"omega,omitempty"`
	Quorum             int         `json:"quorum"`
	Hysteresis         int         `json:"hysteresis,omitempty"`
	QuorumUp           *Script     `json:"quorum_up,omitempty"`
	QuorumDown         *Script     `json:"quorum_down,omitempty"`
	SorryServer        *RealServer `json:"sorry_server,omitempty"`
	SorryServerInhibit bool        `json:"sorry_server_inhibit,omitempty"`
	InhibitOnFailure   bool        `json:"inhibit_on_failure,omitempty"`
	DelayLoop          Duration    `json:"delay_loop"`
	ConnectTimeout     *Duration   `json:"connect_timeout,omitempty"`
	Retry              *int        `json:"retry,omitempty"`
	DelayBeforeRetry   *Duration   `json:"delay_before_retry,omitempty"`
	Warmup             *Duration   `json:"warmup,omitempty"`
	Virtualhost        string      `json:"virtualhost,omitempty"`
	SMTPAlert          *bool       `json:"smtp_alert,omitempty"`
	SNMPName           string      `json:"snmp_name,omitempty"`

	RealServers []*RealServer `json:"real_servers,omitempty"`

	// Other keeps dialect keywords accepted for compatibility (none in 2.2.7).
	Other []Setting `json:"other,omitempty"`
}

// RealServer is a real_server block (or a sorry_server).
type RealServer struct {
	Pos              Pos        `json:"pos"`
	Address          netip.Addr `json:"address"`
	Port             uint16     `json:"port"`
	Weight           int        `json:"weight"`
	LVSMethod        string     `json:"lvs_method,omitempty"`
	UThreshold       int        `json:"uthreshold,omitempty"`
	LThreshold       int        `json:"lthreshold,omitempty"`
	NotifyUp         *Script    `json:"notify_up,omitempty"`
	NotifyDown       *Script    `json:"notify_down,omitempty"`
	InhibitOnFailure bool       `json:"inhibit_on_failure,omitempty"`
	Alpha            bool       `json:"alpha,omitempty"`
	DelayLoop        Duration   `json:"delay_loop"`
	ConnectTimeout   *Duration  `json:"connect_timeout,omitempty"`
	Retry            *int       `json:"retry,omitempty"`
	DelayBeforeRetry *Duration  `json:"delay_before_retry,omitempty"`
	Warmup           *Duration  `json:"warmup,omitempty"`
	Virtualhost      string     `json:"virtualhost,omitempty"`
	SMTPAlert        *bool      `json:"smtp_alert,omitempty"`
	SNMPName         string     `json:"snmp_name,omitempty"`
	Checkers         []*Checker `json:"checkers,omitempty"`
}

// Checker types, as spelled in the configuration.
const (
	CheckTCP  = "TCP_CHECK"
	CheckHTTP = "HTTP_GET"
	CheckSSL  = "SSL_GET"
	CheckMisc = "MISC_CHECK"
	CheckSMTP = "SMTP_CHECK"
	CheckDNS  = "DNS_CHECK"
	CheckUDP  = "UDP_CHECK"
	CheckPing = "PING_CHECK"
	CheckFile = "FILE_CHECK"
	CheckBFD  = "BFD_CHECK"
)

// Checker is one health checker of a real server. The common fields hold
// effective values: defaults and what the virtual and real server set have
// been inherited (VS -> RS -> checker). Exactly one of the type-specific
// pointers is set for HTTP/SSL, MISC, SMTP, DNS, UDP, FILE and BFD checkers.
type Checker struct {
	Pos  Pos    `json:"pos"`
	Type string `json:"type"`

	ConnectIP        netip.Addr `json:"connect_ip,omitzero"`
	ConnectPort      uint16     `json:"connect_port,omitempty"`
	BindTo           netip.Addr `json:"bindto,omitzero"`
	BindPort         uint16     `json:"bind_port,omitempty"`
	BindIf           string     `json:"bind_if,omitempty"`
	Fwmark           uint32     `json:"fwmark,omitempty"`
	ConnectTimeout   Duration   `json:"connect_timeout"`
	Retry            int        `json:"retry"`
	DelayBeforeRetry Duration   `json:"delay_before_retry"`
	Warmup           Duration   `json:"warmup"`
	DelayLoop        Duration   `json:"delay_loop"`
	Alpha            bool       `json:"alpha,omitempty"`
	LogAllFailures   bool       `json:"log_all_failures,omitempty"`
	// Rise is ours (keepalived has no such keyword): consecutive successes a DOWN checker needs
	// to come back UP; 0 when not set (keepalived's one success).
	Rise int `json:"rise,omitempty"`

	HTTP *HTTPCheck `json:"http,omitempty"`
	Misc *MiscCheck `json:"misc,omitempty"`
	SMTP *SMTPCheck `json:"smtp,omitempty"`
	DNS  *DNSCheck  `json:"dns,omitempty"`
	UDP  *UDPCheck  `json:"udp,omitempty"`
	File *FileCheck `json:"file,omitempty"`
	BFD  *BFDCheck  `json:"bfd,omitempty"`
}

// HTTPCheck holds HTTP_GET / SSL_GET specifics.
type HTTPCheck struct {
	Protocol     string `json:"http_protocol,omitempty"`
	FastRecovery bool   `json:"fast_recovery,omitempty"`
	Virtualhost  string `json:"virtualhost,omitempty"`
	EnableSNI    bool   `json:"enable_sni,omitempty"`
	SNIName      string `json:"sni_name,omitempty"`
	TLSCompliant bool   `json:"tls_compliant,omitempty"`
	URLs         []*URL `json:"urls"`
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// URL is a url block of HTTP_GET / SSL_GET.
type URL struct {
	Pos            Pos           `json:"pos"`
	Path           string        `json:"path"`
	Digest         string        `json:"digest,omitempty"`
	StatusCodes    []StatusRange `json:"status_code"`
	Virtualhost    string        `json:"virtualhost,omitempty"`
	Regex          string        `json:"regex,omitempty"`
	RegexNoMatch   bool          `json:"regex_no_match,omitempty"`
	RegexOptions   []string      `json:"regex_options,omitempty"`
	RegexMinOffset int           `json:"regex_min_offset,omitempty"`
	RegexMaxOffset int           `json:"regex_max_offset,omitempty"`
	RegexStack     int           `json:"regex_stack,omitempty"`
}

// MiscCheck holds MISC_CHECK specifics.
type MiscCheck struct {
	Path    *Script  `json:"misc_path"`
	Timeout Duration `json:"misc_timeout,omitempty"`
	Dynamic bool     `json:"misc_dynamic,omitempty"`
	User    string   `json:"user,omitempty"`
	Group   string   `json:"group,omitempty"`
}

// SMTPCheck holds SMTP_CHECK specifics; Hosts are extra host sub-blocks
// (each a checker of its own with connect_ip/port).
type SMTPCheck struct {
	HeloName string     `json:"helo_name,omitempty"`
	Hosts    []*Checker `json:"hosts,omitempty"`
}

// DNSCheck holds DNS_CHECK specifics.
type DNSCheck struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// UDPCheck holds UDP_CHECK specifics. RequireReply is hex with X wildcards.
type UDPCheck struct {
	Payload        string  `json:"payload,omitempty"`
	RequireReply   *string `json:"require_reply,omitempty"`
	MinReplyLength int     `json:"min_reply_length"`
	MaxReplyLength int     `json:"max_reply_length"`
}

// FileCheck holds FILE_CHECK specifics.
type FileCheck struct {
	TrackFile string `json:"track_file"`
	Dynamic   bool   `json:"dynamic,omitempty"`
	Weight    *int   `json:"weight,omitempty"`
	Reverse   bool   `json:"reverse,omitempty"`
}

// BFDCheck holds BFD_CHECK specifics.
type BFDCheck struct {
	Name string `json:"name"`
}
