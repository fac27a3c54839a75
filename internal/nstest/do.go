package nstest

import (
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// Do runs fn on the calling goroutine's OS thread switched into the namespace, for Go code
// (sockets, netlink) that must live there; the thread returns to its own namespace afterwards.
func (n *NS) Do(t testing.TB, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("open own netns: %v", err)
	}
	defer orig.Close()
	target, err := os.Open("/run/netns/" + n.Name)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("open netns %s: %v", n.Name, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("enter netns %s: %v", n.Name, err)
	}
	defer func() {
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: the runtime discards it when the goroutine ends.
			t.Errorf("return from netns %s: %v", n.Name, err)
			return
		}
		runtime.UnlockOSThread()
	}()
	fn()
}
