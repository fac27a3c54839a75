package vrrp

// SyncMember is what the sync-group rules need of one member.
type SyncMember struct {
	State State
	// Faulty: the member's own trackers are in fault. GroupFault: it is in FAULT only
	// because of the group.
	Faulty, GroupFault bool
	WantMaster         bool
}

// SyncMemberOf extracts a SyncMember from a machine.
func SyncMemberOf(m *Machine) SyncMember {
	return SyncMember{State: m.State, Faulty: m.Faulty, GroupFault: m.GroupFault, WantMaster: m.WantMaster}
}

// SyncOrder tells the caller to feed Event{Kind: Kind} to member Member.
type SyncOrder struct {
	Member int
	Kind   EventKind
}

// SyncDecide applies keepalived's vrrp_sync_group rules after member changed moved from
// state prev to its current state (changed < 0: no single member moved, just re-evaluate):
//   - any member with its own fault: every other member goes FAULT (EvSyncFault); when no
//     member has one any more, members held in FAULT by the group leave it (EvSyncUnfault);
//   - a member that left MASTER for BACKUP takes every other MASTER along (EvSyncBackup);
//   - members whose master-down timer expired become MASTER only when every member is
//     MASTER or wants to be (EvSyncMaster).
//
// The caller steps the members with the orders and calls SyncDecide again until it returns
// nothing.
func SyncDecide(ms []SyncMember, changed int, prev State) []SyncOrder {
	var out []SyncOrder
	fault := false
	for _, m := range ms {
		if m.Faulty && m.State != StateStop {
			fault = true
		}
	}
	if fault {
		for i, m := range ms {
			if m.State != StateFault && m.State != StateStop {
				out = append(out, SyncOrder{i, EvSyncFault})
			}
		}
		return out
	}
	for i, m := range ms {
		if m.State == StateFault && m.GroupFault {
			out = append(out, SyncOrder{i, EvSyncUnfault})
		}
	}
	if len(out) > 0 {
		return out
	}
	if changed >= 0 && changed < len(ms) && prev == StateMaster && ms[changed].State == StateBackup {
		for i, m := range ms {
			if i != changed && m.State == StateMaster {
				out = append(out, SyncOrder{i, EvSyncBackup})
			}
		}
		return out
	}
	all, waiting := true, false
	for _, m := range ms {
		switch {
		case m.State == StateMaster:
		case m.State == StateBackup && m.WantMaster:
			waiting = true
		default:
			all = false
		}
	}
	if all && waiting {
		for i, m := range ms {
			if m.State == StateBackup && m.WantMaster {
				out = append(out, SyncOrder{i, EvSyncMaster})
			}
		}
	}
	return out
}
