/* tests/unit/test_net_transport.c: the reliable transport (net/transport.c) on the simulated
 * network: messages of every size arrive intact, once, in order, per channel; a 16 MiB message
 * survives 10% loss, 5% duplication and reordering; RPCs on the control channel are not held up
 * by a bulk stream; throughput and retransmissions stay sane under loss; peers that die take
 * their queues with them; refused memory and a refusing device only delay things.
 * Measured figures are printed (virtual time: 80 MB/s links, 100 us propagation). */
#include "tests/unit/net_sim.h"

#include <stdio.h>

static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static uint8_t *random_bytes(size_t n, uint64_t seed)
{
	uint8_t *p = malloc(n ? n : 1);

	for (size_t i = 0; i < n; i++) {
		if (i % 8 == 0)
			rng_next(&seed);
		p[i] = seed >> (8 * (i % 8));
	}
	return p;
}

/* ---- what arrived ---- */

#define LOG_MAX 64
static struct {
	int n;
	int from[LOG_MAX], ch[LOG_MAX];
	size_t len[LOG_MAX];
	uint64_t hash[LOG_MAX];
	uint64_t at[LOG_MAX];
} got;

static void log_rx(struct sim *s, int to, int from, int ch, void *msg, size_t len, bool *keep)
{
	(void)to; (void)keep;
	if (got.n < LOG_MAX) {
		got.from[got.n] = from;
		got.ch[got.n] = ch;
		got.len[got.n] = len;
		got.hash[got.n] = fnv(msg, len);
		got.at[got.n] = s->now;
	}
	got.n++;
}

static bool one_delivered(struct sim *s)
{
	(void)s;
	return got.n >= 1;
}

static void test_sizes_and_order(void)
{
	static const size_t sizes[] = { 0, 1, 100, 1443, 1444, 1445, 2888, 2889, 65536, 1000003 };
	const int n = sizeof sizes / sizeof sizes[0];
	uint64_t hashes[2 * 10];
	struct sim s;

	sim_init(&s, 2, 21);
	s.on_deliver = log_rx;
	memset(&got, 0, sizeof got);
	CHECK(sim_run_until(&s, s.now + 1000 * SIM_MS, sim_all_up));
	for (int ch = 0; ch < 2; ch++) {
		for (int i = 0; i < n; i++) {
			uint8_t *m = random_bytes(sizes[i], i + 100 * ch);
			hashes[ch * n + i] = fnv(m, sizes[i]);
			CHECK(cluster_send(s.node[0].c, 1, ch, m, sizes[i]) == 0);
			free(m);
		}
	}
	CHECK(cluster_backlog(s.node[0].c, 1) > 2000000);
	sim_run_for(&s, 1000 * SIM_MS);
	CHECK(got.n == 2 * n);
	for (int ch = 0, k = 0; ch < 2; ch++) {
		/* Per channel in order; channels interleave freely. */
		for (int i = 0; i < got.n && i < LOG_MAX; i++) {
			if (got.ch[i] != ch)
				continue;
			CHECKF(got.len[i] == sizes[k % n] && got.hash[i] == hashes[ch * n + k % n],
			       "channel %d message %d: %zu bytes", ch, k % n, got.len[i]);
			CHECK(got.from[i] == 0);
			k++;
		}
	}
	CHECK(cluster_backlog(s.node[0].c, 1) == 0);
	struct peer_info pi;
	CHECK(cluster_peer(s.node[0].c, 1, &pi) && pi.bytes_in_flight == 0 && pi.srtt_ns > 0);
	struct cluster_stats st = sim_stats(&s, 0), rst = sim_stats(&s, 1);
	CHECK(st.messages_sent == (uint64_t)(2 * n) && rst.messages_delivered == (uint64_t)(2 * n));
	CHECK(st.retransmits == 0 && rst.dup_frames == 0 && sim_drops(&rst) == 0);
	CHECK(cluster_send(s.node[0].c, 1, 2, "x", 1) == -22);
	CHECK(cluster_send(s.node[0].c, 0, 0, "x", 1) == -22);
	CHECK(cluster_send(s.node[0].c, 1, 0, "x", CLUSTER_MAX_MESSAGE + 1) == -90);
	sim_fini(&s);
}

