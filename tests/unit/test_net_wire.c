/* tests/unit/test_net_wire.c: the Shoal frame codec (net/wire.c) and every validation rule, first
 * on wire_parse alone, then through an engine (net/cluster.c) where each bad frame must be
 * dropped and counted in exactly one drop_* counter. */
#include "tests/unit/net_sim.h"

static const uint8_t key0[16];
static const uint8_t mac_a[6] = { 0x52, 0x54, 0x00, 0x5a, 0x00, 0x01 };
static const uint8_t mac_b[6] = { 0x52, 0x54, 0x00, 0x5a, 0x00, 0x02 };

static struct siphash_key skey(const uint8_t k[16])
{
	struct siphash_key key;

	siphash_key_init(&key, k);
	return key;
}

static struct shoal_hdr data_hdr(void)
{
	struct shoal_hdr h;

	memset(&h, 0, sizeof h);
	h.type = SHOAL_DATA;
	h.flags = SHOAL_F_FIRST;
	h.channel = 1;
	h.src = 1;
	h.dst = 2;
	h.src_inc = 0x11111111;
	h.dst_inc = 0x22222222;
	h.src_epoch = 3;
	h.dst_epoch = 4;
	h.seq = 0xfffffff0;
	h.ack = 0x12345678;
	h.sack = 0x8000000000000001ull;
	h.msg_len = 5000;
	h.len = 1000;
	return h;
}

static size_t build(uint8_t *buf, struct shoal_hdr h, const void *payload)
{
	struct siphash_key k = skey(key0);

	return wire_build(buf, mac_b, mac_a, &h, payload, &k);
}

static enum wire_verdict parse(const uint8_t *buf, size_t len, struct shoal_frame *f)
{
	struct siphash_key k = skey(key0);

	return wire_parse(buf, len, &k, f);
}

static void test_data_round_trip(void)
{
	uint8_t buf[SHOAL_MAX_FRAME], payload[1000];
	struct shoal_frame f;
	uint64_t seed = 3;

	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = rng_next(&seed);
	struct shoal_hdr h = data_hdr();
	size_t len = build(buf, h, payload);
	CHECK(len == SHOAL_OVERHEAD + 1000);
	CHECK(memcmp(buf, mac_b, 6) == 0 && memcmp(buf + 6, mac_a, 6) == 0);
	CHECK(buf[12] == 0x88 && buf[13] == 0xb5);
	CHECK(buf[14] == SHOAL_VERSION && buf[15] == SHOAL_DATA);
	CHECK(parse(buf, len, &f) == WIRE_OK);
	CHECK(f.h.version == 1 && f.h.type == h.type && f.h.flags == h.flags && f.h.channel == 1);
	CHECK(f.h.src == 1 && f.h.dst == 2 && f.h.src_inc == h.src_inc && f.h.dst_inc == h.dst_inc);
	CHECK(f.h.src_epoch == 3 && f.h.dst_epoch == 4 && f.h.seq == h.seq && f.h.ack == h.ack);
	CHECK(f.h.sack == h.sack && f.h.msg_len == 5000 && f.h.len == 1000);
	CHECK(memcmp(f.payload, payload, 1000) == 0);
	CHECK(f.eth_dst == buf && f.eth_src == buf + 6);
	/* Big-endian on the wire: sequence at header offset 24. */
	CHECK(buf[ETH_HLEN + 24] == 0xff && buf[ETH_HLEN + 27] == 0xf0);
	/* Padding after the payload (Ethernet minimum, or a NIC's) is accepted. */
	memset(buf + len, 0xee, 40);
	CHECK(parse(buf, len + 40, &f) == WIRE_OK && f.h.len == 1000);
	/* A payload built in place is not copied onto itself. */
	memcpy(buf + SHOAL_OVERHEAD, payload, 1000);
	CHECK(build(buf, h, buf + SHOAL_OVERHEAD) == len && parse(buf, len, &f) == WIRE_OK);
}

