package check

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

// sim drives one real server's checkers with an injected clock: the same Step, Aggregate and
// nextDue the Scheduler uses. outcome(checker, run index, time) decides each probe, which takes
// took. It returns the real server's transitions as "t UP|DOWN weight" (what notify_up /
// notify_down and the lvs reconciler see).
func sim(cs []Common, base int, took time.Duration, until time.Duration, outcome func(ck, run int, t time.Duration) Outcome) []string {
	type ck struct {
		c   Common
		st  CheckerState
		due time.Duration
		n   int
	}
	var cks []*ck
	var states []CheckerState
	for _, c := range cs {
		k := &ck{c: c, st: InitialState(c)}
		cks = append(cks, k)
		states = append(states, k.st)
	}
	rs := Aggregate(base, states)
	var out []string
	epoch := time.Unix(0, 0)
	for {
		// Next checker due (ties: lowest index first).
		var k *ck
		ki := -1
		for i, c := range cks {
			if k == nil || c.due < k.due {
				k, ki = c, i
			}
		}
		if k.due > until {
			return out
		}
		now := k.due
		o := outcome(ki, k.n, now)
		k.n++
		var delay time.Duration
		k.st, delay = Step(k.c, k.st, o)
		end := now + took
		next, _ := nextDue(epoch.Add(k.due), epoch.Add(end), delay, k.st.Up && k.st.Failures > 0)
		k.due = next.Sub(epoch)
		for i, c := range cks {
			states[i] = c.st
		}
		prev := rs
		rs = Aggregate(base, states)
		if rs.Alive != prev.Alive {
			out = append(out, fmt.Sprintf("%gs %s %d", end.Seconds(), map[bool]string{true: "UP", false: "DOWN"}[rs.Alive], rs.Weight))
		} else if rs.Weight != prev.Weight {
			out = append(out, fmt.Sprintf("%gs weight %d", end.Seconds(), rs.Weight))
		}
	}
}

func common(delayLoop, dbr time.Duration, retry int) Common {
	return Common{DelayLoop: delayLoop, DelayBeforeRetry: ptr(dbr), Retry: ptr(retry), Alpha: ptr(false), Rise: 1}
}

// seq returns an outcome function from a string of runs: '+' success, '-' failure.
func seq(s string) func(int, int, time.Duration) Outcome {
	return func(_, run int, _ time.Duration) Outcome {
		if run >= len(s) {
			return Outcome{OK: s[len(s)-1] == '+'}
		}
		return Outcome{OK: s[run] == '+'}
	}
}

