package router

import "github.com/xalived/xalived/pkg/vrrp"

// Snapshot is the state of a router.
type Snapshot struct {
	Instances []InstanceStatus `json:"vrrp"`
	// Drops counts packets no instance could take (truncated, unknown_vrid) and
	// "queue_full" (Deliver batches dropped because the router was behind).
	Drops map[string]uint64 `json:"drops,omitempty"`
}

// InstanceStatus is one instance in a Snapshot. The JSON names follow DESIGN.md.
type InstanceStatus struct {
	Name              string   `json:"name"`
	State             string   `json:"state"`
	VRID              uint8    `json:"vrid"`
	Interface         string   `json:"interface"`
	Version           uint8    `json:"version"`
	Priority          uint8    `json:"priority"`
	EffectivePriority uint8    `json:"effective_priority"`
	MasterIP          string   `json:"master_ip"`
	VIPs              []string `json:"vips"`
	Transitions       uint64   `json:"transitions"`
	SyncGroup         string   `json:"sync_group,omitempty"`
	RxAdverts         uint64   `json:"rx_adverts"`
	TxAdverts         uint64   `json:"tx_adverts"`
	// Drops counts dropped packets per reason, Notes accepted ones with a finding
	// (vrrp.DropReason names; only non-zero entries).
	Drops map[string]uint64 `json:"drops,omitempty"`
	Notes map[string]uint64 `json:"notes,omitempty"`
}

func counters(c *[vrrp.NumReasons]uint64) map[string]uint64 {
	var m map[string]uint64
	for _, r := range vrrp.Reasons() {
		if c[r] != 0 {
			if m == nil {
				m = map[string]uint64{}
			}
			m[r.String()] = c[r]
		}
	}
	return m
}

func (r *Router) snapshot() Snapshot {
	s := Snapshot{Drops: counters(&r.drops)}
	if q := r.queueDrops.Load(); q != 0 {
		if s.Drops == nil {
			s.Drops = map[string]uint64{}
		}
		s.Drops["queue_full"] = q
	}
	for _, in := range r.insts {
		c := in.cfg
		st := InstanceStatus{
			Name: c.Name, State: in.m.State.String(), VRID: c.VRID, Interface: c.Interface,
			Version: c.Version, Priority: c.Priority, EffectivePriority: in.m.Priority,
			Transitions: in.m.Transitions, RxAdverts: in.rx, TxAdverts: in.tx,
			Drops: counters(&in.drops), Notes: counters(&in.notes), VIPs: []string{},
		}
		switch {
		case in.m.State == vrrp.StateMaster:
			st.MasterIP = c.Source.String()
		case in.m.State == vrrp.StateBackup && in.m.Master.IsValid():
			st.MasterIP = in.m.Master.String()
		}
		for _, v := range c.VIPs {
			st.VIPs = append(st.VIPs, v.String())
		}
		if in.group != nil {
			st.SyncGroup = in.group.cfg.Name
		}
		s.Instances = append(s.Instances, st)
	}
	return s
}
