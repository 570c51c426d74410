/* tests/unit/test_format.c: host tests for kvsnprintf/ksnprintf and kstrtoul
 * (kernel/format.c), mostly by comparison with the host libc. */
#include "kernel/format.h"
#include "kernel/string.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

/*
 * The formats below go through a volatile pointer so gcc's format checking
 * stays quiet about the odd combinations tested on purpose ('0' with a
 * precision, unknown conversions, absurd widths).
 */

/* Formats with both ksnprintf and the host snprintf and compares results. */
#define SAME(fmt, ...) do { \
	const char *volatile fmt_ = (fmt); \
	char want_[256], got_[256]; \
	int wn_ = snprintf(want_, sizeof want_, fmt_, __VA_ARGS__); \
	int gn_ = ksnprintf(got_, sizeof got_, fmt_, __VA_ARGS__); \
	CHECKF(wn_ == gn_ && strcmp(want_, got_) == 0, "%s: want %d \"%s\", got %d \"%s\"", \
	       fmt_, wn_, want_, gn_, got_); \
} while (0)

/* Checks one format against a literal expectation (for what libc does differently). */
#define IS(want, fmt, ...) do { \
	const char *volatile fmt_ = (fmt); \
	char got_[256]; \
	int gn_ = ksnprintf(got_, sizeof got_, fmt_, __VA_ARGS__); \
	CHECKF(gn_ == (int)strlen(want) && strcmp(want, got_) == 0, "%s: want \"%s\", got %d \"%s\"", \
	       fmt_, want, gn_, got_); \
} while (0)

static const long long int_values[] = {
	0, 1, -1, 7, 8, 9, 10, 15, 16, 42, -42, 99, 100, 127, 128, 255, 256, -128, -129,
	32767, 32768, -32768, -32769, 65535, 65536, 123456789, -123456789,
	INT_MAX, INT_MIN, UINT_MAX, (long long)UINT_MAX + 1, 1ll << 53, -(1ll << 53) - 1,
	0x0123456789abcdefll, -0x0123456789abcdefll, LLONG_MAX, LLONG_MIN,
};

/* Calls f with v converted to the argument type the length modifier expects. */
#define WITH_ARG(f, len, sgn, v) ( \
	!strcmp(len, "l") ? (sgn ? f((long)(v)) : f((unsigned long)(v))) : \
	!strcmp(len, "ll") ? (sgn ? f((long long)(v)) : f((unsigned long long)(v))) : \
	!strcmp(len, "z") ? (sgn ? f((ptrdiff_t)(v)) : f((size_t)(v))) : \
	!strcmp(len, "j") ? (sgn ? f((intmax_t)(v)) : f((uintmax_t)(v))) : \
	!strcmp(len, "t") ? (sgn ? f((ptrdiff_t)(v)) : f((size_t)(v))) : \
	(sgn ? f((int)(v)) : f((unsigned int)(v))))

