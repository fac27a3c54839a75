package vrrpsock

import (
	"net/netip"
	"testing"
	"time"
)

// BenchmarkSend255 sends one tick of 255 VRRPv3 adverts (255 instances on one interface) with
// one sendmmsg call, and the same tick with one sendmsg per packet as the baseline, and reports
// the cost per packet of each and their ratio.
func BenchmarkSend255(b *testing.B) {
	a, _ := pair(b)
	idx := ifIndex(b, a, "eth0")
	var snd *Sender
	inNS(b, a, func() {
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
