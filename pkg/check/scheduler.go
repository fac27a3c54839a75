package check

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/xalived/xalived/pkg/notify"
)

// Config sets up a Scheduler.
type Config struct {
	// Notify, when set, receives real-server changes (notify_up/notify_down, lvs FIFO, mail).
	Notify *notify.Dispatcher
	// ScriptUser is the default identity of MISC_CHECK scripts without `user` (script_user).
	ScriptUser *syscall.Credential
	// ScriptSecurity refuses MISC_CHECK scripts that fail notify.CheckSecure.
	ScriptSecurity bool
	// Observe, when set, is called after every probe (for logs and benchmarks); it must not block.
	Observe func(RunInfo)
	// Seed makes warmup offsets reproducible (0: random).
	Seed uint64
	// AddressLocal reports whether an address is configured on this host, for ha_suspend
	// (nil: never suspend). It is called before each run of a suspendable checker.
	AddressLocal func(netip.Addr) bool
	// InitNotifies runs notify_up / notify_down for every real server's initial state at
	// start (global rs_init_notifies); keepalived's default is to notify changes only.
	InitNotifies bool
}

// RunInfo describes one probe run.
type RunInfo struct {
	RS       RSKey
	Kind     Kind
	Due      time.Time
	Start    time.Time
	Duration time.Duration
	OK       bool
	Err      error
	// Skipped counts slots that passed while this run was still going (it was not started twice).
	Skipped int
	// Up is the checker's state after this run; Retrying is set while a failure is being
	// retried (below the DOWN threshold). keepalived logs such failures only with
	// log_all_failures / checker_log_all_failures, which LogAllFailures carries.
	Up, Retrying   bool
	LogAllFailures bool
}

// Event is a real server's new state, for the lvs reconciler. Events are coalesced per real
// server: a consumer that falls behind sees the latest state of each, in first-change order.
type Event struct {
	RS     RSKey
	Alive  bool
	Weight int
}

type checker struct {
	spec   Spec
	rs     *rsRun
	tls    *tls.Config
	script notify.Script
	reqs   [][]byte // HTTP_GET / SSL_GET: each url's request, built once

	// recoverURL is the next url to check while an HTTP_GET/SSL_GET recovers without
	// fast_recovery (only its own goroutine touches it).
	recoverURL int

	// Guarded by rs.mu (written only by the checker's own goroutine, and by Inherit before Run).
	state   CheckerState
	lastErr string
	lastRun time.Time
	lastDur time.Duration
}

type vsQuorum struct {
	mu   sync.Mutex
	up   bool
	live int // summed weight of live real servers, kept by deltas (O(1) per change)
}

func contribution(st RSState) int {
	if st.Alive {
		return st.Weight
	}
	return 0
}

type rsRun struct {
	key      RSKey
	vs       *VirtualServer
	vsIndex  int
	cfg      RealServer
	checkers []*checker

	mu    sync.Mutex
	state RSState
}

// Scheduler runs every checker of a set of virtual servers.
type Scheduler struct {
	cfg    Config
	vss    []VirtualServer
	rss    []*rsRun
	byVS   [][]*rsRun
	quorum []vsQuorum // per virtual server, guarded by its mu
	evq    eventQueue
	out    chan Event

	runs, skipped, failures, suspends atomic.Uint64

	// baseline, when set, runs TCP_CHECK / HTTP_GET probes instead of the built-in ones under a
	// context.WithTimeout (the benchmark's reference: the net.Dialer / net/http path).
	baseline func(ctx context.Context, ck *checker) (Outcome, error)
}

// suspended applies ha_suspend: the virtual server's address is not on this host.
func (s *Scheduler) suspended(ck *checker) bool {
	vs := ck.rs.vs
	return vs.HASuspend && s.cfg.AddressLocal != nil && vs.Key.Addr.IsValid() && !s.cfg.AddressLocal(vs.Key.Addr)
}

