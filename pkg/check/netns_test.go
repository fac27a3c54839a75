package check

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/internal/testenv"
)

// innerEnv names the test a re-executed test binary runs inside a network namespace.
const innerEnv = "XALIVED_CHECK_INNER"

// isInner reports whether this process is the copy of the test running inside the namespace.
func isInner(t testing.TB) bool { return os.Getenv(innerEnv) == t.Name() }

// inNetns re-runs the calling test inside ns, so every socket the checkers and the Go test
// servers open lives there, and fails if the inner run fails.
func inNetns(t testing.TB, ns *nstest.NS, extraArgs ...string) string {
	t.Helper()
	args := append([]string{"-test.run", "^" + t.Name() + "$", "-test.count=1", "-test.v"}, extraArgs...)
	if _, ok := t.(*testing.B); ok {
		args = append([]string{"-test.run", "^$", "-test.bench", "^" + t.Name() + "$", "-test.benchtime=1x", "-test.count=1"}, extraArgs...)
	}
	cmd := ns.Cmd(os.Args[0], args...)
	cmd.Env = append(os.Environ(), innerEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("inner run in %s: %v\n%s", ns.Name, err, out)
	}
	if _, ok := t.(*testing.T); ok && !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("inner test in %s did not pass:\n%s", ns.Name, out)
	}
	return string(out)
}

// Addresses of the test topology: one namespace, a veth pair whose ends carry the "checker"
// (.1) and "server" (.2) addresses; .99 exists on the link but answers nothing (a hung host).
const (
	clientIP4 = "198.51.100.1"
	serverIP4 = "198.51.100.2"
	hungIP4   = "198.51.100.99"
	bindIP4   = "198.51.100.3" // a second checker-side address, for bindto
	serverIP6 = "2001:db8:5::2"
	clientIP6 = "2001:db8:5::1"
)

// topology builds the namespace for checker tests.
func topology(t testing.TB) *nstest.NS {
	t.Helper()
	testenv.RequireRoot(t)
	ns := nstest.New(t, "chk")
	nstest.Veth(t, ns, "c0", ns, "s0")
	ns.MustRun(t, "ip", "addr", "add", clientIP4+"/24", "dev", "c0")
	ns.MustRun(t, "ip", "addr", "add", bindIP4+"/32", "dev", "c0")
	// fwmark 7 routes through table 77, where the server is "prohibited": a checker whose
	// SO_MARK works fails at once. The local table moves behind the mark rule (this namespace only).
	ns.MustRun(t, "ip", "rule", "add", "pref", "100", "lookup", "local")
	ns.MustRun(t, "ip", "rule", "del", "pref", "0")
	ns.MustRun(t, "ip", "rule", "add", "pref", "10", "fwmark", "7", "lookup", "77")
	ns.MustRun(t, "ip", "route", "add", "prohibit", serverIP4+"/32", "table", "77")
	ns.MustRun(t, "ip", "addr", "add", serverIP4+"/24", "dev", "s0")
	ns.MustRun(t, "ip", "-6", "addr", "add", clientIP6+"/64", "dev", "c0", "nodad")
	ns.MustRun(t, "ip", "-6", "addr", "add", serverIP6+"/64", "dev", "s0", "nodad")
	return ns
}

func waitListening(t testing.TB, ns *nstest.NS, flag, addr string) {
	t.Helper()
	nstest.WaitFor(t, 10*time.Second, "a listener on "+addr, func() bool {
		out, _ := ns.Run("ss", "-H", flag)
		return strings.Contains(out, addr)
	})
}
