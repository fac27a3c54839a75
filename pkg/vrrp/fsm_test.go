package vrrp

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var (
	t0     = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fLocal = netip.MustParseAddr("198.51.100.5")
	fLow   = netip.MustParseAddr("198.51.100.4") // numerically below fLocal
	fHigh  = netip.MustParseAddr("198.51.100.6")
)

// fmtActs renders actions with times relative to t0, e.g. "arm(master_down+3.609375s)".
func fmtActs(as []Action) string {
	var parts []string
	for _, a := range as {
		if a.Kind == ActArm {
			parts = append(parts, fmt.Sprintf("arm(%v+%v)", a.Timer, a.At.Sub(t0)))
			continue
		}
		parts = append(parts, a.String())
	}
	return strings.Join(parts, " ")
}

func at(d time.Duration) time.Time { return t0.Add(d) }

func adv(version uint8, prio uint8, interval uint16) *Advert {
	return &Advert{Version: version, Type: 1, VRID: 1, Priority: prio, Interval: interval}
}

// step is one row of a scenario: an event at an offset, and the expected state and actions.
type step struct {
	at    time.Duration
	ev    Event
	state State
	acts  string // "" = no actions; "*" = do not compare
}

type scenario struct {
	name  string
	cfg   func(c *Config)
	setup func(m *Machine) // before the first step
	steps []step
}

func mastered(prio uint8, at time.Duration, interval time.Duration) string {
	return fmt.Sprintf("disarm(master_down) send_advert(%d) add_vips garp(5) arm(garp_delay+%v) arm(advert+%v) notify(MASTER)",
		prio, at+5*time.Second, at+interval)
}

const leaveMaster = "disarm(advert) disarm(garp_delay) disarm(garp_refresh) disarm(garp_lower_prio)"

func runScenario(t *testing.T, sc scenario) {
	t.Helper()
	cfg := DefaultConfig(2)
	if sc.cfg != nil {
		sc.cfg(&cfg)
	}
	m := NewMachine(&cfg, fLocal, cfg.Priority)
	if sc.setup != nil {
		sc.setup(&m)
	}
	for i, s := range sc.steps {
		var as []Action
		m, as = Step(m, s.ev, at(s.at))
		if m.State != s.state {
			t.Fatalf("step %d (%v at %v): state %v, want %v; actions %s", i, s.ev.Kind, s.at, m.State, s.state, fmtActs(as))
		}
		if got := fmtActs(as); s.acts != "*" && got != s.acts {
			t.Fatalf("step %d (%v at %v):\n got  %s\n want %s", i, s.ev.Kind, s.at, got, s.acts)
		}
	}
}

func evAdvert(a *Advert, src netip.Addr) Event { return Event{Kind: EvAdvert, Advert: a, Src: src} }
func evTimer(t Timer, due time.Duration) Event {
	return Event{Kind: EvTimer, Timer: t, Due: at(due)}
}

