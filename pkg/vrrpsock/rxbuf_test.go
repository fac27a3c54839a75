package vrrpsock

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestReceiveBuffer checks the default receive buffer (large enough for a burst of adverts the
// reader was too late for) and that the kernel's drops show in Stats when a buffer overflows.
func TestReceiveBuffer(t *testing.T) {
	a, b := pair(t)
	aIdx, bIdx := ifIndex(t, a, "eth0"), ifIndex(t, b, "eth0")
	snd := newSender(t, a)
	big := listenIn(t, b, ListenConfig{IfIndex: bIdx})
	small := listenIn(t, b, ListenConfig{IfIndex: bIdx, RecvBuffer: 1})
	if err := control(big.f, func(fd int) error {
		// The kernel reports twice the size asked for; SO_RCVBUFFORCE passes rmem_max.
		n, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
		if err == nil && n < DefaultRecvBuffer {
			t.Errorf("default receive buffer %d bytes, want at least %d", n, DefaultRecvBuffer)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	// Nobody reads while a burst of 1000 adverts (40 ms of 255 instances at 10 ms)
	// arrives: the default buffer keeps them all, the minimal one overflows.
	const burst = 1000
	out := make([]Outgoing, 100)
	for i := range out {
		out[i] = Outgoing{IfIndex: aIdx, Src: srcA4, Dst: GroupV4, Payload: vrrpV3(byte(i+1), 100, srcA4, GroupV4, vip4)}
	}
	for range burst / len(out) {
		if err := snd.Send(out); err != nil {
			t.Fatal(err)
		}
	}
	chBig, chSmall := collect(t, big), collect(t, small)
	for i := range burst {
		p := next(t, chBig, "advert of the burst")
		if want := out[i%len(out)].Payload; !bytes.Equal(p.Payload, want) {
			t.Fatalf("advert %d: payload % x, want % x", i, p.Payload, want)
		}
	}
	if st := big.Stats(); st.Packets != burst || st.Overflows != 0 {
		t.Errorf("default buffer: stats %+v, want %d packets and no overflow", st, burst)
	}
	// The small receiver got what fit; the next packet it reads reports the drops.
	got := 0
	for got < burst {
		select {
		case <-chSmall:
			got++
			continue
		case <-time.After(200 * time.Millisecond):
		}
		break
	}
	if err := snd.Send(out[:1]); err != nil {
		t.Fatal(err)
	}
	next(t, chSmall, "advert after the overflow")
	got++
	st := small.Stats()
	if got >= burst+1 || st.Overflows == 0 || st.Packets+st.Overflows != burst+1 {
		t.Errorf("minimal buffer: read %d, stats %+v; want packets + overflows = %d", got, st, burst+1)
	}
}

// TestRunBatch checks that adverts queued while nobody read arrive in batches, each packet
// with its own payload that stays intact after the callback returned.
func TestRunBatch(t *testing.T) {
	a, b := pair(t)
	aIdx, bIdx := ifIndex(t, a, "eth0"), ifIndex(t, b, "eth0")
	snd := newSender(t, a)
	r := listenIn(t, b, ListenConfig{IfIndex: bIdx})
	out := make([]Outgoing, 100)
	for i := range out {
		out[i] = Outgoing{IfIndex: aIdx, Src: srcA4, Dst: GroupV4, Payload: vrrpV3(byte(i+1), 100, srcA4, GroupV4, vip4)}
	}
	if err := snd.Send(out); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // all queued before the first read
	type result struct {
		pkts    []Packet
		batches []int
	}
	res := make(chan result, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		var rs result
		_ = r.RunBatch(ctx, func(ps []Packet) {
			rs.pkts = append(rs.pkts, ps...)
			rs.batches = append(rs.batches, len(ps))
			if len(rs.pkts) >= len(out) {
				res <- rs
			}
		})
	}()
	var rs result
	select {
	case rs = <-res:
	case <-time.After(5 * time.Second):
		t.Fatalf("not every advert arrived: %+v", r.Stats())
	}
	for i, p := range rs.pkts {
		if !bytes.Equal(p.Payload, out[i].Payload) || p.Src != srcA4 || p.Dst != GroupV4 || p.IfIndex != bIdx {
			t.Fatalf("packet %d: %+v, want payload % x", i, p, out[i].Payload)
		}
	}
	if len(rs.batches) >= len(out) || slices.Max(rs.batches) > RecvBatch {
		t.Errorf("batches %v: want fewer calls than packets, at most %d a call", rs.batches, RecvBatch)
	}
	if st := r.Stats(); st.Packets != uint64(len(out)) || st.Syscalls > uint64(len(rs.batches))+2 {
		t.Errorf("stats %+v for %d batches", st, len(rs.batches))
	}
}

// TestPacer checks when a Receiver with Coalesce waits before reading: only while reads come
// densely (less than twice the period apart) and the last batch was not full.
func TestPacer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Millisecond))) }
	p := pacer{every: time.Millisecond}
	p.read(ms(0), false)
	if d := p.wait(ms(0.01)); d != 0 {
		t.Errorf("after the first read: wait %v, want 0", d)
	}
	p.read(ms(0.05), false) // dense: the next read waits for 1 ms after this one
	if d := p.wait(ms(0.25)); d != 800*time.Microsecond {
		t.Errorf("dense: wait %v, want 800µs", d)
	}
	p.read(ms(1.05), true) // a full batch: read again at once
	if d := p.wait(ms(1.06)); d != 0 {
		t.Errorf("after a full batch: wait %v, want 0", d)
	}
	p.read(ms(100), false) // sparse: no wait
	if d := p.wait(ms(100.01)); d != 0 {
		t.Errorf("sparse: wait %v, want 0", d)
	}
	var off pacer
	off.read(ms(0), false)
	off.read(ms(0.01), false)
	if d := off.wait(ms(0.02)); d != 0 {
		t.Errorf("without Coalesce: wait %v, want 0", d)
	}
}

