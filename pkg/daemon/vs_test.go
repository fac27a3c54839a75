package daemon

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/xalived/xalived/pkg/config"
	"github.com/xalived/xalived/pkg/lvs"
)

// A checker's dynamic weight (MISC_CHECK exit code, FILE_CHECK) reaches the IPVS destination;
// an inhibited (weight 0) or removed real server is not given it back.
func TestApplyDynamicWeights(t *testing.T) {
	const conf = `virtual_server 203.0.113.1 80 {
	lb_algo wrr
	lb_kind NAT
	protocol TCP
	inhibit_on_failure
	real_server 198.51.100.11 80 {
		weight 5
	}
	real_server 198.51.100.12 80 {
		weight 5
	}
	real_server 198.51.100.13 80 {
		weight 5
	}
}
`
	cfg, diags, err := config.Parse("vs.conf", []byte(conf), config.Options{})
	if err != nil || diags.HasErrors() {
		t.Fatalf("%v %v", err, diags)
	}
	name := lvs.VirtualServerName(cfg.VirtualServers[0])
	id := func(a string) lvs.RealServerID {
		return lvs.RealServerID{VS: name, Address: netip.MustParseAddr(a), Port: 80}
	}
	health := map[lvs.RealServerID]bool{id("198.51.100.11"): true, id("198.51.100.12"): true, id("198.51.100.13"): false}
	weights := map[lvs.RealServerID]int{id("198.51.100.11"): 9, id("198.51.100.12"): 5, id("198.51.100.13"): 7}
	var pl lvs.Planner
	plan, err := pl.Plan(cfg, lvs.Inputs{Health: health})
	if err != nil {
		t.Fatal(err)
	}
	applyDynamicWeights(&plan, weights)
	// The Planner's own Plan is left as it was: the next one is still FromConfig's.
	next, _ := pl.Plan(cfg, lvs.Inputs{Health: health})
	plain, _ := lvs.FromConfig(cfg, lvs.Inputs{Health: health})
	if !reflect.DeepEqual(next, plain) {
		t.Fatal("applying dynamic weights changed the Planner's state")
	}
	got := map[string]int{}
	for _, d := range plan.Services[0].Destinations {
		got[d.Address.String()] = d.Weight
	}
	want := map[string]int{"198.51.100.11": 9, "198.51.100.12": 5, "198.51.100.13": 0}
	for a, w := range want {
		if g, ok := got[a]; !ok || g != w {
			t.Errorf("%s: weight %d (present %v), want %d", a, g, ok, w)
		}
	}
}
