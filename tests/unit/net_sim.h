/* tests/unit/net_sim.h: a simulated Ethernet for the protocol engine's host tests (test_net_*.c):
 * up to SIM_MAX engines with a fake environment on one virtual clock, a link model (per-node
 * serialisation at a byte rate, propagation delay, a bounded transmit queue whose overflow makes
 * xmit refuse like a full TX ring), and seeded fault injection: loss, duplication, reordering,
 * cut links, killed and restarted nodes. The "glue" ticks each engine every tick_ns (10 ms, as
 * the kernel's 100 Hz thread) and, when precise, also at cluster_next_timeout. */
#ifndef TESTS_UNIT_NET_SIM_H
#define TESTS_UNIT_NET_SIM_H

#include "net/cluster.h"
#include "net/wire.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>

#define SIM_MAX 4
#define SIM_MS 1000000ull
#define SIM_US 1000ull

struct sim;

struct sim_node {
	struct sim *sim;
	int id;
	struct cluster *c;
	struct cluster_config cfg;
	bool alive;
	uint64_t tx_free_at;            /* when the NIC has sent everything queued */
	uint64_t next_wake;
	long live_allocs;               /* env->alloc minus env->free */
	size_t alloc_budget;            /* refuse single allocations larger than this (0: none) */
	bool refuse_allocs;             /* env->alloc returns NULL */
	bool peer_up[SIM_MAX];
	uint32_t peer_inc[SIM_MAX];
	int up_events[SIM_MAX], down_events[SIM_MAX];
	uint64_t up_at[SIM_MAX], down_at[SIM_MAX];
	uint64_t xmit_refused;
	uint64_t busy_until;            /* receive processing: the CPU is taken until then */
};

struct sim_frame {
	uint64_t at, order;
	int to;
	size_t len;
	uint8_t *data;
};

struct sim {
	uint64_t now;
	uint64_t seed;
	int n;
	struct sim_node node[SIM_MAX];
	/* link model */
	uint64_t ps_per_byte;           /* serialisation: 12500 ps/byte = 80 MB/s */
	uint64_t prop_ns;
	uint64_t txq_limit_ns;          /* xmit refuses when this much is already queued */
	uint64_t bulk_txq_limit_ns;     /* ... bulk DATA frames already at this (0: no such rule) */
	unsigned loss_pct, dup_pct, reorder_pct;
	uint64_t reorder_max_ns;
	uint64_t rx_cost_ns;            /* CPU time a node spends per received frame (0: none) */
	bool cut[SIM_MAX][SIM_MAX];     /* frames from i to j vanish */
	/* the glue */
	uint64_t tick_ns;
	bool precise;
	/* hooks */
	void (*on_deliver)(struct sim *s, int to, int from, int ch, void *msg, size_t len, bool *keep);
	void (*on_xmit)(struct sim *s, int from, const uint8_t *frame, size_t len);
	void *user;
	/* frames in the air, a binary heap by (at, order) */
	struct sim_frame *heap;
	size_t nheap, cap;
	uint64_t order;
	/* what the network did */
	uint64_t wire_frames, wire_lost, wire_duplicated, wire_reordered, wire_cut;
};

static inline void sim_mac(uint8_t mac[6], int id)
{
	static const uint8_t base[6] = { 0x52, 0x54, 0x00, 0x5a, 0x00, 0x00 };

	memcpy(mac, base, 6);
	mac[5] = id;
}

/* ---- the heap ---- */

static inline bool sim_before(const struct sim_frame *a, const struct sim_frame *b)
{
	return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static inline void sim_push(struct sim *s, struct sim_frame f)
{
	if (s->nheap == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->heap = realloc(s->heap, s->cap * sizeof *s->heap);
	}
	size_t i = s->nheap++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!sim_before(&f, &s->heap[parent]))
			break;
		s->heap[i] = s->heap[parent];
		i = parent;
	}
	s->heap[i] = f;
}

static inline struct sim_frame sim_pop(struct sim *s)
{
	struct sim_frame top = s->heap[0], last = s->heap[--s->nheap];
	size_t i = 0;

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const struct sim_frame *best = &last;
		if (l < s->nheap && sim_before(&s->heap[l], best)) {
			m = l;
			best = &s->heap[l];
		}
		if (r < s->nheap && sim_before(&s->heap[r], best))
			m = r;
		if (m == i)
			break;
		s->heap[i] = s->heap[m];
		i = m;
	}
	if (s->nheap)
		s->heap[i] = last;
	return top;
}

/* ---- the environment ---- */

static uint64_t sim_env_now(void *ctx)
{
	return ((struct sim_node *)ctx)->sim->now;
}

