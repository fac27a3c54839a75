package vrrpsock

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/internal/testenv"
)

// ifIndex returns the index of an interface inside ns.
func ifIndex(t testing.TB, ns *nstest.NS, name string) int {
	t.Helper()
	var idx int
	ns.Do(t, func() {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			t.Fatalf("interface %s in %s: %v", name, ns.Name, err)
		}
		idx = ifi.Index
	})
	return idx
}

// pair makes two namespaces joined by a veth eth0-eth0 with IPv4, global IPv6 and fixed
// link-local addresses (no DAD, so they are usable at once).
func pair(t testing.TB) (a, b *nstest.NS) {
	t.Helper()
	a, b = nstest.New(t, "vsa"), nstest.New(t, "vsb")
	nstest.Veth(t, a, "eth0", b, "eth0")
	for i, ns := range []*nstest.NS{a, b} {
		n := fmt.Sprint(i + 1)
		ns.MustRun(t, "ip", "addr", "add", "198.51.100."+n+"/24", "dev", "eth0")
		ns.MustRun(t, "ip", "addr", "add", "2001:db8::"+n+"/64", "dev", "eth0", "nodad")
		ns.MustRun(t, "ip", "addr", "add", "fe80::"+n+"/64", "dev", "eth0", "nodad")
	}
	return a, b
}

// vrrpV2 returns a valid VRRPv2 advert (one VIP, no auth).
func vrrpV2(vrid, prio byte, vip netip.Addr) []byte {
	v := vip.As4()
	p := []byte{0x21, vrid, prio, 1, 0, 1, 0, 0}
	p = append(p, v[:]...)
	p = append(p, make([]byte, 8)...)
	binary.BigEndian.PutUint16(p[6:], ipChecksum(p))
	return p
}

// vrrpV3 returns a valid VRRPv3 advert (one VIP, interval 100 cs) for src → dst.
func vrrpV3(vrid, prio byte, src, dst, vip netip.Addr) []byte {
	p := []byte{0x31, vrid, prio, 1, 0, 100, 0, 0}
	p = append(p, vip.AsSlice()...)
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

// startKeepalived runs Debian's keepalived (VRRP only) in ns with the given configuration.
func startKeepalived(t testing.TB, ns *nstest.NS, conf string) {
	t.Helper()
	testenv.RequireCommand(t, "keepalived")
	dir := t.TempDir()
	file := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ns.Start(t, "keepalived", "-n", "-l", "-D", "-P", "-f", file,
		"-p", filepath.Join(dir, "keepalived.pid"), "-r", filepath.Join(dir, "vrrp.pid"))
}

// newSender opens a Sender inside ns, closed when the test ends.
func newSender(t testing.TB, ns *nstest.NS) *Sender {
	t.Helper()
	var snd *Sender
	ns.Do(t, func() {
		var err error
		if snd, err = NewSender(); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { _ = snd.Close() })
	return snd
}

// listenIn opens a Receiver inside ns, closed when the test ends.
func listenIn(t testing.TB, ns *nstest.NS, cfg ListenConfig) *Receiver {
	t.Helper()
	var r *Receiver
	ns.Do(t, func() {
		var err error
		if r, err = Listen(cfg); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { _ = r.Close() })
	return r
}
