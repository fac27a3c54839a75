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

// inChild runs the test named name again in a child process with XALIVED_SCHED_CHILD=mode
// (scheduling classes are per thread and inherited: the test process keeps its own).
func inChild(t *testing.T, name, mode string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.v")
	cmd.Env = append(os.Environ(), "XALIVED_SCHED_CHILD="+mode)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("child %s: %v\n%s", mode, err, out)
	}
}

// threadClasses returns the policy and priority of every thread of the process.
func threadClasses(t *testing.T) map[int][2]uint32 {
	t.Helper()
	m := map[int][2]uint32{}
	if err := eachThread(func(tid int) error {
		if a, err := unix.SchedGetAttr(tid, 0); err == nil {
			m[tid] = [2]uint32{a.Policy, a.Priority}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRealtimeThreads: by default every thread of the daemon runs SCHED_RR at
// defaultRTPriority with an RLIMIT_RTTIME, a process it starts runs in the normal class, and
// demote puts them all back; vrrp_rt_priority N sets N; 0 changes nothing; a process started
// realtime keeps its class.
func TestRealtimeThreads(t *testing.T) {
	testenv.RequireRoot(t)
	mode := os.Getenv("XALIVED_SCHED_CHILD")
	if mode == "" {
		for _, m := range []string{"default", "configured", "off", "inherited"} {
			inChild(t, "TestRealtimeThreads", m)
		}
		return
	}
	var s vrrpScheduling
	switch mode {
	case "configured":
		s = vrrpScheduling{rtPriority: 7, rtSet: true}
	case "off":
		s = vrrpScheduling{rtSet: true}
	case "inherited":
		rr10 := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_RR, Priority: 10}
		runtime.LockOSThread() // the test's goroutine keeps the thread it set
		if err := unix.SchedSetAttr(0, rr10, 0); err != nil {
			t.Fatal(err)
		}
	}
	rt, out := s.startRealtime()
	classes := threadClasses(t)
	switch mode {
	case "off", "inherited":
		if rt != nil || out.Err != nil {
			t.Fatalf("%s: %+v", mode, out)
		}
		for tid, c := range classes {
			if tid != unix.Gettid() && c[0] != unix.SCHED_NORMAL {
				t.Fatalf("%s: thread %d in class %v", mode, tid, c)
			}
		}
		return
	}
	want := uint32(defaultRTPriority)
	if mode == "configured" {
		want = 7
	}
	if rt == nil || out.Err != nil || out.Threads < 1 {
		t.Fatalf("%s: %+v", mode, out)
	}
	for tid, c := range classes {
		if c != [2]uint32{unix.SCHED_RR, want} {
			t.Fatalf("%s: thread %d in class %v, want SCHED_RR %d", mode, tid, c, want)
		}
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_RTTIME, &rl); err != nil || rl.Cur != uint64(defaultRTTime.Microseconds()) {
		t.Fatalf("RLIMIT_RTTIME %+v, want %v: %v", rl, defaultRTTime, err)
	}
	// A script the daemon starts does not inherit the class (SCHED_RESET_ON_FORK).
	pol, err := exec.Command("sh", "-c", "grep '^policy' /proc/$$/sched").Output()
	if f := strings.Fields(string(pol)); err != nil || len(f) != 3 || f[2] != "0" {
		t.Fatalf("a child process: %q, %v; want policy 0 (SCHED_OTHER)", pol, err)
	}
	// The router's thread, locked by its goroutine, promotes itself (it may be a new one).
	done := make(chan [2]uint32)
	go func() {
		runtime.LockOSThread()
		_ = unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL}, 0)
		_ = rt.promoteSelf()
		a, _ := unix.SchedGetAttr(0, 0)
		done <- [2]uint32{a.Policy, a.Priority}
	}()
	if c := <-done; c != [2]uint32{unix.SCHED_RR, want} {
		t.Fatalf("promoteSelf: %v", c)
	}
	if err := rt.demote(); err != nil {
		t.Fatal(err)
	}
	for tid, c := range threadClasses(t) {
		if c[0] != unix.SCHED_NORMAL {
			t.Fatalf("after demote: thread %d in class %v", tid, c)
		}
	}
	if n, err := rt.promote(); n != 0 || err != nil {
		t.Fatalf("promote after demote: %d, %v", n, err)
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
