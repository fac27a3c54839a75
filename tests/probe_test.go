package tests

import (
	"bufio"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

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
