/* vrrp.h: the advert receive ladder (same checks, same order as pkg/vrrp), the peer record,
 * the master-down timer and the events. */
#ifndef XA_VRRP_H
#define XA_VRRP_H

#include "maps.h"
#include "parse.h"

/* Set by the loader before load: 1 when the daemon also reads adverts from a raw socket, so
 * adverts of known instances are passed on; 0 when XDP consumes them (XDP_DROP). */
volatile const __u8 cfg_socket_path = 0;

/* Where a VRRP candidate sits in the frame, from the IP parse (pkg/vrrp's Meta + payload). */
struct xa_adv {
	__u32 vrrp_off;  /* frame offset of the VRRP header */
	__u32 rx_len;    /* bytes from the VRRP header to the end of the frame */
	__u32 decl_len;  /* VRRP length claimed by the IP header(s); 0: unknown, use rx_len */
	__u8 family;
	__u8 ttl;
	__u8 mcast;      /* destination is a multicast address */
	__u8 vrid;
	__u8 src[16];
	__u8 dst[16];
};

/* 0: a VRRP candidate filled into a; 1: not VRRP (malformed IP, other protocol); -1: VRRP
 * with fewer than 8 bytes after the IP header (rung 1, truncated). Mirrors vrrp.ParseIPv4. */
XA_INLINE int parse_vrrp4(void *data, void *end, __u32 l3off, struct xa_adv *a)
{
	struct xa_ip4 *ip = data + l3off;
	if ((void *)(ip + 1) > end)
		return 1;
	if ((ip->ver_ihl >> 4) != 4)
		return 1;
	__u32 ihl = (ip->ver_ihl & 0x0f) * 4;
	__u32 tot = bpf_ntohs(ip->tot_len);
	if (ihl < sizeof(*ip) || (void *)ip + ihl > end || tot < ihl)
		return 1;
	if (ip->protocol != IPPROTO_VRRP)
		return 1;
	a->vrrp_off = l3off + ihl;
	struct xa_vrrp *v = data + a->vrrp_off;
	if ((void *)(v + 1) > end)
		return -1;
	a->family = AF_INET;
	a->ttl = ip->ttl;
	a->vrid = v->vrid;
	a->rx_len = end - (void *)v;
	a->decl_len = tot - ihl;
	a->mcast = (ip->daddr[0] & 0xf0) == 0xe0;
	__builtin_memset(a->src, 0, sizeof(a->src));
	__builtin_memset(a->dst, 0, sizeof(a->dst));
	__builtin_memcpy(a->src, ip->saddr, 4);
	__builtin_memcpy(a->dst, ip->daddr, 4);
	return 0;
}

/* As parse_vrrp4 for IPv6, mirroring vrrp.ParseIPv6: skips up to MAX_IPV6_EXT hop-by-hop and
 * destination options headers; any other next header (routing, fragment, AH, ESP) or a longer
 * chain means "not VRRP for us" and the frame passes untouched. */
XA_INLINE int parse_vrrp6(void *data, void *end, __u32 l3off, struct xa_adv *a)
{
	struct xa_ip6 *ip = data + l3off;
	if ((void *)(ip + 1) > end)
		return 1;
	if ((*(__u8 *)ip >> 4) != 6)
		return 1;
	__u8 nh = ip->nexthdr;
	__u32 len = bpf_ntohs(ip->payload_len);
	__u32 off = l3off + sizeof(*ip);
#pragma unroll
	for (int i = 0; i < MAX_IPV6_EXT; i++) {
		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_DSTOPTS)
			break;
		if (off > XA_HDR_MASK)
			return 1;
		__u8 *h = data + (off & XA_HDR_MASK);
		if ((void *)(h + 8) > end)
			return 1;
		__u32 n = (h[1] + 1) * 8;
		if ((void *)h + n > end || len < n)
			return 1;
		nh = h[0];
		off = (off & XA_HDR_MASK) + n;
		len -= n;
	}
	if (nh != IPPROTO_VRRP || off > XA_HDR_MASK)
		return 1;
	off &= XA_HDR_MASK;
	struct xa_vrrp *v = data + off;
	if ((void *)(v + 1) > end)
		return -1;
	a->vrrp_off = off;
	a->family = AF_INET6;
	a->ttl = ip->hop_limit;
	a->vrid = v->vrid;
	a->rx_len = end - (void *)v;
	a->decl_len = len;
	a->mcast = ip->daddr[0] == 0xff;
	__builtin_memcpy(a->src, ip->saddr, 16);
	__builtin_memcpy(a->dst, ip->daddr, 16);
	return 0;
}

