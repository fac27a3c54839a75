package router

import "sync"

// vipSlot coalesces the host work of one instance. The FSM says what it wants (VIPs held or
// not, with which configuration) and the worker applies the latest wish when it gets there:
// under flapping, only the final state reaches the host, at most one VIP job and one GARP
// job wait per instance, and shutdown does not wait for superseded work.
type vipSlot struct {
	mu      sync.Mutex
	want    bool
	wantCfg *InstanceConfig
	have    bool
	haveCfg *InstanceConfig
	queued  bool // a syncVIPs job waits in the worker

	garpQueued bool
	garpCount  int
}

// wantVIPs records what in should hold now and queues a sync unless one waits already.
func (r *Router) wantVIPs(in *instance, want bool) {
	s := &in.vips
	s.mu.Lock()
	s.want, s.wantCfg = want, in.cfg
	queue := !s.queued
	s.queued = true
	s.mu.Unlock()
	if queue {
		r.later(func() { r.syncVIPs(s) })
	}
}

// syncVIPs runs on the worker: it brings the host to the latest wish.
func (r *Router) syncVIPs(s *vipSlot) {
	s.mu.Lock()
	s.queued = false
	want, wc, have, hc := s.want, s.wantCfg, s.have, s.haveCfg
	s.mu.Unlock()
	switch {
	case want && !have:
		r.hostErr(wc, "add vips", r.host.AddVIPs(wc))
	case !want && have:
		r.hostErr(hc, "remove vips", r.host.RemoveVIPs(hc))
	case want && have && wc != hc:
		r.hostErr(wc, "update vips", r.host.UpdateVIPs(hc, wc))
	default:
		return
	}
	s.mu.Lock()
	s.have, s.haveCfg = want, wc
	s.mu.Unlock()
}

// garp queues n gratuitous ARPs/NAs for in unless a GARP job waits already (then that one
// sends the larger count). It runs only if in still holds its VIPs then.
func (r *Router) garp(in *instance, n int) {
	s := &in.vips
	s.mu.Lock()
	if s.garpQueued {
		s.garpCount = max(s.garpCount, n)
		s.mu.Unlock()
		return
	}
	s.garpQueued, s.garpCount = true, n
	s.mu.Unlock()
	r.later(func() {
		s.mu.Lock()
		// Announce what the host holds now: a reload may have replaced the configuration
		// the GARP was asked for.
		cfg, n, ok := s.haveCfg, s.garpCount, s.want && s.have
		s.garpQueued = false
		s.mu.Unlock()
		if ok {
			r.hostErr(cfg, "garp", r.host.GARP(cfg, n))
		}
	})
}