// New resolves every checker's keywords (VS defaults, then keepalived's) and validates them.
func New(vss []VirtualServer, cfg Config) (*Scheduler, error) {
	s := &Scheduler{cfg: cfg, vss: vss, out: make(chan Event), evq: newEventQueue()}
	for vi := range s.vss {
		vs := &s.vss[vi]
		var list []*rsRun
		for ri := range vs.RealServers {
			rs := &vs.RealServers[ri]
			r := &rsRun{key: RSKey{VS: vs.Key, Addr: rs.Addr, Port: rs.Port}, vs: vs, vsIndex: vi, cfg: *rs}
			var states []CheckerState
			for ci, spec := range rs.Checkers {
				if err := spec.Validate(); err != nil {
					return nil, fmt.Errorf("virtual server %s real server %s checker %d: %w", vs.Key, r.key, ci+1, err)
				}
				spec = resolve(vs, rs, spec)
				if err := spec.validateTimes(); err != nil {
					return nil, fmt.Errorf("virtual server %s real server %s checker %d: %w", vs.Key, r.key, ci+1, err)
				}
				ck := &checker{spec: spec, rs: r, state: InitialState(spec.Common)}
				if spec.Kind == HTTP || spec.Kind == SSL {
					for _, u := range spec.HTTP.URLs {
						ck.reqs = append(ck.reqs, buildRequest(spec.Common, spec.HTTP, u))
					}
				}
				switch spec.Kind {
				case SSL:
					t, err := clientTLS(spec.HTTP)
					if err != nil {
						return nil, fmt.Errorf("real server %s: %w", r.key, err)
					}
					ck.tls = t
				case MISC:
					sc := notify.Script{Argv: spec.Misc.Argv}
					if len(sc.Argv) == 0 {
						var err error
						if sc, err = notify.ParseScript(spec.Misc.Path); err != nil {
							return nil, fmt.Errorf("real server %s: misc_path: %w", r.key, err)
						}
					}
					sc.Cred = cfg.ScriptUser
					if spec.Misc.User != "" {
						var err error
						if sc.Cred, err = notify.RunAs(spec.Misc.User, spec.Misc.Group); err != nil {
							return nil, fmt.Errorf("real server %s: %w", r.key, err)
						}
					}
					ck.script = sc
				}
				r.checkers = append(r.checkers, ck)
				states = append(states, ck.state)
			}
			r.state = Aggregate(rs.Weight, states)
			list = append(list, r)
			s.rss = append(s.rss, r)
		}
		s.byVS = append(s.byVS, list)
	}
	s.quorum = make([]vsQuorum, len(s.vss))
	s.resetQuorum()
	return s, nil
}

// resetQuorum recomputes every virtual server's live weight and quorum from scratch.
func (s *Scheduler) resetQuorum() {
	for i := range s.vss {
		q := &s.quorum[i]
		q.mu.Lock()
		q.live = liveWeight(s.byVS[i])
		q.up = q.live >= s.quorumOf(i)
		q.mu.Unlock()
	}
}

func (s *Scheduler) quorumOf(vi int) int {
	if q := s.vss[vi].Quorum; q > 0 {
		return q
	}
	return 1
}

// updateQuorum recomputes a virtual server's quorum after one of its real servers changed and
// delivers a change (quorum_up / quorum_down, VS FIFO line, mail).
func (s *Scheduler) updateQuorum(vi, delta int) {
	q := &s.quorum[vi]
	q.mu.Lock()
	defer q.mu.Unlock()
	vs := &s.vss[vi]
	q.live += delta
	up, detail := QuorumStep(q.up, q.live, s.quorumOf(vi), vs.Hysteresis)
	if up == q.up {
		return
	}
	q.up = up
	if s.cfg.Notify != nil {
		script := vs.QuorumDown
		if up {
			script = vs.QuorumUp
		}
		s.cfg.Notify.VirtualServer(vs.Key.String(), up, script, vs.SMTPAlert, "=> "+detail+" for VS "+vs.Key.String()+" <=")
	}
}

