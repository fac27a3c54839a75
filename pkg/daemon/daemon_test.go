package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xalived/xalived/pkg/control"
)

type fakeEngine struct {
	reloads   atomic.Int32
	shutdowns atomic.Int32
	failNext  atomic.Bool
}

func (f *fakeEngine) Status() control.Status {
	return control.Status{VRRP: []control.Instance{{Name: "VI_1", State: "MASTER", VRID: 9, Interface: "eth0",
		Priority: 100, EffectivePriority: 100, VIPs: []string{"198.51.100.9/32"}, Dataplane: "socket",
		Drops: map[string]uint64{"ttl": 2}, DropsTotal: 2, AdvertsTx: 5}}}
}
func (f *fakeEngine) Reload(context.Context) error {
	f.reloads.Add(1)
	if f.failNext.Swap(false) {
		return errors.New("k.conf:4: bad keyword")
	}
	return nil
}
func (f *fakeEngine) Shutdown(context.Context) error { f.shutdowns.Add(1); return nil }
func (f *fakeEngine) Stats() any                     { return map[string]int{"x": 1} }

func startDaemon(t *testing.T, signals bool) (Options, *fakeEngine, chan error) {
	dir := t.TempDir()
	fe := &fakeEngine{}
	opts := Options{ConfigFile: filepath.Join(dir, "k.conf"), Name: "t1", Control: filepath.Join(dir, "c.sock"),
		PIDFile: filepath.Join(dir, "x.pid"), ReadyFile: filepath.Join(dir, "ready"), DumpDir: dir,
		NoSignals: !signals, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		newEngine: func(context.Context, *Daemon) (engine, error) { return fe, nil }}
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), opts) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(opts.ReadyFile); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no ready file")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return opts, fe, done
}

func waitDone(t *testing.T, done chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}

func TestRunControlLifecycle(t *testing.T) {
	opts, fe, done := startDaemon(t, false)
	c := control.NewClient(opts.Control)
	ctx := context.Background()
	st, err := c.Status(ctx)
	if err != nil || len(st.VRRP) != 1 || st.Name != "t1" || st.PID != os.Getpid() {
		t.Fatalf("status %+v %v", st, err)
	}
	if err := c.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	fe.failNext.Store(true)
	if err := c.Reload(ctx); err == nil || !strings.Contains(err.Error(), "k.conf:4") {
		t.Fatalf("bad reload: %v", err)
	}
	if _, err := os.Stat(opts.PIDFile); err != nil {
		t.Fatal("no pid file while running")
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	waitDone(t, done)
	if fe.shutdowns.Load() != 1 || fe.reloads.Load() != 2 {
		t.Fatalf("shutdowns %d reloads %d", fe.shutdowns.Load(), fe.reloads.Load())
	}
	for _, p := range []string{opts.PIDFile, opts.ReadyFile, opts.Control} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind", p)
		}
	}
}

func TestRunSignals(t *testing.T) {
	opts, fe, done := startDaemon(t, true)
	self := os.Getpid()
	_ = syscall.Kill(self, syscall.SIGHUP)
	_ = syscall.Kill(self, syscall.SIGUSR1)
	_ = syscall.Kill(self, syscall.SIGUSR2)
	data := filepath.Join(opts.DumpDir, "xalived-t1.data")
	stats := filepath.Join(opts.DumpDir, "xalived-t1.stats")
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, e1 := os.Stat(data)
		_, e2 := os.Stat(stats)
		if e1 == nil && e2 == nil && fe.reloads.Load() == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("signals not handled: data %v stats %v reloads %d", e1, e2, fe.reloads.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	b, _ := os.ReadFile(data)
	if !strings.Contains(string(b), "VRRP Instance = VI_1") || !strings.Contains(string(b), "198.51.100.9/32") {
		t.Errorf("data dump:\n%s", b)
	}
	b, _ = os.ReadFile(stats)
	if !strings.Contains(string(b), "ttl: 2") || !strings.Contains(string(b), "Sent: 5") {
		t.Errorf("stats dump:\n%s", b)
	}
	_ = syscall.Kill(self, syscall.SIGTERM)
	waitDone(t, done)
	if fe.shutdowns.Load() != 1 {
		t.Fatal("SIGTERM did not shut the engine down")
	}
}

func TestRunRefusesSecondDaemon(t *testing.T) {
	opts, _, done := startDaemon(t, false)
	err := Run(context.Background(), Options{ConfigFile: opts.ConfigFile, Control: opts.Control,
		newEngine: func(context.Context, *Daemon) (engine, error) { return &fakeEngine{}, nil }})
	if !errors.Is(err, control.ErrInUse) {
		t.Fatalf("second daemon on the same socket: %v", err)
	}
	_ = control.NewClient(opts.Control).Stop(context.Background())
	waitDone(t, done)
}

func TestRunEngineErrorCleansUp(t *testing.T) {
	dir := t.TempDir()
	opts := Options{ConfigFile: filepath.Join(dir, "k.conf"), Control: filepath.Join(dir, "c.sock"),
		PIDFile: filepath.Join(dir, "p"), NoSignals: true,
		newEngine: func(context.Context, *Daemon) (engine, error) { return nil, errors.New("boom") }}
	if err := Run(context.Background(), opts); err == nil || err.Error() != "boom" {
		t.Fatalf("err = %v", err)
	}
	for _, p := range []string{opts.PIDFile, opts.Control} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind after a failed start", p)
		}
	}
}
