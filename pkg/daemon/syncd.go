package daemon

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/xalived/xalived/pkg/config"
	"github.com/xalived/xalived/pkg/lvs"
	"github.com/xalived/xalived/pkg/router"
	"github.com/xalived/xalived/pkg/vrrp"
)

// syncDaemons runs global lvs_sync_daemon: IPVS connection-sync threads on an interface. With an
// instance named, the master thread runs while that instance is MASTER and the backup thread
// otherwise, as keepalived does. Without one, both run all the time, so connections flow to
// whichever node is standby without depending on a VRRP state (keepalived requires the instance).
type syncDaemons struct {
	log  *slog.Logger
	kick chan struct{}
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu       sync.Mutex
	cfg      *config.LVSSyncDaemon
	vrid     uint8 // of the followed instance: the default sync id
	state    vrrp.State
	applied  appliedSync
	noIPVS   bool
	lastErrs string
}

// appliedSync is what the kernel runs: running[1] the master thread, running[0] the backup.
type appliedSync struct {
	running [2]bool
	cfg     lvs.SyncDaemon
}

func startSyncDaemons(log *slog.Logger) *syncDaemons {
	ctx, cancel := context.WithCancel(context.Background())
	s := &syncDaemons{log: log, kick: make(chan struct{}, 1), stop: cancel, state: vrrp.StateBackup}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.kick:
				s.apply()
			}
		}
	}()
	return s
}

// configure takes the (re)loaded configuration.
func (s *syncDaemons) configure(cfg *config.Config) {
	s.mu.Lock()
	s.cfg = cfg.Global.LVSSyncDaemon
	s.vrid = 0
	if s.cfg != nil {
		for _, in := range cfg.Instances {
			if in.Name == s.cfg.Instance {
				s.vrid = uint8(in.VRID)
			}
		}
	}
	s.mu.Unlock()
	s.poke()
}

// follow takes a VRRP state notification.
func (s *syncDaemons) follow(n router.Notification) {
	s.mu.Lock()
	ours := s.cfg != nil && !n.Group && n.Name == s.cfg.Instance && n.Name != "" && !n.RxLowerPrio
	if ours {
		s.state = n.State
	}
	s.mu.Unlock()
	if ours {
		s.poke()
	}
}

func (s *syncDaemons) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// apply moves the kernel's sync threads to what the configuration and state ask for.
func (s *syncDaemons) apply() {
	s.mu.Lock()
	cfg, state, vrid, noIPVS, prev := s.cfg, s.state, s.vrid, s.noIPVS, s.applied
	s.mu.Unlock()
	if noIPVS {
		return
	}
	var want appliedSync
	if cfg != nil && state != vrrp.StateStop {
		want.cfg = lvs.SyncDaemon{Interface: cfg.Interface, SyncID: uint8(cfg.SyncID), MaxLen: uint16(cfg.MaxLen),
			Port: uint16(cfg.Port), TTL: uint8(cfg.TTL), Group: cfg.Group}
		if cfg.SyncID == 0 {
			want.cfg.SyncID = vrid
		}
		want.running[1] = cfg.Instance == "" || state == vrrp.StateMaster
		want.running[0] = cfg.Instance == "" || state != vrrp.StateMaster
	}
	var errs []error
	changed := prev.cfg != want.cfg
	// Stop first: the kernel refuses a second thread of a role, and a changed setting needs a
	// restart.
	for role := range 2 {
		if prev.running[role] && (!want.running[role] || changed) {
			if err := lvs.StopSyncDaemon("", role == 1); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for role := range 2 {
		if want.running[role] && (!prev.running[role] || changed) {
			d := want.cfg
			d.Master = role == 1
			if err := lvs.StartSyncDaemon("", d); err != nil {
				errs = append(errs, err)
			} else {
				s.log.Info("started " + d.String())
			}
		}
	}
	err := errors.Join(errs...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if errors.Is(err, lvs.ErrNoIPVS) {
		s.noIPVS = true
		s.log.Warn("lvs_sync_daemon: this kernel has no IPVS; connection sync is off", "err", err)
		return
	}
	s.applied = want
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg != "" && msg != s.lastErrs {
		s.log.Warn("lvs_sync_daemon", "err", err) // once per distinct failure, not per state change
	}
	s.lastErrs = msg
}

// close stops the goroutine and the kernel threads it started.
func (s *syncDaemons) close() {
	if s == nil {
		return
	}
	s.stop()
	s.wg.Wait()
	s.mu.Lock()
	s.state = vrrp.StateStop
	s.mu.Unlock()
	s.apply()
}
