//go:build vmtest

package vmenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestGuestHasIPVS proves the guest is what VM tests expect: IPVS is loaded, its netlink and
// procfs interfaces answer, and ipvsadm runs.
func TestGuestHasIPVS(t *testing.T) {
	Require(t, "ip_vs", "ip_vs_rr", "veth")
	b, err := os.ReadFile("/proc/net/ip_vs")
	if err != nil {
		t.Fatalf("kernel %s: %v", Release(), err)
	}
	if !strings.Contains(string(b), "IP Virtual Server version") {
		t.Fatalf("/proc/net/ip_vs does not look like IPVS: %q", b)
	}
	out, err := exec.Command("ipvsadm", "-Ln").CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm -Ln: %v: %s", err, out)
	}
	t.Logf("kernel %s: %s", Release(), strings.SplitN(string(out), "\n", 2)[0])
}
