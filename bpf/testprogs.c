//go:build ignore

/* testprogs.c: helper programs for loader's tests and benchmarks (bpf2go output *_test.go).
 *   xdp_pass       passes everything: on a veth peer it makes XDP_TX frames arrive, and it is
 *                  the program-cost floor of the benchmarks
 *   xdp_tx         returns XDP_TX: a live-frames (BPF_PROG_TEST_RUN) packet generator, and the
 *                  floor of a responder that transmits
 *   xdp_gen        a live-frames (BPF_PROG_TEST_RUN) generator: writes the frame in gen_frame
 *                  and transmits it. Live-frames mode recycles pages without restoring their
 *                  contents, and a responder behind a veth rewrites that very page, so the
 *                  generator restores the request on every run.
 *   xdp_reflect    turns an ARP request into a reply by its opcode alone and transmits it: the
 *                  ceiling of the reply-rate rig (no lookup, no rewrite)
 *   xdp_count_arp  counts ARP replies, then passes: measures reply rates on the asking side
 *   xdp_sink_arp   counts ARP replies and drops them (so the asking side's stack is not what a
 *                  reply-rate benchmark measures), passes everything else */
#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

/* ARP replies seen by xdp_count_arp (per CPU, one entry). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} arp_replies SEC(".maps");

#define GEN_LEN 42 /* an ARP request over Ethernet */

/* The frame xdp_gen sends (one entry, written by the benchmark). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[GEN_LEN]);
} gen_frame SEC(".maps");

SEC("xdp")
int xdp_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	__u8 *tmpl = bpf_map_lookup_elem(&gen_frame, &zero);
	if (!tmpl || data + GEN_LEN > end)
		return XDP_DROP;
	__builtin_memcpy(data, tmpl, GEN_LEN);
	return XDP_TX;
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int xdp_tx(struct xdp_md *ctx)
{
	return XDP_TX;
}

SEC("xdp")
int xdp_reflect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u8 *p = data;
	if ((void *)(p + 22) > end)
		return XDP_PASS;
	p[21] = 2; /* ARP opcode: reply */
	return XDP_TX;
}

static __always_inline int count_arp(struct xdp_md *ctx, int verdict)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u8 *p = data;
	if ((void *)(p + 22) > end)
		return XDP_PASS;
	/* EtherType ARP at 12, opcode 2 (reply) at 20 */
	if (p[12] == 0x08 && p[13] == 0x06 && p[20] == 0 && p[21] == 2) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&arp_replies, &zero);
		if (n)
			(*n)++;
		return verdict;
	}
	return XDP_PASS;
}

SEC("xdp")
int xdp_count_arp(struct xdp_md *ctx)
{
	return count_arp(ctx, XDP_PASS);
}

SEC("xdp")
int xdp_sink_arp(struct xdp_md *ctx)
{
	return count_arp(ctx, XDP_DROP);
}
