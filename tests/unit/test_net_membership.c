/* tests/unit/test_net_membership.c: membership in the protocol engine (net/membership.c) on the
 * simulated network: peers come up through the HELLO handshake, go down after silence, rejoin
 * after a restart (new incarnation) or a healed partition (same incarnation), and stale,
 * replayed or wrongly keyed frames are dropped and counted. */
#include "tests/unit/net_sim.h"

#include <stdio.h>

/* ---- frames captured on the wire, to replay them later ---- */

#define CAP_MAX 64
static struct {
	int from[CAP_MAX];
	uint8_t type[CAP_MAX];
	size_t len[CAP_MAX];
	uint8_t data[CAP_MAX][1514];
	int n;
	int only_from;                  /* -1: any */
} cap;

static void capture(struct sim *s, int from, const uint8_t *frame, size_t len)
{
	(void)s;
	if (cap.n == CAP_MAX || (cap.only_from >= 0 && from != cap.only_from) || len > 1514)
		return;
	cap.from[cap.n] = from;
	cap.type[cap.n] = frame[ETH_HLEN + 1];
	cap.len[cap.n] = len;
	memcpy(cap.data[cap.n], frame, len);
	cap.n++;
}

static int cap_find(int from, int type)
{
	for (int i = cap.n - 1; i >= 0; i--)
		if (cap.from[i] == from && cap.type[i] == type)
			return i;
	return -1;
}

static void cap_reset(int only_from)
{
	cap.n = 0;
	cap.only_from = only_from;
}

static struct {
	int got[SIM_MAX][SIM_MAX];
} rx;

static void count_rx(struct sim *s, int to, int from, int ch, void *msg, size_t len, bool *keep)
{
	(void)s; (void)ch; (void)msg; (void)len; (void)keep;
	rx.got[to][from]++;
}

static void test_two_nodes_come_up(void)
{
	struct sim s;

	sim_init(&s, 2, 1);
	uint64_t t0 = s.now;
	CHECK(sim_run_until(&s, t0 + 2000 * SIM_MS, sim_all_up));
	/* The first HELLOs go out at once and the handshake is triggered: well under a second. */
	CHECKF(s.now - t0 < 100 * SIM_MS, "up after %llu ms", (unsigned long long)((s.now - t0) / SIM_MS));
	printf("  both up %.1f ms after boot\n", (s.now - t0) / 1e6);
	sim_run_for(&s, 3000 * SIM_MS);
	for (int i = 0; i < 2; i++) {
		CHECK(s.node[i].up_events[1 - i] == 1);
		CHECK(s.node[i].down_events[1 - i] == 0);
		CHECK(s.node[i].peer_inc[1 - i] == 0x1000u + (1 - i));
		struct peer_info pi;
		CHECK(cluster_peer(s.node[i].c, 1 - i, &pi));
		CHECK(pi.up);
		CHECK(pi.incarnation == 0x1000u + (1 - i));
		uint8_t mac[6];
		sim_mac(mac, 1 - i);
		CHECK(memcmp(pi.mac, mac, 6) == 0);
		CHECK(!cluster_peer(s.node[i].c, i, &pi));      /* not itself */
		CHECK(!cluster_peer(s.node[i].c, 3, &pi));      /* never heard */
		struct cluster_stats st = sim_stats(&s, i);
		CHECK(sim_drops(&st) == 0);
		/* ~5 HELLOs a second plus the few the handshake triggers. */
		CHECKF(st.hellos_sent >= 15 && st.hellos_sent <= 25, "%llu hellos",
		       (unsigned long long)st.hellos_sent);
	}
	sim_fini(&s);
}

static void test_load_info_travels(void)
{
	struct sim s;
	struct peer_info pi;

	sim_init(&s, 2, 2);
	cluster_set_local_info(s.node[1].c, 7, 12345, 42);
	sim_run_for(&s, 500 * SIM_MS);
	CHECK(cluster_peer(s.node[0].c, 1, &pi));
	CHECK(pi.load == 7 && pi.free_pages == 12345 && pi.nprocs == 42);
	CHECK(pi.last_heard_ns > s.now - 250 * SIM_MS);
	sim_fini(&s);
}

