package check

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/internal/testenv"
	"github.com/xalived/xalived/pkg/config"
)

const (
	// benchPathEnv picks the probes BenchmarkScheduler10k measures: "std" (the net.Dialer /
	// net/http baseline) or "raw" (ours); unset, the outer run measures both.
	benchPathEnv  = "XALIVED_CHECK_BENCH_PATH"
	serveEnv      = "XALIVED_CHECK_SERVE"
	benchPorts    = 8
	benchAddrs    = 16
	benchFirstIP  = 10 // 198.51.100.10 ...
	benchBasePort = 8100
)

// TestServeForBenchmark is not a test: with XALIVED_CHECK_SERVE set, the benchmark runs this
// binary as the real servers' process (so the checker's CPU is measured alone). Otherwise it
// returns at once.
func TestServeForBenchmark(t *testing.T) {
	if os.Getenv(serveEnv) == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(okBody)) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	for p := 0; p < benchPorts; p++ {
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(benchBasePort+p))
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = srv.Serve(ln) }()
	}
	fmt.Println("serving")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	_ = srv.Close()
}

func rusageCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScheduler10k runs 10,000 real servers (half HTTP_GET with a digest, half TCP_CHECK,
// delay_loop 1 s, connect_timeout 1 s, warmup 1 s) against local servers in a namespace for
// 10 s (XALIVED_CHECK_BENCH_RS and XALIVED_CHECK_BENCH_WINDOW change both) and reports how late checks start (p50/p99/max) and the CPU the checker used
// (getrusage of this process; the servers run in another process). keepalived's checker on the
// same configuration needs IPVS, so its side-by-side run belongs to the VM tier.
func BenchmarkScheduler10k(b *testing.B) {
	if !isInner(b) {
		testenv.RequireRoot(b)
		ns := topology(b)
		for i := 0; i < benchAddrs; i++ {
			ns.MustRun(b, "ip", "addr", "add", "198.51.100."+strconv.Itoa(benchFirstIP+i)+"/32", "dev", "s0")
		}
		// 10,000 connections a second between local addresses: reuse TIME_WAIT ports and use
		// the whole ephemeral range (both per-namespace sysctls).
		ns.MustRun(b, "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1", "net.ipv4.ip_local_port_range=1024 65000", "net.core.somaxconn=4096")
		startBenchServer(b, ns)
		// The baseline (the net.Dialer / net/http probes) runs first, against the same servers.
		paths := []string{"std", "raw"}
		if p := os.Getenv(benchPathEnv); p != "" {
			paths = []string{p}
		}
		perCheck := map[string]float64{}
		for _, path := range paths {
			extra := []string{}
			if p := os.Getenv("XALIVED_CHECK_CPUPROFILE"); p != "" {
				extra = append(extra, "-test.cpuprofile="+p+"."+path)
			}
			b.Setenv(benchPathEnv, path)
			for _, l := range strings.Split(inNetns(b, ns, extra...), "\n") {
				if strings.Contains(l, "Benchmark") || strings.Contains(l, "lateness") {
					b.Log(path + ": " + strings.TrimSpace(l))
				}
				if f := strings.Fields(l); len(f) > 0 && strings.Contains(l, "BenchmarkScheduler10k") {
					for i := 1; i < len(f); i++ {
						if f[i] == "cpu-us/check" {
							perCheck[path], _ = strconv.ParseFloat(f[i-1], 64)
						}
					}
				}
			}
		}
		for path, v := range perCheck {
			b.ReportMetric(v, path+"-cpu-us/check")
		}
		if perCheck["std"] > 0 && perCheck["raw"] > 0 {
			b.ReportMetric(perCheck["raw"]/perCheck["std"], "raw/std-cpu")
		}
		return
	}
	n, run := 10000, 10*time.Second
	// Knobs for iterating on a busy machine; the figures are for the defaults.
	if v, err := strconv.Atoi(os.Getenv("XALIVED_CHECK_BENCH_RS")); err == nil && v > 0 {
		n = v
	}
	if v, err := time.ParseDuration(os.Getenv("XALIVED_CHECK_BENCH_WINDOW")); err == nil && v > 2*time.Second {
		run = v
	}
	// xalived runs exactly the keepalived.conf the VM tier will give keepalived's checker.
	cfg, _, err := config.Parse("bench.conf", []byte(benchConfig(n)), config.Options{ConfigID: "bench"})
	if cfg == nil {
		b.Fatalf("bench config: %v", err)
	}
	vss, _, err := FromConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var (
		mu       sync.Mutex
		lateness = make([]time.Duration, 0, n*12)
		fails    int
		errKinds = map[string]int{}
		started  time.Time
	)
	s, err := New(vss, Config{
		Observe: func(r RunInfo) {
			mu.Lock()
			if r.Start.After(started.Add(time.Second)) { // after the warmup spread
				lateness = append(lateness, r.Start.Sub(r.Due))
				if !r.OK {
					fails++
					if r.Err != nil {
						msg := r.Err.Error()
						if i := strings.LastIndex(msg, ": "); i >= 0 {
							msg = msg[i+2:]
						}
						errKinds[msg]++
					}
				}
			}
			mu.Unlock()
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	if os.Getenv(benchPathEnv) == "std" {
		s.baseline = stdProbe
	}
	go func() {
		for range s.Events() {
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b.ResetTimer()
	cpu0, t0 := rusageCPU(), time.Now()
	mu.Lock()
	started = t0
	mu.Unlock()
	go func() { _ = s.Run(ctx); close(done) }()
	time.Sleep(run)
	cpu1, t1 := rusageCPU(), time.Now()
	cancel()
	<-done
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lateness)
	pct := func(p float64) float64 {
		if len(lateness) == 0 {
			return 0
		}
		return float64(lateness[int(p*float64(len(lateness)-1))].Microseconds()) / 1000
	}
	cores := float64(cpu1-cpu0) / float64(t1.Sub(t0))
	st := s.Stats()
	b.ReportMetric(pct(0.50), "late-p50-ms")
	b.ReportMetric(pct(0.99), "late-p99-ms")
	b.ReportMetric(pct(1), "late-max-ms")
	b.ReportMetric(cores, "cpu-cores")
	if st.Runs > 0 {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(st.Runs), "cpu-us/check")
	}
	b.ReportMetric(float64(len(lateness))/(run-time.Second).Seconds(), "checks/s")
	b.ReportMetric(float64(fails), "failed-checks")
	b.ReportMetric(float64(st.Skipped), "skipped-slots")
	var load string
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.TrimSpace(string(b))
	}
	b.Logf("lateness p50 %.2f ms p99 %.2f ms max %.2f ms over %d checks; %.3f cores; %d failed %v; stats %+v; loadavg %s",
		pct(0.5), pct(0.99), pct(1), len(lateness), cores, fails, errKinds, st, load)
}

// BenchmarkProbeCost measures what one probe costs the checker process, independent of the
// schedule and of the machine's load: CPU, heap bytes and allocations per TCP_CHECK and
// HTTP_GET (2,000 probes each against a local server in a namespace, one after the other), for
// our probes and for the net.Dialer / net/http baseline (std-...).
func BenchmarkProbeCost(b *testing.B) {
	if !isInner(b) {
		testenv.RequireRoot(b)
		ns := topology(b)
		startBenchServer(b, ns)
		for _, l := range strings.Split(inNetns(b, ns), "\n") {
			if strings.Contains(l, "/check") {
				b.Log(strings.TrimSpace(l))
			}
		}
		return
	}
	vs := VirtualServer{Key: VSKey{Addr: netip.MustParseAddr("203.0.113.10"), Port: 80, Protocol: "TCP"}, RealServers: []RealServer{
		{Addr: netip.MustParseAddr(serverIP4), Port: benchBasePort, Weight: 1, Checkers: []Spec{{Kind: TCP, Common: Common{ConnectTimeout: time.Second}}}},
		{Addr: netip.MustParseAddr(serverIP4), Port: benchBasePort, Weight: 1, Checkers: []Spec{{Kind: HTTP, Common: Common{ConnectTimeout: time.Second},
			HTTP: &HTTPSpec{URLs: []URL{{Path: "/", Digest: md5hex(okBody)}}}}}},
	}}
	s, err := New([]VirtualServer{vs}, Config{})
	if err != nil {
		b.Fatal(err)
	}
	const n = 2000
	for k, name := range []string{"tcp", "http", "std-tcp", "std-http"} {
		s.baseline = nil
		if k >= 2 {
			s.baseline = stdProbe
		}
		ck := s.rss[k%2].checkers[0]
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		cpu0 := rusageCPU()
		for j := 0; j < n; j++ {
			if o, err := s.probe(context.Background(), ck); !o.OK {
				b.Fatalf("%s probe: %v", name, err)
			}
		}
		cpu := rusageCPU() - cpu0
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(cpu.Microseconds())/n, name+"-cpu-us/check")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, name+"-B/check")
		b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, name+"-allocs/check")
	}
}

