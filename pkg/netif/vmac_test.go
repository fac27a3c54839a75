package netif

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/xalived/xalived/internal/nstest"
)

func sysctl(t *testing.T, ns *nstest.NS, key string) string {
	t.Helper()
	return strings.TrimSpace(ns.MustRun(t, "cat", "/proc/sys/"+key))
}

func TestVMAC(t *testing.T) {
	a, _ := pair(t)
	// Start from values that differ from what a VMAC needs, to see them changed and restored.
	for _, k := range []string{"arp_ignore", "arp_filter"} {
		a.MustRun(t, "sh", "-c", "echo 0 > /proc/sys/net/ipv4/conf/"+dev+"/"+k)
	}
	// Strict reverse-path filtering for all: it must stay in force for the other interfaces.
	a.MustRun(t, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/all/rp_filter; echo 0 > /proc/sys/net/ipv4/conf/"+dev+"/rp_filter")
	a.MustRun(t, "ip", "addr", "add", "fe80::1/64", "dev", dev, "nodad")
	var m VMACs
	var v4, v6 Info
	a.Do(t, func() {
		var err error
		if v4, err = m.Create(VMAC{Parent: dev, VRID: 51}); err != nil {
			t.Fatal(err)
		}
		if _, err = m.Create(VMAC{Parent: dev, VRID: 51}); err != nil { // idempotent
			t.Fatalf("second create: %v", err)
		}
		if v6, err = m.Create(VMAC{Name: "vrrp6.52", Parent: dev, VRID: 52, IPv6: true}); err != nil {
			t.Fatal(err)
		}
	})
	if v4.Name != "vrrp.51" || v4.MAC.String() != "00:00:5e:00:01:33" || v6.MAC.String() != "00:00:5e:00:02:34" {
		t.Fatalf("vmacs %+v %+v", v4, v6)
	}
	for name, mac := range map[string]string{"vrrp.51": "00:00:5e:00:01:33", "vrrp6.52": "00:00:5e:00:02:34"} {
		var links []struct {
			Address  string   `json:"address"`
			Link     string   `json:"link"`
			Flags    []string `json:"flags"`
			LinkInfo struct {
				Kind string `json:"info_kind"`
				Data struct {
					Mode string `json:"mode"`
				} `json:"info_data"`
			} `json:"linkinfo"`
		}
		out := a.MustRun(t, "ip", "-j", "-d", "link", "show", "dev", name)
		if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
			t.Fatalf("ip -j link %s: %v: %s", name, err, out)
		}
		l := links[0]
		if l.Address != mac || l.Link != dev || l.LinkInfo.Kind != "macvlan" || l.LinkInfo.Data.Mode != "private" ||
			!strings.Contains(strings.Join(l.Flags, ","), "UP") {
			t.Errorf("%s: %+v", name, l)
		}
		for k, want := range map[string]string{"accept_local": "1", "arp_ignore": "1", "rp_filter": "0"} {
			if got := sysctl(t, a, "net/ipv4/conf/"+name+"/"+k); got != want {
				t.Errorf("%s %s = %s, want %s", name, k, got, want)
			}
		}
	}
	for k, want := range map[string]string{"arp_ignore": "1", "arp_filter": "1", "rp_filter": "1"} {
		if got := sysctl(t, a, "net/ipv4/conf/"+dev+"/"+k); got != want {
			t.Errorf("parent %s = %s, want %s", k, got, want)
		}
	}
	if got := sysctl(t, a, "net/ipv4/conf/all/rp_filter"); got != "0" {
		t.Errorf("all.rp_filter = %s with vmacs, want 0", got)
	}
	// No kernel-made link-local from the shared MAC; the IPv6 VMAC carries the parent's.
	for name, want := range map[string]string{"vrrp.51": "", "vrrp6.52": "fe80::1"} {
		var got []string
		for _, ad := range addrs(t, a, name) {
			got = append(got, ad.Local)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s addresses %v, want %q", name, got, want)
		}
	}
	if v6.IPv6LinkLocal.String() != "fe80::1" {
		t.Errorf("ipv6 vmac link-local %s", v6.IPv6LinkLocal)
	}
	a.Do(t, func() {
		if err := m.Delete("vrrp.51"); err != nil {
			t.Fatal(err)
		}
	})
	// One VMAC left on the parent: its settings stay.
	if got := sysctl(t, a, "net/ipv4/conf/"+dev+"/arp_ignore"); got != "1" {
		t.Errorf("parent arp_ignore = %s while a vmac remains", got)
	}
	a.Do(t, func() {
		if err := m.Delete("vrrp6.52"); err != nil {
			t.Fatal(err)
		}
		if err := m.Delete("vrrp6.52"); err != nil {
			t.Fatalf("second delete: %v", err)
		}
	})
	if out := a.MustRun(t, "ip", "-br", "link"); strings.Contains(out, "vrrp") {
		t.Errorf("vmac left:\n%s", out)
	}
	for _, k := range []string{dev + "/arp_ignore", dev + "/arp_filter", dev + "/rp_filter"} {
		if got := sysctl(t, a, "net/ipv4/conf/"+k); got != "0" {
			t.Errorf("%s = %s after the last vmac, want 0 restored", k, got)
		}
	}
	if got := sysctl(t, a, "net/ipv4/conf/all/rp_filter"); got != "1" {
		t.Errorf("all.rp_filter = %s after the last vmac, want 1 restored", got)
	}
	// A name taken by something else is refused, not reused.
	a.Do(t, func() {
		if _, err := m.Create(VMAC{Name: dev, Parent: dev, VRID: 9}); err == nil {
			t.Error("vmac over an existing interface accepted")
		}
	})
}

func TestInterfaceInfo(t *testing.T) {
	a, _ := pair(t)
	a.MustRun(t, "ip", "addr", "add", "198.51.100.7/24", "dev", dev) // secondary
	a.MustRun(t, "ip", "addr", "add", "fe80::1/64", "dev", dev, "nodad")
	a.MustRun(t, "ip", "link", "set", dev, "address", "02:00:00:00:00:0a")
	var in, byIdx Info
	a.Do(t, func() {
		var err error
		if in, err = InterfaceByName(dev); err != nil {
			t.Fatal(err)
		}
		if byIdx, err = InterfaceByIndex(in.Index); err != nil {
			t.Fatal(err)
		}
		if _, err := InterfaceByName("nif-gone"); !IsNotExist(err) {
			t.Errorf("missing interface: %v", err)
		}
	})
	if in.Name != dev || in.IPv4.String() != "198.51.100.1" || in.MAC.String() != "02:00:00:00:00:0a" ||
		!in.Up || in.Index == 0 || byIdx.Name != dev {
		t.Fatalf("info %+v / %+v", in, byIdx)
	}
	// The kernel's own link-local may still be tentative; ours (nodad) is usable, and only
	// usable addresses are reported.
	if !in.IPv6LinkLocal.IsLinkLocalUnicast() {
		t.Fatalf("link-local %s", in.IPv6LinkLocal)
	}
}