static void test_config_validation(void)
{
	struct sim s;
	struct cluster_config cfg;
	struct cluster *c = malloc(cluster_size());

	sim_init(&s, 1, 3);
	struct net_env env = {
		.ctx = &s.node[0], .now_ns = sim_env_now, .xmit = sim_env_xmit, .alloc = sim_env_alloc,
		.free = sim_env_free, .deliver = sim_env_deliver, .peer_event = sim_env_peer_event,
	};
	memset(&cfg, 0, sizeof cfg);
	cfg.self = 1;
	cfg.incarnation = 5;
	CHECK(cluster_init(c, &cfg, &env) == 0);        /* zeros mean defaults */
	cluster_fini(c);
	cfg.self = CLUSTER_MAX_NODES;
	CHECK(cluster_init(c, &cfg, &env) == -22);
	cfg.self = -1;
	CHECK(cluster_init(c, &cfg, &env) == -22);
	cfg.self = 1;
	cfg.incarnation = 0;
	CHECK(cluster_init(c, &cfg, &env) == -22);
	cfg.incarnation = 5;
	cfg.mtu = 576;
	CHECK(cluster_init(c, &cfg, &env) == -22);
	cfg.mtu = 9001;
	CHECK(cluster_init(c, &cfg, &env) == -22);
	cfg.mtu = 9000;
	cfg.hello_interval_ms = 1000;
	cfg.dead_after_ms = 1500;
	CHECK(cluster_init(c, &cfg, &env) == -22);
	cfg.dead_after_ms = 2000;
	CHECK(cluster_init(c, &cfg, &env) == 0);
	cluster_fini(c);
	free(c);
	sim_fini(&s);
}

static void test_silent_peer_goes_down(void)
{
	struct sim s;

	sim_init(&s, 3, 4);
	CHECK(sim_run_until(&s, s.now + 2000 * SIM_MS, sim_all_up));
	sim_run_for(&s, 1000 * SIM_MS);
	uint64_t killed = s.now;
	sim_kill(&s, 2);
	sim_run_for(&s, 2500 * SIM_MS);
	for (int i = 0; i < 2; i++) {
		CHECK(!s.node[i].peer_up[2]);
		CHECK(s.node[i].down_events[2] == 1);
		uint64_t after = s.node[i].down_at[2] - killed;
		/* dead_after (1500) + one hello interval (200) at most. */
		CHECKF(after <= 1700 * SIM_MS && after >= 1300 * SIM_MS, "node %d: down %llu ms after the kill",
		       i, (unsigned long long)(after / SIM_MS));
		CHECK(s.node[i].peer_up[1 - i]);                /* the others stay up */
		CHECK(s.node[i].down_events[1 - i] == 0);
	}
	CHECK(cluster_send(s.node[0].c, 2, CLUSTER_CH_CONTROL, "x", 1) == -112);
	sim_fini(&s);
}

static void test_restart_new_incarnation(void)
{
	struct sim s;

	sim_init(&s, 2, 5);
	s.on_deliver = count_rx;
	memset(&rx, 0, sizeof rx);
	cap_reset(1);
	s.on_xmit = capture;
	CHECK(sim_run_until(&s, s.now + 2000 * SIM_MS, sim_all_up));
	CHECK(cluster_send(s.node[1].c, 0, CLUSTER_CH_CONTROL, "old life", 8) == 0);
	sim_run_for(&s, 100 * SIM_MS);
	CHECK(rx.got[0][1] == 1);
	int old_data = cap_find(1, SHOAL_DATA), old_hello = cap_find(1, SHOAL_HELLO);
	CHECK(old_data >= 0 && old_hello >= 0);
	s.on_xmit = NULL;

	/* Node 1 reboots quickly (before it could be declared dead) with a new incarnation;
	 * what node 0 had queued for it is dropped and counted. */
	CHECK(cluster_send(s.node[0].c, 1, CLUSTER_CH_BULK, "lost", 4) == 0);
	sim_kill(&s, 1);
	sim_run_for(&s, 50 * SIM_MS);
	sim_shutdown(&s, 1);
	CHECK(sim_boot(&s, 1, 0x2000, NULL) == 0);
	CHECK(sim_run_until(&s, s.now + 1000 * SIM_MS, sim_all_up));
	CHECK(s.node[0].down_events[1] == 1);
	CHECK(s.node[0].up_events[1] == 2);
	CHECK(s.node[0].peer_inc[1] == 0x2000);
	struct cluster_stats st = sim_stats(&s, 0);
	CHECK(st.messages_dropped == 1);
	CHECK(st.peer_down_events == 1 && st.peer_up_events == 2);

	/* Frames of the old life are stale now. */
	uint64_t drops = sim_drops(&st);
	sim_inject(&s, 0, cap.data[old_data], cap.len[old_data]);
	sim_inject(&s, 0, cap.data[old_hello], cap.len[old_hello]);
	st = sim_stats(&s, 0);
	CHECK(st.drop_stale_incarnation == 2);
	CHECK(sim_drops(&st) == drops + 2);
	CHECK(s.node[0].peer_up[1]);

	/* Traffic resumes with the new life. */
	CHECK(cluster_send(s.node[0].c, 1, CLUSTER_CH_CONTROL, "hello again", 11) == 0);
	sim_run_for(&s, 100 * SIM_MS);
	CHECK(rx.got[1][0] == 1);
	sim_fini(&s);
}

