// Package daemon owns xalived's running process: it loads keepalived.conf (pkg/config), turns
// it into router instances (pkg/router), and connects the router to the host: the socket
// dataplane (pkg/vrrpsock) for adverts, netlink (pkg/netif) for VIPs, routes, rules, VMACs,
// GARP/NA and link events, notify scripts and the FIFO (pkg/notify), trackers (vrrp_script,
// track_file, track_process), health checkers (pkg/check) and IPVS (pkg/lvs) for virtual
// servers. It serves the control socket (pkg/control), writes the pid and ready files, tells
// systemd it is ready (sd_notify), and handles signals: SIGHUP reloads, SIGTERM/SIGINT stop
// gracefully, SIGUSR1/SIGUSR2 write data and stats dumps.
//
// Scheduling (sched.go): unless vrrp_rt_priority says otherwise, every thread of the daemon
// runs SCHED_RR at priority 1 when the process may, so adverts and master-down decisions stay
// on time on a busy machine (keepalived stays in the normal class by default); scripts start in
// the normal class, RLIMIT_RTTIME guards against a runaway thread.
//
// Run is the whole lifetime of the daemon; every goroutine it starts is stopped and waited for
// before it returns.
package daemon
