package daemon

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/xalived/xalived/pkg/config"
	"github.com/xalived/xalived/pkg/netif"
	"github.com/xalived/xalived/pkg/router"
	"github.com/xalived/xalived/pkg/vrrp"
)

const planConf = `
global_defs {
  router_id t
}
vrrp_script chk {
  script "/bin/true"
  interval 2
  weight -20
  fall 2
  rise 3
}
vrrp_sync_group G {
  group {
    VI_1
    VI_6
  }
  sync_group_tracking_weight
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 0.1
  version 3
  use_vmac
  track_interface {
    eth1 weight -10
  }
  track_script {
    chk
  }
  virtual_ipaddress {
    198.51.100.100/24 label eth0:1
  }
  virtual_ipaddress_excluded {
    2001:db8::2/64
  }
  virtual_routes {
    203.0.113.0/24 via 198.51.100.1 dev eth0 table 100
    203.0.113.128/25 table main no_track nexthop via 198.51.100.1 dev eth0 weight 2 nexthop via 198.51.100.2
  }
}
vrrp_instance VI_6 {
  interface eth0
  virtual_router_id 52
  priority 100
  unicast_src_ip 2001:db8::11
  unicast_peer {
    2001:db8::12
  }
  virtual_ipaddress {
    2001:db8::100/64
  }
}
`

func fakeLookup(ll bool) ifaceLookup {
	return func(name string) (netif.Info, error) {
		in := netif.Info{Name: name, Index: 2, Up: true, IPv4: netip.MustParseAddr("198.51.100.11")}
		if ll {
			in.IPv6LinkLocal = netip.MustParseAddr("fe80::1")
		}
		return in, nil
	}
}

func parse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, diags, err := config.Parse("k.conf", []byte(text), config.Options{})
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, diags)
	}
	return cfg
}

func TestBuildPlan(t *testing.T) {
	p, err := buildPlan(parse(t, planConf), fakeLookup(true), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.router.Instances) != 2 || len(p.router.SyncGroups) != 1 || len(p.router.Scripts) != 1 {
		t.Fatalf("plan: %+v", p.router)
	}
	v1 := p.router.Instances[0]
	if v1.Source != netip.MustParseAddr("198.51.100.11") || v1.SendInterface != "vrrp.51" || !v1.VMAC || v1.Version != 3 {
		t.Errorf("VI_1: %+v", v1)
	}
	// eVIPs may be of the other family.
	if len(v1.VIPs) != 1 || v1.VIPs[0] != netip.MustParseAddr("198.51.100.100") {
		t.Errorf("VI_1 VIPs %v", v1.VIPs)
	}
	d := p.data["VI_1"]
	if len(d.vips) != 1 || d.vips[0].Dev != "vrrp.51" || d.vips[0].Label != "eth0:1" || len(d.evips) != 1 ||
		len(d.routes) != 2 || d.routes[0].Table != 100 || d.routes[1].Table != 0 || len(d.routes[1].Nexthops) != 2 ||
		d.routes[1].Nexthops[0].Weight != 2 || d.routes[1].Nexthops[1].Via != netip.MustParseAddr("198.51.100.2") {
		t.Errorf("VI_1 host data: %+v", d)
	}
	names := map[string]vrrp.TrackKind{}
	for _, tr := range v1.Tracks {
		names[tr.Name] = tr.Kind
	}
	if names["if:eth0"] != vrrp.TrackInterface || names["if:eth1"] != vrrp.TrackInterface || names["script:chk"] != vrrp.TrackScript {
		t.Errorf("VI_1 tracks %+v", v1.Tracks)
	}
	if sc := p.router.Scripts[0]; sc.Rise != 3 || sc.Fall != 2 {
		t.Errorf("script %+v", sc)
	}
	v6 := p.router.Instances[1]
	if !v6.IPv6 || len(v6.Unicast) != 1 || v6.Source != netip.MustParseAddr("2001:db8::11") {
		t.Errorf("VI_6: %+v", v6)
	}
	// VI_1 listens on its VMAC (adverts from VMAC peers arrive there), delivered as eth0.
	if g, ok := p.listen[listenKey{iface: "vrrp.51", deliver: "eth0"}]; !ok || len(g) != 1 || g[0] != vrrp.GroupIPv4 {
		t.Errorf("listen: %+v", p.listen)
	}
	if g, ok := p.listen[listenKey{iface: "eth0", ipv6: true, deliver: "eth0"}]; !ok || len(g) != 0 {
		t.Errorf("unicast listen must join no group: %+v", p.listen)
	}
}

func TestBuildPlanNoSource(t *testing.T) {
	conf := strings.Replace(planConf, "unicast_src_ip 2001:db8::11\n", "", 1)
	conf = strings.Replace(conf, "unicast_peer {\n    2001:db8::12\n  }\n", "", 1)
	_, err := buildPlan(parse(t, conf), fakeLookup(false), nil)
	if !errors.Is(err, errNoSource) || !strings.Contains(err.Error(), "k.conf:") {
		t.Fatalf("err = %v, want errNoSource with FILE:LINE", err)
	}
}

// TestRxCoalesce: reads are spaced by a tenth of the shortest advert interval, 1 to 5 ms.
func TestRxCoalesce(t *testing.T) {
	for _, c := range []struct {
		intervals []time.Duration
		want      time.Duration
	}{
		{[]time.Duration{time.Second, 10 * time.Millisecond}, time.Millisecond},
		{[]time.Duration{20 * time.Millisecond}, 2 * time.Millisecond},
		{[]time.Duration{time.Second}, 5 * time.Millisecond},
		{nil, time.Millisecond},
	} {
		p := &plan{}
		for _, iv := range c.intervals {
			p.router.Instances = append(p.router.Instances, router.InstanceConfig{Interval: iv})
		}
		if got := rxCoalesce(p); got != c.want {
			t.Errorf("intervals %v: coalesce %v, want %v", c.intervals, got, c.want)
		}
	}
}
