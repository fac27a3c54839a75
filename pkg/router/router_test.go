package router

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xalived/xalived/pkg/vrrp"
)

// memNet is an in-memory segment: what one node sends, the others receive.
type memNet struct {
	mu    sync.Mutex
	nodes []*memNode
}

type memNode struct {
	net  *memNet
	addr netip.Addr
	r    *Router
	host *fakeHost
	note *fakeNotifier
	// cut: the node neither sends nor receives (a crashed process, or a partition).
	cut   atomic.Bool
	sends atomic.Int64
	pkts  atomic.Int64
	mu    sync.Mutex
	sent  []Packet // copies of everything sent
	errs  atomic.Int64
	// events orders adverts ("send NAME") and host work ("add NAME", "garp NAME").
	events []string
}

func (n *memNode) event(e string) {
	n.mu.Lock()
	n.events = append(n.events, e)
	n.mu.Unlock()
}

func (n *memNode) Send(pkts []Packet) error {
	n.sends.Add(1)
	n.pkts.Add(int64(len(pkts)))
	n.mu.Lock()
	for _, p := range pkts {
		p.Payload = append([]byte(nil), p.Payload...)
		n.sent = append(n.sent, p)
		n.events = append(n.events, "send "+p.Instance)
	}
	n.mu.Unlock()
	if n.cut.Load() {
		return nil
	}
	n.net.mu.Lock()
	peers := slices.Clone(n.net.nodes)
	n.net.mu.Unlock()
	for _, o := range peers {
		if o == n || o.cut.Load() || o.r == nil {
			continue
		}
		var batch []Received
		for _, p := range pkts {
			if !p.Dst.IsMulticast() && p.Dst != o.addr {
				continue
			}
			batch = append(batch, Received{Interface: "eth0",
				Meta: vrrp.Meta{Src: p.Src, Dst: p.Dst, TTL: p.TTL, Length: len(p.Payload)}, Payload: p.Payload})
		}
		if len(batch) > 0 {
			o.r.Deliver(batch...)
		}
	}
	return nil
}

func (n *memNode) lastSent(inst string) (Packet, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := len(n.sent) - 1; i >= 0; i-- {
		if n.sent[i].Instance == inst {
			return n.sent[i], true
		}
	}
	return Packet{}, false
}

type fakeHost struct {
	// events, if set, receives "add NAME"/"garp NAME" in order with the transport's "send".
	events  func(string)
	mu      sync.Mutex
	vips    map[string]bool
	garps   map[string]int
	updates map[string]int
	log     []string
}

func newFakeHost() *fakeHost {
	return &fakeHost{vips: map[string]bool{}, garps: map[string]int{}, updates: map[string]int{}}
}

func (h *fakeHost) AddVIPs(c *InstanceConfig) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.vips[c.Name] {
		return fmt.Errorf("%s: VIPs added twice", c.Name)
	}
	h.vips[c.Name] = true
	h.log = append(h.log, "add "+c.Name)
	if h.events != nil {
		h.events("add " + c.Name)
	}
	return nil
}

func (h *fakeHost) RemoveVIPs(c *InstanceConfig) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.vips[c.Name] = false
	h.log = append(h.log, "remove "+c.Name)
	return nil
}

func (h *fakeHost) UpdateVIPs(old, c *InstanceConfig) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.vips[old.Name] = false
	h.vips[c.Name] = true
	h.updates[c.Name]++
	h.log = append(h.log, "update "+old.Name+"->"+c.Name)
	return nil
}

func (h *fakeHost) GARP(c *InstanceConfig, n int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.vips[c.Name] {
		return fmt.Errorf("%s: GARP without VIPs", c.Name)
	}
	h.garps[c.Name] += n
	if h.events != nil {
		h.events("garp " + c.Name)
	}
	return nil
}

func (h *fakeHost) holds(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.vips[name]
}

func (h *fakeHost) logged() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.log)
}

type fakeNotifier struct {
	mu sync.Mutex
	ns []Notification
}

func (f *fakeNotifier) Notify(n Notification) {
	f.mu.Lock()
	f.ns = append(f.ns, n)
	f.mu.Unlock()
}

func (f *fakeNotifier) all() []Notification {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ns)
}

func (f *fakeNotifier) states(name string) []string {
	var out []string
	for _, n := range f.all() {
		if n.Name == name && !n.RxLowerPrio && !n.PriorityChanged {
			out = append(out, n.State.String())
		}
	}
	return out
}

