package tests

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// schedClass is the scheduling the scale benchmark gives both daemons alike, from
// XALIVED_SCALE_SCHED: "" (the default: SCHED_OTHER, nice 0, as a distribution starts them),
// "nice=N" (SCHED_OTHER at nice N), or "rr=P" (SCHED_RR at priority P, what keepalived's
// vrrp_rt_priority does). Only for a machine that other work loads beyond the benchmark's own
// busy loops: it lets the comparison run there. The busy loops always run at the default.
type schedClass struct {
	policy uint32
	nice   int32
	prio   uint32
	name   string
}

func scaleSched(b *testing.B) schedClass {
	b.Helper()
	s := os.Getenv("XALIVED_SCALE_SCHED")
	if s == "" {
		return schedClass{policy: unix.SCHED_NORMAL, name: "default"}
	}
	k, v, _ := strings.Cut(s, "=")
	n, err := strconv.Atoi(v)
	switch {
	case err == nil && k == "nice" && n >= -20 && n <= 19:
		return schedClass{policy: unix.SCHED_NORMAL, nice: int32(n), name: s}
	case err == nil && k == "rr" && n >= 1 && n <= 99:
		return schedClass{policy: unix.SCHED_RR, prio: uint32(n), name: s}
	}
	b.Fatalf("XALIVED_SCALE_SCHED=%q: want nice=N (-20..19) or rr=P (1..99)", s)
	return schedClass{}
}

func (c schedClass) isDefault() bool { return c.policy == unix.SCHED_NORMAL && c.nice == 0 }

// setTask gives one thread (or single-threaded process) the class.
func (c schedClass) setTask(tid int) error {
	attr := unix.SchedAttr{Policy: c.policy, Nice: c.nice, Priority: c.prio}
	if err := unix.SchedSetAttr(tid, &attr, 0); err != nil {
		return fmt.Errorf("sched_setattr %d to %s: %w", tid, c.name, err)
	}
	return nil
}

// setSelf gives every thread of the test process the class; processes it starts inherit it
// from the thread that forks them.
func (c schedClass) setSelf() error {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if err := c.setTask(tid); err != nil && !errors.Is(err, unix.ESRCH) { // a thread that ended
			return err
		}
	}
	return nil
}

var defaultSched = schedClass{policy: unix.SCHED_NORMAL, name: "default"}

// withSched runs start (which starts daemons) with the test process in class c, then puts
// the test process back to the default; the daemons keep c.
func withSched(b *testing.B, c schedClass, start func()) {
	b.Helper()
	if c.isDefault() {
		start()
		return
	}
	if err := c.setSelf(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := defaultSched.setSelf(); err != nil {
			b.Errorf("restoring the test process's scheduling: %v", err)
		}
	}()
	start()
}