XA_INLINE __u16 vrrp_interval(const struct xa_vrrp *v, __u8 version)
{
	if (version == 2)
		return v->interval_lo;
	return ((__u16)(v->auth_or_rsvd & 0x0f) << 8) | v->interval_lo;
}

XA_INLINE int is_active(const struct xa_inst_state *st)
{
	return st && (st->state == XA_STATE_BACKUP || st->state == XA_STATE_MASTER);
}

/* The receive ladder (pkg/vrrp/RECEIVE.md rungs 3-15; rungs 1-2 are in the parse and the
 * instance lookup): returns XA_ACCEPT or the first failing rung's reason, and the notes
 * (bit 1 << reason) of an accepted advert. */
XA_INLINE __u32 check_advert(struct xdp_md *ctx, const struct xa_adv *a,
			     __u32 slot, const struct xa_inst_config *cfg,
			     const struct xa_inst_state *st, __u32 *notes)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 voff = a->vrrp_off & XA_HDR_MASK;
	struct xa_vrrp *v = data + voff;
	if ((void *)(v + 1) > end)
		return XA_TRUNCATED;
	__u32 alen = a->family == AF_INET ? 4 : 16;
	int unicast = (cfg->mode & XA_MODE_UNICAST) != 0;
	*notes = 0;

	/* 3. state */
	if (!is_active(st))
		return XA_STATE;
	/* 4. dst, IPv6 instances at this rung */
	if (a->family == AF_INET6 && unicast == a->mcast)
		return XA_DST;
	/* 5. length with the configured version, then truncated */
	__u32 count = v->count;
	__u32 n = a->decl_len ? a->decl_len : a->rx_len;
	__u32 expected = VRRP_HDR_LEN + count * alen + (cfg->version == 2 ? VRRP_AUTH_LEN : 0);
	if (n != expected)
		return XA_LENGTH;
	if (a->rx_len < n)
		return XA_TRUNCATED;
	/* 6. ttl, multicast instances */
	if (!unicast && a->ttl != VRRP_TTL)
		return XA_TTL;
	/* 7. version */
	__u8 version = v->ver_type >> 4;
	if (version != cfg->version)
		return XA_VERSION;
	if (version == 2) {
		/* 8. auth */
		__u8 at = v->auth_or_rsvd;
		if (at != cfg->auth_type || at >= 2)
			return XA_AUTH;
		if (at == 1) {
			__u32 po = (voff + n - VRRP_AUTH_LEN) & XA_PAYLOAD_MASK;
			__u8 *pw = data + po;
			if ((void *)(pw + VRRP_AUTH_LEN) > end)
				return XA_TRUNCATED;
			__u8 diff = 0;
#pragma unroll
			for (int i = 0; i < VRRP_AUTH_LEN; i++)
				diff |= pw[i] ^ cfg->auth_pass[i];
			if (diff)
				return XA_AUTH;
		}
		/* 9. interval, v2: a mismatch drops */
		if (v->interval_lo != cfg->interval)
			return XA_INTERVAL;
	} else {
		/* 9. interval, v3: 0 drops, a mismatch is noted (the backup adopts it) */
		__u16 iv = vrrp_interval(v, 3);
		if (iv == 0)
			return XA_INTERVAL;
		if (iv != cfg->interval)
			*notes |= 1 << XA_INTERVAL;
	}
	/* 10. type */
	if ((v->ver_type & 0x0f) != VRRP_TYPE_ADVERT)
		return XA_TYPE;

	/* 11. checksum */
	__u64 sum = 0, addr_hash = 0;
	if (csum_packet(ctx, voff, n, count * alen, alen, &sum, &addr_hash) < 0)
		return XA_TRUNCATED;
	int ok;
	if (version == 2) {
		ok = csum_fold64(sum) == 0xffff;
	} else if (a->family == AF_INET) {
		/* RFC 5798 / keepalived (with pseudo-header) or RFC 9568 (message only). */
		__u64 ph = (__u64)*(__u32 *)a->src + *(__u32 *)a->dst +
			   bpf_htonl((IPPROTO_VRRP << 16) | n);
		ok = csum_fold64(sum + ph) == 0xffff || csum_fold64(sum) == 0xffff;
	} else {
		__u64 ph = csum_addr16(a->src) + csum_addr16(a->dst) + bpf_htonl(n) +
			   bpf_htonl(IPPROTO_VRRP);
		ok = csum_fold64(sum + ph) == 0xffff;
	}
	if (!ok)
		return XA_CHECKSUM;

	/* 12. dst, IPv4 instances */
	if (a->family == AF_INET && unicast == a->mcast)
		return XA_DST;
	/* 13. owner */
	if ((cfg->mode & XA_MODE_OWNER_IGNORE) && cfg->priority == 255)
		return XA_OWNER;
	/* 14. address count / list: noted, accepted */
	if (count != cfg->vip_count)
		*notes |= 1 << XA_ADDR_COUNT;
	else if (addr_hash != cfg->addr_hash)
		*notes |= 1 << XA_ADDR_LIST;
	/* 15. unicast source and its TTL bounds */
	if (unicast && (cfg->mode & XA_MODE_CHECK_UNICAST_SRC)) {
		struct xa_upeer_key pk = { .slot = slot };
		__builtin_memcpy(pk.addr, a->src, 16);
		struct xa_upeer *p = bpf_map_lookup_elem(&unicast_peers, &pk);
		if (!p)
			return XA_UNICAST_SRC;
		__u8 max = p->max_ttl ? p->max_ttl : 255;
		if (a->ttl < p->min_ttl || a->ttl > max)
			return XA_TTL;
	}
	return XA_ACCEPT;
}

