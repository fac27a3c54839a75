package daemon

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/xalived/xalived/pkg/config"
)

// vrrpScheduling is keepalived's process tuning for VRRP, from global_defs:
// vrrp_rt_priority (SCHED_RR for the thread that runs every instance's timers, so adverts and
// master-down decisions stay on time on a busy machine), vrrp_priority (the process's nice
// value) and vrrp_no_swap (lock the daemon's memory). keepalived applies them to its single-
// threaded VRRP process; here the realtime class goes to the router's own locked thread only,
// and the kernel's realtime throttling still leaves the rest of the machine its share.
type vrrpScheduling struct {
	rtPriority int  // 0: none
	nice       *int // nil: unchanged
	noSwap     bool
}

func schedulingFrom(g *config.GlobalDefs) (vrrpScheduling, error) {
	var s vrrpScheduling
	for _, o := range g.Other {
		arg := ""
		if len(o.Args) > 0 {
			arg = o.Args[0]
		}
		switch o.Keyword {
		case "vrrp_rt_priority":
			n, err := strconv.Atoi(arg)
			if err != nil || n < 1 || n > 99 {
				return s, fmt.Errorf("%s:%d: vrrp_rt_priority %q: want 1..99", o.Pos.File, o.Pos.Line, arg)
			}
			s.rtPriority = n
		case "vrrp_priority":
			n, err := strconv.Atoi(arg)
			if err != nil || n < -20 || n > 19 {
				return s, fmt.Errorf("%s:%d: vrrp_priority %q: want -20..19", o.Pos.File, o.Pos.Line, arg)
			}
			s.nice = &n
		case "vrrp_no_swap":
			s.noSwap = true
		}
	}
	return s, nil
}

// applyProcess sets the nice value of every thread (Linux applies it per thread; threads
// made later inherit it) and locks memory.
func (s vrrpScheduling) applyProcess() error {
	if s.nice != nil {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("vrrp_priority: %w", err)
		}
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if err := unix.Setpriority(unix.PRIO_PROCESS, tid, *s.nice); err != nil && err != unix.ESRCH {
				return fmt.Errorf("vrrp_priority %d: %w", *s.nice, err)
			}
		}
	}
	if s.noSwap {
		if err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE); err != nil {
			return fmt.Errorf("vrrp_no_swap: %w", err)
		}
	}
	return nil
}

// threadSetup gives the calling (locked) thread SCHED_RR at rtPriority; nil when not asked for.
func (s vrrpScheduling) threadSetup() func() error {
	if s.rtPriority == 0 {
		return nil
	}
	prio := s.rtPriority
	return func() error {
		attr := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_RR, Priority: uint32(prio)}
		if err := unix.SchedSetAttr(0, attr, 0); err != nil {
			return fmt.Errorf("vrrp_rt_priority %d: %w", prio, err)
		}
		return nil
	}
}
