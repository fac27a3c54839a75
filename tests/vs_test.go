package tests

import (
	"testing"
	"time"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/internal/testenv"
	"github.com/xalived/xalived/pkg/control"
)

// TestVirtualServerChecks: virtual_server blocks are health-checked and reported in the status
// document even on this kernel without IPVS, and VRRP runs alongside.
func TestVirtualServerChecks(t *testing.T) {
	testenv.RequireCommand(t, "python3")
	l := NewLab(t, 1)
	n1 := l.Nodes[0]
	x := NewXalived(t, n1)
	conf := Conf{RouterID: "n1", Insts: []Inst{fastInst(150)}, Extra: `
virtual_server 198.51.100.100 8080 {
  delay_loop 1
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.200 8080 {
    weight 3
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
}
`}
	srv := l.Client.Start(t, "python3", "-m", "http.server", "8080", "--bind", "198.51.100.200")
	x.Start(t, conf.Render(n1, nil))
	WaitState(t, x, "VI_1", "MASTER", 3*time.Second)
	rs := func() *control.RealServer {
		st, err := x.Status(t)
		if err != nil || len(st.VirtualServers) != 1 || len(st.VirtualServers[0].RealServers) != 1 {
			return nil
		}
		return &st.VirtualServers[0].RealServers[0]
	}
	nstest.WaitFor(t, 5*time.Second, "real server healthy", func() bool { r := rs(); return r != nil && r.Healthy })
	st, _ := x.Status(t)
	vs := st.VirtualServers[0]
	if vs.Address != "198.51.100.100" || vs.Port != 8080 || vs.Protocol != "TCP" || vs.RealServers[0].Weight != 3 ||
		vs.RealServers[0].Address != "198.51.100.200" || vs.RealServers[0].Port != 8080 {
		t.Fatalf("virtual server in status: %+v", vs)
	}
	_ = srv.Process.Kill()
	nstest.WaitFor(t, 10*time.Second, "real server unhealthy", func() bool { r := rs(); return r != nil && !r.Healthy })
	if s := x.State(t, "VI_1"); s != "MASTER" {
		t.Fatalf("VRRP disturbed by the checkers: %s", s)
	}
}
