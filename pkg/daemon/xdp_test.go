package daemon

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/xalived/xalived/loader"
	"github.com/xalived/xalived/pkg/control"
	"github.com/xalived/xalived/pkg/router"
	"github.com/xalived/xalived/pkg/vrrp"
)

func TestMasterDownInterval(t *testing.T) {
	for _, c := range []struct {
		cfg  router.InstanceConfig
		prio uint8
		want time.Duration
	}{
		// v3: 3 x interval + (256-prio)/256 x interval.
		{router.InstanceConfig{Version: 3, Interval: 100 * time.Millisecond}, 100, 300*time.Millisecond + 156*100*time.Millisecond/256},
		// v2: the skew is in seconds whatever the interval.
		{router.InstanceConfig{Version: 2, Interval: 2 * time.Second}, 200, 6*time.Second + 56*time.Second/256},
		// down_timer_adverts.
		{router.InstanceConfig{Version: 3, Interval: time.Second, DownTimerAdverts: 5}, 255, 5*time.Second + time.Second/256},
	} {
		if got := masterDownInterval(&c.cfg, c.prio); got != c.want {
			t.Errorf("%+v prio %d: %v, want %v", c.cfg, c.prio, got, c.want)
		}
	}
}

func TestLoaderInstance(t *testing.T) {
	key := loader.InstanceKey{Ifindex: 1, Family: loader.IPv4, VRID: 7}
	c := router.InstanceConfig{Name: "VI", Interface: "lo", VRID: 7, Version: 2, Priority: 120,
		Interval: 3 * time.Second, AuthType: vrrp.AuthPass, AuthPass: "secret", NoPreempt: true,
		Source:  netip.MustParseAddr("198.51.100.1"),
		Unicast: []vrrp.Peer{{Addr: netip.MustParseAddr("198.51.100.2"), MinTTL: 2, MaxTTL: 9}}, DownTimerAdverts: 4}
	in, err := loaderInstance(&c, key, 110)
	if err != nil {
		t.Fatal(err)
	}
	if in.Priority != 110 || in.Interval != 3 || in.AuthType != vrrp.AuthPass || in.AuthPass != "secret" ||
		!in.NoPreempt || !in.Unicast || in.DownAdverts != 4 || len(in.UnicastPeers) != 1 ||
		in.UnicastPeers[0].MinTTL != 2 || in.UnicastPeers[0].MaxTTL != 9 || in.LocalAddr != c.Source {
		t.Fatalf("instance %+v", in)
	}
	// nopreempt means nothing for an address owner or `state MASTER`; preempt_delay makes
	// the kernel re-arm on lower priorities so the FSM sees them.
	c.Priority, c.Version, c.Interval, c.AuthType, c.AuthPass = vrrp.PriorityOwner, 3, 100*time.Millisecond, 0, ""
	if in, _ := loaderInstance(&c, key, 255); in.NoPreempt || in.Interval != 10 {
		t.Fatalf("owner: nopreempt %v interval %d", in.NoPreempt, in.Interval)
	}
	c.Priority, c.NoPreempt, c.PreemptDelay = 100, false, time.Second
	if in, _ := loaderInstance(&c, key, 100); !in.NoPreempt {
		t.Fatal("preempt_delay: lower priorities must reach the FSM")
	}
	// VIPs need a MAC to answer with: an interface without one is refused.
	c.VIPs = []netip.Addr{netip.MustParseAddr("198.51.100.100")}
	for _, ifc := range []string{"lo", "no-such-interface-x"} {
		c.Interface = ifc
		if _, err := loaderInstance(&c, key, 100); err == nil {
			t.Fatalf("interface %s: no reply MAC, want an error", ifc)
		}
	}
}

func TestStartXDPChoice(t *testing.T) {
	p := &plan{router: router.Config{Instances: []router.InstanceConfig{{Name: "VI"}}}}
	for _, dp := range []string{"", DataplaneSocket} {
		x, err := startXDP(Options{Dataplane: dp}, p, slog.Default())
		if x != nil || err != nil {
			t.Fatalf("dataplane %q: %v, %v: want the socket path", dp, x, err)
		}
	}
	if _, err := startXDP(Options{Dataplane: "dpdk"}, p, slog.Default()); err == nil {
		t.Fatal("unknown dataplane accepted")
	}
	if _, err := openXDP(xdpOptions{Name: "x", Mode: "turbo"}, slog.Default()); err == nil {
		t.Fatal("unknown xdp mode accepted")
	}
	if p.router.Instances[0].ExternalMasterDown {
		t.Fatal("socket path: the router must run the master-down timer itself")
	}
}

// On the socket dataplane the engine calls the plane's hooks on a nil *xdpPlane.
func TestXDPPlaneNil(t *testing.T) {
	var x *xdpPlane
	p := &plan{router: router.Config{Instances: []router.InstanceConfig{{Name: "VI"}}}}
	if err := x.prepare(p); err != nil || p.router.Instances[0].ExternalMasterDown {
		t.Fatal("nil plane changed the plan")
	}
	if err := x.sync(p); err != nil {
		t.Fatal(err)
	}
	tr, n, o := x.wrap(nil, nil, router.Options{})
	if tr != nil || n != nil || o.MasterDownTimer != nil {
		t.Fatal("nil plane wrapped the router")
	}
	st := control.Status{VRRP: []control.Instance{{Name: "VI", Dataplane: control.DataplaneSocket}}}
	x.decorate(&st)
	if st.VRRP[0].Dataplane != control.DataplaneSocket || x.name() != control.DataplaneSocket || x.stats() != nil {
		t.Fatal("nil plane claims XDP")
	}
	x.start(nil)
	if err := x.close(true); err != nil {
		t.Fatal(err)
	}
}

func TestSplitGroupKey(t *testing.T) {
	if i, f := splitGroupKey("eth0.10/inet6"); i != "eth0.10" || f != "inet6" {
		t.Fatalf("%q %q", i, f)
	}
}