/* The instance's per-CPU counters, looked up only where something rare is counted: a valid
 * advert in the steady state counts in its peer record instead (xa_peer.accepted). */
XA_INLINE struct xa_counters *counters_of(__u32 slot)
{
	return bpf_map_lookup_elem(&counters, &slot);
}

/* Sends one event; a full ring buffer is counted (user space then reads the peer records). */
XA_INLINE void emit(__u32 slot, const struct xa_inst_key *key, __u32 type, __u32 reason,
		    const __u8 *addr, __u8 prio, __u16 interval, __u64 now)
{
	struct xa_counters *c = counters_of(slot);
	struct xa_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		if (c)
			c->events_lost++;
		/* Also in the global counters: user space polls that one entry and reads the
		 * instances' counters only when it moved. */
		__u32 zero = 0;
		struct xa_counters *g = bpf_map_lookup_elem(&global, &zero);
		if (g)
			g->events_lost++;
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->time_ns = now;
	e->key = *key;
	e->type = type;
	e->reason = reason;
	__builtin_memcpy(e->addr, addr, 16);
	e->priority = prio;
	e->interval = interval;
	bpf_ringbuf_submit(e, 0);
	if (c)
		c->events++;
}

XA_INLINE int master_live(const struct xa_inst_state *st, __u64 now)
{
	return st && st->state == XA_STATE_MASTER && now < st->lease_until_ns;
}

/* The master-down timer: one for the whole program (sched), armed for the earliest due_ns of
 * all instances. An advert only moves its instance's due_ns (in the peer record it writes
 * anyway) and touches the timer only when its deadline is earlier than the one armed (a new
 * master, priority 0, a shorter interval); the callback scans the instances, raises
 * master-down for the expired ones and re-arms for the earliest of the rest. A steady backup
 * runs one callback per Master_Down_Interval at most, however many instances it has, and each
 * expiry fires at its deadline (the callback runs at the earliest one).
 *
 * Races, all resolved with fetching atomics (full barriers):
 *  - An advert stores due_ns, then (barrier) reads deadline_ns; the callback zeroes
 *    deadline_ns, then (barrier) reads every due_ns. Either the callback sees the new due_ns,
 *    or the advert sees 0 (or a deadline set after the zeroing, by someone who scanned or
 *    armed after it) and arms the timer itself: an advert racing an expiry is never left
 *    without a timer.
 *  - An instance expires only by a compare-and-swap of the due_ns the callback found expired
 *    to 0: a new deadline stored meanwhile wins and stays armed.
 *  - Two CPUs lowering deadline_ns at once: each re-reads it after starting the timer and
 *    starts it again for a lower one, so the timer ends up at the lowest. */

#define XA_NEVER (~0ULL)

/* Makes the timer fire at due at the latest (absolute CLOCK_MONOTONIC; now is the caller's
 * recent clock read). */
XA_INLINE void sched_arm(struct xa_sched *s, __u64 due, __u64 now, int init);

