package control

// VRRP states as they appear in the status document.
const (
	StateInit   = "INIT"
	StateBackup = "BACKUP"
	StateMaster = "MASTER"
	StateFault  = "FAULT"
	StateStop   = "STOP"
)

// Dataplanes as they appear in the status document.
const (
	DataplaneXDP    = "xdp"
	DataplaneSocket = "socket"
)

// Status is the document returned by the status command. Field names are a contract.
type Status struct {
	// Name is the daemon's --name, empty for the default instance.
	Name string `json:"name,omitempty"`
	// PID of the daemon process.
	PID int `json:"pid,omitempty"`
	// ConfigFile is the configuration file the running state came from.
	ConfigFile string `json:"config_file,omitempty"`
	// VRRP lists every vrrp_instance, in configuration order.
	VRRP []Instance `json:"vrrp"`
	// SyncGroups lists every vrrp_sync_group.
	SyncGroups []SyncGroup `json:"sync_groups,omitempty"`
	// VirtualServers lists every virtual_server, whether or not the kernel has IPVS.
	VirtualServers []VirtualServer `json:"virtual_servers"`
	// IPVS reports whether the virtual servers are programmed into the kernel.
	IPVS bool `json:"ipvs"`
}

// Instance is the state of one vrrp_instance.
type Instance struct {
	Name              string   `json:"name"`
	State             string   `json:"state"`
	VRID              int      `json:"vrid"`
	Interface         string   `json:"interface"`
	Family            string   `json:"family,omitempty"` // "inet" or "inet6"
	Version           int      `json:"version,omitempty"`
	Priority          int      `json:"priority"`
	EffectivePriority int      `json:"effective_priority"`
	MasterIP          string   `json:"master_ip"`
	VIPs              []string `json:"vips"`
	Transitions       uint64   `json:"transitions"`
	Dataplane         string   `json:"dataplane"`
	// AdvertsRx and AdvertsTx count adverts received (valid) and sent.
	AdvertsRx uint64 `json:"adverts_rx"`
	AdvertsTx uint64 `json:"adverts_tx"`
	// Drops counts received packets dropped by reason (the receive checks' names).
	Drops map[string]uint64 `json:"drops"`
	// DropsTotal is the sum of Drops.
	DropsTotal uint64 `json:"drops_total"`
	// Fault explains a FAULT state (tracked interface down, script failing, ...).
	Fault string `json:"fault,omitempty"`
}

// SyncGroup is the state of one vrrp_sync_group.
type SyncGroup struct {
	Name    string   `json:"name"`
	State   string   `json:"state"`
	Members []string `json:"members"`
}

// VirtualServer is one virtual_server and its real servers.
type VirtualServer struct {
	Address     string       `json:"address,omitempty"`
	Port        int          `json:"port,omitempty"`
	FWMark      uint32       `json:"fwmark,omitempty"`
	Protocol    string       `json:"protocol"`
	Scheduler   string       `json:"scheduler,omitempty"`
	RealServers []RealServer `json:"real_servers"`
}

// RealServer is one real_server with its current health.
type RealServer struct {
	Address string `json:"address"`
	Port    int    `json:"port"`
	Weight  int    `json:"weight"`
	Healthy bool   `json:"healthy"`
}
