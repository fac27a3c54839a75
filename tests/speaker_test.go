package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/internal/testenv"
	"github.com/xalived/xalived/pkg/control"
)

// Speaker is a VRRP daemon under test on one node: xalived or keepalived.
type Speaker interface {
	// Start writes conf and starts the daemon; it returns once the daemon runs.
	Start(t testing.TB, conf string)
	// State returns the state of instance name: INIT, BACKUP, MASTER, FAULT or "" if unknown.
	State(t testing.TB, name string) string
	// Kill ends the daemon without any chance to clean up (SIGKILL).
	Kill(t testing.TB)
	// Term stops the daemon gracefully (SIGTERM) and waits for it to exit.
	Term(t testing.TB)
	// Reload sends SIGHUP after writing conf.
	Reload(t testing.TB, conf string)
	// Log returns what the daemon printed so far.
	Log() string
	Kind() string
	Node() *Node
}

// lockedBuffer collects a process's output while tests read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proc is a daemon process started inside a node's namespace.
type proc struct {
	node *Node
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
	runs int
	conf string
}

func (p *proc) start(t testing.TB, env []string, name string, args ...string) {
	t.Helper()
	p.out = &lockedBuffer{}
	if rt := realtime(); rt != nil {
		// Both daemons (ours and keepalived) run SCHED_RR, as keepalived recommends in
		// production (vrrp_rt_priority), so a loaded CI machine cannot starve a 0.1 s advert
		// timer for seconds and turn the test into a test of the scheduler.
		args = append(append(rt[1:], name), args...)
		name = rt[0]
	}
	p.cmd = p.node.Cmd(name, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s in %s: %v", name, p.node.Name, err)
	}
	p.runs++
	done := make(chan struct{})
	p.done = done
	cmd, out, run := p.cmd, p.out, p.runs
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		}
		if t.Failed() {
			t.Logf("output of %s on node %d (run %d):\n%s", name, p.node.Index, run, out.String())
		}
	})
}

func (p *proc) running() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *proc) wait(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("daemon on node %d did not exit within %v", p.node.Index, d)
	}
}

func (p *proc) writeConf(t testing.TB, conf string) {
	p.conf = p.node.writeFile(t, "keepalived.conf", conf, 0o644)
}

func (p *proc) Log() string {
	if p.out == nil {
		return ""
	}
	return p.out.String()
}
func (p *proc) Node() *Node { return p.node }

// Keepalived runs Debian's keepalived (VRRP only) in a node's namespace.
type Keepalived struct{ proc }

// NewKeepalived returns a keepalived speaker for node n.
func NewKeepalived(t testing.TB, n *Node) *Keepalived {
	t.Helper()
	testenv.RequireCommand(t, "keepalived")
	return &Keepalived{proc{node: n}}
}

func (k *Keepalived) Kind() string { return "keepalived" }

func (k *Keepalived) pidFiles() (string, string) {
	return filepath.Join(k.node.Dir, "keepalived.pid"), filepath.Join(k.node.Dir, "vrrp.pid")
}

func (k *Keepalived) Start(t testing.TB, conf string) {
	t.Helper()
	k.writeConf(t, conf)
	pid, vpid := k.pidFiles()
	_ = os.Remove(vpid)
	k.start(t, nil, "keepalived", "-n", "-l", "-D", "-P", "-f", k.conf, "-p", pid, "-r", vpid)
	nstest.WaitFor(t, 10*time.Second, "keepalived's VRRP child", func() bool {
		_, err := k.vrrpPID()
		return err == nil && strings.Contains(k.Log(), "Entering")
	})
}