const testInterval = 20 * time.Millisecond

func testInstance(name string, vrid, prio uint8, src string) InstanceConfig {
	return InstanceConfig{
		Name: name, Interface: "eth0", VRID: vrid, Version: 3, Priority: prio, Interval: testInterval,
		Source: netip.MustParseAddr(src),
		VIPs:   []netip.Addr{netip.MustParseAddr(fmt.Sprintf("203.0.113.%d", vrid))},
	}
}

// start runs a router for cfg on net; the test's cleanup shuts it down.
func (nw *memNet) start(t *testing.T, addr string, cfg Config) *memNode {
	t.Helper()
	n := &memNode{net: nw, addr: netip.MustParseAddr(addr), host: newFakeHost(), note: &fakeNotifier{}}
	n.host.events = n.event
	r, err := New(cfg, n, n.host, n.note, Options{OnError: func(err error) {
		n.errs.Add(1)
		t.Errorf("router %s: %v", addr, err)
	}})
	if err != nil {
		t.Fatal(err)
	}
	n.r = r
	nw.mu.Lock()
	nw.nodes = append(nw.nodes, n)
	nw.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return n
}

func (n *memNode) status(t *testing.T, name string) InstanceStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := n.r.Status(ctx)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	for _, in := range s.Instances {
		if in.Name == name {
			return in
		}
	}
	t.Fatalf("no instance %s in %+v", name, s)
	return InstanceStatus{}
}

// eventually polls cond for up to 5 s (a generous protocol timeout, not a timing assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (n *memNode) inState(t *testing.T, name, state string) func() bool {
	return func() bool { return n.status(t, name).State == state }
}

func TestElectionShutdownFailover(t *testing.T) {
	nw := &memNet{}
	a := nw.start(t, "198.51.100.1", Config{Instances: []InstanceConfig{testInstance("VI_1", 1, 150, "198.51.100.1")}})
	b := nw.start(t, "198.51.100.2", Config{Instances: []InstanceConfig{testInstance("VI_1", 1, 100, "198.51.100.2")}})
	eventually(t, "A master", a.inState(t, "VI_1", "MASTER"))
	eventually(t, "B backup of A", func() bool {
		s := b.status(t, "VI_1")
		return s.State == "BACKUP" && s.MasterIP == "198.51.100.1" && s.RxAdverts > 3
	})
	eventually(t, "VIP on the master only", func() bool { return a.host.holds("VI_1") && !b.host.holds("VI_1") })
	// The new master's first advert leaves before its VIPs and GARPs (keepalived's order).
	a.mu.Lock()
	evs := slices.Clone(a.events)
	a.mu.Unlock()
	if firstSend, firstAdd := slices.Index(evs, "send VI_1"), slices.Index(evs, "add VI_1"); firstSend < 0 || firstAdd < firstSend {
		t.Fatalf("A's events %v: VIPs before the first advert", evs)
	}
	eventually(t, "GARPs from A", func() bool {
		a.host.mu.Lock()
		defer a.host.mu.Unlock()
		return a.host.garps["VI_1"] >= 5
	})

	// Graceful stop of A: priority 0, VIPs released, STOP notified; B takes over.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if p, ok := a.lastSent("VI_1"); !ok || p.Payload[2] != 0 {
		t.Fatalf("A's last advert %+v, want priority 0", p)
	}
	if a.host.holds("VI_1") {
		t.Fatal("A kept its VIPs after shutdown")
	}
	if got := a.note.states("VI_1"); strings.Join(got, " ") != "BACKUP MASTER STOP" {
		t.Fatalf("A notifications %v", got)
	}
	eventually(t, "B master", b.inState(t, "VI_1", "MASTER"))
	eventually(t, "B takes the VIPs", func() bool { return b.host.holds("VI_1") })
}

func TestSilentMasterFailover(t *testing.T) {
	nw := &memNet{}
	a := nw.start(t, "198.51.100.1", Config{Instances: []InstanceConfig{testInstance("VI_1", 1, 150, "198.51.100.1")}})
	b := nw.start(t, "198.51.100.2", Config{Instances: []InstanceConfig{testInstance("VI_1", 1, 100, "198.51.100.2")}})
	eventually(t, "A master", a.inState(t, "VI_1", "MASTER"))
	eventually(t, "B backup", b.inState(t, "VI_1", "BACKUP"))
	a.cut.Store(true) // like SIGKILL: no priority 0
	eventually(t, "B master after master down", b.inState(t, "VI_1", "MASTER"))
	// A comes back: it is still master (it never heard B), the higher priority wins at once.
	a.cut.Store(false)
	eventually(t, "B yields to A", b.inState(t, "VI_1", "BACKUP"))
	if s := a.status(t, "VI_1"); s.State != "MASTER" {
		t.Fatalf("A %s", s.State)
	}
}

