package netif

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/testenv"
)

var (
	testMAC = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, 0x33}
	vip4    = netip.MustParseAddr("198.51.100.100")
	vip6    = netip.MustParseAddr("2001:db8::100")
)

func TestGratuitousARPFrame(t *testing.T) {
	f, err := GratuitousARP(testMAC, vip4)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x5e, 0x00, 0x01, 0x33, 0x08, 0x06, // ethernet
		0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, // ethernet/ipv4, request
		0x00, 0x00, 0x5e, 0x00, 0x01, 0x33, 198, 51, 100, 100, // sender
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 198, 51, 100, 100, // target
	}
	if !bytes.Equal(f, want) {
		t.Fatalf("garp\n got  % x\n want % x", f, want)
	}
	if _, err := GratuitousARP(testMAC, vip6); err == nil {
		t.Error("garp for ipv6 accepted")
	}
	if _, err := GratuitousARP(testMAC[:5], vip4); err == nil {
		t.Error("short mac accepted")
	}
}

func TestUnsolicitedNAFrame(t *testing.T) {
	for _, router := range []bool{false, true} {
		f, err := UnsolicitedNA(testMAC, vip6, router)
		if err != nil {
			t.Fatal(err)
		}
		if len(f) != NALen || !bytes.Equal(f[:6], []byte{0x33, 0x33, 0, 0, 0, 1}) || !bytes.Equal(f[6:12], testMAC) ||
			binary.BigEndian.Uint16(f[12:]) != 0x86dd {
			t.Fatalf("ethernet header % x", f[:14])
		}
		ip := f[14:]
		if ip[0]>>4 != 6 || ip[6] != 58 || ip[7] != 255 || binary.BigEndian.Uint16(ip[4:]) != 32 ||
			!bytes.Equal(ip[8:24], vip6.AsSlice()) || !bytes.Equal(ip[24:40], allNodes.AsSlice()) {
			t.Fatalf("ipv6 header % x", ip[:40])
		}
		icmp := ip[40:]
		wantFlags := byte(0x20)
		if router {
			wantFlags |= 0x80
		}
		if icmp[0] != 136 || icmp[1] != 0 || icmp[4] != wantFlags || !bytes.Equal(icmp[8:24], vip6.AsSlice()) ||
			icmp[24] != 2 || icmp[25] != 1 || !bytes.Equal(icmp[26:32], testMAC) {
			t.Fatalf("na % x", icmp)
		}
		if icmpv6Checksum(vip6.As16(), allNodes.As16(), icmp) != 0 {
			t.Fatal("icmpv6 checksum does not verify")
		}
	}
	if _, err := UnsolicitedNA(testMAC, vip4, false); err == nil {
		t.Error("na for ipv4 accepted")
	}
}

// Frames sent by Announce are captured in the peer namespace and decoded by tshark, which
// checks them independently of our builders (ICMPv6 checksum included).
func TestAnnounceOnTheWire(t *testing.T) {
	testenv.RequireCommand(t, "tshark")
	a, b := pair(t)
	stop := b.Capture(t, peer, "arp or icmp6[0] == 136")
	var in Info
	a.Do(t, func() {
		var err error
		if in, err = InterfaceByName(dev); err != nil {
			t.Fatal(err)
		}
		an, err := NewAnnouncer()
		if err != nil {
			t.Fatal(err)
		}
		defer an.Close()
		list := []Announcement{
			{IfIndex: in.Index, MAC: in.MAC, Addr: vip4},
			{IfIndex: in.Index, MAC: testMAC, Addr: vip6, Router: true},
		}
		if err := an.Announce(context.Background(), list, 3, 0); err != nil {
			t.Fatal(err)
		}
		// A cancelled context ends a paced burst at once.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := an.Announce(ctx, list, 5, time.Hour); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled burst: %v", err)
		}
	})
	frames, file := stop()
	if len(frames) != 6 {
		t.Fatalf("captured %d frames, want 6", len(frames))
	}
	garp, _ := GratuitousARP(in.MAC, vip4)
	na, _ := UnsolicitedNA(testMAC, vip6, true)
	for i, f := range frames {
		want := garp
		if i%2 == 1 {
			want = na
		}
		if !bytes.Equal(f, want) {
			t.Errorf("frame %d\n got  % x\n want % x", i, f, want)
		}
	}
	outb, err := b.Cmd("tshark", "-r", file, "-T", "fields", "-E", "separator=,",
		"-e", "eth.dst", "-e", "eth.src", "-e", "arp.opcode", "-e", "arp.src.proto_ipv4", "-e", "arp.dst.proto_ipv4",
		"-e", "arp.dst.hw_mac", "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "ipv6.hlim", "-e", "icmpv6.type",
		"-e", "icmpv6.nd.na.flag.r", "-e", "icmpv6.nd.na.flag.o", "-e", "icmpv6.opt.linkaddr", "-e", "icmpv6.checksum.status").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(outb)), "\n")
	if len(lines) != 6 {
		t.Fatalf("tshark decoded %d frames:\n%s", len(lines), outb)
	}
	wantARP := "ff:ff:ff:ff:ff:ff," + in.MAC.String() + ",1,198.51.100.100,198.51.100.100,ff:ff:ff:ff:ff:ff,,,,,,,,"
	wantNA := "33:33:00:00:00:01,00:00:5e:00:01:33,,,,,2001:db8::100,ff02::1,255,136,"
	for i, l := range lines {
		switch {
		case i%2 == 0 && l != wantARP:
			t.Errorf("tshark garp %d:\n got  %s\n want %s", i, l, wantARP)
		case i%2 == 1 && !strings.HasPrefix(l, wantNA):
			t.Errorf("tshark na %d:\n got  %s\n want %s...", i, l, wantNA)
		case i%2 == 1:
			rest := strings.Split(strings.TrimPrefix(l, wantNA), ",")
			// Router flag, Override flag, target link-layer address, checksum good (status 1).
			if len(rest) != 4 || !isTrue(rest[0]) || !isTrue(rest[1]) || rest[2] != "00:00:5e:00:01:33" || rest[3] != "1" {
				t.Errorf("tshark na %d flags/option/checksum: %q", i, rest)
			}
		}
	}
}

func isTrue(s string) bool { return s == "1" || s == "True" || s == "true" }
