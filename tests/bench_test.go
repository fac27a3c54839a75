package tests

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/nstest"
)

// failoverCase is one row of the failover benchmark.
type failoverCase struct {
	name    string
	advert  string
	version int
	term    bool // SIGTERM (priority 0) instead of a crash
	probe   time.Duration
}

var failoverCases = []failoverCase{
	{name: "kill-1s-v2", advert: "1", version: 2, probe: time.Millisecond},
	{name: "kill-100ms-v3", advert: "0.1", version: 3, probe: 500 * time.Microsecond},
	{name: "kill-10ms-v3", advert: "0.01", version: 3, probe: 250 * time.Microsecond},
	{name: "term-100ms-v3", advert: "0.1", version: 3, term: true, probe: 500 * time.Microsecond},
}

func benchRuns() int {
	if n, err := strconv.Atoi(os.Getenv("XALIVED_BENCH_RUNS")); err == nil && n > 0 {
		return n
	}
	return 20
}

// BenchmarkFailover measures the client-side outage when the master dies (SIGKILL plus link down)
// or stops (SIGTERM), for xalived pairs and keepalived pairs on the same topology, and reports
// the median and worst of XALIVED_BENCH_RUNS runs (default 20) and xalived/keepalived ratios.
// XALIVED_BENCH_KINDS chooses the kinds ("kx"; X is xalived on XDP), XALIVED_BENCH_BUSY starts
// that many busy loops for the whole case, and XALIVED_TEST_RT=0 starts the daemons in the
// normal class (as a distribution does) instead of under chrt -r 10.
//
// The outage is the longest silence between echo replies from the VIP as a capture at the
// client's interface timestamps them (kernel time), while a dedicated thread sends an echo
// request every fc.probe (250 µs for the 10 ms case; see sprayEcho): neither ping's pacing
// during an outage nor a busy test process reading ping's output enters the figure. The same
// capture splits each outage into master-down detection (the old master's last advert to the
// new master's first), VIP and GARP (that advert to its first gratuitous ARP), and the client
// (that ARP to the first answered probe), reported per run and as medians.
func BenchmarkFailover(b *testing.B) {
	for _, fc := range failoverCases {
		b.Run(fc.name, func(b *testing.B) {
			if n := benchBusy(); n > 0 {
				// Busy loops for the whole case, alike for both kinds.
				startBusyLoops(b, n)
			}
			med, worst := runFailoverCase(b, fc, benchKinds(), map[byte]string{'k': "keepalived", 'x': "xalived", 'X': "xalived-xdp"})
			if med['k'] > 0 {
				b.ReportMetric(med['x']/med['k'], "median-ratio-x/k")
				b.ReportMetric(worst['x']/worst['k'], "worst-ratio-x/k")
			}
		})
	}
}

// runFailoverCase runs fc with each kind in turn (benchRuns runs each, b.N times), reports each
// kind's median and worst outage in ms under its name, logs the runs and their breakdown, and
// returns the medians and worsts by kind for the caller's ratios.
func runFailoverCase(b *testing.B, fc failoverCase, kinds []byte, names map[byte]string) (med, worst map[byte]float64) {
	res := map[byte][]time.Duration{}
	traces := map[byte][]failoverTrace{}
	for range b.N {
		for _, kind := range kinds {
			gaps, tr := failoverRuns(b, fc, kind, benchRuns())
			res[kind] = append(res[kind], gaps...)
			traces[kind] = append(traces[kind], tr...)
		}
	}
	med, worst = map[byte]float64{}, map[byte]float64{}
	for k, ds := range res {
		slices.Sort(ds)
		med[k], worst[k] = ms(ds[len(ds)/2]), ms(ds[len(ds)-1])
		b.ReportMetric(med[k], names[k]+"-median-ms")
		b.ReportMetric(worst[k], names[k]+"-worst-ms")
		b.Logf("%s %s: n=%d median %.1f ms worst %.1f ms best %.1f ms; all: %v", fc.name, names[k], len(ds), med[k], worst[k], ms(ds[0]), ds)
		reportTraces(b, fc, names[k], traces[k])
	}
	b.ReportMetric(0, "ns/op")
	return med, worst
}

