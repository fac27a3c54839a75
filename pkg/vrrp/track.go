package vrrp

// TrackKind names what a tracker watches.
type TrackKind uint8

// Tracker kinds.
const (
	TrackInterface TrackKind = iota // up = link up (and usable)
	TrackScript                     // up = the vrrp_script state (ScriptState) is OK
	TrackFile                       // Value = the integer in the file
	TrackProcess                    // up = the process quorum is met
)

// Track is one tracker of an instance with its current result.
type Track struct {
	Kind TrackKind
	// Weight: 0 = a failure puts the instance in FAULT; > 0 = added while up; < 0 =
	// subtracted while down. For files: Value*Weight is added.
	Weight  int
	Reverse bool
	// Up is the result of an interface, script or process tracker.
	Up bool
	// Value is the result of a file tracker.
	Value int
}

// Contribution returns what one tracker adds to the priority and whether it faults the
// instance. inSync is true for sync-group members without sync_group_tracking_weight:
// there every weight counts as 0 (a failure faults the instance, and so the group).
func (t Track) Contribution(inSync bool) (delta int, fault bool) {
	w := t.Weight
	if inSync {
		w = 0
	}
	if t.Kind == TrackFile {
		if w == 0 {
			return 0, t.Value != 0 // a non-zero value is a failure
		}
		d := t.Value * w
		if t.Reverse {
			d = -d
		}
		return d, d < -253
	}
	up := t.Up != t.Reverse
	switch {
	case w == 0:
		return 0, !up
	case w > 0 && up:
		return w, false
	case w < 0 && !up:
		return w, false
	}
	return 0, false
}

// EffectivePriority is the base priority plus every tracker's contribution, clamped to
// [1, 254]; an owner (255) is never changed. fault is true when any tracker faults.
// syncNoWeights: the instance is in a sync group without sync_group_tracking_weight.
func EffectivePriority(base uint8, tracks []Track, syncNoWeights bool) (prio uint8, fault bool) {
	sum := int(base)
	for _, t := range tracks {
		d, f := t.Contribution(syncNoWeights)
		sum += d
		fault = fault || f
	}
	if base == PriorityOwner {
		return PriorityOwner, fault
	}
	return uint8(min(max(sum, 1), 254)), fault
}

// ScriptState is the rise/fall state of a vrrp_script.
type ScriptState struct {
	OK bool
	// run counts consecutive results against the current state.
	run int
}

// NewScriptState returns the state before the first result: OK unless init_fail.
func NewScriptState(initFail bool) ScriptState { return ScriptState{OK: !initFail} }

// Result records one run (success: exit 0 in time; a timeout is a failure) and returns the
// new state and whether OK changed. rise and fall below 1 count as 1.
func (s ScriptState) Result(success bool, rise, fall int) (ScriptState, bool) {
	if success == s.OK {
		s.run = 0
		return s, false
	}
	s.run++
	need := fall
	if success {
		need = rise
	}
	if s.run < max(need, 1) {
		return s, false
	}
	s.OK, s.run = success, 0
	return s, true
}
