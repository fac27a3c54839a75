//go:build vmtest

package lvs

import (
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/ipvs"

	"github.com/xalived/xalived/internal/nstest"
)

// hundredServices is a config's worth of services: 203.0.113.1-100:80, three NAT real servers each.
func hundredServices() []Service {
	out := make([]Service, 100)
	for i := range out {
		out[i] = Service{
			Key:       Key{Protocol: TCP, Address: netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)}), Port: 80},
			Scheduler: "wlc",
			Destinations: []Destination{
				{Address: addr("198.51.100.11"), Port: 80, Weight: 1},
				{Address: addr("198.51.100.12"), Port: 80, Weight: 1},
				{Address: addr("198.51.100.13"), Port: 80, Weight: 1},
			},
		}
	}
	return out
}

// openConnections makes the kernel schedule one connection per service: a non-blocking connect
// from inside the director's namespace (IPVS schedules local clients too) whose SYN goes into a
// dummy interface. The sockets stay open until the test ends.
func openConnections(t *testing.T, ns *nstest.NS, svcs []Service) {
	t.Helper()
	ns.MustRun(t, "ip", "link", "add", "sink", "type", "dummy")
	ns.MustRun(t, "ip", "addr", "add", "198.51.100.1/24", "dev", "sink")
	// Every VIP local (as on a director), so IPVS sees the SYNs.
	ns.MustRun(t, "ip", "route", "add", "local", "203.0.113.0/24", "dev", "lo")
	ns.MustRun(t, "ip", "link", "set", "sink", "up")
	// A child process in the namespace: setns on a test goroutine could land on the main thread,
	// which Go never retires, and leave the whole test binary in the namespace.
	var targets []string
	for _, sv := range svcs {
		targets = append(targets, netip.AddrPortFrom(sv.Address, sv.Port).String())
	}
	exe, err := os.Executable()
	must(t, err)
	cmd := ns.Cmd(exe)
	cmd.Env = append(os.Environ(), helperEnv+"=connect", "HELPER_TARGETS="+strings.Join(targets, ","))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("connect helper: %v: %s", err, out)
	}
}

// connectMain starts one TCP connection to each target without waiting for it.
func connectMain() int {
	var fds []int
	for _, tg := range strings.Split(os.Getenv("HELPER_TARGETS"), ",") {
		ap := netip.MustParseAddrPort(tg)
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
		if err != nil {
			os.Stderr.WriteString(err.Error())
			return 2
		}
		fds = append(fds, fd)
		err = syscall.Connect(fd, &syscall.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())})
		if err != nil && err != syscall.EINPROGRESS {
			os.Stderr.WriteString(tg + ": " + err.Error())
			return 2
		}
	}
	time.Sleep(100 * time.Millisecond)
	return 0
}

// counters returns, per service and per destination, the active plus inactive connections the
// kernel holds (moby/ipvs parses no per-destination statistics, and its service statistics
// read zero on 6.1).
func counters(t *testing.T, ns *nstest.NS) map[string]int {
	t.Helper()
	h, err := ipvs.New(nsPath(ns))
	must(t, err)
	defer h.Close()
	svcs, err := h.GetServices()
	must(t, err)
	out := map[string]int{}
	for _, s := range svcs {
		k := fromMoby(s).Key.String()
		ds, err := h.GetDestinations(s)
		must(t, err)
		for _, d := range ds {
			n := d.ActiveConnections + d.InactiveConnections
			out[k+" -> "+d.Address.String()] = n
			out[k] += n
		}
	}
	return out
}

// TestVMReloadChangesOneWeight: with 100 services applied and a connection on each, changing one
// weight changes exactly that destination in the kernel; every connection counter survives.
func TestVMReloadChangesOneWeight(t *testing.T) {
	ns, r := newDirector(t, Options{})
	want := hundredServices()
	if _, err := r.Apply(want); err != nil {
		t.Fatal(err)
	}
	openConnections(t, ns, want)
	before, err := r.Read()
	must(t, err)
	cb := counters(t, ns)
	for _, s := range want {
		if cb[s.Key.String()] < 1 {
			t.Fatalf("service %s: kernel counts no connection (%v)", s.Key, cb)
		}
	}

	want[56].Destinations[1].Weight = 7
	ch, err := r.Apply(want)
	must(t, err)
	if ch != (Changes{DestsUpdated: 1}) {
		t.Fatalf("one weight changed, kernel operations: %v", ch)
	}
	after, err := r.Read()
	must(t, err)
	before[56].Destinations[1].Weight = 7
	if d := cmp.Diff(before, after, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Fatalf("kernel state changed beyond the one weight (-want +got):\n%s", d)
	}
	ca := counters(t, ns)
	for k, b := range cb {
		if a := ca[k]; a < b {
			t.Errorf("%s: connections went from %d to %d: re-created", k, b, a)
		}
	}
}