static void test_hello_round_trip(void)
{
	uint8_t buf[SHOAL_MAX_FRAME];
	uint8_t *pl = buf + SHOAL_OVERHEAD;
	struct shoal_frame f;
	struct hello_info hi = { { 1, 2, 3, 4, 5, 6 }, 63, 7, 8, 9 }, hi2;
	struct shoal_hdr h;

	hello_put_info(pl, &hi);
	for (unsigned i = 0; i < 63; i++) {
		struct hello_entry e = { (uint16_t)i, 100 + i, 200 + i, i };
		hello_put_entry(pl, i, &e);
	}
	memset(&h, 0, sizeof h);
	h.type = SHOAL_HELLO;
	h.src = 9;
	h.dst = CLUSTER_BROADCAST;
	h.src_inc = 77;
	h.seq = 1;
	h.len = HELLO_MAX_LEN;
	size_t len = build(buf, h, pl);
	CHECK(len <= ETH_HLEN + SHOAL_MTU_MIN);
	CHECK(parse(buf, len, &f) == WIRE_OK);
	hello_get_info(f.payload, &hi2);
	CHECK(memcmp(hi2.mac, hi.mac, 6) == 0 && hi2.nentries == 63 && hi2.load == 7);
	CHECK(hi2.free_pages == 8 && hi2.nprocs == 9);
	for (unsigned i = 0; i < 63; i++) {
		struct hello_entry e;
		hello_get_entry(f.payload, i, &e);
		CHECK(e.node == i && e.incarnation == 100 + i && e.epoch == 200 + i && e.peer_epoch == i);
	}
}

/* One rule: the frame built from h (then changed by poke, if any) parses to want. */
static enum wire_verdict verdict_of(struct shoal_hdr h, size_t cut, void (*poke)(uint8_t *))
{
	uint8_t buf[SHOAL_MAX_FRAME + 64] = { 0 };
	struct shoal_frame f;
	size_t len;

	if (h.type == SHOAL_HELLO) {
		struct hello_info hi = { { 0 }, 0, 0, 0, 0 };
		hello_put_info(buf + SHOAL_OVERHEAD, &hi);
	}
	len = build(buf, h, buf + SHOAL_OVERHEAD);
	if (poke)
		poke(buf);
	return parse(buf, len - cut, &f);
}

static void poke_ethertype(uint8_t *b) { b[13] = 0xb6; }
static void poke_version(uint8_t *b) { b[ETH_HLEN] = 2; }
static void poke_type0(uint8_t *b) { b[ETH_HLEN + 1] = 0; }
static void poke_type9(uint8_t *b) { b[ETH_HLEN + 1] = 9; }
static void poke_len_big(uint8_t *b) { put_be16(b + ETH_HLEN + 44, 1001); }
static void poke_tag(uint8_t *b) { b[ETH_HLEN + SHOAL_TAG_OFF] ^= 1; }
static void poke_payload(uint8_t *b) { b[SHOAL_OVERHEAD + 999] ^= 0x80; }
static void poke_hello_reserved(uint8_t *b) { b[SHOAL_OVERHEAD + 23] = 1; }

