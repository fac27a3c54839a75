package nstest

import (
	"encoding/binary"
	"fmt"
	"io"
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

// ReadPcap returns the frames of a little-endian Ethernet pcap file, as tcpdump -w writes it.
func ReadPcap(r io.Reader) ([][]byte, error) {
	gh := make([]byte, 24)
	if _, err := io.ReadFull(r, gh); err != nil {
		return nil, fmt.Errorf("pcap header: %w", err)
	}
	if m := binary.LittleEndian.Uint32(gh); m != 0xa1b2c3d4 && m != 0xa1b23c4d { // µs or ns timestamps
		return nil, fmt.Errorf("pcap magic %x", gh[:4])
	}
	if lt := binary.LittleEndian.Uint32(gh[20:]); lt != 1 {
		return nil, fmt.Errorf("pcap link type %d, want ethernet", lt)
	}
	var frames [][]byte
	rh := make([]byte, 16)
	for {
		if _, err := io.ReadFull(r, rh); err == io.EOF {
			return frames, nil
		} else if err != nil {
			return frames, fmt.Errorf("pcap record: %w", err)
		}
		f := make([]byte, binary.LittleEndian.Uint32(rh[8:]))
		if _, err := io.ReadFull(r, f); err != nil {
			return frames, fmt.Errorf("pcap frame: %w", err)
		}
		frames = append(frames, f)
	}
}
