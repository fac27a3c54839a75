package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xalived/xalived/pkg/config"
)

// vrrpScheduling is the process tuning for VRRP, from global_defs: vrrp_rt_priority (the
// realtime class for the thread that runs every instance's timers and sends the adverts),
// vrrp_rlimit_rtime (how long that thread may run without blocking), vrrp_priority (the
// process's nice value) and vrrp_no_swap (lock the daemon's memory).
//
// Unlike keepalived, whose VRRP process stays in the normal class unless vrrp_rt_priority
// says otherwise (and then flaps on a busy machine: its adverts leave late and its backups
// take over), the router's thread runs SCHED_RR at defaultRTPriority when nothing is
// configured and the process may (CAP_SYS_NICE); `vrrp_rt_priority 0` or xalived
// --vrrp-rt-priority=0 keep it in the normal class. The realtime class goes to that one
// locked thread only, which blocks after every wake-up (a few microseconds of work per
// advert); RLIMIT_RTTIME is the safety net: a thread that runs longer without blocking gets
// SIGXCPU, and the daemon puts the router's thread back in the normal class (see demote).
type vrrpScheduling struct {
	// rtPriority: the SCHED_RR priority asked for (1..99); 0 with rtSet: the normal class;
	// 0 without rtSet: defaultRTPriority, unless the thread is realtime already.
	rtPriority int
	rtSet      bool
	rtTime     time.Duration // vrrp_rlimit_rtime; 0: defaultRTTime
	nice       *int          // nil: unchanged
	noSwap     bool
}

// defaultRTPriority is the router thread's SCHED_RR priority unless configured: the lowest
// realtime priority, above every normal-class task and below any realtime work an
// administrator set up.
const defaultRTPriority = 1

// defaultRTTime is the router thread's RLIMIT_RTTIME unless vrrp_rlimit_rtime says otherwise:
// far beyond what one wake-up takes (255 instances at 10 ms cost well under a millisecond per
// wake-up), far short of what would starve the machine.
const defaultRTTime = 200 * time.Millisecond

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
			if err != nil || n < 0 || n > 99 {
				return s, fmt.Errorf("%s:%d: vrrp_rt_priority %q: want 1..99 (0: the normal class)", o.Pos.File, o.Pos.Line, arg)
			}
			s.rtPriority, s.rtSet = n, true
		case "vrrp_rlimit_rtime", "vrrp_rlimit_rttime":
			n, err := strconv.Atoi(arg)
			if err != nil || n < 1000 {
				return s, fmt.Errorf("%s:%d: %s %q: want microseconds, at least 1000", o.Pos.File, o.Pos.Line, o.Keyword, arg)
			}
			s.rtTime = time.Duration(n) * time.Microsecond
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

// override applies the command line's --vrrp-rt-priority (negative: not given).
func (s vrrpScheduling) override(prio int) vrrpScheduling {
	if prio >= 0 {
		s.rtPriority, s.rtSet = prio, true
	}
	return s
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

// rtThread is what threadSetup did to the router's thread, for the SIGXCPU handler.
type rtThread struct {
	tid atomic.Int64 // the router thread made realtime by threadSetup; 0: none
}

// threadOutcome says what threadSetup did, for the log.
type threadOutcome struct {
	Class    string // "SCHED_RR 1", "normal", "inherited SCHED_RR 10"
	Default  bool   // the default, not configured
	Err      error  // why the class asked for could not be set (the thread stays normal)
	RTTimeUS int64  // RLIMIT_RTTIME soft limit set (µs; 0: left as it was)
}

// threadSetup returns what the router runs on its locked thread: SCHED_RR at the configured
// priority, or by default at defaultRTPriority when the thread is in the normal class (a
// daemon started realtime as a whole, e.g. under chrt, keeps its class). report receives
// the outcome; rt records the thread for demote. The returned function never fails: a daemon
// without CAP_SYS_NICE runs in the normal class.
func (s vrrpScheduling) threadSetup(rt *rtThread, report func(threadOutcome)) func() error {
	if s.rtSet && s.rtPriority == 0 {
		return func() error {
			report(threadOutcome{Class: "normal"})
			return nil
		}
	}
	return func() error {
		out := threadOutcome{Default: !s.rtSet}
		prio := s.rtPriority
		if !s.rtSet {
			prio = defaultRTPriority
			if a, err := unix.SchedGetAttr(0, 0); err == nil && (a.Policy == unix.SCHED_RR || a.Policy == unix.SCHED_FIFO || a.Policy == unix.SCHED_DEADLINE) {
				out.Class = fmt.Sprintf("inherited policy %d priority %d", a.Policy, a.Priority)
				report(out)
				return nil
			}
		}
		attr := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_RR, Priority: uint32(prio)}
		if err := unix.SchedSetAttr(0, attr, 0); err != nil {
			out.Class, out.Err = "normal", fmt.Errorf("vrrp_rt_priority %d: %w", prio, err)
			report(out)
			return nil
		}
		out.Class = fmt.Sprintf("SCHED_RR %d", prio)
		rt.tid.Store(int64(unix.Gettid()))
		limit := s.rtTime
		if limit == 0 {
			limit = defaultRTTime
		}
		var rl unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_RTTIME, &rl); err == nil && (rl.Cur == unix.RLIM_INFINITY || s.rtTime != 0) {
			us := uint64(limit.Microseconds())
			if rl.Max != unix.RLIM_INFINITY && us > rl.Max {
				us = rl.Max
			}
			if err := unix.Setrlimit(unix.RLIMIT_RTTIME, &unix.Rlimit{Cur: us, Max: rl.Max}); err == nil {
				out.RTTimeUS = int64(us)
			}
		}
		report(out)
		return nil
	}
}

// demote puts the router's thread back in the normal class (it ran past RLIMIT_RTTIME
// without blocking: SIGXCPU); false if threadSetup did not make it realtime.
func (rt *rtThread) demote() (bool, error) {
	tid := rt.tid.Swap(0)
	if tid == 0 {
		return false, nil
	}
	attr := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL}
	if err := unix.SchedSetAttr(int(tid), attr, 0); err != nil {
		return true, fmt.Errorf("router thread %d back to the normal class: %w", tid, err)
	}
	return true, nil
}

// watchRTTime demotes the router's thread when the process gets SIGXCPU (a realtime thread
// ran past RLIMIT_RTTIME without blocking), until teardown stops it.
func (e *realEngine) watchRTTime(ctx context.Context, log *slog.Logger) {
	ctx, cancel := context.WithCancel(ctx)
	e.rtStop = cancel
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGXCPU)
	e.rtWG.Add(1)
	go func() {
		defer e.rtWG.Done()
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				was, err := e.rt.demote()
				switch {
				case err != nil:
					log.Error("vrrp thread ran past RLIMIT_RTTIME without blocking", "err", err)
				case was:
					log.Error("vrrp thread ran past RLIMIT_RTTIME without blocking; it runs in the normal scheduling class from now on")
				default:
					log.Warn("SIGXCPU: a realtime thread of the daemon ran past RLIMIT_RTTIME without blocking")
				}
			}
		}
	}()
}

// stopRTTime ends watchRTTime.
func (e *realEngine) stopRTTime() {
	if e.rtStop != nil {
		e.rtStop()
		e.rtWG.Wait()
	}
}
