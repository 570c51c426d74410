/* tests/unit/test_buddy.c: host tests for the buddy page-frame allocator (kernel/buddy.c). */
#include "kernel/buddy.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>

/* A managed window plus its metadata, sized per test. */
struct arena {
	struct buddy b;
	struct buddy_page *meta;
	uint64_t base, n;
};

static void arena_init(struct arena *a, uint64_t base, uint64_t n)
{
	a->base = base;
	a->n = n;
	a->meta = calloc(n ? n : 1, sizeof *a->meta);
	buddy_init(&a->b, a->meta, base, n);
}

static void arena_fini(struct arena *a)
{
	free(a->meta);
}

static bool aligned(uint64_t pfn, unsigned order)
{
	return (pfn & ((1ull << order) - 1)) == 0;
}

static void test_meta_is_small(void)
{
	CHECK(sizeof(struct buddy_page) <= 12);
}

static void test_starts_reserved(void)
{
	struct arena a;

	arena_init(&a, 100, 1000);
	CHECK(buddy_free_pages(&a.b) == 0);
	CHECK(buddy_alloc(&a.b, 0) == -1);
	CHECK(buddy_check(&a.b));
	arena_fini(&a);
}

static void test_free_range_builds_max_blocks(void)
{
	struct arena a;

	arena_init(&a, 0, 4096);
	buddy_free_range(&a.b, 0, 4096);
	CHECK(buddy_free_pages(&a.b) == 4096);
	CHECK(a.b.nfree[BUDDY_MAX_ORDER - 1] == 4);
	for (unsigned k = 0; k + 1 < BUDDY_MAX_ORDER; k++)
		CHECKF(a.b.nfree[k] == 0, "order %u has %lu blocks", k, (unsigned long)a.b.nfree[k]);
	CHECK(buddy_check(&a.b));
	CHECK(a.b.errors == 0);
	arena_fini(&a);
}

/* Freeing a range page by page must end up exactly as freeing it at once. */
static void test_page_by_page_coalesces(void)
{
	struct arena a;

	arena_init(&a, 1024, 2048);
	for (uint64_t p = 1024 + 2047; p >= 1024; p--)
		buddy_free_range(&a.b, p, 1);
	CHECK(a.b.nfree[BUDDY_MAX_ORDER - 1] == 2);
	CHECK(buddy_free_pages(&a.b) == 2048);
	CHECK(buddy_check(&a.b));
	arena_fini(&a);
}

static void test_split_and_merge(void)
{
	struct arena a;

	arena_init(&a, 0, 1024);
	buddy_free_range(&a.b, 0, 1024);
	int64_t p = buddy_alloc(&a.b, 0);
	CHECK(p >= 0 && p < 1024);
	for (unsigned k = 0; k + 1 < BUDDY_MAX_ORDER; k++)
		CHECKF(a.b.nfree[k] == 1, "order %u: %lu free blocks after split", k,
		       (unsigned long)a.b.nfree[k]);
	CHECK(buddy_free_pages(&a.b) == 1023);
	CHECK(buddy_check(&a.b));
	buddy_free(&a.b, p, 0);
	CHECK(a.b.nfree[BUDDY_MAX_ORDER - 1] == 1);
	CHECK(buddy_free_pages(&a.b) == 1024);
	CHECK(buddy_check(&a.b));
	arena_fini(&a);
}

/* For each order: take everything, check count/alignment/disjointness, give
 * it all back and check it merged back into max-order blocks. */
static void test_exhaustion_and_reuse(void)
{
	const uint64_t base = 3 * 1024, n = 8 * 1024;
	struct arena a;
	int64_t *got = calloc(n, sizeof *got);
	uint8_t *owned = calloc(n, 1);

	arena_init(&a, base, n);
	buddy_free_range(&a.b, base, n);
	for (int round = 0; round < 2; round++) {
		for (unsigned order = 0; order < BUDDY_MAX_ORDER; order++) {
			uint64_t count = 0, size = 1ull << order;
			int64_t p;
			memset(owned, 0, n);
			while ((p = buddy_alloc(&a.b, order)) >= 0) {
				CHECKF(aligned(p, order), "pfn %ld not aligned to order %u", (long)p, order);
				CHECK((uint64_t)p >= base && (uint64_t)p + size <= base + n);
				for (uint64_t i = 0; i < size; i++) {
					CHECKF(!owned[p - base + i], "pfn %lu handed out twice",
					       (unsigned long)(p + i));
					owned[p - base + i] = 1;
				}
				got[count++] = p;
			}
			CHECKF(count == n / size, "order %u: got %lu blocks, expected %lu", order,
			       (unsigned long)count, (unsigned long)(n / size));
			CHECK(buddy_free_pages(&a.b) == 0);
			CHECK(buddy_check(&a.b));
			/* Free in a scrambled order so merges happen from both sides. */
			for (uint64_t i = 0; i < count; i++) {
				uint64_t j = (i * 7919) % count;  /* a permutation: count is a power of 2 */
				buddy_free(&a.b, got[j], order);
			}
			CHECK(buddy_free_pages(&a.b) == n);
			CHECKF(a.b.nfree[BUDDY_MAX_ORDER - 1] == n / 1024, "order %u: %lu max blocks after reuse",
			       order, (unsigned long)a.b.nfree[BUDDY_MAX_ORDER - 1]);
			CHECK(buddy_check(&a.b));
		}
	}
	CHECK(a.b.errors == 0);
	arena_fini(&a);
	free(got);
	free(owned);
}