static void test_validation_rules(void)
{
	struct shoal_hdr h = data_hdr(), x;

	CHECK(verdict_of(h, 0, NULL) == WIRE_OK);
	CHECK(verdict_of(h, 1000 + 1, NULL) == WIRE_SHORT);     /* 69 bytes */
	CHECK(verdict_of(h, 1, NULL) == WIRE_LENGTH);           /* payload past the end */
	CHECK(verdict_of(h, 0, poke_len_big) == WIRE_LENGTH);
	CHECK(verdict_of(h, 0, poke_ethertype) == WIRE_ETHERTYPE);
	CHECK(verdict_of(h, 0, poke_version) == WIRE_VERSION);
	CHECK(verdict_of(h, 0, poke_type0) == WIRE_TYPE);
	CHECK(verdict_of(h, 0, poke_type9) == WIRE_TYPE);
	CHECK(verdict_of(h, 0, poke_tag) == WIRE_TAG);
	CHECK(verdict_of(h, 0, poke_payload) == WIRE_TAG);
	/* Every bit of the covered header is authenticated. */
	for (int bit = 0; bit < SHOAL_TAG_OFF * 8; bit++) {
		uint8_t buf[SHOAL_MAX_FRAME];
		struct shoal_frame f;
		size_t len = build(buf, h, buf + SHOAL_OVERHEAD);
		buf[ETH_HLEN + bit / 8] ^= 1 << (bit % 8);
		CHECKF(parse(buf, len, &f) != WIRE_OK, "header bit %d", bit);
	}
	/* Another key: the tag fails. */
	{
		uint8_t buf[SHOAL_MAX_FRAME], other[16] = { 1 };
		struct siphash_key k = skey(other);
		struct shoal_frame f;
		size_t len = build(buf, h, buf + SHOAL_OVERHEAD);
		CHECK(wire_parse(buf, len, &k, &f) == WIRE_TAG);
	}
	/* Fields every type must get right. */
	x = h; x.reserved = 1; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);
	x = h; x.channel = 2; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);
	x = h; x.src_inc = 0; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);
	x = h; x.dst_inc = 0; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);
	x = h; x.src_epoch = 0; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);
	x = h; x.dst_epoch = 0; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);
	/* DATA */
	x = h; x.flags = 4; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);
	x = h; x.msg_len = CLUSTER_MAX_MESSAGE + 1; CHECK(verdict_of(x, 0, NULL) == WIRE_LENGTH);
	x = h; x.msg_len = CLUSTER_MAX_MESSAGE; CHECK(verdict_of(x, 0, NULL) == WIRE_OK);
	x = h; x.msg_len = 999; CHECK(verdict_of(x, 0, NULL) == WIRE_LENGTH);
	x = h; x.flags = SHOAL_F_FIRST | SHOAL_F_LAST; CHECK(verdict_of(x, 0, NULL) == WIRE_LENGTH);
	x.msg_len = 1000; CHECK(verdict_of(x, 0, NULL) == WIRE_OK);
	x = h; x.flags = 0; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);         /* msg_len not 0 */
	x.msg_len = 0; CHECK(verdict_of(x, 0, NULL) == WIRE_OK);
	x.flags = SHOAL_F_LAST; CHECK(verdict_of(x, 0, NULL) == WIRE_OK);
	x = h; x.len = SHOAL_MAX_PAYLOAD + 1; x.msg_len = 1u << 20;
	CHECK(verdict_of(x, 0, NULL) == WIRE_LENGTH);
	/* ACK */
	x = h; x.type = SHOAL_ACK; x.flags = 0; x.msg_len = 0; x.seq = 0; x.len = 0;
	CHECK(verdict_of(x, 0, NULL) == WIRE_OK);
	x.len = 56; CHECK(verdict_of(x, 0, NULL) == WIRE_OK);
	x.len = 64; CHECK(verdict_of(x, 0, NULL) == WIRE_LENGTH);
	x.len = 12; CHECK(verdict_of(x, 0, NULL) == WIRE_LENGTH);
	x.len = 0; x.seq = 1; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);
	x.seq = 0; x.flags = SHOAL_F_FIRST; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);
	x.flags = 0; x.msg_len = 1; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);
	/* HELLO */
	struct shoal_hdr hh;
	memset(&hh, 0, sizeof hh);
	hh.type = SHOAL_HELLO;
	hh.src = 1;
	hh.dst = CLUSTER_BROADCAST;
	hh.src_inc = 5;
	hh.seq = 1;
	hh.len = HELLO_FIXED_LEN;
	CHECK(verdict_of(hh, 0, NULL) == WIRE_OK);
	x = hh; x.seq = 0; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);
	x = hh; x.dst = 3; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);
	x = hh; x.flags = 1; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);
	x = hh; x.channel = 1; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);
	x = hh; x.ack = 1; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);
	x = hh; x.sack = 1; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);
	x = hh; x.dst_inc = 1; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);
	x = hh; x.src_epoch = 1; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);
	x = hh; x.msg_len = 1; CHECK(verdict_of(x, 0, NULL) == WIRE_TYPE);
	x = hh; x.len = HELLO_FIXED_LEN - 1; CHECK(verdict_of(x, 0, NULL) == WIRE_LENGTH);
	x = hh; x.len = HELLO_FIXED_LEN + 16; CHECK(verdict_of(x, 0, NULL) == WIRE_LENGTH);   /* n = 0 */
	CHECK(verdict_of(hh, 0, poke_hello_reserved) == WIRE_TYPE);
}

