/* maps.h: every map, pinned by name under BPFFS/xalived/NAME/ by the loader. */
#ifndef XA_MAPS_H
#define XA_MAPS_H

#include <bpf/bpf_helpers.h>
#include "types.h"

/* Interfaces (and VLANs) with instances: where their VRIDs start in index; user space writes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_IFACES);
	__type(key, struct xa_if_key);
	__type(value, struct xa_if);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ifaces SEC(".maps");

/* xa_if.base + 1 (0: none) by ifindex, for untagged adverts on an interface with an ifindex
 * below IFINDEX_DIRECT: an inlined load instead of the hash map's call; user space writes. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IFINDEX_DIRECT);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} if_direct SEC(".maps");

/* Slot + 1 (0: no instance) by xa_if.base + (IPv6 ? 256 : 0) + VRID; user space writes. An
 * array instead of a hash by the whole key: one inlined load, and the 255 VRIDs of an
 * interface share 16 cache lines. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_IFACES * 512);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vrid_index SEC(".maps");

/* Instance configuration by slot (struct xa_inst_config, 64 bytes); user space writes, XDP
 * reads. Mmapable only for the kernel's page-aligned layout: each value is one cache line. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_INSTANCES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct xa_inst_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} configs SEC(".maps");

/* Instance state and MASTER lease by slot; user space writes (state flips, lease renewals). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_INSTANCES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct xa_inst_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} states SEC(".maps");

/* Peer record and master-down deadline by slot (64 bytes, one cache line as in configs); XDP
 * writes, user space reads (and zeroes for a new or deleted instance, which disarms it). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_INSTANCES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct xa_peer);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} peers SEC(".maps");

/* Generation of configs, states and unicast_peers (one entry): user space bumps it after
 * every write but a MASTER's lease renewal; the fast path's snapshots carry the one they were
 * taken under, so any change sends the next advert of every instance through the ladder. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} inst_gen SEC(".maps");

/* The master-down timer (struct xa_sched, one entry); only the program writes it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xa_sched);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sched SEC(".maps");

/* 1 + the highest slot in use (one entry): how far the timer callback scans; user space writes. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} slot_limit SEC(".maps");

/* Per-CPU counters by slot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_INSTANCES);
	__type(key, __u32);
	__type(value, struct xa_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} counters SEC(".maps");

/* Per-CPU counters of adverts that match no instance (one entry). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xa_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} global SEC(".maps");

/* IPv6 virtual addresses by (ifindex, VLAN, family, address): owning slot and reply MAC. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_VIPS);
	__type(key, struct xa_vip_key);
	__type(value, struct xa_vip);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vips SEC(".maps");

/* IPv4 virtual addresses by (ifindex, VLAN, address): owning slot and reply MAC. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_VIPS);
	__type(key, struct xa_vip4_key);
	__type(value, struct xa_vip);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vips4 SEC(".maps");

/* The ARP responder's per-CPU cache of vips4 (struct xa_vip4_cache), indexed by a hash of
 * (address, ifindex, VLAN); only the program writes it. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1 << VIP4_CACHE_BITS);
	__type(key, __u32);
	__type(value, struct xa_vip4_cache);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vip4_cache SEC(".maps");

/* Generation of vips4 (one entry): user space bumps it after every change, which invalidates
 * every vip4_cache entry at once. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vip_gen SEC(".maps");

/* Unicast peers by (slot, address) with their TTL bounds (check_unicast_src). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_UNICAST_PEERS);
	__type(key, struct xa_upeer_key);
	__type(value, struct xa_upeer);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} unicast_peers SEC(".maps");

/* Events for user space (struct xa_event), only when the election may change. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RINGBUF_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} events SEC(".maps");

#endif
