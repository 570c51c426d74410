/* tests/unit/test_cmdline.c: host tests for the kernel command line parser (kernel/cmdline.c). */
#include "kernel/cmdline.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>

/* Collects what the parser warned about. */
struct warnings {
	int count;
	char last[256];
	bool bad_message;  /* too long or not printable */
};

static void collect(const char *msg, void *ctx)
{
	struct warnings *w = ctx;
	size_t n = strlen(msg);

	w->count++;
	snprintf(w->last, sizeof w->last, "%s", msg);
	if (n == 0 || n >= 128)
		w->bad_message = true;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)msg[i] < 0x20 || (unsigned char)msg[i] >= 0x7f)
			w->bad_message = true;
}

/* Parses line; checks the return value against the callbacks and the expected count. */
static struct boot_options parse(const char *line, int expect_warnings, struct warnings *w)
{
	struct boot_options o;
	struct warnings local;

	if (!w)
		w = &local;
	memset(w, 0, sizeof *w);
	memset(&o, 0x5a, sizeof o);  /* defaults must overwrite everything */
	int n = cmdline_parse(line, &o, collect, w);
	CHECKF(n == w->count, "\"%.60s\": returned %d, warned %d times", line ? line : "(null)", n, w->count);
	CHECKF(n == expect_warnings, "\"%.60s\": %d warnings, expected %d (last: %s)", line ? line : "(null)",
	       n, expect_warnings, w->last);
	CHECK(!w->bad_message);
	return o;
}

static bool is_default(const struct boot_options *o)
{
	static const uint8_t zero[sizeof o->key];

	return o->node == -1 && o->loglevel == 6 && !o->ktest && o->balance && o->key_len == 0 &&
	       !memcmp(o->key, zero, sizeof zero) && o->console[0] == '\0';
}

static void test_defaults(void)
{
	struct boot_options o;

	o = parse(NULL, 0, NULL);
	CHECK(is_default(&o));
	o = parse("", 0, NULL);
	CHECK(is_default(&o));
	o = parse("   \t\n  ", 0, NULL);
	CHECK(is_default(&o));
	CHECK(cmdline_parse("bogus", &o, NULL, NULL) == 1);  /* warn may be NULL */
}

