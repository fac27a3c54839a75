package notify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Config sets up a Dispatcher.
type Config struct {
	// ScriptTimeout bounds every script (default 30 s); ScriptGrace is the wait between SIGTERM
	// and SIGKILL of its process group (default 2 s).
	ScriptTimeout time.Duration
	ScriptGrace   time.Duration
	// ScriptUser is the default identity of scripts without their own (script_user); nil means
	// DefaultScriptUser() resolved by the caller, or the daemon's own user.
	ScriptUser *syscall.Credential
	// ScriptSecurity is enable_script_security: insecure root scripts are refused.
	ScriptSecurity bool
	// VRRPFIFO and LVSFIFO are the paths of vrrp_notify_fifo (or notify_fifo) and
	// lvs_notify_fifo; empty disables them. They may be the same path.
	VRRPFIFO string
	LVSFIFO  string
	// VRRPFIFOScript and LVSFIFOScript (notify_fifo_script, vrrp_notify_fifo_script,
	// lvs_notify_fifo_script) run for the whole life of the Dispatcher with the FIFO's path
	// appended; they are stopped (SIGTERM, then SIGKILL) when Run ends.
	VRRPFIFOScript *Script
	LVSFIFOScript  *Script
	// SMTP, when its Server and To are set, enables alerts.
	SMTP SMTPConfig
	// MailRetries is how many more times a failed alert is tried (default 3), MailBackoff the
	// first wait between tries, doubled each time up to 8x (default 5 s).
	MailRetries int
	MailBackoff time.Duration
	// QueueSize bounds each queue (default 1024).
	QueueSize int
	// MaxScripts bounds how many scripts run at once (default 32). Scripts of one instance, one
	// sync group, or one virtual server (its real servers' notify_up/down and its quorum_up/down)
	// run one after the other, in order; different ones run concurrently, so a hung script
	// delays nobody else.
	MaxScripts int
	// OnError, when set, receives delivery failures (scripts that could not start or were
	// refused, FIFO write errors, mail failures after the last retry). It is called from the
	// delivery goroutines and must not block.
	OnError func(error)
	// OnScript, when set, receives each script's result (for logs and tests).
	OnScript func(Script, []string, Result)
}

// Stats reports the delivery queues.
type Stats struct {
	Scripts QueueStats `json:"scripts"`
	FIFO    QueueStats `json:"fifo"`
	Mail    QueueStats `json:"mail"`
}

type scriptJob struct {
	s     Script
	extra []string
}

type fifoJob struct {
	path string
	line string
}

// Dispatcher runs notifications in order without ever blocking its callers. Create it with New,
// start it with Run (which returns when ctx ends), and call its methods from any goroutine.
type Dispatcher struct {
	cfg     Config
	scripts *keyedQueue[scriptJob]
	fifo    *queue[fifoJob]
	mail    *queue[Mail]

	mu    sync.Mutex
	fifos map[string]*FIFO
	now   func() time.Time
}

// ErrRefused is reported for a script refused by enable_script_security.
var ErrRefused = errors.New("script refused by enable_script_security")

// NoRootFallback applies the other half of enable_script_security: a script with no user of
// its own, no script_user and no keepalived_script user is not run as root by default (it is
// dropped, as keepalived does). Set script_user root to run such scripts as root on purpose.
func NoRootFallback(s Script) error {
	if s.Cred == nil && os.Geteuid() == 0 {
		return fmt.Errorf("%w: %s: no script_user and no keepalived_script user, refusing to fall back to root", ErrRefused, s)
	}
	return nil
}

// New returns a Dispatcher; nothing runs until Run.
func New(cfg Config) *Dispatcher {
	if cfg.ScriptTimeout <= 0 {
		cfg.ScriptTimeout = 30 * time.Second
	}
	if cfg.ScriptGrace <= 0 {
		cfg.ScriptGrace = 2 * time.Second
	}
	if cfg.MailRetries < 0 {
		cfg.MailRetries = 0
	} else if cfg.MailRetries == 0 {
		cfg.MailRetries = 3
	}
	if cfg.MailBackoff <= 0 {
		cfg.MailBackoff = 5 * time.Second
	}
	cfg.SMTP = cfg.SMTP.withDefaults()
	d := &Dispatcher{cfg: cfg, fifos: map[string]*FIFO{}, now: time.Now}
	d.scripts = newKeyedQueue(cfg.QueueSize, cfg.MaxScripts, d.runScript)
	d.fifo = newQueue(cfg.QueueSize, d.writeFIFO)
	d.mail = newQueue(cfg.QueueSize, d.sendMail)
	return d
}

// RouterID is the router_id used in mail subjects.
func (d *Dispatcher) RouterID() string { return d.cfg.SMTP.RouterID }

