package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/internal/testenv"
)

// binDir holds xalived and xalivectl, built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "xalived-tests-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if pre := os.Getenv("XALIVED_BIN_DIR"); pre != "" {
		// Prebuilt binaries (e.g. `make build` output) instead of building here.
		binDir = pre
		return m.Run()
	}
	if os.Geteuid() == 0 {
		// Build only when the namespace tests can run; otherwise they skip loudly themselves.
		pkgs := []string{"../cmd/xalivectl"}
		if _, err := os.Stat("../cmd/xalived"); err == nil {
			pkgs = append(pkgs, "../cmd/xalived")
		}
		out, err := exec.Command("go", append([]string{"build", "-o", dir + "/"}, pkgs...)...).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
			return 1
		}
		binDir = dir
	}
	return m.Run()
}

// Node is one VRRP speaker: a namespace with eth0 on the shared segment.
type Node struct {
	*nstest.NS
	Index int
	IPv4  string // 198.51.100.(10+Index)
	IPv6  string // 2001:db8::(10+Index)
	Dir   string // per-node scratch directory (configs, pid files, sockets, logs)
}

// Lab is a shared L2 segment (a bridge in its own namespace) with VRRP nodes and one client.
type Lab struct {
	t      testing.TB
	Bridge *nstest.NS
	Nodes  []*Node
	Client *Node // 198.51.100.200, 2001:db8::200
}

// NewLab builds n nodes and a client on one bridge.
func NewLab(t testing.TB, n int) *Lab {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "ip", "ping", "sysctl")
	br := nstest.New(t, "br")
	nstest.Bridge(t, br, "br0")
	// VRRP multicast (224.0.0.18, ff02::12) must reach every port whatever MLD says.
	br.MustRun(t, "ip", "link", "set", "br0", "type", "bridge", "mcast_snooping", "0")
	l := &Lab{t: t, Bridge: br}
	for i := 1; i <= n; i++ {
		l.Nodes = append(l.Nodes, l.attach(fmt.Sprintf("n%d", i), i, 10+i))
	}
	l.Client = l.attach("cl", 0, 200)
	return l
}

func (l *Lab) attach(prefix string, index, host int) *Node {
	t := l.t
	t.Helper()
	ns := nstest.New(t, prefix)
	port := fmt.Sprintf("p%s", prefix)
	// No DAD delay for test addresses, and IPv6 addresses kept across a link flap (as IPv4 ones
	// are), so a node whose link returns has its unicast source address at once.
	for _, kv := range []string{"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
		"net.ipv6.conf.all.keep_addr_on_down=1", "net.ipv6.conf.default.keep_addr_on_down=1"} {
		ns.MustRun(t, "sysctl", "-qw", kv)
	}
	nstest.Veth(t, ns, "eth0", l.Bridge, port)
	l.Bridge.MustRun(t, "ip", "link", "set", port, "master", "br0")
	nd := &Node{NS: ns, Index: index,
		IPv4: fmt.Sprintf("198.51.100.%d", host), IPv6: fmt.Sprintf("2001:db8::%d", host)}
	ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0")
	ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.eth0.keep_addr_on_down=1")
	ns.MustRun(t, "ip", "addr", "add", nd.IPv4+"/24", "dev", "eth0")
	ns.MustRun(t, "ip", "addr", "add", nd.IPv6+"/64", "dev", "eth0", "nodad")
	nd.Dir = t.TempDir()
	return nd
}

// HasAddr reports whether addr (without prefix length) is configured on any interface of n.
func (n *Node) HasAddr(addr string) bool {
	out, err := n.Run("ip", "-o", "addr", "show")
	if err != nil {
		return false
	}
	for _, f := range strings.Fields(out) {
		if ip, _, _ := strings.Cut(f, "/"); ip == addr {
			return true
		}
	}
	return false
}

// Holders returns the nodes that carry addr.
func (l *Lab) Holders(addr string) []*Node {
	var hs []*Node
	for _, n := range l.Nodes {
		if n.HasAddr(addr) {
			hs = append(hs, n)
		}
	}
	return hs
}

// WaitHolder waits until addr is on exactly node want and on no other node.
func (l *Lab) WaitHolder(want *Node, addr string, timeout time.Duration) {
	l.t.Helper()
	nstest.WaitFor(l.t, timeout, fmt.Sprintf("%s only on node %d", addr, want.Index), func() bool {
		hs := l.Holders(addr)
		return len(hs) == 1 && hs[0] == want
	})
}

// AssertSingleHolder fails unless exactly one node carries addr, and returns it.
func (l *Lab) AssertSingleHolder(addr string) *Node {
	l.t.Helper()
	var hs []*Node
	// Give a transition in flight (VIP removal after a priority-0 advert) a moment to settle.
	deadline := time.Now().Add(3 * time.Second)
	for {
		hs = l.Holders(addr)
		if len(hs) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(hs) != 1 {
		var idx []int
		for _, h := range hs {
			idx = append(idx, h.Index)
		}
		l.t.Fatalf("%s is on nodes %v, want exactly one", addr, idx)
	}
	return hs[0]
}

// writeFile writes content into the node's directory and returns the path.
func (n *Node) writeFile(t testing.TB, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(n.Dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func removeFile(p string) error { return os.Remove(p) }
