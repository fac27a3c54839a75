package notify

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/internal/testenv"
)

func startDispatcher(t *testing.T, cfg Config) *Dispatcher {
	t.Helper()
	d := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}

func waitLines(t *testing.T, path string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(b) > 0 && len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: got %q, want %d lines", path, b, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A real shell script records each call; the calls must be exactly keepalived's: the state's
// script with its configured arguments only, then `notify` with the four appended arguments.
func TestDispatcherVRRPScriptsAndFIFO(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	sh := writeScript(t, dir, "rec.sh", "#!/bin/sh\necho \"$*\" >> "+log+"\n", 0o755)
	fifo := filepath.Join(dir, "vrrp.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		got  []string
		read = make(chan struct{})
	)
	go func() {
		defer close(read)
		f, err := os.Open(fifo) // blocks until the dispatcher opens its end
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			mu.Lock()
			got = append(got, sc.Text())
			n := len(got)
			mu.Unlock()
			if n == 4 {
				return
			}
		}
	}()
	var errs []error
	d := startDispatcher(t, Config{VRRPFIFO: fifo, ScriptTimeout: 5 * time.Second, OnError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }})
	mk := func(line string) *Script {
		s, err := ParseScript(line)
		if err != nil {
			t.Fatal(err)
		}
		return &s
	}
	inst := VRRPScripts{
		Master:  mk(sh + " master 'VI 1'"),
		Backup:  mk(sh + " backup"),
		Generic: mk(sh + " generic"),
	}
	d.VRRP(VRRPEvent{Name: "VI_1", State: StateBackup, Priority: 100}, inst)
	d.VRRP(VRRPEvent{Name: "VI_1", State: StateMaster, Priority: 100}, inst)
	d.VRRP(VRRPEvent{Name: "VI_1", State: StateFault, Priority: 100}, inst) // no notify_fault: only generic
	d.VRRP(VRRPEvent{Group: true, Name: "G1", State: StateMaster, Priority: 100}, VRRPScripts{Generic: mk(sh + " group")})
	want := []string{
		"backup",
		"generic INSTANCE VI_1 BACKUP 100",
		"master VI 1",
		"generic INSTANCE VI_1 MASTER 100",
		"generic INSTANCE VI_1 FAULT 100",
	}
	// The instance's calls come in order; the group's runs concurrently with them.
	calls := waitLines(t, log, len(want)+1)
	group := slices.Index(calls, "group GROUP G1 MASTER 0")
	if group < 0 || !slices.Equal(slices.Delete(slices.Clone(calls), group, group+1), want) {
		t.Fatalf("script calls:\n%s\nwant, in this order:\n%s\nand the group's call", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
	select {
	case <-read:
	case <-time.After(10 * time.Second):
		t.Fatal("FIFO lines did not arrive")
	}
	wantFIFO := []string{`INSTANCE "VI_1" BACKUP 100`, `INSTANCE "VI_1" MASTER 100`, `INSTANCE "VI_1" FAULT 100`, `GROUP "G1" MASTER 0`}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, wantFIFO) {
		t.Fatalf("FIFO lines %q, want %q", got, wantFIFO)
	}
	if len(errs) > 0 {
		t.Fatalf("delivery errors: %v", errs)
	}
	for deadline := time.Now().Add(10 * time.Second); d.Stats().Scripts.Delivered < 6 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if st := d.Stats(); st.Scripts.Delivered != 6 || st.Scripts.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A stuck script must not block the caller: the queue fills, further notifications are dropped
// and counted, and the caller's calls return at once.
func TestDispatcherNeverBlocks(t *testing.T) {
	dir := t.TempDir()
	sh := writeScript(t, dir, "hang.sh", "#!/bin/sh\nexec sleep 30\n", 0o755)
	d := startDispatcher(t, Config{QueueSize: 4, ScriptTimeout: 20 * time.Second, LVSFIFO: filepath.Join(dir, "lvs.fifo")})
	s := Script{Argv: []string{sh}}
	start := time.Now()
	for i := 0; i < 100; i++ {
		d.RealServer(RealServerEvent{RS: "[198.51.100.2]:tcp:80", VS: "[203.0.113.1]:tcp:80", Up: i%2 == 0, Script: &s})
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("100 notifications took %v to queue", took)
	}
	st := d.Stats()
	// 4 are queued (one of them may be running): the other 96 were dropped and counted.
	if st.Scripts.Dropped < 90 {
		t.Fatalf("stats %+v, want ~96 dropped scripts", st)
	}
}

// One instance's hung notify script delays neither its own FIFO line nor another instance's
// scripts.
func TestDispatcherHungScriptDelaysNobodyElse(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	hang := writeScript(t, dir, "hang.sh", "#!/bin/sh\nexec sleep 30\n", 0o755)
	rec := writeScript(t, dir, "rec.sh", "#!/bin/sh\necho \"$*\" >> "+log+"\n", 0o755)
	d := startDispatcher(t, Config{ScriptTimeout: 20 * time.Second})
	d.VRRP(VRRPEvent{Name: "VI_A", State: StateMaster, Priority: 100}, VRRPScripts{Master: &Script{Argv: []string{hang}}, Generic: &Script{Argv: []string{rec}}})
	d.VRRP(VRRPEvent{Name: "VI_B", State: StateMaster, Priority: 100}, VRRPScripts{Master: &Script{Argv: []string{rec, "B master"}}})
	if got := waitLines(t, log, 1); !slices.Equal(got, []string{"B master"}) {
		t.Fatalf("calls %q: VI_B's script must run while VI_A's hangs, and VI_A's generic must wait", got)
	}
}

// With enable_script_security a root script in a world-writable place is refused, not run.
func TestDispatcherScriptSecurity(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.RequireRoot(t)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "ran")
	sh := writeScript(t, dir, "ww.sh", "#!/bin/sh\ntouch "+out+"\n", 0o757)
	refused := make(chan error, 1)
	d := startDispatcher(t, Config{ScriptSecurity: true, OnError: func(err error) { refused <- err }})
	d.Script(Script{Argv: []string{sh}})
	select {
	case err := <-refused:
		if !strings.Contains(err.Error(), "enable_script_security") {
			t.Fatalf("error %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("insecure script was not refused")
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("insecure script ran")
	}
	// A secure root-owned script with no user anywhere is dropped too (no fallback to root)...
	good := writeScript(t, dir, "good.sh", "#!/bin/sh\ntouch "+out+"\n", 0o755)
	d.Script(Script{Argv: []string{good}})
	select {
	case err := <-refused:
		if !strings.Contains(err.Error(), "fall back to root") {
			t.Fatalf("error %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("script without a user was not refused")
	}
	// ...and runs with script_user root.
	d2 := startDispatcher(t, Config{ScriptSecurity: true, ScriptUser: &syscall.Credential{Uid: 0, Gid: 0}})
	d2.Script(Script{Argv: []string{good}})
	nstest.WaitFor(t, 5*time.Second, "the script run with script_user root", func() bool { _, err := os.Stat(out); return err == nil })
}

// lvs_notify_fifo_script runs for the Dispatcher's life with the FIFO path as its last
// argument, reads keepalived's RS/VS lines, and is stopped with the Dispatcher.
func TestDispatcherFIFOScript(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "lines")
	pidFile := filepath.Join(dir, "pid")
	sh := writeScript(t, dir, "reader.sh", "#!/bin/sh\necho $$ > "+pidFile+"\nexec 3<\"$2\"\nwhile read -r line <&3; do echo \"$1 $line\" >> "+out+"; done\n", 0o755)
	fifo := filepath.Join(dir, "lvs.fifo")
	d := New(Config{LVSFIFO: fifo, LVSFIFOScript: &Script{Argv: []string{sh, "got"}}, ScriptGrace: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	vs := ServiceName("203.0.113.10", "tcp", 80)
	d.RealServer(RealServerEvent{RS: ServiceName("198.51.100.2", "tcp", 80), VS: vs, Up: false})
	d.VirtualServer(vs, false, nil, false, "")
	want := []string{"got RS [198.51.100.2]:tcp:80 [203.0.113.10]:tcp:80 DOWN", "got VS [203.0.113.10]:tcp:80 DOWN"}
	if got := waitLines(t, out, 2); !slices.Equal(got, want) {
		t.Fatalf("fifo script saw %q, want %q", got, want)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	b, _ := os.ReadFile(pidFile)
	if st, err := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/stat"); err == nil && !strings.Contains(string(st), ") Z ") {
		t.Fatalf("fifo script still running after Run returned: %s", st)
	}
}
