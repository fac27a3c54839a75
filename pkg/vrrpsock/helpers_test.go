package vrrpsock

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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

// capture runs tcpdump in ns on dev with a filter, writing a pcap; stop ends it and returns
// the frames.
func capture(t testing.TB, ns *nstest.NS, dev, filter string) (stop func() [][]byte) {
	t.Helper()
	testenv.RequireCommand(t, "tcpdump")
	file := filepath.Join(t.TempDir(), "cap.pcap")
	cmd := ns.Cmd("tcpdump", "-i", dev, "--immediate-mode", "-U", "-n", "-s", "2048", "-w", file, filter)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	done := make(chan error, 1)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var seen []string
		for sc.Scan() {
			seen = append(seen, sc.Text())
			if strings.Contains(sc.Text(), "listening on") {
				ready <- ""
			}
		}
		ready <- strings.Join(seen, "\n")
		done <- cmd.Wait()
	}()
	stopped := false
	halt := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		}
	}
	t.Cleanup(halt)
	select {
	case msg := <-ready:
		if msg != "" {
			t.Fatalf("tcpdump ended before listening: %s", msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tcpdump did not start listening")
	}
	return func() [][]byte {
		time.Sleep(100 * time.Millisecond) // let the last frames reach the file
		halt()
		f, err := os.Open(file)
		if err != nil {
			t.Fatalf("open capture: %v", err)
		}
		defer f.Close()
		frames, err := nstest.ReadPcap(f)
		if err != nil {
			t.Fatalf("read capture: %v", err)
		}
		return frames
	}
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