/* Odd base and size: blocks still aligned in absolute pfns, none past the end. */
static void test_unaligned_window(void)
{
	const uint64_t base = 12345, n = 5003;
	struct arena a;
	uint64_t total = 0;
	int64_t p;

	arena_init(&a, base, n);
	buddy_free_range(&a.b, 0, ~0ull);  /* clamped to the window */
	CHECK(buddy_free_pages(&a.b) == n);
	CHECK(buddy_check(&a.b));
	for (unsigned order = BUDDY_MAX_ORDER; order-- > 0;) {
		while ((p = buddy_alloc(&a.b, order)) >= 0) {
			CHECK(aligned(p, order));
			CHECK((uint64_t)p >= base && (uint64_t)p + (1ull << order) <= base + n);
			total += 1ull << order;
		}
	}
	CHECK(total == n);
	arena_fini(&a);
}

static void test_holes_stay_reserved(void)
{
	const uint64_t n = 4096;
	static const struct { uint64_t pfn, count; } map[] = {
		{ 1, 158 }, { 256, 1000 }, { 1300, 1 }, { 2048, 2048 - 17 },
	};
	struct arena a;
	uint8_t *usable = calloc(n, 1);
	uint64_t expect = 0, total = 0;
	int64_t p;

	arena_init(&a, 0, n);
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		buddy_free_range(&a.b, map[i].pfn, map[i].count);
		memset(usable + map[i].pfn, 1, map[i].count);
		expect += map[i].count;
	}
	CHECK(buddy_free_pages(&a.b) == expect);
	CHECK(buddy_check(&a.b));
	while ((p = buddy_alloc(&a.b, 0)) >= 0) {
		CHECKF(usable[p], "reserved pfn %ld handed out", (long)p);
		usable[p] = 0;
		total++;
	}
	CHECK(total == expect);
	CHECK(a.b.errors == 0);
	arena_fini(&a);
	free(usable);
}

static void test_overlapping_ranges_counted(void)
{
	struct arena a;

	arena_init(&a, 0, 2048);
	buddy_free_range(&a.b, 0, 1000);
	buddy_free_range(&a.b, 900, 200);  /* 100 pages overlap */
	CHECK(a.b.errors == 100);
	CHECK(buddy_free_pages(&a.b) == 1100);
	CHECK(buddy_check(&a.b));
	buddy_free_range(&a.b, 5000, 10);  /* wholly outside: ignored, not an error */
	buddy_free_range(&a.b, ~0ull - 5, 100);  /* wraps */
	CHECK(a.b.errors == 100);
	CHECK(buddy_free_pages(&a.b) == 1100);
	arena_fini(&a);
}

static void test_bad_frees_counted(void)
{
	struct arena a;

	arena_init(&a, 64, 2048);
	buddy_free_range(&a.b, 64, 1024);  /* [1088, 2112) stays reserved */
	int64_t p = buddy_alloc(&a.b, 2);
	CHECK(p >= 0);
	uint64_t free_before = buddy_free_pages(&a.b);

	buddy_free(&a.b, p, 1);                  /* wrong order */
	buddy_free(&a.b, p + 1, 0);              /* tail */
	buddy_free(&a.b, p, BUDDY_MAX_ORDER);    /* order out of range */
	buddy_free(&a.b, 10, 0);                 /* below window */
	buddy_free(&a.b, 64 + 5000, 0);          /* above window */
	buddy_free(&a.b, 1500, 0);               /* reserved frame */
	buddy_free(&a.b, p + 4, 0);              /* inside a free block */
	CHECK(a.b.errors == 7);
	CHECK(buddy_free_pages(&a.b) == free_before);
	CHECK(buddy_check(&a.b));

	buddy_free(&a.b, p, 2);
	CHECK(buddy_free_pages(&a.b) == 1024);
	buddy_free(&a.b, p, 2);                  /* double free */
	CHECK(a.b.errors == 8);
	CHECK(buddy_free_pages(&a.b) == 1024);
	CHECK(buddy_check(&a.b));
	CHECK(buddy_alloc(&a.b, BUDDY_MAX_ORDER) == -1);
	arena_fini(&a);
}

