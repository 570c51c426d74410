/* tests/fuzz/fuzz_common.h: what the protocol engine's fuzz harnesses share: a deterministic
 * three-node simulated cluster (tests/unit/net_sim.h) with sessions up and traffic in flight,
 * the target being node 0, and a small byte-code the fuzzer drives it with:
 *
 *   op 0 len:u16 bytes       a raw frame into node 0
 *   op 1 t:u8                time passes ((t+1) * 200 us): every engine ticks, frames fly
 *   op 2 peer ch n:u8        node 0 sends a message of n * 97 bytes
 *   op 3 <struct forge>      a frame from a peer built from fields, with the session's real
 *                            incarnations and epochs unless told otherwise, and a valid tag
 *   op 4 mode:u8             node 0's memory: normal, no allocation over 4 KiB, or none
 *   op 5                     peer 1 reboots with a new incarnation
 *
 * A structured run (fuzz_transport) reads op 0 as op 3: every frame is authentic.
 *
 * After the input, every engine is torn down; a leak or a sanitizer report is a finding. */
#ifndef TESTS_FUZZ_FUZZ_COMMON_H
#define TESTS_FUZZ_FUZZ_COMMON_H

#include "net/cluster_int.h"
#include "tests/unit/net_sim.h"

#include <stdlib.h>

struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline bool take(struct fuzz_in *in, void *out, size_t n)
{
	if (in->n < n)
		return false;
	memcpy(out, in->p, n);
	in->p += n;
	in->n -= n;
	return true;
}

static uint64_t fuzz_delivered;

static void fuzz_deliver(struct sim *s, int to, int from, int ch, void *msg, size_t len, bool *keep)
{
	(void)s; (void)to; (void)from; (void)ch; (void)keep;
	if (len > CLUSTER_MAX_MESSAGE)
		abort();
	if (len) /* touch both ends: a wrong length or a freed buffer is caught by ASan */
		fuzz_delivered += ((uint8_t *)msg)[0] + ((uint8_t *)msg)[len - 1];
}

static uint8_t fuzz_msg[256 * 97];
static uint32_t fuzz_inc = 0x5000;

static inline void fuzz_setup(struct sim *s)
{
	sim_init(s, 3, 1);
	s->on_deliver = fuzz_deliver;
	for (int i = 0; i < 3; i++)
		s->node[i].alloc_budget = 1u << 20;     /* big reassemblies fail instead of eating RAM */
	if (!sim_run_until(s, s->now + 2000 * SIM_MS, sim_all_up))
		abort();
	/* Traffic both ways on both channels, partly in flight when the input starts. */
	cluster_send(s->node[0].c, 1, CLUSTER_CH_BULK, fuzz_msg, 20000);
	cluster_send(s->node[0].c, 1, CLUSTER_CH_CONTROL, fuzz_msg, 100);
	cluster_send(s->node[1].c, 0, CLUSTER_CH_BULK, fuzz_msg, 5000);
	cluster_send(s->node[2].c, 0, CLUSTER_CH_CONTROL, fuzz_msg, 3000);
	sim_run_for(s, 150 * SIM_US);
}

static inline void fuzz_teardown(struct sim *s)
{
	for (int i = 0; i < s->n; i++) {
		struct sim_node *n = &s->node[i];
		if (!n->c)
			continue;
		cluster_fini(n->c);
		if (n->live_allocs != 0)
			abort();                /* a leak */
		free(n->c);
		n->c = NULL;
		n->alive = false;
	}
	sim_fini(s);
}

/* op 3: a frame from a peer, described field by field. */
struct forge {
	uint8_t src;                    /* low bits: peer 1 or 2; 0x80: keep fuzzed ids below */
	uint8_t type, flags, channel;
	int16_t seq_delta;              /* from the receiver's next expected frame */
	int16_t ack_delta;              /* from the receiver's oldest unacknowledged frame */
	uint64_t sack;
	uint32_t msg_len;
	uint16_t len;                   /* payload bytes, taken from the input */
	uint32_t src_inc, dst_inc, src_epoch, dst_epoch;
} __attribute__((packed));

