/* neigh.h: ARP and IPv6 neighbour solicitation responder for the VIPs of MASTER instances. */
#ifndef XA_NEIGH_H
#define XA_NEIGH_H

#include "maps.h"
#include "parse.h"

/* Decides what to do with a request for a VIP: 1 answer, 0 pass, -1 drop (lease ran out). */
XA_INLINE int vip_verdict(const struct xa_vip *vip, struct xa_counters **cp)
{
	__u32 slot = vip->slot;
	struct xa_inst_state *st = bpf_map_lookup_elem(&states, &slot);
	*cp = bpf_map_lookup_elem(&counters, &slot);
	if (!st || st->state != XA_STATE_MASTER || !(vip->flags & XA_VIP_ANSWER))
		return 0; /* BACKUP and others: the kernel does not hold the VIP, let it decide */
	/* The coarse clock (one tick behind CLOCK_MONOTONIC at most, so a lease may last up to a
	 * tick longer) costs a third of bpf_ktime_get_ns on this path (BenchmarkARP). */
	if (bpf_ktime_get_coarse_ns() >= st->lease_until_ns) {
		if (*cp)
			(*cp)->lease_drops++;
		return -1; /* a control plane that stopped renewing must not keep the address */
	}
	return 1;
}

/* The vips4 entry for (addr, ifindex, vlan), through this CPU's cache (xa_vip4_cache). The
 * generation is read before the hash map, so an entry filled from a map that user space
 * changes meanwhile carries the old generation and is never used. */
XA_INLINE struct xa_vip *lookup_vip4(__u32 addr, __u32 ifindex, __u16 vlan)
{
	__u32 zero = 0;
	__u32 *gen = bpf_map_lookup_elem(&vip_gen, &zero);
	if (!gen)
		return NULL;
	__u32 g = *gen;
	__u32 idx = ((addr ^ (ifindex * 0x85ebca6bU) ^ ((__u32)vlan << 16)) * 0x9e3779b1U) >>
		    (32 - VIP4_CACHE_BITS);
	struct xa_vip4_cache *e = bpf_map_lookup_elem(&vip4_cache, &idx);
	if (!e)
		return NULL;
	if (e->gen == g && *(__u32 *)e->addr == addr && e->ifindex == ifindex && e->vlan == vlan)
		return &e->vip;
	struct xa_vip4_key k = { .ifindex = ifindex, .vlan = vlan };
	*(__u32 *)k.addr = addr;
	struct xa_vip *vip = bpf_map_lookup_elem(&vips4, &k);
	if (!vip)
		return NULL;
	e->gen = g;
	e->ifindex = ifindex;
	e->vlan = vlan;
	*(__u32 *)e->addr = addr;
	e->vip = *vip;
	return &e->vip;
}

/* Stores a MAC as a word and a half-word. Packet fields here are byte arrays, so a memcpy of
 * a MAC compiles to six byte loads and stores; x86 and arm64 access packet words at any
 * alignment (the verifier allows it where the architecture does), so the reply is built
 * with word moves. */
XA_INLINE void mac_copy(__u8 *dst, __u32 w, __u16 h)
{
	*(__u32 *)dst = w;
	*(__u16 *)(dst + 4) = h;
}

XA_INLINE int handle_arp(struct xdp_md *ctx, const struct xa_l2 *l2)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct xa_eth *eth = data;
	struct xa_arp *arp = data + (l2->l3off & 0xff);
	if ((void *)(arp + 1) > end || (void *)(eth + 1) > end)
		return XDP_PASS;
	/* htype 1, ptype IPv4, hlen 6, plen 4, op request: two word compares */
	__u32 *w = (__u32 *)arp;
	if (w[0] != bpf_htonl(0x00010800) || w[1] != bpf_htonl(0x06040001))
		return XDP_PASS;
	__u32 spa = *(__u32 *)arp->spa, tpa = *(__u32 *)arp->tpa;
	if (spa == tpa)
		return XDP_PASS; /* gratuitous ARP: an announcement, not a question */

	struct xa_vip *vip = lookup_vip4(tpa, ctx->ingress_ifindex, l2->vlan);
	if (!vip)
		return XDP_PASS;
	struct xa_counters *c;
	int v = vip_verdict(vip, &c);
	if (v == 0)
		return XDP_PASS;
	if (v < 0)
		return XDP_DROP;

	/* The reply in place: Ethernet to the asker from the reply MAC, opcode, then sender = the
	 * reply MAC and the VIP, target = the asker (hardware and protocol address). */
	__u32 mac_w = *(__u32 *)vip->mac;
	__u16 mac_h = *(__u16 *)(vip->mac + 4);
	__u32 src_w = *(__u32 *)eth->src;
	__u16 src_h = *(__u16 *)(eth->src + 4);
	__u32 sha_w = *(__u32 *)arp->sha;
	__u16 sha_h = *(__u16 *)(arp->sha + 4);
	mac_copy(eth->dst, src_w, src_h);
	mac_copy(eth->src, mac_w, mac_h);
	arp->op = bpf_htons(ARP_REPLY);
	mac_copy(arp->sha, mac_w, mac_h);
	*(__u32 *)arp->spa = tpa;
	mac_copy(arp->tha, sha_w, sha_h);
	*(__u32 *)arp->tpa = spa;
	if (c)
		c->arp_replies++;
	return XDP_TX;
}