struct sched_scan {
	__u64 now;
	__u64 next;     /* earliest pending due_ns seen */
};

/* An expired instance: counted, and reported unless it is a live MASTER. */
XA_INLINE void master_down(__u32 slot, struct xa_peer *p, __u64 now)
{
	struct xa_counters *c = counters_of(slot);
	if (c)
		c->master_down++;
	struct xa_inst_state *st = bpf_map_lookup_elem(&states, &slot);
	if (master_live(st, now))
		return; /* already MASTER: nothing to elect */
	struct xa_inst_config *cfg = bpf_map_lookup_elem(&configs, &slot);
	if (!cfg || cfg->key.ifindex == 0)
		return; /* deleted meanwhile */
	emit(slot, &cfg->key, XA_EV_MASTER_DOWN, 0, p->addr, p->priority, p->interval, now);
}

static long sched_scan_one(__u32 slot, struct sched_scan *sc)
{
	struct xa_peer *p = bpf_map_lookup_elem(&peers, &slot);
	if (!p)
		return 1;
	__u64 due = p->due_ns;
	if (!due)
		return 0;
	if (due <= sc->now) {
		__u64 was = __sync_val_compare_and_swap(&p->due_ns, due, 0);
		if (was == due) {
			p->last_seen_ns = due - p->down_ns;
			master_down(slot, p, sc->now);
			return 0;
		}
		due = was; /* an advert moved it meanwhile (or user space zeroed it) */
		if (!due)
			return 0;
	}
	if (due < sc->next)
		sc->next = due;
	return 0;
}

static int sched_cb(void *map, __u32 *key, struct xa_sched *s)
{
	struct sched_scan sc = { .now = bpf_ktime_get_ns(), .next = XA_NEVER };
	/* Disarmed before the scan, with a full barrier: see the race notes above. */
	__sync_lock_test_and_set(&s->deadline_ns, 0);
	__u32 zero = 0;
	__u32 *lim = bpf_map_lookup_elem(&slot_limit, &zero);
	__u32 n = lim ? *lim : 0;
	if (n > MAX_INSTANCES)
		n = MAX_INSTANCES;
	bpf_loop(n, sched_scan_one, &sc, 0);
	if (sc.next != XA_NEVER)
		sched_arm(s, sc.next, sc.now, 0); /* no init: this is its callback */
	/* Callbacks of one timer never overlap: plain counters. */
	s->runs++;
	s->scanned += n;
	s->run_ns += bpf_ktime_get_ns() - sc.now;
	return 0;
}

XA_INLINE void sched_start(struct xa_sched *s, __u64 due, __u64 now, int init)
{
	if (init && bpf_timer_init(&s->timer, &sched, CLOCK_MONOTONIC) == 0)
		bpf_timer_set_callback(&s->timer, sched_cb);
	bpf_timer_start(&s->timer, due > now ? due - now : 0, 0);
}

XA_INLINE void sched_arm(struct xa_sched *s, __u64 due, __u64 now, int init)
{
	__u64 g = s->deadline_ns;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		if (g && g <= due)
			return; /* armed early enough: that callback sees due */
		__u64 was = __sync_val_compare_and_swap(&s->deadline_ns, g, due);
		if (was != g) {
			g = was;
			continue;
		}
		sched_start(s, due, now, init);
		/* Someone lowered it after our swap and may have started the timer before we
		 * did: start it again for theirs. A later one means a callback ran since, and
		 * its scan saw our due_ns. */
		g = __sync_fetch_and_add(&s->deadline_ns, 0);
		if (g && g < due)
			sched_start(s, g, now, init);
		return;
	}
	/* Four lost races in a row: start for ours, which is never too late for us. */
	sched_start(s, due, now, init);
}

/* Moves an instance's deadline to due and counts the advert, and makes sure the timer fires
 * by then. */
XA_INLINE void touch_peer(struct xa_peer *p, __u64 due, __u64 now)
{
	p->due_ns = due;
	/* The count is the full barrier between the due_ns store and the deadline_ns load. */
	__sync_fetch_and_add(&p->accepted, 1);
	__u32 zero = 0;
	struct xa_sched *s = bpf_map_lookup_elem(&sched, &zero);
	if (!s)
		return;
	__u64 g = s->deadline_ns;
	if (g && g <= due)
		return;
	sched_arm(s, due, now, 1);
}