/* HELLO view entries are checked one by one. */
static void test_hello_entries_checked(void)
{
	uint8_t buf[SHOAL_MAX_FRAME];
	uint8_t *pl = buf + SHOAL_OVERHEAD;
	struct shoal_frame f;
	struct shoal_hdr h;
	struct hello_info hi = { { 0 }, 2, 0, 0, 0 };
	struct hello_entry good = { 1, 2, 3, 0 };
	struct hello_entry bad[] = { { 64, 2, 3, 0 }, { 1, 0, 3, 0 }, { 1, 2, 0, 0 } };

	memset(&h, 0, sizeof h);
	h.type = SHOAL_HELLO;
	h.src = 1;
	h.dst = CLUSTER_BROADCAST;
	h.src_inc = 5;
	h.seq = 1;
	h.len = HELLO_FIXED_LEN + 2 * HELLO_ENTRY_LEN;
	for (int i = -1; i < 3; i++) {
		hello_put_info(pl, &hi);
		hello_put_entry(pl, 0, &good);
		hello_put_entry(pl, 1, i < 0 ? &good : &bad[i]);
		size_t len = build(buf, h, pl);
		CHECK(parse(buf, len, &f) == (i < 0 ? WIRE_OK : WIRE_TYPE));
	}
	hello_put_info(pl, &hi);
	hello_put_entry(pl, 0, &good);
	hello_put_entry(pl, 1, &good);
	size_t len = build(buf, h, pl);
	pl[HELLO_FIXED_LEN + HELLO_ENTRY_LEN + 3] = 1;          /* entry padding */
	CHECK(parse(buf, len, &f) == WIRE_TYPE);                /* syntax is checked before the tag */
	hi.nentries = 64;
	hello_put_info(pl, &hi);
	h.len = HELLO_FIXED_LEN + 64 * HELLO_ENTRY_LEN;
	len = build(buf, h, pl);
	CHECK(parse(buf, len, &f) == WIRE_LENGTH);
}

/* ---- through an engine: exactly one counter per bad frame ---- */

static struct {
	uint8_t frame[2048];
	size_t len;
	int have;
	uint8_t type;
} grab;

static void grab_from_1(struct sim *s, int from, const uint8_t *frame, size_t len)
{
	(void)s;
	if (from == 1 && frame[ETH_HLEN + 1] == grab.type && len <= sizeof grab.frame && !grab.have) {
		memcpy(grab.frame, frame, len);
		grab.len = len;
		grab.have = 1;
	}
}

/* Rebuilds the grabbed frame with fields changed by edit, re-tagged, and feeds it to node 0.
 * Returns the counter that moved (by offset in struct cluster_stats), -1 if none, -2 if many. */
static struct cluster_stats last;
static long feed(struct sim *s, void (*edit)(struct shoal_frame *f, uint8_t *eth), bool retag)
{
	struct siphash_key k = skey(key0);
	uint8_t out[2048];
	struct shoal_frame f;
	size_t len;

	CHECK(wire_parse(grab.frame, grab.len, &k, &f) == WIRE_OK);
	memcpy(out, grab.frame, grab.len);
	memcpy(out + SHOAL_OVERHEAD, f.payload, f.h.len);
	edit(&f, out);
	if (retag)
		len = wire_build(out, out, out + 6, &f.h, out + SHOAL_OVERHEAD, &k);
	else
		len = grab.len;
	struct cluster_stats before = sim_stats(s, 0);
	sim_inject(s, 0, out, len);
	last = sim_stats(s, 0);
	const uint64_t *a = (const uint64_t *)&before, *b = (const uint64_t *)&last;
	long moved = -1;
	size_t first = offsetof(struct cluster_stats, drop_short) / 8;
	size_t end = offsetof(struct cluster_stats, peer_up_events) / 8;
	for (size_t i = first; i < end; i++) {
		if (b[i] != a[i]) {
			CHECK(b[i] == a[i] + 1);
			moved = moved == -1 ? (long)(i * 8) : -2;
		}
	}
	CHECK(last.frames_received == before.frames_received + 1);
	return moved;
}

#define DROP(field) ((long)offsetof(struct cluster_stats, field))

