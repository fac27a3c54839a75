/* types.h: structs shared with Go. bpf2go turns each into a Go type from BTF (-type NAME), so
 * the layouts here are the only definition; keep fields naturally aligned (no packing). */
#ifndef XA_TYPES_H
#define XA_TYPES_H

#include "kernel.h"
#include "consts.h"
#include "reasons.h"

/* Identifies a VRRP instance as the wire sees it. */
struct xa_inst_key {
	__u32 ifindex; /* receiving interface (the one the program is attached to) */
	__u16 vlan;    /* 802.1Q VLAN ID of the frame, 0 when untagged */
	__u8 family;   /* AF_INET or AF_INET6 */
	__u8 vrid;
};

/* What the receive checks compare an advert against, by slot (configs); written by user space.
 * 64 bytes in a page-aligned array: one cache line per instance on the advert path. */
struct xa_inst_config {
	struct xa_inst_key key; /* the instance (events from the timer callback); ifindex 0: free */
	__u16 interval;        /* advert interval in wire units: v2 seconds, v3 centiseconds */
	__u16 mode;            /* enum xa_mode bits */
	__u8 version;          /* 2 or 3 */
	__u8 priority;         /* effective priority (skew, tie-break, preemption) */
	__u8 auth_type;        /* v2: 0 none, 1 simple password */
	__u8 vip_count;        /* addresses the instance announces */
	__u8 down_adverts;     /* Master_Down_Interval = down_adverts x interval + skew (3) */
	__u8 pad[7];
	__u8 auth_pass[8];     /* v2 simple password, zero padded */
	__u8 local_addr[16];   /* our primary address for the tie-break (IPv4: first 4 bytes) */
	__u64 addr_hash;       /* order-independent hash of the VIP list (addr_list note) */
	__u64 pad2;
};

/* An interface (and VLAN) with instances: where its VRIDs start in index. */
struct xa_if_key {
	__u32 ifindex;
	__u16 vlan;
	__u16 pad;
};

struct xa_if {
	__u32 base;            /* index of (this interface, IPv4, VRID 0); IPv6 is base + 256 */
};

/* Instance state, written by user space. MASTER is a lease: ARP/NS for the instance's VIPs are
 * answered only while bpf_ktime_get_ns() < lease_until_ns, and dropped once it has run out. */
struct xa_inst_state {
	__u32 state;           /* enum xa_state */
	__u32 pad;
	__u64 lease_until_ns;  /* CLOCK_MONOTONIC (checked against the coarse clock: +1 tick) */
};

/* Longest VRRP message the peer record keeps a copy of (v2 with one address, v3 with four). */
#define XA_SNAP_MAX 24

/* The current master as this node sees it and its master-down deadline, by slot (peers);
 * written by the program, zeroed by user space for a new or deleted instance. 128 bytes in a
 * page-aligned array: the first cache line is all a repeated advert touches (the fast path:
 * an IPv4 advert byte for byte the one last accepted in BACKUP, same TTL and addresses, with
 * no configuration or state written since (inst_gen), gets the same verdict and the same
 * effect: only due_ns and accepted move). */
struct xa_peer {
	__u64 due_ns;              /* master-down deadline: last accepted advert + down_ns; 0 once
	                              it expired (or never armed) */
	__u64 down_ns;             /* Master_Down_Interval from the last accepted advert */
	__u64 accepted;            /* valid adverts (atomic); user space adds it to
	                              xa_counters.adverts[XA_ACCEPT]: the steady state touches
	                              this record anyway, and the per-CPU counters stay cold */
	__u32 snap_gen;            /* inst_gen the snapshot was taken under (0: none) */
	__u8 snap_src[4];          /* the snapshot: IPv4 source, destination, TTL, VRRP length */
	__u8 snap_dst[4];
	__u8 snap_len;             /* 0: no snapshot */
	__u8 snap_ttl;
	__u16 wire;                /* written by user space with the instance: 1 + its index in
	                              vrid_index, when its slot is that index (the fast path then
	                              finds the record without reading vrid_index); else 0 */
	__u8 snap_msg[XA_SNAP_MAX]; /* the VRRP message, snap_len bytes */
	/* second cache line: the slow path and user space */
	__u8 addr[16];             /* master's source address (IPv4: first 4 bytes) */
	__u64 last_seen_ns;        /* CLOCK_MONOTONIC of the last accepted advert that changed
	                              the record or took the slow path, and at expiry the last
	                              one; while due_ns is set, due_ns - down_ns is the last one */
	__u64 last_fail_ns;        /* last XA_EV_CHECK_FAILED event (rate limit) */
	__u16 interval;            /* master's advert interval, wire units */
	__u8 priority;             /* master's priority */
	__u8 pad[5];
	__u64 pad2[3];
};

