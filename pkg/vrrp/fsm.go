package vrrp

import (
	"fmt"
	"net/netip"
	"time"
)

// State is the state of one VRRP instance.
type State uint8

// States. STOP is entered on shutdown and only reported, never left.
const (
	StateInit State = iota
	StateBackup
	StateMaster
	StateFault
	StateStop
)

var stateNames = [...]string{"INIT", "BACKUP", "MASTER", "FAULT", "STOP"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Timer names one of an instance's timers.
type Timer uint8

// Timers.
const (
	TimerMasterDown    Timer = iota // backup: the master is gone when it fires
	TimerAdvert                     // master: send the next advert
	TimerGARPDelay                  // master: second GARP/NA burst after becoming master
	TimerGARPRefresh                // master: periodic GARP/NA refresh
	TimerGARPLowerPrio              // master: second burst after hearing a lower priority
	NumTimers
)

var timerNames = [...]string{"master_down", "advert", "garp_delay", "garp_refresh", "garp_lower_prio"}

func (t Timer) String() string {
	if int(t) < len(timerNames) {
		return timerNames[t]
	}
	return fmt.Sprintf("Timer(%d)", uint8(t))
}

// Config is what the FSM needs of an instance's configuration. Zero values are not the
// keepalived defaults; start from DefaultConfig.
type Config struct {
	Version uint8
	// Priority is the configured (base) priority, 1..255.
	Priority uint8
	// Interval is advert_int.
	Interval time.Duration
	// InitialMaster is `state MASTER`.
	InitialMaster bool
	NoPreempt     bool
	PreemptDelay  time.Duration
	// DownTimerAdverts is down_timer_adverts (3).
	DownTimerAdverts int
	// LowerPrioNoAdvert suppresses the RFC 9568 re-advert when a master hears a lower priority.
	LowerPrioNoAdvert bool
	// HigherPrioSendAdvert: a master that loses sends one more advert before yielding.
	HigherPrioSendAdvert bool
	// InSyncGroup: the transition to MASTER waits for the group (see SyncDecide).
	InSyncGroup bool

	// GARP / unsolicited NA: bursts of GARPMasterRepeat on becoming master and again after
	// GARPMasterDelay (0: no second burst); every GARPMasterRefresh (0: never) a burst of
	// GARPMasterRefreshRepeat; on hearing a lower priority GARPLowerPrioRepeat now and again
	// after GARPLowerPrioDelay (repeat 0: none).
	GARPMasterRepeat        int
	GARPMasterDelay         time.Duration
	GARPMasterRefresh       time.Duration
	GARPMasterRefreshRepeat int
	GARPLowerPrioRepeat     int
	GARPLowerPrioDelay      time.Duration
}

// DefaultConfig returns keepalived's defaults for version v: priority 100, advert_int 1 s,
// preempt, 3 down-timer adverts, re-advert on lower priority, GARP 5 now + 5 after 5 s, and
// the same on hearing a lower priority (split-brain repair on by default).
func DefaultConfig(v uint8) Config {
	return Config{
		Version: v, Priority: PriorityDefault, Interval: time.Second, DownTimerAdverts: 3,
		GARPMasterRepeat: 5, GARPMasterDelay: 5 * time.Second, GARPMasterRefreshRepeat: 1,
		GARPLowerPrioRepeat: 5, GARPLowerPrioDelay: 5 * time.Second,
	}
}

// Machine is the protocol state of one instance. It is a value: Step returns the next one.
type Machine struct {
	Cfg *Config
	// Local is this router's primary address (the source of its adverts), used for the
	// equal-priority tie-break.
	Local netip.Addr

	State State
	// Priority is the effective priority (base plus tracker weights; 0 before Startup).
	Priority uint8
	// Faulty: own trackers / interfaces are in fault. GroupFault: the sync group is.
	Faulty, GroupFault bool
	// WantMaster: a sync-group member whose master-down timer expired, waiting for the group.
	WantMaster bool
	// MasterInterval is Master_Adver_Interval: learned from the master in v3.
	MasterInterval time.Duration
	// Master and MasterPriority describe the current master as last heard (or ourselves).
	Master         netip.Addr
	MasterPriority uint8
	// PreemptAt: before this instant a BACKUP accepts lower-priority masters (preempt_delay).
	// Zero: the delay has not started; it starts when a lower-priority master is first heard
	// and stops when an equal or higher one is.
	PreemptAt time.Time
	// DownAt is when the armed master-down timer fires (zero: not armed).
	DownAt time.Time
	// Transitions counts state changes.
	Transitions uint64
}

// NewMachine returns a machine in INIT for cfg with the given initial effective priority.
func NewMachine(cfg *Config, local netip.Addr, priority uint8) Machine {
	return Machine{Cfg: cfg, Local: local, State: StateInit, Priority: priority, MasterInterval: cfg.Interval}
}

// EventKind names an input of the FSM.
type EventKind uint8

// Events.
const (
	EvStartup     EventKind = iota
	EvAdvert                // a checked advert (Advert, Src)
	EvTimer                 // a timer fired (Timer, Due)
	EvPriority              // effective priority changed (Priority)
	EvFault                 // own trackers went into fault
	EvUnfault               // own trackers recovered
	EvShutdown              // the instance stops (daemon exit or removed by reload)
	EvSyncMaster            // the sync group lets a waiting member become MASTER
	EvSyncBackup            // another member left MASTER for BACKUP
	EvSyncFault             // another member is in FAULT
	EvSyncUnfault           // no member is in FAULT any more
)

var eventNames = [...]string{"startup", "advert", "timer", "priority", "fault", "unfault",
	"shutdown", "sync_master", "sync_backup", "sync_fault", "sync_unfault"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is one input of Step.
type Event struct {
	Kind     EventKind
	Advert   *Advert    // EvAdvert
	Src      netip.Addr // EvAdvert: IP source (the sender's primary address)
	Timer    Timer      // EvTimer
	Due      time.Time  // EvTimer: when it was due (keeps the advert cadence without drift)
	Priority uint8      // EvPriority
}

// ActionKind names an output of the FSM.
type ActionKind uint8

// Actions, executed by the caller in the order returned.
const (
	ActSendAdvert        ActionKind = iota // send one advert with Priority (0: "I stop being master")
	ActAddVIPs                             // add VIPs, eVIPs, routes and rules
	ActRemoveVIPs                          // remove them
	ActGARP                                // send Count gratuitous ARPs / unsolicited NAs per VIP
	ActArm                                 // (re)arm Timer to fire at At
	ActDisarm                              // stop Timer
	ActNotify                              // the instance entered State
	ActMasterRxLowerPrio                   // a master heard a lower priority (notify_master_rx_lower_pri)
)

var actionNames = [...]string{"send_advert", "add_vips", "remove_vips", "garp", "arm", "disarm", "notify", "master_rx_lower_pri"}

func (k ActionKind) String() string {
	if int(k) < len(actionNames) {
		return actionNames[k]
	}
	return fmt.Sprintf("ActionKind(%d)", uint8(k))
}

// Action is one output of Step.
type Action struct {
	Kind     ActionKind
	Priority uint8     // ActSendAdvert
	Count    int       // ActGARP
	Timer    Timer     // ActArm, ActDisarm
	At       time.Time // ActArm
	State    State     // ActNotify
}

func (a Action) String() string {
	switch a.Kind {
	case ActSendAdvert:
		return fmt.Sprintf("send_advert(%d)", a.Priority)
	case ActGARP:
		return fmt.Sprintf("garp(%d)", a.Count)
	case ActArm:
		return fmt.Sprintf("arm(%v@%s)", a.Timer, a.At.Format("15:04:05.000000"))
	case ActDisarm:
		return fmt.Sprintf("disarm(%v)", a.Timer)
	case ActNotify:
		return fmt.Sprintf("notify(%v)", a.State)
	}
	return a.Kind.String()
}

// Skew is Skew_Time for the effective priority: v2 (256-P)/256 s (RFC 3768); v3
// (256-P)*Master_Adver_Interval/256 (RFC 5798/9568), computed in nanoseconds.
func (m *Machine) Skew() time.Duration { return m.skewFor(m.Priority) }

func (m *Machine) skewFor(p uint8) time.Duration {
	if m.Cfg.Version == Version2 {
		return time.Duration(256-int(p)) * time.Second / 256
	}
	return time.Duration(256-int(p)) * m.MasterInterval / 256
}

// MasterDown is Master_Down_Interval = down_timer_adverts * Master_Adver_Interval + Skew.
func (m *Machine) MasterDown() time.Duration {
	n := m.Cfg.DownTimerAdverts
	if n <= 0 {
		n = 3
	}
	return time.Duration(n)*m.MasterInterval + m.Skew()
}

type actions []Action

func (as *actions) add(a Action)              { *as = append(*as, a) }
func (as *actions) send(p uint8)              { as.add(Action{Kind: ActSendAdvert, Priority: p}) }
func (as *actions) arm(t Timer, at time.Time) { as.add(Action{Kind: ActArm, Timer: t, At: at}) }
func (as *actions) disarm(ts ...Timer) {
	for _, t := range ts {
		as.add(Action{Kind: ActDisarm, Timer: t})
	}
}
func (as *actions) garp(n int) {
	if n > 0 {
		as.add(Action{Kind: ActGARP, Count: n})
	}
}
func (as *actions) notify(s State)    { as.add(Action{Kind: ActNotify, State: s}) }
func (as *actions) kind(k ActionKind) { as.add(Action{Kind: k}) }

var masterTimers = []Timer{TimerAdvert, TimerGARPDelay, TimerGARPRefresh, TimerGARPLowerPrio}

// Step feeds one event to the machine at time now and returns the next machine and the
// actions to execute, in order. It never blocks and never reads a clock.
func Step(m Machine, ev Event, now time.Time) (Machine, []Action) {
	return StepAppend(m, ev, now, nil)
}

// StepAppend is Step appending the actions to buf (from its length on), so that a caller
// stepping thousands of machines a second reuses one slice instead of allocating per step.
func StepAppend(m Machine, ev Event, now time.Time, buf []Action) (Machine, []Action) {
	as := actions(buf)
	if m.State == StateStop {
		return m, buf
	}
	switch ev.Kind {
	case EvStartup:
		if m.State == StateInit {
			m.start(&as, now, true)
		}
	case EvShutdown:
		if m.State == StateMaster {
			m.leaveMaster(&as)
		}
		as.disarm(TimerMasterDown)
		m.enter(&as, StateStop)
	case EvFault, EvSyncFault:
		if ev.Kind == EvFault {
			m.Faulty = true
		} else {
			m.GroupFault = true
		}
		switch m.State {
		case StateMaster:
			m.leaveMaster(&as)
			m.enter(&as, StateFault)
		case StateBackup, StateInit:
			as.disarm(TimerMasterDown)
			m.WantMaster = false
			m.enter(&as, StateFault)
		}
	case EvUnfault, EvSyncUnfault:
		if ev.Kind == EvUnfault {
			m.Faulty = false
		} else {
			m.GroupFault = false
		}
		if m.State == StateFault && !m.Faulty && !m.GroupFault {
			m.start(&as, now, false)
		}
	case EvPriority:
		m.setPriority(&as, ev.Priority, now)
	case EvAdvert:
		if ev.Advert != nil {
			m.advert(&as, ev.Advert, ev.Src, now)
		}
	case EvTimer:
		m.timer(&as, ev.Timer, ev.Due, now)
	case EvSyncMaster:
		if m.State == StateBackup && m.WantMaster {
			m.becomeMaster(&as, now)
		}
	case EvSyncBackup:
		switch m.State {
		case StateMaster:
			m.leaveMaster(&as)
			m.becomeBackup(&as, now, m.MasterDown())
		case StateBackup:
			m.WantMaster = false
		}
	}
	for _, a := range as {
		if a.Timer == TimerMasterDown && (a.Kind == ActArm || a.Kind == ActDisarm) {
			m.DownAt = a.At // zero for ActDisarm
		}
	}
	return m, []Action(as)
}

// start is vrrp_init_state: at startup (initial) or on leaving FAULT.
func (m *Machine) start(as *actions, now time.Time, initial bool) {
	if m.Faulty || m.GroupFault {
		m.enter(as, StateFault)
		return
	}
	m.MasterInterval = m.Cfg.Interval
	owner := m.Cfg.Priority == PriorityOwner
	switch {
	case owner && (m.Cfg.InitialMaster || !initial):
		m.becomeMaster(as, now)
	case initial && m.Cfg.InitialMaster:
		// Take over after one interval plus the owner's skew if nobody is heard.
		m.becomeBackup(as, now, m.MasterInterval+m.skewFor(PriorityOwner))
	default:
		m.becomeBackup(as, now, m.MasterDown())
	}
}

func (m *Machine) enter(as *actions, s State) {
	if m.State != s {
		m.Transitions++
	}
	m.State = s
	as.notify(s)
}

func (m *Machine) becomeBackup(as *actions, now time.Time, down time.Duration) {
	m.WantMaster = false
	m.PreemptAt = time.Time{}
	as.arm(TimerMasterDown, now.Add(down))
	m.enter(as, StateBackup)
}

func (m *Machine) becomeMaster(as *actions, now time.Time) {
	m.WantMaster = false
	m.MasterInterval = m.Cfg.Interval
	m.Master, m.MasterPriority = m.Local, m.Priority
	as.disarm(TimerMasterDown)
	as.send(m.Priority) // first, so the old master drops its VIPs before our GARPs
	as.kind(ActAddVIPs)
	as.garp(m.Cfg.GARPMasterRepeat)
	if m.Cfg.GARPMasterDelay > 0 && m.Cfg.GARPMasterRepeat > 0 {
		as.arm(TimerGARPDelay, now.Add(m.Cfg.GARPMasterDelay))
	}
	if m.Cfg.GARPMasterRefresh > 0 {
		as.arm(TimerGARPRefresh, now.Add(m.Cfg.GARPMasterRefresh))
	}
	as.arm(TimerAdvert, now.Add(m.Cfg.Interval))
	m.enter(as, StateMaster)
}

// leaveMaster: priority-0 advert, VIPs removed, master timers stopped.
func (m *Machine) leaveMaster(as *actions) {
	as.send(PriorityStop)
	as.kind(ActRemoveVIPs)
	as.disarm(masterTimers...)
}

// yield is MASTER → BACKUP on a better master (no priority-0 advert: that master is alive).
func (m *Machine) yield(as *actions, now time.Time) {
	as.kind(ActRemoveVIPs)
	as.disarm(masterTimers...)
	m.becomeBackup(as, now, m.MasterDown())
}

// setPriority: a master carries the new priority in its next advert (as keepalived does, no
// extra advert); a backup moves its running master-down timer by the change of the skew.
func (m *Machine) setPriority(as *actions, p uint8, now time.Time) {
	if p == m.Priority {
		return
	}
	oldDown := m.MasterDown()
	m.Priority = p
	switch m.State {
	case StateMaster:
		m.MasterPriority = p
	case StateBackup:
		if !m.DownAt.IsZero() {
			at := m.DownAt.Add(m.MasterDown() - oldDown)
			if at.Before(now) {
				at = now
			}
			as.arm(TimerMasterDown, at)
		}
	}
}

// preemptOK: a backup may ignore a lower-priority master.
func (m *Machine) preemptOK(now time.Time) bool {
	if m.Cfg.NoPreempt && m.Cfg.Priority != PriorityOwner && !m.Cfg.InitialMaster {
		return false
	}
	return !now.Before(m.PreemptAt)
}

func (m *Machine) advert(as *actions, a *Advert, src netip.Addr, now time.Time) {
	switch m.State {
	case StateBackup:
		if a.Priority == PriorityStop {
			as.arm(TimerMasterDown, now.Add(m.Skew()))
			return
		}
		if a.Priority < m.Priority {
			if m.Cfg.PreemptDelay > 0 && m.PreemptAt.IsZero() {
				m.PreemptAt = now.Add(m.Cfg.PreemptDelay) // first sight of a lower master
			}
			if m.preemptOK(now) {
				return // discard: the down timer runs out and we preempt
			}
		} else {
			m.PreemptAt = time.Time{}
		}
		if m.Cfg.Version == Version3 {
			m.MasterInterval = a.IntervalDuration()
		}
		m.Master, m.MasterPriority = src, a.Priority
		m.WantMaster = false
		as.arm(TimerMasterDown, now.Add(m.MasterDown()))
	case StateMaster:
		if a.Priority == PriorityStop {
			as.send(m.Priority)
			as.arm(TimerAdvert, now.Add(m.Cfg.Interval))
			return
		}
		cmp := int(a.Priority) - int(m.Priority)
		if cmp == 0 {
			cmp = src.Compare(m.Local)
		}
		switch {
		case cmp > 0:
			if m.Cfg.HigherPrioSendAdvert {
				as.send(m.Priority)
			}
			if m.Cfg.Version == Version3 {
				m.MasterInterval = a.IntervalDuration()
			}
			m.Master, m.MasterPriority = src, a.Priority
			m.yield(as, now)
		case cmp < 0:
			if !m.Cfg.LowerPrioNoAdvert {
				as.send(m.Priority)
				as.arm(TimerAdvert, now.Add(m.Cfg.Interval))
			}
			if m.Cfg.GARPLowerPrioRepeat > 0 {
				as.garp(m.Cfg.GARPLowerPrioRepeat)
				if m.Cfg.GARPLowerPrioDelay > 0 {
					as.arm(TimerGARPLowerPrio, now.Add(m.Cfg.GARPLowerPrioDelay))
				}
			}
			as.kind(ActMasterRxLowerPrio)
		}
		// Same priority and same address: our own advert looped back; nothing to do.
	}
}

func (m *Machine) timer(as *actions, t Timer, due, now time.Time) {
	if due.IsZero() {
		due = now
	}
	switch t {
	case TimerMasterDown:
		m.DownAt = time.Time{}
		if m.State != StateBackup {
			return
		}
		if m.Cfg.InSyncGroup {
			// The group decides (SyncDecide → EvSyncMaster); meanwhile the timer runs again,
			// as keepalived's vrrp_sync_can_goto_master re-arms it.
			m.WantMaster = true
			as.arm(TimerMasterDown, now.Add(m.MasterDown()))
			return
		}
		m.becomeMaster(as, now)
	case TimerAdvert:
		if m.State != StateMaster {
			return
		}
		as.send(m.Priority)
		next := due.Add(m.Cfg.Interval)
		if !next.After(now) && m.Cfg.Interval > 0 {
			// We ran late: skip the missed adverts (no burst) but stay on the grid, so
			// instances that share a tick keep sharing it.
			k := now.Sub(due)/m.Cfg.Interval + 1
			next = due.Add(k * m.Cfg.Interval)
		}
		as.arm(TimerAdvert, next)
	case TimerGARPDelay:
		if m.State == StateMaster {
			as.garp(m.Cfg.GARPMasterRepeat)
		}
	case TimerGARPRefresh:
		if m.State == StateMaster && m.Cfg.GARPMasterRefresh > 0 {
			as.garp(m.Cfg.GARPMasterRefreshRepeat)
			as.arm(TimerGARPRefresh, now.Add(m.Cfg.GARPMasterRefresh))
		}
	case TimerGARPLowerPrio:
		if m.State == StateMaster {
			as.garp(m.Cfg.GARPLowerPrioRepeat)
		}
	}
}