// Events returns the channel of real-server changes. Read it, or changes pile up (coalesced,
// one entry per real server at most).
func (s *Scheduler) Events() <-chan Event { return s.out }

// Run runs every checker until ctx ends and waits for them (running probes are cancelled,
// scripts killed).
func (s *Scheduler) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	seed := s.cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	start := time.Now()
	// The first event of every real server is its initial state (up, or down with alpha), so a
	// consumer can build its view from Events alone.
	for _, r := range s.rss {
		r.mu.Lock()
		st := r.state
		r.mu.Unlock()
		s.evq.push(Event{RS: r.key, Alive: st.Alive, Weight: st.Weight})
		if s.cfg.InitNotifies {
			s.notifyRS(r, st.Alive, "", "")
		}
	}
	for _, r := range s.rss {
		for _, ck := range r.checkers {
			first := start
			if w := *ck.spec.Warmup; w > 0 {
				first = start.Add(warmupOffset(rng, w))
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.loop(ctx, ck, first)
			}()
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.evq.run(ctx, s.out)
	}()
	wg.Wait()
	return nil
}

// phaseGrid is the granularity of the random warmup offsets. Checkers whose runs fall in the
// same slot wake together and run in one busy period of the process instead of one each:
// every idle-to-busy transition costs the runtime thread wakeups and a burst of its monitor's
// 20 us sleeps, which on a slow or emulated CPU weigh more than the checks themselves.
const phaseGrid = 50 * time.Millisecond

// warmupOffset is a random start offset in [0, w), on the phase grid when w spans more than a
// few slots of it.
func warmupOffset(rng *rand.Rand, w time.Duration) time.Duration {
	if w < 4*phaseGrid {
		return time.Duration(rng.Int64N(int64(w)))
	}
	return time.Duration(rng.Int64N(int64(w/phaseGrid))) * phaseGrid
}

// nextDue plans the run after one that was due at due and ended at end: retries follow the
// failure by delay_before_retry (as keepalived); regular runs keep a fixed rate from the first
// slot, skipping (and counting) the slots that passed while the check was still running.
func nextDue(due, end time.Time, delay time.Duration, retrying bool) (time.Time, int) {
	if retrying || delay <= 0 {
		return end.Add(delay), 0
	}
	next := due.Add(delay)
	if next.After(end) {
		return next, 0
	}
	k := int(end.Sub(next)/delay) + 1
	return next.Add(time.Duration(k) * delay), k
}

func (s *Scheduler) loop(ctx context.Context, ck *checker, due time.Time) {
	timer := time.NewTimer(time.Until(due))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if s.suspended(ck) {
			s.suspends.Add(1)
			due, _ = nextDue(due, time.Now(), ck.spec.DelayLoop, false)
			timer.Reset(time.Until(due))
			continue
		}
		// Clock reads are few on purpose (they are system calls on some virtual machines):
		// the start, the end, and the end again for planning unless a reap took time.
		startT := time.Now()
		o, err := s.probeAt(ctx, ck, startT)
		if ctx.Err() != nil {
			if o.reap != nil {
				o.reap()
			}
			return
		}
		end := time.Now()
		if err != nil {
			o.OK = false
		}
		delay, st := s.apply(ck, o, err, startT, end.Sub(startT))
		retrying := st.Up && st.Failures > 0
		planned := end
		if o.reap != nil {
			o.reap() // a timed-out script is gone before its next run is planned
			planned = time.Now()
		}
		next, skipped := nextDue(due, planned, delay, retrying)
		s.runs.Add(1)
		s.skipped.Add(uint64(skipped))
		if !o.OK {
			s.failures.Add(1)
		}
		if s.cfg.Observe != nil {
			s.cfg.Observe(RunInfo{RS: ck.rs.key, Kind: ck.spec.Kind, Due: due, Start: startT, Duration: end.Sub(startT), OK: o.OK, Err: err,
				Skipped: skipped, Up: st.Up, Retrying: retrying, LogAllFailures: ck.spec.LogAllFailures})
		}
		due = next
		timer.Reset(due.Sub(planned))
	}
}