static void e_none(struct shoal_frame *f, uint8_t *e) { (void)f; (void)e; }
static void e_dst_node(struct shoal_frame *f, uint8_t *e) { (void)e; f->h.dst = 3; }
static void e_dst_mac(struct shoal_frame *f, uint8_t *e) { (void)f; e[5] = 9; }
static void e_src_big(struct shoal_frame *f, uint8_t *e) { (void)e; f->h.src = 64; }
static void e_src_self(struct shoal_frame *f, uint8_t *e) { (void)e; f->h.src = 0; }
static void e_src_unknown(struct shoal_frame *f, uint8_t *e) { (void)e; f->h.src = 3; }
static void e_dst_inc(struct shoal_frame *f, uint8_t *e) { (void)e; f->h.dst_inc++; }
static void e_src_inc_old(struct shoal_frame *f, uint8_t *e) { (void)e; f->h.src_inc--; }
static void e_src_inc_new(struct shoal_frame *f, uint8_t *e) { (void)e; f->h.src_inc++; }
static void e_src_epoch(struct shoal_frame *f, uint8_t *e) { (void)e; f->h.src_epoch++; }
static void e_dst_epoch(struct shoal_frame *f, uint8_t *e) { (void)e; f->h.dst_epoch++; }
static void e_seq_far(struct shoal_frame *f, uint8_t *e) { (void)e; f->h.seq += 1 + 32; }
static void e_seq_edge(struct shoal_frame *f, uint8_t *e) { (void)e; f->h.seq += 1 + 31; }
static void e_seq_ancient(struct shoal_frame *f, uint8_t *e) { (void)e; f->h.seq -= 33; }
static void e_ack_future(struct shoal_frame *f, uint8_t *e) { (void)e; f->h.ack += 1000; }
static void e_sack_future(struct shoal_frame *f, uint8_t *e) { (void)e; f->h.sack = 1ull << 40; }
static void e_version(struct shoal_frame *f, uint8_t *e) { (void)f; e[ETH_HLEN] = 7; }
static void e_badtag(struct shoal_frame *f, uint8_t *e) { (void)f; e[ETH_HLEN + 20] ^= 1; }
static void e_ethertype(struct shoal_frame *f, uint8_t *e) { (void)f; e[12] = 0x08; e[13] = 0x00; }
static void e_to_ack(struct shoal_frame *f, uint8_t *e)
{
	(void)e;
	f->h.type = SHOAL_ACK;
	f->h.flags = 0;
	f->h.seq = 0;
	f->h.msg_len = 0;
	f->h.len = 0;
}
static void e_ack_extra_future(struct shoal_frame *f, uint8_t *e)
{
	e_to_ack(f, e);
	f->h.len = 8;
	put_be64(e + SHOAL_OVERHEAD, 1);
}
static void e_hello_unicast(struct shoal_frame *f, uint8_t *e) { (void)f; memcpy(e, mac_b, 6); }