struct transfer_result {
	double seconds, mbps;
	uint64_t data_frames, retransmits, fast_retransmits, wire_lost, dups, acks;
};

/* Sends one message of len bytes from node 0 to node 1 and checks it arrives intact. */
static uint64_t rx_cost_ns, rx_stall_ns;

static struct transfer_result transfer(uint64_t seed, size_t len, unsigned loss, unsigned dup,
				       unsigned reorder, bool precise, uint64_t txq_limit_ns)
{
	struct transfer_result r;
	struct sim s;

	memset(&r, 0, sizeof r);
	sim_init(&s, 2, seed);
	s.rx_cost_ns = rx_cost_ns;
	s.on_deliver = log_rx;
	s.precise = precise;
	if (txq_limit_ns)
		s.txq_limit_ns = txq_limit_ns;
	memset(&got, 0, sizeof got);
	CHECK(sim_run_until(&s, s.now + 1000 * SIM_MS, sim_all_up));
	s.loss_pct = loss;
	s.dup_pct = dup;
	s.reorder_pct = reorder;
	uint8_t *m = random_bytes(len, seed);
	uint64_t h = fnv(m, len);
	struct cluster_stats st0 = sim_stats(&s, 0);
	uint64_t lost0 = s.wire_lost, t0 = s.now;
	CHECK(cluster_send(s.node[0].c, 1, CLUSTER_CH_BULK, m, len) == 0);
	free(m);
	s.node[1].busy_until = s.now + rx_stall_ns;    /* e.g. mapping a big reassembly buffer */
	CHECK(sim_run_until(&s, s.now + 60000 * SIM_MS, one_delivered));
	CHECK(got.n == 1 && got.len[0] == len && got.hash[0] == h && got.ch[0] == CLUSTER_CH_BULK);
	r.seconds = (got.at[0] - t0) / 1e9;
	r.mbps = len / r.seconds / 1e6;
	sim_run_for(&s, 500 * SIM_MS);         /* the last acks, and nothing delivered twice */
	CHECK(got.n == 1);
	CHECK(cluster_backlog(s.node[0].c, 1) == 0);
	struct cluster_stats st = sim_stats(&s, 0), rst = sim_stats(&s, 1);
	r.data_frames = (len + 1443) / 1444;
	r.retransmits = st.retransmits - st0.retransmits;
	r.fast_retransmits = st.fast_retransmits - st0.fast_retransmits;
	r.wire_lost = s.wire_lost - lost0;
	r.dups = rst.dup_frames;
	r.acks = rst.acks_sent;
	CHECK(s.node[0].peer_up[1] && s.node[0].down_events[1] == 0);
	sim_fini(&s);
	return r;
}

static void print_result(const char *what, const struct transfer_result *r)
{
	printf("  %s: %.1f MB/s (%.3f s virtual), %llu data frames, %llu retransmits (%llu fast), "
	       "%llu lost on the wire, %llu duplicates received, %llu acks\n", what, r->mbps, r->seconds,
	       (unsigned long long)r->data_frames, (unsigned long long)r->retransmits,
	       (unsigned long long)r->fast_retransmits, (unsigned long long)r->wire_lost,
	       (unsigned long long)r->dups, (unsigned long long)r->acks);
}

static void test_16mib_under_faults(void)
{
	struct transfer_result r = transfer(31, 16u << 20, 10, 5, 5, true, 0);

	print_result("16 MiB, 10% loss 5% dup 5% reorder", &r);
	/* About 10% of data frames are lost once, 1% twice...; spurious resends stay few. */
	CHECKF(r.retransmits < r.data_frames / 5, "%llu retransmits", (unsigned long long)r.retransmits);
	CHECKF(r.mbps > 20, "%.1f MB/s", r.mbps);
}

