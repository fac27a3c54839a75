//go:build vmtest

package lvs

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/internal/testenv"
	"github.com/xalived/xalived/pkg/config"
	"github.com/xalived/xalived/vmtest/vmenv"
)

// readProcTable parses /proc/PID/net/ip_vs (the table of the namespace PID lives in): the number of
// services and destinations, and the weight of the destination 198.51.100.16:80 of the service
// 203.0.113.126:1000 (virtual server 500, real server 5).
func readProcTable(pid int) (svcs, dests, probe int) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/ip_vs", pid))
	if err != nil {
		return 0, 0, -1
	}
	defer f.Close()
	probe = -1
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		switch {
		case len(fl) >= 3 && (fl[0] == "TCP" || fl[0] == "UDP"):
			svcs++
			in = fl[1] == "CB00717E:03E8" // 203.0.113.126:1000
		case len(fl) >= 3 && fl[0] == "->" && fl[1] != "RemoteAddress:Port":
			dests++
			if in && fl[1] == "C6336410:0050" { // 198.51.100.16:80
				probe, _ = strconv.Atoi(fl[3])
			}
		}
	}
	return svcs, dests, probe
}

func waitTable(b *testing.B, pid int, probe int, timeout time.Duration) time.Time {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		s, d, p := readProcTable(pid)
		if s == benchVS && d == benchVS*benchRS && p == probe {
			return time.Now()
		}
		time.Sleep(5 * time.Millisecond)
	}
	s, d, p := readProcTable(pid)
	b.Fatalf("keepalived did not reach %d services / %d destinations / probe weight %d in %v: %d / %d / %d",
		benchVS, benchVS*benchRS, probe, timeout, s, d, p)
	return time.Time{}
}

// BenchmarkVMApply1000x10 applies 1,000 virtual servers x 10 real servers from a cold start and
// then after a one-line change (one weight), through xalived's path (parse, FromConfig, Apply)
// and through Debian's keepalived in the same guest (start, then SIGHUP), each in its own
// namespace, and reports both times and the ratios keepalived/xalived.
func BenchmarkVMApply1000x10(b *testing.B) {
	vmenv.Require(b, "ip_vs", "ip_vs_wlc")
	testenv.RequireCommand(b, "keepalived")
	dir := b.TempDir()
	base, changed := benchConfig(oneWeight(false)), benchConfig(oneWeight(true))
	conf := filepath.Join(dir, "keepalived.conf")

	// xalived: cold start.
	ns := nstest.New(b, "bx")
	t0 := time.Now()
	cfg, _, err := config.Parse(conf, []byte(base), config.Options{ConfigID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	tParse := time.Since(t0)
	p, err := FromConfig(cfg, Inputs{})
	if err != nil {
		b.Fatal(err)
	}
	tPlan := time.Since(t0)
	r, err := New(Options{NetNS: nsPath(ns)})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	tApply := time.Now()
	if _, err := r.Apply(p.Services); err != nil {
		b.Fatal(err)
	}
	xColdApply := time.Since(tApply)
	xCold := time.Since(t0)
	b.Logf("xalived cold: parse %v, plan %v, total %v", tParse, tPlan-tParse, xCold)
	t1 := time.Now()
	if _, err := r.Read(); err != nil {
		b.Fatal(err)
	}
	b.Logf("full read of the table: %v", time.Since(t1))
	// xalived: one-line change (what a SIGHUP does: parse, plan, apply).
	t0 = time.Now()
	cfg, _, err = config.Parse(conf, []byte(changed), config.Options{ConfigID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	if p, err = FromConfig(cfg, Inputs{}); err != nil {
		b.Fatal(err)
	}
	tApply = time.Now()
	ch, err := r.Apply(p.Services)
	if err != nil {
		b.Fatal(err)
	}
	xReloadApply := time.Since(tApply)
	xReload := time.Since(t0)
	b.Logf("xalived reload: apply %v, total %v", xReloadApply, xReload)
	if ch != (Changes{DestsUpdated: 1}) {
		b.Fatalf("one-line change made %v", ch)
	}
	if _, err := r.Shutdown(); err != nil {
		b.Fatal(err)
	}

	// keepalived, same config, its own namespace.
	kns := nstest.New(b, "bk")
	if err := os.WriteFile(conf, []byte(base), 0o644); err != nil {
		b.Fatal(err)
	}
	t0 = time.Now()
	k := kns.Start(b, "keepalived", "-n", "-C", "-f", conf, "-p", filepath.Join(dir, "k.pid"), "-c", filepath.Join(dir, "c.pid"))
	kCold := waitTable(b, k.Process.Pid, 1, 2*time.Minute).Sub(t0)
	if err := os.WriteFile(conf, []byte(changed), 0o644); err != nil {
		b.Fatal(err)
	}
	t0 = time.Now()
	if err := k.Process.Signal(syscall.SIGHUP); err != nil {
		b.Fatal(err)
	}
	kReload := waitTable(b, k.Process.Pid, 9, 2*time.Minute).Sub(t0)

	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(xCold), "xalived-cold-ms")
	b.ReportMetric(ms(kCold), "keepalived-cold-ms")
	b.ReportMetric(kCold.Seconds()/xCold.Seconds(), "cold-ratio")
	b.ReportMetric(ms(xReload), "xalived-reload-ms")
	b.ReportMetric(ms(kReload), "keepalived-reload-ms")
	b.ReportMetric(kReload.Seconds()/xReload.Seconds(), "reload-ratio")
	// The reconciler alone (without parsing the configuration) against keepalived's whole path.
	b.ReportMetric(ms(xColdApply), "xalived-cold-apply-ms")
	b.ReportMetric(ms(xReloadApply), "xalived-reload-apply-ms")
	b.Logf("kernel %s: cold start xalived %v, keepalived %v (x%.1f); one-line change xalived %v, keepalived %v (x%.1f)",
		vmenv.Release(), xCold, kCold, kCold.Seconds()/xCold.Seconds(), xReload, kReload, kReload.Seconds()/xReload.Seconds())
}
