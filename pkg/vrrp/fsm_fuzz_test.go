package vrrp

import (
	"net/netip"
	"testing"
	"time"
)

// FuzzFSM drives a machine with arbitrary event sequences and checks the invariants the
// router relies on after every step:
//   - the VIPs are held exactly in MASTER;
//   - the advert timer is armed exactly in MASTER;
//   - the master-down timer is armed exactly in BACKUP (DownAt agrees);
//   - GARP timers run only in MASTER; STOP is final (and so has no timer at all);
//   - a priority-0 advert is sent only when leaving MASTER.
func FuzzFSM(f *testing.F) {
	f.Add([]byte{0, 2, 1, 3, 4, 2, 5, 6}, uint8(100), false, false)
	f.Add([]byte{0, 1, 1, 1, 9, 10, 7, 8, 2, 6}, uint8(255), true, true)
	f.Add([]byte{0, 2, 11, 2, 12, 13, 3}, uint8(1), false, true)
	f.Fuzz(func(t *testing.T, prog []byte, prio uint8, initialMaster, sync bool) {
		if prio == 0 {
			prio = 1
		}
		cfg := DefaultConfig(3)
		cfg.Priority, cfg.InitialMaster, cfg.InSyncGroup = prio, initialMaster, sync
		cfg.GARPMasterRefresh = 30 * time.Second
		cfg.PreemptDelay = 2 * time.Second
		m := NewMachine(&cfg, fLocal, prio)
		var timers [NumTimers]time.Time
		vips := false
		now := t0
		for i, op := range prog {
			now = now.Add(time.Duration(op%7) * 300 * time.Millisecond)
			var ev Event
			switch op % 14 {
			case 0:
				ev = Event{Kind: EvStartup}
			case 1, 2: // the earliest armed timer fires
				var tt Timer
				var at time.Time
				for k, a := range timers {
					if !a.IsZero() && (at.IsZero() || a.Before(at)) {
						tt, at = Timer(k), a
					}
				}
				if at.IsZero() {
					continue
				}
				if at.After(now) {
					now = at
				}
				timers[tt] = time.Time{}
				ev = Event{Kind: EvTimer, Timer: tt, Due: at}
			case 3:
				ev = evAdvert(adv(3, 0, 100), fHigh)
			case 4:
				ev = evAdvert(adv(3, 200, 100), fHigh)
			case 5:
				ev = evAdvert(adv(3, 50, 100), fLow)
			case 6:
				ev = evAdvert(adv(3, prio, 50), []netip.Addr{fLow, fHigh}[op/14%2])
			case 7:
				ev = Event{Kind: EvFault}
			case 8:
				ev = Event{Kind: EvUnfault}
			case 9:
				ev = Event{Kind: EvPriority, Priority: op}
			case 10:
				ev = Event{Kind: EvSyncMaster}
			case 11:
				ev = Event{Kind: EvSyncBackup}
			case 12:
				ev = Event{Kind: []EventKind{EvSyncFault, EvSyncUnfault}[op/14%2]}
			case 13:
				if i < len(prog)-1 {
					continue // shutdown only at the end
				}
				ev = Event{Kind: EvShutdown}
			}
			prev := m.State
			var as []Action
			m, as = Step(m, ev, now)
			for _, a := range as {
				switch a.Kind {
				case ActArm:
					if a.At.Before(now) {
						t.Fatalf("step %d %v: timer %v armed in the past", i, ev.Kind, a.Timer)
					}
					timers[a.Timer] = a.At
				case ActDisarm:
					timers[a.Timer] = time.Time{}
				case ActAddVIPs:
					if vips {
						t.Fatalf("step %d %v: VIPs added twice", i, ev.Kind)
					}
					vips = true
				case ActRemoveVIPs:
					vips = false
				case ActSendAdvert:
					if a.Priority == 0 && prev != StateMaster {
						t.Fatalf("step %d %v: priority 0 sent from %v", i, ev.Kind, prev)
					}
				}
			}
			isMaster := m.State == StateMaster
			if vips != isMaster {
				t.Fatalf("step %d %v: %v with VIPs=%v", i, ev.Kind, m.State, vips)
			}
			if !timers[TimerAdvert].IsZero() != isMaster {
				t.Fatalf("step %d %v: %v with advert timer %v", i, ev.Kind, m.State, timers[TimerAdvert])
			}
			if armed := !timers[TimerMasterDown].IsZero(); armed != (m.State == StateBackup) {
				t.Fatalf("step %d %v: %v with master-down armed=%v", i, ev.Kind, m.State, armed)
			}
			if !timers[TimerMasterDown].Equal(m.DownAt) {
				t.Fatalf("step %d %v: DownAt %v, timer %v", i, ev.Kind, m.DownAt, timers[TimerMasterDown])
			}
			if prev == StateStop && m.State != StateStop {
				t.Fatalf("step %d: left STOP", i)
			}
			if !isMaster {
				for _, k := range []Timer{TimerGARPDelay, TimerGARPRefresh, TimerGARPLowerPrio} {
					if !timers[k].IsZero() {
						t.Fatalf("step %d %v: %v armed in %v", i, ev.Kind, k, m.State)
					}
				}
			}
		}
	})
}
