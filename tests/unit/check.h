/* tests/unit/check.h: the tiny harness shared by the host unit tests.
 * CHECK records a failure and carries on, RUN prints "ok NAME" or
 * "FAIL NAME: first reason" per case, check_done gives the exit status. */
#ifndef TESTS_UNIT_CHECK_H
#define TESTS_UNIT_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CHECK_DETAILS 5  /* failures per case printed in full; the rest only counted */

static struct {
	int case_failures;
	char reason[512];
	int cases, failed_cases;
} check_state;

__attribute__((format(printf, 3, 4)))
static inline void check_fail(const char *file, int line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (check_state.case_failures == 0)
		snprintf(check_state.reason, sizeof check_state.reason, "%s:%d: %s", file, line, msg);
	if (check_state.case_failures < CHECK_DETAILS)
		printf("  %s:%d: %s\n", file, line, msg);
	check_state.case_failures++;
}

#define CHECK(cond) \
	do { if (!(cond)) check_fail(__FILE__, __LINE__, "%s", #cond); } while (0)
/* CHECKF(cond, fmt, ...): like CHECK with a printf-style explanation. */
#define CHECKF(cond, ...) \
	do { if (!(cond)) check_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)

static inline void check_run(const char *name, void (*fn)(void))
{
	check_state.case_failures = 0;
	check_state.cases++;
	fn();
	if (check_state.case_failures == 0) {
		printf("ok %s\n", name);
	} else {
		check_state.failed_cases++;
		printf("FAIL %s: %s", name, check_state.reason);
		if (check_state.case_failures > 1)
			printf(" (and %d more)", check_state.case_failures - 1);
		printf("\n");
	}
	fflush(stdout);
}

#define RUN(fn) check_run(#fn, fn)

/* Prints the summary line; returns the process exit status. */
static inline int check_done(void)
{
	if (check_state.failed_cases)
		printf("FAILED %d of %d cases\n", check_state.failed_cases, check_state.cases);
	else
		printf("PASSED all %d cases\n", check_state.cases);
	return check_state.failed_cases ? 1 : 0;
}

/* Tests need the same "random" sequence on every libc: xorshift64*. */
static inline uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* Uniform enough in [0, n) for tests; n must be > 0. */
static inline uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return rng_next(s) % n;
}

#endif /* TESTS_UNIT_CHECK_H */