func TestFSMTransitions(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name  string
		cs    []Common
		base  int
		until time.Duration
		out   func(int, int, time.Duration) Outcome
		want  []string
	}{
		{
			// TCP_CHECK defaults but delay_loop 10s: a server dead from 25 s to 50 s. The run at
			// 30 s fails (retry 1 → retried 1 s later), 31 s fails again → DOWN; the runs keep
			// their 10 s grid (41 s fails), 51 s succeeds → UP after one success.
			name: "keepalived defaults", cs: []Common{common(10*s, s, 1)}, base: 1, until: 60 * s,
			out:  func(_, _ int, t time.Duration) Outcome { return Outcome{OK: t < 25*s || t >= 50*s} },
			want: []string{"31s DOWN 1", "51s UP 1"},
		},
		{
			name: "retry 0 (MISC_CHECK default): down on the first failure", cs: []Common{common(10*s, s, 0)}, base: 1, until: 60 * s,
			out:  func(_, _ int, t time.Duration) Outcome { return Outcome{OK: t < 25*s || t >= 50*s} },
			want: []string{"30s DOWN 1", "50s UP 1"},
		},
		{
			name: "retry 3, delay_before_retry 2s", cs: []Common{common(10*s, 2*s, 3)}, base: 1, until: 60 * s,
			out: func(_, _ int, t time.Duration) Outcome { return Outcome{OK: t < 25*s || t >= 50*s} },
			// 30 fail, 32, 34, 36 fail → DOWN at 36; grid from 36: 46 fail, 56 ok.
			want: []string{"36s DOWN 1", "56s UP 1"},
		},
		{
			name: "alpha: down at start, up after the first success", cs: []Common{{DelayLoop: 5 * s, Retry: ptr(1), DelayBeforeRetry: ptr(s), Alpha: ptr(true)}}, base: 1, until: 12 * s,
			out:  seq("+"),
			want: []string{"0s UP 1"},
		},
		{
			name: "alpha and a dead server: no transition at all", cs: []Common{{DelayLoop: 5 * s, Retry: ptr(1), DelayBeforeRetry: ptr(s), Alpha: ptr(true)}}, base: 1, until: 30 * s,
			out:  seq("-"),
			want: nil,
		},
		{
			// Runs: 0 +, 10 - (retry at 11), 11 + (a blip is absorbed), 21 -, 22 - DOWN,
			// 32 + UP, 42 -, 43 - DOWN, 53 -, 63 + UP.
			name: "flapping backend", cs: []Common{common(10*s, s, 1)}, base: 1, until: 70 * s,
			out:  seq("+-+--+---+"),
			want: []string{"22s DOWN 1", "32s UP 1", "43s DOWN 1", "63s UP 1"},
		},
		{
			// Same flapping with our rise 2: the single success at 32 s does not bring it back.
			name: "flapping backend with rise 2", cs: []Common{{DelayLoop: 10 * s, DelayBeforeRetry: ptr(s), Retry: ptr(1), Alpha: ptr(false), Rise: 2}}, base: 1, until: 85 * s,
			out: seq("+-+--+---++"),
			// 32 + (1 of 2), 42 -, 52 -, 62 -, 72 + (1 of 2), 82 + → UP.
			want: []string{"22s DOWN 1", "82s UP 1"},
		},
		{
			// Two checkers: the RS is alive iff both are up; each change of one checker that
			// changes the RS is one transition.
			name: "two checkers", cs: []Common{common(10*s, s, 0), common(10*s, s, 0)}, base: 3, until: 45 * s,
			out: func(ck, run int, t time.Duration) Outcome {
				if ck == 0 {
					return Outcome{OK: t < 10*s || t >= 30*s}
				}
				return Outcome{OK: t < 20*s || t >= 40*s}
			},
			// 10: ck0 down → DOWN; 20: ck1 down too; 30: ck0 up (still DOWN); 40: ck1 up → UP.
			want: []string{"10s DOWN 3", "40s UP 3"},
		},
		{
			name: "misc_dynamic weight", cs: []Common{common(10*s, s, 0)}, base: 1, until: 35 * s,
			out: func(_, run int, _ time.Duration) Outcome {
				w := []int{0, 5, 5, 9}[run] // exit codes 2+1+w → weight = exit-2
				return Outcome{OK: true, Weight: ptr(w)}
			},
			want: []string{"10s weight 6", "30s weight 10"},
		},
		{
			// A check that takes 25 s with delay_loop 10 s: the slots at 10 and 20 pass while it
			// runs; it is not started twice, the next run is at 30.
			name: "slow checks skip slots", cs: []Common{common(10*s, s, 0)}, base: 1, until: 95 * s,
			out:  seq("+-"),
			want: []string{"55s DOWN 1"}, // runs at 0 and 30 (ends 55)
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			took := time.Duration(0)
			if strings.HasPrefix(tc.name, "slow") {
				took = 25 * s
			}
			got := sim(tc.cs, tc.base, took, tc.until, tc.out)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("transitions %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNextDue(t *testing.T) {
	e := time.Unix(0, 0)
	s := time.Second
	for _, tc := range []struct {
		due, end, delay time.Duration
		retry           bool
		next            time.Duration
		skipped         int
	}{
		{0, s / 10, 10 * s, false, 10 * s, 0},
		{0, 10 * s, 10 * s, false, 20 * s, 1},
		{0, 25 * s, 10 * s, false, 30 * s, 2},
		{0, 5 * s, 3 * s, true, 8 * s, 0},
	} {
		next, sk := nextDue(e.Add(tc.due), e.Add(tc.end), tc.delay, tc.retry)
		if next.Sub(e) != tc.next || sk != tc.skipped {
			t.Errorf("nextDue(%v,%v,%v,%v) = %v,%d; want %v,%d", tc.due, tc.end, tc.delay, tc.retry, next.Sub(e), sk, tc.next, tc.skipped)
		}
	}
}

func TestResolveDefaults(t *testing.T) {
	vs := &VirtualServer{Key: VSKey{Protocol: "TCP", Port: 80}, Defaults: Common{DelayLoop: 6 * time.Second}}
	rs := &RealServer{Port: 8080, Weight: 1}
	for _, tc := range []struct {
		kind   Kind
		retry  int
		dbr    time.Duration
		warmup time.Duration
	}{
		{TCP, 1, time.Second, 6 * time.Second},
		{HTTP, 1, 3 * time.Second, 6 * time.Second},
		{SSL, 1, 3 * time.Second, 6 * time.Second},
		{DNS, 3, 6 * time.Second, 6 * time.Second},
		{MISC, 0, time.Second, 6 * time.Second},
	} {
		sp := resolve(vs, rs, Spec{Kind: tc.kind, Misc: &MiscSpec{Path: "/bin/true"}})
		if *sp.Retry != tc.retry || *sp.DelayBeforeRetry != tc.dbr || *sp.Warmup != tc.warmup || sp.ConnectTimeout != 5*time.Second || sp.ConnectPort != 8080 || *sp.Alpha {
			t.Errorf("%s: retry %d dbr %v warmup %v timeout %v port %d", tc.kind, *sp.Retry, *sp.DelayBeforeRetry, *sp.Warmup, sp.ConnectTimeout, sp.ConnectPort)
		}
	}
	if sp := resolve(vs, rs, Spec{Kind: MISC, Misc: &MiscSpec{Path: "/bin/true"}}); sp.Misc.Timeout != 6*time.Second {
		t.Errorf("misc_timeout default %v, want delay_loop", sp.Misc.Timeout)
	}
}

func TestParseHexAndStatus(t *testing.T) {
	d, m, err := ParseHex("Ab12f 3 456 546443123", false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0xab, 0x12, 0x0f, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03}; !slices.Equal(d, want) {
		t.Fatalf("ParseHex = % x, want % x", d, want)
	}
	if len(m) != len(d) || m[0] != 0xff {
		t.Fatalf("mask % x", m)
	}
	d, m, err = ParseHex("0x 1X", true)
	if err != nil || !slices.Equal(d, []byte{0x00, 0x10}) || !slices.Equal(m, []byte{0xf0, 0xf0}) {
		t.Fatalf("wildcards: % x / % x / %v", d, m, err)
	}
	if _, _, err := ParseHex("zz", false); err == nil {
		t.Fatal("want an error for non-hex")
	}
	r, err := ParseStatusCodes([]string{"200-299", "400-499", "503"})
	if err != nil {
		t.Fatal(err)
	}
	for code, ok := range map[int]bool{200: true, 299: true, 300: false, 404: true, 503: true, 502: false} {
		if statusOK(r, code) != ok {
			t.Errorf("status %d: %v", code, !ok)
		}
	}
	if !statusOK(nil, 204) || statusOK(nil, 301) {
		t.Error("default range 200-299")
	}
	for _, bad := range []string{"2x", "300-200", "99"} {
		if _, err := ParseStatusCodes([]string{bad}); err == nil {
			t.Errorf("status_code %q: want an error", bad)
		}
	}
}

func FuzzParseHex(f *testing.F) {
	f.Add("Ab12f 3 456", true)
	f.Add("xX 0", true)
	f.Fuzz(func(t *testing.T, s string, w bool) {
		d, m, err := ParseHex(s, w)
		if err == nil && len(d) != len(m) {
			t.Fatalf("data and mask lengths differ")
		}
	})
}

func TestDNSCodec(t *testing.T) {
	q, err := dnsQuery(0x1234, "web.example.", 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'e', 'b', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1}
	if !slices.Equal(q, want) {
		t.Fatalf("query % x\nwant    % x", q, want)
	}
	if q, _ := dnsQuery(1, ".", 6); len(q) != 17 {
		t.Fatalf("root SOA query % x", q)
	}
	if _, err := dnsQuery(1, "a..b", 1); err == nil {
		t.Fatal("empty label accepted")
	}
	reply := append([]byte{0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0}, q[12:]...)
	if err := dnsCheckReply(reply, 0x1234); err != nil {
		t.Fatalf("good reply: %v", err)
	}
	for name, r := range map[string][]byte{
		"short": reply[:5], "other id": append([]byte{0, 1}, reply[2:]...),
		"query": append([]byte{0x12, 0x34, 0x01}, reply[3:]...), "nxdomain": append([]byte{0x12, 0x34, 0x81, 0x83}, reply[4:]...),
		"no answer": append(append([]byte{}, reply[:6]...), append([]byte{0, 0}, reply[8:]...)...),
	} {
		if err := dnsCheckReply(r, 0x1234); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDNSReply(f *testing.F) {
	f.Add([]byte{0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) { _ = dnsCheckReply(b, 0x1234) })
}

// A reload keeps a DOWN real server DOWN (and its dynamic weight) instead of re-adding it.
func TestInheritAcrossReload(t *testing.T) {
	mk := func(extra bool) *Scheduler {
		rs := []RealServer{{Addr: netip.MustParseAddr("198.51.100.2"), Port: 80, Weight: 2, Checkers: []Spec{{Kind: TCP}, {Kind: TCP, Common: Common{ConnectPort: 81}}}}}
		if extra {
			rs = append(rs, RealServer{Addr: netip.MustParseAddr("198.51.100.3"), Port: 80, Weight: 1, Checkers: []Spec{{Kind: TCP}}})
		}
		s, err := New([]VirtualServer{{Key: VSKey{Addr: netip.MustParseAddr("203.0.113.10"), Port: 80, Protocol: "TCP"}, RealServers: rs}}, Config{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	old := mk(false)
	r := old.rss[0]
	r.checkers[1].state = CheckerState{Up: false, HasRun: true, WeightDelta: 3}
	r.state = Aggregate(2, []CheckerState{r.checkers[0].state, r.checkers[1].state})
	s := mk(true)
	if n := s.Inherit(old); n != 2 {
		t.Fatalf("carried %d checkers, want 2", n)
	}
	st := s.Status()[0].RealServers
	if st[0].Healthy || st[0].Weight != 5 || !st[1].Healthy {
		t.Fatalf("after reload: %+v", st)
	}
}

func TestQuorumStep(t *testing.T) {
	for _, tc := range []struct {
		up                bool
		sum, quorum, hyst int
		want              bool
		detail            string
	}{
		{false, 1, 1, 0, true, "Gained quorum 1+0=1 <= 1"},
		{true, 0, 1, 0, false, "Lost quorum 1-0=1 > 0"},
		{true, 2, 3, 0, false, "Lost quorum 3-0=3 > 2"},
		{true, 2, 3, 1, true, ""},   // within hysteresis: stays up
		{false, 3, 3, 1, false, ""}, // needs 4 to come back
		{false, 4, 3, 1, true, "Gained quorum 3+1=4 <= 4"},
		{true, 0, 0, 1, false, "Lost quorum 0-1=-1 > 0"}, // 0 live weight always loses it
	} {
		got, detail := QuorumStep(tc.up, tc.sum, tc.quorum, tc.hyst)
		if got != tc.want || detail != tc.detail {
			t.Errorf("QuorumStep(%v, sum %d, quorum %d, hysteresis %d) = %v %q; want %v %q", tc.up, tc.sum, tc.quorum, tc.hyst, got, detail, tc.want, tc.detail)
		}
	}
}

// ha_suspend: while the virtual server's address is not local, its checkers do not run (FILE
// checks here, so no network is needed) and keep their state; they resume when it comes back.
func TestHASuspend(t *testing.T) {
	dir := t.TempDir()
	track := dir + "/v"
	if err := os.WriteFile(track, []byte("1\n"), 0o644); err != nil { // non-zero: the check fails
		t.Fatal(err)
	}
	var local atomic.Bool
	zero := time.Duration(0)
	vs := VirtualServer{Key: VSKey{Addr: netip.MustParseAddr("203.0.113.10"), Port: 80, Protocol: "TCP"}, HASuspend: true,
		RealServers: []RealServer{{Addr: netip.MustParseAddr("198.51.100.2"), Port: 80, Weight: 1,
			Checkers: []Spec{{Kind: FILE, Common: Common{DelayLoop: 20 * time.Millisecond, Warmup: &zero, Retry: ptr(0)}, File: &FileSpec{Path: track}}}}}}
	s, err := New([]VirtualServer{vs}, Config{AddressLocal: func(netip.Addr) bool { return local.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	go func() {
		for range s.Events() {
		}
	}()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Suspended < 5 {
		if time.Now().After(deadline) {
			t.Fatal("checker not suspended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.Stats(); st.Runs != 0 || !s.Status()[0].RealServers[0].Healthy {
		t.Fatalf("suspended checker ran: %+v %+v", st, s.Status())
	}
	local.Store(true)
	for s.Status()[0].RealServers[0].Healthy {
		if time.Now().After(deadline) {
			t.Fatal("checker did not resume")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNewRejectsBadSpecs(t *testing.T) {
	neg := -time.Second
	for name, sp := range map[string]Spec{
		"unknown kind":        {Kind: "FOO_CHECK"},
		"HTTP without url":    {Kind: HTTP, HTTP: &HTTPSpec{}},
		"bad http_protocol":   {Kind: HTTP, HTTP: &HTTPSpec{Protocol: "2", URLs: []URL{{Path: "/"}}}},
		"short digest":        {Kind: HTTP, HTTP: &HTTPSpec{URLs: []URL{{Path: "/", Digest: "abc"}}}},
		"MISC without path":   {Kind: MISC, Misc: &MiscSpec{}},
		"MISC bad quoting":    {Kind: MISC, Misc: &MiscSpec{Path: "/x 'open"}},
		"DNS bad type":        {Kind: DNS, DNS: &DNSSpec{Type: "PTR"}},
		"FILE without file":   {Kind: FILE, File: &FileSpec{}},
		"negative delay_loop": {Kind: TCP, Common: Common{DelayLoop: -1}},
		"negative warmup":     {Kind: TCP, Common: Common{Warmup: &neg}},
		"negative retry":      {Kind: TCP, Common: Common{Retry: ptr(-1)}},
		"UDP max < min":       {Kind: UDP, UDP: &UDPSpec{MinReplyLength: 10, MaxReplyLength: 5}},
	} {
		vs := VirtualServer{Key: VSKey{Addr: netip.MustParseAddr("203.0.113.10"), Port: 80}, RealServers: []RealServer{{Addr: netip.MustParseAddr("198.51.100.2"), Port: 80, Checkers: []Spec{sp}}}}
		if _, err := New([]VirtualServer{vs}, Config{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A pending outcome (one url of a recovering HTTP_GET) decides nothing: no success counted
// towards rise, no failure, next run after delay_loop.
func TestStepPending(t *testing.T) {
	c := Common{DelayLoop: 10 * time.Second, DelayBeforeRetry: ptr(time.Second), Retry: ptr(1), Rise: 2}
	st := CheckerState{Up: false, HasRun: true, Successes: 1}
	got, d := Step(c, st, Outcome{Pending: true})
	if got != st || d != 10*time.Second {
		t.Fatalf("pending: %+v %v", got, d)
	}
	up := CheckerState{Up: true, HasRun: true, Failures: 1}
	if got, _ := Step(c, up, Outcome{Pending: true}); got != up {
		t.Fatalf("pending while retrying: %+v", got)
	}
}

// A consumer that falls behind sees the latest state of each real server, in first-change
// order, one entry per real server.
func TestEventQueueCoalesces(t *testing.T) {
	q := newEventQueue()
	a := RSKey{Addr: netip.MustParseAddr("198.51.100.2"), Port: 80}
	b := RSKey{Addr: netip.MustParseAddr("198.51.100.3"), Port: 80}
	q.push(Event{RS: a, Alive: false})
	q.push(Event{RS: b, Alive: false})
	q.push(Event{RS: a, Alive: true, Weight: 3})
	out := make(chan Event)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.run(ctx, out); close(done) }()
	defer func() { cancel(); <-done }()
	want := []Event{{RS: a, Alive: true, Weight: 3}, {RS: b, Alive: false}}
	for i, w := range want {
		select {
		case got := <-out:
			if got != w {
				t.Fatalf("event %d: %+v, want %+v", i, got, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d missing", i)
		}
	}
	select {
	case extra := <-out:
		t.Fatalf("extra event %+v", extra)
	case <-time.After(50 * time.Millisecond):
	}
}