func TestFSMScenarios(t *testing.T) {
	// v2, P=100: skew 156/256 s, master down 3.609375 s.
	const md100 = 3*time.Second + 609375*time.Microsecond
	const skew100 = 609375 * time.Microsecond
	startBackup := step{0, Event{Kind: EvStartup}, StateBackup, "arm(master_down+3.609375s) notify(BACKUP)"}
	becomeMaster := step{md100, evTimer(TimerMasterDown, md100), StateMaster, mastered(100, md100, time.Second)}
	scenarios := []scenario{
		{name: "RFC: startup as backup, master down timer expires, become master", steps: []step{
			startBackup, becomeMaster,
			{md100 + time.Second, evTimer(TimerAdvert, md100+time.Second), StateMaster, fmt.Sprintf("send_advert(100) arm(advert+%v)", md100+2*time.Second)},
			{md100 + 5*time.Second, evTimer(TimerGARPDelay, md100+5*time.Second), StateMaster, "garp(5)"},
		}},
		{name: "advert timer late: one advert, next on the grid, no burst", steps: []step{
			startBackup, becomeMaster,
			{md100 + 3500*time.Millisecond, evTimer(TimerAdvert, md100+time.Second), StateMaster, fmt.Sprintf("send_advert(100) arm(advert+%v)", md100+4*time.Second)},
			{md100 + 3*time.Second, evTimer(TimerAdvert, md100+2*time.Second), StateMaster, fmt.Sprintf("send_advert(100) arm(advert+%v)", md100+4*time.Second)},
		}},
		{name: "RFC: backup hears equal or higher priority, resets the down timer", steps: []step{
			startBackup,
			{time.Second, evAdvert(adv(2, 150, 1), fHigh), StateBackup, "arm(master_down+4.609375s)"},
			{2 * time.Second, evAdvert(adv(2, 100, 1), fLow), StateBackup, "arm(master_down+5.609375s)"},
		}},
		{name: "RFC: backup discards a lower priority with preempt (no reset, preempts at expiry)", steps: []step{
			startBackup,
			{time.Second, evAdvert(adv(2, 50, 1), fHigh), StateBackup, ""},
			{2 * time.Second, evAdvert(adv(2, 50, 1), fHigh), StateBackup, ""},
			becomeMaster,
		}},
		{name: "nopreempt: backup accepts a lower priority master", cfg: func(c *Config) { c.NoPreempt = true }, steps: []step{
			startBackup,
			{time.Second, evAdvert(adv(2, 50, 1), fHigh), StateBackup, "arm(master_down+4.609375s)"},
		}},
		{name: "nopreempt is void for state MASTER", cfg: func(c *Config) { c.NoPreempt, c.InitialMaster = true, true }, steps: []step{
			{0, Event{Kind: EvStartup}, StateBackup, "arm(master_down+1.00390625s) notify(BACKUP)"},
			{500 * time.Millisecond, evAdvert(adv(2, 50, 1), fHigh), StateBackup, ""},
		}},
		{name: "preempt_delay: lower master accepted until the delay since first sight passed", cfg: func(c *Config) { c.PreemptDelay = 10 * time.Second }, steps: []step{
			startBackup,
			{time.Second, evAdvert(adv(2, 50, 1), fHigh), StateBackup, "arm(master_down+4.609375s)"},
			{10 * time.Second, evAdvert(adv(2, 50, 1), fHigh), StateBackup, "arm(master_down+13.609375s)"},
			{11 * time.Second, evAdvert(adv(2, 50, 1), fHigh), StateBackup, ""},
			{13*time.Second + 609375*time.Microsecond, evTimer(TimerMasterDown, 0), StateMaster, "*"},
		}},
		{name: "preempt_delay restarts on first sight of a lower master", cfg: func(c *Config) { c.PreemptDelay = 10 * time.Second }, steps: []step{
			startBackup,
			{time.Second, evAdvert(adv(2, 150, 1), fHigh), StateBackup, "arm(master_down+4.609375s)"},
			{20 * time.Second, evAdvert(adv(2, 50, 1), fHigh), StateBackup, "arm(master_down+23.609375s)"},
			{29 * time.Second, evAdvert(adv(2, 50, 1), fHigh), StateBackup, "arm(master_down+32.609375s)"},
			{30 * time.Second, evAdvert(adv(2, 50, 1), fHigh), StateBackup, ""},
		}},
		{name: "RFC: backup hears priority 0, takes over after the skew", steps: []step{
			startBackup,
			{time.Second, evAdvert(adv(2, 150, 1), fHigh), StateBackup, "arm(master_down+4.609375s)"},
			{2 * time.Second, evAdvert(adv(2, 0, 1), fHigh), StateBackup, fmt.Sprintf("arm(master_down+%v)", 2*time.Second+skew100)},
			{2*time.Second + skew100, evTimer(TimerMasterDown, 0), StateMaster, "*"},
		}},
		{name: "equal priority: a backup accepts, no tie-break", steps: []step{
			startBackup,
			{time.Second, evAdvert(adv(2, 100, 1), fLow), StateBackup, "arm(master_down+4.609375s)"},
		}},
		{name: "RFC: master hears higher priority, becomes backup", steps: []step{
			startBackup, becomeMaster,
			{5 * time.Second, evAdvert(adv(2, 150, 1), fLow), StateBackup, "remove_vips " + leaveMaster + " arm(master_down+8.609375s) notify(BACKUP)"},
		}},
		{name: "higher_prio_send_advert: one advert, then yield", cfg: func(c *Config) { c.HigherPrioSendAdvert = true }, steps: []step{
			startBackup, becomeMaster,
			{5 * time.Second, evAdvert(adv(2, 150, 1), fLow), StateBackup, "send_advert(100) remove_vips " + leaveMaster + " arm(master_down+8.609375s) notify(BACKUP)"},
		}},
		{name: "RFC 9568: master hears lower priority, stays and re-adverts at once, re-GARPs", steps: []step{
			startBackup, becomeMaster,
			{5 * time.Second, evAdvert(adv(2, 50, 1), fHigh), StateMaster, "send_advert(100) arm(advert+6s) garp(5) arm(garp_lower_prio+10s) master_rx_lower_pri"},
			{10 * time.Second, evTimer(TimerGARPLowerPrio, 10*time.Second), StateMaster, "garp(5)"},
		}},
		{name: "lower_prio_no_advert", cfg: func(c *Config) { c.LowerPrioNoAdvert = true; c.GARPLowerPrioRepeat = 0 }, steps: []step{
			startBackup, becomeMaster,
			{5 * time.Second, evAdvert(adv(2, 50, 1), fHigh), StateMaster, "master_rx_lower_pri"},
		}},
		{name: "RFC: equal priority between two masters, greater address wins", steps: []step{
			startBackup, becomeMaster,
			{5 * time.Second, evAdvert(adv(2, 100, 1), fLow), StateMaster, "send_advert(100) arm(advert+6s) garp(5) arm(garp_lower_prio+10s) master_rx_lower_pri"},
			{6 * time.Second, evAdvert(adv(2, 100, 1), fHigh), StateBackup, "remove_vips " + leaveMaster + " arm(master_down+9.609375s) notify(BACKUP)"},
		}},
		{name: "own advert looped back is ignored", steps: []step{
			startBackup, becomeMaster,
			{5 * time.Second, evAdvert(adv(2, 100, 1), fLocal), StateMaster, ""},
		}},
		{name: "RFC: master hears priority 0, sends an advert at once", steps: []step{
			startBackup, becomeMaster,
			{5 * time.Second, evAdvert(adv(2, 0, 1), fHigh), StateMaster, "send_advert(100) arm(advert+6s)"},
		}},
		{name: "owner: startup as MASTER at once", cfg: func(c *Config) { c.Priority = 255; c.InitialMaster = true }, steps: []step{
			{0, Event{Kind: EvStartup}, StateMaster, mastered(255, 0, time.Second)},
		}},
		{name: "state MASTER with P<255 waits one interval plus the owner's skew", cfg: func(c *Config) { c.InitialMaster = true }, steps: []step{
			{0, Event{Kind: EvStartup}, StateBackup, "arm(master_down+1.00390625s) notify(BACKUP)"},
			{1003906250, evTimer(TimerMasterDown, 0), StateMaster, "*"},
		}},
		{name: "state MASTER with P<255 still defers to a live higher master", cfg: func(c *Config) { c.InitialMaster = true }, steps: []step{
			{0, Event{Kind: EvStartup}, StateBackup, "*"},
			{500 * time.Millisecond, evAdvert(adv(2, 150, 1), fHigh), StateBackup, "arm(master_down+4.109375s)"},
		}},
		{name: "down_timer_adverts", cfg: func(c *Config) { c.DownTimerAdverts = 5 }, steps: []step{
			{0, Event{Kind: EvStartup}, StateBackup, "arm(master_down+5.609375s) notify(BACKUP)"},
		}},
		{name: "startup with a fault goes FAULT", setup: func(m *Machine) { m.Faulty = true }, steps: []step{
			{0, Event{Kind: EvStartup}, StateFault, "notify(FAULT)"},
			{time.Second, evAdvert(adv(2, 150, 1), fHigh), StateFault, ""},
			{2 * time.Second, Event{Kind: EvUnfault}, StateBackup, "arm(master_down+5.609375s) notify(BACKUP)"},
		}},
		{name: "FAULT from MASTER sends priority 0 and releases the VIPs", steps: []step{
			startBackup, becomeMaster,
			{5 * time.Second, Event{Kind: EvFault}, StateFault, "send_advert(0) remove_vips " + leaveMaster + " notify(FAULT)"},
			{6 * time.Second, evTimer(TimerAdvert, 6*time.Second), StateFault, ""},
			{7 * time.Second, Event{Kind: EvUnfault}, StateBackup, "arm(master_down+10.609375s) notify(BACKUP)"},
		}},
		{name: "FAULT from BACKUP", steps: []step{
			startBackup,
			{time.Second, Event{Kind: EvFault}, StateFault, "disarm(master_down) notify(FAULT)"},
			{2 * time.Second, evTimer(TimerMasterDown, 0), StateFault, ""},
		}},
		{name: "owner leaving FAULT goes straight to MASTER", cfg: func(c *Config) { c.Priority = 255; c.InitialMaster = true }, steps: []step{
			{0, Event{Kind: EvStartup}, StateMaster, "*"},
			{time.Second, Event{Kind: EvFault}, StateFault, "*"},
			{2 * time.Second, Event{Kind: EvUnfault}, StateMaster, mastered(255, 2*time.Second, time.Second)},
		}},
		{name: "shutdown of a master: priority 0, VIPs removed, STOP", steps: []step{
			startBackup, becomeMaster,
			{5 * time.Second, Event{Kind: EvShutdown}, StateStop, "send_advert(0) remove_vips " + leaveMaster + " disarm(master_down) notify(STOP)"},
			{6 * time.Second, Event{Kind: EvStartup}, StateStop, ""},
		}},
		{name: "shutdown of a backup", steps: []step{
			startBackup,
			{time.Second, Event{Kind: EvShutdown}, StateStop, "disarm(master_down) notify(STOP)"},
		}},
		{name: "priority change on a master goes out with the next advert", steps: []step{
			startBackup, becomeMaster,
			{5 * time.Second, Event{Kind: EvPriority, Priority: 80}, StateMaster, ""},
			{6 * time.Second, evTimer(TimerAdvert, 6*time.Second), StateMaster, "send_advert(80) arm(advert+7s)"},
			{6 * time.Second, Event{Kind: EvPriority, Priority: 80}, StateMaster, ""},
		}},
		{name: "effective priority drives the skew; a running down timer moves with it", steps: []step{
			startBackup,
			// skew 156/256 s → 56/256 s: the timer armed for 3.609375 s moves to 3.21875 s
			{time.Second, Event{Kind: EvPriority, Priority: 200}, StateBackup, "arm(master_down+3.21875s)"},
			// 3 s + 56/256 s
			{2 * time.Second, evAdvert(adv(2, 250, 1), fHigh), StateBackup, "arm(master_down+5.21875s)"},
			{3 * time.Second, Event{Kind: EvPriority, Priority: 100}, StateBackup, "arm(master_down+5.609375s)"},
			{5*time.Second + 609375*time.Microsecond, evTimer(TimerMasterDown, 0), StateMaster, "*"},
			{6 * time.Second, Event{Kind: EvPriority, Priority: 90}, StateMaster, ""},
		}},
		{name: "priority change in FAULT only records it", setup: func(m *Machine) { m.Faulty = true }, steps: []step{
			{0, Event{Kind: EvStartup}, StateFault, "notify(FAULT)"},
			{time.Second, Event{Kind: EvPriority, Priority: 200}, StateFault, ""},
			{2 * time.Second, Event{Kind: EvUnfault}, StateBackup, "arm(master_down+5.21875s) notify(BACKUP)"},
		}},
		{name: "GARP refresh", cfg: func(c *Config) { c.GARPMasterRefresh = 60 * time.Second; c.GARPMasterRefreshRepeat = 2 }, steps: []step{
			{0, Event{Kind: EvStartup}, StateBackup, "*"},
			{md100, evTimer(TimerMasterDown, 0), StateMaster, "disarm(master_down) send_advert(100) add_vips garp(5) arm(garp_delay+8.609375s) arm(garp_refresh+1m3.609375s) arm(advert+4.609375s) notify(MASTER)"},
			{md100 + 60*time.Second, evTimer(TimerGARPRefresh, 0), StateMaster, "garp(2) arm(garp_refresh+2m3.609375s)"},
		}},
		{name: "stale timers in the wrong state do nothing", steps: []step{
			startBackup,
			{time.Second, evTimer(TimerAdvert, time.Second), StateBackup, ""},
			{time.Second, evTimer(TimerGARPDelay, time.Second), StateBackup, ""},
			{time.Second, evTimer(TimerGARPLowerPrio, time.Second), StateBackup, ""},
		}},
		{name: "sync group: expiry only wants MASTER; the group decides", cfg: func(c *Config) { c.InSyncGroup = true }, steps: []step{
			startBackup,
			{md100, evTimer(TimerMasterDown, 0), StateBackup, "arm(master_down+7.21875s)"},
			{md100, Event{Kind: EvSyncMaster}, StateMaster, mastered(100, md100, time.Second)},
			{10 * time.Second, Event{Kind: EvSyncBackup}, StateBackup, "send_advert(0) remove_vips " + leaveMaster + " arm(master_down+13.609375s) notify(BACKUP)"},
			{11 * time.Second, Event{Kind: EvSyncFault}, StateFault, "disarm(master_down) notify(FAULT)"},
			{12 * time.Second, Event{Kind: EvSyncUnfault}, StateBackup, "arm(master_down+15.609375s) notify(BACKUP)"},
		}},
		{name: "sync master without wanting it is ignored", cfg: func(c *Config) { c.InSyncGroup = true }, steps: []step{
			startBackup,
			{time.Second, Event{Kind: EvSyncMaster}, StateBackup, ""},
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { runScenario(t, sc) })
	}
}

func TestFSMVersion3(t *testing.T) {
	// v3, advert_int 100 ms, P=100: skew = 156*100ms/256 = 60.9375 ms.
	scenarios := []scenario{
		{name: "RFC 5798: master down and skew scale with the interval", cfg: func(c *Config) { c.Version = 3; c.Interval = 100 * time.Millisecond }, steps: []step{
			{0, Event{Kind: EvStartup}, StateBackup, "arm(master_down+360.9375ms) notify(BACKUP)"},
			{100 * time.Millisecond, evAdvert(adv(3, 150, 10), fHigh), StateBackup, "arm(master_down+460.9375ms)"},
			{200 * time.Millisecond, evAdvert(adv(3, 0, 10), fHigh), StateBackup, "arm(master_down+260.9375ms)"},
		}},
		{name: "RFC 5798: backup adopts the master's interval", cfg: func(c *Config) { c.Version = 3; c.Interval = 100 * time.Millisecond }, steps: []step{
			{0, Event{Kind: EvStartup}, StateBackup, "*"},
			// 3 s + 156 s/256 = 3.609375 s after 50 ms
			{50 * time.Millisecond, evAdvert(adv(3, 150, 100), fHigh), StateBackup, "arm(master_down+3.659375s)"},
			{4 * time.Second, evTimer(TimerMasterDown, 0), StateMaster, mastered(100, 4*time.Second, 100*time.Millisecond)},
		}},
		{name: "v3 master yields and adopts the winner's interval", cfg: func(c *Config) { c.Version = 3; c.Interval = 100 * time.Millisecond }, steps: []step{
			{0, Event{Kind: EvStartup}, StateBackup, "*"},
			{time.Second, evTimer(TimerMasterDown, 0), StateMaster, "*"},
			{2 * time.Second, evAdvert(adv(3, 200, 10*5), fHigh), StateBackup,
				// 3*500ms + 156*500ms/256 = 1.5s + 304.6875ms
				"remove_vips " + leaveMaster + " arm(master_down+3.8046875s) notify(BACKUP)"},
		}},
		{name: "v3 10 ms interval keeps a non-zero skew", cfg: func(c *Config) { c.Version = 3; c.Interval = 10 * time.Millisecond }, steps: []step{
			{0, Event{Kind: EvStartup}, StateBackup, "arm(master_down+36.09375ms) notify(BACKUP)"},
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { runScenario(t, sc) })
	}
}

func TestStateStrings(t *testing.T) {
	want := map[State]string{StateInit: "INIT", StateBackup: "BACKUP", StateMaster: "MASTER", StateFault: "FAULT", StateStop: "STOP"}
	for s, n := range want {
		if s.String() != n {
			t.Errorf("%d: %q", s, s.String())
		}
	}
	if State(9).String() != "State(9)" {
		t.Error("unknown state")
	}
}
