//go:build vmtest

package lvs_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/ipvs"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/internal/testenv"
	"github.com/xalived/xalived/pkg/config"
	"github.com/xalived/xalived/pkg/daemon"
	"github.com/xalived/xalived/pkg/lvs"
	"github.com/xalived/xalived/vmtest/vmenv"
)

// daemonArg as the first argument makes the test binary run xalived's daemon (the guest has no
// Go toolchain to build cmd/xalived): "BINARY xalived-bench-daemon CONFIG DIR". It is handled in
// init, before the testing package looks at the arguments.
const daemonArg = "xalived-bench-daemon"

func init() {
	if len(os.Args) < 4 || os.Args[1] != daemonArg {
		return
	}
	conf, dir := os.Args[2], os.Args[3]
	out, err := os.Create(filepath.Join(dir, "xalived.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "daemon:", err)
		os.Exit(1)
	}
	log := slog.New(slog.NewTextHandler(out, nil))
	err = daemon.Run(context.Background(), daemon.Options{ConfigFile: conf, Name: "lvsbench",
		Control: filepath.Join(dir, "xalived.sock"), Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "daemon:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

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

// waitTable polls the table of pid's namespace every 50 ms (a dump of the whole table takes tens
// of ms under emulation, and polling it faster slows the daemon being measured) until it holds
// every service and destination with the probe destination at weight probe, and returns when it
// saw it.
func waitTable(b *testing.B, who string, pid int, probe int, timeout time.Duration) time.Time {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		s, d, p := readProcTable(pid)
		if s == lvs.BenchVS && d == lvs.BenchVS*lvs.BenchRS && p == probe {
			return time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
	s, d, p := readProcTable(pid)
	b.Fatalf("%s did not reach %d services / %d destinations / probe weight %d in %v: %d / %d / %d",
		who, lvs.BenchVS, lvs.BenchVS*lvs.BenchRS, probe, timeout, s, d, p)
	return time.Time{}
}

// runDaemon measures a daemon (xalived or keepalived, started by start in namespace ns) on the
// same configuration file: the cold start (process start to the whole table in the kernel, seen
// through /proc/PID/net/ip_vs every 50 ms) and, reloads times, a one-line change (the probe
// weight flips between 9 and 1) from SIGHUP to the changed weight in the kernel (the probe's
// service read over netlink every 2 ms).
func runDaemon(b *testing.B, who string, ns *nstest.NS, conf string, reloads int, start func() *exec.Cmd) (cold time.Duration, reload []time.Duration) {
	b.Helper()
	h, err := ipvs.New("/run/netns/" + ns.Name)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	if err := os.WriteFile(conf, []byte(lvs.BenchConfig(lvs.OneWeight(false))), 0o644); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	cmd := start()
	pid := cmd.Process.Pid
	cold = waitTable(b, who, pid, 1, 3*time.Minute).Sub(t0)
	for i := range reloads {
		changed := i%2 == 0
		if err := os.WriteFile(conf, []byte(lvs.BenchConfig(lvs.OneWeight(changed))), 0o644); err != nil {
			b.Fatal(err)
		}
		want := 1
		if changed {
			want = 9
		}
		// Let the daemon settle (checker start-up events, the previous reload's tail).
		time.Sleep(2 * time.Second)
		t0 = time.Now()
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			b.Fatal(err)
		}
		for probeWeight(h) != want {
			if time.Since(t0) > 3*time.Minute {
				b.Fatalf("%s: the probe destination did not get weight %d in 3 minutes", who, want)
			}
			time.Sleep(2 * time.Millisecond)
		}
		reload = append(reload, time.Since(t0))
		// Nothing else went: the whole table is still there.
		waitTable(b, who, pid, want, time.Minute)
	}
	// Stop it now (it leaves the kernel at once), so that the next daemon runs alone; the
	// namespace's cleanup reaps it.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	nstest.WaitFor(b, time.Minute, who+" to stop", func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d/net/ip_vs", pid))
		return err != nil
	})
	return cold, reload
}

// probeWeight is the weight of the probe destination (198.51.100.16:80 of 203.0.113.126:1000)
// in the namespace's table, read over netlink: the one service, not the whole table, so that
// polling it every 2 ms neither loads the guest nor adds a table dump's time to the measurement.
func probeWeight(h *ipvs.Handle) int {
	ds, err := h.GetDestinations(&ipvs.Service{AddressFamily: syscall.AF_INET, Protocol: syscall.IPPROTO_TCP,
		Address: net.IPv4(203, 0, 113, 126), Port: 1000})
	if err != nil {
		return -1
	}
	for _, d := range ds {
		if d.Address.Equal(net.IPv4(198, 51, 100, 16)) && d.Port == 80 {
			return d.Weight
		}
	}
	return -1
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkVMApply1000x10 applies 1,000 virtual servers x 10 real servers from a cold start and
// then after a one-line change (one weight), with xalived's daemon and with Debian's keepalived in
// the same guest, each in its own namespace, measured the same way for both: from process start
// to the whole table in the kernel, and from SIGHUP to the changed weight in the kernel
// (XALIVED_BENCH_RELOADS times, 5 by default; the median is reported). It reports both times and
// the ratios keepalived/xalived, and, to show where xalived's time goes, the parts of its reload
// path run in process: parse, desired state (FromConfig) and the reconciler's Apply.
func BenchmarkVMApply1000x10(b *testing.B) {
	vmenv.Require(b, "ip_vs", "ip_vs_wlc")
	testenv.RequireCommand(b, "keepalived")
	reloads := 5
	if n, err := strconv.Atoi(os.Getenv("XALIVED_BENCH_RELOADS")); err == nil && n > 0 {
		reloads = n
	}
	dir := b.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	base, changed := []byte(lvs.BenchConfig(lvs.OneWeight(false))), []byte(lvs.BenchConfig(lvs.OneWeight(true)))
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

	// xalived's path in process, part by part: the daemon's (config.Incremental re-parses the
	// changed block, lvs.Planner plans that virtual server again) and, for comparison, a full
	// parse and FromConfig.
	ns := nstest.New(b, "bx")
	t0 := time.Now()
	inc := config.NewIncremental(config.Options{ConfigID: "bench"})
	var pl lvs.Planner
	if err := os.WriteFile(conf, base, 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, _, err := inc.ParseFile(conf)
	if err != nil {
		b.Fatal(err)
	}
	p, err := pl.Plan(cfg, lvs.Inputs{})
	if err != nil {
		b.Fatal(err)
	}
	r, err := lvs.New(lvs.Options{NetNS: "/run/netns/" + ns.Name})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Apply(p.Services); err != nil {
		b.Fatal(err)
	}
	inCold := time.Since(t0)
	// Each part is timed after a collection, so that none pays for the garbage of the one before
	// (the daemon's log reports how many collections ran during its reloads).
	runtime.GC()
	t0 = time.Now()
	if _, _, err = config.Parse(conf, changed, config.Options{ConfigID: "bench"}); err != nil {
		b.Fatal(err)
	}
	tFullParse := time.Since(t0)
	runtime.GC()
	t0 = time.Now()
	if _, err = lvs.FromConfig(cfg, lvs.Inputs{}); err != nil {
		b.Fatal(err)
	}
	tFullPlan := time.Since(t0)
	if err := os.WriteFile(conf, changed, 0o644); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	t0 = time.Now()
	cfg, _, err = inc.ParseFile(conf)
	if err != nil || inc.LastPath != "block" {
		b.Fatalf("incremental parse: %v, %s", err, inc.LastPath)
	}
	tParse := time.Since(t0)
	if p, err = pl.Plan(cfg, lvs.Inputs{}); err != nil || pl.Computed != 1 {
		b.Fatalf("plan: %v, %d virtual servers computed again", err, pl.Computed)
	}
	tPlan := time.Since(t0) - tParse
	// The part of the incremental parse that grows with the file: reading it and comparing it.
	t1 := time.Now()
	again, err := os.ReadFile(conf)
	if err != nil {
		b.Fatal(err)
	}
	tRead := time.Since(t1)
	t1 = time.Now()
	same := string(again) == string(changed)
	tCompare := time.Since(t1)
	if !same {
		b.Fatal("the file is not what was written")
	}
	t1 = time.Now()
	ch, err := r.Apply(p.Services)
	if err != nil {
		b.Fatal(err)
	}
	tApply := time.Since(t1)
	if ch != (lvs.Changes{DestsUpdated: 1}) {
		b.Fatalf("one-line change made %v", ch)
	}
	t1 = time.Now()
	if _, err := r.Resync(p.Services); err != nil {
		b.Fatal(err)
	}
	tResync := time.Since(t1)
	if _, err := r.Shutdown(); err != nil {
		b.Fatal(err)
	}
	b.Logf("xalived in process: cold %v; one-line change: incremental parse %v (of which reading the file takes about %v and comparing it %v), Planner %v, Apply %v (a full parse: %v, FromConfig %v, a full Resync: %v)",
		inCold, tParse, tRead, tCompare, tPlan, tApply, tFullParse, tFullPlan, tResync)

	// The daemons.
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	xns := nstest.New(b, "bxd")
	xCold, xReload := runDaemon(b, "xalived", xns, conf, reloads, func() *exec.Cmd {
		return xns.Start(b, exe, daemonArg, conf, dir)
	})
	kns := nstest.New(b, "bk")
	kCold, kReload := runDaemon(b, "keepalived", kns, conf, reloads, func() *exec.Cmd {
		return kns.Start(b, "keepalived", "-n", "-C", "-f", conf, "-p", filepath.Join(dir, "k.pid"), "-c", filepath.Join(dir, "c.pid"))
	})
	xr, kr := median(xReload), median(kReload)
	// Where xalived's reloads spent their time, from its own log.
	if log, err := os.ReadFile(filepath.Join(dir, "xalived.log")); err == nil {
		for _, l := range strings.Split(string(log), "\n") {
			if strings.Contains(l, "SIGHUP") || strings.Contains(l, "ipvs updated") || strings.Contains(l, "reloaded") || strings.Contains(l, "reload:") {
				b.Log(l)
			}
		}
	}

	b.ReportMetric(ms(xCold), "xalived-cold-ms")
	b.ReportMetric(ms(kCold), "keepalived-cold-ms")
	b.ReportMetric(kCold.Seconds()/xCold.Seconds(), "cold-ratio")
	b.ReportMetric(ms(xr), "xalived-reload-ms")
	b.ReportMetric(ms(kr), "keepalived-reload-ms")
	b.ReportMetric(kr.Seconds()/xr.Seconds(), "reload-ratio")
	b.ReportMetric(ms(slices.Min(xReload)), "xalived-reload-min-ms")
	b.ReportMetric(ms(slices.Min(kReload)), "keepalived-reload-min-ms")
	b.ReportMetric(ms(tParse), "inproc-parse-ms")
	b.ReportMetric(ms(tPlan), "inproc-plan-ms")
	b.ReportMetric(ms(tApply), "inproc-apply-ms")
	b.ReportMetric(ms(tFullParse), "inproc-full-parse-ms")
	b.ReportMetric(ms(tFullPlan), "inproc-full-plan-ms")
	b.Logf("kernel %s: cold start xalived %v, keepalived %v (x%.1f); one-line change SIGHUP to kernel, median of %d: xalived %v %v, keepalived %v %v (x%.1f)",
		vmenv.Release(), xCold, kCold, kCold.Seconds()/xCold.Seconds(), reloads, xr, xReload, kr, kReload, kr.Seconds()/xr.Seconds())
}
