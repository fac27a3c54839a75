package daemon

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/testenv"
)

type collector struct {
	mu  sync.Mutex
	res []TrackerResult
}

func (c *collector) emit(r TrackerResult) { c.mu.Lock(); c.res = append(c.res, r); c.mu.Unlock() }
func (c *collector) last() (TrackerResult, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.res) == 0 {
		return TrackerResult{}, 0
	}
	return c.res[len(c.res)-1], len(c.res)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestScriptTrackerRiseFall(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "ok")
	script := filepath.Join(dir, "check.sh")
	_ = os.WriteFile(script, []byte("#!/bin/sh\ntest -e "+flag+"\n"), 0o755)
	_ = os.WriteFile(flag, nil, 0o644)
	c := &collector{}
	s := startTrackers(context.Background(), []tracker{&scriptTracker{name: "chk", argv: []string{script},
		interval: 10 * time.Millisecond, timeout: time.Second, rise: 2, fall: 3}}, c.emit)
	defer s.stop()
	waitFor(t, "initial OK", func() bool { r, n := c.last(); return n == 1 && r.OK })
	_ = os.Remove(flag)
	waitFor(t, "failure after fall", func() bool { r, _ := c.last(); return !r.OK })
	_ = os.WriteFile(flag, nil, 0o644)
	waitFor(t, "recovery after rise", func() bool { r, _ := c.last(); return r.OK })
	if _, n := c.last(); n != 3 {
		t.Fatalf("%d results, want 3 (initial, fail, recover): %+v", n, c.res)
	}
}

func TestScriptTrackerTimeout(t *testing.T) {
	st := &scriptTracker{name: "slow", argv: []string{"sleep", "5"}, interval: time.Second, timeout: 50 * time.Millisecond}
	start := time.Now()
	if st.once(context.Background()) {
		t.Fatal("a script killed by its timeout counted as success")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("timeout not enforced: %v", d)
	}
	if (&scriptTracker{argv: []string{"/nonexistent/x"}, timeout: time.Second}).once(context.Background()) {
		t.Fatal("missing script counted as success")
	}
}

func TestFileTracker(t *testing.T) {
	p := filepath.Join(t.TempDir(), "track")
	c := &collector{}
	s := startTrackers(context.Background(), []tracker{&fileTracker{name: "f", path: p, every: 5 * time.Millisecond}}, c.emit)
	defer s.stop()
	waitFor(t, "initial value 0", func() bool { r, n := c.last(); return n == 1 && r.OK && r.Value == 0 })
	_ = os.WriteFile(p, []byte("7\n"), 0o644)
	waitFor(t, "value 7", func() bool { r, _ := c.last(); return !r.OK && r.Value == 7 })
	_ = os.WriteFile(p, []byte("0\n"), 0o644)
	waitFor(t, "value 0", func() bool { r, _ := c.last(); return r.OK && r.Value == 0 })
}

// TestFileTrackerNotified gives the tracker an hour-long timer: only inotify can report the change.
func TestFileTrackerNotified(t *testing.T) {
	p := filepath.Join(t.TempDir(), "track")
	c := &collector{}
	s := startTrackers(context.Background(), []tracker{&fileTracker{name: "f", path: p, every: time.Hour}}, c.emit)
	defer s.stop()
	waitFor(t, "initial value 0", func() bool { r, n := c.last(); return n == 1 && r.OK && r.Value == 0 })
	tmp := p + ".tmp"
	_ = os.WriteFile(tmp, []byte("3\n"), 0o644)
	_ = os.Rename(tmp, p)
	waitFor(t, "value 3 after an atomic replace", func() bool { r, _ := c.last(); return !r.OK && r.Value == 3 })
}

// checkProcessTracker starts a tracker polling every `every` for `sleep arg`, then starts and
// kills such a process and waits for the tracker to see both.
func checkProcessTracker(t *testing.T, every time.Duration, arg string) {
	t.Helper()
	c := &collector{}
	pt := &processTracker{name: "p", process: "sleep", args: []string{arg}, quorum: 1,
		every: every, procRoot: "/proc", selfPID: os.Getpid()}
	s := startTrackers(context.Background(), []tracker{pt}, c.emit)
	defer s.stop()
	waitFor(t, "initially absent", func() bool { r, n := c.last(); return n == 1 && !r.OK })
	cmd := exec.Command("sleep", arg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "process seen", func() bool { r, _ := c.last(); return r.OK && r.Value == 1 })
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	waitFor(t, "process gone", func() bool { r, _ := c.last(); return !r.OK })
}

// TestProcessTrackerNotified gives the tracker an hour-long timer: only the proc connector can
// report the process starting and ending.
func TestProcessTrackerNotified(t *testing.T) {
	testenv.RequireRoot(t)
	checkProcessTracker(t, time.Hour, "27.1828")
}

func TestProcessTracker(t *testing.T) {
	checkProcessTracker(t, 5*time.Millisecond, "31.4159")
}
