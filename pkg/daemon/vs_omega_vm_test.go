//go:build vmtest

package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/vmtest/vmenv"
)

const vsOmegaConf = `global_defs {
	router_id vs_omega
	lvs_flush
}
virtual_server 203.0.113.1 80 {
	lb_algo rr
	lb_kind NAT
	protocol TCP
	omega
	quorum_down "%[1]s quorum-down-1"
	real_server 198.51.100.11 80 {
		notify_down "%[1]s down-11"
	}
	real_server 198.51.100.12 80 {
		notify_down "%[1]s down-12"
	}
}
virtual_server 203.0.113.2 80 {
	lb_algo rr
	lb_kind NAT
	protocol TCP
	quorum_down "%[1]s quorum-down-2"
	real_server 198.51.100.13 80 {
		notify_down "%[1]s down-13"
	}
}
`

// TestVSDaemonOmegaAndFlush: lvs_flush empties the IPVS table at start (a service that is not
// ours goes too, as with keepalived); at shutdown a virtual server with omega runs the
// notify_down of its live real servers and then its quorum_down, one without omega runs nothing.
func TestVSDaemonOmegaAndFlush(t *testing.T) {
	vmenv.Require(t, "ip_vs", "ip_vs_rr")
	dir := nstest.New(t, "vsom")
	dir.MustRun(t, "ipvsadm", "-A", "-t", "203.0.113.9:80", "-s", "rr")
	tmp := t.TempDir()
	out := filepath.Join(tmp, "out")
	script := filepath.Join(tmp, "record.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$1\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(tmp, "keepalived.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, vsOmegaConf, script), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startHelper(t, dir, "daemon", conf, filepath.Join(tmp, "xalived.sock"))
	waitTable(t, dir, 90*time.Second, "flushed table with our services", func(m map[string]map[string]int) bool {
		_, foreign := m["203.0.113.9:80"]
		return !foreign && len(m["203.0.113.1:80"]) == 2 && len(m["203.0.113.2:80"]) == 1
	})
	if b, err := os.ReadFile(out); err == nil && len(b) > 0 {
		t.Fatalf("scripts ran before shutdown: %q", b)
	}

	d.kill(syscall.SIGTERM)
	var lines []string
	nstest.WaitFor(t, 10*time.Second, "omega scripts", func() bool {
		b, _ := os.ReadFile(out)
		lines = strings.Fields(string(b))
		return len(lines) >= 3
	})
	time.Sleep(200 * time.Millisecond)
	b, _ := os.ReadFile(out)
	lines = strings.Fields(string(b))
	got := strings.Join(lines, " ")
	if len(lines) != 3 || lines[2] != "quorum-down-1" || !strings.Contains(got, "down-11") || !strings.Contains(got, "down-12") {
		t.Fatalf("scripts at shutdown: %q, want down-11 and down-12 then quorum-down-1 (and nothing of the virtual server without omega)", got)
	}
}
