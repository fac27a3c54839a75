package check

import "time"

// CheckerState is what a checker remembers between runs.
type CheckerState struct {
	Up     bool
	HasRun bool
	// Failures counts consecutive failures while UP (keepalived's retry_it); Successes counts
	// consecutive successes while DOWN (for rise).
	Failures  int
	Successes int
	// WeightDelta is this checker's contribution to the real server's weight (misc_dynamic,
	// dynamic FILE_CHECK).
	WeightDelta int
}

// InitialState is a checker before its first run: DOWN with alpha, UP otherwise.
func InitialState(c Common) CheckerState {
	return CheckerState{Up: c.Alpha == nil || !*c.Alpha}
}

// Outcome is one probe's verdict as the FSM sees it.
type Outcome struct {
	OK bool
	// Weight, when set, is the dynamic weight delta this run asks for (exit code of a
	// misc_dynamic script minus 2 minus the configured weight, or a FILE_CHECK product).
	Weight *int

	// Pending marks a partial success that decides nothing yet: one url of an HTTP_GET that is
	// recovering without fast_recovery (keepalived checks one url per delay_loop then).
	Pending bool

	// reap, when set, waits for what the probe left running (a timed-out script being killed);
	// the scheduler calls it before planning the next run.
	reap func()
}

// Step applies one outcome with keepalived's rules and returns the new state and the delay
// before the next run:
//
//   - success: failures reset; a DOWN checker comes UP after Rise consecutive successes (1 in
//     keepalived); next run after delay_loop.
//   - failure while UP: retried `retry` times spaced by delay_before_retry; the (retry+1)th
//     consecutive failure takes it DOWN; next run after delay_loop.
//   - failure while DOWN: stays DOWN, next run after delay_loop.
func Step(c Common, st CheckerState, o Outcome) (CheckerState, time.Duration) {
	retry := 0
	if c.Retry != nil {
		retry = *c.Retry
	}
	rise := max(c.Rise, 1)
	dbr := c.DelayLoop
	if c.DelayBeforeRetry != nil {
		dbr = *c.DelayBeforeRetry
	}
	st.HasRun = true
	if o.Pending {
		return st, c.DelayLoop
	}
	if o.OK {
		if o.Weight != nil {
			st.WeightDelta = *o.Weight
		}
		st.Failures = 0
		if !st.Up {
			st.Successes++
			if st.Successes >= rise {
				st.Up, st.Successes = true, 0
			}
		}
		return st, c.DelayLoop
	}
	st.Successes = 0
	if !st.Up {
		return st, c.DelayLoop
	}
	if st.Failures < retry {
		st.Failures++
		return st, dbr
	}
	st.Up, st.Failures = false, 0
	return st, c.DelayLoop
}

// RSState aggregates a real server's checkers: it is alive iff every checker is UP, and its
// weight is the configured weight plus the checkers' dynamic deltas (never below 0).
type RSState struct {
	Alive  bool
	Weight int
}

// Aggregate computes a real server's state from its checkers.
func Aggregate(base int, checkers []CheckerState) RSState {
	s := RSState{Alive: true, Weight: base}
	for _, c := range checkers {
		if !c.Up {
			s.Alive = false
		}
		s.Weight += c.WeightDelta
	}
	s.Weight = max(s.Weight, 0)
	return s
}