static void test_throughput_does_not_collapse(void)
{
	struct transfer_result clean = transfer(41, 16u << 20, 0, 0, 0, true, 0);
	struct transfer_result lossy = transfer(41, 16u << 20, 10, 0, 0, true, 0);
	struct transfer_result coarse = transfer(41, 16u << 20, 10, 0, 0, false, 0);

	print_result("16 MiB, clean", &clean);
	print_result("16 MiB, 10% loss", &lossy);
	print_result("16 MiB, 10% loss, 10 ms ticks only", &coarse);
	CHECK(clean.retransmits == 0);
	/* The link carries 80 MB/s; headers and acks take a few percent. */
	CHECKF(clean.mbps > 70, "clean %.1f MB/s", clean.mbps);
	CHECKF(lossy.mbps > 0.6 * clean.mbps, "lossy %.1f MB/s vs clean %.1f", lossy.mbps, clean.mbps);
	CHECKF(coarse.mbps > 0.5 * clean.mbps, "coarse %.1f MB/s vs clean %.1f", coarse.mbps, clean.mbps);
	CHECKF(lossy.retransmits < 2 * lossy.wire_lost, "%llu retransmits for %llu lost",
	       (unsigned long long)lossy.retransmits, (unsigned long long)lossy.wire_lost);
}

/* A receiver slower than the link (as under TCG): frames queue up in front of it, the round
 * trip grows with the window; nothing may be resent that was not lost. */
static void test_slow_receiver(void)
{
	rx_cost_ns = 30 * SIM_US;
	struct transfer_result r = transfer(52, 16u << 20, 0, 0, 0, true, 0);
	print_result("16 MiB, receiver needs 30 us per frame", &r);
	CHECKF(r.retransmits < 50, "%llu retransmits", (unsigned long long)r.retransmits);
	CHECKF(r.dups < 50, "%llu duplicates", (unsigned long long)r.dups);
	r = transfer(53, 16u << 20, 10, 5, 5, true, 0);
	print_result("16 MiB, 30 us per frame, 10% loss 5% dup 5% reorder", &r);
	/* The receiver first stalls for 200 ms (longer than the initial RTO): a few timeouts fire,
	 * the originals then arrive late, and that must not look like the loss of everything. */
	rx_stall_ns = 200 * SIM_MS;
	r = transfer(54, 16u << 20, 0, 0, 0, true, 0);
	print_result("16 MiB, 30 us per frame, 200 ms stall first", &r);
	CHECKF(r.retransmits < 100, "%llu retransmits", (unsigned long long)r.retransmits);
	rx_stall_ns = 0;
	rx_cost_ns = 0;
}

static void test_refusing_device(void)
{
	/* A transmit queue of 100 us: the engine is refused constantly and must carry on. */
	struct transfer_result r = transfer(51, 4u << 20, 5, 0, 0, true, 100 * SIM_US);

	print_result("4 MiB, 5% loss, tiny TX queue", &r);
}

/* ---- latency of one bulk message on an idle link ---- */

/* Drops the DATA frame with this sequence number, once, as it leaves node 0 (-1: none). The
 * hook runs before the frame is put on the wire, so a cut link for just this frame does it. */
static long lat_drop_seq = -1;

static void lat_xmit(struct sim *s, int from, const uint8_t *frame, size_t len)
{
	const uint8_t *h = frame + 14;
	uint32_t seq;

	s->cut[0][1] = false;
	if (from != 0 || len < 14 + SHOAL_HLEN || h[1] != SHOAL_DATA || h[3] != CLUSTER_CH_BULK)
		return;
	seq = (uint32_t)h[24] << 24 | h[25] << 16 | h[26] << 8 | h[27];
	if ((long)seq == lat_drop_seq) {
		s->cut[0][1] = true;
		lat_drop_seq = -1;
	}
}

/* Virtual time from cluster_send to delivery of len bytes on the bulk channel; lost: which frame
 * of the message to drop (-1 none, -2 the last). The third message on the session is timed, so
 * the bulk channel has an RTT estimate, as on a cluster that has been up for a while. */
static double bulk_latency(size_t len, long lost)
{
	struct sim s;
	double t = 0;
	uint8_t *m = random_bytes(len, 5);
	uint32_t frames = len ? (len + 1443) / 1444 : 1, seq0 = 0;

	sim_init(&s, 2, 17);
	s.prop_ns = 300 * SIM_US;               /* 80 MB/s (sim_init), 0.6 ms round trip */
	s.on_deliver = log_rx;
	s.on_xmit = lat_xmit;
	CHECK(sim_run_until(&s, s.now + 1000 * SIM_MS, sim_all_up));
	for (int rep = 0; rep < 3; rep++) {
		sim_run_for(&s, 50 * SIM_MS);
		memset(&got, 0, sizeof got);
		if (rep == 2 && lost != -1)
			lat_drop_seq = seq0 + (lost == -2 ? frames - 1 : (uint32_t)lost);
		uint64_t t0 = s.now;
		CHECK(cluster_send(s.node[0].c, 1, CLUSTER_CH_BULK, m, len) == 0);
		CHECK(sim_run_until(&s, s.now + 5000 * SIM_MS, one_delivered));
		CHECK(got.n == 1 && got.len[0] == len);
		t = (got.at[0] - t0) / 1e9;
		seq0 += frames;
	}
	lat_drop_seq = -1;
	free(m);
	sim_fini(&s);
	return t;
}

