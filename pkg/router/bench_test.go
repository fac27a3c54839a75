package router

import (
	"context"
	"fmt"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xalived/xalived/pkg/vrrp"
)

// countTransport counts what it is given and sends nothing.
type countTransport struct{ calls, pkts atomic.Int64 }

func (c *countTransport) Send(p []Packet) error {
	c.calls.Add(1)
	c.pkts.Add(int64(len(p)))
	return nil
}

type nopHost struct{}

func (nopHost) AddVIPs(*InstanceConfig) error         { return nil }
func (nopHost) RemoveVIPs(*InstanceConfig) error      { return nil }
func (nopHost) UpdateVIPs(_, _ *InstanceConfig) error { return nil }
func (nopHost) GARP(*InstanceConfig, int) error       { return nil }
func (nopHost) Notify(Notification)                   {}
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchInstances(n int, prio uint8, src string) []InstanceConfig {
	var out []InstanceConfig
	for i := range n {
		c := testInstance(fmt.Sprintf("VI_%d", i), uint8(i%255+1), prio, src)
		c.Interval = 10 * time.Millisecond
		out = append(out, c)
	}
	return out
}

// BenchmarkMaster255x10ms: CPU of a router that is master of 255 instances at advert_int
// 0.01 s (25,500 adverts/s), transport excluded. keepalived needs about 45% of a core for
// the same load including its sendmsg calls (reference §2.13), so compare with care.
func BenchmarkMaster255x10ms(b *testing.B) {
	for range b.N {
		tr := &countTransport{}
		r, err := New(Config{Instances: benchInstances(255, 255, "198.51.100.1")}, tr, nopHost{}, nopHost{}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		time.Sleep(200 * time.Millisecond) // all owners are master at once
		c0, p0, s0, w0 := cpuTime(), tr.pkts.Load(), tr.calls.Load(), time.Now()
		time.Sleep(time.Second)
		cpu, pkts, calls, wall := cpuTime()-c0, tr.pkts.Load()-p0, tr.calls.Load()-s0, time.Since(w0)
		cancel()
		<-done
		b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu_%")
		b.ReportMetric(float64(pkts)/wall.Seconds(), "adverts/s")
		b.ReportMetric(float64(pkts)/float64(calls), "adverts/send")
	}
}

// BenchmarkBackup255x10ms: CPU of a router that is backup of 255 instances receiving
// 25,500 adverts/s through Deliver (the raw-socket path; XDP would keep them in the kernel).
func BenchmarkBackup255x10ms(b *testing.B) {
	for range b.N {
		r, err := New(Config{Instances: benchInstances(255, 100, "198.51.100.2")}, &countTransport{}, nopHost{}, nopHost{}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		var batch []Received
		src := netip.MustParseAddr("198.51.100.1")
		for i := range 255 {
			a := vrrp.Advert{Version: 3, Type: 1, VRID: uint8(i + 1), Priority: 200, Interval: 1,
				Addrs: []netip.Addr{netip.MustParseAddr(fmt.Sprintf("203.0.113.%d", i%255+1))}}
			p, _ := a.Marshal(src, vrrp.GroupIPv4, vrrp.ChecksumPseudo)
			batch = append(batch, Received{Interface: "eth0", Meta: vrrp.Meta{Src: src, Dst: vrrp.GroupIPv4, TTL: 255, Length: len(p)}, Payload: p})
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		tick := time.NewTicker(10 * time.Millisecond)
		stop := time.After(1200 * time.Millisecond)
		var c0 time.Duration
		var w0 time.Time
		measure := time.After(200 * time.Millisecond)
	loop:
		for {
			select {
			case <-tick.C:
				r.Deliver(batch...)
			case <-measure:
				c0, w0 = cpuTime(), time.Now()
			case <-stop:
				break loop
			}
		}
		tick.Stop()
		cpu, wall := cpuTime()-c0, time.Since(w0)
		s, err := r.Status(ctx)
		if err != nil {
			b.Fatal(err)
		}
		cancel()
		<-done
		spurious := 0
		for _, in := range s.Instances {
			spurious += int(in.Transitions) - 1 // INIT → BACKUP is the only expected one
		}
		b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu_%")
		b.ReportMetric(float64(spurious), "spurious_transitions")
	}
}

func BenchmarkCheck(b *testing.B) {
	src := netip.MustParseAddr("198.51.100.1")
	a := vrrp.Advert{Version: 3, Type: 1, VRID: 1, Priority: 200, Interval: 100, Addrs: []netip.Addr{netip.MustParseAddr("203.0.113.1")}}
	p, _ := a.Marshal(src, vrrp.GroupIPv4, vrrp.ChecksumPseudo)
	view := vrrp.InstanceView{VRID: 1, Version: 3, Active: true, Interval: 100, VIPs: a.Addrs, EffectivePriority: 100}
	meta := vrrp.Meta{Src: src, Dst: vrrp.GroupIPv4, TTL: 255, Length: len(p)}
	b.ReportAllocs()
	for b.Loop() {
		if _, r := vrrp.Check(meta, p, &view); r != vrrp.Accept {
			b.Fatal(r)
		}
	}
}
