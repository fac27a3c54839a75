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
//	dp, err := loader.Open(loader.Options{Name: "lb1"}) // adopts pins left by a crash (dp.Adopted())
//	dp.Attach(ifindex, loader.ModeNative)                // per interface; a no-op if adopted
//	dp.SetInstance(loader.Instance{...})                 // per VRRP instance (starts in INIT)
//	dp.SetState(key, loader.StateBackup, 0)              // adverts are checked in BACKUP and MASTER
//	go dp.ReadEvents(ctx, events)                        // master down, new master, preempted, ...
//	dp.SetState(key, loader.StateMaster, lease)          // before announcing MASTER
//	dp.RenewLeases(keys, lease)                          // with every batch of adverts sent
//	dp.SetState(key, loader.StateBackup, 0)              // before announcing BACKUP: ARP stops now
//	dp.Close()                                           // clean stop: nothing left attached
//
// Counters (per reason, summed over CPUs), ReadPeer and GlobalCounters feed status and stats;
// when Counters.EventsLost grows, the ring buffer overflowed and ReadPeer is the truth. Timer
// reports the program's one master-down timer (callbacks and their run time, which the
// program's own run-time statistics do not include).
//
// Inside, the program finds an instance through its interface's base (if_direct for untagged
// interfaces below ifindex 16384, else the ifaces hash) and a VRID-indexed array; a repeated
// advert (byte for byte the last accepted one, nothing written since: inst_gen) touches one
// cache line of its peer record; one timer for all instances is armed for the earliest
// deadline. SetInstance, SetState (a change of state) and DeleteInstance bump inst_gen.
// Release instead of Close hands the running program over to the next process.
//
// Reasons are pkg/vrrp's DropReason (bpf/reasons.h carries the same numbers; a test pins them).
package loader
