package nstest

import (
	"strings"
	"testing"
)

func TestVethPing(t *testing.T) {
	a, b := New(t, "a"), New(t, "b")
	Veth(t, a, "eth0", b, "eth0")
	a.MustRun(t, "ip", "addr", "add", "198.51.100.1/24", "dev", "eth0")
	b.MustRun(t, "ip", "addr", "add", "198.51.100.2/24", "dev", "eth0")
	out := a.MustRun(t, "ping", "-c1", "-W2", "198.51.100.2")
	if !strings.Contains(out, "1 received") {
		t.Fatalf("no reply across the veth pair:\n%s", out)
	}
}