static void test_replayed_hello_dropped(void)
{
	struct sim s;

	sim_init(&s, 2, 6);
	cap_reset(1);
	s.on_xmit = capture;
	CHECK(sim_run_until(&s, s.now + 2000 * SIM_MS, sim_all_up));
	sim_run_for(&s, 500 * SIM_MS);
	s.on_xmit = NULL;
	int h = cap_find(1, SHOAL_HELLO);
	CHECK(h >= 0);
	struct cluster_stats before = sim_stats(&s, 0);
	for (int i = 0; i < 5; i++)
		sim_inject(&s, 0, cap.data[h], cap.len[h]);
	struct cluster_stats after = sim_stats(&s, 0);
	CHECK(after.drop_replay == before.drop_replay + 5);
	CHECK(sim_drops(&after) == sim_drops(&before) + 5);
	CHECK(after.hellos_received == before.hellos_received);
	CHECK(s.node[0].up_events[1] == 1 && s.node[0].down_events[1] == 0);
	sim_fini(&s);
}

static void test_other_key_never_joins(void)
{
	struct sim s;
	uint8_t key[16] = "not the cluster";

	sim_init(&s, 3, 7);
	sim_shutdown(&s, 2);
	CHECK(sim_boot(&s, 2, 0x3000, key) == 0);
	sim_run_for(&s, 3000 * SIM_MS);
	CHECK(s.node[0].peer_up[1] && s.node[1].peer_up[0]);
	for (int i = 0; i < 2; i++) {
		struct peer_info pi;
		CHECK(!s.node[i].peer_up[2] && s.node[i].up_events[2] == 0);
		CHECK(!cluster_peer(s.node[i].c, 2, &pi));
		struct cluster_stats st = sim_stats(&s, i);
		CHECKF(st.drop_tag >= 14, "node %d: %llu bad tags", i, (unsigned long long)st.drop_tag);
		CHECK(sim_drops(&st) == st.drop_tag);
		CHECK(s.node[2].up_events[i] == 0);
	}
	struct cluster_stats st = sim_stats(&s, 2);
	CHECK(st.drop_tag >= 28 && sim_drops(&st) == st.drop_tag);
	sim_fini(&s);
}

/* A partition that heals without a reboot: both sides time out, then a fresh session is
 * negotiated (same incarnations, new epochs) and nothing of the old one is accepted. */
static void test_partition_heals(void)
{
	struct sim s;

	sim_init(&s, 2, 8);
	s.on_deliver = count_rx;
	memset(&rx, 0, sizeof rx);
	CHECK(sim_run_until(&s, s.now + 2000 * SIM_MS, sim_all_up));
	cap_reset(0);
	s.on_xmit = capture;
	CHECK(cluster_send(s.node[0].c, 1, CLUSTER_CH_CONTROL, "before", 6) == 0);
	sim_run_for(&s, 50 * SIM_MS);
	s.on_xmit = NULL;
	int old_data = cap_find(0, SHOAL_DATA);
	CHECK(old_data >= 0);
	CHECK(rx.got[1][0] == 1);
	s.cut[0][1] = s.cut[1][0] = true;
	sim_run_for(&s, 2000 * SIM_MS);
	CHECK(!s.node[0].peer_up[1] && !s.node[1].peer_up[0]);
	s.cut[0][1] = s.cut[1][0] = false;
	CHECK(sim_run_until(&s, s.now + 1000 * SIM_MS, sim_all_up));
	for (int i = 0; i < 2; i++)
		CHECK(s.node[i].up_events[1 - i] == 2 && s.node[i].down_events[1 - i] == 1);
	struct cluster_stats before = sim_stats(&s, 1);
	sim_inject(&s, 1, cap.data[old_data], cap.len[old_data]);
	struct cluster_stats after = sim_stats(&s, 1);
	CHECK(after.drop_stale_incarnation == before.drop_stale_incarnation + 1);
	CHECK(rx.got[1][0] == 1);
	CHECK(cluster_send(s.node[0].c, 1, CLUSTER_CH_CONTROL, "after", 5) == 0);
	sim_run_for(&s, 50 * SIM_MS);
	CHECK(rx.got[1][0] == 2);
	sim_fini(&s);
}

