// Package router is the VRRP runtime: it holds every instance of one daemon, runs their
// timers, feeds received packets through vrrp.Check and vrrp.Step, and executes the
// resulting actions through three small interfaces the daemon implements with real I/O:
// Transport (send a batch of adverts), Host (VIPs, routes, rules, GARP/NA) and Notifier
// (state changes).
//
// One owner goroutine (Run) holds all state; there is one timer for all instances (a heap),
// and the adverts due in one wake-up are sent in one Transport.Send call, so a master of
// hundreds of instances costs one sendmmsg per tick. Host and Notifier calls run in order
// on a second goroutine, so slow netlink or scripts never delay an advert.
//
// Run locks its goroutine to its OS thread and sleeps in that thread (ppoll on an eventfd,
// the next deadline as timeout; every queue write wakes it): a deadline wakes the router's
// own thread directly, at that thread's priority, instead of some runtime thread that then
// hands the goroutine over (Options.ThreadSetup may make the thread realtime). Before a
// master-down timer fires, the router polls the receive path (Options.Poll); OnMasterDown and
// OnSlowWake report late timers with the thread's wake-up latency, for the debug log.
//
// The router has its own configuration types (Config, InstanceConfig, ...), independent of
// the keepalived.conf model: the daemon maps one onto the other.
package router
