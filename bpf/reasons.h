/* reasons.h: the receive verdicts of a VRRP advert: pkg/vrrp's DropReason, same numbers, same
 * names (pkg/vrrp/RECEIVE.md is the normative ladder; loader's tests pin the two together).
 *
 * This is the one place the numbers live on the C side: the Go side gets them from BTF through
 * bpf2go, so renumbering here and running `make generate` is all a change needs. The numbers
 * index the counter arrays: a drop counts in xa_counters.adverts[reason], a note (a finding on
 * an accepted advert) in xa_counters.notes[reason]. */
#ifndef XA_REASONS_H
#define XA_REASONS_H

enum xa_reason {
	XA_ACCEPT = 0,        /* accept: every rung passed */
	XA_TRUNCATED = 1,     /* truncated: < 8 bytes after the IP header, or fewer than the IP length */
	XA_UNKNOWN_VRID = 2,  /* unknown_vrid: no instance (interface, VLAN, family, VRID) */
	XA_STATE = 3,         /* state: instance not BACKUP or MASTER (INIT, FAULT) */
	XA_DST = 4,           /* dst: multicast destination on a unicast instance, or the reverse */
	XA_LENGTH = 5,        /* length: IP length != 8 + count * addrlen (+ 8 auth in v2, configured) */
	XA_TTL = 6,           /* ttl: multicast TTL / hop limit != 255, unicast peer TTL outside bounds */
	XA_VERSION = 7,       /* version: != configured */
	XA_AUTH = 8,          /* auth: v2 type unknown / mismatching / AH, or wrong password */
	XA_INTERVAL = 9,      /* interval: v2 != configured, v3 == 0; note: v3 != configured */
	XA_TYPE = 10,         /* type: != 1 (advertisement) */
	XA_CHECKSUM = 11,     /* checksum: no accepted form verifies */
	XA_OWNER = 12,        /* owner: owner_ignore_adverts and effective priority 255 */
	XA_ADDR_COUNT = 13,   /* addr_count (note only): count != configured VIPs */
	XA_ADDR_LIST = 14,    /* addr_list (note only): same count, other addresses */
	XA_UNICAST_SRC = 15,  /* unicast_src: check_unicast_src and the source is no configured peer */
	XA_REASON_MAX,
};

#endif
