package lvs

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/xalived/xalived/pkg/config"
)

// plannerConfig has virtual servers of every kind the Planner must get right: plain ones, one
// with alpha and quorum and a sorry server, an ha_suspend one, a group and a fwmark.
func plannerConfig(weight func(v, r int) int) string {
	var b strings.Builder
	b.WriteString("virtual_server_group g1 {\n    203.0.113.200-203.0.113.201 80\n}\n")
	for v := range 12 {
		fmt.Fprintf(&b, "virtual_server 203.0.113.%d 80 {\n    lb_algo wlc\n    lb_kind NAT\n    protocol TCP\n", v+1)
		switch v {
		case 1:
			b.WriteString("    alpha\n    quorum 3\n    hysteresis 1\n    sorry_server 198.51.100.99 80\n")
		case 2:
			b.WriteString("    ha_suspend\n")
		}
		for r := range 3 {
			fmt.Fprintf(&b, "    real_server 198.51.100.%d 80 {\n        weight %d\n    }\n", 11+r, weight(v, r))
		}
		b.WriteString("}\n")
	}
	b.WriteString("virtual_server group g1 {\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n    real_server 198.51.100.50 80 {\n        weight 1\n    }\n}\n")
	b.WriteString("virtual_server fwmark 7 {\n    lb_algo rr\n    lb_kind DR\n    real_server 198.51.100.51 80 {\n        weight 1\n    }\n}\n")
	return b.String()
}

// TestPlannerMatchesFromConfig changes weights (through config.Incremental, which shares the
// unchanged blocks), health, quorum and suspension at random, and compares every Plan with
// FromConfig's.
func TestPlannerMatchesFromConfig(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	weights := map[[2]int]int{}
	text := func() []byte {
		return []byte(plannerConfig(func(v, r int) int { return weights[[2]int{v, r}] + 1 }))
	}
	inc := config.NewIncremental(config.Options{ConfigID: "test"})
	cfg, _, err := inc.Parse("keepalived.conf", text())
	if err != nil {
		t.Fatal(err)
	}
	var pl Planner
	in := Inputs{Health: map[RealServerID]bool{}, Quorum: map[string]bool{}}
	suspended := false
	in.Suspended = func(netip.Addr) bool { return suspended }
	reused := 0
	changed := map[string]bool{}
	for i := range 300 {
		what := r.IntN(5)
		switch what {
		case 0: // a weight, through a reload
			weights[[2]int{r.IntN(12), r.IntN(3)}] = r.IntN(5)
			if cfg, _, err = inc.Parse("keepalived.conf", text()); err != nil {
				t.Fatal(err)
			}
		case 1, 2: // a health verdict, which the caller says (or not)
			v := r.IntN(12)
			name := fmt.Sprintf("TCP 203.0.113.%d:80", v+1)
			in.Health[RealServerID{VS: name, Address: netip.AddrFrom4([4]byte{198, 51, 100, byte(11 + r.IntN(3))}), Port: 80}] = r.IntN(2) == 0
			changed[name] = true
		case 3:
			suspended = !suspended
		}
		in.HealthChanged = changed
		if r.IntN(4) == 0 {
			in.HealthChanged = nil
		}
		got, gerr := pl.Plan(cfg, in)
		changed = map[string]bool{}
		want, werr := FromConfig(cfg, in)
		if fmt.Sprint(gerr) != fmt.Sprint(werr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d (%d): Planner\n%+v %v\nFromConfig\n%+v %v", i, what, got, gerr, want, werr)
		}
		if i > 1 && what == 0 && inc.LastPath == "block" && pl.Computed > 2 { // itself, and one whose quorum flipped at the step before
			t.Fatalf("step %d: a one-line change computed %d virtual servers again", i, pl.Computed)
		}
		reused += pl.Reused
		in.Quorum = got.QuorumState()
	}
	if reused == 0 {
		t.Fatal("nothing reused")
	}
}
