//go:build vmtest

package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/ipvs"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/pkg/control"
	"github.com/xalived/xalived/vmtest/vmenv"
)

// vsHelperEnv makes the test binary act as one of the processes the VM test starts inside its
// namespaces (the guest has no Go toolchain to build cmd/xalived): "daemon CONFIG SOCKET" runs
// xalived's daemon.Run, "http ADDR" a real server.
const vsHelperEnv = "XALIVED_VS_HELPER"

// TestVSHelperProcess is not a test: it is the entry point of the helper processes (it returns
// at once when the helper variable is not set).
func TestVSHelperProcess(t *testing.T) {
	args := strings.Fields(os.Getenv(vsHelperEnv))
	if len(args) == 0 {
		return
	}
	switch args[0] {
	case "daemon":
		log := slog.New(slog.NewTextHandler(os.Stderr, nil))
		err := Run(context.Background(), Options{ConfigFile: args[1], Control: args[2], Logger: log})
		if err != nil {
			fmt.Fprintln(os.Stderr, "daemon:", err)
			os.Exit(1)
		}
	case "http":
		ln, err := net.Listen("tcp", args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "real server "+args[1]+"\n")
		})}
		go func() { <-ctx.Done(); srv.Close() }()
		_ = srv.Serve(ln)
	}
	os.Exit(0)
}

// helper starts the test binary as a helper inside ns; kill ends it by pid.
type helper struct {
	cmd  *exec.Cmd
	done chan struct{}
	out  *strings.Builder
}

func startHelper(t *testing.T, ns *nstest.NS, args ...string) *helper {
	t.Helper()
	cmd := ns.Cmd(os.Args[0], "-test.run=^TestVSHelperProcess$")
	cmd.Env = append(os.Environ(), vsHelperEnv+"="+strings.Join(args, " "))
	h := &helper{cmd: cmd, done: make(chan struct{}), out: &strings.Builder{}}
	cmd.Stdout, cmd.Stderr = h.out, h.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(h.done) }()
	t.Cleanup(func() {
		h.kill(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("output of helper %v:\n%s", args, h.out.String())
		}
	})
	return h
}

