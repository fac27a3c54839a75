//go:build vmtest

package lvs

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xalived/xalived/pkg/config"
	"github.com/xalived/xalived/vmtest/vmenv"
)

// TestVMConfigToKernel: keepalived.conf text with a virtual server per scheduler the kernel has
// (lb_kind cycling NAT, DR, TUN, one real server overriding it), a group and a fwmark service
// goes through config.Parse, FromConfig and Apply, and ipvsadm shows what the file says.
func TestVMConfigToKernel(t *testing.T) {
	ns, r := newDirector(t, Options{})
	kinds := []string{"NAT", "DR", "TUN"}
	ipvsadmKind := map[string]string{"NAT": "Masq", "DR": "Route", "TUN": "Tunnel"}
	var conf strings.Builder
	var want []string
	for i, s := range allSchedulers {
		if !vmenv.Has("ip_vs_" + s) {
			continue
		}
		kind := kinds[i%3]
		vip := fmt.Sprintf("203.0.113.%d:80", 10+i)
		fmt.Fprintf(&conf, `virtual_server 203.0.113.%d 80 {
    lb_algo %s
    lb_kind %s
    protocol TCP
    real_server 198.51.100.11 80 {
        weight %d
    }
    real_server 198.51.100.12 80 {
        weight 1
        lvs_method DR
    }
}
`, 10+i, s, kind, i+2)
		want = append(want, "TCP "+vip+" "+s,
			fmt.Sprintf("TCP %s -> 198.51.100.11:80 %s %d", vip, ipvsadmKind[kind], i+2),
			fmt.Sprintf("TCP %s -> 198.51.100.12:80 Route 1", vip))
	}
	conf.WriteString(`virtual_server_group pair {
    203.0.113.100-101 443
}
virtual_server group pair {
    protocol TCP
    lb_algo rr
    lb_kind NAT
    persistence_timeout 120
    real_server 198.51.100.21 443 {
        weight 3
    }
}
virtual_server fwmark 42 {
    lb_algo wlc
    lb_kind DR
    real_server 198.51.100.22 0 {
        weight 2
    }
}
`)
	want = append(want, "TCP 203.0.113.100:443 rr persistent 120", "TCP 203.0.113.101:443 -> 198.51.100.21:443 Masq 3",
		"FWM 42 wlc", "FWM 42 -> 198.51.100.22:0 Route 2")
	cfg, diags, err := config.Parse("keepalived.conf", []byte(conf.String()), config.Options{ConfigID: "vm"})
	if err != nil {
		t.Fatalf("%v %v", err, diags)
	}
	p, err := FromConfig(cfg, Inputs{})
	must(t, err)
	if _, err := r.Apply(p.Services); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(ipvsadmList(t, ns), "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("ipvsadm -Ln lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("ipvsadm -Ln:\n%s", got)
	}
}
