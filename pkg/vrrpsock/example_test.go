package vrrpsock_test

import (
	"context"
	"log"
	"net/netip"

	"github.com/xalived/xalived/pkg/vrrpsock"
)

// A backup listens on its interface; a master sends every advert due in one tick at once.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	r, err := vrrpsock.Listen(vrrpsock.ListenConfig{IfIndex: 2}) // 224.0.0.18 on ifindex 2
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	go func() { // owned by the caller; returns nil when ctx ends
		_ = r.Run(ctx, func(p vrrpsock.Packet) {
			// hand p to pkg/vrrp's receive checks: p.TTL, p.Src, p.Dst, p.Payload ...
		})
	}()

	s, err := vrrpsock.NewSender()
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	var advert []byte // encoded by pkg/vrrp, checksum included
	err = s.Send([]vrrpsock.Outgoing{
		{IfIndex: 2, Src: netip.MustParseAddr("198.51.100.1"), Dst: vrrpsock.GroupV4, Payload: advert},
		{IfIndex: 2, Src: netip.MustParseAddr("198.51.100.1"), Dst: netip.MustParseAddr("198.51.100.2"), TTL: 255, Payload: advert},
	})
	if err != nil {
		log.Print(err) // one *PacketError per refused packet; the others were sent
	}
}
