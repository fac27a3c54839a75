package loader

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/xalived/xalived/internal/testenv"
)

// testBPFFS mounts a private bpf filesystem for one test and unmounts it at cleanup.
func testBPFFS(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := ensureBPFFS(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

func randName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "t" + hex.EncodeToString(b)
}

// newDP loads a dataplane into a private bpffs; it is closed (pins removed) at cleanup.
func newDP(t testing.TB, opts Options) *Dataplane {
	t.Helper()
	testenv.RequireRoot(t)
	if opts.BPFFS == "" {
		opts.BPFFS = testBPFFS(t)
	}
	if opts.Name == "" {
		opts.Name = randName()
	}
	d, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// loIfindex is what prog.Run reports as the ingress interface: the kernel resolves it in the
// test's network namespace, and loopback always exists.
const loIfindex = 1

// run feeds one frame through the program as if received on loopback.
func run(t testing.TB, d *Dataplane, frame []byte) (verdict uint32, out []byte) {
	t.Helper()
	ctx := xdpMd{DataEnd: uint32(len(frame)), IngressIfindex: loIfindex}
	opts := &ebpf.RunOptions{
		Data:    frame,
		DataOut: make([]byte, len(frame)+256),
		Context: ctx,
	}
	ret, err := d.prog.Run(opts)
	if err != nil {
		t.Fatalf("prog run: %v", err)
	}
	return ret, opts.DataOut
}

// xdpMd is struct xdp_md, the context BPF_PROG_TEST_RUN takes for XDP.
type xdpMd struct {
	Data, DataEnd, DataMeta, IngressIfindex, RxQueueIndex, EgressIfindex uint32
}

// drainEvents returns the events queued in the ring buffer, waiting up to wait for the first.
func drainEvents(t testing.TB, d *Dataplane, wait time.Duration) []Event {
	t.Helper()
	rd, err := ringbuf.NewReader(d.maps.Events)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var out []Event
	deadline := time.Now().Add(wait)
	for {
		rd.SetDeadline(deadline)
		rec, err := rd.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		var raw xdpXaEvent
		if err := decodeEvent(rec.RawSample, &raw); err != nil {
			t.Fatal(err)
		}
		out = append(out, eventFromRaw(raw))
		deadline = time.Now().Add(10 * time.Millisecond) // then take what is already queued
	}
}

var (
	vip4  = netip.MustParseAddr("203.0.113.10")
	vip4b = netip.MustParseAddr("203.0.113.11")
	vip6  = netip.MustParseAddr("2001:db8::10")
	peer4 = netip.MustParseAddr("198.51.100.2")
	ours4 = netip.MustParseAddr("198.51.100.1")
	peer6 = netip.MustParseAddr("fe80::2")
	ours6 = netip.MustParseAddr("fe80::1")
)

// inst4 is a v3 IPv4 instance on loopback matching advert{}'s defaults.
func inst4() Instance {
	return Instance{
		Key:       InstanceKey{Ifindex: loIfindex, Family: IPv4, VRID: 51},
		Version:   3,
		Priority:  100,
		Interval:  100,
		LocalAddr: ours4,
		VIPs:      []netip.Addr{vip4},
		ReplyMAC:  macVRRP,
	}
}

func inst6() Instance {
	in := inst4()
	in.Key.Family = IPv6
	in.LocalAddr = ours6
	in.VIPs = []netip.Addr{vip6}
	in.ReplyMAC = macOurs
	return in
}

// coarseTick is the resolution of CLOCK_MONOTONIC_COARSE: adverts are stamped with it, and the
// program adds it to every master-down deadline (cfg_clock_slack_ns).
func coarseTick(t testing.TB) time.Duration {
	t.Helper()
	var res unix.Timespec
	if err := unix.ClockGetres(unix.CLOCK_MONOTONIC_COARSE, &res); err != nil {
		t.Fatal(err)
	}
	return time.Duration(res.Nano())
}
