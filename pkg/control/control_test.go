package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeDaemon struct {
	st      Status
	reloads atomic.Int32
	stops   atomic.Int32
	reloadE error
}

func (f *fakeDaemon) Status(context.Context) (Status, error) { return f.st, nil }
func (f *fakeDaemon) Reload(context.Context) error           { f.reloads.Add(1); return f.reloadE }
func (f *fakeDaemon) Stop(context.Context) error             { f.stops.Add(1); return nil }
func (f *fakeDaemon) Stats(context.Context) (any, error) {
	return map[string]int{"adverts_rx": 7}, nil
}

func sample() Status {
	return Status{
		VRRP: []Instance{{
			Name: "VI_1", State: StateMaster, VRID: 51, Interface: "eth0", Priority: 150,
			EffectivePriority: 140, MasterIP: "198.51.100.1", VIPs: []string{"198.51.100.100/32"},
			Transitions: 2, Dataplane: DataplaneSocket, Drops: map[string]uint64{"ttl": 3}, DropsTotal: 3,
		}},
		VirtualServers: []VirtualServer{{
			Address: "198.51.100.100", Port: 80, Protocol: "TCP",
			RealServers: []RealServer{{Address: "203.0.113.10", Port: 8080, Weight: 1, Healthy: true}},
		}, {
			FWMark: 7, Protocol: "TCP", RealServers: []RealServer{},
		}},
	}
}

// start serves h on a real unix socket in a temporary directory.
func start(t *testing.T, h Handler) (string, func()) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run", "x.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h) }()
	var once sync.Once
	stop := func() { once.Do(func() { stopServe(t, cancel, done) }) }
	t.Cleanup(stop)
	return path, stop
}

func stopServe(t *testing.T, cancel func(), done chan error) {
	{
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("serve did not return after cancel")
		}
	}
}

func TestStatusJSONContract(t *testing.T) {
	path, _ := start(t, &fakeDaemon{st: sample()})
	resp, err := NewClient(path).Do(context.Background(), CmdStatus)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(resp.Status)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	vrrp := doc["vrrp"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "state", "vrid", "interface", "priority", "effective_priority",
		"master_ip", "vips", "transitions", "dataplane", "drops"} {
		if _, ok := vrrp[k]; !ok {
			t.Errorf("vrrp[0] lacks %q: %s", k, raw)
		}
	}
	vss := doc["virtual_servers"].([]any)
	vs := vss[0].(map[string]any)
	for _, k := range []string{"address", "port", "protocol", "real_servers"} {
		if _, ok := vs[k]; !ok {
			t.Errorf("virtual_servers[0] lacks %q", k)
		}
	}
	if _, ok := vss[1].(map[string]any)["fwmark"]; !ok {
		t.Errorf("fwmark virtual server lacks fwmark: %s", raw)
	}
	rs := vs["real_servers"].([]any)[0].(map[string]any)
	for _, k := range []string{"address", "port", "weight", "healthy"} {
		if _, ok := rs[k]; !ok {
			t.Errorf("real_servers[0] lacks %q", k)
		}
	}
	if vrrp["state"] != "MASTER" || vrrp["effective_priority"].(float64) != 140 {
		t.Errorf("values changed in transit: %s", raw)
	}
}

func TestEmptyStatusHasArrays(t *testing.T) {
	path, _ := start(t, &fakeDaemon{})
	resp, err := NewClient(path).Do(context.Background(), CmdStatus)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(resp.Status)
	if !strings.Contains(string(raw), `"vrrp":[]`) || !strings.Contains(string(raw), `"virtual_servers":[]`) {
		t.Fatalf("empty status must carry empty arrays, not null: %s", raw)
	}
}

func TestReloadStopStatsAndErrors(t *testing.T) {
	f := &fakeDaemon{st: sample()}
	path, _ := start(t, f)
	c := NewClient(path)
	ctx := context.Background()
	if err := c.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if f.reloads.Load() != 1 || f.stops.Load() != 1 {
		t.Fatalf("reloads=%d stops=%d, want 1 and 1", f.reloads.Load(), f.stops.Load())
	}
	raw, err := c.Stats(ctx)
	if err != nil || !strings.Contains(string(raw), `"adverts_rx":7`) {
		t.Fatalf("stats = %s, %v", raw, err)
	}
	f.reloadE = errors.New("keepalived.conf:3: unknown keyword")
	err = c.Reload(ctx)
	var re *RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "keepalived.conf:3") {
		t.Fatalf("reload error = %v, want the daemon's message", err)
	}
	if _, err := c.Do(ctx, "frobnicate"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("unknown command: %v", err)
	}
}

func TestBadRequestKeepsConnection(t *testing.T) {
	path, _ := start(t, &fakeDaemon{st: sample()})
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("{not json\n{\"cmd\":\"status\"}\n")); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(conn)
	var r1, r2 Response
	if err := dec.Decode(&r1); err != nil || r1.OK || !strings.Contains(r1.Error, "bad request") {
		t.Fatalf("first response %+v, %v", r1, err)
	}
	if err := dec.Decode(&r2); err != nil || !r2.OK || r2.Status == nil || r2.Status.VRRP[0].Name != "VI_1" {
		t.Fatalf("second response %+v, %v", r2, err)
	}
}

func TestConcurrentClients(t *testing.T) {
	path, _ := start(t, &fakeDaemon{st: sample()})
	c := NewClient(path)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Status(context.Background()); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestListenStaleAndInUse(t *testing.T) {
	path, stop := start(t, &fakeDaemon{})
	if _, err := Listen(path); !errors.Is(err, ErrInUse) {
		t.Fatalf("second Listen on a live socket: %v, want ErrInUse", err)
	}
	stop()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("socket not removed on close: %v", err)
	}
	// A stale socket file (daemon killed) is replaced.
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	ln, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln.Close()
}

func TestServeStopsWithOpenConnection(t *testing.T) {
	path, stop := start(t, &fakeDaemon{})
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stop() // must not hang on the idle connection
}

func TestClientNoDaemon(t *testing.T) {
	_, err := NewClient(filepath.Join(t.TempDir(), "none.sock")).Status(context.Background())
	if err == nil || !strings.Contains(err.Error(), "none.sock") {
		t.Fatalf("err = %v, want one naming the socket", err)
	}
}

func TestWriteTable(t *testing.T) {
	st := sample()
	var b bytes.Buffer
	if err := WriteTable(&b, &st); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"VI_1", "MASTER", "51", "198.51.100.100/32", "socket",
		"198.51.100.100:80", "203.0.113.10:8080", "yes", "fwmark 7"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestDefaultPath(t *testing.T) {
	if got := DefaultPath(""); got != "/run/xalived/xalived.sock" {
		t.Errorf("DefaultPath(\"\") = %s", got)
	}
	if got := DefaultPath("n1"); got != "/run/xalived/n1.sock" {
		t.Errorf("DefaultPath(n1) = %s", got)
	}
}

// stopper cancels the server as soon as Stop is called, as the daemon does.
type stopper struct {
	fakeDaemon
	cancel func()
}

func (s *stopper) Stop(ctx context.Context) error {
	s.cancel()
	time.Sleep(20 * time.Millisecond) // the shutdown is under way before the response is written
	return nil
}

func TestStopAnsweredBeforeShutdown(t *testing.T) {
	for range 5 {
		path := filepath.Join(t.TempDir(), "s.sock")
		ln, err := Listen(path)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Serve(ctx, ln, &stopper{cancel: cancel}) }()
		if err := NewClient(path).Stop(context.Background()); err != nil {
			t.Fatalf("stop lost its response: %v", err)
		}
		<-done
	}
}
