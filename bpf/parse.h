/* parse.h: wire headers and bounds-checked parsing helpers. Header structs are declared here
 * (not taken from kernel UAPI headers) so the build needs no per-architecture include path. */
#ifndef XA_PARSE_H
#define XA_PARSE_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "kernel.h"
#include "consts.h"

#define XA_INLINE static __always_inline

struct xa_eth {
	__u8 dst[ETH_ALEN];
	__u8 src[ETH_ALEN];
	__be16 proto;
};

struct xa_vlan {
	__be16 tci;
	__be16 proto;
};

struct xa_ip4 {
	__u8 ver_ihl;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__u16 check;
	__u8 saddr[4];
	__u8 daddr[4];
};

struct xa_ip6 {
	__be32 ver_tc_flow;
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct xa_arp {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 op;
	__u8 sha[ETH_ALEN];
	__u8 spa[4];
	__u8 tha[ETH_ALEN];
	__u8 tpa[4];
};

struct xa_vrrp {
	__u8 ver_type;
	__u8 vrid;
	__u8 priority;
	__u8 count;
	__u8 auth_or_rsvd;    /* v2: auth type; v3: 4 reserved bits + high 4 bits of the interval */
	__u8 interval_lo;     /* v2: interval in seconds; v3: low 8 bits of the interval */
	__u16 check;
};

/* Neighbour solicitation / advertisement with one link-layer address option. */
struct xa_nd {
	__u8 type;
	__u8 code;
	__u16 check;
	__be32 flags;
	__u8 target[16];
	__u8 opt_type;
	__u8 opt_len;
	__u8 opt_mac[ETH_ALEN];
};

#define ND_NS 135
#define ND_NA 136
#define ND_OPT_TLLA 2
#define ND_NA_SOLICITED 0x40000000
#define ND_NA_OVERRIDE 0x20000000
#define ARP_REQUEST 1
#define ARP_REPLY 2

/* L2 result: where L3 starts, its EtherType and the VLAN ID (0 untagged). */
struct xa_l2 {
	__u32 l3off;
	__u16 proto;   /* host order */
	__u16 vlan;
};

/* Parses Ethernet and at most one 802.1Q tag (QinQ frames are not VRRP for us). Returns 0, or -1 when truncated. */
XA_INLINE int parse_l2(void *data, void *end, struct xa_l2 *l2)
{
	struct xa_eth *eth = data;
	if ((void *)(eth + 1) > end)
		return -1;
	l2->l3off = sizeof(*eth);
	l2->proto = bpf_ntohs(eth->proto);
	l2->vlan = 0;
	if (l2->proto == ETH_P_8021Q) {
		struct xa_vlan *v = (void *)(eth + 1);
		if ((void *)(v + 1) > end)
			return -1;
		l2->vlan = bpf_ntohs(v->tci) & 0x0fff;
		l2->proto = bpf_ntohs(v->proto);
		l2->l3off += sizeof(*v);
	}
	return 0;
}

/* Folds a 64-bit one's complement accumulator to 16 bits. */
XA_INLINE __u16 csum_fold64(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* splitmix64's finaliser: a cheap 64-bit mix for the address-list hash. */
XA_INLINE __u64 mix64(__u64 x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

struct csum_loop {
	void *data;
	void *end;
	__u32 off;        /* packet offset of the message */
	__u32 addr_words; /* address list length in 32-bit words, from word 2 */
	__u32 last;       /* word index within an address that completes it (0 or 3) */
	__u32 short_pkt;  /* set when the packet ended early */
	__u64 sum;
	__u64 hash;
	__u64 part;
};

XA_INLINE long csum_word(__u32 i, struct csum_loop *c)
{
	__u32 o = (c->off + i * 4) & XA_PAYLOAD_MASK;
	__u32 *p = c->data + o;
	if ((void *)(p + 1) > c->end) {
		c->short_pkt = 1;
		return 1;
	}
	__u32 w = *p;
	c->sum += w;
	__u32 j = i - 2; /* word index in the address list */
	if (i >= 2 && j < c->addr_words) {
		c->part = mix64(c->part ^ w);
		if ((j & c->last) == c->last) {
			c->hash += c->part;
			c->part = 0;
		}
	}
	return 0;
}

static long csum_step(__u32 i, struct csum_loop *c)
{
	return csum_word(i, c);
}

/* Messages up to this many 32-bit words are summed by an unrolled loop instead of bpf_loop
 * (a call per word): v2 or v3 over IPv4 with up to 4 addresses, v3 over IPv6 with one. */
#define CSUM_INLINE_WORDS 8

/* One pass over a VRRP message of len bytes (a multiple of 4, at most VRRP_MAX_LEN) at packet
 * offset off: adds it to a one's complement accumulator (memory order) and hashes the
 * address list (addr_bytes from offset 8, alen bytes each) into an order-independent sum of
 * per-address mixes, which user space computes the same way for the configured VIPs
 * (loader.addrListHash). bpf_loop keeps the verifier from walking every iteration.
 * Returns -1 if the packet is shorter. */
XA_INLINE int csum_packet(struct xdp_md *ctx, __u32 off, __u32 len, __u32 addr_bytes,
			  __u32 alen, __u64 *sum, __u64 *addr_hash)
{
	struct csum_loop c = {
		.data = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
		.off = off,
		.addr_words = addr_bytes / 4,
		.last = alen / 4 - 1,
	};
	__u32 words = len / 4;
	if (words > VRRP_MAX_LEN / 4)
		return -1;
	if (words <= CSUM_INLINE_WORDS) {
#pragma unroll
		for (__u32 i = 0; i < CSUM_INLINE_WORDS; i++)
			if (i < words && csum_word(i, &c))
				break;
	} else {
		bpf_loop(words, csum_step, &c, 0);
	}
	if (c.short_pkt)
		return -1;
	*sum += c.sum;
	*addr_hash = c.hash;
	return 0;
}

/* Sum of a 16-byte address in memory order. */
XA_INLINE __u64 csum_addr16(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;
	return (__u64)w[0] + w[1] + w[2] + w[3];
}

XA_INLINE int addr_eq(const __u8 *a, const __u8 *b, int len)
{
	__u8 diff = 0;
#pragma unroll
	for (int i = 0; i < 16; i++)
		if (i < len)
			diff |= a[i] ^ b[i];
	return diff == 0;
}

/* Unsigned compare in network byte order (RFC 9568 tie-break): <0, 0, >0. */
XA_INLINE int addr_cmp(const __u8 *a, const __u8 *b, int len)
{
	for (int i = 0; i < 16; i++) {
		if (i >= len)
			break;
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	}
	return 0;
}

XA_INLINE void copy_bytes(__u8 *dst, const __u8 *src, int len)
{
#pragma unroll
	for (int i = 0; i < 16; i++)
		if (i < len)
			dst[i] = src[i];
}

#endif
