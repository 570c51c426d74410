/* tests/fuzz/make_seeds.c: writes the seed corpora in tests/fuzz/corpus/ (`make fuzz-seeds`).
 * The frames are captured from the same deterministic cluster the harnesses build, so they
 * carry the identifiers the target expects; structured seeds spell out fragment sequences. */
#include "tests/fuzz/fuzz_common.h"

#include <stdio.h>

#define CAP 48
static struct {
	uint8_t data[CAP][1600];
	size_t len[CAP];
	uint8_t type[CAP];
	int n;
} cap;

static void grab(struct sim *s, int from, const uint8_t *frame, size_t len)
{
	(void)s;
	if (from == 0 || cap.n == CAP || len > 1600)
		return;
	memcpy(cap.data[cap.n], frame, len);
	cap.len[cap.n] = len;
	cap.type[cap.n] = frame[ETH_HLEN + 1];
	cap.n++;
}

static const char *dir;
static int nfile;
static uint8_t out[65536];
static size_t olen;

static void put(const void *p, size_t n)
{
	memcpy(out + olen, p, n);
	olen += n;
}

static void op_frame(int i)
{
	uint8_t op = 0;
	uint16_t len = cap.len[i];

	put(&op, 1);
	put(&len, 2);
	put(cap.data[i], len);
}

static void op_time(uint8_t t)
{
	uint8_t op[2] = { 1, t };

	put(op, 2);
}

static void op_send(uint8_t peer, uint8_t ch, uint8_t n)
{
	uint8_t op[4] = { 2, peer, ch, n };

	put(op, 4);
}

static void op_mem(uint8_t m)
{
	uint8_t op[2] = { 4, m };

	put(op, 2);
}

static void op_forge(uint8_t type, uint8_t flags, uint8_t ch, int16_t seq, int16_t ack,
		     uint64_t sack, uint32_t msg_len, uint16_t len)
{
	uint8_t op = 3;
	struct forge f = { 1, type, flags, ch, seq, ack, sack, msg_len, len, 0, 0, 0, 0 };

	put(&op, 1);
	put(&f, sizeof f);
	for (uint16_t i = 0; i < len; i++) {
		uint8_t b = (uint8_t)(i * 7);
		put(&b, 1);
	}
}

static void flush(void)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/seed-%02d", dir, nfile++);
	f = fopen(path, "wb");
	if (!f || fwrite(out, 1, olen, f) != olen) {
		perror(path);
		exit(1);
	}
	fclose(f);
	olen = 0;
}

int main(int argc, char **argv)
{
	struct sim s;

	if (argc != 3) {
		fprintf(stderr, "usage: make_seeds INPUT_DIR TRANSPORT_DIR\n");
		return 2;
	}
	fuzz_setup(&s);
	s.on_xmit = grab;
	cluster_send(s.node[1].c, 0, CLUSTER_CH_BULK, fuzz_msg, 4000);
	cluster_send(s.node[2].c, 0, CLUSTER_CH_CONTROL, fuzz_msg, 10);
	sim_run_for(&s, 300 * SIM_MS);
	fuzz_teardown(&s);

	/* fuzz_input: captured frames alone and in short sequences. */
	dir = argv[1];
	int per_type[4] = { 0 };
	for (int i = 0; i < cap.n; i++) {
		if (cap.type[i] > 3 || per_type[cap.type[i]]++ >= 5)
			continue;
		op_frame(i);
		flush();
	}
	for (int i = 0; i + 2 < cap.n && i < 12; i += 3) {
		op_frame(i);
		op_time(3);
		op_frame(i + 1);
		op_frame(i + 2);
		op_time(50);
		flush();
	}
	op_send(1, 1, 200);
	op_time(10);
	op_send(2, 0, 3);
	op_time(200);
	flush();
	op_mem(1);
	op_frame(0);
	op_time(20);
	op_mem(0);
	op_time(100);
	flush();
	{
		uint8_t op = 5;
		put(&op, 1);
		op_time(255);
		op_time(255);
		flush();
	}

	/* fuzz_transport: fragment sequences, holes, duplicates, acks. */
	dir = argv[2];
	nfile = 0;
	op_forge(SHOAL_DATA, 3, 0, 0, 0, 0, 10, 10);
	flush();
	op_forge(SHOAL_DATA, 1, 1, 0, 0, 0, 3000, 1444);
	op_forge(SHOAL_DATA, 0, 1, 0, 0, 0, 0, 1444);
	op_forge(SHOAL_DATA, 2, 1, 0, 0, 0, 0, 112);
	flush();
	op_forge(SHOAL_DATA, 0, 1, 1, 0, 0, 0, 1444);
	op_forge(SHOAL_DATA, 2, 1, 2, 0, 0, 0, 112);
	op_forge(SHOAL_DATA, 1, 1, 0, 0, 0, 3000, 1444);
	flush();
	op_forge(SHOAL_DATA, 3, 0, 0, 0, 0, 5, 5);
	op_forge(SHOAL_DATA, 3, 0, -1, 0, 0, 5, 5);
	op_forge(SHOAL_DATA, 3, 0, 5, 0, 0, 5, 5);
	op_time(30);
	flush();
	op_forge(SHOAL_ACK, 0, 1, 0, 1, 0x5, 0, 0);
	op_forge(SHOAL_ACK, 0, 1, 0, 4, 0, 0, 16);
	op_time(40);
	flush();
	op_send(1, 1, 255);
	op_time(1);
	op_forge(SHOAL_ACK, 0, 1, 0, 2, 0xf0, 0, 0);
	op_forge(SHOAL_DATA, 3, 1, 0, 3, 0, 1, 1);
	op_time(100);
	flush();
	op_forge(SHOAL_DATA, 1, 1, 0, 0, 0, 2000000, 1444);
	op_mem(2);
	op_forge(SHOAL_DATA, 0, 1, 1, 0, 0, 0, 1444);
	op_mem(0);
	op_time(60);
	flush();
	op_forge(SHOAL_DATA, 0, 0, 0, 0, 0, 0, 100);
	op_forge(SHOAL_DATA, 2, 0, 1, 0, 0, 0, 100);
	op_forge(SHOAL_DATA, 1, 0, 2, 0, 0, 50, 100);
	flush();
	op_forge(SHOAL_DATA, 3, 0, 31, 0, 0, 7, 7);
	op_forge(SHOAL_DATA, 3, 0, 32, 0, 0, 7, 7);
	op_forge(SHOAL_DATA, 3, 0, -33, 0, 0, 7, 7);
	op_forge(SHOAL_ACK, 0, 0, 0, 100, 0, 0, 0);
	flush();
	{
		uint8_t op = 5;
		put(&op, 1);
		op_time(100);
		op_forge(SHOAL_DATA, 3, 0, 0, 0, 0, 4, 4);
		flush();
	}
	printf("make_seeds: %d captured frames\n", cap.n);
	return 0;
}
