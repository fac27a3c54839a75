package daemon

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xalived/xalived/internal/testenv"
	"github.com/xalived/xalived/pkg/config"
)

func globalsOf(t *testing.T, text string) *config.GlobalDefs {
	t.Helper()
	return &parse(t, "global_defs {\n"+text+"\n}\n").Global
}

func TestSchedulingFromConfig(t *testing.T) {
	s, err := schedulingFrom(globalsOf(t, "vrrp_rt_priority 40\nvrrp_priority -5\nvrrp_no_swap\nvrrp_rlimit_rtime 50000"))
	if err != nil || s.rtPriority != 40 || !s.rtSet || s.nice == nil || *s.nice != -5 || !s.noSwap || s.rtTime != 50*time.Millisecond {
		t.Fatalf("got %+v, %v", s, err)
	}
	if s, err := schedulingFrom(globalsOf(t, "")); err != nil || s.rtSet || s.nice != nil {
		t.Fatalf("no tuning asked: %+v, %v", s, err)
	}
	if s, err := schedulingFrom(globalsOf(t, "vrrp_rt_priority 0")); err != nil || !s.rtSet || s.rtPriority != 0 {
		t.Fatalf("vrrp_rt_priority 0: %+v, %v", s, err)
	}
	for _, bad := range []string{"vrrp_rt_priority 100", "vrrp_rt_priority x", "vrrp_rlimit_rtime 10"} {
		if _, err := schedulingFrom(globalsOf(t, bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	if s := (vrrpScheduling{rtPriority: 40, rtSet: true}).override(0); !s.rtSet || s.rtPriority != 0 {
		t.Errorf("--vrrp-rt-priority=0 did not turn it off: %+v", s)
	}
	if s := (vrrpScheduling{rtPriority: 40, rtSet: true}).override(-1); s.rtPriority != 40 {
		t.Errorf("no --vrrp-rt-priority changed the configured one: %+v", s)
	}
}

// onThread runs setup on a fresh locked thread in the class start (nil: as created), and
// returns that thread's class afterwards and what setup reported.
func onThread(t *testing.T, start *unix.SchedAttr, s vrrpScheduling, rt *rtThread) (*unix.SchedAttr, threadOutcome) {
	t.Helper()
	type res struct {
		attr *unix.SchedAttr
		out  threadOutcome
		err  error
	}
	ch := make(chan res)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if start != nil {
			if err := unix.SchedSetAttr(0, start, 0); err != nil {
				ch <- res{err: err}
				return
			}
		}
		var out threadOutcome
		if err := s.threadSetup(rt, func(o threadOutcome) { out = o })(); err != nil {
			ch <- res{err: err}
			return
		}
		a, err := unix.SchedGetAttr(0, 0)
		ch <- res{a, out, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.attr, r.out
}

// TestRouterThreadRealtime: the setup the router runs on its locked thread puts that thread,
// and only it, in SCHED_RR: at the configured priority, at defaultRTPriority when nothing is
// configured (with an RLIMIT_RTTIME), not at all with vrrp_rt_priority 0, and a daemon
// started realtime as a whole keeps its class by default.
func TestRouterThreadRealtime(t *testing.T) {
	testenv.RequireRoot(t)
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_RTTIME, &old); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Setrlimit(unix.RLIMIT_RTTIME, &old) })
	var rt rtThread
	if a, _ := onThread(t, nil, vrrpScheduling{rtPriority: 7, rtSet: true}, &rt); a.Policy != unix.SCHED_RR || a.Priority != 7 {
		t.Fatalf("configured: policy %d priority %d, want SCHED_RR 7", a.Policy, a.Priority)
	}
	if a, err := unix.SchedGetAttr(unix.Gettid(), 0); err != nil || a.Policy == unix.SCHED_RR {
		t.Fatalf("another thread changed class too: %+v, %v", a, err)
	}
	_ = unix.Setrlimit(unix.RLIMIT_RTTIME, &old)
	a, out := onThread(t, nil, vrrpScheduling{}, &rt)
	if a.Policy != unix.SCHED_RR || a.Priority != defaultRTPriority || !out.Default || out.Err != nil {
		t.Fatalf("default: policy %d priority %d (%+v), want SCHED_RR %d", a.Policy, a.Priority, out, defaultRTPriority)
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_RTTIME, &rl); err != nil || rl.Cur != uint64(defaultRTTime.Microseconds()) || out.RTTimeUS != defaultRTTime.Microseconds() {
		t.Fatalf("default: RLIMIT_RTTIME %+v (reported %d), want %v: %v", rl, out.RTTimeUS, defaultRTTime, err)
	}
	if a, out := onThread(t, nil, vrrpScheduling{rtSet: true}, &rt); a.Policy == unix.SCHED_RR || out.Class != "normal" {
		t.Fatalf("vrrp_rt_priority 0: policy %d (%+v), want the normal class", a.Policy, out)
	}
	rr10 := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_RR, Priority: 10}
	if a, _ := onThread(t, rr10, vrrpScheduling{}, &rt); a.Policy != unix.SCHED_RR || a.Priority != 10 {
		t.Fatalf("default under chrt -r 10: policy %d priority %d, want SCHED_RR 10 kept", a.Policy, a.Priority)
	}
}

// TestDemoteRouterThread: after SIGXCPU the daemon puts the thread that threadSetup made
// realtime back in the normal class.
func TestDemoteRouterThread(t *testing.T) {
	testenv.RequireRoot(t)
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_RTTIME, &old); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Setrlimit(unix.RLIMIT_RTTIME, &old) })
	var rt rtThread
	tidc, release := make(chan int), make(chan struct{})
	defer close(release)
	go func() {
		runtime.LockOSThread()
		_ = vrrpScheduling{rtPriority: 3, rtSet: true, rtTime: time.Second}.threadSetup(&rt, func(threadOutcome) {})()
		tidc <- unix.Gettid()
		<-release
	}()
	tid := <-tidc
	if was, err := rt.demote(); !was || err != nil {
		t.Fatalf("demote: %v, %v", was, err)
	}
	if a, err := unix.SchedGetAttr(tid, 0); err != nil || a.Policy != unix.SCHED_NORMAL {
		t.Fatalf("after demote: %+v, %v", a, err)
	}
	if was, _ := rt.demote(); was {
		t.Error("a second demote found a realtime thread")
	}
}

// TestVRRPPriorityNicesEveryThread runs in a child process (nice is per thread on Linux and
// cannot be lowered back without privileges we keep for other tests).
func TestVRRPPriorityNicesEveryThread(t *testing.T) {
	if os.Getenv("XALIVED_NICE_CHILD") == "1" {
		n := 6
		if err := (vrrpScheduling{nice: &n}).applyProcess(); err != nil {
			t.Fatal(err)
		}
		ents, _ := os.ReadDir("/proc/self/task")
		for _, e := range ents {
			tid, _ := strconv.Atoi(e.Name())
			p, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
			if err != nil {
				continue
			}
			if nice := 20 - p; nice != 6 { // the raw syscall returns 20 - nice
				t.Fatalf("thread %d nice %d, want 6", tid, nice)
			}
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestVRRPPriorityNicesEveryThread$", "-test.v")
	cmd.Env = append(os.Environ(), "XALIVED_NICE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