// TestCoalesce checks that a Receiver with Coalesce reads adverts that arrive one by one,
// densely, in fewer system calls than a Receiver without, which reads the same stream beside it.
func TestCoalesce(t *testing.T) {
	a, b := pair(t)
	aIdx, bIdx := ifIndex(t, a, "eth0"), ifIndex(t, b, "eth0")
	snd := newSender(t, a)
	var rs [2]*Receiver // with and without Coalesce
	for i, every := range []time.Duration{2 * time.Millisecond, 0} {
		rs[i] = listenIn(t, b, ListenConfig{IfIndex: bIdx, Coalesce: every})
	}
	const n = 200
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type count struct{ pkts, reads int }
	got := make(chan count, 2*n)
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := count{}
			_ = r.RunBatch(ctx, func(ps []Packet) {
				c.pkts += len(ps)
				c.reads++
				if c.pkts >= n {
					got <- c
				}
			})
		}()
	}
	start := time.Now()
	for i := range n { // one packet a call, about 100 µs apart
		out := []Outgoing{{IfIndex: aIdx, Src: srcA4, Dst: GroupV4, Payload: vrrpV3(byte(i%255+1), 100, srcA4, GroupV4, vip4)}}
		if err := snd.Send(out); err != nil {
			t.Fatal(err)
		}
		for time.Since(start) < time.Duration(i+1)*100*time.Microsecond {
		}
	}
	var cs []count
	for len(cs) < 2 {
		select {
		case c := <-got:
			cs = append(cs, c)
		case <-time.After(5 * time.Second):
			t.Fatalf("not every advert arrived: %+v %+v", rs[0].Stats(), rs[1].Stats())
		}
	}
	cancel()
	wg.Wait()
	with, without := rs[0].Stats(), rs[1].Stats()
	// A loaded machine lets packets queue for both (few reads each): then only the bound holds.
	if with.Packets < n || without.Packets < n || with.Syscalls > max(without.Syscalls/2, n/8) {
		t.Errorf("%d adverts read with Coalesce in %d system calls, without in %d: want at most half, or %d", n, with.Syscalls, without.Syscalls, n/8)
	}
}

// TestPoll checks that Poll returns at once with what waits in the socket, in batches, and
// with nothing when nothing waits.
func TestPoll(t *testing.T) {
	a, b := pair(t)
	aIdx, bIdx := ifIndex(t, a, "eth0"), ifIndex(t, b, "eth0")
	snd := newSender(t, a)
	r := listenIn(t, b, ListenConfig{IfIndex: bIdx})
	calls := 0
	if err := r.Poll(func([]Packet) { calls++ }, nil); err != nil || calls != 0 {
		t.Fatalf("poll of an empty socket: %d calls, %v", calls, err)
	}
	out := make([]Outgoing, 40)
	for i := range out {
		out[i] = Outgoing{IfIndex: aIdx, Src: srcA4, Dst: GroupV4, Payload: vrrpV3(byte(i+1), 100, srcA4, GroupV4, vip4)}
	}
	if err := snd.Send(out); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	var got []Packet
	start := time.Now()
	if err := r.Poll(func(ps []Packet) { got = append(got, ps...); calls++ }, nil); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(out) || calls < 2 || time.Since(start) > time.Second {
		t.Fatalf("poll: %d packets in %d calls, want %d in batches of at most %d", len(got), calls, len(out), RecvBatch)
	}
	for i, p := range got {
		if !bytes.Equal(p.Payload, out[i].Payload) {
			t.Fatalf("packet %d: % x, want % x", i, p.Payload, out[i].Payload)
		}
	}
	_ = r.Close()
	if err := r.Poll(func([]Packet) { t.Error("a closed receiver delivered") }, nil); err == nil {
		t.Log("poll of a closed receiver: no error") // either is fine; it must not deliver
	}
}
