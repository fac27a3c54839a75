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
// The router has its own configuration types (Config, InstanceConfig, ...), independent of
// the keepalived.conf model: the daemon maps one onto the other.
package router