static void test_engine_drops_each_once(void)
{
	struct sim s;

	sim_init(&s, 2, 99);
	CHECK(sim_run_until(&s, s.now + 1000 * SIM_MS, sim_all_up));
	/* Node 1 sends two control messages; the first DATA frame is kept for forging. */
	memset(&grab, 0, sizeof grab);
	grab.type = SHOAL_DATA;
	s.on_xmit = grab_from_1;
	CHECK(cluster_send(s.node[1].c, 0, CLUSTER_CH_CONTROL, "first", 5) == 0);
	sim_run_for(&s, 20 * SIM_MS);
	s.on_xmit = NULL;
	CHECK(grab.have);
	struct cluster_stats st0 = sim_stats(&s, 0);
	CHECK(sim_drops(&st0) == 0 && st0.messages_delivered == 1);

	CHECK(feed(&s, e_none, true) == -1);                    /* a duplicate: not a drop */
	CHECK(last.dup_frames == 1 && last.messages_delivered == 1);
	CHECK(feed(&s, e_dst_node, true) == DROP(drop_not_for_us));
	CHECK(feed(&s, e_dst_mac, true) == DROP(drop_not_for_us));
	CHECK(feed(&s, e_ethertype, false) == DROP(drop_not_for_us));
	CHECK(feed(&s, e_src_big, true) == DROP(drop_unknown_peer));
	CHECK(feed(&s, e_src_self, true) == DROP(drop_unknown_peer));
	CHECK(feed(&s, e_src_unknown, true) == DROP(drop_unknown_peer));
	CHECK(feed(&s, e_src_inc_new, true) == DROP(drop_unknown_peer));
	CHECK(feed(&s, e_dst_inc, true) == DROP(drop_stale_incarnation));
	CHECK(feed(&s, e_src_inc_old, true) == DROP(drop_stale_incarnation));
	CHECK(feed(&s, e_src_epoch, true) == DROP(drop_stale_incarnation));
	CHECK(feed(&s, e_dst_epoch, true) == DROP(drop_stale_incarnation));
	CHECK(feed(&s, e_seq_far, true) == DROP(drop_out_of_window));
	CHECK(feed(&s, e_seq_ancient, true) == DROP(drop_replay));
	CHECK(feed(&s, e_ack_future, true) == DROP(drop_out_of_window));
	CHECK(feed(&s, e_sack_future, true) == DROP(drop_out_of_window));
	CHECK(feed(&s, e_version, false) == DROP(drop_version));
	CHECK(feed(&s, e_badtag, false) == DROP(drop_tag));
	CHECK(feed(&s, e_to_ack, true) == -1);                  /* a valid, redundant ACK */
	CHECK(feed(&s, e_ack_extra_future, true) == DROP(drop_out_of_window));
	{
		/* Truncated and short frames. */
		struct cluster_stats b = sim_stats(&s, 0);
		sim_inject(&s, 0, grab.frame, grab.len - 1);
		sim_inject(&s, 0, grab.frame, 69);
		sim_inject(&s, 0, grab.frame, 0);
		last = sim_stats(&s, 0);
		CHECK(last.drop_length == b.drop_length + 1 && last.drop_short == b.drop_short + 2);
	}
	/* A frame at the far edge of the window is held (a hole before it), not dropped. */
	CHECK(feed(&s, e_seq_edge, true) == -1);
	CHECK(last.messages_delivered == 1);
	/* None of this disturbed the session. */
	CHECK(s.node[0].peer_up[1] && s.node[0].down_events[1] == 0);

	/* HELLOs: unicast ones are not for us. */
	memset(&grab, 0, sizeof grab);
	grab.type = SHOAL_HELLO;
	s.on_xmit = grab_from_1;
	sim_run_for(&s, 300 * SIM_MS);
	s.on_xmit = NULL;
	CHECK(grab.have);
	CHECK(feed(&s, e_hello_unicast, false) == DROP(drop_not_for_us));
	CHECK(feed(&s, e_none, false) == DROP(drop_replay));
	sim_fini(&s);
}

/* Random bytes, some dressed as Shoal frames: all dropped, each counted once, session intact. */
static void test_garbage_does_not_crash(void)
{
	struct sim s;
	uint64_t seed = 12345;
	uint8_t buf[1600];

	sim_init(&s, 2, 98);
	CHECK(sim_run_until(&s, s.now + 1000 * SIM_MS, sim_all_up));
	for (int i = 0; i < 20000; i++) {
		size_t len = rng_below(&seed, sizeof buf);
		for (size_t j = 0; j < len; j++)
			buf[j] = rng_next(&seed);
		if (len >= 16 && (i & 1)) {
			buf[12] = 0x88;
			buf[13] = 0xb5;
			buf[14] = 1;
			buf[15] = 1 + i % 3;
		}
		sim_inject(&s, 0, buf, len);
	}
	struct cluster_stats st = sim_stats(&s, 0);
	CHECK(st.frames_received >= 20000);
	CHECK(sim_drops(&st) == 20000);
	sim_run_for(&s, 500 * SIM_MS);
	CHECK(sim_all_up(&s));
	sim_fini(&s);
}

int main(void)
{
	RUN(test_data_round_trip);
	RUN(test_hello_round_trip);
	RUN(test_validation_rules);
	RUN(test_hello_entries_checked);
	RUN(test_engine_drops_each_once);
	RUN(test_garbage_does_not_crash);
	return check_done();
}
