package lvs

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xalived/xalived/pkg/config"
)

const benchVS, benchRS = 1000, 10

// benchConfig writes 1,000 virtual servers x 10 real servers without checkers (so keepalived
// keeps every real server up); weightOf gives the weight of (virtual server, real server).
func benchConfig(weightOf func(vs, rs int) int) string {
	var b strings.Builder
	b.WriteString("global_defs {\n    router_id bench\n}\n")
	for v := range benchVS {
		fmt.Fprintf(&b, "virtual_server 203.0.113.%d %d {\n    delay_loop 60\n    lb_algo wlc\n    lb_kind NAT\n    protocol TCP\n", v/4+1, 1000+v%4)
		for r := range benchRS {
			fmt.Fprintf(&b, "    real_server 198.51.100.%d 80 {\n        weight %d\n    }\n", 11+r, weightOf(v, r))
		}
		b.WriteString("}\n")
	}
	return b.String()
}

func oneWeight(changed bool) func(vs, rs int) int {
	return func(vs, rs int) int {
		if changed && vs == 500 && rs == 5 {
			return 9
		}
		return 1
	}
}

// BenchmarkReloadPath is the host-side part of a one-line reload of 1,000 virtual servers x 10
// real servers (the VM benchmark's configuration): parse, desired state, and the difference
// against the previous desired state. No kernel is involved; the VM benchmark adds netlink.
func BenchmarkReloadPath(b *testing.B) {
	base, changed := []byte(benchConfig(oneWeight(false))), []byte(benchConfig(oneWeight(true)))
	cfg, _, err := config.Parse("keepalived.conf", base, config.Options{ConfigID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	prev, err := FromConfig(cfg, Inputs{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(changed)))
		for b.Loop() {
			if _, _, err := config.Parse("keepalived.conf", changed, config.Options{ConfigID: "bench"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	cfg2, _, err := config.Parse("keepalived.conf", changed, config.Options{ConfigID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fromconfig", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := FromConfig(cfg2, Inputs{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	applied, err := normalizeAll(prev.Services)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fromconfig+diff", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := FromConfig(cfg2, Inputs{})
			if err != nil {
				b.Fatal(err)
			}
			want, err := normalizeAll(p.Services)
			if err != nil {
				b.Fatal(err)
			}
			ops, touched, unknown := diffApplied(applied, want)
			if len(ops) != 1 || len(touched) != 1 || len(unknown) != 0 {
				b.Fatalf("one-line change: %d requests, %d services touched, %d unknown", len(ops), len(touched), len(unknown))
			}
		}
	})
	// The daemon's path: config.Incremental re-parses the changed block, the Planner computes
	// that virtual server again (with every real server's health known, no health changed), and
	// the difference is one request. Each iteration flips the weight back and forth.
	b.Run("incremental", func(b *testing.B) {
		b.ReportAllocs()
		inc := config.NewIncremental(config.Options{ConfigID: "bench"})
		var pl Planner
		cfg, _, err := inc.Parse("keepalived.conf", base)
		if err != nil {
			b.Fatal(err)
		}
		health := map[RealServerID]bool{}
		for _, vs := range cfg.VirtualServers {
			for _, rs := range vs.RealServers {
				health[RealServerID{VS: VirtualServerName(vs), Address: rs.Address, Port: rs.Port}] = true
			}
		}
		in := Inputs{Health: health, HealthChanged: map[string]bool{}}
		p, err := pl.Plan(cfg, in)
		if err != nil {
			b.Fatal(err)
		}
		in.Quorum = p.QuorumState()
		if p, err = pl.Plan(cfg, in); err != nil { // with the quorum state known, as in the daemon
			b.Fatal(err)
		}
		applied, err := normalizeAll(p.Services)
		if err != nil {
			b.Fatal(err)
		}
		last := deepCopy(p.Services)
		texts := [2][]byte{changed, base}
		i := 0
		for b.Loop() {
			cfg, _, err := inc.Parse("keepalived.conf", texts[i%2])
			if err != nil || inc.LastPath != "block" {
				b.Fatalf("parse: %v, %s", err, inc.LastPath)
			}
			p, err := pl.Plan(cfg, in)
			in.Quorum = p.QuorumState()
			if err != nil || pl.Computed != 1 {
				b.Fatalf("plan: %v, %d computed", err, pl.Computed)
			}
			ops, touched, changed, ok, err := diffSame(last, p.Services, applied)
			if !ok || err != nil || len(ops) != 1 || len(touched) != 1 {
				b.Fatalf("one-line change: %v %v, %d requests, %d services touched", ok, err, len(ops), len(touched))
			}
			applied[touched[0].Key] = touched[0]
			for _, i := range changed {
				last[i] = p.Services[i]
			}
			i++
		}
	})
}
