package vrrpsock

import (
	"bytes"
	"testing"

	"github.com/xalived/xalived/pkg/netif"
)

// Adverts sent on a VMAC interface leave with the virtual MAC as source, and a receiver bound
// to the peer's VMAC gets adverts that arrive on its parent.
func TestVMACSendReceive(t *testing.T) {
	a, b := pair(t)
	var vmA, vmB netif.Info
	var snd *Sender
	var r *Receiver
	var m netif.VMACs
	a.Do(t, func() {
		var err error
		if vmA, err = m.Create(netif.VMAC{Parent: "eth0", VRID: 51}); err != nil {
			t.Fatal(err)
		}
		if snd, err = NewSender(); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { _ = snd.Close() })
	var mb netif.VMACs
	b.Do(t, func() {
		var err error
		if vmB, err = mb.Create(netif.VMAC{Parent: "eth0", VRID: 51}); err != nil {
			t.Fatal(err)
		}
		if r, err = Listen(ListenConfig{IfIndex: vmB.Index}); err != nil {
			t.Fatal(err)
		}
	})
	ch := collect(t, r)
	stop := b.Capture(t, "eth0", "ip proto 112")
	adv := vrrpV2(51, 100, vip4)
	if err := snd.Send([]Outgoing{{IfIndex: vmA.Index, Src: srcA4, Dst: GroupV4, Payload: adv}}); err != nil {
		t.Fatal(err)
	}
	p := next(t, ch, "advert on the vmac")
	if p.IfIndex != vmB.Index || p.Src != srcA4 || !bytes.Equal(p.Payload, adv) {
		t.Errorf("received %+v", p)
	}
	frames, _ := stop()
	if len(frames) != 1 {
		t.Fatalf("captured %d frames", len(frames))
	}
	if !bytes.Equal(frames[0][6:12], vmA.MAC) || vmA.MAC.String() != "00:00:5e:00:01:33" {
		t.Errorf("source mac % x, want the vmac %s", frames[0][6:12], vmA.MAC)
	}
}