/* The one master-down timer of the program (sched, one entry; only the program writes it):
 * armed for the earliest due_ns over all instances; its callback raises master-down for the
 * expired ones and re-arms for the next. */
struct xa_sched {
	struct bpf_timer timer;
	__u64 deadline_ns;     /* when the timer fires; 0 while not armed or in the callback */
	__u64 runs;            /* callbacks */
	__u64 run_ns;          /* their total run time (outside the program's run_time_ns) */
	__u64 scanned;         /* slots the callbacks looked at */
};

/* Per-instance counters (per CPU; user space sums them, and adds xa_peer.accepted to
 * adverts[XA_ACCEPT], which the program never counts here). The global map uses the same type
 * for frames that match no instance (truncated, unknown VRID), and counts every lost event. */
struct xa_counters {
	__u64 adverts[XA_REASON_MAX]; /* by verdict: [XA_ACCEPT] valid, otherwise dropped for reason */
	__u64 notes[XA_REASON_MAX];   /* findings on accepted adverts (interval, addr_count, addr_list) */
	__u64 prio_zero;              /* valid adverts with priority 0 */
	__u64 arp_replies;            /* ARP requests answered with XDP_TX */
	__u64 na_replies;             /* neighbour solicitations answered with XDP_TX */
	__u64 lease_drops;            /* ARP/NS for a VIP dropped because the MASTER lease ran out */
	__u64 master_down;            /* master-down timer expiries */
	__u64 events;                 /* ring buffer events sent */
	__u64 events_lost;            /* ring buffer reservations that failed */
};

/* A ring buffer record: something that can change the election. */
struct xa_event {
	__u64 time_ns;         /* CLOCK_MONOTONIC */
	struct xa_inst_key key;
	__u32 type;            /* enum xa_event_type */
	__u32 reason;          /* XA_EV_CHECK_FAILED: enum xa_reason */
	__u8 addr[16];         /* advert source (master-down: the last master) */
	__u16 interval;        /* advert interval, wire units */
	__u8 priority;         /* advert priority */
	__u8 pad[5];
};

/* A unicast peer of an instance (XA_MODE_CHECK_UNICAST_SRC). */
struct xa_upeer_key {
	__u32 slot;
	__u8 addr[16];         /* IPv4: first 4 bytes */
};

struct xa_upeer {
	__u8 min_ttl;          /* 0: no bound */
	__u8 max_ttl;          /* 0: 255 */
};

/* Key of an IPv6 virtual address on an interface (vips). */
struct xa_vip_key {
	__u32 ifindex;
	__u16 vlan;
	__u8 family;
	__u8 pad;
	__u8 addr[16];         /* IPv4: first 4 bytes */
};

/* Key of an IPv4 virtual address on an interface (vips4): 12 bytes, so the hash map hashes it
 * in one jhash2 final round instead of a full round and a final one (the hash was the largest
 * part of answering an ARP request). */
struct xa_vip4_key {
	__u32 ifindex;
	__u16 vlan;
	__u16 pad;
	__u8 addr[4];
};

struct xa_vip {
	__u32 slot;            /* owning instance */
	__u16 flags;           /* enum xa_vip_flags */
	__u8 mac[6];           /* source MAC of replies: the VMAC or the interface MAC */
};

/* A per-CPU cache line of vips4 for the ARP responder, filled by the program on a miss and
 * valid while gen equals vip_gen[0], which user space bumps after every change to vips4. A
 * hit costs an inlined array lookup instead of the hash map's calls (hash, bucket walk,
 * memcmp); the state and lease are still read from states on every request. */
struct xa_vip4_cache {
	__u32 gen;
	__u32 ifindex;
	__u16 vlan;
	__u16 pad;
	__u8 addr[4];
	struct xa_vip vip;
};

#endif
