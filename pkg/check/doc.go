// Package check owns the health checkers of virtual servers' real servers: every keepalived
// checker (TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, SMTP_CHECK, DNS_CHECK, UDP_CHECK,
// PING_CHECK, FILE_CHECK), their up/down logic and the scheduler that runs thousands of them.
//
// It is split the usual way:
//
//   - spec.go: plain data (Spec, RealServer, VirtualServer) with keepalived's defaults; the
//     config package maps keepalived.conf onto it.
//   - fsm.go: the checker state machine, a pure function of (state, result) with keepalived's
//     rules: a checker goes DOWN after retry+1 consecutive failures spaced by delay_before_retry,
//     comes UP after one success, and starts DOWN with alpha. A real server is alive iff all its
//     checkers are up; notify_up / notify_down run on the real server's changes only.
//   - tcp.go, http.go, misc.go, smtp.go, dns.go, udp.go, ping.go, file.go: one probe each. A
//     probe gets a context whose deadline is connect_timeout (misc_timeout for MISC_CHECK) for
//     the whole exchange, so a server that accepts and never answers, trickles its response
//     (slow loris) or stalls a TLS handshake fails at that deadline.
//   - scheduler.go: one goroutine per checker sleeping on its own timer, so a slow check never
//     delays another and a check still running at its next slot is never started twice (the
//     slot is skipped and counted). Real-server changes go to the notify Dispatcher and are
//     published, coalesced per real server, on Events(); Status() is a snapshot for the status
//     JSON. Nothing here touches IPVS: the lvs reconciler consumes Events.
//
// # Differences from keepalived, behind keywords of ours
//
//   - rise N (default 1 = keepalived): a DOWN checker needs N consecutive successes to come back
//     UP, to damp a flapping backend (pain point: flapping real servers).
//   - Every url of HTTP_GET/SSL_GET is checked on every run (keepalived checks one url per
//     delay_loop while recovering unless fast_recovery); fast_recovery is therefore implied.
//   - misc_dynamic weights are recomputed from the last exit codes, never accumulated, so no
//     weight leak across flaps.
//   - MISC_CHECK scripts run in their own process group; at misc_timeout the group gets SIGTERM
//     and SIGKILL after a grace period, and the check fails at the timeout (not after the kill).
package check
