// Package nstest builds throw-away network topologies for tests: network namespaces, veth
// pairs and processes inside them, each removed by t.Cleanup also when the test fails.
//
// Names carry a random suffix so tests in parallel packages never collide, and nothing here
// touches the host's own namespace except to create and delete the veth pairs it made.
package nstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/testenv"
)

// NS is a network namespace created for one test.
type NS struct {
	Name string
}

func suffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// New creates a namespace named "xa-<prefix>-<random>" with loopback up, removed at cleanup.
// It needs root and iproute2; without them the test is skipped (or fails under XALIVED_STRICT).
func New(t testing.TB, prefix string) *NS {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "ip")
	name := fmt.Sprintf("xa-%s-%s", prefix, suffix())
	if len(name) > 32 {
		name = name[:32]
	}
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	ns := &NS{Name: name}
	t.Cleanup(func() {
		// Processes still inside would keep the namespace alive: end those the test started
		// (tests own every process in a namespace they created).
		if out, _ := exec.Command("ip", "netns", "pids", name).Output(); len(out) > 0 {
			for _, pid := range strings.Fields(string(out)) {
				_ = exec.Command("kill", "-9", pid).Run()
			}
		}
		_ = exec.Command("ip", "netns", "del", name).Run()
	})
	ns.MustRun(t, "ip", "link", "set", "lo", "up")
	return ns
}

// Cmd returns a command that runs inside the namespace.
func (n *NS) Cmd(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// CmdContext is Cmd bound to a context.
func (n *NS) CmdContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Run runs a command inside the namespace and returns its combined output.
func (n *NS) Run(name string, args ...string) (string, error) {
	out, err := n.Cmd(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s in %s: %w: %s", name, strings.Join(args, " "), n.Name, err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// MustRun is Run that fails the test on error.
func (n *NS) MustRun(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := n.Run(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Veth connects two namespaces with a veth pair named aIf (in a) and bIf (in b), both up.
// Either namespace may be nil for the host namespace; host-side links are deleted at cleanup.
func Veth(t testing.TB, a *NS, aIf string, b *NS, bIf string) {
	t.Helper()
	tmpA, tmpB := "xv"+suffix(), "xv"+suffix()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("link", "add", tmpA, "type", "veth", "peer", "name", tmpB)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", tmpA).Run() })
	place := func(tmp string, ns *NS, name string) {
		t.Helper()
		if ns == nil {
			run("link", "set", tmp, "name", name, "up")
			t.Cleanup(func() { _ = exec.Command("ip", "link", "del", name).Run() })
			return
		}
		run("link", "set", tmp, "netns", ns.Name)
		ns.MustRun(t, "ip", "link", "set", tmp, "name", name)
		ns.MustRun(t, "ip", "link", "set", name, "up")
	}
	place(tmpA, a, aIf)
	place(tmpB, b, bIf)
}

// Bridge creates a bridge named br inside ns (a shared L2 segment for 3+ nodes) and returns ns.
func Bridge(t testing.TB, ns *NS, br string) {
	t.Helper()
	ns.MustRun(t, "ip", "link", "add", br, "type", "bridge")
	ns.MustRun(t, "ip", "link", "set", br, "up")
}

// Start starts a long-running command inside the namespace; it is killed at cleanup
// (SIGTERM, then SIGKILL after two seconds) and its output is logged if the test failed.
func (n *NS) Start(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := n.Cmd(name, args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s in %s: %v", name, n.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("output of %s in %s:\n%s", name, n.Name, buf.String())
		}
	})
	return cmd
}

// WaitFor polls cond every 10 ms until it returns true or the timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", timeout, what)
}
