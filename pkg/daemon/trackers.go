package daemon

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/xalived/xalived/internal/watch"
)

// TrackerKind names what a tracker watches.
type TrackerKind string

// Tracker kinds.
const (
	TrackScript  TrackerKind = "script"
	TrackFile    TrackerKind = "file"
	TrackProcess TrackerKind = "process"
)

// TrackerResult is the state of one tracker after a change.
type TrackerResult struct {
	Kind TrackerKind
	Name string
	// OK is the tracker's verdict after rise/fall (scripts), quorum (processes), or value == 0
	// (files).
	OK bool
	// Value is the number read from a tracked file (files only).
	Value int
}

// scriptTracker runs a vrrp_script every interval, kills it after timeout, and reports OK after
// rise consecutive successes and failure after fall consecutive failures.
type scriptTracker struct {
	name     string
	argv     []string
	interval time.Duration
	timeout  time.Duration
	rise     int
	fall     int
	initFail bool
	// raw reports every run (the router applies rise/fall) instead of verdict changes.
	raw bool
	// cred runs the script as a user; nil runs it as the daemon's user.
	cred *syscall.Credential
}

func (s *scriptTracker) run(ctx context.Context, emit func(TrackerResult)) {
	ok := !s.initFail
	streak := 0
	first := true
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		res := s.once(ctx)
		if ctx.Err() != nil {
			return
		}
		if s.raw {
			emit(TrackerResult{Kind: TrackScript, Name: s.name, OK: res})
		} else if res == ok {
			streak = 0
		} else {
			streak++
			need := s.fall
			if res {
				need = s.rise
			}
			if need < 1 {
				need = 1
			}
			if streak >= need {
				ok, streak = res, 0
				emit(TrackerResult{Kind: TrackScript, Name: s.name, OK: ok})
				first = false
			}
		}
		if first {
			// Report the initial state once so the router knows it even when nothing changed.
			emit(TrackerResult{Kind: TrackScript, Name: s.name, OK: ok})
			first = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// once runs the script and reports whether it exited 0 within the timeout.
func (s *scriptTracker) once(ctx context.Context) bool {
	if len(s.argv) == 0 {
		return false
	}
	tctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cmd := exec.CommandContext(tctx, s.argv[0], s.argv[1:]...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM, Credential: s.cred}
	return cmd.Run() == nil && tctx.Err() == nil
}

// fileTracker re-reads a track_file when it changes and reports its integer value.
type fileTracker struct {
	name  string
	path  string
	every time.Duration
}

func readTrackFile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return v
}

func (f *fileTracker) run(ctx context.Context, emit func(TrackerResult)) {
	last, first := 0, true
	var lastStat os.FileInfo
	// inotify makes a change visible at once; the timer stays as a safety net (network file
	// systems, a directory created later) and is the only source when inotify is unavailable.
	every := f.every
	wake, err := watch.File(ctx, f.path)
	if err == nil {
		every = max(every, safetyNetInterval)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		st, err := os.Stat(f.path)
		changed := first || (err == nil) != (lastStat != nil) ||
			(err == nil && lastStat != nil && (!st.ModTime().Equal(lastStat.ModTime()) || st.Size() != lastStat.Size()))
		if err != nil {
			st = nil
		}
		lastStat = st
		if changed {
			v := readTrackFile(f.path)
			if first || v != last {
				emit(TrackerResult{Kind: TrackFile, Name: f.name, OK: v == 0, Value: v})
			}
			last, first = v, false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case _, ok := <-wake:
			if !ok {
				wake = nil // the watch failed: the timer carries on alone
				t.Reset(f.every)
			}
		}
	}
}

// safetyNetInterval is how often a tracker re-checks by itself when kernel notifications drive it.
const safetyNetInterval = 5 * time.Second

// processTracker counts running processes matching a track_process and reports whether the
// count is within [quorum, quorumMax].
type processTracker struct {
	name       string
	process    string
	args       []string
	partial    bool // param_match partial: the configured args are a prefix of the cmdline
	full       bool // full_command: match the whole command line, not /proc/PID/comm
	quorum     int
	quorumMax  int
	every      time.Duration
	procRoot   string
	selfPID    int
	lastCount  int
	countValid bool
}

func (p *processTracker) matches(pid string) bool {
	if p.full || len(p.args) > 0 {
		b, err := os.ReadFile(filepath.Join(p.procRoot, pid, "cmdline"))
		if err != nil || len(b) == 0 {
			return false
		}
		argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		name := argv[0]
		if !p.full {
			name = filepath.Base(name)
			if comm, err := os.ReadFile(filepath.Join(p.procRoot, pid, "comm")); err == nil {
				name = strings.TrimSpace(string(comm))
			}
		}
		if name != p.process && filepath.Base(argv[0]) != p.process {
			return false
		}
		rest := argv[1:]
		if p.partial {
			if len(rest) < len(p.args) {
				return false
			}
			rest = rest[:len(p.args)]
		}
		if len(p.args) == 0 && !p.partial && !p.full {
			return true
		}
		if len(rest) != len(p.args) {
			return false
		}
		for i := range rest {
			if rest[i] != p.args[i] {
				return false
			}
		}
		return true
	}
	comm, err := os.ReadFile(filepath.Join(p.procRoot, pid, "comm"))
	return err == nil && string(bytes.TrimSpace(comm)) == p.process
}

// scan returns the pids of every running process that matches.
func (p *processTracker) scan() map[int]struct{} {
	set := map[int]struct{}{}
	ents, err := os.ReadDir(p.procRoot)
	if err != nil {
		return set
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == p.selfPID {
			continue
		}
		if p.matches(e.Name()) {
			set[pid] = struct{}{}
		}
	}
	return set
}

func (p *processTracker) ok(n int) bool {
	q := max(p.quorum, 1)
	return n >= q && (p.quorumMax == 0 || n <= p.quorumMax)
}

func (p *processTracker) run(ctx context.Context, emit func(TrackerResult)) {
	// The proc connector reports each exec, fork, rename and exit, so the matching set is kept
	// up to date per event (reading one /proc/PID entry) instead of scanning /proc every tick.
	// It only works in the initial network namespace; elsewhere, or when events were lost, the
	// tracker rescans. A rescan on the safety-net timer repairs anything missed.
	every := p.every
	events, err := watch.Procs(ctx)
	if err == nil {
		every = max(every, safetyNetInterval)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	first := true
	matched := p.scan()
	for {
		n := len(matched)
		if first || p.ok(n) != p.ok(p.lastCount) {
			emit(TrackerResult{Kind: TrackProcess, Name: p.name, OK: p.ok(n), Value: n})
		}
		p.lastCount, first = n, false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			matched = p.scan()
		case ev, ok := <-events:
			switch {
			case !ok:
				events = nil
				t.Reset(p.every)
				matched = p.scan()
			case ev.Kind == watch.ProcLost:
				matched = p.scan()
			case ev.Kind == watch.ProcExit:
				delete(matched, ev.PID)
			case ev.PID != p.selfPID:
				if p.matches(strconv.Itoa(ev.PID)) {
					matched[ev.PID] = struct{}{}
				} else {
					delete(matched, ev.PID)
				}
			}
		}
	}
}

// trackerSet runs trackers until its context ends.
type trackerSet struct {
	wg     sync.WaitGroup
	cancel context.CancelFunc
}

type tracker interface {
	run(ctx context.Context, emit func(TrackerResult))
}

func startTrackers(ctx context.Context, ts []tracker, emit func(TrackerResult)) *trackerSet {
	ctx, cancel := context.WithCancel(ctx)
	s := &trackerSet{cancel: cancel}
	for _, t := range ts {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			t.run(ctx, emit)
		}()
	}
	return s
}

// stop ends every tracker and waits for them.
func (s *trackerSet) stop() {
	if s == nil {
		return
	}
	s.cancel()
	s.wg.Wait()
}