/* Records an accepted advert at now with its Master_Down_Interval (a priority-0 advert
 * shortens it to the skew). */
XA_INLINE void arm_timer(struct xa_peer *p, __u64 now, __u64 ns)
{
	p->last_seen_ns = now;
	p->down_ns = ns;
	touch_peer(p, now + ns, now);
}

/* Takes the fast path's snapshot of an advert that went through the whole ladder and
 * re-armed the timer (ok: BACKUP, priority not 0, no notes) under generation gen of the
 * configuration and state, or drops the old one.
 * snap_gen is zeroed first and set last (an exchange: a full barrier), so a reader on another
 * CPU never matches a half-written snapshot. */
XA_INLINE void take_snapshot(struct xdp_md *ctx, const struct xa_adv *a, __u32 gen,
			     struct xa_peer *p, int ok)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 n = a->decl_len;
	if (p->snap_gen)
		__sync_lock_test_and_set(&p->snap_gen, 0);
	if (!ok || !gen || a->family != AF_INET || n < 12 || n > XA_SNAP_MAX)
		return;
	__u32 *w = data + (a->vrrp_off & XA_HDR_MASK);
	__u32 *m = (__u32 *)p->snap_msg;
	if ((void *)(w + 3) > end)
		return;
	m[0] = w[0];
	m[1] = w[1];
	m[2] = w[2];
	if (n > 12) {
		if ((void *)(w + 4) > end)
			return;
		m[3] = w[3];
	}
	if (n > 16) {
		if ((void *)(w + 5) > end)
			return;
		m[4] = w[4];
	}
	if (n > 20) {
		if ((void *)(w + 6) > end)
			return;
		m[5] = w[5];
	}
	*(__u32 *)p->snap_src = *(const __u32 *)a->src;
	*(__u32 *)p->snap_dst = *(const __u32 *)a->dst;
	p->snap_ttl = a->ttl;
	p->snap_len = n;
	__sync_lock_test_and_set(&p->snap_gen, gen);
}

/* 1 when an IPv4 advert is the snapshot again: same message bytes, length, TTL, source and
 * destination, and no configuration or state written since (gen). Every rung of the ladder
 * and the election read only these, the configuration, the unicast peers and the state (all
 * under gen), so the verdict and the effect are the snapshot's: accepted, no notes, no event,
 * deadline moved by the same interval. */
XA_INLINE int fast_match(struct xdp_md *ctx, const struct xa_adv *a, __u32 gen,
			 const struct xa_peer *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 n = p->snap_len;
	if (!gen || p->snap_gen != gen || a->decl_len != n || a->ttl != p->snap_ttl ||
	    *(const __u32 *)a->src != *(const __u32 *)p->snap_src ||
	    *(const __u32 *)a->dst != *(const __u32 *)p->snap_dst)
		return 0;
	const __u32 *w = data + (a->vrrp_off & XA_HDR_MASK);
	const __u32 *m = (const __u32 *)p->snap_msg;
	if ((void *)(w + 3) > end)
		return 0;
	__u32 diff = (w[0] ^ m[0]) | (w[1] ^ m[1]) | (w[2] ^ m[2]);
	if (n > 12) {
		if ((void *)(w + 4) > end)
			return 0;
		diff |= w[3] ^ m[3];
	}
	if (n > 16) {
		if ((void *)(w + 5) > end)
			return 0;
		diff |= w[4] ^ m[4];
	}
	if (n > 20) {
		if ((void *)(w + 6) > end)
			return 0;
		diff |= w[5] ^ m[5];
	}
	return diff == 0;
}

/* Master_Down_Interval for an advert interval (wire units), with the local effective priority. */
XA_INLINE __u64 down_interval(const struct xa_inst_config *cfg, __u16 interval, int prio_zero)
{
	__u64 i = cfg->version == 2 ? interval * NSEC_PER_SEC : interval * NSEC_PER_CSEC;
	__u64 skew = cfg->version == 2 ? (256 - cfg->priority) * NSEC_PER_SEC / 256
				       : (256 - cfg->priority) * i / 256;
	if (prio_zero)
		return skew;
	__u64 n = cfg->down_adverts ? cfg->down_adverts : 3;
	return n * i + skew;
}