static void sim_send_copy(struct sim *s, int from, int to, const void *frame, size_t len,
			  uint64_t at)
{
	struct sim_frame f;

	if (s->cut[from][to]) {
		s->wire_cut++;
		return;
	}
	if (s->loss_pct && rng_below(&s->seed, 100) < s->loss_pct) {
		s->wire_lost++;
		return;
	}
	if (s->reorder_pct && rng_below(&s->seed, 100) < s->reorder_pct) {
		at += 1 + rng_below(&s->seed, s->reorder_max_ns);
		s->wire_reordered++;
	}
	f.at = at;
	f.order = s->order++;
	f.to = to;
	f.len = len;
	f.data = malloc(len);
	memcpy(f.data, frame, len);
	sim_push(s, f);
	if (s->dup_pct && rng_below(&s->seed, 100) < s->dup_pct) {
		s->wire_duplicated++;
		f.at = at + rng_below(&s->seed, 200 * SIM_US);
		f.order = s->order++;
		f.data = malloc(len);
		memcpy(f.data, frame, len);
		sim_push(s, f);
	}
}

static int sim_env_xmit(void *ctx, const void *frame, size_t len)
{
	struct sim_node *n = ctx;
	struct sim *s = n->sim;
	const uint8_t *dst = frame;
	uint64_t start = n->tx_free_at > s->now ? n->tx_free_at : s->now;

	/* The policy recommended to the kernel glue: bulk frames may not fill the whole TX queue,
	 * so control frames, acks and HELLOs never wait behind milliseconds of page stream. */
	bool bulk = len > 17 && ((const uint8_t *)frame)[15] == SHOAL_DATA &&
		    ((const uint8_t *)frame)[17] == CLUSTER_CH_BULK;
	if (start - s->now > s->txq_limit_ns ||
	    (bulk && s->bulk_txq_limit_ns && start - s->now > s->bulk_txq_limit_ns)) {
		n->xmit_refused++;
		return -1;
	}
	n->tx_free_at = start + (len + 24) * s->ps_per_byte / 1000;   /* preamble, FCS, gap */
	if (s->on_xmit)
		s->on_xmit(s, n->id, frame, len);
	s->wire_frames++;
	for (int i = 0; i < s->n; i++) {
		uint8_t mac[6];
		sim_mac(mac, i);
		if (i == n->id || (dst[0] != 0xff && memcmp(dst, mac, 6) != 0))
			continue;
		sim_send_copy(s, n->id, i, frame, len < 60 ? 60 : len, n->tx_free_at + s->prop_ns);
	}
	return 0;
}

static void *sim_env_alloc(void *ctx, size_t size)
{
	struct sim_node *n = ctx;

	if (n->refuse_allocs || (n->alloc_budget && size > n->alloc_budget))
		return NULL;
	n->live_allocs++;
	return malloc(size);
}

static void sim_env_free(void *ctx, void *p)
{
	struct sim_node *n = ctx;

	if (p)
		n->live_allocs--;
	free(p);
}

static void sim_env_deliver(void *ctx, int node, int channel, void *msg, size_t len, bool *keep)
{
	struct sim_node *n = ctx;

	if (n->sim->on_deliver)
		n->sim->on_deliver(n->sim, n->id, node, channel, msg, len, keep);
}

static void sim_env_peer_event(void *ctx, int node, bool up, uint32_t inc)
{
	struct sim_node *n = ctx;

	if (node < 0 || node >= SIM_MAX)
		return;
	n->peer_up[node] = up;
	n->peer_inc[node] = inc;
	if (up) {
		n->up_events[node]++;
		n->up_at[node] = n->sim->now;
	} else {
		n->down_events[node]++;
		n->down_at[node] = n->sim->now;
	}
}

/* ---- nodes ---- */

static inline int sim_boot(struct sim *s, int id, uint32_t inc, const uint8_t key[16])
{
	struct sim_node *n = &s->node[id];
	struct net_env env = {
		.ctx = n, .now_ns = sim_env_now, .xmit = sim_env_xmit, .alloc = sim_env_alloc,
		.free = sim_env_free, .deliver = sim_env_deliver, .peer_event = sim_env_peer_event,
	};

	n->sim = s;
	n->id = id;
	memset(&n->cfg, 0, sizeof n->cfg);
	n->cfg.self = id;
	sim_mac(n->cfg.mac, id);
	n->cfg.incarnation = inc;
	if (key)
		memcpy(n->cfg.key, key, 16);
	n->cfg.hello_interval_ms = 200;
	n->cfg.dead_after_ms = 1500;
	n->cfg.mtu = 1500;
	n->c = malloc(cluster_size());
	int r = cluster_init(n->c, &n->cfg, &env);
	if (r) {
		free(n->c);
		n->c = NULL;
		return r;
	}
	n->alive = true;
	n->next_wake = s->now;
	n->tx_free_at = s->now;
	memset(n->peer_up, 0, sizeof n->peer_up);
	return 0;
}