/* Every flag set x width x precision x length x conversion x value. */
static void test_integers_match_libc(void)
{
	static const char *flagsets[] = {
		"", "-", "0", "+", " ", "#", "-0", "-+", "- ", "-#", "0+", "0 ", "0#", "+ ",
		"+#", " #", "-0+", "-+#", "0+#", "0 #", "-0+ #",
	};
	static const char *widths[] = { "", "1", "7", "23" };
	static const char *precs[] = { "", ".", ".0", ".1", ".4", ".25" };
	static const char *lens[] = { "hh", "h", "", "l", "ll", "z", "j", "t" };
	static const char convs[] = "diuxXo";
	char fmt[32], want[128], got[128];
	long compared = 0;

	for (size_t f = 0; f < sizeof flagsets / sizeof *flagsets; f++)
	for (size_t w = 0; w < sizeof widths / sizeof *widths; w++)
	for (size_t p = 0; p < sizeof precs / sizeof *precs; p++)
	for (size_t l = 0; l < sizeof lens / sizeof *lens; l++)
	for (size_t c = 0; c < sizeof convs - 1; c++) {
		bool sgn = convs[c] == 'd' || convs[c] == 'i';
		snprintf(fmt, sizeof fmt, "[%%%s%s%s%s%c]", flagsets[f], widths[w], precs[p], lens[l], convs[c]);
		for (size_t v = 0; v < sizeof int_values / sizeof *int_values; v++) {
			long long x = int_values[v];
#define WANT(a) snprintf(want, sizeof want, fmt, a)
#define GOT(a) ksnprintf(got, sizeof got, fmt, a)
			int wn = WITH_ARG(WANT, lens[l], sgn, x);
			int gn = WITH_ARG(GOT, lens[l], sgn, x);
#undef WANT
#undef GOT
			CHECKF(wn == gn && !strcmp(want, got), "%s of %lld: want %d \"%s\", got %d \"%s\"",
			       fmt, x, wn, want, gn, got);
			compared++;
		}
	}
	CHECK(compared > 100000);
}

static void test_star_width_and_precision(void)
{
	static const int stars[] = { -30, -5, -1, 0, 1, 3, 12 };

	for (size_t i = 0; i < sizeof stars / sizeof *stars; i++) {
		for (size_t j = 0; j < sizeof stars / sizeof *stars; j++) {
			int a = stars[i], b = stars[j];
			SAME("%*d|%-*d|%.*d|%*.*x", a, -42, a, 42, b, 7, a, b, 0xbeefu);
			SAME("%*s|%.*s|%*.*s", a, "hello", b, "hello", a, b, "hello world");
			SAME("%0*d|%0*.*d", a, -5, a, b, 99);
			SAME("%*c|", a, 'q');
		}
	}
}

static void test_strings_and_chars(void)
{
	static const char *strs[] = { "", "a", "hello", "hello, world", "tab\there", "\xff\x80 high" };
	static const char *fmts[] = {
		"%s", "[%10s]", "[%-10s]", "[%.3s]", "[%10.3s]", "[%-10.0s]", "[%.20s]", "[%1s]", "%s%s",
	};

	for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
		for (size_t f = 0; f < sizeof fmts / sizeof *fmts; f++) {
			char want[128], got[128];
			int wn = snprintf(want, sizeof want, fmts[f], strs[i], strs[i]);
			int gn = ksnprintf(got, sizeof got, fmts[f], strs[i], strs[i]);
			CHECKF(wn == gn && !strcmp(want, got), "%s of \"%s\": want \"%s\", got \"%s\"", fmts[f],
			       strs[i], want, got);
		}
	SAME("%c%c%c", 'a', 'b', 'c');
	SAME("[%5c][%-5c][%c]", 'x', 'y', 200);

	/* A NUL char is output and counted like any other. */
	char buf[8];
	CHECK(ksnprintf(buf, sizeof buf, "a%cb", 0) == 3);
	CHECK(!memcmp(buf, "a\0b", 4));

	/* Precision bounds the read: the string need not be terminated. */
	char *raw = malloc(3);
	memcpy(raw, "xyz", 3);
	IS("[xy]", "[%.2s]", raw);
	IS("[  xyz]", "[%5.3s]", raw);
	free(raw);

	const char *volatile null = NULL;
	IS("(null)", "%s", null);
	IS("[    (null)]", "[%10s]", null);
	IS("(null)", "%.6s", null);
	IS("[]", "[%.3s]", null);
}

static void test_pointers(void)
{
	IS("0x0000000000000000", "%p", (void *)0);
	IS("0x0000000000001234", "%p", (void *)0x1234);
	IS("0xffff800000000000", "%p", (void *)0xffff800000000000ull);
	IS("[  0x00000000deadbeef]", "[%20p]", (void *)0xdeadbeef);
	IS("[0x00000000deadbeef  ]", "[%-20p]", (void *)0xdeadbeef);
	IS("0x0000000000000001", "%5p", (void *)1);
}

