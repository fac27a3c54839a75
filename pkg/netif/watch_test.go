package netif

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestWatcher(t *testing.T) {
	a, b := pair(t)
	var w *Watcher
	var idx int
	a.Do(t, func() {
		var err error
		if w, err = NewWatcher(); err != nil {
			t.Fatal(err)
		}
		in, err := InterfaceByName(dev)
		if err != nil {
			t.Fatal(err)
		}
		idx = in.Index
	})
	ch := make(chan Event, 16)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := w.Run(ctx, ch); err != nil {
			t.Errorf("watcher: %v", err)
		}
	}()
	defer func() { cancel(); wg.Wait(); _ = w.Close() }()

	// expect waits for an event matching want (other events, such as IPv6 link-local
	// addresses coming and going, are skipped).
	expect := func(what string, match func(Event) bool) Event {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case e := <-ch:
				if match(e) {
					return e
				}
			case <-deadline:
				t.Fatalf("no event: %s", what)
			}
		}
	}
	link := func(kind EventKind, name string) func(Event) bool {
		return func(e Event) bool { return e.Kind == kind && e.IfName == name }
	}

	a.MustRun(t, "ip", "link", "set", dev, "down")
	if e := expect("nif0 down", link(LinkDown, dev)); e.IfIndex != idx || e.Up {
		t.Errorf("down event %+v", e)
	}
	a.MustRun(t, "ip", "link", "set", dev, "up")
	if e := expect("nif0 up", link(LinkUp, dev)); e.IfIndex != idx || !e.Up {
		t.Errorf("up event %+v", e)
	}
	// Carrier loss: the far end of the veth goes down.
	b.MustRun(t, "ip", "link", "set", peer, "down")
	expect("nif0 carrier loss", link(LinkDown, dev))
	b.MustRun(t, "ip", "link", "set", peer, "up")
	expect("nif0 carrier back", link(LinkUp, dev))

	a.MustRun(t, "ip", "addr", "add", "198.51.100.77/32", "dev", dev)
	e := expect("address added", func(e Event) bool { return e.Kind == AddrAdded && e.Addr.String() == "198.51.100.77/32" })
	if e.IfIndex != idx || e.IfName != dev {
		t.Errorf("address event %+v", e)
	}
	a.MustRun(t, "ip", "addr", "del", "198.51.100.77/32", "dev", dev)
	expect("address removed", func(e Event) bool { return e.Kind == AddrRemoved && e.Addr.String() == "198.51.100.77/32" })
	a.MustRun(t, "ip", "addr", "add", "2001:db8::77/64", "dev", dev)
	e = expect("ipv6 address added", func(e Event) bool { return e.Kind == AddrAdded && e.Addr.String() == "2001:db8::77/64" })
	if !e.Tentative {
		t.Errorf("ipv6 address under dad not tentative: %+v", e)
	}

	a.MustRun(t, "ip", "link", "add", "nif2", "type", "veth", "peer", "name", "nif3")
	expect("nif2 appeared", link(LinkAppeared, "nif2"))
	a.MustRun(t, "ip", "link", "del", "nif2")
	expect("nif2 vanished", link(LinkVanished, "nif2"))

	// Cancelling the context ends Run with nil (checked in the goroutine).
	cancel()
	wg.Wait()
}