static inline void sim_shutdown(struct sim *s, int id)
{
	struct sim_node *n = &s->node[id];

	if (n->c) {
		cluster_fini(n->c);
		CHECKF(n->live_allocs == 0, "node %d leaks %ld allocations", id, n->live_allocs);
		free(n->c);
		n->c = NULL;
	}
	n->alive = false;
}

/* A killed node stops ticking and receiving: its engine is frozen, as a dead machine. */
static inline void sim_kill(struct sim *s, int id)
{
	s->node[id].alive = false;
}

static inline void sim_init(struct sim *s, int n, uint64_t seed)
{
	memset(s, 0, sizeof *s);
	s->n = n;
	s->seed = seed;
	s->now = 1000 * SIM_MS;         /* not zero: catches "0 means unset" mistakes */
	s->ps_per_byte = 12500;
	s->prop_ns = 100 * SIM_US;
	s->txq_limit_ns = 2 * SIM_MS;
	s->reorder_max_ns = 300 * SIM_US;
	s->tick_ns = 10 * SIM_MS;
	s->precise = true;
	for (int i = 0; i < n; i++)
		CHECK(sim_boot(s, i, 0x1000 + i, NULL) == 0);
}

static inline void sim_fini(struct sim *s)
{
	for (int i = 0; i < s->n; i++)
		sim_shutdown(s, i);
	while (s->nheap)
		free(sim_pop(s).data);
	free(s->heap);
	s->heap = NULL;
}

/* Injects a frame into node id as if it came from the wire. */
static inline void sim_inject(struct sim *s, int id, const void *frame, size_t len)
{
	cluster_input(s->node[id].c, frame, len);
}

static inline void sim_wake(struct sim *s, struct sim_node *n)
{
	uint64_t next;

	cluster_tick(n->c);
	next = s->tick_ns;
	if (s->precise) {
		uint64_t to = cluster_next_timeout(n->c);
		if (to < next)
			next = to;
	}
	if (next < 5 * SIM_US)
		next = 5 * SIM_US;
	n->next_wake = s->now + next;
}

/* Runs until the virtual time t, or until done(s) holds (checked after every event). */
static inline bool sim_run_until(struct sim *s, uint64_t t, bool (*done)(struct sim *))
{
	for (;;) {
		uint64_t next = t;
		if (s->nheap && s->heap[0].at < next)
			next = s->heap[0].at;
		for (int i = 0; i < s->n; i++)
			if (s->node[i].alive && s->node[i].next_wake < next)
				next = s->node[i].next_wake;
		if (next > s->now)
			s->now = next;
		if (s->now >= t && !(s->nheap && s->heap[0].at <= s->now))
			return done ? done(s) : false;
		if (s->nheap && s->heap[0].at <= s->now) {
			struct sim_frame f = sim_pop(s);
			struct sim_node *n = &s->node[f.to];
			if (n->alive && n->busy_until > s->now) {
				f.at = n->busy_until;   /* waits in the receive queue, order kept */
				sim_push(s, f);
				continue;
			}
			if (n->alive)
				n->busy_until = s->now + s->rx_cost_ns;
			if (n->alive) {
				cluster_input(n->c, f.data, f.len);
				/* As the glue after a receive batch: run what fell due. */
				if (cluster_next_timeout(n->c) == 0)
					sim_wake(s, n);
			}
			free(f.data);
		} else {
			for (int i = 0; i < s->n; i++)
				if (s->node[i].alive && s->node[i].next_wake <= s->now)
					sim_wake(s, &s->node[i]);
		}
		if (done && done(s))
			return true;
	}
}

static inline void sim_run_for(struct sim *s, uint64_t dt)
{
	sim_run_until(s, s->now + dt, NULL);
}

static inline bool sim_all_up(struct sim *s)
{
	for (int i = 0; i < s->n; i++)
		for (int j = 0; j < s->n; j++)
			if (i != j && (!s->node[i].alive || !s->node[i].peer_up[j]))
				return false;
	return true;
}

static inline struct cluster_stats sim_stats(struct sim *s, int id)
{
	struct cluster_stats st;

	cluster_get_stats(s->node[id].c, &st);
	return st;
}

static inline uint64_t sim_drops(const struct cluster_stats *st)
{
	return st->drop_short + st->drop_version + st->drop_type + st->drop_length + st->drop_tag +
	       st->drop_stale_incarnation + st->drop_unknown_peer + st->drop_out_of_window +
	       st->drop_replay + st->drop_not_for_us + st->drop_no_memory;
}

#endif /* TESTS_UNIT_NET_SIM_H */