/* One direction cut: the deaf side times the peer out, and its next HELLO (without the peer
 * in its view) makes the other side drop the session too: down is seen on both sides. */
static void test_one_way_cut_is_down_everywhere(void)
{
	struct sim s;

	sim_init(&s, 2, 9);
	CHECK(sim_run_until(&s, s.now + 2000 * SIM_MS, sim_all_up));
	s.cut[1][0] = true;
	sim_run_for(&s, 2000 * SIM_MS);
	CHECK(s.node[0].down_events[1] == 1);
	CHECK(s.node[1].down_events[0] == 1);
	CHECK(!s.node[0].peer_up[1] && !s.node[1].peer_up[0]);
	sim_run_for(&s, 2000 * SIM_MS);
	CHECK(!s.node[0].peer_up[1] && !s.node[1].peer_up[0]);     /* no flapping meanwhile */
	CHECK(s.node[1].up_events[0] == 1);
	s.cut[1][0] = false;
	CHECK(sim_run_until(&s, s.now + 1000 * SIM_MS, sim_all_up));
	sim_fini(&s);
}

/* Four nodes: all up, one killed is declared down by all, its restart rejoins everywhere. */
static void test_four_nodes_kill_restart(void)
{
	struct sim s;

	sim_init(&s, 4, 10);
	s.loss_pct = 10;
	s.dup_pct = 5;
	s.reorder_pct = 5;
	s.on_deliver = count_rx;
	memset(&rx, 0, sizeof rx);
	uint64_t t0 = s.now;
	CHECK(sim_run_until(&s, s.now + 3000 * SIM_MS, sim_all_up));
	printf("  4 nodes all up %.1f ms after boot (10%% loss, 5%% dup, 5%% reorder)\n", (s.now - t0) / 1e6);
	sim_run_for(&s, 1000 * SIM_MS);
	uint64_t killed = s.now;
	sim_kill(&s, 3);
	sim_run_for(&s, 2000 * SIM_MS);
	for (int i = 0; i < 3; i++) {
		CHECK(!s.node[i].peer_up[3] && s.node[i].down_events[3] == 1);
		CHECKF(s.node[i].down_at[3] - killed <= 1700 * SIM_MS, "node %d: %llu ms", i,
		       (unsigned long long)((s.node[i].down_at[3] - killed) / SIM_MS));
	}
	sim_shutdown(&s, 3);
	CHECK(sim_boot(&s, 3, 0x4000, NULL) == 0);
	t0 = s.now;
	CHECK(sim_run_until(&s, s.now + 3000 * SIM_MS, sim_all_up));
	printf("  restarted node back up everywhere %.1f ms after its boot\n", (s.now - t0) / 1e6);
	for (int i = 0; i < 3; i++) {
		CHECK(s.node[i].peer_inc[3] == 0x4000);
		CHECK(cluster_send(s.node[i].c, 3, CLUSTER_CH_CONTROL, "hi", 2) == 0);
	}
	sim_run_for(&s, 500 * SIM_MS);
	for (int i = 0; i < 3; i++)
		CHECK(rx.got[3][i] == 1);
	sim_fini(&s);
}

/* A restart with a LOWER incarnation (random incarnations) rejoins once the old life is dead. */
static void test_restart_lower_incarnation(void)
{
	struct sim s;

	sim_init(&s, 2, 11);
	CHECK(sim_run_until(&s, s.now + 2000 * SIM_MS, sim_all_up));
	uint64_t killed = s.now;
	sim_kill(&s, 1);
	sim_shutdown(&s, 1);
	CHECK(sim_boot(&s, 1, 0x10, NULL) == 0);
	CHECK(sim_run_until(&s, s.now + 3000 * SIM_MS, sim_all_up));
	CHECK(s.now - killed < 1900 * SIM_MS);
	CHECK(s.node[0].peer_inc[1] == 0x10);
	CHECK(s.node[0].down_events[1] == 1 && s.node[0].up_events[1] == 2);
	sim_fini(&s);
}

int main(void)
{
	RUN(test_two_nodes_come_up);
	RUN(test_load_info_travels);
	RUN(test_config_validation);
	RUN(test_silent_peer_goes_down);
	RUN(test_restart_new_incarnation);
	RUN(test_replayed_hello_dropped);
	RUN(test_other_key_never_joins);
	RUN(test_partition_heals);
	RUN(test_one_way_cut_is_down_everywhere);
	RUN(test_four_nodes_kill_restart);
	RUN(test_restart_lower_incarnation);
	return check_done();
}
