package tests

import (
	"fmt"

	"github.com/xalived/xalived/internal/nstest"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
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
	{name: "kill-1s-v2", advert: "1", version: 2, probe: 5 * time.Millisecond},
	{name: "kill-100ms-v3", advert: "0.1", version: 3, probe: 2 * time.Millisecond},
	{name: "kill-10ms-v3", advert: "0.01", version: 3, probe: time.Millisecond},
	{name: "term-100ms-v3", advert: "0.1", version: 3, term: true, probe: 2 * time.Millisecond},
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
func BenchmarkFailover(b *testing.B) {
	for _, fc := range failoverCases {
		b.Run(fc.name, func(b *testing.B) {
			res := map[string][]time.Duration{}
			for range b.N {
				for _, kind := range benchKinds() {
					res[string(kind)] = append(res[string(kind)], failoverRuns(b, fc, kind, benchRuns())...)
				}
			}
			med, worst := map[string]float64{}, map[string]float64{}
			for k, ds := range res {
				slices.Sort(ds)
				med[k] = ms(ds[len(ds)/2])
				worst[k] = ms(ds[len(ds)-1])
				name := map[string]string{"k": "keepalived", "x": "xalived"}[k]
				b.ReportMetric(med[k], name+"-median-ms")
				b.ReportMetric(worst[k], name+"-worst-ms")
				b.Logf("%s %s: n=%d median %.1f ms worst %.1f ms best %.1f ms; all: %v", fc.name, name, len(ds), med[k], worst[k], ms(ds[0]), ds)
			}
			if med["k"] > 0 {
				b.ReportMetric(med["x"]/med["k"], "median-ratio-x/k")
				b.ReportMetric(worst["x"]/worst["k"], "worst-ratio-x/k")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
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
// current master over n times, returning the client gap of each run.
func failoverRuns(b *testing.B, fc failoverCase, kind byte, n int) []time.Duration {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	l := NewLab(b, 2)
	inst := Inst{Name: "VI_1", VRID: 51, Priority: 100, AdvertInt: fc.advert, Version: fc.version,
		VIPs: []string{vip4 + "/24"}}
	confs := make([]string, 2)
	sp := make([]Speaker, 2)
	for i, nd := range l.Nodes {
		confs[i] = Conf{RouterID: fmt.Sprintf("n%d", i+1), Insts: []Inst{inst}}.Render(nd, nil)
		sp[i] = newSpeaker(b, kind, nd)
	}
	due := 10 * time.Second
	sp[0].Start(b, confs[0])
	WaitState(b, sp[0], "VI_1", "MASTER", due)
	sp[1].Start(b, confs[1])
	WaitState(b, sp[1], "VI_1", "BACKUP", due)
	p := l.Probe(b, vip4, fc.probe)
	var gaps []time.Duration
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
		p.WaitReplyAfter(b, time.Now(), 5*time.Second)
		gaps = append(gaps, p.Gap(t0))
		// The old master returns as a backup (equal priority: it accepts the new master).
		if fc.term {
			sp[master].Start(b, confs[master])
		} else {
			Recover(b, sp[master], confs[master])
		}
		nstest.WaitFor(b, due, "the old master back as BACKUP", func() bool {
			st := sp[master].State(b, "VI_1")
			return st == "BACKUP" || st == "MASTER" // a tie-break may make it MASTER; the next run re-checks
		})
	}
	return gaps
}
