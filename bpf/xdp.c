//go:build ignore

/* xdp.c: the XDP entry attached to every VRRP interface. VRRP adverts go through the receive
 * ladder (vrrp.h), ARP requests and neighbour solicitations for a MASTER's VIPs are answered
 * (neigh.h), everything else passes untouched after a few loads. */
#include "kernel.h"
#include "types.h"
#include "maps.h"
#include "parse.h"
#include "vrrp.h"
#include "neigh.h"

char LICENSE[] SEC("license") = "GPL";

/* Referenced so their BTF reaches bpf2go (-type). */
const struct xa_event *unused_event __attribute__((unused));
const enum xa_reason *unused_reason __attribute__((unused));
const enum xa_event_type *unused_event_type __attribute__((unused));
const enum xa_state *unused_state __attribute__((unused));
const enum xa_mode *unused_mode __attribute__((unused));
const enum xa_vip_flags *unused_vip_flags __attribute__((unused));

SEC("xdp")
int xalived_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct xa_l2 l2;
	if (parse_l2(data, end, &l2) < 0)
		return XDP_PASS;

	struct xa_adv a;
	int r;
	switch (l2.proto) {
	case ETH_P_IP:
		r = parse_vrrp4(data, end, l2.l3off, &a);
		break;
	case ETH_P_IPV6: {
		struct xa_ip6 *ip = data + l2.l3off;
		if ((void *)(ip + 1) > end)
			return XDP_PASS;
		if (ip->nexthdr == IPPROTO_ICMPV6)
			return handle_ns(ctx, &l2);
		r = parse_vrrp6(data, end, l2.l3off, &a);
		break;
	}
	case ETH_P_ARP:
		return handle_arp(ctx, &l2);
	default:
		return XDP_PASS;
	}
	if (r > 0)
		return XDP_PASS;
	if (r < 0) {
		count_global(XA_TRUNCATED);
		return XDP_PASS;
	}
	return handle_vrrp(ctx, &l2, &a);
}
