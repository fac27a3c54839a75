package vrrp

import (
	"reflect"
	"testing"
)

func TestEffectivePriority(t *testing.T) {
	up := func(k TrackKind, w int) Track { return Track{Kind: k, Weight: w, Up: true} }
	down := func(k TrackKind, w int) Track { return Track{Kind: k, Weight: w} }
	for _, tc := range []struct {
		name      string
		base      uint8
		tracks    []Track
		sync      bool
		wantPrio  uint8
		wantFault bool
	}{
		{"no trackers", 100, nil, false, 100, false},
		{"positive weight while up", 100, []Track{up(TrackScript, 20)}, false, 120, false},
		{"positive weight down adds nothing", 100, []Track{down(TrackScript, 20)}, false, 100, false},
		{"negative weight while down", 100, []Track{down(TrackInterface, -30)}, false, 70, false},
		{"negative weight up subtracts nothing", 100, []Track{up(TrackInterface, -30)}, false, 100, false},
		{"weight 0 down faults", 100, []Track{down(TrackScript, 0)}, false, 100, true},
		{"weight 0 up is fine", 100, []Track{up(TrackProcess, 0)}, false, 100, false},
		{"reverse: a failing script adds", 100, []Track{{Kind: TrackScript, Weight: 10, Reverse: true}}, false, 110, false},
		{"reverse weight 0: success faults", 100, []Track{{Kind: TrackScript, Up: true, Reverse: true}}, false, 100, true},
		{"sum of several", 100, []Track{up(TrackScript, 20), down(TrackInterface, -50), up(TrackProcess, 5)}, false, 75, false},
		{"clamped to 254", 200, []Track{up(TrackScript, 100)}, false, 254, false},
		{"clamped to 1", 50, []Track{down(TrackScript, -253)}, false, 1, false},
		{"owner never modified", 255, []Track{down(TrackScript, -50)}, false, 255, false},
		{"owner still faults on weight 0", 255, []Track{down(TrackScript, 0)}, false, 255, true},
		{"file value times weight", 100, []Track{{Kind: TrackFile, Weight: 10, Value: 3}}, false, 130, false},
		{"file negative value", 100, []Track{{Kind: TrackFile, Weight: 10, Value: -2}}, false, 80, false},
		{"file reverse", 100, []Track{{Kind: TrackFile, Weight: 10, Value: 2, Reverse: true}}, false, 80, false},
		{"file below -253 faults", 100, []Track{{Kind: TrackFile, Weight: -100, Value: 3}}, false, 1, true},
		{"file weight 0 non-zero faults", 100, []Track{{Kind: TrackFile, Value: 1}}, false, 100, true},
		{"file weight 0 zero is fine", 100, []Track{{Kind: TrackFile}}, false, 100, false},
		{"sync group ignores weights: failure faults", 100, []Track{down(TrackScript, -30)}, true, 100, true},
		{"sync group ignores weights: success adds nothing", 100, []Track{up(TrackScript, 30)}, true, 100, false},
	} {
		p, f := EffectivePriority(tc.base, tc.tracks, tc.sync)
		if p != tc.wantPrio || f != tc.wantFault {
			t.Errorf("%s: got (%d, %v), want (%d, %v)", tc.name, p, f, tc.wantPrio, tc.wantFault)
		}
	}
}

func TestScriptRiseFall(t *testing.T) {
	type r struct {
		success bool
		ok      bool
		changed bool
	}
	for _, tc := range []struct {
		name       string
		initFail   bool
		rise, fall int
		runs       []r
	}{
		{"defaults 1/1", false, 1, 1, []r{{true, true, false}, {false, false, true}, {true, true, true}}},
		{"fall 3", false, 2, 3, []r{{false, true, false}, {false, true, false}, {true, true, false}, {false, true, false}, {false, true, false}, {false, false, true}}},
		{"rise 2", false, 2, 1, []r{{false, false, true}, {true, false, false}, {false, false, false}, {true, false, false}, {true, true, true}}},
		{"init_fail starts failed", true, 2, 1, []r{{true, false, false}, {true, true, true}}},
		{"zero counts as 1", false, 0, 0, []r{{false, false, true}, {true, true, true}}},
	} {
		s := NewScriptState(tc.initFail)
		for i, run := range tc.runs {
			var ch bool
			s, ch = s.Result(run.success, tc.rise, tc.fall)
			if s.OK != run.ok || ch != run.changed {
				t.Fatalf("%s: run %d (%v): ok=%v changed=%v, want %v %v", tc.name, i, run.success, s.OK, ch, run.ok, run.changed)
			}
		}
	}
}