/* What migrating a process costs the network: one message of its pages. On an idle link with no
 * loss every size is within a few percent of its size at link rate plus one round trip; a lost
 * frame is printed for reference (it costs a probe or a tick, see docs/PROTOCOL.md). */
static void test_bulk_latency(void)
{
	static const size_t sizes[] = { 16u << 10, 64u << 10, 256u << 10, 1u << 20, 4u << 20 };

	for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t len = sizes[i];
		long frames = (len + 1443) / 1444;
		double ideal = len / 80e6 + 600e-6;
		double clean = bulk_latency(len, -1);
		double mid = bulk_latency(len, frames * 3 / 4);
		double last = bulk_latency(len, -2);
		printf("  %4zu KiB bulk, 80 MB/s, 0.6 ms RTT: ideal %.2f ms; clean %.2f ms (x%.2f), "
		       "frame %ld of %ld lost %.2f ms (x%.2f), last frame lost %.2f ms (x%.2f)\n",
		       len >> 10, ideal * 1e3, clean * 1e3, clean / ideal, frames * 3 / 4, frames,
		       mid * 1e3, mid / ideal, last * 1e3, last / ideal);
		CHECKF(clean < 1.2 * ideal, "%zu bytes: %.2f ms, ideal %.2f ms", len, clean * 1e3,
		       ideal * 1e3);
	}
}

/* ---- RPCs on the control channel while bulk streams both ways ---- */

#define NRPC 1000
static struct {
	int issued, done, next_expected, outstanding;
	uint64_t sent_at[NRPC];
	uint64_t max_lat, sum_lat;
	int errors;
	uint64_t bulk_bytes[2];
	int bulk_msgs[2];
} rpc;

static void rpc_issue(struct sim *s)
{
	while (rpc.issued < NRPC && rpc.outstanding < 4) {
		uint8_t req[64];
		memset(req, 0xab, sizeof req);
		memcpy(req, &rpc.issued, sizeof rpc.issued);
		rpc.sent_at[rpc.issued] = s->now;
		CHECK(cluster_send(s->node[0].c, 1, CLUSTER_CH_CONTROL, req, sizeof req) == 0);
		rpc.issued++;
		rpc.outstanding++;
	}
}

static void rpc_rx(struct sim *s, int to, int from, int ch, void *msg, size_t len, bool *keep)
{
	(void)keep;
	if (ch == CLUSTER_CH_BULK) {
		rpc.bulk_bytes[to] += len;
		rpc.bulk_msgs[to]++;
		return;
	}
	if (to == 1) {
		/* The server answers from inside the upcall, as a real handler may. */
		int r = cluster_send(s->node[1].c, from, CLUSTER_CH_CONTROL, msg, len);
		if (r)
			rpc.errors++;
		return;
	}
	int id;
	memcpy(&id, msg, sizeof id);
	if (len != 64 || id != rpc.next_expected) {
		rpc.errors++;
		return;
	}
	uint64_t lat = s->now - rpc.sent_at[id];
	rpc.sum_lat += lat;
	if (lat > rpc.max_lat)
		rpc.max_lat = lat;
	rpc.next_expected++;
	rpc.done++;
	rpc.outstanding--;
	rpc_issue(s);
}

static uint8_t *bulk_buf;

static bool rpc_all_done(struct sim *s)
{
	/* Keep both bulk streams busy: a few MiB queued each way at all times. */
	for (int i = 0; i < 2; i++)
		if (cluster_backlog(s->node[i].c, 1 - i) < (2u << 20))
			CHECK(cluster_send(s->node[i].c, 1 - i, CLUSTER_CH_BULK, bulk_buf, 1u << 20) == 0);
	return rpc.done == NRPC;
}