/* A valid advert: peer record, timer, events. States follow RFC 3768/5798 section 6.4. */
XA_INLINE void accept_advert(struct xdp_md *ctx, const struct xa_adv *a, __u32 slot,
			     const struct xa_inst_config *cfg, struct xa_peer *peer,
			     const struct xa_inst_state *st, __u32 notes, __u32 gen)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct xa_vrrp *v = data + (a->vrrp_off & XA_HDR_MASK);
	if ((void *)(v + 1) > end)
		return;
	__u64 now = bpf_ktime_get_ns();
	__u8 prio = v->priority;
	__u16 interval = vrrp_interval(v, cfg->version);
	int alen = a->family == AF_INET ? 4 : 16;
	const struct xa_inst_key *key = &cfg->key;

	if (prio == 0) {
		struct xa_counters *c = counters_of(slot);
		if (c)
			c->prio_zero++;
	}

	if (master_live(st, now)) {
		if (prio == 0) {
			__sync_fetch_and_add(&peer->accepted, 1);
			emit(slot, key, XA_EV_PRIO_ZERO, 0, a->src, prio, interval, now);
			return;
		}
		int cmp = prio != cfg->priority ? (prio > cfg->priority ? 1 : -1)
						: addr_cmp(a->src, cfg->local_addr, alen);
		if (cmp <= 0) {
			__sync_fetch_and_add(&peer->accepted, 1);
			/* cmp 0: our own address and priority, a loop or a duplicate: nothing to do */
			if (cmp < 0)
				emit(slot, key, XA_EV_LOWER_PRIO, 0, a->src, prio, interval, now);
			return;
		}
		emit(slot, key, XA_EV_PREEMPTED, 0, a->src, prio, interval, now);
	} else if (prio != 0 && prio < cfg->priority && !(cfg->mode & XA_MODE_NOPREEMPT)) {
		/* Backup with preemption: discard, the timer keeps running and we take over. */
		__sync_fetch_and_add(&peer->accepted, 1);
		return;
	}

	int changed = peer->last_seen_ns == 0 || peer->priority != prio ||
		      peer->interval != interval || !addr_eq(peer->addr, a->src, 16);
	if (changed) {
		__builtin_memcpy(peer->addr, a->src, 16);
		peer->priority = prio;
		peer->interval = interval;
	}
	arm_timer(peer, now, down_interval(cfg, interval, prio == 0));
	take_snapshot(ctx, a, gen, peer,
		      prio != 0 && notes == 0 && st && st->state == XA_STATE_BACKUP);
	if (prio == 0)
		emit(slot, key, XA_EV_PRIO_ZERO, 0, a->src, prio, interval, now);
	else if (changed && !master_live(st, now))
		emit(slot, key, XA_EV_PEER_CHANGED, 0, a->src, prio, interval, now);
}

/* A configuration mismatch with a peer (a drop for auth, version or interval, or a note) is
 * reported, once a second at most. */
XA_INLINE void report_mismatch(struct xdp_md *ctx, const struct xa_adv *a, __u32 slot,
			       const struct xa_inst_config *cfg, __u32 reason, __u32 notes)
{
	if (reason == XA_ACCEPT) {
		if (notes & (1 << XA_INTERVAL))
			reason = XA_INTERVAL;
		else if (notes & (1 << XA_ADDR_COUNT))
			reason = XA_ADDR_COUNT;
		else if (notes & (1 << XA_ADDR_LIST))
			reason = XA_ADDR_LIST;
		else
			return;
	} else if (reason != XA_AUTH && reason != XA_VERSION && reason != XA_INTERVAL) {
		return;
	}
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct xa_vrrp *v = data + (a->vrrp_off & XA_HDR_MASK);
	if ((void *)(v + 1) > end)
		return;
	struct xa_peer *peer = bpf_map_lookup_elem(&peers, &slot);
	if (!peer)
		return;
	__u64 now = bpf_ktime_get_ns();
	if (peer->last_fail_ns && now - peer->last_fail_ns < NSEC_PER_SEC)
		return;
	peer->last_fail_ns = now;
	emit(slot, &cfg->key, XA_EV_CHECK_FAILED, reason, a->src, v->priority,
	     vrrp_interval(v, v->ver_type >> 4), now);
}

XA_INLINE void count_global(__u32 reason)
{
	__u32 zero = 0;
	struct xa_counters *g = bpf_map_lookup_elem(&global, &zero);
	if (g && reason < XA_REASON_MAX)
		g->adverts[reason]++;
}

/* The index in vrid_index of the (interface, VLAN, family, VRID) of an advert, or -1 when the
 * interface has no instances. */