XA_INLINE int handle_ns(struct xdp_md *ctx, const struct xa_l2 *l2)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 l3off = l2->l3off & 0xff;
	struct xa_eth *eth = data;
	struct xa_ip6 *ip = data + l3off;
	if ((void *)(eth + 1) > end || (void *)(ip + 1) > end)
		return XDP_PASS;
	if (ip->nexthdr != IPPROTO_ICMPV6 || ip->hop_limit != 255)
		return XDP_PASS;
	/* type, code, checksum, reserved, target */
	__u8 *icmp = (void *)(ip + 1);
	if ((void *)(icmp + 24) > end)
		return XDP_PASS;
	if (icmp[0] != ND_NS || icmp[1] != 0)
		return XDP_PASS;

	struct xa_vip_key k = {
		.ifindex = ctx->ingress_ifindex, .vlan = l2->vlan, .family = AF_INET6,
	};
	__builtin_memcpy(k.addr, icmp + 8, 16);
	struct xa_vip *vip = bpf_map_lookup_elem(&vips, &k);
	if (!vip)
		return XDP_PASS;
	struct xa_counters *c;
	int v = vip_verdict(vip, &c);
	if (v == 0)
		return XDP_PASS;
	if (v < 0)
		return XDP_DROP;

	__u8 mac[ETH_ALEN], req_mac[ETH_ALEN], dst[16];
	__builtin_memcpy(mac, vip->mac, ETH_ALEN);
	__builtin_memcpy(req_mac, eth->src, ETH_ALEN);
	__builtin_memcpy(dst, ip->saddr, 16);
	__u32 flags = ND_NA_SOLICITED | ND_NA_OVERRIDE;
	__u64 unspec = 0;
#pragma unroll
	for (int i = 0; i < 16; i++)
		unspec |= dst[i];
	if (!unspec) {
		/* Duplicate address detection: answer all nodes, not solicited (RFC 4861 7.2.4). */
		__builtin_memset(dst, 0, 16);
		dst[0] = 0xff, dst[1] = 0x02, dst[15] = 0x01;
		req_mac[0] = 0x33, req_mac[1] = 0x33, req_mac[2] = 0, req_mac[3] = 0, req_mac[4] = 0,
		req_mac[5] = 1;
		flags = ND_NA_OVERRIDE;
	}

	/* The reply is exactly L2 + IPv6 + NA with one target link-layer address option. */
	int want = l3off + sizeof(struct xa_ip6) + sizeof(struct xa_nd);
	int delta = want - (int)(end - data);
	if (delta && bpf_xdp_adjust_tail(ctx, delta))
		return XDP_PASS;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	ip = data + l3off;
	struct xa_nd *nd = (void *)(ip + 1);
	if ((void *)(nd + 1) > end || (void *)(eth + 1) > end)
		return XDP_DROP; /* cannot happen: we just sized it */

	__builtin_memcpy(eth->dst, req_mac, ETH_ALEN);
	__builtin_memcpy(eth->src, mac, ETH_ALEN);
	ip->ver_tc_flow = bpf_htonl(6 << 28);
	ip->payload_len = bpf_htons(sizeof(*nd));
	ip->nexthdr = IPPROTO_ICMPV6;
	ip->hop_limit = 255;
	__builtin_memcpy(ip->saddr, k.addr, 16);
	__builtin_memcpy(ip->daddr, dst, 16);
	nd->type = ND_NA;
	nd->code = 0;
	nd->check = 0;
	nd->flags = bpf_htonl(flags);
	__builtin_memcpy(nd->target, k.addr, 16);
	nd->opt_type = ND_OPT_TLLA;
	nd->opt_len = 1;
	__builtin_memcpy(nd->opt_mac, mac, ETH_ALEN);

	__u64 sum = csum_addr16(k.addr) + csum_addr16(dst) + bpf_htonl(sizeof(*nd)) +
		    bpf_htonl(IPPROTO_ICMPV6);
	__u32 *w = (__u32 *)nd;
#pragma unroll
	for (int i = 0; i < (int)(sizeof(*nd) / 4); i++)
		sum += w[i];
	nd->check = ~csum_fold64(sum);
	if (c)
		c->na_replies++;
	return XDP_TX;
}

#endif
