package netif_test

import (
	"context"
	"log"
	"net/netip"

	"github.com/xalived/xalived/pkg/netif"
)

// What a VRRP instance does to the host when it becomes MASTER, and at start.
func Example() {
	vips := []netif.VIP{{Prefix: netip.MustParsePrefix("198.51.100.100/32"), Dev: "eth0"}}

	// At start: remove what a killed previous run left behind.
	if _, err := netif.ReconcileVIPs(vips); err != nil {
		log.Print(err)
	}

	// Becoming MASTER (after the first advert): VIPs, then gratuitous ARPs.
	for _, v := range vips {
		if err := netif.AddVIP(v); err != nil {
			log.Print(err)
		}
	}
	in, err := netif.InterfaceByName("eth0")
	if err != nil {
		log.Fatal(err)
	}
	an, err := netif.NewAnnouncer()
	if err != nil {
		log.Fatal(err)
	}
	defer an.Close()
	list := []netif.Announcement{{IfIndex: in.Index, MAC: in.MAC, Addr: vips[0].Prefix.Addr()}}
	if err := an.Announce(context.Background(), list, 5, 0); err != nil { // garp_master_repeat 5
		log.Print(err)
	}
}
