package vrrpsock

import (
	"context"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkSend255 sends one tick of 255 VRRPv3 adverts (255 instances on one interface) with
// one sendmmsg call, and the same tick with one sendmsg per packet as the baseline, and reports
// the cost per packet of each and their ratio.
func BenchmarkSend255(b *testing.B) {
	a, _ := pair(b)
	idx := ifIndex(b, a, "eth0")
	var snd *Sender
	a.Do(b, func() {
		var err error
		if snd, err = NewSender(); err != nil {
			b.Fatal(err)
		}
	})
	defer snd.Close()
	tick := make([]Outgoing, 255)
	for i := range tick {
		tick[i] = Outgoing{IfIndex: idx, Src: srcA4, Dst: GroupV4,
			Payload: vrrpV3(byte(i+1), 100, srcA4, GroupV4, netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}))}
	}
	const ticks = 200 // per iteration, so -benchtime 1x still measures 51,000 packets each way
	var mmsg, each time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		for range ticks {
			if err := snd.Send(tick); err != nil {
				b.Fatal(err)
			}
		}
		mmsg += time.Since(start)
		start = time.Now()
		for range ticks {
			if err := snd.sendEach(tick); err != nil {
				b.Fatal(err)
			}
		}
		each += time.Since(start)
	}
	pkts := float64(b.N * ticks * len(tick))
	b.ReportMetric(float64(mmsg.Nanoseconds())/pkts, "ns/pkt-sendmmsg")
	b.ReportMetric(float64(each.Nanoseconds())/pkts, "ns/pkt-sendmsg")
	b.ReportMetric(float64(each)/float64(mmsg), "sendmsg/sendmmsg")
}

// BenchmarkReceive255 measures the CPU the receive loop spends per packet when 255 adverts
// arrive in one burst per tick (a backup of 255 instances), reading with recvmmsg
// (RecvBatch per call) and, as the baseline, one packet per call. The CPU time is that of
// the receiving thread (RUSAGE_THREAD), so the sender's cost is not counted.
func BenchmarkReceive255(b *testing.B) {
	a, bb := pair(b)
	aIdx, bIdx := ifIndex(b, a, "eth0"), ifIndex(b, bb, "eth0")
	var snd *Sender
	a.Do(b, func() {
		var err error
		if snd, err = NewSender(); err != nil {
			b.Fatal(err)
		}
	})
	defer snd.Close()
	tick := make([]Outgoing, 255)
	for i := range tick {
		tick[i] = Outgoing{IfIndex: aIdx, Src: srcA4, Dst: GroupV4,
			Payload: vrrpV3(byte(i+1), 100, srcA4, GroupV4, netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}))}
	}
	const ticks = 100
	measure := func(batch int) (cpu time.Duration, pkts, calls uint64) {
		var r *Receiver
		bb.Do(b, func() {
			var err error
			if r, err = Listen(ListenConfig{IfIndex: bIdx, RecvBuffer: 1 << 20}); err != nil {
				b.Fatal(err)
			}
		})
		defer r.Close()
		got := make(chan struct{}, 1)
		var n int
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan time.Duration)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			start := threadCPU()
			_ = r.run(ctx, func(ps []Packet) {
				for range ps {
					if n++; n%len(tick) == 0 {
						got <- struct{}{}
					}
				}
			}, batch)
			done <- threadCPU() - start
		}()
		for range ticks {
			if err := snd.Send(tick); err != nil {
				b.Fatal(err)
			}
			select {
			case <-got:
			case <-time.After(5 * time.Second):
				b.Fatalf("tick not received: %+v", r.Stats())
			}
		}
		cancel()
		cpu = <-done
		st := r.Stats()
		return cpu, st.Packets, st.Syscalls
	}
	var cpuBatch, cpuOne time.Duration
	var pkts, callsBatch uint64
	for b.Loop() {
		c, p, s := measure(RecvBatch)
		cpuBatch, pkts, callsBatch = cpuBatch+c, pkts+p, callsBatch+s
		c, _, _ = measure(1)
		cpuOne += c
	}
	b.ReportMetric(float64(cpuBatch.Nanoseconds())/float64(pkts), "cpu-ns/pkt-recvmmsg")
	b.ReportMetric(float64(cpuOne.Nanoseconds())/float64(pkts), "cpu-ns/pkt-recvmsg")
	b.ReportMetric(float64(cpuOne)/float64(cpuBatch), "recvmsg/recvmmsg")
	b.ReportMetric(float64(pkts)/float64(callsBatch), "pkts/syscall-recvmmsg")
}

func threadCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