XA_INLINE int wire_index(__u32 ifindex, __u16 vlan, __u8 family, __u8 vrid)
{
	__u32 base;
	if (vlan == 0 && ifindex < IFINDEX_DIRECT) {
		__u32 *b = bpf_map_lookup_elem(&if_direct, &ifindex);
		if (!b || *b == 0)
			return -1;
		base = *b - 1;
	} else {
		struct xa_if_key ik = { .ifindex = ifindex, .vlan = vlan };
		struct xa_if *ifc = bpf_map_lookup_elem(&ifaces, &ik);
		if (!ifc)
			return -1;
		base = ifc->base;
	}
	return base + (family == AF_INET6 ? 256 : 0) + vrid;
}

/* The slot of a wire index (vrid_index), or -1. */
XA_INLINE int lookup_slot(int idx)
{
	if (idx < 0)
		return -1;
	__u32 i = idx;
	__u32 *sp = bpf_map_lookup_elem(&vrid_index, &i);
	if (!sp || *sp == 0)
		return -1;
	return *sp - 1;
}

/* Handles a VRRP candidate: returns the XDP verdict. */
XA_INLINE int handle_vrrp(struct xdp_md *ctx, const struct xa_l2 *l2, struct xa_adv *a)
{
	int idx = wire_index(ctx->ingress_ifindex, l2->vlan, a->family, a->vrid);
	__u32 zero = 0;
	__u32 *genp = bpf_map_lookup_elem(&inst_gen, &zero);
	if (idx >= 0 && genp && a->family == AF_INET) {
		/* The fast path: the last accepted advert again (fast_match); the peer record's
		 * first cache line is all it reads and writes. User space gives an instance the
		 * slot equal to its wire index when it can, and says so in the record (wire):
		 * then vrid_index is not read either. */
		__u32 i = idx;
		struct xa_peer *p = bpf_map_lookup_elem(&peers, &i);
		if (!p || p->wire != i + 1) {
			int s2 = lookup_slot(idx);
			__u32 i2 = s2;
			p = s2 < 0 ? NULL : bpf_map_lookup_elem(&peers, &i2);
		}
		if (p && fast_match(ctx, a, *genp, p)) {
			__u64 now = bpf_ktime_get_ns();
			touch_peer(p, now + p->down_ns, now);
			return cfg_socket_path ? XDP_PASS : XDP_DROP;
		}
	}
	int sl = lookup_slot(idx);
	__u32 slot = sl;
	/* Read before the configuration and the state (a fetching atomic: ordered), so that a
	 * snapshot never carries a generation newer than what it was judged against. */
	__u32 gen = genp ? __sync_fetch_and_add(genp, 0) : 0;
	struct xa_inst_config *cfg = sl < 0 ? NULL : bpf_map_lookup_elem(&configs, &slot);
	if (!cfg) {
		count_global(XA_UNKNOWN_VRID);
		return XDP_PASS; /* maybe another VRRP speaker's; not ours to judge */
	}
	struct xa_inst_state *st = bpf_map_lookup_elem(&states, &slot);
	__u32 notes = 0;
	__u32 reason = check_advert(ctx, a, slot, cfg, st, &notes);
	if (reason != XA_ACCEPT)
		notes = 0; /* notes belong to accepted adverts only */
	struct xa_peer *peer = reason == XA_ACCEPT ? bpf_map_lookup_elem(&peers, &slot) : NULL;
	if (!peer && reason < XA_REASON_MAX) {
		struct xa_counters *c = counters_of(slot);
		if (c)
			c->adverts[reason]++;
	}
	if (notes) {
		struct xa_counters *c = counters_of(slot);
		if (c) {
			if (notes & (1 << XA_INTERVAL))
				c->notes[XA_INTERVAL]++;
			if (notes & (1 << XA_ADDR_COUNT))
				c->notes[XA_ADDR_COUNT]++;
			if (notes & (1 << XA_ADDR_LIST))
				c->notes[XA_ADDR_LIST]++;
		}
	}
	/* accept_advert counts the advert in the peer record (xa_peer.accepted). */
	if (peer)
		accept_advert(ctx, a, slot, cfg, peer, st, notes, gen);
	if (reason != XA_ACCEPT || notes)
		report_mismatch(ctx, a, slot, cfg, reason, notes);
	return cfg_socket_path ? XDP_PASS : XDP_DROP;
}

#endif
