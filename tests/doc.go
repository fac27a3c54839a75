// Package tests holds xalived's network-namespace integration tests: xalived against xalived and
// against Debian's keepalived 2.2.7, on a shared L2 segment (a bridge in its own namespace) with
// real adverts, real ARP/NA, real signals, and a client namespace that pings the virtual address
// and records the longest gap in its replies.
//
// The harness builds xalived and xalivectl once per test binary. Every namespace, link and
// process a test creates is removed when the test ends, also when it fails.
package tests
