// Package loader owns xalived's XDP dataplane: it is the only package that imports
// github.com/cilium/ebpf.
//
// It loads the program built from bpf/ (bpf2go output committed next to this file), pins its
// maps, program and per-interface links under BPFFS/xalived/NAME/, adopts what a crashed
// predecessor left pinned (so ARP answering has no gap), attaches to interfaces, and gives typed
// access to the maps: instance configuration, MASTER leases, peer records, per-reason counters,
// and the ring buffer of events that can change an election.
//
// The typical life of a daemon:
//
//	dp, err := loader.Open(loader.Options{Name: "lb1"})  // adopts pins left by a crash
//	dp.Attach(ifindex, loader.ModeNative)
//	dp.SetInstance(loader.Instance{...})                  // one per VRRP instance
//	go dp.ReadEvents(ctx, events)                         // master down, new master, ...
//	dp.SetState(key, loader.StateMaster, lease)           // before announcing MASTER
//	dp.RenewLease(key, lease)                             // with every advert sent
//	dp.Close()                                            // clean stop: nothing left attached
package loader