static void test_percent_and_unknown(void)
{
	char buf[64];
	int witness = 1234;

	SAME("100%% sure %d%%", 5);
	IS("%", "%%", 0);
	IS("a%qb", "a%qb", 0);
	IS("%y|7", "%y|%d", 7);
	/* %n is never interpreted, so format strings cannot write memory. */
	const char *volatile with_n = "ab%n";
	ksnprintf(buf, sizeof buf, with_n, &witness);
	CHECK(!strcmp(buf, "ab%n") && witness == 1234);
	/* A directive cut off by the end of the format is shown as is. */
	const char *volatile tail = "x%";
	CHECK(ksnprintf(buf, sizeof buf, tail) == 2 && !strcmp(buf, "x%"));
	tail = "y%-08l";
	CHECK(ksnprintf(buf, sizeof buf, tail) == 6 && !strcmp(buf, "y%-08l"));
}

/* Every buffer size from 0 up: the return value never changes, the output
 * is a terminated prefix, nothing past size is written (ASan watches an
 * exactly sized buffer). */
static void test_truncation(void)
{
	const char *fmt = "%s=%08x, %-6d|%p|%c";
	char full[128];
	int n = ksnprintf(full, sizeof full, fmt, "key", 0xabcu, -17, (void *)0x10, 'z');
	CHECK(n == 41 && !strcmp(full, "key=00000abc, -17   |0x0000000000000010|z"));

	CHECK(ksnprintf(NULL, 0, fmt, "key", 0xabcu, -17, (void *)0x10, 'z') == n);
	for (int size = 1; size <= n + 2; size++) {
		char *buf = malloc(size);
		int r = ksnprintf(buf, size, fmt, "key", 0xabcu, -17, (void *)0x10, 'z');
		int keep = size - 1 < n ? size - 1 : n;
		CHECKF(r == n, "size %d returned %d", size, r);
		CHECKF(!memcmp(buf, full, keep) && buf[keep] == '\0', "size %d: \"%s\"", size, buf);
		free(buf);
	}
}

static void test_huge_widths(void)
{
	char buf[16];

	/* Padding past the buffer is counted, not performed byte by byte. */
	CHECK(ksnprintf(buf, sizeof buf, "%2000000000d", 5) == 2000000000);
	CHECK(!strcmp(buf, "               "));
	CHECK(ksnprintf(buf, sizeof buf, "%-2000000000d|", 5) == 2000000001);
	CHECK(!strcmp(buf, "5              "));
	CHECK(ksnprintf(buf, sizeof buf, "%.2000000000d", 5) == 2000000000);
	CHECK(!strcmp(buf, "000000000000000"));
	/* Overflowing int: -1, as C asks, but still terminated and bounded. */
	const char *volatile fmt = "%2147483647d%d";
	CHECK(ksnprintf(buf, sizeof buf, fmt, 1, 2) == -1);
	CHECK(strlen(buf) == sizeof buf - 1);
	fmt = "%99999999999999999999d";
	CHECK(ksnprintf(buf, sizeof buf, fmt, 1) == INT_MAX);
	fmt = "%*d";
	CHECK(ksnprintf(buf, sizeof buf, fmt, INT_MIN, 1) == INT_MAX);
}