// benchBusy is how many busy loops (normal class, in the host's namespace) compete with the
// daemons during BenchmarkFailover: XALIVED_BENCH_BUSY, default 0 (one per core: a busy machine).
func benchBusy() int {
	n, _ := strconv.Atoi(os.Getenv("XALIVED_BENCH_BUSY"))
	return max(n, 0)
}

// benchKinds is "kx" (keepalived baseline, then xalived) or XALIVED_BENCH_KINDS.
func benchKinds() []byte {
	if k := os.Getenv("XALIVED_BENCH_KINDS"); k != "" {
		return []byte(k)
	}
	return []byte("kx")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// failoverRuns sets up one pair of speakers of kind ('x' or 'k') at equal priority and fails the
// current master over n times, returning the client gap of each run and where it went.
func failoverRuns(b *testing.B, fc failoverCase, kind byte, n int) ([]time.Duration, []failoverTrace) {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	// Everything of this kind's runs (namespaces, daemons, the client's probes) ends with
	// them, not with the benchmark: the next kind must not share the CPUs with its leftovers
	// (a realtime ping that polls busily, a pair of daemons still advertising).
	sc := &cleanupScope{TB: b}
	defer sc.close()
	tb := testing.TB(sc)
	var l *Lab
	if kind == 'X' {
		l = xdpBenchLab(tb, 2) // XDP_TX on a veth needs a program on its peer
	} else {
		l = NewLab(tb, 2)
	}
	inst := Inst{Name: "VI_1", VRID: 51, Priority: 100, AdvertInt: fc.advert, Version: fc.version,
		VIPs: []string{vip4 + "/24"}}
	confs := make([]string, 2)
	sp := make([]Speaker, 2)
	for i, nd := range l.Nodes {
		confs[i] = Conf{RouterID: fmt.Sprintf("n%d", i+1), Insts: []Inst{inst}}.Render(nd, nil)
		sp[i] = newSpeaker(tb, kind, nd)
	}
	due := 10 * time.Second
	sp[0].Start(tb, confs[0])
	WaitState(b, sp[0], "VI_1", "MASTER", due)
	sp[1].Start(tb, confs[1])
	WaitState(b, sp[1], "VI_1", "BACKUP", due)
	// The client's view of every run: its probes and their replies, the adverts, the ARPs.
	stopCapture := startCapture(tb, l.Client, "eth0", "arp or icmp or ip proto 112")
	// Dense probes the capture times (see sprayEcho), and a ping to wait for answers with.
	sprayEcho(tb, l.Client, vip4, fc.probe)
	p := l.Probe(tb, vip4, probePing)
	var gaps []time.Duration
	var runs []failoverRun
	var fired []string
	unsettled := 0
	for len(gaps) < n {
		// Find the master now: a restarted node may have won an equal-priority tie-break. On a
		// starved machine a 10 ms pair can flap; such a run is counted, not measured.
		master := -1
		deadline := time.Now().Add(due)
		for master < 0 && time.Now().Before(deadline) {
			s0, s1 := sp[0].State(b, "VI_1"), sp[1].State(b, "VI_1")
			switch {
			case s0 == "MASTER" && s1 == "BACKUP":
				master = 0
			case s1 == "MASTER" && s0 == "BACKUP":
				master = 1
			default:
				time.Sleep(10 * time.Millisecond)
			}
		}
		if master < 0 {
			unsettled++
			b.Logf("%s %c: pair did not settle to one MASTER and one BACKUP within %v; run skipped", fc.name, kind, due)
			if unsettled > n {
				b.Fatalf("%s %c: the pair never settled", fc.name, kind)
			}
			continue
		}
		other := 1 - master
		p.WaitReplyAfter(b, time.Now(), 5*time.Second)
		time.Sleep(100 * time.Millisecond)
		t0 := time.Now()
		if fc.term {
			sp[master].Term(b)
		} else {
			Crash(b, sp[master])
		}
		WaitState(b, sp[other], "VI_1", "MASTER", due)
		if kind == 'x' {
			// The new master's own account of its master-down timer (xalived -D).
			fired = append(fired, lastLine(sp[other].Log(), "master-down timer fired"))
		}
		p.WaitReplyAfter(b, time.Now(), 5*time.Second)
		gaps = append(gaps, p.Gap(t0))
		runs = append(runs, failoverRun{t0: t0, end: time.Now(), oldMaster: l.Nodes[master].IPv4, newMaster: l.Nodes[other].IPv4})
		// The old master returns as a backup (equal priority: it accepts the new master).
		if fc.term {
			sp[master].Start(tb, confs[master])
		} else {
			Recover(tb, sp[master], confs[master])
		}
		nstest.WaitFor(b, due, "the old master back as BACKUP", func() bool {
			st := sp[master].State(b, "VI_1")
			return st == "BACKUP" || st == "MASTER" // a tie-break may make it MASTER; the next run re-checks
		})
	}
	if len(fired) > 0 {
		b.Logf("%s %c master-down timers as the new master logged them: %s", fc.name, kind, strings.Join(fired, "; "))
	}
	interval, _ := time.ParseDuration(fc.advert + "s")
	traces := traceFailovers(b, stopCapture(), runs, interval)
	for i, tr := range traces {
		// The client's interface, with kernel timestamps and dense probes, is the measure; the
		// ping's own timestamps only where the capture shows no outage.
		if tr.outage > 0 {
			gaps[i] = tr.outage
		} else {
			b.Logf("%s %c run %d: no outage in the client's capture; ping's gap %v counts", fc.name, kind, i+1, gaps[i])
		}
	}
	return gaps, traces
}

// probePing is the interval of the ping that tells when the VIP answers again (the figures come
// from the capture): iputils ping polls busily for the last millisecond before each echo, and
// at 1 ms under chrt it would take a realtime CPU from the daemons it measures.
const probePing = 10 * time.Millisecond

// cleanupScope runs the cleanups registered through it when close is called, instead of at the
// end of the test or benchmark.
type cleanupScope struct {
	testing.TB
	fns []func()
}

func (s *cleanupScope) Cleanup(f func()) { s.fns = append(s.fns, f) }

func (s *cleanupScope) close() {
	for i := len(s.fns) - 1; i >= 0; i-- {
		s.fns[i]()
	}
	s.fns = nil
}

// failoverRun is when one failover began and ended and which nodes were involved.
type failoverRun struct {
	t0, end              time.Time
	oldMaster, newMaster string // IPv4 addresses, the sources of their adverts
}

// failoverTrace is where one failover's outage went, as the client's interface saw it.
// outage = detect + vip + client - silent.
type failoverTrace struct {
	outage time.Duration // last reply before the outage to the first one after
	silent time.Duration // the old master's last advert to the last reply: normally under one interval
	detect time.Duration // the old master's last advert to the new master's first: master-down interval + lateness
	vip    time.Duration // that advert to the new master's first gratuitous ARP for the VIP
	client time.Duration // that ARP to the first reply: the client's neighbour update and next probe
	ok     bool
	why    string // what the capture lacked when not ok
}

// traceFailovers splits each run's outage using the client's capture.
func traceFailovers(b *testing.B, file string, runs []failoverRun, interval time.Duration) []failoverTrace {
	b.Helper()
	type event struct {
		at   time.Duration
		kind byte    // 'r' reply from the VIP, 'a' VRRP advert, 'g' gratuitous ARP for the VIP
		src  [4]byte // advert source
	}
	vip := netip.MustParseAddr(vip4).As4()
	var evs []event
	f, err := os.Open(file)
	if err != nil {
		b.Errorf("failover trace: %v", err)
		return nil
	}
	defer f.Close()
	err = readFrames(bufio.NewReader(f), func(at time.Duration, fr []byte) {
		if len(fr) < 14+28 {
			return
		}
		switch binary.BigEndian.Uint16(fr[12:]) {
		case 0x0806: // ARP: sender and target protocol address both the VIP
			if [4]byte(fr[14+14:14+18]) == vip && [4]byte(fr[14+24:14+28]) == vip {
				evs = append(evs, event{at: at, kind: 'g'})
			}
		case 0x0800:
			ip := fr[14:]
			ihl := int(ip[0]&0xf) * 4
			switch {
			case ip[9] == 1 && [4]byte(ip[12:16]) == vip && len(ip) > ihl && ip[ihl] == 0: // echo reply
				evs = append(evs, event{at: at, kind: 'r'})
			case ip[9] == 112:
				evs = append(evs, event{at: at, kind: 'a', src: [4]byte(ip[12:16])})
			}
		}
	})
	if err != nil {
		b.Errorf("failover trace: %v", err)
	}
	var out []failoverTrace
	for _, run := range runs {
		// From before the old master's last advert: up to one interval before t0.
		from, to := time.Duration(run.t0.UnixNano())-max(50*time.Millisecond, 2*interval), time.Duration(run.end.UnixNano())
		nm, om := netip.MustParseAddr(run.newMaster).As4(), netip.MustParseAddr(run.oldMaster).As4()
		var tr failoverTrace
		// The outage: the longest interval between replies that ends after t0.
		var last, r1, r2 time.Duration
		for _, e := range evs {
			if e.kind != 'r' || e.at < from || e.at > to {
				continue
			}
			if last != 0 && e.at > time.Duration(run.t0.UnixNano()) && e.at-last > r2-r1 {
				r1, r2 = last, e.at
			}
			last = e.at
		}
		var adv, garp, oldAdv time.Duration
		for _, e := range evs {
			if e.kind == 'a' && e.src == om && e.at <= r2 && e.at >= from {
				oldAdv = e.at
			}
			if e.at <= r1 || e.at > r2 {
				continue
			}
			if e.kind == 'a' && e.src == nm && adv == 0 {
				adv = e.at
			}
			if e.kind == 'g' && adv != 0 && garp == 0 {
				garp = e.at
			}
		}
		if r2 > r1 && adv != 0 && garp != 0 && oldAdv != 0 && oldAdv < adv {
			tr = failoverTrace{outage: r2 - r1, silent: r1 - oldAdv, detect: adv - oldAdv, vip: garp - adv, client: r2 - garp, ok: true}
		} else if r2 > r1 {
			tr.outage = r2 - r1
			tr.why = fmt.Sprintf("outage %.2f ms; new master's advert in it %v, its GARP after that %v, old master's advert before the new one's %v",
				ms(r2-r1), adv != 0, garp != 0, oldAdv != 0 && oldAdv < adv)
		} else {
			tr.why = "no outage between replies"
		}
		out = append(out, tr)
	}
	return out
}

// reportTraces logs each run's breakdown and reports the median of each part. A run whose old
// master fell silent on the wire more than two intervals before its link went down (a machine
// so loaded that the daemon did not run) is flagged: its outage is shorter than a crash's.
func reportTraces(b *testing.B, fc failoverCase, name string, trs []failoverTrace) {
	interval, _ := time.ParseDuration(fc.advert + "s")
	var detect, vip, client []time.Duration
	var lines []string
	for i, t := range trs {
		if !t.ok {
			lines = append(lines, fmt.Sprintf("run %d: not in the capture (%s)", i+1, t.why))
			continue
		}
		note := ""
		if t.silent > 2*interval {
			note = " (old master silent before its crash)"
		}
		detect, vip, client = append(detect, t.detect), append(vip, t.vip), append(client, t.client)
		lines = append(lines, fmt.Sprintf("run %d: %.2f = %.2f + %.2f + %.2f - %.2f%s", i+1,
			ms(t.outage), ms(t.detect), ms(t.vip), ms(t.client), ms(t.silent), note))
	}
	// One line: go test shows only the first lines of a benchmark's log.
	b.Logf("%s %s outages (ms) = detection (old master's last advert to the new one's first) + VIP and GARP + client (GARP to first answer) - old master's last advert to its last answer: %s",
		fc.name, name, strings.Join(lines, "; "))
	for _, part := range []struct {
		unit string
		ds   []time.Duration
	}{{"detect", detect}, {"garp", vip}, {"client", client}} {
		if len(part.ds) > 0 {
			slices.Sort(part.ds)
			b.ReportMetric(ms(part.ds[len(part.ds)/2]), fmt.Sprintf("%s-%s-median-ms", name, part.unit))
		}
	}
}

// lastLine returns the fields after the message of the last line of log containing msg
// (slog's text format: the key=value pairs), or "-".
func lastLine(log, msg string) string {
	i := strings.LastIndex(log, msg)
	if i < 0 {
		return "-"
	}
	line := log[i+len(msg):]
	if j := strings.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	return strings.TrimSpace(strings.Trim(line, `"`))
}
