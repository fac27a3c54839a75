package check

import (
	"bufio"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
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
	"github.com/xalived/xalived/pkg/notify"
)

func runScheduler(t *testing.T, s *Scheduler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// A real backend flaps (its listener closes and reopens); the scheduler must call notify_down and
// notify_up exactly once per real change, in order, publish the same changes on Events, and
// report them in Status.
func TestSchedulerFlappingBackend(t *testing.T) {
	if !isInner(t) {
		testenv.RequireRoot(t)
		inNetns(t, topology(t))
		return
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	rec := filepath.Join(dir, "rec.sh")
	if err := os.WriteFile(rec, []byte("#!/bin/sh\necho \"$*\" >> "+log+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	up, _ := notify.ParseScript(rec + " up 198.51.100.2")
	down, _ := notify.ParseScript(rec + " down 198.51.100.2")
	fifo := filepath.Join(dir, "lvs.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	fifoLines := make(chan string, 16)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fifoLines <- sc.Text()
		}
	}()
	d := notify.New(notify.Config{ScriptTimeout: 5 * time.Second, LVSFIFO: fifo})
	nctx, ncancel := context.WithCancel(context.Background())
	ndone := make(chan struct{})
	go func() { _ = d.Run(nctx); close(ndone) }()
	defer func() { ncancel(); <-ndone }()

	addr := serverIP4 + ":8090"
	var ln net.Listener
	open := func() {
		var err error
		for i := 0; i < 100; i++ {
			if ln, err = net.Listen("tcp", addr); err == nil {
				go func(l net.Listener) {
					for {
						c, err := l.Accept()
						if err != nil {
							return
						}
						c.Close()
					}
				}(ln)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal(err)
	}
	open()
	qup, _ := notify.ParseScript(rec + " quorum_up")
	qdown, _ := notify.ParseScript(rec + " quorum_down")
	zero := time.Duration(0)
	vs := VirtualServer{Key: VSKey{Addr: netip.MustParseAddr("203.0.113.10"), Port: 80, Protocol: "TCP"}, QuorumUp: &qup, QuorumDown: &qdown,
		RealServers: []RealServer{{Addr: netip.MustParseAddr(serverIP4), Port: 8090, Weight: 1, NotifyUp: &up, NotifyDown: &down,
			Checkers: []Spec{{Kind: TCP, Common: Common{DelayLoop: 100 * time.Millisecond, DelayBeforeRetry: ptr(50 * time.Millisecond), Retry: ptr(1), ConnectTimeout: 200 * time.Millisecond, Warmup: &zero}}}}}}
	s, err := New([]VirtualServer{vs}, Config{Notify: d})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		events []string
	)
	go func() {
		for e := range s.Events() {
			mu.Lock()
			events = append(events, map[bool]string{true: "up", false: "down"}[e.Alive])
			mu.Unlock()
		}
	}()
	stop := runScheduler(t, s)
	healthy := func() bool { return s.Status()[0].RealServers[0].Healthy }
	// Event-driven, not timed: each phase lasts until the checker has seen it.
	for i := 0; i < 2; i++ {
		time.Sleep(300 * time.Millisecond) // several successful runs while up
		ln.Close()
		nstest.WaitFor(t, 20*time.Second, "the real server to go down", func() bool { return !healthy() })
		open()
		nstest.WaitFor(t, 20*time.Second, "the real server to come back", healthy)
	}
	time.Sleep(300 * time.Millisecond)
	st := s.Status()
	stop()
	ln.Close()
	want := []string{"down 198.51.100.2", "quorum_down", "up 198.51.100.2", "quorum_up", "down 198.51.100.2", "quorum_down", "up 198.51.100.2", "quorum_up"}
	calls := waitFileLines(t, log, len(want))
	if !slices.Equal(calls, want) {
		t.Fatalf("notify calls %q, want %q", calls, want)
	}
	mu.Lock()
	defer mu.Unlock()
	// The first event is the initial state (up: no alpha), then one per change.
	if !slices.Equal(events, []string{"up", "down", "up", "down", "up"}) {
		t.Fatalf("events %q", events)
	}
	rsLine := "RS [198.51.100.2]:tcp:8090 [203.0.113.10]:tcp:80 "
	vsLine := "VS [203.0.113.10]:tcp:80 "
	for i, want := range []string{rsLine + "DOWN", vsLine + "DOWN", rsLine + "UP", vsLine + "UP", rsLine + "DOWN", vsLine + "DOWN", rsLine + "UP", vsLine + "UP"} {
		select {
		case got := <-fifoLines:
			if got != want {
				t.Fatalf("lvs FIFO line %d: %q, want %q", i, got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("lvs FIFO line %d (%q) did not come", i, want)
		}
	}
	if !st[0].RealServers[0].Healthy || st[0].RealServers[0].Weight != 1 {
		t.Fatalf("final status %+v", st)
	}
	js, _ := json.Marshal(st)
	for _, k := range []string{`"address":"203.0.113.10"`, `"port":80`, `"protocol":"TCP"`, `"real_servers":[{"address":"198.51.100.2","port":8090,"weight":1,"healthy":true`} {
		if !strings.Contains(string(js), k) {
			t.Errorf("status JSON lacks %s: %s", k, js)
		}
	}
}

func waitFileLines(t *testing.T, path string, n int) []string {
	t.Helper()
	var lines []string
	nstest.WaitFor(t, 10*time.Second, "lines in "+path, func() bool {
		b, _ := os.ReadFile(path)
		lines = strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		return len(b) > 0 && len(lines) >= n
	})
	return lines
}

// Checks against servers that never answer and scripts that ignore SIGTERM, run far more often
// than they can finish: nothing piles up. Each checker has at most one run (one script) at a
// time, slots that pass are skipped and counted, and everything is gone after Run returns.
func TestSchedulerNoPileUp(t *testing.T) {
	if !isInner(t) {
		testenv.RequireRoot(t)
		inNetns(t, topology(t))
		return
	}
	acceptAndHold(t, listen(t, "tcp", serverIP4+":8081"))
	dir := t.TempDir()
	stubborn := filepath.Join(dir, "stubborn.sh")
	overlap := filepath.Join(dir, "overlap")
	// Each copy checks that the previous copy for the same checker ($1) is gone before it starts.
	body := "#!/bin/sh\ntrap '' TERM\npf=" + dir + "/pid.$1\n" +
		"if [ -f $pf ] && kill -0 $(cat $pf) 2>/dev/null; then echo $1 >> " + overlap + "; fi\n" +
		"echo $$ > $pf\nwhile :; do sleep 0.05; done\n"
	if err := os.WriteFile(stubborn, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	zero := time.Duration(0)
	com := Common{DelayLoop: 100 * time.Millisecond, ConnectTimeout: 300 * time.Millisecond, Warmup: &zero, Retry: ptr(0), DelayBeforeRetry: ptr(50 * time.Millisecond)}
	var rss []RealServer
	const nHTTP, nMisc = 200, 10
	for i := 0; i < nHTTP; i++ {
		rss = append(rss, RealServer{Addr: netip.MustParseAddr(serverIP4), Port: uint16(10000 + i), Weight: 1, Checkers: []Spec{
			{Kind: HTTP, Common: Common{ConnectPort: 8081, DelayLoop: com.DelayLoop, ConnectTimeout: com.ConnectTimeout, Warmup: &zero, Retry: com.Retry, DelayBeforeRetry: com.DelayBeforeRetry},
				HTTP: &HTTPSpec{URLs: []URL{{Path: "/"}}}}}})
	}
	for i := 0; i < nMisc; i++ {
		rss = append(rss, RealServer{Addr: netip.MustParseAddr(serverIP4), Port: uint16(20000 + i), Weight: 1, Checkers: []Spec{
			{Kind: MISC, Common: com, Misc: &MiscSpec{Path: stubborn + " " + strconv.Itoa(i), Timeout: 200 * time.Millisecond}}}})
	}
	s, err := New([]VirtualServer{{Key: VSKey{Addr: netip.MustParseAddr("203.0.113.10"), Port: 80, Protocol: "TCP"}, RealServers: rss}}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range s.Events() {
		}
	}()
	before := runtime.NumGoroutine()
	start := time.Now()
	stop := runScheduler(t, s)
	maxScripts := 0
	allDown := func() bool {
		maxScripts = max(maxScripts, countProcs(stubborn))
		for _, v := range s.Status() {
			for _, r := range v.RealServers {
				if r.Healthy {
					return false
				}
			}
		}
		return true
	}
	nstest.WaitFor(t, 30*time.Second, "every real server to be declared down", allDown)
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		maxScripts = max(maxScripts, countProcs(stubborn))
	}
	st := s.Stats()
	stop()
	elapsed := time.Since(start)
	if b, err := os.ReadFile(overlap); err == nil {
		t.Errorf("a MISC_CHECK script started while the previous one of the same checker still ran: %q", b)
	}
	if maxScripts > 2*nMisc {
		t.Errorf("%d copies of the script seen at once (one per checker, plus scan races), want at most %d", maxScripts, 2*nMisc)
	}
	if n := countProcs(stubborn); n != 0 {
		t.Errorf("%d scripts left after Run returned", n)
	}
	if st.Skipped == 0 {
		t.Errorf("stats %+v: no slot was skipped although every check outlives its delay_loop", st)
	}
	// One run at a time per checker: an HTTP run lasts its 300 ms timeout, so no checker can
	// have run more than elapsed/300ms (+1) times.
	if maxRuns := uint64(nHTTP+nMisc) * uint64(elapsed/(300*time.Millisecond)+1); st.Runs > maxRuns || st.Runs < nHTTP+nMisc {
		t.Errorf("stats %+v: runs outside [%d,%d] in %v", st, nHTTP+nMisc, maxRuns, elapsed)
	}
	time.Sleep(100 * time.Millisecond)
	if after := runtime.NumGoroutine(); after > before+5 {
		t.Errorf("goroutines: %d before, %d after Run returned", before, after)
	}
	t.Logf("stats %+v, at most %d scripts at once", st, maxScripts)
}

// countProcs counts live processes whose command line mentions path.
func countProcs(path string) int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !strings.Contains(string(b), path) {
			continue
		}
		if st, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil && strings.Contains(string(st), ") Z ") {
			continue
		}
		n++
	}
	return n
}

// Warmup offsets stay in [0, warmup) and, for warmups of several slots, on the phase grid (so
// that checkers share wakeups); every slot gets used.
func TestWarmupOffsetGrid(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[time.Duration]bool{}
	for i := 0; i < 5000; i++ {
		d := warmupOffset(rng, time.Second)
		if d < 0 || d >= time.Second || d%phaseGrid != 0 {
			t.Fatalf("offset %v: want a multiple of %v in [0, 1s)", d, phaseGrid)
		}
		seen[d] = true
	}
	if len(seen) != int(time.Second/phaseGrid) {
		t.Fatalf("%d slots used, want %d", len(seen), time.Second/phaseGrid)
	}
	if d := warmupOffset(rng, 15*time.Millisecond); d < 0 || d >= 15*time.Millisecond {
		t.Fatalf("short warmup offset %v", d)
	}
}
