package vrrpsock

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/nstest"
)

// Debian's keepalived 2.2.7 as a backup (priority 100, VRRPv3 at 0.1 s) hears our adverts
// (priority 200) and so stays BACKUP: its VIPs stay away. When we stop sending, it takes over
// and adds them, which shows that it was our adverts that held it back. IPv4 and IPv6.
func TestKeepalivedAcceptsOurAdverts(t *testing.T) {
	a, b := pair(t)
	aIdx := ifIndex(t, a, "eth0")
	snd := newSender(t, a)
	kvip4 := netip.MustParseAddr("198.51.100.200")
	kvip6 := netip.MustParseAddr("2001:db8::200")
	adv4 := withInterval(vrrpV3(71, 200, srcA4, GroupV4, kvip4), 10, srcA4, GroupV4)
	adv6 := withInterval(vrrpV3(72, 200, llA, GroupV6, kvip6), 10, llA, GroupV6)
	tick := []Outgoing{
		{IfIndex: aIdx, Src: srcA4, Dst: GroupV4, Payload: adv4},
		{IfIndex: aIdx, Src: llA, Dst: GroupV6, Payload: adv6},
	}
	// Start advertising before keepalived starts, so it never has a reason to take over.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			if err := snd.Send(tick); err != nil {
				t.Errorf("send: %v", err)
				return
			}
			select {
			case <-tk.C:
			case <-stop:
				return
			}
		}
	}()
	stopSending := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-done
	}
	t.Cleanup(stopSending)
	startKeepalived(t, b, `
global_defs {
  router_id xa-backup
  vrrp_version 3
}
vrrp_instance V4 {
  state BACKUP
  interface eth0
  virtual_router_id 71
  priority 100
  advert_int 0.1
  virtual_ipaddress {
    198.51.100.200/32
  }
}
vrrp_instance V6 {
  state BACKUP
  interface eth0
  virtual_router_id 72
  priority 100
  advert_int 0.1
  virtual_ipaddress {
    2001:db8::200/128
  }
}
`)
	has := func(ns *nstest.NS, ip string) bool {
		out, _ := ns.Run("ip", "-br", "addr", "show", "dev", "eth0")
		return strings.Contains(out, ip+"/")
	}
	// keepalived would take over 0.3 s + skew after start without our adverts; give it ten
	// times that, checking all along.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if has(b, "198.51.100.200") || has(b, "2001:db8::200") {
			t.Fatal("keepalived became MASTER while we advertised priority 200")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopSending()
	nstest.WaitFor(t, 10*time.Second, "keepalived taking over the ipv4 vip", func() bool { return has(b, "198.51.100.200") })
	nstest.WaitFor(t, 10*time.Second, "keepalived taking over the ipv6 vip", func() bool { return has(b, "2001:db8::200") })
}

// withInterval rewrites a VRRPv3 advert's interval (centiseconds) and checksum.
func withInterval(p []byte, cs uint16, src, dst netip.Addr) []byte {
	binary.BigEndian.PutUint16(p[4:], cs&0x0fff)
	p[6], p[7] = 0, 0
	var ph []byte
	ph = append(ph, src.AsSlice()...)
	ph = append(ph, dst.AsSlice()...)
	if src.Is4() {
		ph = append(ph, 0, Protocol, byte(len(p)>>8), byte(len(p)))
	} else {
		ph = append(ph, 0, 0, byte(len(p)>>8), byte(len(p)), 0, 0, 0, Protocol)
	}
	binary.BigEndian.PutUint16(p[6:], ipChecksum(append(ph, p...)))
	return p
}
