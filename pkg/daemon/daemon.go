package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/xalived/xalived/pkg/control"
)

// Options configure one daemon. The zero value plus ConfigFile is a working default.
type Options struct {
	// ConfigFile is the keepalived.conf to load (default /etc/keepalived/keepalived.conf).
	ConfigFile string
	// Name namespaces what this daemon owns on the host: default control socket
	// /run/xalived/NAME.sock, pid file, dump files and pinned objects.
	Name string
	// Control is the control socket path (default control.DefaultPath(Name)).
	Control string
	// PIDFile is written at start and removed at exit ("" writes none).
	PIDFile string
	// ReadyFile is created once every instance runs and the control socket answers.
	ReadyFile string
	// DumpDir receives the SIGUSR1/SIGUSR2 dumps (default /tmp).
	DumpDir string
	// Dataplane is "socket" ("" too), "xdp", or "auto" (XDP, else socket with a logged reason).
	Dataplane string
	// XDPMode is "native" (default) or "generic".
	XDPMode string
	// BPFFS is where the XDP dataplane pins its objects (BPFFS/xalived/NAME/; default /sys/fs/bpf).
	BPFFS string
	// ConfigID selects @ID lines of the configuration.
	ConfigID string
	// DontReleaseVRRP keeps VIPs on exit (keepalived -V).
	DontReleaseVRRP bool
	// NoSignals leaves signal handling to the caller (tests drive Reload/Stop by control socket).
	NoSignals bool
	// Logger receives everything the daemon logs (default slog.Default()).
	Logger *slog.Logger
	// RTPriority, if set, overrides global_defs' vrrp_rt_priority: the SCHED_RR priority of
	// the router's thread, 0 for the normal class (xalived --vrrp-rt-priority).
	RTPriority *int

	// newEngine replaces the real engine (tests).
	newEngine func(ctx context.Context, d *Daemon) (engine, error)
}

// engine is the running VRRP/LVS state behind the daemon's process plumbing.
type engine interface {
	// Status returns the status document.
	Status() control.Status
	// Reload re-reads the configuration file and applies the difference. A bad file returns
	// an error (with FILE:LINE messages) and leaves the running state untouched.
	Reload(ctx context.Context) error
	// Shutdown stops every instance gracefully (priority-0 adverts from masters, VIPs, routes,
	// rules and VMACs removed unless kept by option) and waits for everything it started.
	Shutdown(ctx context.Context) error
	// Stats returns the statistics document (SIGUSR2, `xalivectl stats`).
	Stats() any
}

// Daemon is a running xalived.
type Daemon struct {
	opts Options
	log  *slog.Logger

	mu  sync.Mutex
	eng engine

	stopOnce sync.Once
	stopCh   chan struct{}
}

