package vrrpsock

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/internal/testenv"
)

var (
	srcA4  = netip.MustParseAddr("198.51.100.1")
	dstB4  = netip.MustParseAddr("198.51.100.2")
	llA    = netip.MustParseAddr("fe80::1")
	globB6 = netip.MustParseAddr("2001:db8::2")
	vip4   = netip.MustParseAddr("198.51.100.100")
	vip6   = netip.MustParseAddr("2001:db8::100")
)

func TestParseIPv4(t *testing.T) {
	good := make([]byte, 20, 32)
	putIPv4Header(good, srcA4, GroupV4, 255, 12)
	good = append(good, bytes.Repeat([]byte{0x31}, 12)...)
	p, err := parseIPv4(good)
	if err != nil {
		t.Fatal(err)
	}
	if p.Src != srcA4 || p.Dst != GroupV4 || p.TTL != 255 || p.IPTotalLen != 32 || len(p.Payload) != 12 {
		t.Fatalf("parsed %+v", p)
	}
	withOpts := append([]byte{0x46}, good[1:20]...)
	withOpts = append(withOpts, 1, 1, 1, 0) // NOP NOP NOP EOL
	withOpts = append(withOpts, good[20:]...)
	binary.BigEndian.PutUint16(withOpts[2:], 36)
	if p, err := parseIPv4(withOpts); err != nil || len(p.Payload) != 12 || p.Payload[0] != 0x31 {
		t.Fatalf("header with options: %+v %v", p, err)
	}
	bad := map[string][]byte{
		"empty":          nil,
		"short":          good[:19],
		"ipv6":           append([]byte{0x60}, good[1:]...),
		"ihl 4":          append([]byte{0x44}, good[1:]...),
		"ihl beyond":     append([]byte{0x4f}, good[1:]...),
		"total too long": func() []byte { b := bytes.Clone(good); binary.BigEndian.PutUint16(b[2:], 33); return b }(),
		"total < header": func() []byte { b := bytes.Clone(good); binary.BigEndian.PutUint16(b[2:], 19); return b }(),
	}
	for name, b := range bad {
		if _, err := parseIPv4(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseIPv4(f *testing.F) {
	good := make([]byte, 20, 40)
	putIPv4Header(good, srcA4, GroupV4, 255, 20)
	f.Add(append(good, vrrpV2(1, 100, vip4)...))
	f.Add([]byte{0x45})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseIPv4(b)
		if err != nil {
			return
		}
		if p.IPTotalLen > len(b) || len(p.Payload) > p.IPTotalLen || !p.Src.Is4() || !p.Dst.Is4() {
			t.Fatalf("inconsistent packet %+v from %d bytes", p, len(b))
		}
	})
}

func TestIPv4HeaderChecksum(t *testing.T) {
	h := make([]byte, 20)
	putIPv4Header(h, srcA4, GroupV4, 255, 20)
	if ipChecksum(h) != 0 {
		t.Fatalf("header checksum does not verify: % x", h)
	}
	if h[1] != TOS || h[8] != 255 || h[9] != Protocol || h[6]&0x40 != 0 {
		t.Fatalf("header fields: % x", h)
	}
}

// collect runs a receiver until the test ends and returns a channel of its packets.
func collect(t *testing.T, r *Receiver) <-chan Packet {
	t.Helper()
	ch := make(chan Packet, 64)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.Run(ctx, func(p Packet) { ch <- p }); err != nil {
			t.Errorf("receiver: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait(); _ = r.Close() })
	return ch
}

func next(t *testing.T, ch <-chan Packet, what string) Packet {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-time.After(5 * time.Second):
		t.Fatalf("no packet: %s", what)
		return Packet{}
	}
}

func TestSendReceive(t *testing.T) {
	a, b := pair(t)
	aIdx, bIdx := ifIndex(t, a, "eth0"), ifIndex(t, b, "eth0")
	var snd *Sender
	var r4, r6 *Receiver
	a.Do(t, func() {
		var err error
		if snd, err = NewSender(); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { _ = snd.Close() })
	b.Do(t, func() {
		var err error
		if r4, err = Listen(ListenConfig{IfIndex: bIdx}); err != nil {
			t.Fatal(err)
		}
		if r6, err = Listen(ListenConfig{IfIndex: bIdx, IPv6: true}); err != nil {
			t.Fatal(err)
		}
	})
	ch4, ch6 := collect(t, r4), collect(t, r6)
	stop := b.Capture(t, "eth0", "ip proto 112 or ip6 proto 112")

	v2 := vrrpV2(51, 100, vip4)
	v3m := vrrpV3(52, 100, srcA4, GroupV4, vip4)
	v3u := vrrpV3(53, 100, srcA4, dstB4, vip4)
	v6m := vrrpV3(54, 100, llA, GroupV6, vip6)
	v6u := vrrpV3(55, 100, llA, globB6, vip6)
	batch := []Outgoing{
		{IfIndex: aIdx, Src: srcA4, Dst: GroupV4, Payload: v2},
		{IfIndex: aIdx, Src: srcA4, Dst: GroupV4, Payload: v3m},
		{IfIndex: aIdx, Src: srcA4, Dst: dstB4, TTL: 64, Payload: v3u},
		{IfIndex: aIdx, Src: llA, Dst: GroupV6, Payload: v6m},
		{IfIndex: aIdx, Src: llA, Dst: globB6, TTL: 255, Payload: v6u},
	}
	if err := snd.Send(batch); err != nil {
		t.Fatal(err)
	}
	if st := snd.Stats(); st.Packets != 5 || st.Syscalls != 2 || st.Errors != 0 {
		t.Errorf("sender stats %+v, want 5 packets in 2 syscalls", st)
	}

	check := func(p Packet, src, dst netip.Addr, ttl uint8, payload []byte) {
		t.Helper()
		if p.IfIndex != bIdx || p.Src != src || p.Dst != dst || p.TTL != ttl || !bytes.Equal(p.Payload, payload) {
			t.Errorf("got %+v\nwant ifindex %d %s → %s ttl %d payload % x", p, bIdx, src, dst, ttl, payload)
		}
		if p.Time.IsZero() || time.Since(p.Time) > time.Minute {
			t.Errorf("receive time %v", p.Time)
		}
	}
	// IPv4 packets arrive in order on one socket.
	p := next(t, ch4, "v2 multicast")
	check(p, srcA4, GroupV4, 255, v2)
	if p.IPTotalLen != 20+len(v2) {
		t.Errorf("ip total length %d", p.IPTotalLen)
	}
	check(next(t, ch4, "v3 multicast"), srcA4, GroupV4, 255, v3m)
	check(next(t, ch4, "v3 unicast"), srcA4, dstB4, 64, v3u)
	p = next(t, ch6, "v6 multicast")
	check(p, llA, GroupV6, 255, v6m)
	if p.IPTotalLen != 40+len(v6m) {
		t.Errorf("ipv6 total length %d", p.IPTotalLen)
	}
	check(next(t, ch6, "v6 unicast"), llA, globB6, 255, v6u)

	frames, _ := stop()
	if len(frames) != 5 {
		t.Fatalf("captured %d frames, want 5", len(frames))
	}
	wantMAC := [][]byte{
		{0x01, 0x00, 0x5e, 0x00, 0x00, 0x12}, {0x01, 0x00, 0x5e, 0x00, 0x00, 0x12}, nil,
		{0x33, 0x33, 0x00, 0x00, 0x00, 0x12}, nil,
	}
	for i, f := range frames {
		ip := f[14:]
		if wantMAC[i] != nil && !bytes.Equal(f[:6], wantMAC[i]) {
			t.Errorf("frame %d: dst mac % x, want % x", i, f[:6], wantMAC[i])
		}
		if i < 3 {
			if ip[1] != TOS {
				t.Errorf("frame %d: tos %#x", i, ip[1])
			}
			if ip[6]&0x40 != 0 {
				t.Errorf("frame %d: DF set", i)
			}
			if want := ttlOf(batch[i]); ip[8] != want {
				t.Errorf("frame %d: ttl %d", i, ip[8])
			}
			if ipChecksum(ip[:20]) != 0 {
				t.Errorf("frame %d: bad ip checksum", i)
			}
			continue
		}
		tc := (binary.BigEndian.Uint32(ip[:4]) >> 20) & 0xff
		if tc != TOS || ip[7] != 255 || ip[6] != Protocol {
			t.Errorf("frame %d: traffic class %#x hop limit %d next header %d", i, tc, ip[7], ip[6])
		}
	}
	if st := r4.Stats(); st.Packets != 3 || st.Malformed != 0 {
		t.Errorf("ipv4 receiver stats %+v", st)
	}
}

func TestSendErrors(t *testing.T) {
	a, _ := pair(t)
	aIdx := ifIndex(t, a, "eth0")
	var snd *Sender
	a.Do(t, func() {
		var err error
		if snd, err = NewSender(); err != nil {
			t.Fatal(err)
		}
	})
	defer snd.Close()
	batch := []Outgoing{
		{IfIndex: aIdx, Dst: GroupV4, Payload: vrrpV2(1, 100, vip4)},
		{IfIndex: aIdx, Payload: []byte{1}},                                                         // no destination
		{IfIndex: aIdx, Src: srcA4, Dst: GroupV6, Payload: []byte{1}},                               // mixed families
		{IfIndex: aIdx, Src: netip.MustParseAddr("2001:db8::99"), Dst: GroupV6, Payload: []byte{1}}, // source not ours
		{IfIndex: aIdx, Src: llA, Dst: GroupV6, Payload: vrrpV3(1, 100, llA, GroupV6, vip6)},
	}
	err := snd.Send(batch)
	var pe *PacketError
	if !errors.As(err, &pe) {
		t.Fatalf("want packet errors, got %v", err)
	}
	var failed []int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		if errors.As(e, &pe) {
			failed = append(failed, pe.Index)
		}
	}
	if len(failed) != 3 || failed[0] != 1 || failed[1] != 2 || failed[2] != 3 {
		t.Fatalf("failed packets %v (%v), want [1 2 3]", failed, err)
	}
	if st := snd.Stats(); st.Packets != 2 || st.Errors != 3 {
		t.Fatalf("stats %+v, want 2 sent and 3 errors", st)
	}
}

// Debian's keepalived 2.2.7 as the sender: a v2 IPv4 instance and a v3 IPv6 instance, both
// masters at once (priority 255), received by our sockets in the peer namespace.
func TestReceiveFromKeepalived(t *testing.T) {
	testenv.RequireRoot(t)
	a, b := pair(t)
	bIdx := ifIndex(t, b, "eth0")
	var r4, r6 *Receiver
	b.Do(t, func() {
		var err error
		if r4, err = Listen(ListenConfig{IfIndex: bIdx}); err != nil {
			t.Fatal(err)
		}
		if r6, err = Listen(ListenConfig{IfIndex: bIdx, IPv6: true}); err != nil {
			t.Fatal(err)
		}
	})
	ch4, ch6 := collect(t, r4), collect(t, r6)
	startKeepalived(t, a, `
global_defs {
  router_id xa-test
}
vrrp_instance V4 {
  state MASTER
  interface eth0
  virtual_router_id 61
  priority 255
  advert_int 1
  virtual_ipaddress {
    198.51.100.100/32
  }
}
vrrp_instance V4u {
  state MASTER
  interface eth0
  virtual_router_id 63
  priority 255
  version 3
  advert_int 0.1
  unicast_src_ip 198.51.100.1
  unicast_peer {
    198.51.100.2
  }
  virtual_ipaddress {
    198.51.100.101/32
  }
}
vrrp_instance V6 {
  state MASTER
  interface eth0
  virtual_router_id 62
  priority 255
  advert_int 0.1
  virtual_ipaddress {
    fe80::100/64
    2001:db8::100/128
  }
}
`)
	// Both IPv4 instances arrive on one socket: the v2 multicast one and the v3 unicast one.
	var sawV2, sawUnicast bool
	deadline := time.Now().Add(15 * time.Second)
	for !(sawV2 && sawUnicast) && time.Now().Before(deadline) {
		p := nextWithin(t, ch4, 15*time.Second, "keepalived ipv4 adverts")
		switch {
		case len(p.Payload) > 1 && p.Payload[1] == 61:
			sawV2 = true
			if p.Src != srcA4 || p.Dst != GroupV4 || p.TTL != 255 || p.IPTotalLen != 40 {
				t.Errorf("v2 advert ip facts %+v", p)
			}
			if len(p.Payload) != 20 || p.Payload[0] != 0x21 || p.Payload[2] != 255 || p.Payload[3] != 1 {
				t.Errorf("v2 advert payload % x", p.Payload)
			}
		case len(p.Payload) > 1 && p.Payload[1] == 63:
			sawUnicast = true
			if p.Src != srcA4 || p.Dst != dstB4 || p.TTL != 255 || p.IPTotalLen != 32 {
				t.Errorf("v3 unicast advert ip facts %+v", p)
			}
			if len(p.Payload) != 12 || p.Payload[0] != 0x31 || binary.BigEndian.Uint16(p.Payload[4:])&0x0fff != 10 {
				t.Errorf("v3 unicast advert payload % x", p.Payload)
			}
		default:
			t.Errorf("unexpected packet %+v", p)
		}
	}
	if !sawV2 || !sawUnicast {
		t.Fatalf("v2 multicast seen %v, v3 unicast seen %v", sawV2, sawUnicast)
	}
	p := nextWithin(t, ch6, 15*time.Second, "keepalived v3 ipv6 advert")
	if !p.Src.IsLinkLocalUnicast() || p.Dst != GroupV6 || p.TTL != 255 || p.IfIndex != bIdx {
		t.Errorf("v3 advert ip facts %+v", p)
	}
	if len(p.Payload) != 8+2*16 || p.Payload[0] != 0x31 || p.Payload[1] != 62 || p.Payload[3] != 2 ||
		binary.BigEndian.Uint16(p.Payload[4:])&0x0fff != 10 {
		t.Errorf("v3 advert payload % x", p.Payload)
	}
}

func nextWithin(t *testing.T, ch <-chan Packet, d time.Duration, what string) Packet {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-time.After(d):
		t.Fatalf("no packet within %v: %s", d, what)
		return Packet{}
	}
}

func TestListenErrors(t *testing.T) {
	if _, err := Listen(ListenConfig{}); err == nil {
		t.Fatal("listen without an interface succeeded")
	}
	testenv.RequireRoot(t)
	a := nstest.New(t, "vsl")
	var err error
	a.Do(t, func() {
		_, err = Listen(ListenConfig{IfIndex: 1, Groups: []netip.Addr{GroupV6}})
	})
	if err == nil {
		t.Fatal("ipv4 receiver joined an ipv6 group")
	}
}

// ipv6Ancillary builds the control messages an IPv6 receive socket gets.
func ipv6Ancillary(hops int, dst netip.Addr, ifindex int) []byte {
	b := make([]byte, oob6Len)
	info := make([]byte, 20)
	d := dst.As16()
	copy(info, d[:])
	binary.NativeEndian.PutUint32(info[16:], uint32(ifindex))
	n := putCmsg(b, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, info)
	h := make([]byte, 4)
	binary.NativeEndian.PutUint32(h, uint32(hops))
	putCmsg(b[n:], unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, h)
	return b
}

func TestParseIPv6(t *testing.T) {
	from := llA.As16()
	pl := vrrpV3(1, 100, llA, GroupV6, vip6)
	p, err := parseIPv6(pl, ipv6Ancillary(255, GroupV6, 7), from)
	if err != nil {
		t.Fatal(err)
	}
	if p.Src != llA || p.Dst != GroupV6 || p.TTL != 255 || p.IfIndex != 7 || p.IPTotalLen != 40+len(pl) {
		t.Fatalf("parsed %+v", p)
	}
	if _, err := parseIPv6(pl, nil, from); err == nil {
		t.Error("packet without ancillary data accepted")
	}
	if _, err := parseIPv6(pl, ipv6Ancillary(255, GroupV6, 7)[:24], from); err == nil {
		t.Error("packet without hop limit accepted")
	}
}

func FuzzParseIPv6Ancillary(f *testing.F) {
	f.Add(ipv6Ancillary(255, GroupV6, 7))
	f.Add([]byte{})
	from := llA.As16()
	f.Fuzz(func(t *testing.T, oob []byte) {
		p, err := parseIPv6([]byte{0x31}, oob, from)
		if err == nil && (!p.Dst.Is6() || p.IPTotalLen != 41) {
			t.Fatalf("inconsistent packet %+v", p)
		}
	})
}

// A receiver gets the groups it joined and no others, even when another socket on the host
// joined them; groups can be joined and left while it runs.
func TestGroups(t *testing.T) {
	a, b := pair(t)
	aIdx, bIdx := ifIndex(t, a, "eth0"), ifIndex(t, b, "eth0")
	other := netip.MustParseAddr("224.0.0.19")
	var snd *Sender
	var rDefault, rOther *Receiver
	a.Do(t, func() {
		var err error
		if snd, err = NewSender(); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { _ = snd.Close() })
	b.Do(t, func() {
		var err error
		if rDefault, err = Listen(ListenConfig{IfIndex: bIdx}); err != nil {
			t.Fatal(err)
		}
		if rOther, err = Listen(ListenConfig{IfIndex: bIdx, Groups: []netip.Addr{other}}); err != nil {
			t.Fatal(err)
		}
	})
	chD, chO := collect(t, rDefault), collect(t, rOther)
	send := func(dst netip.Addr, vrid byte) {
		t.Helper()
		if err := snd.Send([]Outgoing{{IfIndex: aIdx, Src: srcA4, Dst: dst, Payload: vrrpV2(vrid, 100, vip4)}}); err != nil {
			t.Fatal(err)
		}
	}
	send(other, 1)
	send(GroupV4, 2)
	if p := next(t, chD, "default group"); p.Dst != GroupV4 || p.Payload[1] != 2 {
		t.Errorf("default-group receiver got %+v", p)
	}
	if p := next(t, chO, "configured group"); p.Dst != other || p.Payload[1] != 1 {
		t.Errorf("configured-group receiver got %+v", p)
	}
	if err := rOther.LeaveGroup(other); err != nil {
		t.Fatal(err)
	}
	if err := rOther.JoinGroup(GroupV4); err != nil {
		t.Fatal(err)
	}
	send(other, 3)
	send(GroupV4, 4)
	if p := next(t, chO, "joined default group"); p.Payload[1] != 4 {
		t.Errorf("after leave/join got %+v", p)
	}
	if p := next(t, chD, "default group again"); p.Payload[1] != 4 {
		t.Errorf("default-group receiver got %+v", p)
	}
	select {
	case p := <-chO:
		t.Errorf("unexpected packet %+v", p)
	case p := <-chD:
		t.Errorf("unexpected packet %+v", p)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestSendAfterClose(t *testing.T) {
	a := nstest.New(t, "vsc")
	var snd *Sender
	a.Do(t, func() {
		var err error
		if snd, err = NewSender(); err != nil {
			t.Fatal(err)
		}
	})
	if err := snd.Close(); err != nil {
		t.Fatal(err)
	}
	err := snd.Send([]Outgoing{{IfIndex: 1, Dst: GroupV4, Payload: []byte{1}}, {IfIndex: 1, Dst: GroupV6, Payload: []byte{1}}})
	if err == nil || len(err.(interface{ Unwrap() []error }).Unwrap()) != 2 {
		t.Fatalf("send on a closed sender: %v", err)
	}
}

// IPv6 unicast to a link-local peer needs the interface as scope; the receiver sees the
// link-local destination and the sender's link-local source.
func TestLinkLocalUnicast(t *testing.T) {
	a, b := pair(t)
	aIdx, bIdx := ifIndex(t, a, "eth0"), ifIndex(t, b, "eth0")
	llB := netip.MustParseAddr("fe80::2")
	var r *Receiver
	snd := newSender(t, a)
	b.Do(t, func() {
		var err error
		if r, err = Listen(ListenConfig{IfIndex: bIdx, IPv6: true, Groups: []netip.Addr{}}); err != nil {
			t.Fatal(err)
		}
	})
	ch := collect(t, r)
	adv := vrrpV3(9, 100, llA, llB, vip6)
	if err := snd.Send([]Outgoing{
		{IfIndex: aIdx, Src: llA, Dst: GroupV6, Payload: adv}, // not joined: not received
		{IfIndex: aIdx, Src: llA, Dst: llB, TTL: 64, Payload: adv},
	}); err != nil {
		t.Fatal(err)
	}
	p := next(t, ch, "link-local unicast")
	if p.Src != llA || p.Dst != llB || p.TTL != 64 || p.IfIndex != bIdx || !bytes.Equal(p.Payload, adv) {
		t.Fatalf("received %+v", p)
	}
}