// probe runs one check under its deadline.
func (s *Scheduler) probe(ctx context.Context, ck *checker) (Outcome, error) {
	return s.probeAt(ctx, ck, time.Now())
}

// probeAt is probe for a check that starts at now.
func (s *Scheduler) probeAt(ctx context.Context, ck *checker, now time.Time) (Outcome, error) {
	sp := ck.spec
	timeout := sp.ConnectTimeout
	switch sp.Kind {
	case TCP, HTTP, SSL:
		if s.baseline == nil || sp.Kind == SSL {
			// The socket's deadline bounds these probes: no timer per probe for the context.
			return s.run(deadlineCtx{Context: ctx, dl: now.Add(timeout)}, ck)
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return s.baseline(pctx, ck)
	case MISC:
		timeout = sp.Misc.Timeout + 2*miscGrace
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	o, err := s.run(pctx, ck)
	if o.reap != nil {
		reap := o.reap
		o.reap = func() { reap(); cancel() }
	} else {
		cancel()
	}
	return o, err
}

func (s *Scheduler) run(pctx context.Context, ck *checker) (Outcome, error) {
	sp := ck.spec
	switch sp.Kind {
	case TCP:
		return probeTCP(pctx, sp)
	case HTTP, SSL:
		return s.probeHTTPRecovering(pctx, ck)
	case MISC:
		if s.cfg.ScriptSecurity {
			if err := notify.CheckSecure(ck.script); err != nil {
				return Outcome{}, err
			}
			if err := notify.NoRootFallback(ck.script); err != nil {
				return Outcome{}, err
			}
		}
		return probeMisc(pctx, sp, ck.script, ck.rs.cfg.Weight)
	case SMTP:
		return probeSMTP(pctx, sp)
	case DNS:
		return probeDNS(pctx, sp)
	case UDP:
		return probeUDP(pctx, sp)
	case PING:
		return probePing(pctx, sp)
	case FILE:
		return probeFile(sp)
	}
	return Outcome{}, fmt.Errorf("unknown checker %q", sp.Kind)
}

// apply feeds one outcome to the checker's FSM and the real server's aggregate, and delivers
// the real server's change, if any.
func (s *Scheduler) apply(ck *checker, o Outcome, err error, at time.Time, took time.Duration) (time.Duration, CheckerState) {
	r := ck.rs
	r.mu.Lock()
	st, delay := Step(ck.spec.Common, ck.state, o)
	ck.state = st
	ck.lastRun, ck.lastDur = at, took
	ck.lastErr = ""
	if err != nil {
		ck.lastErr = err.Error()
	}
	var buf [4]CheckerState // no allocation per run for up to 4 checkers
	states := buf[:0]
	for _, c := range r.checkers {
		states = append(states, c.state)
	}
	prev := r.state
	r.state = Aggregate(r.cfg.Weight, states)
	now := r.state
	r.mu.Unlock()

	if now != prev {
		s.evq.push(Event{RS: r.key, Alive: now.Alive, Weight: now.Weight})
	}
	// As keepalived: the real server's own notification first, then the quorum's.
	if now.Alive != prev.Alive {
		reason := ""
		if err != nil {
			reason = err.Error()
		}
		s.notifyRS(r, now.Alive, ck.spec.Kind.short(), reason)
	}
	if now != prev {
		s.updateQuorum(r.vsIndex, contribution(now)-contribution(prev))
	}
	return delay, st
}

// notifyRS hands a real server's change to the notify Dispatcher (scripts, lvs FIFO, mail).
func (s *Scheduler) notifyRS(r *rsRun, alive bool, checker, reason string) {
	if s.cfg.Notify == nil {
		return
	}
	script := r.cfg.NotifyDown
	if alive {
		script = r.cfg.NotifyUp
	}
	s.cfg.Notify.RealServer(notify.RealServerEvent{
		RS: notify.ServiceName(r.key.Addr.String(), r.key.VS.protoLower(), r.key.Port), VS: r.key.VS.String(),
		Up: alive, Script: script, Mail: r.cfg.SMTPAlert, Checker: checker, Reason: reason,
	})
}

// Stats counts probe runs.
type Stats struct {
	Runs     uint64 `json:"runs"`
	Failures uint64 `json:"failures"`
	// Skipped counts slots that came while the previous run of the same checker was still going.
	Skipped uint64 `json:"skipped"`
	// Suspended counts slots not run because of ha_suspend.
	Suspended uint64 `json:"suspended"`
}

// Stats returns the counters.
func (s *Scheduler) Stats() Stats {
	return Stats{Runs: s.runs.Load(), Failures: s.failures.Load(), Skipped: s.skipped.Load(), Suspended: s.suspends.Load()}
}

// VSStatus is a virtual server in the status JSON.
type VSStatus struct {
	Address     string     `json:"address,omitempty"`
	Port        uint16     `json:"port,omitempty"`
	FWMark      uint32     `json:"fwmark,omitempty"`
	Group       string     `json:"group,omitempty"`
	Protocol    string     `json:"protocol"`
	QuorumUp    bool       `json:"quorum_up"`
	RealServers []RSStatus `json:"real_servers"`
}

// RSStatus is a real server in the status JSON.
type RSStatus struct {
	Address  string          `json:"address"`
	Port     uint16          `json:"port"`
	Weight   int             `json:"weight"`
	Healthy  bool            `json:"healthy"`
	Checkers []CheckerStatus `json:"checkers"`
}

// CheckerStatus is one checker in the status JSON.
type CheckerStatus struct {
	Type      string    `json:"type"`
	Up        bool      `json:"up"`
	Failures  int       `json:"failures"`
	LastRun   time.Time `json:"last_run,omitzero"`
	LastMs    float64   `json:"last_duration_ms"`
	LastError string    `json:"last_error,omitempty"`
}

// Status returns a snapshot of every virtual server and real server.
func (s *Scheduler) Status() []VSStatus {
	out := make([]VSStatus, 0, len(s.vss))
	for i, vs := range s.vss {
		v := VSStatus{Port: vs.Key.Port, FWMark: vs.Key.FWMark, Group: vs.Key.Group, Protocol: vs.Key.Protocol, RealServers: []RSStatus{}}
		if v.Protocol == "" {
			v.Protocol = "TCP"
		}
		if vs.Key.Addr.IsValid() {
			v.Address = vs.Key.Addr.String()
		}
		s.quorum[i].mu.Lock()
		v.QuorumUp = s.quorum[i].up
		s.quorum[i].mu.Unlock()
		for _, r := range s.byVS[i] {
			r.mu.Lock()
			rs := RSStatus{Address: r.key.Addr.String(), Port: r.key.Port, Weight: r.state.Weight, Healthy: r.state.Alive, Checkers: []CheckerStatus{}}
			for _, ck := range r.checkers {
				rs.Checkers = append(rs.Checkers, CheckerStatus{
					Type: string(ck.spec.Kind), Up: ck.state.Up, Failures: ck.state.Failures,
					LastRun: ck.lastRun, LastMs: float64(ck.lastDur.Microseconds()) / 1000, LastError: ck.lastErr,
				})
			}
			r.mu.Unlock()
			v.RealServers = append(v.RealServers, rs)
		}
		out = append(out, v)
	}
	return out
}

// eventQueue coalesces events per real server and hands them out in first-change order.
type eventQueue struct {
	mu      sync.Mutex
	order   []RSKey
	pending map[RSKey]Event
	wake    chan struct{}
}

func newEventQueue() eventQueue {
	return eventQueue{pending: map[RSKey]Event{}, wake: make(chan struct{}, 1)}
}

func (q *eventQueue) push(e Event) {
	q.mu.Lock()
	if _, ok := q.pending[e.RS]; !ok {
		q.order = append(q.order, e.RS)
	}
	q.pending[e.RS] = e
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) run(ctx context.Context, out chan<- Event) {
	for {
		q.mu.Lock()
		if len(q.order) == 0 {
			q.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-q.wake:
				continue
			}
		}
		k := q.order[0]
		e := q.pending[k]
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case out <- e:
		}
		q.mu.Lock()
		// Remove k unless a newer state arrived while we were sending; then send that next.
		if cur := q.pending[k]; cur == e {
			delete(q.pending, k)
			q.order = q.order[1:]
		}
		q.mu.Unlock()
	}
}