// startBenchServer runs the real servers (TestServeForBenchmark) as a separate process in ns,
// so getrusage and heap counters of the benchmark measure the checker alone.
func startBenchServer(b *testing.B, ns *nstest.NS) {
	b.Helper()
	srv := ns.Cmd(os.Args[0], "-test.run", "^TestServeForBenchmark$")
	srv.Env = append(os.Environ(), serveEnv+"=1")
	out, err := srv.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() })
	buf := make([]byte, 64)
	if n, _ := out.Read(buf); !strings.Contains(string(buf[:n]), "serving") {
		b.Fatalf("server did not start: %q", buf[:n])
	}
}

// benchConfig writes the benchmark's keepalived.conf: one virtual server with n real servers,
// half HTTP_GET (with the body's digest), half TCP_CHECK, delay_loop 1 s, connect_timeout 1 s,
// spread over benchAddrs addresses x benchPorts ports of the server process.
func benchConfig(n int) string { return benchConfigPorts(n, benchPorts) }

// benchConfigPorts is benchConfig over benchAddrs addresses x ports ports: real server i checks
// 198.51.100.(benchFirstIP + i%benchAddrs), port benchBasePort + (i/benchAddrs)%ports. With
// ports >= n/benchAddrs every real server has an endpoint of its own (benchEndpoint).
func benchConfigPorts(n, ports int) string {
	var b strings.Builder
	b.WriteString("global_defs {\n    router_id bench\n}\nvirtual_server 203.0.113.10 80 {\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n")
	for i := 0; i < n; i++ {
		ip := fmt.Sprintf("198.51.100.%d", benchFirstIP+i%benchAddrs)
		port := benchBasePort + (i/benchAddrs)%ports
		fmt.Fprintf(&b, "    real_server %s %d {\n        weight 1\n", serverIP4, 1+i)
		if i%2 == 0 {
			fmt.Fprintf(&b, "        HTTP_GET {\n            url {\n                path /\n                digest %s\n            }\n", md5hex(okBody))
		} else {
			b.WriteString("        TCP_CHECK {\n")
		}
		fmt.Fprintf(&b, "            connect_ip %s\n            connect_port %d\n            connect_timeout 1\n            warmup 1\n        }\n    }\n", ip, port)
	}
	b.WriteString("}\n")
	return b.String()
}

