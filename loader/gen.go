package loader

// The BPF objects are built with Debian 12's clang-14 and libbpf-dev 1.1 headers (make deps
// installs them from scripts/deps/xdp.txt) and committed for both byte orders; `make generate`
// rebuilds them byte for byte and `make check-generate` fails when the committed ones are stale.
// -mcpu=v3 (kernel 5.12+ for its atomics): the master-down timer needs fetching atomics, which
// are full barriers (bpf/vrrp.h master_down_cb).

//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror -mcpu=v3" -type xa_inst_key -type xa_inst_config -type xa_if_key -type xa_if -type xa_inst_state -type xa_peer -type xa_sched -type xa_counters -type xa_event -type xa_vip_key -type xa_vip4_key -type xa_vip4_cache -type xa_vip -type xa_upeer_key -type xa_upeer -type xa_reason -type xa_event_type -type xa_state -type xa_mode -type xa_vip_flags xdp ../bpf/xdp.c
