//go:build vmtest

package lvs

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xalived/xalived/vmtest/vmenv"
)

// TestVMEverySchedulerAndMethod applies one service per scheduler the guest kernel has, with NAT,
// DR and TUN destinations, plus UDP, SCTP, fwmark, IPv6 and persistent services, then reads the
// table back through moby/ipvs and through ipvsadm, and checks a second Apply changes nothing.
func TestVMEverySchedulerAndMethod(t *testing.T) {
	ns, r := newDirector(t, Options{})
	var want []Service
	var scheds []string
	for i, s := range allSchedulers {
		if !vmenv.Has("ip_vs_" + s) {
			t.Logf("kernel %s has no ip_vs_%s: not tested", vmenv.Release(), s)
			continue
		}
		scheds = append(scheds, s)
		want = append(want, Service{
			Key:       Key{Protocol: TCP, Address: netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + i)}), Port: 80},
			Scheduler: s,
			Destinations: []Destination{
				{Address: addr("198.51.100.11"), Port: 8080, Weight: 1, Forward: NAT},
				{Address: addr("198.51.100.12"), Port: 80, Weight: 2, Forward: DR, UpperThreshold: 100, LowerThreshold: 10},
				{Address: addr("198.51.100.13"), Port: 80, Weight: 3, Forward: TUN},
			},
		})
	}
	if len(scheds) < 13 {
		t.Fatalf("kernel %s has only these schedulers: %v", vmenv.Release(), scheds)
	}
	want = append(want,
		Service{Key: Key{Protocol: UDP, Address: addr("203.0.113.50"), Port: 53}, Scheduler: "sh", Flags: FlagSched1 | FlagSched2,
			Destinations: []Destination{{Address: addr("198.51.100.21"), Port: 53, Weight: 1, Forward: DR}}},
		Service{Key: Key{Protocol: SCTP, Address: addr("203.0.113.51"), Port: 3868}, Scheduler: "rr",
			Destinations: []Destination{{Address: addr("198.51.100.22"), Port: 3868, Weight: 1}}},
		Service{Key: Key{FWMark: 7}, Scheduler: "wlc", Timeout: 300, Netmask: 0xffffff00,
			Destinations: []Destination{{Address: addr("198.51.100.23"), Weight: 5, Forward: DR}}},
		Service{Key: Key{FWMark: 8, Family: FamilyIPv6}, Scheduler: "rr",
			Destinations: []Destination{{Address: addr("2001:db8::23"), Weight: 5, Forward: DR}}},
		Service{Key: Key{Protocol: TCP, Address: addr("2001:db8::100"), Port: 443}, Scheduler: "mh", Timeout: 60, Netmask: 64,
			Destinations: []Destination{{Address: addr("2001:db8::11"), Port: 443, Weight: 1}, {Address: addr("2001:db8::12"), Port: 443, Weight: 0}}},
		Service{Key: Key{Protocol: UDP, Address: addr("203.0.113.52"), Port: 5060}, Scheduler: "rr", Flags: FlagOnePacket},
		// Tunnel encapsulations (GUE since 5.3, GRE since 5.5: both guest kernels).
		Service{Key: Key{Protocol: TCP, Address: addr("203.0.113.53"), Port: 80}, Scheduler: "rr",
			Destinations: []Destination{
				{Address: addr("198.51.100.31"), Port: 80, Weight: 1, Forward: TUN, TunnelType: TunnelGUE, TunnelPort: 6080, TunnelFlags: TunnelCsum},
				{Address: addr("198.51.100.32"), Port: 80, Weight: 1, Forward: TUN, TunnelType: TunnelGRE},
			}},
	)
	ch, err := r.Apply(want)
	must(t, err)
	wantDests := 0
	for _, s := range want {
		wantDests += len(s.Destinations)
	}
	if ch.ServicesAdded != len(want) || ch.DestsAdded != wantDests || ch.Total() != len(want)+wantDests {
		t.Fatalf("first apply: %v, want %d services and %d destinations added", ch, len(want), wantDests)
	}

	got, err := r.Read()
	must(t, err)
	norm := make([]Service, len(want))
	for i, s := range want {
		norm[i] = s.normalize()
	}
	sortServices(norm)
	if d := cmp.Diff(norm, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Fatalf("kernel state differs from desired (-want +got):\n%s", d)
	}

	// Independently through moby/ipvs: forwarding methods and weights as set.
	m := mobyRead(t, ns)
	if d := m["TCP 203.0.113.10:80 -> 198.51.100.12:80"]; d == nil || d.Weight != 2 || d.ConnectionFlags&7 != uint32(DR) || d.UpperThreshold != 100 {
		t.Fatalf("moby/ipvs reads rr DR destination as %+v", d)
	}

	// And as an operator sees it.
	lines := ipvsadmList(t, ns)
	text := strings.Join(lines, "\n")
	for i, s := range allSchedulers {
		if !vmenv.Has("ip_vs_" + s) {
			continue
		}
		vip := fmt.Sprintf("203.0.113.%d:80", 10+i)
		for _, l := range []string{
			fmt.Sprintf("TCP %s %s", vip, s),
			fmt.Sprintf("TCP %s -> 198.51.100.11:8080 Masq 1", vip),
			fmt.Sprintf("TCP %s -> 198.51.100.12:80 Route 2", vip),
			fmt.Sprintf("TCP %s -> 198.51.100.13:80 Tunnel 3", vip),
		} {
			if !strings.Contains(text, l) {
				t.Errorf("ipvsadm -Ln lacks %q:\n%s", l, text)
			}
		}
	}
	tun := ns.MustRun(t, "ipvsadm", "-Ln", "--tun-info", "-t", "203.0.113.53:80")
	for _, w := range []string{"GUE", "6080", "GRE"} {
		if !strings.Contains(strings.ToUpper(tun), w) {
			t.Errorf("ipvsadm --tun-info lacks %s:\n%s", w, tun)
		}
	}
	for _, l := range []string{"UDP 203.0.113.50:53 sh", "FWM 7 wlc persistent 300 mask 255.255.255.0", "TCP [2001:db8::100]:443 mh persistent 60 mask 64", "FWM 7 -> 198.51.100.23:0 Route 5", "UDP 203.0.113.52:5060 rr ops"} {
		if !strings.Contains(text, l) {
			t.Errorf("ipvsadm -Ln lacks %q:\n%s", l, text)
		}
	}

	ch, err = r.Apply(want)
	must(t, err)
	if ch.Total() != 0 {
		t.Fatalf("second apply of the same state changed the kernel: %v", ch)
	}

	// A change behind our back: Apply trusts what it applied for unchanged services, Resync
	// reads every destination and repairs it.
	ns.MustRun(t, "ipvsadm", "-e", "-t", "203.0.113.11:80", "-r", "198.51.100.12:80", "-g", "-w", "9")
	if ch, err = r.Apply(want); err != nil || ch.Total() != 0 {
		t.Fatalf("apply after a foreign edit: %v %v, want no change", ch, err)
	}
	if ch, err = r.Resync(want); err != nil || ch != (Changes{DestsUpdated: 1}) {
		t.Fatalf("resync after a foreign edit: %v %v, want one destination updated", ch, err)
	}

	// Change a scheduler and a forwarding method in place.
	want[0].Scheduler = "wrr"
	want[0].Destinations[0].Forward = DR
	ch, err = r.Apply(want)
	must(t, err)
	if ch != (Changes{ServicesUpdated: 1, DestsUpdated: 1}) {
		t.Fatalf("changing a scheduler and a method: %v", ch)
	}

	// Shutdown removes ours and nothing else.
	ns.MustRun(t, "ipvsadm", "-A", "-t", "203.0.113.99:80", "-s", "rr")
	ch, err = r.Shutdown()
	must(t, err)
	if ch.ServicesRemoved != len(want) {
		t.Fatalf("shutdown: %v, want %d services removed", ch, len(want))
	}
	if l := ipvsadmList(t, ns); len(l) != 1 || !strings.HasPrefix(l[0], "TCP 203.0.113.99:80 rr") {
		t.Fatalf("after shutdown the table should hold only the foreign service: %q", l)
	}
}
