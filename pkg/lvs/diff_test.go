package lvs

import (
	"testing"
)

// TestDiffApplied: the difference between two desired states is sent as requests without the
// kernel: a changed weight is one update, a changed scheduler one service update, a new real
// server one add, a dropped one a delete, and a service not applied before is left to be read.
func TestDiffApplied(t *testing.T) {
	svc := func(port uint16, sched string, weights ...int) Service {
		s := Service{Key: Key{Protocol: TCP, Address: addr("203.0.113.1"), Port: port}, Scheduler: sched}
		for i, w := range weights {
			s.Destinations = append(s.Destinations, Destination{Address: addr("198.51.100.11").Next(), Port: uint16(80 + i), Weight: w})
		}
		return s
	}
	applied, err := normalizeAll([]Service{svc(1, "wlc", 1, 1, 1), svc(2, "wlc", 1, 1), svc(3, "rr", 1), svc(4, "rr", 2)})
	if err != nil {
		t.Fatal(err)
	}
	want, err := normalizeAll([]Service{svc(1, "wlc", 1, 5, 1), svc(2, "wlc", 1), svc(3, "wrr", 1, 1), svc(4, "rr", 2), svc(5, "rr", 1)})
	if err != nil {
		t.Fatal(err)
	}
	ops, touched, unknown := diffApplied(applied, want)
	var got []string
	for _, o := range ops {
		got = append(got, o.String())
	}
	wantOps := []string{
		"service TCP 203.0.113.1:1: update destination 198.51.100.12:81",
		"service TCP 203.0.113.1:2: delete destination 198.51.100.12:81",
		"service TCP 203.0.113.1:3: update service",
		"service TCP 203.0.113.1:3: add destination 198.51.100.12:81",
	}
	if len(got) != len(wantOps) {
		t.Fatalf("requests %q, want %q", got, wantOps)
	}
	for i := range got {
		if got[i] != wantOps[i] {
			t.Errorf("request %d: %q, want %q", i, got[i], wantOps[i])
		}
	}
	if len(touched) != 3 || touched[0].Port != 1 || touched[2].Port != 3 {
		t.Errorf("touched %v, want services 1, 2, 3", touched)
	}
	if len(unknown) != 1 || unknown[0].Port != 5 {
		t.Errorf("unknown %v, want service 5", unknown)
	}
	if ops, touched, unknown := diffApplied(want, want); len(ops)+len(touched)+len(unknown) != 0 {
		t.Errorf("no change gave %d requests", len(ops))
	}
}