// benchEndpoint is the index of a server endpoint (address, port) in benchConfigPorts's layout,
// which is the real server's index when every real server has its own endpoint; -1 if outside.
func benchEndpoint(addr netip.AddrPort, ports int) int {
	ip := addr.Addr().Unmap()
	a := ip.As16()
	ai, pi := int(a[15])-benchFirstIP, int(addr.Port())-benchBasePort
	if !ip.Is4() || a[12] != 198 || a[13] != 51 || a[14] != 100 || ai < 0 || ai >= benchAddrs || pi < 0 || pi >= ports {
		return -1
	}
	return ai + pi*benchAddrs
}

const runConfEnv = "XALIVED_CHECK_RUNCONF"

// benchChildResult is what TestCheckersForBenchmark prints when it stops.
type benchChildResult struct {
	Runs, Failures, Skipped   int
	LateP50, LateP99, LateMax time.Duration
	Errors                    map[string]int
}

// TestCheckersForBenchmark is not a test: with XALIVED_CHECK_RUNCONF set to a keepalived.conf, the
// VM benchmark runs this binary as xalived's checker process (so its CPU is that of one process,
// measured from /proc like keepalived's). It runs the configuration's checkers; SIGUSR1 starts
// the measured window, SIGTERM ends it and the process prints benchChildResult as JSON.
// Otherwise it returns at once.
func TestCheckersForBenchmark(t *testing.T) {
	path := os.Getenv(runConfEnv)
	if path == "" {
		return
	}
	cfg, _, err := config.ParseFile(path, config.Options{ConfigID: "bench"})
	if cfg == nil {
		t.Fatalf("bench config: %v", err)
	}
	vss, _, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu        sync.Mutex
		recording bool
		res       = benchChildResult{Errors: map[string]int{}}
		lateness  []time.Duration
	)
	s, err := New(vss, Config{Observe: func(r RunInfo) {
		mu.Lock()
		defer mu.Unlock()
		if !recording {
			return
		}
		res.Runs++
		res.Skipped += r.Skipped
		lateness = append(lateness, r.Start.Sub(r.Due))
		if !r.OK {
			res.Failures++
			if r.Err != nil {
				msg := r.Err.Error()
				if i := strings.LastIndex(msg, ": "); i >= 0 {
					msg = msg[i+2:]
				}
				res.Errors[msg]++
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-s.Events():
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { defer wg.Done(); _ = s.Run(ctx) }()
	fmt.Println("ready")
	for v := range sig {
		mu.Lock()
		recording = v == syscall.SIGUSR1
		mu.Unlock()
		if v == syscall.SIGTERM {
			break
		}
	}
	cancel()
	wg.Wait()
	slices.Sort(lateness)
	if n := len(lateness); n > 0 {
		res.LateP50, res.LateP99, res.LateMax = lateness[n/2], lateness[n*99/100], lateness[n-1]
	}
	js, _ := json.Marshal(res)
	fmt.Printf("result %s\n", js)
}

// The benchmark's configuration is one keepalived accepts too (keepalived -t), so the VM tier
// can run keepalived's checker on the very same file.
func TestBenchConfigIsKeepalived(t *testing.T) {
	testenv.RequireCommand(t, "keepalived")
	p := filepath.Join(t.TempDir(), "bench.conf")
	if err := os.WriteFile(p, []byte(benchConfig(100)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("keepalived", "-t", "-f", p).CombinedOutput(); err != nil {
		t.Fatalf("keepalived -t: %v\n%s", err, out)
	}
	cfg, _, _ := config.Parse(p, []byte(benchConfig(100)), config.Options{ConfigID: "bench"})
	vss, _, err := FromConfig(cfg)
	if err != nil || len(vss) != 1 || len(vss[0].RealServers) != 100 {
		t.Fatalf("FromConfig: %v", err)
	}
	if k := vss[0].RealServers[0].Checkers[0].Kind; k != HTTP {
		t.Fatalf("first checker %s", k)
	}
}
