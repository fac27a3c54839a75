package daemon

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/xalived/xalived/internal/testenv"
	"github.com/xalived/xalived/pkg/config"
)

func globalsOf(t *testing.T, text string) *config.GlobalDefs {
	t.Helper()
	return &parse(t, "global_defs {\n"+text+"\n}\n").Global
}

func TestSchedulingFromConfig(t *testing.T) {
	s, err := schedulingFrom(globalsOf(t, "vrrp_rt_priority 40\nvrrp_priority -5\nvrrp_no_swap"))
	if err != nil || s.rtPriority != 40 || s.nice == nil || *s.nice != -5 || !s.noSwap {
		t.Fatalf("got %+v, %v", s, err)
	}
	if s, err := schedulingFrom(globalsOf(t, "")); err != nil || s.threadSetup() != nil || s.nice != nil {
		t.Fatalf("no tuning asked: %+v, %v", s, err)
	}
}

// TestRouterThreadRealtime: the setup the router runs on its locked thread puts that thread,
// and only it, in SCHED_RR at the configured priority.
func TestRouterThreadRealtime(t *testing.T) {
	testenv.RequireRoot(t)
	setup := vrrpScheduling{rtPriority: 7}.threadSetup()
	type res struct {
		attr *unix.SchedAttr
		err  error
	}
	ch := make(chan res)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := setup(); err != nil {
			ch <- res{err: err}
			return
		}
		a, err := unix.SchedGetAttr(0, 0)
		ch <- res{a, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.attr.Policy != unix.SCHED_RR || r.attr.Priority != 7 {
		t.Fatalf("router thread: policy %d priority %d, want SCHED_RR 7", r.attr.Policy, r.attr.Priority)
	}
	if a, err := unix.SchedGetAttr(unix.Gettid(), 0); err != nil || a.Policy == unix.SCHED_RR {
		t.Fatalf("another thread changed class too: %+v, %v", a, err)
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
