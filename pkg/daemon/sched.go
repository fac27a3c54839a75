package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xalived/xalived/pkg/config"
)

// vrrpScheduling is the process tuning for VRRP, from global_defs: vrrp_rt_priority (the
// realtime class for the daemon's threads, so that adverts and master-down decisions stay on
// time on a busy machine), vrrp_rlimit_rtime (how long a realtime thread may run without
// blocking), vrrp_priority (the process's nice value) and vrrp_no_swap (lock the daemon's
// memory).
//
// Unlike keepalived, whose VRRP process stays in the normal class unless vrrp_rt_priority
// says otherwise (and then flaps on a busy machine: its adverts leave late and its backups
// take over), xalived runs SCHED_RR at defaultRTPriority when nothing is configured and the
// process may (CAP_SYS_NICE); `vrrp_rt_priority 0` or --vrrp-rt-priority=0 keep it in the
// normal class, and a daemon started realtime as a whole (chrt) keeps what it was given.
//
// The class goes to every thread of the process, not only the router's: the router's thread
// also waits for the Go runtime (a stop-the-world of the garbage collector, a runtime lock, a
// processor to run on after a system call), which other threads hold, and a normal-class thread
// that busy work keeps off the CPU would hold it up for tens of milliseconds. The threads carry
// SCHED_RESET_ON_FORK, so that scripts (notify, vrrp_script, checkers) start in the normal class;
// threads the runtime starts later start there too and are promoted within promoteEvery (100 ms).
// RLIMIT_RTTIME is the safety net: a thread that runs longer without blocking gets SIGXCPU, and
// the daemon puts every thread back in the normal class for good (see rtProcess.demote).
type vrrpScheduling struct {
	// rtPriority: the SCHED_RR priority asked for (1..99); 0 with rtSet: the normal class;
	// without rtSet: defaultRTPriority, unless the process is realtime already.
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

// rtOutcome says what startRealtime did, for the log.
type rtOutcome struct {
	Class    string // "SCHED_RR 1", "normal", "inherited SCHED_RR 10"
	Default  bool   // the default, not configured
	Err      error  // why the class asked for could not be set (the daemon stays normal)
	RTTimeUS int64  // RLIMIT_RTTIME soft limit set (µs; 0: left as it was)
	Threads  int    // threads promoted
}

// rtProcess keeps the daemon's threads in SCHED_RR at prio.
type rtProcess struct {
	prio int
	on   atomic.Bool
	mu   sync.Mutex // one scan at a time
}

// promoteEvery is how often the threads are scanned for ones the Go runtime started since in
// the normal class (SCHED_RESET_ON_FORK).
const promoteEvery = 100 * time.Millisecond

// startRealtime gives the process's threads the realtime class the configuration asks for (or
// the default); nil if they keep their class.
func (s vrrpScheduling) startRealtime() (*rtProcess, rtOutcome) {
	out := rtOutcome{Default: !s.rtSet}
	prio := s.rtPriority
	if s.rtSet && prio == 0 {
		out.Class = "normal"
		return nil, out
	}
	if !s.rtSet {
		prio = defaultRTPriority
		if a, err := unix.SchedGetAttr(0, 0); err == nil && isRealtime(a.Policy) {
			out.Class = fmt.Sprintf("inherited policy %d priority %d", a.Policy, a.Priority)
			return nil, out
		}
	}
	p := &rtProcess{prio: prio}
	p.on.Store(true)
	n, err := p.promote()
	out.Threads = n
	if err != nil {
		_ = p.demote()
		out.Class, out.Err = "normal", fmt.Errorf("vrrp_rt_priority %d: %w", prio, err)
		return nil, out
	}
	out.Class = fmt.Sprintf("SCHED_RR %d", prio)
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
	return p, out
}

func isRealtime(policy uint32) bool {
	return policy == unix.SCHED_RR || policy == unix.SCHED_FIFO || policy == unix.SCHED_DEADLINE
}

// promote puts every thread of the process that is in a normal class in SCHED_RR (with
// SCHED_RESET_ON_FORK); it returns how many it changed.
func (p *rtProcess) promote() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.on.Load() {
		return 0, nil
	}
	n := 0
	// Again while it finds some: a thread may have started from one not yet promoted.
	for range 4 {
		changed := 0
		err := eachThread(func(tid int) error {
			a, err := unix.SchedGetAttr(tid, 0)
			if err != nil || isRealtime(a.Policy) {
				return nil // gone, or promoted already
			}
			if err := setRR(tid, p.prio); err != nil {
				return err
			}
			changed++
			return nil
		})
		n += changed
		if err != nil || changed == 0 {
			return n, err
		}
	}
	return n, nil
}

// promoteSelf gives the calling thread the class (the router's, once it locked its thread).
func (p *rtProcess) promoteSelf() error {
	if p == nil || !p.on.Load() {
		return nil
	}
	return setRR(0, p.prio)
}

func setRR(tid, prio int) error {
	attr := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_RR, Priority: uint32(prio),
		Flags: unix.SCHED_FLAG_RESET_ON_FORK}
	if err := unix.SchedSetAttr(tid, attr, 0); err != nil && err != unix.ESRCH {
		return err
	}
	return nil
}

// demote puts every thread back in the normal class and stops promote for good.
func (p *rtProcess) demote() error {
	p.on.Store(false)
	p.mu.Lock()
	defer p.mu.Unlock()
	return eachThread(func(tid int) error {
		attr := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL}
		if err := unix.SchedSetAttr(tid, attr, 0); err != nil && err != unix.ESRCH {
			return fmt.Errorf("thread %d back to the normal class: %w", tid, err)
		}
		return nil
	})
}

// eachThread calls fn with the id of every thread of the process.
func eachThread(fn func(tid int) error) error {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if err := fn(tid); err != nil {
			return err
		}
	}
	return nil
}

// watchRealtime keeps the daemon's threads realtime (threads the runtime starts later) and
// puts them back in the normal class when the process gets SIGXCPU (a realtime thread ran past
// RLIMIT_RTTIME without blocking), until teardown stops it. Nothing to do without rt.
func (e *realEngine) watchRealtime(ctx context.Context, rt *rtProcess, log *slog.Logger) {
	if rt == nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	e.rtStop = cancel
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGXCPU)
	e.rtWG.Add(1)
	go func() {
		defer e.rtWG.Done()
		defer signal.Stop(ch)
		t := time.NewTicker(promoteEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := rt.promote(); err != nil {
					log.Warn("vrrp realtime class for new threads", "err", err)
				}
			case <-ch:
				if !rt.on.Load() {
					continue
				}
				err := rt.demote()
				log.Error("a realtime thread of the daemon ran past RLIMIT_RTTIME without blocking; the daemon runs in the normal scheduling class from now on", "err", err)
			}
		}
	}()
}

// stopRealtime ends watchRealtime.
func (e *realEngine) stopRealtime() {
	if e.rtStop != nil {
		e.rtStop()
		e.rtWG.Wait()
	}
}