func TestReloadKeepsMaster(t *testing.T) {
	nw := &memNet{}
	vi1 := testInstance("VI_1", 1, 150, "198.51.100.1")
	a := nw.start(t, "198.51.100.1", Config{Instances: []InstanceConfig{vi1}})
	b := nw.start(t, "198.51.100.2", Config{Instances: []InstanceConfig{testInstance("VI_1", 1, 100, "198.51.100.2")}})
	eventually(t, "A master", a.inState(t, "VI_1", "MASTER"))
	eventually(t, "B backup", b.inState(t, "VI_1", "BACKUP"))
	// The host worker may lag the FSM; the reload must find the VIPs on the host to update.
	eventually(t, "A holds the VIPs", func() bool { return a.host.holds("VI_1") })
	before := a.status(t, "VI_1")

	// Same identity under a new name, a changed priority and one more VIP; plus a new
	// instance.
	renamed := vi1
	renamed.Name = "web"
	renamed.Priority = 160
	renamed.VIPs = append(slices.Clone(vi1.VIPs), netip.MustParseAddr("203.0.113.100"))
	vi2 := testInstance("VI_2", 2, 100, "198.51.100.1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.r.Reload(ctx, Config{Instances: []InstanceConfig{renamed, vi2}}); err != nil {
		t.Fatal(err)
	}
	s := a.status(t, "web")
	if s.State != "MASTER" || s.Transitions != before.Transitions || s.EffectivePriority != 160 || len(s.VIPs) != 2 {
		t.Fatalf("after reload %+v, before %+v", s, before)
	}
	eventually(t, "VI_2 master (no peer)", a.inState(t, "VI_2", "MASTER"))
	eventually(t, "host updated", func() bool {
		a.host.mu.Lock()
		defer a.host.mu.Unlock()
		return a.host.updates["web"] == 1
	})
	for _, l := range a.host.logged() {
		if strings.HasPrefix(l, "remove VI_1") {
			t.Fatalf("the matched master released its VIPs: %v", a.host.logged())
		}
	}
	// B kept accepting the master (VIP list differs now: counted, not dropped).
	eventually(t, "B counts the VIP list mismatch", func() bool {
		s := b.status(t, "VI_1")
		return s.State == "BACKUP" && s.Notes["addr_count"] > 0
	})

	// An invalid config changes nothing.
	bad := renamed
	bad.VRID = 0
	if err := a.r.Reload(ctx, Config{Instances: []InstanceConfig{bad}}); err == nil {
		t.Fatal("invalid config accepted")
	}
	// Remove VI_2: it stops, releases its VIPs and says so.
	if err := a.r.Reload(ctx, Config{Instances: []InstanceConfig{renamed}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "VI_2 released", func() bool { return !a.host.holds("VI_2") })
	eventually(t, "VI_2 removal notified", func() bool {
		for _, n := range a.note.all() {
			if n.Name == "VI_2" && n.Removed && n.State == vrrp.StateStop {
				return true
			}
		}
		return false
	})
	if p, _ := a.lastSent("VI_2"); p.Payload[2] != 0 {
		t.Fatal("removed master did not send priority 0")
	}
	if s := a.status(t, "web"); s.State != "MASTER" || s.Transitions != before.Transitions {
		t.Fatalf("web %+v", s)
	}
}

func TestTrackers(t *testing.T) {
	nw := &memNet{}
	vi := testInstance("VI_1", 1, 150, "198.51.100.1")
	vi.Tracks = []Track{
		{Name: "eth1", Kind: vrrp.TrackInterface},                       // weight 0: FAULT
		{Name: "chk", Kind: vrrp.TrackScript, Weight: -60},              // 150 → 90
		{Name: "file", Kind: vrrp.TrackFile, Weight: 1},                 // + value
		{Name: "never-reported", Kind: vrrp.TrackProcess, Weight: -100}, // counts as up
	}
	a := nw.start(t, "198.51.100.1", Config{Instances: []InstanceConfig{vi},
		Scripts: []ScriptConfig{{Name: "chk", Rise: 1, Fall: 2}}})
	b := nw.start(t, "198.51.100.2", Config{Instances: []InstanceConfig{testInstance("VI_1", 1, 100, "198.51.100.2")}})
	eventually(t, "A master", a.inState(t, "VI_1", "MASTER"))

	a.r.SetTracker("eth1", false, 0)
	eventually(t, "A fault", a.inState(t, "VI_1", "FAULT"))
	eventually(t, "B master", b.inState(t, "VI_1", "MASTER"))
	eventually(t, "A releases VIPs in FAULT", func() bool { return !a.host.holds("VI_1") })
	a.r.SetTracker("eth1", true, 0)
	eventually(t, "A preempts again", a.inState(t, "VI_1", "MASTER"))
	eventually(t, "B backup", b.inState(t, "VI_1", "BACKUP"))

	// One failure is not enough with fall 2; two drop A to 90 and B preempts.
	a.r.ScriptResult("chk", false)
	eventually(t, "first failure counted", func() bool { return a.status(t, "VI_1").EffectivePriority == 150 })
	a.r.ScriptResult("chk", false)
	eventually(t, "A at 90", func() bool { return a.status(t, "VI_1").EffectivePriority == 90 })
	eventually(t, "priority change notified", func() bool {
		return slices.ContainsFunc(a.note.all(), func(n Notification) bool { return n.PriorityChanged && n.Priority == 90 })
	})
	eventually(t, "B preempts", b.inState(t, "VI_1", "MASTER"))
	eventually(t, "A backup", a.inState(t, "VI_1", "BACKUP"))

	a.r.SetTracker("file", true, 20) // 90 + 20 = 110 > 100
	eventually(t, "A at 110", func() bool { return a.status(t, "VI_1").EffectivePriority == 110 })
	eventually(t, "A preempts with file weight", a.inState(t, "VI_1", "MASTER"))
}

func TestSyncGroup(t *testing.T) {
	nw := &memNet{}
	cfgFor := func(prio uint8, src string) Config {
		v1, v2 := testInstance("VI_1", 1, prio, src), testInstance("VI_2", 2, prio, src)
		v2.Tracks = []Track{{Name: "chk", Kind: vrrp.TrackScript, Weight: -100}} // weight ignored in a group
		return Config{Instances: []InstanceConfig{v1, v2},
			SyncGroups: []SyncGroupConfig{{Name: "G", Members: []string{"VI_1", "VI_2"}}}}
	}
	a := nw.start(t, "198.51.100.1", cfgFor(150, "198.51.100.1"))
	b := nw.start(t, "198.51.100.2", cfgFor(100, "198.51.100.2"))
	for _, n := range []string{"VI_1", "VI_2"} {
		eventually(t, "A master "+n, a.inState(t, n, "MASTER"))
		eventually(t, "B backup "+n, b.inState(t, n, "BACKUP"))
	}
	a.r.ScriptResult("chk", false)
	for _, n := range []string{"VI_1", "VI_2"} {
		eventually(t, "A fault "+n, a.inState(t, n, "FAULT"))
		eventually(t, "B master "+n, b.inState(t, n, "MASTER"))
	}
	if p := a.status(t, "VI_2").EffectivePriority; p != 150 {
		t.Fatalf("sync member priority %d: weight not ignored", p)
	}
	eventually(t, "group FAULT notified", func() bool {
		for _, n := range a.note.all() {
			if n.Group && n.Name == "G" && n.State == vrrp.StateFault {
				return true
			}
		}
		return false
	})
	a.r.ScriptResult("chk", true)
	for _, n := range []string{"VI_1", "VI_2"} {
		eventually(t, "A master again "+n, a.inState(t, n, "MASTER"))
		eventually(t, "B backup again "+n, b.inState(t, n, "BACKUP"))
	}
}

func TestUnicastPeers(t *testing.T) {
	nw := &memNet{}
	mk := func(prio uint8, src, peer string) Config {
		c := testInstance("VI_1", 1, prio, src)
		c.Unicast = []vrrp.Peer{{Addr: netip.MustParseAddr(peer)}}
		c.CheckUnicastSrc = true
		return Config{Instances: []InstanceConfig{c}}
	}
	a := nw.start(t, "198.51.100.1", mk(150, "198.51.100.1", "198.51.100.2"))
	b := nw.start(t, "198.51.100.2", mk(100, "198.51.100.2", "198.51.100.1"))
	eventually(t, "A master", a.inState(t, "VI_1", "MASTER"))
	eventually(t, "B backup of A", func() bool {
		s := b.status(t, "VI_1")
		return s.State == "BACKUP" && s.RxAdverts > 3 && len(s.Drops) == 0
	})
	if p, _ := a.lastSent("VI_1"); p.Dst != netip.MustParseAddr("198.51.100.2") {
		t.Fatalf("unicast advert to %v", p.Dst)
	}
}

func TestDropCounters(t *testing.T) {
	nw := &memNet{}
	slow := testInstance("VI_1", 1, 100, "198.51.100.1")
	slow.Interval = time.Second // stays BACKUP for the whole test, even on a busy machine
	a := nw.start(t, "198.51.100.1", Config{Instances: []InstanceConfig{slow}})
	eventually(t, "backup", a.inState(t, "VI_1", "BACKUP"))
	src := netip.MustParseAddr("198.51.100.9")
	good := vrrp.Advert{Version: 3, Type: 1, VRID: 1, Priority: 200, Interval: 200, Addrs: []netip.Addr{netip.MustParseAddr("203.0.113.1")}}
	b, _ := good.Marshal(src, vrrp.GroupIPv4, vrrp.ChecksumPseudo)
	badSum := slices.Clone(b)
	badSum[7]++
	otherVRID := vrrp.Advert{Version: 3, Type: 1, VRID: 77, Priority: 200, Interval: 200}
	ov, _ := otherVRID.Marshal(src, vrrp.GroupIPv4, vrrp.ChecksumPseudo)
	meta := vrrp.Meta{Src: src, Dst: vrrp.GroupIPv4, TTL: 255, Length: len(b)}
	lowTTL := meta
	lowTTL.TTL = 1
	a.r.Deliver(
		Received{Interface: "eth0", Meta: meta, Payload: badSum},
		Received{Interface: "eth0", Meta: lowTTL, Payload: b},
		Received{Interface: "eth0", Meta: vrrp.Meta{Src: src, Dst: vrrp.GroupIPv4, TTL: 255, Length: len(ov)}, Payload: ov},
		Received{Interface: "eth0", Meta: meta, Payload: b[:3]},
		Received{Interface: "eth0", Meta: meta, Payload: b},
	)
	eventually(t, "counters", func() bool {
		s := a.status(t, "VI_1")
		return s.Drops["checksum"] == 1 && s.Drops["ttl"] == 1 && s.RxAdverts == 1 && s.Notes["interval"] == 1 && s.MasterIP == src.String()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	snap, err := a.r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Drops["unknown_vrid"] != 1 || snap.Drops["truncated"] != 1 {
		t.Fatalf("router drops %v", snap.Drops)
	}
	js, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"vrrp":[`, `"name":"VI_1"`, `"state":"BACKUP"`, `"vrid":1`, `"interface":"eth0"`,
		`"priority":100`, `"effective_priority":100`, `"master_ip":"198.51.100.9"`, `"vips":["203.0.113.1"]`, `"transitions":1`} {
		if !strings.Contains(string(js), k) {
			t.Errorf("status JSON lacks %s: %s", k, js)
		}
	}
}

func TestAdvertsBatchedPerTick(t *testing.T) {
	const n = 200
	var insts []InstanceConfig
	for i := range n {
		c := testInstance(fmt.Sprintf("VI_%d", i), uint8(i%255+1), 100, "198.51.100.1")
		c.Interval = 10 * time.Millisecond
		c.Interface = fmt.Sprintf("eth%d", i/255)
		insts = append(insts, c)
	}
	nw := &memNet{}
	a := nw.start(t, "198.51.100.1", Config{Instances: insts})
	eventually(t, "all master", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := a.r.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range s.Instances {
			if in.State != "MASTER" {
				return false
			}
		}
		return true
	})
	s0, p0 := a.sends.Load(), a.pkts.Load()
	time.Sleep(200 * time.Millisecond)
	sends, pkts := a.sends.Load()-s0, a.pkts.Load()-p0
	if pkts < n {
		t.Fatalf("%d adverts in 200 ms from %d masters at 10 ms", pkts, n)
	}
	if per := float64(pkts) / float64(sends); per < n/2 {
		t.Fatalf("%.1f adverts per Send call, want about %d (batched per tick)", per, n)
	}
	t.Logf("%d adverts in %d Send calls", pkts, sends)
}

func TestValidate(t *testing.T) {
	good := testInstance("VI_1", 1, 100, "198.51.100.1")
	for name, mut := range map[string]func(c *Config){
		"no name":       func(c *Config) { c.Instances[0].Name = "" },
		"vrid 0":        func(c *Config) { c.Instances[0].VRID = 0 },
		"priority 0":    func(c *Config) { c.Instances[0].Priority = 0 },
		"v2 ipv6":       func(c *Config) { c.Instances[0].Version = 2; c.Instances[0].IPv6 = true },
		"no source":     func(c *Config) { c.Instances[0].Source = netip.Addr{} },
		"vip family":    func(c *Config) { c.Instances[0].VIPs = []netip.Addr{netip.MustParseAddr("2001:db8::1")} },
		"v2 10ms":       func(c *Config) { c.Instances[0].Version = 2 },
		"v3 auth":       func(c *Config) { c.Instances[0].AuthType = vrrp.AuthPass },
		"duplicate":     func(c *Config) { c.Instances = append(c.Instances, c.Instances[0]) },
		"same identity": func(c *Config) { d := c.Instances[0]; d.Name = "x"; c.Instances = append(c.Instances, d) },
		"group member":  func(c *Config) { c.SyncGroups = []SyncGroupConfig{{Name: "G", Members: []string{"nope"}}} },
	} {
		c := Config{Instances: []InstanceConfig{good}}
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c := Config{Instances: []InstanceConfig{good}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestSplitBrainHealReannounces(t *testing.T) {
	// With higher_prio_send_advert the yielding master's last advert always reaches the
	// winner, whichever advert crosses the healed link first, so the winner re-announces.
	nw := &memNet{}
	cfgFor := func(prio uint8, src string) Config {
		v1, v2 := testInstance("VI_1", 1, prio, src), testInstance("VI_2", 2, prio, src)
		v1.HigherPrioSendAdvert, v2.HigherPrioSendAdvert = true, true
		return Config{Instances: []InstanceConfig{v1, v2},
			SyncGroups: []SyncGroupConfig{{Name: "G", Members: []string{"VI_1", "VI_2"}}}}
	}
	a := nw.start(t, "198.51.100.1", cfgFor(150, "198.51.100.1"))
	b := nw.start(t, "198.51.100.2", cfgFor(100, "198.51.100.2"))
	for _, n := range []string{"VI_1", "VI_2"} {
		eventually(t, "A master "+n, a.inState(t, n, "MASTER"))
	}
	a.cut.Store(true) // partition: B cannot hear A
	for _, n := range []string{"VI_1", "VI_2"} {
		eventually(t, "B master "+n, b.inState(t, n, "MASTER"))
	}
	garps := func(name string) int {
		a.host.mu.Lock()
		defer a.host.mu.Unlock()
		return a.host.garps[name]
	}
	before1, before2 := garps("VI_1"), garps("VI_2")
	a.cut.Store(false)
	for _, n := range []string{"VI_1", "VI_2"} {
		eventually(t, "B yields "+n, b.inState(t, n, "BACKUP"))
	}
	// A heard B's lower-priority adverts: it re-announced both members' VIPs.
	eventually(t, "A re-announces both", func() bool { return garps("VI_1") > before1 && garps("VI_2") > before2 })
	eventually(t, "master_rx_lower_pri notified", func() bool {
		for _, n := range a.note.all() {
			if n.RxLowerPrio {
				return true
			}
		}
		return false
	})
}

func TestIPv6AndIPv4SameVRID(t *testing.T) {
	// The same VRID in both families on one interface: two independent instances.
	nw := &memNet{}
	mk := func(prio uint8, v4, ll string) Config {
		c4 := testInstance("V4", 7, prio, v4)
		c6 := testInstance("V6", 7, prio, ll)
		c6.IPv6 = true
		c6.VIPs = []netip.Addr{netip.MustParseAddr("fe80::7"), netip.MustParseAddr("2001:db8::7")}
		return Config{Instances: []InstanceConfig{c4, c6}}
	}
	a := nw.start(t, "198.51.100.1", mk(150, "198.51.100.1", "fe80::1"))
	b := nw.start(t, "198.51.100.2", mk(100, "198.51.100.2", "fe80::2"))
	eventually(t, "A master v6", a.inState(t, "V6", "MASTER"))
	eventually(t, "B backup v6 of fe80::1", func() bool {
		s := b.status(t, "V6")
		return s.State == "BACKUP" && s.MasterIP == "fe80::1" && s.RxAdverts > 2 && len(s.Drops) == 0
	})
	eventually(t, "B backup v4", func() bool {
		s := b.status(t, "V4")
		return s.State == "BACKUP" && s.MasterIP == "198.51.100.1" && len(s.Drops) == 0
	})
	if p, _ := a.lastSent("V6"); p.Dst != vrrp.GroupIPv6 || p.TTL != 255 {
		t.Fatalf("v6 advert %+v", p)
	}
}

func TestExternalMasterDown(t *testing.T) {
	// The XDP path owns the master-down timer: the router reports arms and takes expiries.
	type arm struct {
		name string
		at   time.Time
	}
	arms := make(chan arm, 64)
	cfg := testInstance("VI_1", 1, 100, "198.51.100.1")
	cfg.ExternalMasterDown = true
	host, note := newFakeHost(), &fakeNotifier{}
	tr := &countTransport{}
	r, err := New(Config{Instances: []InstanceConfig{cfg}}, tr, host, note, Options{
		MasterDownTimer: func(c *InstanceConfig, at time.Time) { arms <- arm{c.Name, at} },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	next := func() arm {
		select {
		case a := <-arms:
			return a
		case <-time.After(5 * time.Second):
			t.Fatal("no master-down arm/disarm reported")
		}
		return arm{}
	}
	a := next()
	// Startup arms 3*20ms + 156*20ms/256 = 72.1875ms from now.
	const md = 72187500 * time.Nanosecond
	if a.name != "VI_1" || a.at.Before(start.Add(md)) || a.at.After(time.Now().Add(md)) {
		t.Fatalf("startup arm %+v (started %v)", a, start)
	}
	st := func() InstanceStatus {
		s, err := r.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s.Instances[0]
	}
	time.Sleep(150 * time.Millisecond) // far beyond the interval: the router's own timer must not fire
	if s := st(); s.State != "BACKUP" {
		t.Fatalf("state %s without an external expiry", s.State)
	}
	// A checked advert from a better master re-arms through the hook.
	r.DeliverAdvert("VI_1", netip.MustParseAddr("198.51.100.9"), vrrp.Advert{Version: 3, Type: 1, VRID: 1, Priority: 200, Interval: 2})
	if a := next(); a.at.IsZero() {
		t.Fatal("advert did not re-arm")
	}
	if s := st(); s.MasterIP != "198.51.100.9" || s.RxAdverts != 1 {
		t.Fatalf("after DeliverAdvert %+v", s)
	}
	r.MasterDown("VI_1")
	if a := next(); !a.at.IsZero() {
		t.Fatalf("becoming master did not stop the external timer: %+v", a)
	}
	eventually(t, "master", func() bool { return st().State == "MASTER" })
	r.MasterDown("nope") // unknown names are ignored
}

// TestStatusNotBehindQueue: a status call is answered before work already queued (a storm of
// adverts), so xalivectl answers while the router is busy.
func TestStatusNotBehindQueue(t *testing.T) {
	nw := &memNet{}
	a := nw.start(t, "198.51.100.1", Config{Instances: []InstanceConfig{testInstance("VI_1", 1, 150, "198.51.100.1")}})
	eventually(t, "A master", a.inState(t, "VI_1", "MASTER"))
	var ran atomic.Int64
	release := make(chan struct{})
	// The first item blocks the router until released; the rest wait behind it in the queue.
	if !a.r.post(func() { <-release; ran.Add(1) }) {
		t.Fatal("queue full")
	}
	const queued = 500
	for range queued {
		if !a.r.post(func() { time.Sleep(time.Millisecond); ran.Add(1) }) {
			t.Fatal("queue full")
		}
	}
	got := make(chan int64, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := a.r.Status(ctx); err != nil {
			t.Error(err)
		}
		got <- ran.Load()
	}()
	close(release)
	// Each queued item takes a millisecond: answered behind the queue, Status would see all
	// of them done; ahead of it, a few at most (the call may reach the router a little late).
	if n := <-got; n > queued/2 {
		t.Fatalf("status answered only after %d of %d queued items ran", n, queued+1)
	}
}
