package router

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestWaiter: a sleep ends at its deadline, at a wake from another goroutine (also without a
// deadline), and not at all when work is pending already.
func TestWaiter(t *testing.T) {
	w := newWaiter()
	if err := w.open(); err != nil {
		t.Fatal(err)
	}
	defer w.close()
	none := func() bool { return false }

	// The deadline ends the sleep (a signal may end it earlier: sleep again, as Run does).
	deadline := time.Now().Add(20 * time.Millisecond)
	for time.Now().Before(deadline) {
		if err := w.sleep(deadline, none); err != nil {
			t.Fatal(err)
		}
	}

	// A signal may end a sleep early (EINTR; the router just sleeps again): the sleeper
	// loops, as Run does, until told to stop.
	var stop atomic.Bool
	woken := make(chan time.Duration)
	go func() {
		start := time.Now()
		for !stop.Load() {
			_ = w.sleep(time.Time{}, stop.Load)
		}
		woken <- time.Since(start)
	}()
	for !w.sleeping.Load() {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond) // in ppoll by now, most likely
	stop.Store(true)
	w.wake()
	select {
	case d := <-woken:
		if d < 10*time.Millisecond {
			t.Fatalf("a sleep without deadline ended after %v, before the wake", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("wake did not end a sleep without deadline")
	}

	start := time.Now()
	if err := w.sleep(time.Time{}, func() bool { return true }); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("slept %v with work pending", d)
	}
}

// TestMasterDownReport: OnMasterDown says when the timer was due, that the router's thread
// slept for that deadline, and when it fired.
func TestMasterDownReport(t *testing.T) {
	b := testInstance("B", 1, 100, "198.51.100.2")
	b.Interval = 10 * time.Millisecond
	got := make(chan MasterDownFired, 1)
	opts := Options{OnMasterDown: func(_ *InstanceConfig, f MasterDownFired) {
		select {
		case got <- f:
		default:
		}
	}}
	r, err := New(Config{Instances: []InstanceConfig{b}}, &countTransport{}, nopHost{}, nopHost{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	var f MasterDownFired
	select {
	case f = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no master-down in 10 s")
	}
	if f.Due.IsZero() || f.Fired.Before(f.Due) || f.Late() < 0 || f.Woke.After(f.Fired) {
		t.Errorf("report %+v: want due <= woke <= fired", f)
	}
	if !f.WokeFor.Equal(f.Due) || f.Switches < 1 {
		t.Errorf("report %+v: want the thread to have slept for the master-down deadline", f)
	}
}

// TestShutdownWakesIdleRouter: a router with nothing armed sleeps without a deadline; Shutdown
// and a cancelled context still end Run at once.
func TestShutdownWakesIdleRouter(t *testing.T) {
	for _, how := range []string{"shutdown", "cancel"} {
		r, err := New(Config{}, &countTransport{}, nopHost{}, nopHost{}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		if _, err := r.Status(ctx); err != nil { // running, and asleep soon after
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		if how == "shutdown" {
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := r.Shutdown(sctx); err != nil {
				t.Errorf("%s: %v", how, err)
			}
			scancel()
		} else {
			cancel()
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Run did not return", how)
		}
		cancel()
	}
}
