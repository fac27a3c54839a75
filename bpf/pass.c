//go:build ignore

/* pass.c: an XDP program that passes everything. Tests attach it to the far end of a veth pair
 * (XDP_TX frames reach a veth peer only when the peer runs XDP) and benchmarks use it as the
 * floor the responder is compared with. */
#include "kernel.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