static void rpc_during_bulk(unsigned loss, uint64_t bulk_txq_limit_ns, uint64_t max_latency_ns)
{
	struct sim s;

	sim_init(&s, 2, 61);
	s.bulk_txq_limit_ns = bulk_txq_limit_ns;
	memset(&rpc, 0, sizeof rpc);
	bulk_buf = random_bytes(1u << 20, 7);
	s.on_deliver = rpc_rx;
	CHECK(sim_run_until(&s, s.now + 1000 * SIM_MS, sim_all_up));
	s.loss_pct = loss;
	s.dup_pct = loss / 2;
	s.reorder_pct = loss / 2;
	uint64_t t0 = s.now;
	rpc_issue(&s);
	CHECK(sim_run_until(&s, s.now + 120000 * SIM_MS, rpc_all_done));
	double secs = (s.now - t0) / 1e9;
	printf("  %d RPCs in %.2f s virtual, %u%% loss, %u%% dup, %u%% reorder, bulk both ways "
	       "limited to %llu us of TX queue: mean %.2f ms, max %.1f ms; bulk meanwhile %.1f and "
	       "%.1f MB/s\n", rpc.done, secs, loss, loss / 2, loss / 2,
	       (unsigned long long)((bulk_txq_limit_ns ? bulk_txq_limit_ns : s.txq_limit_ns) / SIM_US),
	       rpc.sum_lat / 1e6 / (rpc.done ? rpc.done : 1), rpc.max_lat / 1e6,
	       rpc.bulk_bytes[1] / secs / 1e6, rpc.bulk_bytes[0] / secs / 1e6);
	CHECK(rpc.done == NRPC && rpc.errors == 0);
	sim_run_for(&s, 500 * SIM_MS);
	CHECK(rpc.done == NRPC && rpc.errors == 0);     /* nothing twice */
	CHECK(rpc.bulk_msgs[0] > 0 && rpc.bulk_msgs[1] > 0);
	/* Control frames never queue behind the bulk window: a lost request costs an RTO at worst. */
	CHECKF(rpc.max_lat < max_latency_ns, "max RPC latency %llu ms", (unsigned long long)(rpc.max_lat / SIM_MS));
	sim_fini(&s);
	free(bulk_buf);
}

static void test_rpc_during_bulk(void)
{
	/* A device queue shared first come first served: RPCs wait behind queued bulk frames. */
	rpc_during_bulk(10, 0, 200 * SIM_MS);
	/* The glue keeps room for control frames (see docs/PROTOCOL.md): RPCs barely notice. */
	rpc_during_bulk(10, 300 * SIM_US, 100 * SIM_MS);
	rpc_during_bulk(0, 300 * SIM_US, 3 * SIM_MS);
}

/* ---- failures ---- */

static void test_peer_dies_mid_transfer(void)
{
	struct sim s;

	sim_init(&s, 2, 71);
	s.on_deliver = log_rx;
	memset(&got, 0, sizeof got);
	CHECK(sim_run_until(&s, s.now + 1000 * SIM_MS, sim_all_up));
	uint8_t *m = random_bytes(8u << 20, 3);
	CHECK(cluster_send(s.node[0].c, 1, CLUSTER_CH_BULK, m, 8u << 20) == 0);
	CHECK(cluster_send(s.node[0].c, 1, CLUSTER_CH_BULK, m, 1000) == 0);
	CHECK(cluster_send(s.node[0].c, 1, CLUSTER_CH_CONTROL, m, 10) == 0);
	sim_run_for(&s, 30 * SIM_MS);
	sim_kill(&s, 1);
	CHECK(cluster_backlog(s.node[0].c, 1) > 0);
	sim_run_for(&s, 2000 * SIM_MS);
	CHECK(!s.node[0].peer_up[1]);
	CHECK(cluster_backlog(s.node[0].c, 1) == 0);
	struct cluster_stats st = sim_stats(&s, 0);
	CHECKF(st.messages_dropped == 2, "%llu dropped", (unsigned long long)st.messages_dropped);
	/* The retransmission timer backed off while the peer was silent. */
	CHECKF(st.retransmits < 200, "%llu retransmits to a dead peer", (unsigned long long)st.retransmits);
	CHECK(got.n == 1);                      /* only the control message made it */
	/* The receiver's partial reassembly is freed with its engine (no leak, checked at fini). */
	sim_shutdown(&s, 1);
	CHECK(sim_boot(&s, 1, 0x9999, NULL) == 0);
	CHECK(sim_run_until(&s, s.now + 3000 * SIM_MS, sim_all_up));
	CHECK(cluster_send(s.node[0].c, 1, CLUSTER_CH_BULK, m, 8u << 20) == 0);
	CHECK(sim_run_until(&s, s.now + 5000 * SIM_MS, NULL) || true);
	CHECK(got.n == 2 && got.len[1] == (8u << 20) && got.hash[1] == fnv(m, 8u << 20));
	free(m);
	sim_fini(&s);
}

