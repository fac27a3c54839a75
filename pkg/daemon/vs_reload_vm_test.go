//go:build vmtest

package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/pkg/control"
	"github.com/xalived/xalived/vmtest/vmenv"
)

// vsReloadConf: 203.0.113.1:80 has real servers without checkers (always up) with the given
// weights (0 leaves one out); 203.0.113.2:80 has an alpha real server whose TCP_CHECK never
// succeeds (nothing listens), so it must never reach the kernel.
func vsReloadConf(weights map[string]int) string {
	rs := ""
	for _, a := range []string{"198.51.100.11", "198.51.100.12", "198.51.100.14"} {
		if w := weights[a]; w > 0 {
			rs += fmt.Sprintf("\treal_server %s 80 {\n\t\tweight %d\n\t}\n", a, w)
		}
	}
	return fmt.Sprintf(`global_defs {
	router_id vs_reload
}
virtual_server 203.0.113.1 80 {
	lb_algo rr
	lb_kind NAT
	protocol TCP
%s}
virtual_server 203.0.113.2 80 {
	delay_loop 1
	lb_algo rr
	lb_kind NAT
	protocol TCP
	real_server 198.51.100.13 80 {
		alpha
		TCP_CHECK {
			connect_timeout 1
		}
	}
}
`, rs)
}

// TestVSDaemonReloadWeights: a reload that changes a weight and drops a real server is applied
// (the daemon's fast path, before the checkers are rebuilt, must take the new configured weight,
// not the previous one); a DOWN real server stays out across it; a reload that adds a real server
// adds it.
func TestVSDaemonReloadWeights(t *testing.T) {
	vmenv.Require(t, "ip_vs", "ip_vs_rr")
	dir := nstest.New(t, "vsrl")
	tmp := t.TempDir()
	conf := filepath.Join(tmp, "keepalived.conf")
	sock := filepath.Join(tmp, "xalived.sock")
	write := func(w map[string]int) {
		t.Helper()
		if err := os.WriteFile(conf, []byte(vsReloadConf(w)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(map[string]int{"198.51.100.11": 1, "198.51.100.12": 1})
	startHelper(t, dir, "daemon", conf, sock)
	const vs1, vs2 = "203.0.113.1:80", "203.0.113.2:80"
	is := func(want map[string]int) func(map[string]map[string]int) bool {
		return func(m map[string]map[string]int) bool {
			if len(m[vs2]) != 0 || len(m[vs1]) != len(want) {
				return false
			}
			for a, w := range want {
				if got, ok := m[vs1][a+":80"]; !ok || got != w {
					return false
				}
			}
			return true
		}
	}
	waitTable(t, dir, 90*time.Second, "start", is(map[string]int{"198.51.100.11": 1, "198.51.100.12": 1}))

	c := control.NewClient(sock)
	reload := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := c.Reload(ctx); err != nil {
			t.Fatal(err)
		}
	}
	write(map[string]int{"198.51.100.11": 5})
	reload()
	took := waitTable(t, dir, 30*time.Second, "weight 5, .12 gone", is(map[string]int{"198.51.100.11": 5}))
	t.Logf("reload (weight changed, real server dropped) -> kernel: %v after the reload returned", took)
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if m := ipvsTable(t, dir); !is(map[string]int{"198.51.100.11": 5})(m) {
			t.Fatalf("after the reload the table changed again: %v", m)
		}
	}

	write(map[string]int{"198.51.100.11": 5, "198.51.100.14": 3})
	reload()
	waitTable(t, dir, 30*time.Second, "real server .14 added", is(map[string]int{"198.51.100.11": 5, "198.51.100.14": 3}))
}