// Run delivers notifications until ctx ends, then closes the FIFOs. Call it once.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, fs := range []struct {
		path   string
		script *Script
	}{{d.cfg.VRRPFIFO, d.cfg.VRRPFIFOScript}, {d.cfg.LVSFIFO, d.cfg.LVSFIFOScript}} {
		if fs.path == "" || fs.script == nil {
			continue
		}
		if err := d.openFIFO(fs.path); err != nil {
			d.report(err)
			continue
		}
		wg.Add(1)
		go func(s Script, path string) {
			defer wg.Done()
			if s.Cred == nil {
				s.Cred = d.cfg.ScriptUser
			}
			if _, err := Run(ctx, s, 0, d.cfg.ScriptGrace, path); err != nil {
				d.report(fmt.Errorf("fifo script: %w", err))
			}
		}(*fs.script, fs.path)
	}
	d.scripts.start(ctx, &wg)
	wg.Add(2)
	go d.fifo.run(ctx, &wg)
	go d.mail.run(ctx, &wg)
	<-ctx.Done()
	d.scripts.close()
	// A FIFO write blocked on a full pipe is released by closing the pipe.
	d.mu.Lock()
	for p, f := range d.fifos {
		_ = f.Close()
		delete(d.fifos, p)
	}
	d.mu.Unlock()
	wg.Wait()
	return nil
}

// Stats returns the queue counters.
func (d *Dispatcher) Stats() Stats {
	return Stats{Scripts: d.scripts.stats(), FIFO: d.fifo.stats(), Mail: d.mail.stats()}
}

// Script queues a script with extra arguments appended, in order with the other scripts queued
// by Script (key ""). It returns false when the queue was full.
func (d *Dispatcher) Script(s Script, extra ...string) bool { return d.ScriptFor("", s, extra...) }

// ScriptFor queues a script in key's order: scripts of one key run one after the other, scripts
// of different keys concurrently.
func (d *Dispatcher) ScriptFor(key string, s Script, extra ...string) bool {
	if len(s.Argv) == 0 {
		return true
	}
	return d.scripts.push(key, scriptJob{s: s, extra: extra})
}

// Mail queues an alert; it is a no-op (true) when mail is not configured.
func (d *Dispatcher) Mail(m Mail) bool {
	if d.cfg.SMTP.Server == "" || len(d.cfg.SMTP.To) == 0 {
		return true
	}
	return d.mail.push(m)
}

// VRRPLine queues a line for the vrrp FIFO (no-op without one).
func (d *Dispatcher) VRRPLine(line string) bool {
	if d.cfg.VRRPFIFO == "" {
		return true
	}
	return d.fifo.push(fifoJob{path: d.cfg.VRRPFIFO, line: line})
}

// LVSLine queues a line for the lvs FIFO (no-op without one).
func (d *Dispatcher) LVSLine(line string) bool {
	if d.cfg.LVSFIFO == "" {
		return true
	}
	return d.fifo.push(fifoJob{path: d.cfg.LVSFIFO, line: line})
}

// VRRPScripts are the notify scripts of one instance or sync group; nil entries are unset.
type VRRPScripts struct {
	Master, Backup, Fault, Stop, Deleted *Script
	// Generic is `notify`: it runs after the specific one with four arguments appended.
	Generic *Script
	// MasterRxLowerPri is notify_master_rx_lower_pri.
	MasterRxLowerPri *Script
}

// VRRPEvent is a state change of an instance (Group false) or a sync group (Group true).
type VRRPEvent struct {
	Group    bool
	Name     string
	State    string // StateMaster, StateBackup, StateFault, StateStop, StateDeleted or a FIFO-only state
	Priority int
	// Mail sends an SMTP alert (smtp_alert of the instance/group).
	Mail bool
}

// VRRP delivers a state change the way keepalived does: the state's own script (only its
// configured arguments), then `notify` with INSTANCE|GROUP, name, state and priority appended
// (0 for groups), then the FIFO line, then the mail.
func (d *Dispatcher) VRRP(ev VRRPEvent, s VRRPScripts) {
	kind, prio := "INSTANCE", ev.Priority
	if ev.Group {
		kind, prio = "GROUP", 0
	}
	var specific *Script
	switch ev.State {
	case StateMaster:
		specific = s.Master
	case StateBackup:
		specific = s.Backup
	case StateFault:
		specific = s.Fault
	case StateStop:
		specific = s.Stop
	case StateDeleted:
		specific = s.Deleted
	case StateMasterRxLowerPri:
		specific = s.MasterRxLowerPri
	}
	key := kind + " " + ev.Name
	if specific != nil {
		d.ScriptFor(key, *specific)
	}
	if s.Generic != nil && isTransition(ev.State) {
		d.ScriptFor(key, *s.Generic, kind, ev.Name, ev.State, strconv.Itoa(prio))
	}
	if ev.Group {
		d.VRRPLine(GroupLine(ev.Name, ev.State))
	} else {
		d.VRRPLine(InstanceLine(ev.Name, ev.State, prio))
	}
	if ev.Mail && isTransition(ev.State) && ev.State != StateStop && ev.State != StateDeleted {
		if ev.Group {
			d.Mail(GroupMail(d.RouterID(), ev.Name, ev.State))
		} else {
			d.Mail(VRRPMail(d.RouterID(), ev.Name, ev.State))
		}
	}
}