// Inherit carries the state of old's checkers over to s, for a reload: a checker keeps its
// UP/DOWN state, retry count and dynamic weight when its real server (virtual server, address,
// port) still has a checker of the same kind at the same rank among that kind. New checkers
// start as keepalived starts them (alpha or not). Call it before Run, after old has stopped;
// it returns how many checkers were carried over. (keepalived users lose failed real servers
// to reloads, pain point 8: a DOWN server stays DOWN across a reload here.)
func (s *Scheduler) Inherit(old *Scheduler) int {
	type ckKey struct {
		rs   RSKey
		kind Kind
		rank int
	}
	prev := map[ckKey]CheckerState{}
	for _, r := range old.rss {
		r.mu.Lock()
		ranks := map[Kind]int{}
		for _, ck := range r.checkers {
			prev[ckKey{r.key, ck.spec.Kind, ranks[ck.spec.Kind]}] = ck.state
			ranks[ck.spec.Kind]++
		}
		r.mu.Unlock()
	}
	n := 0
	for _, r := range s.rss {
		r.mu.Lock()
		ranks := map[Kind]int{}
		states := make([]CheckerState, len(r.checkers))
		for i, ck := range r.checkers {
			if st, ok := prev[ckKey{r.key, ck.spec.Kind, ranks[ck.spec.Kind]}]; ok {
				ck.state = st
				n++
			}
			ranks[ck.spec.Kind]++
			states[i] = ck.state
		}
		r.state = Aggregate(r.cfg.Weight, states)
		r.mu.Unlock()
	}
	s.resetQuorum()
	return n
}