// Run is the whole life of the daemon: it returns after a graceful stop (ctx done, SIGTERM,
// SIGINT or `xalivectl stop`), or with the error that kept it from starting.
func Run(ctx context.Context, opts Options) error {
	if opts.ConfigFile == "" {
		opts.ConfigFile = "/etc/keepalived/keepalived.conf"
	}
	if opts.Control == "" {
		opts.Control = control.DefaultPath(opts.Name)
	}
	if opts.DumpDir == "" {
		opts.DumpDir = os.TempDir()
	}
	if opts.Dataplane == "" {
		opts.Dataplane = control.DataplaneSocket
	}
	if opts.Dataplane != DataplaneSocket && opts.Dataplane != DataplaneXDP && opts.Dataplane != DataplaneAuto {
		return fmt.Errorf("dataplane %q: want auto, xdp or socket", opts.Dataplane)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.newEngine == nil {
		opts.newEngine = newRealEngine
	}
	d := &Daemon{opts: opts, log: opts.Logger, stopCh: make(chan struct{})}
	return d.run(ctx)
}

func (d *Daemon) run(ctx context.Context) (err error) {
	if d.opts.PIDFile != "" {
		if err := writePIDFile(d.opts.PIDFile); err != nil {
			return err
		}
		defer removePIDFile(d.opts.PIDFile)
	}
	ln, err := control.Listen(d.opts.Control)
	if err != nil {
		return err
	}
	defer ln.Close()

	// Signals are subscribed before anything runs so none is lost during start.
	sigs := make(chan os.Signal, 8)
	if !d.opts.NoSignals {
		signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGUSR2)
		defer signal.Stop(sigs)
	}

	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	eng, err := d.opts.newEngine(runCtx, d)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.eng = eng
	d.mu.Unlock()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if serr := eng.Shutdown(sctx); serr != nil {
			d.log.Error("shutdown", "err", serr)
			err = errors.Join(err, serr)
		}
		cancelRun()
	}()

	var wg sync.WaitGroup
	defer wg.Wait()
	srvCtx, stopSrv := context.WithCancel(context.Background())
	defer stopSrv()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := control.Serve(srvCtx, ln, d); err != nil {
			d.log.Error("control socket", "err", err)
		}
	}()

	if d.opts.ReadyFile != "" {
		if err := writeReadyFile(d.opts.ReadyFile); err != nil {
			return err
		}
		defer os.Remove(d.opts.ReadyFile)
	}
	if sent, err := sdNotify("READY=1\nSTATUS=running\nMAINPID=" + fmt.Sprint(os.Getpid())); err != nil {
		d.log.Warn("sd_notify", "err", err)
	} else if sent {
		d.log.Debug("sd_notify READY=1 sent")
	}
	d.log.Info("xalived running", "config", d.opts.ConfigFile, "control", d.opts.Control, "pid", os.Getpid())

	for {
		select {
		case <-ctx.Done():
			d.log.Info("stopping", "reason", "context done")
			return d.stopping()
		case <-d.stopCh:
			d.log.Info("stopping", "reason", "control stop")
			return d.stopping()
		case s := <-sigs:
			switch s {
			case syscall.SIGHUP:
				d.log.Info("SIGHUP: reloading", "config", d.opts.ConfigFile)
				if err := d.Reload(ctx); err != nil {
					d.log.Error("reload failed, keeping the running configuration", "err", err)
				}
			case syscall.SIGUSR1:
				d.writeDump(dumpData)
			case syscall.SIGUSR2:
				d.writeDump(dumpStats)
			default:
				d.log.Info("stopping", "signal", s.String())
				return d.stopping()
			}
		}
	}
}

func (d *Daemon) stopping() error {
	_, _ = sdNotify("STOPPING=1")
	return nil
}

func (d *Daemon) engine() engine {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.eng
}

// Status implements control.Handler.
func (d *Daemon) Status(context.Context) (control.Status, error) {
	e := d.engine()
	if e == nil {
		return control.Status{}, errors.New("starting")
	}
	st := e.Status()
	st.Name, st.PID, st.ConfigFile = d.opts.Name, os.Getpid(), d.opts.ConfigFile
	return st, nil
}

// Reload implements control.Handler: SIGHUP and `xalivectl reload` end here.
func (d *Daemon) Reload(ctx context.Context) error {
	e := d.engine()
	if e == nil {
		return errors.New("starting")
	}
	_, _ = sdNotify("RELOADING=1")
	defer func() { _, _ = sdNotify("READY=1") }()
	if err := e.Reload(ctx); err != nil {
		return err
	}
	d.log.Info("configuration reloaded", "config", d.opts.ConfigFile)
	return nil
}

// Stop implements control.Handler: it starts a graceful stop and returns at once.
func (d *Daemon) Stop(context.Context) error {
	d.stopOnce.Do(func() { close(d.stopCh) })
	return nil
}

// Stats implements control.StatsHandler.
func (d *Daemon) Stats(context.Context) (any, error) {
	e := d.engine()
	if e == nil {
		return nil, errors.New("starting")
	}
	return e.Stats(), nil
}

// dumpPather is implemented by engines whose configuration names the dump files
// (state_dump_file, stats_dump_file).
type dumpPather interface {
	dumpFile(kind dumpKind) string
}

// dumpPath names a dump file: the configuration's state_dump_file / stats_dump_file, else
// keepalived's /tmp/keepalived.data and /tmp/keepalived.stats, or /tmp/xalived-NAME.data and
// .stats for a daemon with --name (several daemons on one host must not collide).
func (d *Daemon) dumpPath(kind dumpKind) string {
	if dp, ok := d.engine().(dumpPather); ok {
		if p := dp.dumpFile(kind); p != "" {
			return p
		}
	}
	base := "keepalived"
	if d.opts.Name != "" {
		base = "xalived-" + d.opts.Name
	}
	return filepath.Join(d.opts.DumpDir, base+"."+string(kind))
}
