package lvs

import (
	"errors"
	"fmt"

	"github.com/xalived/xalived/pkg/config"
)

// Planner is FromConfig for a configuration that changes little between calls (a daemon's
// reloads and health changes): it keeps each virtual server's part of the previous Plan and
// computes again only the virtual servers whose block or inputs changed. A block is known by its
// *config.VirtualServer (config.Incremental shares the blocks a reload did not change); its
// inputs are the health of its real servers, its previous quorum state, whether its address is
// suspended (ha_suspend) and its virtual_server_group. The Plan is exactly FromConfig's, but
// it belongs to the Planner: it is valid until the next Plan (which may update it in place) and
// must not be modified. A Planner is not safe for concurrent use.
type Planner struct {
	prev map[*config.VirtualServer]*planned
	// order is prev's entries in the order of the configuration; valid says the Plan made of
	// them passed Validate.
	order []*planned
	valid bool
	// services and states are the last Plan's, at[i] the index in services of order[i]'s first.
	services []Service
	states   []VirtualServerState
	at       []int
	gen      uint64 // counts Plans
	// Reused and Computed count the virtual servers of the last Plan taken from the previous one
	// and computed again.
	Reused, Computed int
}

// planned is one virtual server's part of a Plan, with the inputs it was computed from.
type planned struct {
	vs        *config.VirtualServer
	gen       uint64 // the Plan that last used it
	name      string
	group     *config.VirtualServerGroup
	health    []int8 // per real server: -1 not in Inputs.Health, 0 down, 1 up
	quorum    int8   // -1 not in Inputs.Quorum, 0 down, 1 up
	suspended int8   // -1 not asked, 0 held, 1 suspended
	services  []Service
	state     []VirtualServerState // none when err is set
	err       error
}

func tri(v, ok bool) int8 {
	switch {
	case !ok:
		return -1
	case v:
		return 1
	}
	return 0
}

func suspendedIn(vs *config.VirtualServer, in Inputs) int8 {
	if vs.HASuspend && in.Suspended != nil && vs.Kind == "ip" {
		return tri(in.Suspended(vs.Address), true)
	}
	return -1
}

// same reports whether e still holds for vs under these inputs.
func (e *planned) same(vs *config.VirtualServer, groups map[string]*config.VirtualServerGroup, in Inputs) bool {
	if vs.Kind == "group" && groups[vs.Group] != e.group {
		return false
	}
	// The previous quorum state matters only with hysteresis.
	if q, ok := in.Quorum[e.name]; vs.Hysteresis != 0 && tri(q, ok) != e.quorum {
		return false
	}
	if (in.HealthChanged == nil || in.HealthChanged[e.name]) && (len(in.Health) > 0 || e.hasHealth()) {
		for i, rs := range vs.RealServers {
			h, ok := in.Health[RealServerID{VS: e.name, Address: rs.Address, Port: rs.Port}]
			if tri(h, ok) != e.health[i] {
				return false
			}
		}
	}
	return suspendedIn(vs, in) == e.suspended
}

func (e *planned) hasHealth() bool {
	for _, h := range e.health {
		if h >= 0 {
			return true
		}
	}
	return false
}

func planOne(vs *config.VirtualServer, groups map[string]*config.VirtualServerGroup, in Inputs) *planned {
	e := &planned{vs: vs, name: VirtualServerName(vs), health: make([]int8, len(vs.RealServers)), suspended: suspendedIn(vs, in)}
	if vs.Kind == "group" {
		e.group = groups[vs.Group]
	}
	q, ok := in.Quorum[e.name]
	e.quorum = tri(q, ok)
	for i, rs := range vs.RealServers {
		h, ok := in.Health[RealServerID{VS: e.name, Address: rs.Address, Port: rs.Port}]
		e.health[i] = tri(h, ok)
	}
	var p Plan
	if e.err = p.add(vs, groups, in); e.err == nil {
		e.services, e.state = p.Services, p.VirtualServers
	}
	return e
}

// Plan returns FromConfig(cfg, in), computing again only what changed since the last call.
func (pl *Planner) Plan(cfg *config.Config, in Inputs) (Plan, error) {
	groups := make(map[string]*config.VirtualServerGroup, len(cfg.VirtualServerGroups))
	for _, g := range cfg.VirtualServerGroups {
		groups[g.Name] = g
	}
	if pl.prev == nil {
		pl.prev = make(map[*config.VirtualServer]*planned, len(cfg.VirtualServers))
	}
	pl.gen++
	order := make([]*planned, 0, len(cfg.VirtualServers))
	pl.Reused, pl.Computed = 0, 0
	// The services the previous Plan validated, in the same order with the same keys, need not
	// be validated again: only those computed again, and only each on its own. Their Plan is the
	// previous one with those virtual servers replaced in place.
	sameKeys := pl.valid && len(cfg.VirtualServers) == len(pl.order)
	var fresh []Service
	var computed []int
	for i, vs := range cfg.VirtualServers {
		e := pl.prev[vs]
		switch {
		case e != nil && e.same(vs, groups, in):
			pl.Reused++
			sameKeys = sameKeys && e == pl.order[i]
		default:
			e = planOne(vs, groups, in)
			pl.Computed++
			sameKeys = sameKeys && e.err == nil && sameServiceKeys(e.services, pl.order[i].services)
			fresh = append(fresh, e.services...)
			computed = append(computed, i)
		}
		e.gen = pl.gen
		pl.prev[vs] = e
		order = append(order, e)
	}
	if len(pl.prev) != len(order) {
		for vs, e := range pl.prev {
			if e.gen != pl.gen {
				delete(pl.prev, vs) // a block no longer configured
			}
		}
	}
	pl.order = order
	if sameKeys {
		for _, i := range computed {
			copy(pl.services[pl.at[i]:], order[i].services)
			pl.states[i] = order[i].state[0]
		}
		err := Validate(fresh) // no duplicate can appear: the keys are the same as before
		pl.valid = err == nil
		return Plan{Services: pl.services, VirtualServers: pl.states}, err
	}
	p := Plan{Services: make([]Service, 0, len(cfg.VirtualServers)),
		VirtualServers: make([]VirtualServerState, 0, len(cfg.VirtualServers))}
	at := make([]int, len(order))
	var errs []error
	for i, e := range order {
		at[i] = len(p.Services)
		if e.err != nil {
			vs := e.vs
			errs = append(errs, fmt.Errorf("%s:%d: %s: %w", vs.Pos.File, vs.Pos.Line, e.name, e.err))
			continue
		}
		p.Services = append(p.Services, e.services...)
		p.VirtualServers = append(p.VirtualServers, e.state...)
	}
	err := Validate(p.Services)
	pl.valid = err == nil && len(errs) == 0
	pl.services, pl.states, pl.at = p.Services, p.VirtualServers, at
	if err != nil {
		errs = append(errs, err)
	}
	return p, errors.Join(errs...)
}

func sameServiceKeys(a, b []Service) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key {
			return false
		}
	}
	return true
}