// probeHTTPRecovering is HTTP_GET / SSL_GET with keepalived's recovery rule: while the checker
// is DOWN (alpha at start, or after a failure) and fast_recovery is off, one url is checked per
// run (delay_loop apart), and the checker comes UP once every url has passed in turn. An UP
// checker (or fast_recovery) checks every url on every run.
func (s *Scheduler) probeHTTPRecovering(ctx context.Context, ck *checker) (Outcome, error) {
	sp := ck.spec
	if sp.HTTP.FastRecovery || len(sp.HTTP.URLs) < 2 || ck.state.Up {
		ck.recoverURL = 0
		return probeHTTP(ctx, sp, ck.tls, ck.reqs)
	}
	one := sp
	h := *sp.HTTP
	h.URLs = sp.HTTP.URLs[ck.recoverURL : ck.recoverURL+1]
	one.HTTP = &h
	o, err := probeHTTP(ctx, one, ck.tls, ck.reqs[ck.recoverURL:ck.recoverURL+1])
	if err != nil || !o.OK {
		ck.recoverURL = 0
		return o, err
	}
	ck.recoverURL++
	if ck.recoverURL < len(sp.HTTP.URLs) {
		return Outcome{Pending: true}, nil
	}
	ck.recoverURL = 0
	return o, nil
}