static void test_kstrtoul_matches_strtoul(void)
{
	static const char *inputs[] = {
		"", " ", "0", "1", "123", "  42abc", "\t\n\v\f\r 9", "+7", "-1", "-0", "+-3", "0x1f",
		"0X1F", "0x", "0xg", "0x0", "017", "08", "0b101", "ffff", "FFFF", "zz", "Zz9", "1_000",
		"18446744073709551615", "18446744073709551616", "99999999999999999999999",
		"-18446744073709551615", "-18446744073709551616", "0xffffffffffffffff",
		"0x10000000000000000", "0777777777777777777777", "01777777777777777777777",
		"2000000000000000000000", "111111111111111111111111111111111111111111111111111111111111111111",
	};
	static const int bases[] = { 0, 2, 8, 10, 16, 36 };

	for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++)
		for (size_t b = 0; b < sizeof bases / sizeof *bases; b++) {
			char *wend, *gend;
			unsigned long want = strtoul(inputs[i], &wend, bases[b]);
			unsigned long got = kstrtoul(inputs[i], &gend, bases[b]);
			CHECKF(want == got && wend == gend, "\"%s\" base %d: want %lu end+%td, got %lu end+%td",
			       inputs[i], bases[b], want, wend - inputs[i], got, gend - inputs[i]);
		}

	char *end;
	const char *s = "123";
	CHECK(kstrtoul(s, &end, 1) == 0 && end == s);
	CHECK(kstrtoul(s, &end, 37) == 0 && end == s);
	CHECK(kstrtoul(s, &end, -2) == 0 && end == s);
	CHECK(kstrtoul("0x40", NULL, 0) == 64);
}

/* Random strings (any byte but NUL) through %s with random widths,
 * precisions and buffer sizes, against libc; exact-size buffers let ASan
 * catch any write past the end. */
static void test_fuzz_strings(void)
{
	uint64_t seed = 0xf0f0f0f0123ull;
	char strs[3][300], fmt[256], want[2048];
	int mismatches = 0;

	for (int iter = 0; iter < 100000; iter++) {
		size_t fl = 0;
		for (int k = 0; k < 3; k++) {
			size_t n = rng_below(&seed, 4) ? rng_below(&seed, 20) : rng_below(&seed, 299);
			for (size_t i = 0; i < n; i++)
				strs[k][i] = 1 + rng_below(&seed, 255);
			strs[k][n] = '\0';
			/* Some literal text that contains no '%'. */
			for (size_t i = rng_below(&seed, 6); i > 0; i--) {
				char c = 1 + rng_below(&seed, 255);
				fmt[fl++] = c == '%' ? '_' : c;
			}
			fmt[fl++] = '%';
			if (rng_below(&seed, 3) == 0)
				fmt[fl++] = '-';
			if (rng_below(&seed, 2))
				fl += sprintf(fmt + fl, "%u", (unsigned)rng_below(&seed, 40));
			if (rng_below(&seed, 2))
				fl += sprintf(fmt + fl, ".%u", (unsigned)rng_below(&seed, 40));
			fmt[fl++] = 's';
		}
		fmt[fl] = '\0';

		int wn = snprintf(want, sizeof want, fmt, strs[0], strs[1], strs[2]);
		size_t size = rng_below(&seed, 4) ? rng_below(&seed, wn + 2) : rng_below(&seed, 8);
		char *buf = size ? malloc(size) : NULL;
		int gn = ksnprintf(buf, size, fmt, strs[0], strs[1], strs[2]);
		size_t keep = size == 0 ? 0 : size - 1 < (size_t)wn ? size - 1 : (size_t)wn;
		if (gn != wn || (size && (memcmp(buf, want, keep) || buf[keep] != '\0'))) {
			if (mismatches++ == 0)
				CHECKF(false, "iteration %d, format \"%s\", size %zu: want %d, got %d", iter, fmt,
				       size, wn, gn);
		}
		free(buf);
	}
	CHECKF(mismatches == 0, "%d mismatches", mismatches);
}

int main(void)
{
	RUN(test_integers_match_libc);
	RUN(test_star_width_and_precision);
	RUN(test_strings_and_chars);
	RUN(test_pointers);
	RUN(test_percent_and_unknown);
	RUN(test_truncation);
	RUN(test_huge_widths);
	RUN(test_kstrtoul_matches_strtoul);
	RUN(test_fuzz_strings);
	return check_done();
}
