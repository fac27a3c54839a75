package netif

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/internal/testenv"
)

// Interface names in these tests never exist on the host, so a call that wrongly ran in
// the host namespace fails instead of touching a host interface.
const (
	dev  = "nif0"
	peer = "nif1"
)

// pair makes two namespaces joined by a veth nif0 (in a) — nif1 (in b), with addresses.
func pair(t testing.TB) (a, b *nstest.NS) {
	t.Helper()
	a, b = nstest.New(t, "nia"), nstest.New(t, "nib")
	nstest.Veth(t, a, dev, b, peer)
	a.MustRun(t, "ip", "addr", "add", "198.51.100.1/24", "dev", dev)
	b.MustRun(t, "ip", "addr", "add", "198.51.100.2/24", "dev", peer)
	return a, b
}

type jsonAddr struct {
	Family        string `json:"family"`
	Local         string `json:"local"`
	Address       string `json:"address"`
	Prefixlen     int    `json:"prefixlen"`
	Broadcast     string `json:"broadcast"`
	Scope         string `json:"scope"`
	Label         string `json:"label"`
	NoDAD         bool   `json:"nodad"`
	NoPrefixRoute bool   `json:"noprefixroute"`
	Preferred     uint64 `json:"preferred_life_time"`
}

// addrs returns the addresses `ip -j addr` shows on ifname in ns.
func addrs(t testing.TB, ns *nstest.NS, ifname string) []jsonAddr {
	t.Helper()
	out := ns.MustRun(t, "ip", "-j", "addr", "show", "dev", ifname)
	var links []struct {
		AddrInfo []jsonAddr `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j addr: %v: %s", err, out)
	}
	return links[0].AddrInfo
}

// capture runs tcpdump in ns; stop ends it and returns the frames.
func capture(t testing.TB, ns *nstest.NS, ifname, filter string) (stop func() ([][]byte, string)) {
	t.Helper()
	testenv.RequireCommand(t, "tcpdump")
	file := filepath.Join(t.TempDir(), "cap.pcap")
	cmd := ns.Cmd("tcpdump", "-i", ifname, "--immediate-mode", "-U", "-n", "-s", "2048", "-w", file, filter)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	done := make(chan error, 1)
	ready := make(chan string, 2)
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
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
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
	return func() ([][]byte, string) {
		time.Sleep(100 * time.Millisecond)
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
		return frames, file
	}
}