static void test_node(void)
{
	CHECK(parse("node=auto", 0, NULL).node == -1);
	CHECK(parse("node=0", 0, NULL).node == 0);
	CHECK(parse("node=2", 0, NULL).node == 2);
	CHECK(parse("node=254", 0, NULL).node == 254);
	CHECK(parse("node=007", 0, NULL).node == 7);
	CHECK(parse("node=3 node=auto", 0, NULL).node == -1);
	CHECK(parse("node=1 node=2", 0, NULL).node == 2);
	static const char *bad[] = {
		"node=255", "node=-1", "node=abc", "node=", "node", "node=1x", "node=+1", "node=0x1",
		"node=AUTO", "node=99999999999999999999999",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECKF(parse(bad[i], 1, NULL).node == -1, "%s", bad[i]);
	CHECK(parse("node=7 node=300", 1, NULL).node == 7);  /* a bad value keeps the old one */
	CHECK(parse("node= 3", 2, NULL).node == -1);         /* empty value, then a stray "3" */
}

static void test_loglevel(void)
{
	for (int i = 0; i <= 7; i++) {
		char line[32];
		snprintf(line, sizeof line, "loglevel=%d", i);
		CHECK(parse(line, 0, NULL).loglevel == i);
	}
	CHECK(parse("loglevel=8", 1, NULL).loglevel == 6);
	CHECK(parse("loglevel=", 1, NULL).loglevel == 6);
	CHECK(parse("loglevel", 1, NULL).loglevel == 6);
	CHECK(parse("loglevel=debug", 1, NULL).loglevel == 6);
}

static void test_ktest(void)
{
	CHECK(parse("ktest", 0, NULL).ktest);
	CHECK(parse("ktest=on", 0, NULL).ktest);
	CHECK(parse("ktest=1", 0, NULL).ktest);
	CHECK(!parse("ktest ktest=off", 0, NULL).ktest);
	CHECK(!parse("ktest=maybe", 1, NULL).ktest);
	CHECK(!parse("ktest=", 1, NULL).ktest);
	CHECK(!parse("KTEST", 1, NULL).ktest);
}

static void test_balance(void)
{
	CHECK(parse("", 0, NULL).balance);
	CHECK(!parse("balance=off", 0, NULL).balance);
	CHECK(parse("balance=off balance=on", 0, NULL).balance);
	CHECK(!parse("balance=no", 0, NULL).balance);
	CHECK(parse("balance", 1, NULL).balance);
	CHECK(parse("balance=2", 1, NULL).balance);
	CHECK(parse("balance=", 1, NULL).balance);
}

static void test_key(void)
{
	char line[128] = "key=";
	struct boot_options o;

	for (int i = 0; i < 32; i++)
		sprintf(line + 4 + 2 * i, "%02X", (i * 37 + 5) & 0xff);
	o = parse(line, 0, NULL);
	CHECK(o.key_len == 32);
	for (int i = 0; i < 32; i++)
		CHECKF(o.key[i] == ((i * 37 + 5) & 0xff), "byte %d is %02x", i, o.key[i]);

	o = parse("key=00ff7Ab0", 0, NULL);
	CHECK(o.key_len == 4 && !memcmp(o.key, "\x00\xff\x7a\xb0", 4));
	CHECK(o.key[4] == 0 && o.key[31] == 0);

	CHECK(parse("key=abc", 1, NULL).key_len == 0);      /* odd */
	CHECK(parse("key=zz", 1, NULL).key_len == 0);       /* not hex */
	CHECK(parse("key=0x12", 1, NULL).key_len == 0);
	CHECK(parse("key=", 1, NULL).key_len == 0);
	CHECK(parse("key", 1, NULL).key_len == 0);
	strcpy(line + strlen(line), "00");                  /* 66 digits */
	CHECK(parse(line, 1, NULL).key_len == 0);

	/* A bad key leaves the earlier good one intact, bytes included. */
	o = parse("key=aabb key=aag0", 1, NULL);
	CHECK(o.key_len == 2 && o.key[0] == 0xaa && o.key[1] == 0xbb && o.key[2] == 0);
	/* A shorter later key does not leave bytes of the longer one behind. */
	o = parse("key=11223344 key=55", 0, NULL);
	CHECK(o.key_len == 1 && o.key[0] == 0x55 && o.key[1] == 0);
}

static void test_console(void)
{
	CHECK(!strcmp(parse("console=ttyS0", 0, NULL).console, "ttyS0"));
	CHECK(!strcmp(parse("console=ttyS0,115200n8", 0, NULL).console, "ttyS0,115200n8"));
	CHECK(!strcmp(parse("console=a=b", 0, NULL).console, "a=b"));
	CHECK(!strcmp(parse("console=0123456789012345678901234567890", 0, NULL).console,
		      "0123456789012345678901234567890"));
	CHECK(!strcmp(parse("console=01234567890123456789012345678901", 1, NULL).console, ""));
	CHECK(!strcmp(parse("console=vga console=01234567890123456789012345678901xyz", 1, NULL).console,
		      "vga"));
	CHECK(!strcmp(parse("console=", 1, NULL).console, ""));
	CHECK(!strcmp(parse("console", 1, NULL).console, ""));
}

static void test_unknown_and_malformed(void)
{
	struct warnings w;
	struct boot_options o;

	o = parse("foo=bar", 1, &w);
	CHECK(strstr(w.last, "foo=bar") && strstr(w.last, "unknown"));
	o = parse("quiet splash node=3", 2, &w);
	CHECK(o.node == 3);
	CHECK(strstr(w.last, "splash"));
	parse("=", 1, NULL);
	parse("==", 1, NULL);
	parse("=3", 1, NULL);
	CHECK(parse("node==3", 1, NULL).node == -1);
	CHECK(parse("Node=3", 1, NULL).node == -1);
	CHECK(parse("nodes=3", 1, NULL).node == -1);
	CHECK(parse("nod=3", 1, NULL).node == -1);
	/* Each bad word warns exactly once and the good ones still apply. */
	o = parse("a b=c node=x loglevel=3 = ktest", 4, &w);
	CHECK(o.loglevel == 3 && o.ktest);
}

static void test_file_name_first_word(void)
{
	struct boot_options o;

	o = parse("/build/shoal32.elf node=2", 0, NULL);
	CHECK(o.node == 2);
	o = parse("build/shoal.elf", 0, NULL);
	CHECK(is_default(&o));
	o = parse("  /boot/kernel loglevel=1", 0, NULL);
	CHECK(o.loglevel == 1);
	parse("shoal.elf node=1", 1, NULL);         /* no '/': an unknown option */
	parse("node=1 /build/shoal.elf", 1, NULL);  /* only the first word may be a file name */
	parse("/a=b node=1", 1, NULL);              /* has '=': an option, a bad one */
	parse("/x /y", 1, NULL);
}

static void test_separators(void)
{
	struct boot_options o = parse("\tnode=4\n\nloglevel=2\r  ktest   balance=off  ", 0, NULL);

	CHECK(o.node == 4 && o.loglevel == 2 && o.ktest && !o.balance);
}

static void test_hostile_messages(void)
{
	struct warnings w;
	char *line = malloc(3001);

	memset(line, 'x', 3000);
	line[3000] = '\0';
	parse(line, 1, &w);
	CHECK(strstr(w.last, "...") != NULL);
	parse("\x01\x7f\xff=\x1b[2J", 1, &w);  /* control bytes never reach the console */
	CHECK(strchr(w.last, '\x1b') == NULL);
	free(line);
}

/* Builds a buffer of exactly size bytes (ASan guards its end) from a
 * repeated word, with or without a NUL in the last byte. */
static char *repeat(const char *word, size_t size, bool terminate)
{
	char *line = malloc(size);
	size_t n = strlen(word);

	for (size_t i = 0; i < size; i++)
		line[i] = word[i % n];
	if (terminate)
		line[size - 1] = '\0';
	return line;
}

static void test_length_limit(void)
{
	struct boot_options o;
	struct warnings w;
	char *line;

	/* 4095 characters + NUL: fully used, no warning. "node=9 " is 7 bytes
	 * and 4095 = 585 * 7, so the line ends with a whole word plus a space. */
	line = repeat("node=9 ", 4096, true);
	o = parse(line, 0, NULL);
	CHECK(o.node == 9);
	free(line);

	/* No NUL at all within 4096 bytes: the parser must stop there and drop
	 * the last word, which may be cut (here it would set another key). */
	line = repeat(" ", 4096, false);
	memcpy(line, "key=abcd", 8);
	memcpy(line + 4096 - 6, "key=12", 6);
	o = parse(line, 1, &w);
	CHECK(o.key_len == 2 && o.key[0] == 0xab && o.key[1] == 0xcd);
	CHECK(strstr(w.last, "4095") != NULL);
	free(line);

	/* One huge word without a terminator: dropped whole. */
	line = repeat("x", 4096, false);
	o = parse(line, 1, NULL);
	CHECK(is_default(&o));
	free(line);

	/* The NUL just past the limit is never looked at. */
	line = repeat("ktest ", 4096, false);
	o = parse(line, 1, NULL);
	CHECK(o.ktest);
	free(line);
}

/* Random lines built from option fragments and random bytes. Checks the
 * parser neither crashes nor reads past the buffer (ASan) and that every
 * option ends in its allowed range. */
static void test_fuzz(void)
{
	static const char *pieces[] = {
		"node=", "loglevel=", "ktest", "balance=", "key=", "console=", "auto", "on", "off",
		"=", " ", " ", "\t", "/", "0", "7", "254", "255", "ff", "abcdef0123456789", "zz",
		"/build/shoal32.elf", "-", "x",
	};
	uint64_t seed = 0xc0ffee11;
	int warnings_total = 0;

	for (int iter = 0; iter < 100000; iter++) {
		size_t size = rng_below(&seed, 50) ? 1 + rng_below(&seed, 200) : 1 + rng_below(&seed, 4200);
		char *line = malloc(size);
		size_t n = 0;
		while (n < size) {
			if (rng_below(&seed, 4) == 0) {
				line[n++] = 1 + rng_below(&seed, 255);
				continue;
			}
			const char *p = pieces[rng_below(&seed, sizeof pieces / sizeof *pieces)];
			while (*p && n < size)
				line[n++] = *p++;
		}
		/* Shorter lines must be terminated; long ones sometimes are not. */
		if (size < CMDLINE_MAX || rng_below(&seed, 2))
			line[size - 1] = '\0';

		struct warnings w = { 0 };
		struct boot_options o;
		int r = cmdline_parse(line, &o, collect, &w);
		warnings_total += r;
		bool sane = r == w.count && !w.bad_message && o.node >= -1 && o.node <= 254 &&
			    o.loglevel >= 0 && o.loglevel <= 7 && o.key_len <= sizeof o.key &&
			    strnlen(o.console, sizeof o.console) < sizeof o.console;
		if (!sane)
			CHECKF(false, "iteration %d: r=%d warned=%d node=%d loglevel=%d key_len=%zu", iter, r,
			       w.count, o.node, o.loglevel, o.key_len);
		free(line);
	}
	CHECK(warnings_total > 0);
}

int main(void)
{
	RUN(test_defaults);
	RUN(test_node);
	RUN(test_loglevel);
	RUN(test_ktest);
	RUN(test_balance);
	RUN(test_key);
	RUN(test_console);
	RUN(test_unknown_and_malformed);
	RUN(test_file_name_first_word);
	RUN(test_separators);
	RUN(test_hostile_messages);
	RUN(test_length_limit);
	RUN(test_fuzz);
	return check_done();
}