func isTransition(state string) bool {
	switch state {
	case StateMaster, StateBackup, StateFault, StateStop, StateDeleted:
		return true
	}
	return false
}

// RealServerEvent is a real server going up or down.
type RealServerEvent struct {
	RS, VS  string // ServiceName / FWMarkName forms
	Up      bool
	Script  *Script // notify_up or notify_down, as applies
	Mail    bool
	Checker string // "TCP", "HTTP", "MISC", ... for the mail body
	Reason  string
}

// RealServer delivers a real server change: its notify_up/notify_down script (configured
// arguments only), the lvs FIFO line and the mail.
func (d *Dispatcher) RealServer(ev RealServerEvent) {
	if ev.Script != nil {
		d.ScriptFor("VS "+ev.VS, *ev.Script) // in order with the virtual server's quorum scripts
	}
	d.LVSLine(RSLine(ev.RS, ev.VS, ev.Up))
	if ev.Mail {
		d.Mail(RealServerMail(d.RouterID(), ev.RS, ev.VS, ev.Up, ev.Checker, ev.Reason))
	}
}

// VirtualServer delivers a quorum change: quorum_up/quorum_down, the lvs FIFO line and mail.
func (d *Dispatcher) VirtualServer(vs string, up bool, script *Script, mail bool, detail string) {
	if script != nil {
		d.ScriptFor("VS "+vs, *script)
	}
	d.LVSLine(VSLine(vs, up))
	if mail {
		d.Mail(VirtualServerMail(d.RouterID(), vs, up, detail))
	}
}

func (d *Dispatcher) report(err error) {
	if d.cfg.OnError != nil {
		d.cfg.OnError(err)
	}
}

func (d *Dispatcher) runScript(ctx context.Context, j scriptJob) {
	s := j.s
	if s.Cred == nil {
		s.Cred = d.cfg.ScriptUser
	}
	if d.cfg.ScriptSecurity {
		if err := CheckSecure(s); err != nil {
			d.report(fmt.Errorf("%w: %w", ErrRefused, err))
			return
		}
		if err := NoRootFallback(s); err != nil {
			d.report(err)
			return
		}
	}
	res, err := Run(ctx, s, d.cfg.ScriptTimeout, d.cfg.ScriptGrace, j.extra...)
	if err != nil {
		d.report(err)
	} else if res.TimedOut {
		d.report(fmt.Errorf("script %s: timed out after %v", s, d.cfg.ScriptTimeout))
	}
	if d.cfg.OnScript != nil {
		d.cfg.OnScript(s, j.extra, res)
	}
}

// openFIFO opens (creating) the FIFO at path once.
func (d *Dispatcher) openFIFO(path string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.fifos[path]; ok {
		return nil
	}
	f, err := OpenFIFO(path)
	if err != nil {
		return err
	}
	d.fifos[path] = f
	return nil
}

func (d *Dispatcher) writeFIFO(_ context.Context, j fifoJob) {
	if err := d.openFIFO(j.path); err != nil {
		d.report(err)
		return
	}
	d.mu.Lock()
	f := d.fifos[j.path]
	d.mu.Unlock()
	if f == nil {
		return
	}
	if err := f.WriteLine(j.line); err != nil {
		d.report(err)
	}
}

func (d *Dispatcher) sendMail(ctx context.Context, m Mail) {
	wait := d.cfg.MailBackoff
	var err error
	for try := 0; try <= d.cfg.MailRetries; try++ {
		if try > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				d.report(fmt.Errorf("smtp alert %q abandoned at shutdown: %w", m.Subject, err))
				return
			case <-t.C:
			}
			// Double the wait, but not past 8x the base: a server that comes back is
			// reached within a bounded time however long it was away.
			wait = min(2*wait, 8*d.cfg.MailBackoff)
		}
		if err = SendMail(ctx, d.cfg.SMTP, m, d.now()); err == nil {
			return
		}
	}
	d.report(fmt.Errorf("smtp alert %q: %w", m.Subject, err))
}