// kill signals the helper (`ip netns exec` execs it, so the pid is the helper's) and waits.
func (h *helper) kill(sig syscall.Signal) {
	select {
	case <-h.done:
		return
	default:
	}
	_ = h.cmd.Process.Signal(sig)
	select {
	case <-h.done:
	case <-time.After(30 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.done
	}
}

// ipvsTable reads ns's IPVS table: "SERVICE" -> destination "ADDR:PORT" -> weight.
func ipvsTable(t *testing.T, ns *nstest.NS) map[string]map[string]int {
	t.Helper()
	h, err := ipvs.New("/run/netns/" + ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	svcs, err := h.GetServices()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]int{}
	for _, s := range svcs {
		ds, err := h.GetDestinations(s)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int{}
		for _, d := range ds {
			m[net.JoinHostPort(d.Address.String(), fmt.Sprint(d.Port))] = d.Weight
		}
		out[net.JoinHostPort(s.Address.String(), fmt.Sprint(s.Port))] = m
	}
	return out
}

// waitTable polls the table every 50 ms until cond holds and returns how long that took.
func waitTable(t *testing.T, ns *nstest.NS, timeout time.Duration, what string, cond func(map[string]map[string]int) bool) time.Duration {
	t.Helper()
	start := time.Now()
	var last map[string]map[string]int
	for time.Since(start) < timeout {
		if last = ipvsTable(t, ns); cond(last) {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v; IPVS table: %v", what, timeout, last)
	return 0
}

const vsVMConf = `global_defs {
	router_id vs_vm
}
virtual_server 203.0.113.1 80 {
	delay_loop 1
	lb_algo rr
	lb_kind NAT
	protocol TCP
%[1]s}
virtual_server 203.0.113.2 80 {
	delay_loop 1
	lb_algo rr
	lb_kind NAT
	protocol TCP
	inhibit_on_failure
%[1]s}
`

const vsVMRealServer = `	real_server %s 80 {
		weight 2
		TCP_CHECK {
			connect_timeout 1
			retry 1
			delay_before_retry 1
		}
	}
`

// TestVSDaemonIPVS runs the daemon against real servers in a namespace and follows the IPVS
// table it programs: every healthy real server is a destination; a killed one leaves (or gets
// weight 0 under inhibit_on_failure) and comes back once it answers again; a reload keeps a
// DOWN server out; a stop removes our services and leaves a foreign one alone.
func TestVSDaemonIPVS(t *testing.T) {
	vmenv.Require(t, "ip_vs", "ip_vs_rr", "veth")
	dir := nstest.New(t, "vsd")
	rsns := nstest.New(t, "vsr")
	nstest.Veth(t, dir, "eth0", rsns, "eth0")
	dir.MustRun(t, "ip", "addr", "add", "198.51.100.1/24", "dev", "eth0")
	rss := []string{"198.51.100.11", "198.51.100.12", "198.51.100.13"}
	var rsConf strings.Builder
	for _, a := range rss {
		rsns.MustRun(t, "ip", "addr", "add", a+"/24", "dev", "eth0")
		fmt.Fprintf(&rsConf, vsVMRealServer, a)
	}
	servers := map[string]*helper{}
	for _, a := range rss {
		servers[a] = startHelper(t, rsns, "http", a+":80")
	}

	// A service that is not ours: the daemon must leave it alone, also at stop.
	foreign := &ipvs.Service{Address: net.ParseIP("203.0.113.9"), Protocol: syscall.IPPROTO_TCP, Port: 80,
		AddressFamily: syscall.AF_INET, SchedName: "rr", Netmask: 0xffffffff}
	h, err := ipvs.New("/run/netns/" + dir.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.NewService(foreign); err != nil {
		t.Fatal(err)
	}
	h.Close()

	tmp := t.TempDir()
	conf := filepath.Join(tmp, "keepalived.conf")
	sock := filepath.Join(tmp, "xalived.sock")
	if err := os.WriteFile(conf, fmt.Appendf(nil, vsVMConf, rsConf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startHelper(t, dir, "daemon", conf, sock)

	const vs1, vs2 = "203.0.113.1:80", "203.0.113.2:80"
	killed := "198.51.100.11:80"
	all := func(m map[string]map[string]int) bool {
		for _, vs := range []string{vs1, vs2} {
			for _, a := range rss {
				if m[vs][a+":80"] != 2 {
					return false
				}
			}
		}
		return true
	}
	took := waitTable(t, dir, 90*time.Second, "all real servers in IPVS", all)
	t.Logf("daemon start -> all 3 real servers in both services: %v", took)

	// Kill one real server: delay_loop 1 x (retry 1 + 1) + connect_timeout 1 = 3 s at most by
	// keepalived's rules (a refused connection fails at once); the bound leaves room for TCG.
	servers["198.51.100.11"].kill(syscall.SIGKILL)
	gone := func(m map[string]map[string]int) bool {
		_, in1 := m[vs1][killed]
		w2, in2 := m[vs2][killed]
		return !in1 && in2 && w2 == 0
	}
	took = waitTable(t, dir, 60*time.Second, "killed real server out of "+vs1+" and weight 0 in "+vs2, gone)
	t.Logf("real server killed -> removed (and inhibited to weight 0): %v (keepalived bound: 3s)", took)
	if m := ipvsTable(t, dir); m[vs1]["198.51.100.12:80"] != 2 || m[vs1]["198.51.100.13:80"] != 2 {
		// Not fatal: under an emulated guest on a loaded host a 1 s connect_timeout can fail.
		t.Logf("the other real servers changed too (slow guest?): %v", m)
	}

	// The status document says so.
	c := control.NewClient(sock)
	var st *control.Status
	for try := 0; ; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		st, err = c.Status(ctx)
		cancel()
		if err == nil || try == 2 {
			break
		}
		t.Logf("status (try %d): %v", try+1, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !st.IPVS || len(st.VirtualServers) != 2 {
		t.Fatalf("status: ipvs %v, virtual servers %+v", st.IPVS, st.VirtualServers)
	}
	for _, vs := range st.VirtualServers {
		if len(vs.RealServers) != 3 {
			t.Fatalf("status %s:%d: real servers %+v, want 3", vs.Address, vs.Port, vs.RealServers)
		}
		for _, rs := range vs.RealServers {
			if rs.Weight != 2 || rs.Address == "198.51.100.11" && rs.Healthy {
				t.Errorf("status %s:%d -> %s: healthy %v weight %d, want weight 2 (and the killed one unhealthy)", vs.Address, vs.Port, rs.Address, rs.Healthy, rs.Weight)
			}
		}
	}

	// A reload keeps the DOWN server DOWN: it is not put back for a moment.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if m := ipvsTable(t, dir); !gone(m) {
			t.Fatalf("after reload the DOWN real server is back: %v", m)
		}
	}

	// Restart it: one successful check brings it back with its weight.
	servers["198.51.100.11"] = startHelper(t, rsns, "http", "198.51.100.11:80")
	took = waitTable(t, dir, 90*time.Second, "restarted real server back", all)
	t.Logf("real server restarted -> back in both services with weight 2: %v (keepalived bound: delay_loop 1s)", took)

	// Stop: our services leave, the foreign one stays.
	d.kill(syscall.SIGTERM)
	m := ipvsTable(t, dir)
	if _, ok := m["203.0.113.9:80"]; !ok || len(m) != 1 {
		t.Fatalf("after stop the table is %v, want only the foreign service 203.0.113.9:80", m)
	}
}

// TestVSDaemonHASuspend: a virtual server with ha_suspend is in IPVS only while its address is
// on this node (the VRRP master), and leaves when the address goes.
func TestVSDaemonHASuspend(t *testing.T) {
	vmenv.Require(t, "ip_vs", "ip_vs_rr", "veth")
	dir := nstest.New(t, "vsh")
	rsns := nstest.New(t, "vshr")
	nstest.Veth(t, dir, "eth0", rsns, "eth0")
	dir.MustRun(t, "ip", "addr", "add", "198.51.100.1/24", "dev", "eth0")
	rsns.MustRun(t, "ip", "addr", "add", "198.51.100.11/24", "dev", "eth0")
	startHelper(t, rsns, "http", "198.51.100.11:80")
	conf := `virtual_server 203.0.113.1 80 {
	delay_loop 1
	lb_algo rr
	lb_kind NAT
	protocol TCP
	ha_suspend
` + fmt.Sprintf(vsVMRealServer, "198.51.100.11") + "}\n"
	tmp := t.TempDir()
	path := filepath.Join(tmp, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	startHelper(t, dir, "daemon", path, filepath.Join(tmp, "xalived.sock"))
	waitTable(t, dir, 60*time.Second, "daemon up", func(map[string]map[string]int) bool {
		_, err := os.Stat(filepath.Join(tmp, "xalived.sock"))
		return err == nil
	})
	// Give it a few polls: the service must stay out while the address is elsewhere.
	time.Sleep(3 * suspendPoll)
	if m := ipvsTable(t, dir); len(m) != 0 {
		t.Fatalf("ha_suspend: service programmed without its address: %v", m)
	}
	dir.MustRun(t, "ip", "addr", "add", "203.0.113.1/32", "dev", "eth0")
	took := waitTable(t, dir, 60*time.Second, "service in IPVS once the address is here", func(m map[string]map[string]int) bool {
		return m["203.0.113.1:80"]["198.51.100.11:80"] == 2
	})
	t.Logf("address added -> service programmed: %v", took)
	dir.MustRun(t, "ip", "addr", "del", "203.0.113.1/32", "dev", "eth0")
	took = waitTable(t, dir, 60*time.Second, "service gone with the address", func(m map[string]map[string]int) bool { return len(m) == 0 })
	t.Logf("address removed -> service removed: %v", took)
}

// TestVSDaemonSyncFollowsVRRP: with lvs_sync_daemon naming an instance, the kernel's backup
// sync thread runs while the instance is BACKUP, the master thread once it is MASTER (sync id
// defaulting to the VRID, as keepalived's), and neither after SIGTERM.
func TestVSDaemonSyncFollowsVRRP(t *testing.T) {
	vmenv.Require(t, "ip_vs", "veth")
	dir := nstest.New(t, "vss")
	peer := nstest.New(t, "vssp")
	nstest.Veth(t, dir, "eth0", peer, "eth0")
	dir.MustRun(t, "ip", "addr", "add", "198.51.100.1/24", "dev", "eth0")
	conf := `global_defs {
	lvs_sync_daemon eth0 VI_1
}
vrrp_instance VI_1 {
	interface eth0
	virtual_router_id 42
	priority 100
	advert_int 1
	virtual_ipaddress {
		203.0.113.9/32
	}
}
`
	tmp := t.TempDir()
	path := filepath.Join(tmp, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	daemons := func() string { return dir.MustRun(t, "ipvsadm", "-L", "--daemon") }
	waitDaemons := func(what string, cond func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			out := daemons()
			if cond(out) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: ipvsadm --daemon:\n%s", what, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	const backup, master = "backup sync daemon (mcast=eth0, syncid=42", "master sync daemon (mcast=eth0, syncid=42"
	h := startHelper(t, dir, "daemon", path, filepath.Join(tmp, "xalived.sock"))
	waitDaemons("backup thread while BACKUP", func(out string) bool {
		return strings.Contains(out, backup) && !strings.Contains(out, master)
	})
	waitDaemons("master thread once MASTER", func(out string) bool {
		return strings.Contains(out, master) && !strings.Contains(out, backup)
	})
	if !strings.Contains(dir.MustRun(t, "ip", "addr", "show", "dev", "eth0"), "203.0.113.9/32") {
		t.Fatal("master sync thread running but the instance holds no VIP")
	}
	h.kill(syscall.SIGTERM)
	if out := daemons(); strings.Contains(out, "sync daemon") {
		t.Fatalf("sync threads left after SIGTERM:\n%s", out)
	}
}
