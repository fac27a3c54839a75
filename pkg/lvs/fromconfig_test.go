package lvs

import (
	"errors"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/xalived/xalived/pkg/config"
)

func parse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, diags, err := config.Parse("keepalived.conf", []byte(text), config.Options{ConfigID: "test"})
	if err != nil {
		t.Fatalf("parse: %v %v", err, diags)
	}
	return cfg
}

func plan(t *testing.T, cfg *config.Config, in Inputs) Plan {
	t.Helper()
	p, err := FromConfig(cfg, in)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// dests renders a service's destinations as "addr:port/weight/fwd" for compact comparison.
func dests(s Service) string {
	var out []string
	for _, d := range s.normalize().Destinations {
		out = append(out, netip.AddrPortFrom(d.Address, d.Port).String()+"/"+strconv.Itoa(d.Weight)+"/"+d.Forward.String())
	}
	return strings.Join(out, " ")
}

const quorumConf = `
virtual_server 203.0.113.1 80 {
    lb_algo wrr
    lb_kind DR
    protocol TCP
    persistence_timeout 300
    persistence_granularity 255.255.255.0
    quorum 4
    hysteresis 1
    sorry_server 198.51.100.99 8080
    real_server 198.51.100.11 80 {
        weight 2
    }
    real_server 198.51.100.12 80 {
        weight 2
        lvs_method NAT
    }
    real_server 198.51.100.13 80 {
        weight 1
        inhibit_on_failure
    }
}
`

func TestFromConfigAttributes(t *testing.T) {
	p := plan(t, parse(t, quorumConf), Inputs{})
	if len(p.Services) != 1 {
		t.Fatalf("services: %+v", p.Services)
	}
	s := p.Services[0].normalize()
	if s.Key != (Key{Family: FamilyIPv4, Protocol: TCP, Address: addr("203.0.113.1"), Port: 80}) ||
		s.Scheduler != "wrr" || s.Timeout != 300 || s.Netmask != 0xffffff00 || s.Flags != FlagPersistent {
		t.Fatalf("service: %+v", s)
	}
	if got, want := dests(s), "198.51.100.11:80/2/DR 198.51.100.12:80/2/NAT 198.51.100.13:80/1/DR"; got != want {
		t.Fatalf("destinations %q, want %q", got, want)
	}
}

// TestFromConfigQuorum walks quorum 4 with hysteresis 1 through failures and recoveries.
func TestFromConfigQuorum(t *testing.T) {
	cfg := parse(t, quorumConf)
	name := VirtualServerName(cfg.VirtualServers[0])
	rs := func(last byte) RealServerID {
		return RealServerID{VS: name, Address: netip.AddrFrom4([4]byte{198, 51, 100, last}), Port: 80}
	}
	steps := []struct {
		health map[RealServerID]bool
		up     bool
		dests  string
	}{
		// all up: 5 >= 4
		{map[RealServerID]bool{}, true, "198.51.100.11:80/2/DR 198.51.100.12:80/2/NAT 198.51.100.13:80/1/DR"},
		// .13 down: alive 4, inhibited with weight 0
		{map[RealServerID]bool{rs(13): false}, true, "198.51.100.11:80/2/DR 198.51.100.12:80/2/NAT 198.51.100.13:80/0/DR"},
		// .12 down too: alive 2 < 4-1: quorum lost, the sorry server replaces them
		{map[RealServerID]bool{rs(13): false, rs(12): false}, false, "198.51.100.99:8080/1/DR"},
		// .12 back: alive 4 < 4+1: still down (hysteresis)
		{map[RealServerID]bool{rs(13): false}, false, "198.51.100.99:8080/1/DR"},
		// all back: 5 >= 5: up, sorry server gone
		{map[RealServerID]bool{}, true, "198.51.100.11:80/2/DR 198.51.100.12:80/2/NAT 198.51.100.13:80/1/DR"},
		// .11 down: alive 3 >= 4-1: stays up
		{map[RealServerID]bool{rs(11): false}, true, "198.51.100.12:80/2/NAT 198.51.100.13:80/1/DR"},
	}
	var q map[string]bool
	var ups, downs int
	for i, st := range steps {
		p := plan(t, cfg, Inputs{Health: st.health, Quorum: q})
		up, down := p.QuorumChanges(q)
		ups, downs = ups+len(up), downs+len(down)
		q = p.QuorumState()
		if q[name] != st.up {
			t.Fatalf("step %d: quorum up %v, want %v", i, q[name], st.up)
		}
		if got := dests(p.Services[0]); got != st.dests {
			t.Fatalf("step %d: destinations %q, want %q", i, got, st.dests)
		}
	}
	if ups != 1 || downs != 1 {
		t.Fatalf("quorum transitions: %d up, %d down; want one of each", ups, downs)
	}
}

func TestFromConfigSorryInhibitAlphaSuspend(t *testing.T) {
	cfg := parse(t, `
virtual_server 203.0.113.2 443 {
    protocol TCP
    lb_algo rr
    lb_kind NAT
    alpha
    sorry_server 198.51.100.99 443
    sorry_server_inhibit
    ha_suspend
    real_server 198.51.100.21 443 {
        weight 3
        TCP_CHECK {
        }
    }
}
`)
	name := VirtualServerName(cfg.VirtualServers[0])
	id := RealServerID{VS: name, Address: addr("198.51.100.21"), Port: 443}
	// alpha: no verdict yet means down; quorum 1 is lost; the sorry server serves.
	p := plan(t, cfg, Inputs{})
	if got := dests(p.Services[0]); got != "198.51.100.99:443/1/NAT" {
		t.Fatalf("alpha start: %q", got)
	}
	// Checker says up: the real server serves, the sorry server stays with weight 0 (inhibit).
	p = plan(t, cfg, Inputs{Health: map[RealServerID]bool{id: true}, Quorum: p.QuorumState()})
	if got := dests(p.Services[0]); got != "198.51.100.21:443/3/NAT 198.51.100.99:443/0/NAT" {
		t.Fatalf("after check: %q", got)
	}
	st := p.VirtualServers[0]
	if !st.QuorumUp || st.AliveWeight != 3 || len(st.RealServers) != 2 || !st.RealServers[0].Healthy {
		t.Fatalf("status: %+v", st)
	}
	// ha_suspend: this node does not hold the VIP: no service at all.
	p = plan(t, cfg, Inputs{Health: map[RealServerID]bool{id: true}, Suspended: func(netip.Addr) bool { return true }})
	if len(p.Services) != 0 || !p.VirtualServers[0].Suspended {
		t.Fatalf("ha_suspend: %+v", p)
	}
}

func TestFromConfigGroupFwmarkIPv6(t *testing.T) {
	cfg := parse(t, `
virtual_server_group web {
    203.0.113.10-12 80
    fwmark 5
}
virtual_server group web {
    protocol TCP
    lb_algo sh
    lb_kind DR
    real_server 198.51.100.11 80 {
    }
}
virtual_server fwmark 9 {
    lb_algo mh
    lb_kind DR
    real_server 198.51.100.12 0 {
        weight 4
    }
}
virtual_server 2001:db8::1 443 {
    lb_algo rr
    lb_kind NAT
    protocol UDP
    persistence_timeout 60
    persistence_granularity 64
    real_server 2001:db8::11 443 {
    }
}
`)
	p := plan(t, cfg, Inputs{})
	var keys []string
	for _, s := range p.Services {
		keys = append(keys, s.normalize().Key.String())
	}
	want := "TCP 203.0.113.10:80,TCP 203.0.113.11:80,TCP 203.0.113.12:80,FWM 5,FWM 9,UDP [2001:db8::1]:443"
	if got := strings.Join(keys, ","); got != want {
		t.Fatalf("services %s, want %s", got, want)
	}
	if v6 := p.Services[5].normalize(); v6.Family != FamilyIPv6 || v6.Netmask != 64 || v6.Timeout != 60 {
		t.Fatalf("IPv6 service: %+v", v6)
	}
}

func TestValidate(t *testing.T) {
	s := Service{Key: Key{Protocol: TCP, Address: addr("203.0.113.1"), Port: 80}}
	d := Destination{Address: addr("198.51.100.1"), Port: 80, Weight: 1}
	for _, tc := range []struct {
		name string
		in   []Service
		want string
	}{
		{"duplicate service", []Service{s, s}, "listed twice"},
		{"no address", []Service{{Scheduler: "rr"}}, "no address and no fwmark"},
		{"duplicate destination", []Service{{Key: s.Key, Destinations: []Destination{d, d}}}, "listed twice"},
		{"negative weight", []Service{{Key: s.Key, Destinations: []Destination{{Address: d.Address, Weight: -1}}}}, "negative weight"},
	} {
		err := Validate(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := Validate([]Service{s, {Key: Key{FWMark: 1}}}); err != nil {
		t.Fatal(err)
	}
}

func TestNetmask(t *testing.T) {
	for in, want := range map[string]uint32{"255.255.255.0": 0xffffff00, "255.255.0.0": 0xffff0000, "24": 0xffffff00, "": 0} {
		if got, err := netmask(in, false); err != nil || got != want {
			t.Errorf("netmask(%q) = %#x, %v; want %#x", in, got, err, want)
		}
	}
	for _, bad := range []string{"255.0.255.0", "nonsense", "2001:db8::"} {
		if _, err := netmask(bad, false); err == nil {
			t.Errorf("netmask(%q) accepted", bad)
		}
	}
	if m := wireNetmask(FamilyIPv4, wireNetmask(FamilyIPv4, 0xffffff00)); m != 0xffffff00 {
		t.Fatalf("wireNetmask is not its own inverse: %#x", m)
	}
}

// TestNoIPVS checks the host's answer: where the kernel has IPVS, New works; where it has not
// (this project's build host), New says so with ErrNoIPVS and how to get it.
func TestNoIPVS(t *testing.T) {
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		r, err := New(Options{})
		if err != nil {
			t.Fatalf("kernel has IPVS but New failed: %v", err)
		}
		r.Close()
		return
	}
	_, err := New(Options{})
	if !errors.Is(err, ErrNoIPVS) {
		t.Fatalf("New on a kernel without IPVS: %v, want ErrNoIPVS", err)
	}
	if !strings.Contains(err.Error(), "CONFIG_IP_VS") {
		t.Fatalf("the error does not say how to get IPVS: %v", err)
	}
	t.Logf("%v", err)
}

// FuzzFromConfig: whatever the parser accepts, FromConfig returns a plan or an error, never
// panics, and a plan it returns without error passes Validate.
func FuzzFromConfig(f *testing.F) {
	f.Add(quorumConf)
	f.Add("virtual_server_group g {\n 203.0.113.1-3 80\n fwmark 3\n}\nvirtual_server group g {\n real_server 198.51.100.1 80 {\n }\n}\n")
	f.Add("virtual_server 2001:db8::1 80 {\n persistence_granularity 200\n real_server 2001:db8::2 80 {\n }\n}\n")
	f.Fuzz(func(t *testing.T, text string) {
		cfg, _, _ := config.Parse("fuzz.conf", []byte(text), config.Options{ConfigID: "fuzz", FS: noFS{}})
		if cfg == nil {
			return
		}
		p, err := FromConfig(cfg, Inputs{})
		if err == nil {
			if verr := Validate(p.Services); verr != nil {
				t.Fatalf("plan without error fails validation: %v", verr)
			}
		}
	})
}

// noFS keeps fuzzed include directives away from the real filesystem.
type noFS struct{}

func (noFS) ReadFile(string) ([]byte, error) { return nil, os.ErrNotExist }
func (noFS) Glob(string) ([]string, error)   { return nil, nil }

// TestDestAttrsRoundTrip encodes a destination as a request and decodes its attributes as a
// kernel reply: the two ends of batch.go agree on every field, tunnel settings included.
func TestDestAttrsRoundTrip(t *testing.T) {
	s := Service{Key: Key{Family: FamilyIPv4, Protocol: TCP, Address: addr("203.0.113.1"), Port: 80}, Scheduler: "rr"}
	for _, d := range []Destination{
		{Address: addr("198.51.100.1"), Port: 8080, Weight: 7, Forward: DR, UpperThreshold: 10, LowerThreshold: 2},
		{Address: addr("198.51.100.2"), Port: 80, Weight: 1, Forward: TUN, TunnelType: TunnelGUE, TunnelPort: 6080, TunnelFlags: TunnelRemCsum},
	} {
		b := appendRequest(nil, 42, 1, op{cmd: cmdNewDest, svc: s, dest: &d})
		var got *Destination
		for typ, v := range attrs(b[16+4:]) {
			if typ == attrDest {
				g := parseDest(v, FamilyIPv4)
				got = &g
			}
		}
		if got == nil || *got != d {
			t.Fatalf("round trip of %+v gave %+v", d, got)
		}
	}
}

func TestFromConfigTunnel(t *testing.T) {
	p := plan(t, parse(t, `
virtual_server 203.0.113.3 80 {
    protocol TCP
    lb_algo rr
    lb_kind TUN type gue port 6080 csum
    real_server 198.51.100.31 80 {
    }
    real_server 198.51.100.32 80 {
        lvs_method DR
    }
}
`), Inputs{})
	ds := p.Services[0].normalize().Destinations
	want := []Destination{
		{Address: addr("198.51.100.31"), Port: 80, Weight: 1, Forward: TUN, TunnelType: TunnelGUE, TunnelPort: 6080, TunnelFlags: TunnelCsum},
		{Address: addr("198.51.100.32"), Port: 80, Weight: 1, Forward: DR},
	}
	if len(ds) != 2 || ds[0] != want[0] || ds[1] != want[1] {
		t.Fatalf("destinations %+v, want %+v", ds, want)
	}
}
