// Package check owns the health checkers of virtual servers' real servers: every keepalived
// checker (TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, SMTP_CHECK, DNS_CHECK, UDP_CHECK,
// PING_CHECK, FILE_CHECK), their up/down logic, virtual-server quorum, and the scheduler that
// runs thousands of them. It never touches IPVS: the lvs reconciler consumes Events.
//
// It is split the usual way:
//
//   - spec.go: plain data (Spec, RealServer, VirtualServer) with keepalived's defaults
//     (retry 1, DNS 3, MISC 0; delay_before_retry 1 s, HTTP/SSL 3 s, DNS delay_loop;
//     connect_timeout 5 s; delay_loop 60 s; warmup = delay_loop). fromconfig.go maps
//     pkg/config's model onto it (FromConfig).
//   - fsm.go: the checker state machine, a pure function of (state, outcome) with keepalived's
//     rules: a checker goes DOWN after retry+1 consecutive failures spaced by delay_before_retry,
//     comes UP after one success, and starts DOWN with alpha. A real server is alive iff all its
//     checkers are up; its weight is the configured one plus dynamic deltas (misc_dynamic,
//     dynamic FILE_CHECK). quorum.go: keepalived's quorum/hysteresis rule (QuorumStep).
//   - tcp.go, http.go, misc.go, smtp.go, dns.go, udp.go, ping.go, file.go: one probe each. A
//     probe gets a context whose deadline is connect_timeout (misc_timeout for MISC_CHECK) for
//     the whole exchange, so a server that accepts and never answers, trickles its response
//     (slow loris) or stalls a TLS handshake fails at that deadline. An HTTP_GET / SSL_GET that
//     is DOWN checks one url per delay_loop until all have passed, unless fast_recovery, as
//     keepalived does; an UP one checks every url on every run. dial.go applies bindto,
//     bind_port, bind_if (SO_BINDTODEVICE) and fwmark (SO_MARK) for net.Dialer (SMTP, DNS,
//     UDP); rawdial.go and rawsys.go do the same for TCP_CHECK, HTTP_GET and SSL_GET on a
//     socket of their own (raw non-blocking system calls, the runtime poller only when a
//     probe has to wait, no timer unless it waits), and httpwire.go is their HTTP/1.x
//     exchange: a request built once per url, the response read through one pooled buffer
//     (Content-Length, chunked or until close; MD5 only when a digest is configured; the
//     body is read to its end, at most 64 MiB, either way).
//   - scheduler.go: one goroutine per checker sleeping on its own timer, so a slow check never
//     delays another; runs keep a fixed delay_loop grid, retries follow a failure by
//     delay_before_retry, and a check still running at its next slot is never started twice
//     (the slot is skipped and counted). Real-server changes go to the notify Dispatcher
//     (notify_up / notify_down, lvs FIFO, mail; then quorum_up / quorum_down) and are published,
//     coalesced per real server, on Events (the first event of each is its initial state);
//     Status() is the snapshot for the status JSON; Inherit carries states across a reload;
//     ha_suspend pauses a virtual server's checkers while Config.AddressLocal says its address
//     is not on this host.
//   - http.go also has GenHash, the `genhash` helper (`xalivectl genhash URL`).
//
// Benchmarks: BenchmarkScheduler10k (host: 10,000 real servers, lateness and CPU; it runs the
// net.Dialer / net/http probes of bench_baseline_test.go first as the baseline, ratio
// raw/std-cpu), BenchmarkProbeCost (CPU, bytes and allocations of one probe, ours and the
// baseline's) and
// BenchmarkVMCheckersVsKeepalived (vmtest guest: the same configuration through xalived's
// checkers and keepalived -C side by side, CPU per check and the ratio; `go run ./vmtest
// -run '^$' -bench CheckersVsKeepalived`).
//
// # Differences from keepalived
//
// Behind keywords of ours (KEYWORDS.md lists them, with the checker pain points of keepalived
// and what xalived does about each):
//
//   - `rise N` in a checker block, Common.Rise (default 1 = keepalived): a DOWN checker needs N
//     consecutive successes to come back UP, to damp a flapping backend (pain point 18).
//
// By design:
//
//   - misc_dynamic weights are recomputed from the last exit code, never accumulated (the
//     weight leak of pain point 19 cannot happen).
//   - MISC_CHECK scripts run in their own process group. At misc_timeout the check fails at once;
//     the group gets SIGTERM and SIGKILL one second later, and the next run waits for the kill,
//     so scripts never pile up.
//   - A reload (Inherit) keeps a DOWN real server DOWN instead of re-adding it (pain point 8).
//   - HTTP regex uses Go's RE2 syntax, not PCRE2; options RE2 cannot express are refused.
//   - PING_CHECK uses an unprivileged ping socket when net.ipv4.ping_group_range allows it and
//     a raw socket otherwise; it never changes the sysctl (keepalived widens it).
//   - FILE_CHECK reads its track_file every delay_loop (keepalived watches it with inotify). With
//     weight 0 it is UP iff the value is 0 (reverse: non-zero); with a weight it stays UP and, when
//     dynamic, adds value x weight to the real server's weight.
//   - SSL_GET's tls_compliant is accepted; Go's TLS client always behaves compliantly, and
//     without it a body that ends without close_notify is still accepted, as keepalived does.
//   - BFD_CHECK is not run (FromConfig warns and leaves it out).
package check
