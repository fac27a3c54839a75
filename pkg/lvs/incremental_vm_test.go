//go:build vmtest

package lvs

import (
	"strings"
	"testing"
)

// TestVMApplyIncremental: after the first Apply, a change of one weight is sent without reading
// the kernel's table; a change to a destination or service that was removed behind our back makes
// Apply read that service again and repair it; a service removed from the configuration that is
// already gone is no error; a new service is added; Resync still reads everything.
func TestVMApplyIncremental(t *testing.T) {
	ns, r := newDirector(t, Options{})
	want := hundredServices()
	if _, err := r.Apply(want); err != nil {
		t.Fatal(err)
	}
	dumps := r.dumps

	want[50].Destinations[1].Weight = 7
	ch, err := r.Apply(want)
	must(t, err)
	if ch != (Changes{DestsUpdated: 1}) || r.dumps != dumps {
		t.Fatalf("one weight: %v with %d table dumps, want one update and none", ch, r.dumps-dumps)
	}
	if l := strings.Join(ipvsadmList(t, ns), "\n"); !strings.Contains(l, "TCP 203.0.113.51:80 -> 198.51.100.12:80 Masq 7") {
		t.Fatalf("weight 7 not in the kernel:\n%s", l)
	}

	// Behind our back: a destination of service 10 and the whole service 20 are deleted.
	ns.MustRun(t, "ipvsadm", "-d", "-t", "203.0.113.10:80", "-r", "198.51.100.11:80")
	ns.MustRun(t, "ipvsadm", "-D", "-t", "203.0.113.20:80")
	want[9].Destinations[0].Weight = 3 // an update of the deleted destination fails: read, re-add
	want[19].Destinations[2].Weight = 4
	ch, err = r.Apply(want)
	must(t, err)
	if ch.DestsAdded != 4 || ch.ServicesAdded != 1 {
		t.Fatalf("repair after deletions behind our back: %v, want service 20 and its 3 destinations and one of service 10 re-added", ch)
	}
	l := strings.Join(ipvsadmList(t, ns), "\n")
	for _, line := range []string{"TCP 203.0.113.10:80 -> 198.51.100.11:80 Masq 3", "TCP 203.0.113.20:80 -> 198.51.100.13:80 Masq 4"} {
		if !strings.Contains(l, line) {
			t.Errorf("after repair the kernel lacks %q", line)
		}
	}

	// Service 30 deleted behind our back and then from the configuration; a service 101 added.
	ns.MustRun(t, "ipvsadm", "-D", "-t", "203.0.113.30:80")
	extra := hundredServices()[:1]
	extra[0].Address = addr("203.0.113.101")
	want = append(append(want[:29:29], want[30:]...), extra[0])
	dumps = r.dumps
	ch, err = r.Apply(want)
	must(t, err)
	if ch != (Changes{ServicesAdded: 1, DestsAdded: 3}) || r.dumps != dumps {
		t.Fatalf("drop a vanished service, add one: %v with %d dumps", ch, r.dumps-dumps)
	}
	if got := len(ipvsadmList(t, ns)); got != 100*4 {
		t.Fatalf("kernel holds %d lines, want 100 services x (1 + 3)", got)
	}

	// A weight edited by hand is left to Resync, which reads everything.
	ns.MustRun(t, "ipvsadm", "-e", "-t", "203.0.113.1:80", "-r", "198.51.100.11:80", "-m", "-w", "9")
	if ch, err = r.Apply(want); err != nil || ch.Total() != 0 {
		t.Fatalf("apply of an unchanged state: %v %v", ch, err)
	}
	if ch, err = r.Resync(want); err != nil || ch != (Changes{DestsUpdated: 1}) || r.dumps == dumps {
		t.Fatalf("resync: %v %v, want the hand edit undone after a table read", ch, err)
	}
}
