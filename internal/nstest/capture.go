package nstest

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/pcap"
	"github.com/xalived/xalived/internal/testenv"
)

// Capture runs tcpdump on ifname inside the namespace with a filter, writing a pcap file; stop
// ends it and returns the frames and the file (kept for tshark). It is stopped at cleanup too.
func (n *NS) Capture(t testing.TB, ifname, filter string) (stop func() (frames [][]byte, file string)) {
	t.Helper()
	testenv.RequireCommand(t, "tcpdump")
	file := filepath.Join(t.TempDir(), "cap.pcap")
	cmd := n.Cmd("tcpdump", "-i", ifname, "--immediate-mode", "-U", "-n", "-s", "2048", "-w", file, filter)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	done := make(chan error, 1)
	ready := make(chan string, 2)
	go func() {
		sc := bufio.NewScanner(stderr)
		var seen []string
		for sc.Scan() {
			seen = append(seen, sc.Text())
			if strings.Contains(sc.Text(), "listening on") {
				ready <- ""
			}
		}
		ready <- strings.Join(seen, "\n")
		done <- cmd.Wait()
	}()
	stopped := false
	halt := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	t.Cleanup(halt)
	select {
	case msg := <-ready:
		if msg != "" {
			t.Fatalf("tcpdump ended before listening: %s", msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tcpdump did not start listening")
	}
	return func() ([][]byte, string) {
		time.Sleep(100 * time.Millisecond) // let the last frames reach the file
		halt()
		f, err := os.Open(file)
		if err != nil {
			t.Fatalf("open capture: %v", err)
		}
		defer f.Close()
		frames, err := pcap.Read(f)
		if err != nil {
			t.Fatalf("read capture: %v", err)
		}
		return frames, file
	}
}