func TestSyncDecide(t *testing.T) {
	B, M, F := StateBackup, StateMaster, StateFault
	for _, tc := range []struct {
		name    string
		ms      []SyncMember
		changed int
		prev    State
		want    []SyncOrder
	}{
		{"one member faults: all others FAULT", []SyncMember{{State: F, Faulty: true}, {State: M}, {State: B}}, 0, M,
			[]SyncOrder{{1, EvSyncFault}, {2, EvSyncFault}}},
		{"fault gone: group-held members leave FAULT", []SyncMember{{State: B}, {State: F, GroupFault: true}}, 0, F,
			[]SyncOrder{{1, EvSyncUnfault}}},
		{"still one own fault: nobody leaves", []SyncMember{{State: F, Faulty: true}, {State: F, GroupFault: true}}, 1, F, nil},
		{"one goes BACKUP: all BACKUP", []SyncMember{{State: B}, {State: M}, {State: M}}, 0, M,
			[]SyncOrder{{1, EvSyncBackup}, {2, EvSyncBackup}}},
		{"MASTER only when all want it: not yet", []SyncMember{{State: B, WantMaster: true}, {State: B}}, 0, B, nil},
		{"MASTER when all want it", []SyncMember{{State: B, WantMaster: true}, {State: B, WantMaster: true}}, 1, B,
			[]SyncOrder{{0, EvSyncMaster}, {1, EvSyncMaster}}},
		{"joining members that are already MASTER", []SyncMember{{State: M}, {State: B, WantMaster: true}}, 1, B,
			[]SyncOrder{{1, EvSyncMaster}}},
		{"all master: nothing to do", []SyncMember{{State: M}, {State: M}}, -1, M, nil},
	} {
		got := SyncDecide(tc.ms, tc.changed, tc.prev)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSyncGroupMovesTogether drives two member machines through SyncDecide until quiet.
func TestSyncGroupMovesTogether(t *testing.T) {
	cfg := DefaultConfig(2)
	cfg.InSyncGroup = true
	ms := []Machine{NewMachine(&cfg, fLocal, 100), NewMachine(&cfg, fLocal, 100)}
	settle := func(changed int, prev State) {
		for range 10 {
			var views []SyncMember
			for i := range ms {
				views = append(views, SyncMemberOf(&ms[i]))
			}
			orders := SyncDecide(views, changed, prev)
			if len(orders) == 0 {
				return
			}
			changed = -1
			for _, o := range orders {
				p := ms[o.Member].State
				ms[o.Member], _ = Step(ms[o.Member], Event{Kind: o.Kind}, t0)
				if p != ms[o.Member].State {
					changed, prev = o.Member, p
				}
			}
		}
		t.Fatal("sync group does not settle")
	}
	for i := range ms {
		ms[i], _ = Step(ms[i], Event{Kind: EvStartup}, t0)
	}
	ms[0], _ = Step(ms[0], Event{Kind: EvTimer, Timer: TimerMasterDown}, at(4*time1))
	settle(0, StateBackup)
	if ms[0].State != StateBackup {
		t.Fatal("member 0 went MASTER alone")
	}
	ms[1], _ = Step(ms[1], Event{Kind: EvTimer, Timer: TimerMasterDown}, at(4*time1))
	settle(1, StateBackup)
	if ms[0].State != StateMaster || ms[1].State != StateMaster {
		t.Fatalf("states %v %v, want both MASTER", ms[0].State, ms[1].State)
	}
	ms[1], _ = Step(ms[1], Event{Kind: EvFault}, at(5*time1))
	settle(1, StateMaster)
	if ms[0].State != StateFault || !ms[0].GroupFault {
		t.Fatalf("member 0 %v, want FAULT held by the group", ms[0].State)
	}
	ms[1], _ = Step(ms[1], Event{Kind: EvUnfault}, at(6*time1))
	settle(1, StateFault)
	if ms[0].State != StateBackup || ms[1].State != StateBackup {
		t.Fatalf("states %v %v, want both BACKUP after the fault cleared", ms[0].State, ms[1].State)
	}
}

const time1 = 1e9
