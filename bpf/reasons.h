/* reasons.h: the receive verdicts of a VRRP advert, in the order the checks run.
 *
 * This is the one place the numbers live: the Go side gets them from BTF through bpf2go
 * (loader.Reason), so renumbering here and running `make generate` is all a change needs.
 * The ladder follows keepalived's receive path (reference section 2.5) and RFC 3768/5798
 * section 7.1; pkg/vrrp's DropReason names the same checks. */
#ifndef XA_REASONS_H
#define XA_REASONS_H

enum xa_reason {
	XA_OK = 0,                  /* valid advert */
	XA_DROP_TRUNCATED,          /* shorter than the IP header(s) plus the 8-byte VRRP header */
	XA_DROP_UNKNOWN_VRID,       /* no instance for (interface, VLAN, family, VRID) */
	XA_DROP_MULTICAST_MISMATCH, /* multicast destination on a unicast instance or the reverse */
	XA_DROP_LENGTH,             /* received length != header + count * address [+ v2 auth data] */
	XA_DROP_TTL,                /* IPv4 TTL / IPv6 hop limit != 255 (multicast instances) */
	XA_DROP_VERSION,            /* version != the instance's */
	XA_DROP_AUTH,               /* v2 authentication type or password mismatch */
	XA_DROP_INTERVAL,           /* v2 interval != the instance's; v3 interval 0 */
	XA_DROP_TYPE,               /* type != 1 (advertisement) */
	XA_DROP_IP_LENGTH,          /* IP total / payload length disagrees with the VRRP length */
	XA_DROP_CHECKSUM,           /* VRRP checksum (v3 IPv4: either pseudo-header form) */
	XA_DROP_OWNER,              /* we own the addresses (priority 255) and ignore adverts */
	XA_DROP_ADDR_LIST,          /* address count or list != the instance's (XA_MODE_CHECK_ADDRS) */
	XA_REASON_MAX,
};

#endif