const helperEnv = "XALIVED_LVS_HELPER"

// TestMain lets the test binary act as a daemon that applies a state and waits to be killed.
func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "1":
		os.Exit(helperMain())
	case "connect":
		os.Exit(connectMain())
	case "fetch":
		os.Exit(fetchMain())
	}
	os.Exit(m.Run())
}

func helperMain() int {
	var desired []Service
	b, err := os.ReadFile(os.Getenv("HELPER_DESIRED"))
	if err == nil {
		err = json.Unmarshal(b, &desired)
	}
	if err != nil {
		os.Stderr.WriteString(err.Error())
		return 2
	}
	r, err := New(Options{NetNS: os.Getenv("HELPER_NETNS"), StateFile: os.Getenv("HELPER_STATE")})
	if err == nil {
		_, err = r.Apply(desired)
	}
	if err != nil {
		os.Stderr.WriteString(err.Error())
		return 2
	}
	if err := os.WriteFile(os.Getenv("HELPER_READY"), nil, 0o644); err != nil {
		return 2
	}
	time.Sleep(time.Hour)
	return 0
}

// TestVMRestartAfterKill: a process applies a state and is killed with SIGKILL; a new one with
// the same state file and a changed configuration adopts what it finds, removes the service that
// was dropped from the configuration, adds nothing twice, and leaves a foreign service alone.
func TestVMRestartAfterKill(t *testing.T) {
	ns, _ := newDirector(t, Options{})
	ns.MustRun(t, "ipvsadm", "-A", "-t", "203.0.113.250:80", "-s", "rr")
	ns.MustRun(t, "ipvsadm", "-a", "-t", "203.0.113.250:80", "-r", "198.51.100.99:80", "-m")
	dir := t.TempDir()
	state := filepath.Join(dir, "lvs.json")
	first := hundredServices()[:10]
	b, _ := json.Marshal(first)
	must(t, os.WriteFile(filepath.Join(dir, "desired.json"), b, 0o644))

	exe, err := os.Executable()
	must(t, err)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), helperEnv+"=1", "HELPER_NETNS="+nsPath(ns), "HELPER_STATE="+state,
		"HELPER_DESIRED="+filepath.Join(dir, "desired.json"), "HELPER_READY="+filepath.Join(dir, "ready"))
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFile(t, filepath.Join(dir, "ready"), 30*time.Second)
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	// The configuration changed while the daemon was down: service 3 dropped, one weight
	// changed, service 11 added.
	second := hundredServices()[:11]
	second = append(second[:2], second[3:]...)
	second[4].Destinations[0].Weight = 4
	r, err := New(Options{NetNS: nsPath(ns), StateFile: state})
	must(t, err)
	t.Cleanup(r.Close)
	ch, err := r.Apply(second)
	must(t, err)
	if ch != (Changes{ServicesAdded: 1, ServicesRemoved: 1, DestsAdded: 3, DestsUpdated: 1}) {
		t.Fatalf("restart: %v", ch)
	}
	got, err := r.Read()
	must(t, err)
	want := append([]Service(nil), second...)
	want = append(want, Service{Key: Key{Protocol: TCP, Address: addr("203.0.113.250"), Port: 80}, Scheduler: "rr",
		Destinations: []Destination{{Address: addr("198.51.100.99"), Port: 80, Weight: 1}}})
	for i := range want {
		want[i] = want[i].normalize()
	}
	sortServices(want)
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Fatalf("kernel after restart (-want +got):\n%s", d)
	}
	if _, err := r.Shutdown(); err != nil {
		t.Fatal(err)
	}
	h, err := ipvs.New(nsPath(ns))
	must(t, err)
	defer h.Close()
	left, err := h.GetServices()
	must(t, err)
	if len(left) != 1 {
		t.Fatalf("after shutdown %d services are left, want only the foreign one", len(left))
	}
}
