package tests

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xalived/xalived/internal/nstest"
)

// Prober pings an address from the client namespace and records when replies arrive.
type Prober struct {
	mu      sync.Mutex
	replies []time.Time
	cmd     *exec.Cmd
	Every   time.Duration
}

var pingReply = regexp.MustCompile(`^\[(\d+)\.(\d+)\] \d+ bytes from .*icmp_seq=`)

// Probe starts `ping -D -i every addr` in the lab's client namespace until the test ends.
func (l *Lab) Probe(t testing.TB, addr string, every time.Duration) *Prober {
	t.Helper()
	p := &Prober{Every: every}
	args := []string{"ping", "-D", "-n", "-i", fmt.Sprintf("%.3f", every.Seconds()), "-W", "1", addr}
	if rt := realtime(); rt != nil {
		args = append(rt, args...) // the measuring client must not be starved either
	}
	p.cmd = l.Client.Cmd(args[0], args[1:]...)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			m := pingReply.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			sec, _ := strconv.ParseInt(m[1], 10, 64)
			frac := m[2]
			for len(frac) < 9 {
				frac += "0"
			}
			ns, _ := strconv.ParseInt(frac[:9], 10, 64)
			p.mu.Lock()
			p.replies = append(p.replies, time.Unix(sec, ns))
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-done
		_ = p.cmd.Wait()
	})
	return p
}

// WaitReplies waits until at least one reply arrived after since.
func (p *Prober) WaitReplyAfter(t testing.TB, since time.Time, timeout time.Duration) {
	t.Helper()
	nstest.WaitFor(t, timeout, "a ping reply", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.replies) > 0 && p.replies[len(p.replies)-1].After(since)
	})
}

// Gap returns the longest interval between consecutive replies where the later reply came
// after since: the client-visible outage of a failover started at since.
func (p *Prober) Gap(since time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var worst time.Duration
	for i := 1; i < len(p.replies); i++ {
		if p.replies[i].Before(since) {
			continue
		}
		if d := p.replies[i].Sub(p.replies[i-1]); d > worst {
			worst = d
		}
	}
	return worst
}

// Count returns the number of replies so far.
func (p *Prober) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.replies)
}

// sprayEcho sends ICMP echo requests to addr from n's namespace every `every` until the test
// ends, from a paced thread (paceThread). ping cannot probe densely through an outage:
// iputils takes -i in milliseconds and, while requests go unanswered, slows down to about one
// request per 10 ms. The replies are not read here; a capture at the client sees them (and
// their kernel timestamps), which also keeps a busy test process out of the measurement.
func sprayEcho(tb testing.TB, n *Node, addr string, every time.Duration) {
	tb.Helper()
	dst := netip.MustParseAddr(addr).As4()
	var fd int
	n.Do(tb, func() {
		var err error
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP); err != nil {
			tb.Fatalf("echo sprayer: %v", err)
		}
	})
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4096) // replies are not read
	// Cleanups run last first: paceThread's stops the sender before this closes the socket.
	tb.Cleanup(func() { _ = unix.Close(fd) })
	id := uint16(os.Getpid())
	pkt := make([]byte, 16)
	paceThread(tb, every, func(i int) {
		pkt[0], pkt[1] = 8, 0 // echo request
		binary.BigEndian.PutUint16(pkt[2:], 0)
		binary.BigEndian.PutUint16(pkt[4:], id)
		binary.BigEndian.PutUint16(pkt[6:], uint16(i))
		binary.BigEndian.PutUint16(pkt[2:], inetChecksum(pkt))
		_ = unix.Sendto(fd, pkt, 0, &unix.SockaddrInet4{Addr: dst})
	})
}

// inetChecksum is the Internet checksum (RFC 1071) of b.
func inetChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
