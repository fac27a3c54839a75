/* consts.h: limits (overridable with -D at build time; the loader can also resize maps at load
 * time), wire constants and the small enums shared with Go. */
#ifndef XA_CONSTS_H
#define XA_CONSTS_H

/* Most VRRP instances one loaded program serves (slots in the per-instance arrays). */
#ifndef MAX_INSTANCES
#define MAX_INSTANCES 1024
#endif

/* Most interfaces (an interface and a VLAN count as one) with instances. */
#ifndef MAX_IFACES
#define MAX_IFACES 256
#endif

/* Interfaces with an ifindex below this (and untagged adverts) find their base in an array
 * (if_direct) instead of the ifaces hash. */
#ifndef IFINDEX_DIRECT
#define IFINDEX_DIRECT 16384
#endif

/* Most virtual addresses over all instances. */
#ifndef MAX_VIPS
#define MAX_VIPS 8192
#endif

/* Ring buffer size in bytes (a power of two, at least a page). */
/* Most unicast peers over all instances. */
#ifndef MAX_UNICAST_PEERS
#define MAX_UNICAST_PEERS 4096
#endif

/* Entries (a power of two) per CPU of the ARP responder's VIP cache (vip4_cache). */
#ifndef VIP4_CACHE_BITS
#define VIP4_CACHE_BITS 12
#endif

#ifndef RINGBUF_BYTES
#define RINGBUF_BYTES (256 * 1024)
#endif

/* Most IPv6 extension headers (hop-by-hop, destination options) walked before VRRP. */
#ifndef MAX_IPV6_EXT
#define MAX_IPV6_EXT 4
#endif

#define IPPROTO_VRRP 112
#define VRRP_HDR_LEN 8
#define VRRP_AUTH_LEN 8   /* VRRPv2 authentication data */
#define VRRP_TYPE_ADVERT 1
#define VRRP_TTL 255
#define VRRP_MAX_COUNT 255
/* Longest VRRP message: v3 over IPv6 with 255 addresses (8 + 16 * 255). */
#define VRRP_MAX_LEN (VRRP_HDR_LEN + 16 * VRRP_MAX_COUNT)

/* Offsets are masked so the verifier can bound packet pointers: headers start below
 * XA_HDR_MASK, and anything read from a VRRP message lies below XA_PAYLOAD_MASK. */
#define XA_HDR_MASK 0x1fff
#define XA_PAYLOAD_MASK 0x3fff

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_CSEC 10000000ULL

/* Instance mode bits (xa_inst_config.mode). */
enum xa_mode {
	XA_MODE_UNICAST = 1 << 0,          /* unicast peers: no TTL 255 rule, destination must be unicast */
	XA_MODE_NOPREEMPT = 1 << 1,        /* a backup accepts lower-priority adverts (re-arms its timer) */
	XA_MODE_OWNER_IGNORE = 1 << 2,     /* owner_ignore_adverts: priority 255 drops every advert */
	XA_MODE_CHECK_UNICAST_SRC = 1 << 3, /* the source must be in unicast_peers, TTL in its bounds */
};

/* Instance state as user space writes it (xa_inst_state.state); numbers follow keepalived. */
enum xa_state {
	XA_STATE_INIT = 0,
	XA_STATE_BACKUP = 1,
	XA_STATE_MASTER = 2,
	XA_STATE_FAULT = 3,
};

/* Ring buffer event types (xa_event.type). */
enum xa_event_type {
	XA_EV_MASTER_DOWN = 1,   /* master-down timer expired: no valid advert for Master_Down_Interval */
	XA_EV_PEER_CHANGED = 2,  /* backup: a new master, or its priority or interval changed */
	XA_EV_PRIO_ZERO = 3,     /* a master resigned (priority 0); a backup's timer is now the skew */
	XA_EV_PREEMPTED = 4,     /* while MASTER: a higher priority (or tie with a higher address) */
	XA_EV_LOWER_PRIO = 5,    /* while MASTER: a lower priority (RFC 9568: send an advert now) */
	XA_EV_CHECK_FAILED = 6,  /* config mismatch with a peer: dropped for auth, version or interval,
	                            or accepted with an interval / addr_count / addr_list note;
	                            at most one a second per instance */
};

/* VIP flags (xa_vip.flags). */
enum xa_vip_flags {
	XA_VIP_ANSWER = 1 << 0,  /* answer ARP / neighbour solicitations for it while MASTER */
};

#endif
