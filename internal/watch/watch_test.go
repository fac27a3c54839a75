package watch

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/internal/testenv"
)

func waitWake(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("no wake-up after %s", what)
	}
}

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
			return
		}
	}
}

func TestFileWakesOnEveryKindOfChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := File(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitWake(t, ch, "create+write")
	drain(ch)
	// An unrelated file in the same directory must not wake us.
	if err := os.WriteFile(filepath.Join(dir, "other"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
		t.Fatal("woken by a change to another file")
	case <-time.After(200 * time.Millisecond):
	}
	tmp := filepath.Join(dir, ".state.tmp")
	if err := os.WriteFile(tmp, []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	drain(ch)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitWake(t, ch, "atomic replace by rename")
	drain(ch)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitWake(t, ch, "remove")
	cancel()
	select {
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed after cancel")
	}
}

func TestProcsSeesExecAndExit(t *testing.T) {
	testenv.RequireRoot(t)
	if b, err := os.Readlink("/proc/self/ns/net"); err == nil {
		if init, err := os.Readlink("/proc/1/ns/net"); err == nil && b != init {
			testenv.Skip(t, "the proc connector reports only to the initial network namespace")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := Procs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	want := func(k ProcKind) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case ev := <-ch:
				if ev.PID == pid && ev.Kind == k {
					return
				}
			case <-deadline:
				t.Fatalf("no event %d for pid %d", k, pid)
			}
		}
	}
	want(ProcExec)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	want(ProcExit)
}

// TestProcsRefusesOtherNetns: in a network namespace of its own the connector is silent, so
// Procs must say so instead of returning a channel that never delivers.
func TestProcsRefusesOtherNetns(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "ip")
	ns := nstest.New(t, "xa-watch")
	ns.Do(t, func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if _, err := Procs(ctx); err == nil {
			t.Error("Procs succeeded in a non-initial network namespace")
		} else {
			t.Log(err)
		}
	})
}

func TestParseProcEventsIgnoresThreadsAndTruncation(t *testing.T) {
	msg := func(what, a, b, c, d uint32) []byte {
		m := make([]byte, 16+cnMsgLen+16+16)
		ne := binary.NativeEndian
		ne.PutUint32(m[0:], uint32(len(m)))
		e := m[16+cnMsgLen:]
		ne.PutUint32(e[0:], what)
		ne.PutUint32(e[16:], a)
		ne.PutUint32(e[20:], b)
		ne.PutUint32(e[24:], c)
		ne.PutUint32(e[28:], d)
		return m
	}
	var got []ProcEvent
	b := append(msg(procEventExec, 10, 10, 0, 0), msg(procEventExit, 11, 10, 0, 0)...) // thread exit
	b = append(b, msg(procEventFork, 10, 10, 12, 12)...)
	b = append(b, msg(procEventFork, 10, 10, 13, 10)...) // new thread
	b = append(b, msg(procEventExit, 12, 12, 0, 0)...)
	b = append(b, msg(procEventExec, 99, 99, 0, 0)[:20]...) // truncated tail
	parseProcEvents(b, func(ev ProcEvent) { got = append(got, ev) })
	want := []ProcEvent{{ProcExec, 10}, {ProcFork, 12}, {ProcExit, 12}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