/* Random alloc/free with live blocks tracked in an ownership map; at the end
 * the allocator must look exactly like one that was never used. */
static void test_random_stress(void)
{
	const uint64_t base = 0x12345, n = 1 << 14;
	enum { LIVE_MAX = 4096 };
	struct arena a, fresh;
	struct { int64_t pfn; unsigned order; } live[LIVE_MAX];
	size_t nlive = 0;
	uint32_t *owner = calloc(n, sizeof *owner);  /* 0 = nobody, else slot + 1 */
	uint64_t seed = 0x5eed0b0dd1e5ull, in_use = 0;
	int64_t failures = 0;

	arena_init(&a, base, n);
	arena_init(&fresh, base, n);
	/* A map with a hole so blocks must respect it. */
	buddy_free_range(&a.b, base, 5000);
	buddy_free_range(&a.b, base + 6000, n - 6000);
	buddy_free_range(&fresh.b, base, 5000);
	buddy_free_range(&fresh.b, base + 6000, n - 6000);
	uint64_t usable = buddy_free_pages(&a.b);

	for (int step = 0; step < 300000; step++) {
		bool do_alloc = nlive == 0 || (nlive < LIVE_MAX && rng_below(&seed, 100) < 55);
		if (do_alloc) {
			/* Mostly small orders, occasionally big ones. */
			unsigned order = rng_below(&seed, 8) ? rng_below(&seed, 4) : rng_below(&seed, BUDDY_MAX_ORDER);
			int64_t p = buddy_alloc(&a.b, order);
			if (p < 0) {
				failures++;
				continue;
			}
			CHECK(aligned(p, order));
			CHECK((uint64_t)p >= base && (uint64_t)p + (1ull << order) <= base + n);
			for (uint64_t i = 0; i < (1ull << order); i++) {
				uint64_t idx = p - base + i;
				CHECKF(owner[idx] == 0, "pfn %lu overlaps live block %u", (unsigned long)(p + i),
				       owner[idx] - 1);
				CHECKF(idx < 5000 || idx >= 6000, "hole pfn %lu handed out", (unsigned long)(p + i));
				owner[idx] = nlive + 1;
			}
			live[nlive].pfn = p;
			live[nlive].order = order;
			nlive++;
			in_use += 1ull << order;
		} else {
			size_t j = rng_below(&seed, nlive);
			for (uint64_t i = 0; i < (1ull << live[j].order); i++)
				owner[live[j].pfn - base + i] = 0;
			buddy_free(&a.b, live[j].pfn, live[j].order);
			in_use -= 1ull << live[j].order;
			live[j] = live[--nlive];
			/* The moved block's frames now belong to slot j. */
			if (j < nlive)
				for (uint64_t i = 0; i < (1ull << live[j].order); i++)
					owner[live[j].pfn - base + i] = j + 1;
		}
		CHECK(buddy_free_pages(&a.b) + in_use == usable);
		if (step % 10000 == 0)
			CHECK(buddy_check(&a.b));
	}
	CHECK(failures > 0);  /* the big orders must have hit fragmentation sometimes */
	while (nlive > 0) {
		nlive--;
		buddy_free(&a.b, live[nlive].pfn, live[nlive].order);
	}
	CHECK(a.b.errors == 0);
	CHECK(buddy_free_pages(&a.b) == usable);
	CHECK(buddy_check(&a.b));
	for (unsigned k = 0; k < BUDDY_MAX_ORDER; k++)
		CHECKF(a.b.nfree[k] == fresh.b.nfree[k], "order %u: %lu free blocks, fresh has %lu", k,
		       (unsigned long)a.b.nfree[k], (unsigned long)fresh.b.nfree[k]);
	arena_fini(&a);
	arena_fini(&fresh);
	free(owner);
}

static void test_empty_window(void)
{
	struct arena a;

	arena_init(&a, 0, 0);
	buddy_free_range(&a.b, 0, 100);
	CHECK(buddy_alloc(&a.b, 0) == -1);
	buddy_free(&a.b, 0, 0);
	CHECK(a.b.errors == 1);
	CHECK(buddy_check(&a.b));
	arena_fini(&a);
}

int main(void)
{
	RUN(test_meta_is_small);
	RUN(test_starts_reserved);
	RUN(test_free_range_builds_max_blocks);
	RUN(test_page_by_page_coalesces);
	RUN(test_split_and_merge);
	RUN(test_exhaustion_and_reuse);
	RUN(test_unaligned_window);
	RUN(test_holes_stay_reserved);
	RUN(test_overlapping_ranges_counted);
	RUN(test_bad_frees_counted);
	RUN(test_random_stress);
	RUN(test_empty_window);
	return check_done();
}
