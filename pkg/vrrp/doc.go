// Package vrrp is the pure VRRP protocol: the packet codec, the receive checks, the
// election state machine, trackers and sync-group rules. It does no I/O and reads no clock:
// callers pass bytes and time in and get bytes, verdicts and actions out.
//
// Standards implemented:
//   - RFC 3768: VRRPv2 (IPv4 only). Authentication types 1 (simple password, "PASS") is kept
//     from RFC 2338 for keepalived compatibility; AH (type 2) is recognised but not supported.
//   - RFC 5798 and RFC 9568: VRRPv3 for IPv4 and IPv6. The IPv4 checksum is computed either
//     with the pseudo-header (RFC 5798, keepalived's default) or over the message only
//     (RFC 9568 §5.2.8, keepalived's v3_checksum_as_v2); both are accepted on receive.
//     IPv6 always uses the RFC 8200 pseudo-header.
//   - RFC 1071: the Internet checksum.
//
// The receive ladder (order, reason names, drop or count) is written down in RECEIVE.md; the
// XDP program in bpf/ implements the same ladder and a differential test compares both.
//
// Semantics follow keepalived 2.2.7 where it interoperates and RFC 9568 where keepalived's
// behaviour causes dual masters (VIP list mismatch is counted, not dropped).
package vrrp