func (k *Keepalived) vrrpPID() (int, error) {
	_, vpid := k.pidFiles()
	b, err := os.ReadFile(vpid)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

var kaState = regexp.MustCompile(`\(([^)]+)\) Entering (\w+) STATE`)

// State is the last "(NAME) Entering X STATE" line keepalived logged for the instance.
func (k *Keepalived) State(t testing.TB, name string) string {
	if !k.running() {
		return ""
	}
	st := ""
	for _, m := range kaState.FindAllStringSubmatch(k.Log(), -1) {
		if m[1] == name {
			st = m[2]
		}
	}
	return st
}

// Kill freezes the watchdog parent (so it cannot respawn or signal the child), kills the VRRP
// child, then the parent: the equivalent of a crash, no priority-0 advert.
func (k *Keepalived) Kill(t testing.TB) {
	t.Helper()
	parent := k.cmd.Process.Pid
	child, err := k.vrrpPID()
	if err != nil {
		t.Fatalf("keepalived VRRP pid: %v", err)
	}
	_ = syscall.Kill(parent, syscall.SIGSTOP)
	_ = syscall.Kill(child, syscall.SIGKILL)
	_ = syscall.Kill(parent, syscall.SIGKILL)
	k.wait(t, 5*time.Second)
}

func (k *Keepalived) Term(t testing.TB) {
	t.Helper()
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	k.wait(t, 10*time.Second)
}

func (k *Keepalived) Reload(t testing.TB, conf string) {
	t.Helper()
	k.writeConf(t, conf)
	_ = k.cmd.Process.Signal(syscall.SIGHUP)
}

// Xalived runs our daemon in a node's namespace.
type Xalived struct {
	proc
	Extra []string // extra command-line flags
}

// NewXalived returns an xalived speaker for node n.
func NewXalived(t testing.TB, n *Node) *Xalived {
	t.Helper()
	if binDir == "" {
		testenv.Skip(t, "xalived not built (needs root)")
	}
	if _, err := os.Stat(filepath.Join(binDir, "xalived")); err != nil {
		t.Fatalf("xalived binary missing: cmd/xalived did not build")
	}
	return &Xalived{proc: proc{node: n}}
}

func (x *Xalived) Kind() string { return "xalived" }

func (x *Xalived) Socket() string { return filepath.Join(x.node.Dir, "xalived.sock") }
func (x *Xalived) ready() string  { return filepath.Join(x.node.Dir, "ready") }

func (x *Xalived) Start(t testing.TB, conf string) {
	t.Helper()
	x.writeConf(t, conf)
	_ = os.Remove(x.ready())
	args := []string{"-n", "-l", "-D", "-f", x.conf, "-p", filepath.Join(x.node.Dir, "xalived.pid"),
		"--name", fmt.Sprintf("node%d", x.node.Index), "--control", x.Socket()}
	if !slices.ContainsFunc(x.Extra, func(a string) bool { return strings.HasPrefix(a, "--dataplane") }) {
		// This matrix is the socket dataplane's (issue 3); the XDP tests choose theirs.
		args = append(args, "--dataplane", "socket")
	}
	x.start(t, []string{"XALIVED_READY_FILE=" + x.ready()}, filepath.Join(binDir, "xalived"), append(args, x.Extra...)...)
	nstest.WaitFor(t, 10*time.Second, "xalived ready file", func() bool {
		_, err := os.Stat(x.ready())
		if err != nil && !x.running() {
			t.Fatalf("xalived exited during start:\n%s", x.Log())
		}
		return err == nil
	})
}

// Status runs `xalivectl status --json` against the daemon.
func (x *Xalived) Status(t testing.TB) (*control.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "xalivectl"), "--control", x.Socket(), "status", "--json").Output()
	if err != nil {
		return nil, fmt.Errorf("xalivectl status: %w", err)
	}
	var st control.Status
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("xalivectl status: %w: %s", err, out)
	}
	return &st, nil
}

func (x *Xalived) Instance(t testing.TB, name string) *control.Instance {
	st, err := x.Status(t)
	if err != nil {
		return nil
	}
	for i := range st.VRRP {
		if st.VRRP[i].Name == name {
			return &st.VRRP[i]
		}
	}
	return nil
}

func (x *Xalived) State(t testing.TB, name string) string {
	if !x.running() {
		return ""
	}
	if in := x.Instance(t, name); in != nil {
		return in.State
	}
	return ""
}

func (x *Xalived) Kill(t testing.TB) {
	t.Helper()
	_ = x.cmd.Process.Kill()
	x.wait(t, 5*time.Second)
}

func (x *Xalived) Term(t testing.TB) {
	t.Helper()
	_ = x.cmd.Process.Signal(syscall.SIGTERM)
	x.wait(t, 10*time.Second)
}

func (x *Xalived) Reload(t testing.TB, conf string) {
	t.Helper()
	x.writeConf(t, conf)
	_ = x.cmd.Process.Signal(syscall.SIGHUP)
}

// WaitState waits until sp reports state for instance name.
func WaitState(t testing.TB, sp Speaker, name, state string, timeout time.Duration) {
	t.Helper()
	nstest.WaitFor(t, timeout, fmt.Sprintf("%s on node %d (%s) in %s", name, sp.Node().Index, sp.Kind(), state), func() bool {
		return sp.State(t, name) == state
	})
}

// Crash simulates the death of the node that runs sp: its link goes down (from that instant
// nothing it sends or answers reaches the segment, also the VIP its kernel keeps), then the
// daemon is SIGKILLed. Link first: on a loaded machine `ip` can take longer than a 10 ms
// master-down interval, and a node still answering for its VIP would hide the outage.
func Crash(t testing.TB, sp Speaker) {
	t.Helper()
	sp.Node().MustRun(t, "ip", "link", "set", "eth0", "down")
	sp.Kill(t)
}

// Recover brings a crashed node's link back and starts its daemon again with conf.
func Recover(t testing.TB, sp Speaker, conf string) {
	t.Helper()
	sp.Node().MustRun(t, "ip", "link", "set", "eth0", "up")
	sp.Start(t, conf)
}

// realtime returns the command prefix that runs a daemon SCHED_RR (chrt -r 10), or nil when
// chrt is missing or XALIVED_TEST_RT=0.
func realtime() []string {
	if os.Getenv("XALIVED_TEST_RT") == "0" {
		return nil
	}
	if _, err := exec.LookPath("chrt"); err != nil {
		return nil
	}
	return []string{"chrt", "-r", "10"}
}
