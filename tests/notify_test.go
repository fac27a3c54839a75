package tests

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/nstest"
)

// TestNotifyAndDumps: the generic notify script gets keepalived's four arguments, the notify
// FIFO gets keepalived's lines, in order, SIGUSR1/SIGUSR2 write the dumps named by
// state_dump_file / stats_dump_file, and SIGTERM reports STOP.
func TestNotifyAndDumps(t *testing.T) {
	l := NewLab(t, 1)
	n1 := l.Nodes[0]
	out := filepath.Join(n1.Dir, "notify.out")
	script := n1.writeFile(t, "notify.sh", "#!/bin/sh\necho \"$@\" >> "+out+"\n", 0o755)
	fifo := filepath.Join(n1.Dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(fifo, os.O_RDWR, 0) // read-write: never blocks, never sees EOF
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { f.Close(); <-done })
	fifoHas := func(want string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, l := range lines {
			if l == want {
				return true
			}
		}
		return false
	}
	data, stats := filepath.Join(n1.Dir, "x.data"), filepath.Join(n1.Dir, "x.stats")
	in := fastInst(150)
	in.Notify = script
	x := NewXalived(t, n1)
	x.Start(t, Conf{RouterID: "n1", NotifyFIFO: fifo, Insts: []Inst{in},
		Global: "  state_dump_file " + data + "\n  stats_dump_file " + stats + "\n"}.Render(n1, nil))
	WaitState(t, x, "VI_1", "MASTER", 3*time.Second)
	nstest.WaitFor(t, 3*time.Second, "FIFO line for MASTER", func() bool { return fifoHas(`INSTANCE "VI_1" MASTER 150`) })
	nstest.WaitFor(t, 3*time.Second, "notify script for MASTER", func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), "INSTANCE VI_1 MASTER 150")
	})
	_ = x.cmd.Process.Signal(syscall.SIGUSR1)
	_ = x.cmd.Process.Signal(syscall.SIGUSR2)
	nstest.WaitFor(t, 3*time.Second, "dump files", func() bool {
		b1, e1 := os.ReadFile(data)
		b2, e2 := os.ReadFile(stats)
		return e1 == nil && e2 == nil && strings.Contains(string(b1), "VRRP Instance = VI_1") &&
			strings.Contains(string(b1), "State = MASTER") && strings.Contains(string(b2), "Sent: ")
	})
	x.Term(t)
	nstest.WaitFor(t, 3*time.Second, "FIFO line for STOP", func() bool { return fifoHas(`INSTANCE "VI_1" STOP 150`) })
	mu.Lock()
	got := append([]string(nil), lines...)
	mu.Unlock()
	// Ordered: BACKUP (start) before MASTER before STOP.
	idx := func(s string) int {
		for i, l := range got {
			if strings.HasPrefix(l, s) {
				return i
			}
		}
		return -1
	}
	if !(idx(`INSTANCE "VI_1" BACKUP`) < idx(`INSTANCE "VI_1" MASTER`) && idx(`INSTANCE "VI_1" MASTER`) < idx(`INSTANCE "VI_1" STOP`)) {
		t.Errorf("FIFO lines out of order: %q", got)
	}
	if n1.HasAddr(vip4) {
		t.Error("VIP left after SIGTERM")
	}
}
