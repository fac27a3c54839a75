// Package vrrpsock is the raw-socket VRRP dataplane: it receives and sends IP protocol 112
// packets for IPv4 and IPv6, multicast and unicast, and nothing else.
//
// It owns the sockets and the IP layer around VRRP: joining the multicast group on an
// interface, reading the TTL / hop limit, source and destination of each packet, and writing
// adverts with the header fields RFC 3768 and RFC 5798 require (TTL/hop limit 255, TOS/traffic
// class 0xC0, DF off). It does not look inside the VRRP payload: validation and checksums belong
// to pkg/vrrp. Malformed IP headers are counted and dropped here.
//
// A Receiver is bound to one interface and one family and hands every packet to a callback.
// A Sender owns one socket per family and sends a whole batch of adverts (every instance due in
// one tick) with one sendmmsg(2) call per family. Sockets live in the network namespace of the
// thread that created them.
package vrrpsock