static inline void fuzz_forge(struct sim *s, struct fuzz_in *in)
{
	struct cluster *c = s->node[0].c;
	struct siphash_key key;
	struct forge fg;
	struct shoal_hdr h;
	uint8_t buf[SHOAL_MAX_FRAME];
	uint8_t mac[6];

	if (!take(in, &fg, sizeof fg))
		return;
	int src = 1 + (fg.src & 1);
	struct peer *p = &c->peers[src];
	memset(&h, 0, sizeof h);
	h.type = fg.type & 3;
	h.flags = fg.flags;
	h.channel = fg.channel;
	h.src = src;
	h.dst = h.type == SHOAL_HELLO ? CLUSTER_BROADCAST : 0;
	if ((fg.src & 0x80) || !p->s) {
		h.src_inc = fg.src_inc;
		h.dst_inc = fg.dst_inc;
		h.src_epoch = fg.src_epoch;
		h.dst_epoch = fg.dst_epoch;
	} else {
		struct channel *ch = &p->s->ch[fg.channel & 1];
		h.src_inc = p->inc;
		h.dst_inc = c->inc;
		h.src_epoch = p->their_epoch;
		h.dst_epoch = p->my_epoch;
		h.seq = ch->rcv_nxt + fg.seq_delta;
		h.ack = ch->snd_una + fg.ack_delta;
	}
	h.sack = fg.sack;
	h.msg_len = fg.msg_len;
	h.len = fg.len < in->n ? fg.len : in->n;
	if (h.len > SHOAL_MAX_PAYLOAD)
		h.len = SHOAL_MAX_PAYLOAD;
	memcpy(buf + SHOAL_OVERHEAD, in->p, h.len);
	in->p += h.len;
	in->n -= h.len;
	siphash_key_init(&key, s->node[0].cfg.key);
	if (h.type == SHOAL_HELLO)
		memset(mac, 0xff, 6);
	else
		sim_mac(mac, 0);
	uint8_t srcmac[6];
	sim_mac(srcmac, src);
	size_t len = wire_build(buf, mac, srcmac, &h, buf + SHOAL_OVERHEAD, &key);
	cluster_input(c, buf, len);
}

static inline void fuzz_reboot(struct sim *s, int id)
{
	struct sim_node *n = &s->node[id];

	cluster_fini(n->c);
	if (n->live_allocs != 0)
		abort();
	free(n->c);
	n->c = NULL;
	if (sim_boot(s, id, ++fuzz_inc, NULL) != 0)
		abort();
	n->alloc_budget = 1u << 20;
}

static inline void fuzz_run(const uint8_t *data, size_t size, bool structured)
{
	struct fuzz_in in = { data, size };
	struct sim s;
	uint8_t op;
	int steps = 0;

	fuzz_setup(&s);
	while (steps++ < 256 && take(&in, &op, 1)) {
		switch (structured && op % 6 == 0 ? 3 : op % 6) {
		case 0: {
			uint16_t len;
			if (!take(&in, &len, 2))
				break;
			len %= SHOAL_MAX_FRAME + 64;
			if (len > in.n)
				len = in.n;
			/* A heap copy of exactly len bytes, so ASan sees any read past the frame. */
			uint8_t *f = malloc(len ? len : 1);
			memcpy(f, in.p, len);
			in.p += len;
			in.n -= len;
			cluster_input(s.node[0].c, f, len);
			free(f);
			break;
		}
		case 1: {
			uint8_t t;
			if (take(&in, &t, 1))
				sim_run_for(&s, (t + 1) * 200 * SIM_US);
			break;
		}
		case 2: {
			uint8_t a[3];
			if (take(&in, a, 3))
				cluster_send(s.node[0].c, a[0] % 4, a[1] % 3, fuzz_msg, a[2] * 97u);
			break;
		}
		case 3:
			fuzz_forge(&s, &in);
			break;
		case 4: {
			uint8_t m;
			if (take(&in, &m, 1)) {
				s.node[0].refuse_allocs = m % 3 == 2;
				s.node[0].alloc_budget = m % 3 == 1 ? 4096 : 1u << 20;
			}
			break;
		}
		case 5:
			fuzz_reboot(&s, 1);
			break;
		}
	}
	s.node[0].refuse_allocs = false;
	sim_run_for(&s, 50 * SIM_MS);
	fuzz_teardown(&s);
}

#endif /* TESTS_FUZZ_FUZZ_COMMON_H */
