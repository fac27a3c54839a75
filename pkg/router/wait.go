package router

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// waiter is how the router's goroutine sleeps until its next deadline or until work arrives:
// in its own OS thread (the one Run locked), in ppoll(2) on an eventfd with the deadline as
// timeout. A Go timer or channel would be noticed by whichever runtime thread happens to run
// the scheduler, which then hands the goroutine over to the locked thread: two wake-ups, the
// first by a thread of the normal scheduling class that a busy machine keeps waiting, however
// high the locked thread's own priority. Here the kernel wakes the locked thread itself, at
// its own priority and with its own timer slack.
type waiter struct {
	fd atomic.Int32 // the eventfd; -1 when closed (or not yet open)
	// sleeping: the router is in ppoll or about to be; a waker that clears it writes the
	// eventfd. Only one write per sleep.
	sleeping atomic.Bool
	// writers counts wakers between their claim and their write: close waits for them, so
	// that none writes to a descriptor number closed meanwhile (and maybe reused).
	writers atomic.Int32
	buf     [8]byte
	fds     [1]unix.PollFd
	// vcsw, ivcsw: the thread's voluntary and involuntary context switches during the last
	// sleep (getrusage before and after): more than one voluntary switch means the thread
	// slept again after the kernel woke it (the Go runtime parked it, waiting for a P).
	vcsw, ivcsw int64
	after       unix.Rusage // the thread's usage when it woke
}

func newWaiter() *waiter {
	w := &waiter{}
	w.fd.Store(-1)
	return w
}

func (w *waiter) open() error {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("router: eventfd: %w", err)
	}
	w.fd.Store(int32(fd))
	return nil
}

func (w *waiter) close() {
	fd := w.fd.Swap(-1)
	for w.writers.Load() > 0 {
		time.Sleep(10 * time.Microsecond)
	}
	if fd >= 0 {
		_ = unix.Close(int(fd))
	}
}

// wake makes a sleeping (or falling asleep) router return from sleep. Any goroutine.
func (w *waiter) wake() {
	if !w.sleeping.CompareAndSwap(true, false) {
		return
	}
	w.writers.Add(1)
	defer w.writers.Add(-1)
	if fd := w.fd.Load(); fd >= 0 {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		_, _ = unix.Write(int(fd), one[:])
	}
}

// sleep waits until deadline (none if zero) or wake, unless pending (checked after the
// router announced it sleeps, so a wake between the check and ppoll is not lost) says there
// is work already. It returns when the thread woke.
func (w *waiter) sleep(deadline time.Time, pending func() bool) error {
	w.sleeping.Store(true)
	if pending() {
		w.sleeping.Store(false)
		return nil
	}
	fd := w.fd.Load()
	if fd < 0 {
		w.sleeping.Store(false)
		return errors.New("router: waiter closed")
	}
	var ts *unix.Timespec
	if !deadline.IsZero() {
		d := max(time.Until(deadline), 0)
		t := unix.NsecToTimespec(d.Nanoseconds())
		ts = &t
	}
	w.fds[0] = unix.PollFd{Fd: fd, Events: unix.POLLIN}
	var ru0 unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_THREAD, &ru0)
	_, err := unix.Ppoll(w.fds[:], ts, nil)
	_ = unix.Getrusage(unix.RUSAGE_THREAD, &w.after)
	w.vcsw, w.ivcsw = w.after.Nvcsw-ru0.Nvcsw, w.after.Nivcsw-ru0.Nivcsw
	w.sleeping.Store(false)
	if w.fds[0].Revents&unix.POLLIN != 0 {
		_, _ = unix.Read(int(fd), w.buf[:])
	}
	if err != nil && !errors.Is(err, unix.EINTR) {
		return fmt.Errorf("router: ppoll: %w", err)
	}
	return nil
}