static void test_receiver_out_of_memory(void)
{
	struct sim s;

	sim_init(&s, 2, 81);
	s.on_deliver = log_rx;
	memset(&got, 0, sizeof got);
	CHECK(sim_run_until(&s, s.now + 1000 * SIM_MS, sim_all_up));
	s.loss_pct = 5;
	uint8_t *m = random_bytes(3u << 20, 9);
	/* No allocation above 64 KiB for a while: the 3 MiB reassembly buffer is refused. */
	s.node[1].alloc_budget = 65536;
	CHECK(cluster_send(s.node[0].c, 1, CLUSTER_CH_BULK, m, 3u << 20) == 0);
	CHECK(cluster_send(s.node[0].c, 1, CLUSTER_CH_CONTROL, "small", 5) == 0);
	sim_run_for(&s, 300 * SIM_MS);
	CHECK(got.n == 1 && got.ch[0] == CLUSTER_CH_CONTROL);   /* control is not stuck behind */
	/* Then nothing at all for a moment: a control message cannot even be held. */
	s.node[1].refuse_allocs = true;
	CHECK(cluster_send(s.node[0].c, 1, CLUSTER_CH_CONTROL, "later", 5) == 0);
	sim_run_for(&s, 100 * SIM_MS);
	CHECK(got.n == 1);
	s.node[1].refuse_allocs = false;
	s.node[1].alloc_budget = 0;
	CHECK(sim_run_until(&s, s.now + 5000 * SIM_MS, NULL) || true);
	CHECK(got.n == 3);
	for (int i = 1; i < 3 && i < got.n; i++)
		CHECK(got.ch[i] == CLUSTER_CH_CONTROL ? got.len[i] == 5 :
		      got.len[i] == (3u << 20) && got.hash[i] == fnv(m, 3u << 20));
	struct cluster_stats st = sim_stats(&s, 1);
	CHECK(st.drop_no_memory > 0);
	CHECK(s.node[0].peer_up[1] && s.node[1].peer_up[0]);
	free(m);
	sim_fini(&s);
}

/* Every sender pays O(1) per frame: a big window full of holes must not cost a scan per ack. */
static void test_many_peers_many_messages(void)
{
	struct sim s;

	sim_init(&s, 4, 91);
	s.on_deliver = log_rx;
	memset(&got, 0, sizeof got);
	CHECK(sim_run_until(&s, s.now + 2000 * SIM_MS, sim_all_up));
	s.loss_pct = 10;
	s.dup_pct = 5;
	s.reorder_pct = 5;
	uint8_t *m = random_bytes(1u << 20, 5);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			if (i != j)
				CHECK(cluster_send(s.node[i].c, j, CLUSTER_CH_BULK, m, 1u << 20) == 0);
	sim_run_for(&s, 5000 * SIM_MS);
	CHECK(got.n == 12);
	for (int i = 0; i < got.n && i < LOG_MAX; i++)
		CHECK(got.len[i] == (1u << 20) && got.hash[i] == fnv(m, 1u << 20));
	CHECK(sim_all_up(&s));
	free(m);
	sim_fini(&s);
}

int main(void)
{
	RUN(test_sizes_and_order);
	RUN(test_16mib_under_faults);
	RUN(test_throughput_does_not_collapse);
	RUN(test_slow_receiver);
	RUN(test_refusing_device);
	RUN(test_bulk_latency);
	RUN(test_rpc_during_bulk);
	RUN(test_peer_dies_mid_transfer);
	RUN(test_receiver_out_of_memory);
	RUN(test_many_peers_many_messages);
	return check_done();
}
