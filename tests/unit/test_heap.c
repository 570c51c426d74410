/* tests/unit/test_heap.c: host tests for the kmalloc core (kernel/heap.c),
 * backed by a checking page provider built on aligned_alloc. */
#include "kernel/heap.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>

/*
 * The provider checks that every block comes back exactly once with its
 * order, and can run out of memory on purpose. Returned blocks sit in a
 * small quarantine before really being freed, so tests can double-free into
 * a block the heap has already given back without ASan aborting the run.
 */
#define PROV_BUCKETS 4096
#define PROV_QUARANTINE 64

struct block {
	void *p;
	unsigned order;
	struct block *next;
};

struct provider {
	struct block *live[PROV_BUCKETS];
	void *quarantine[PROV_QUARANTINE];
	size_t qhead;
	size_t pages_out, blocks_out;
	size_t budget;  /* max pages_out; 0 = unlimited */
	size_t bad_frees;
	size_t max_order_seen;
};

static size_t bucket(const void *p)
{
	return ((uintptr_t)p >> 12) % PROV_BUCKETS;
}

static void *prov_alloc(unsigned order, void *ctx)
{
	struct provider *pv = ctx;
	size_t bytes = (size_t)HEAP_PAGE_SIZE << order;

	if (pv->budget && pv->pages_out + ((size_t)1 << order) > pv->budget)
		return NULL;
	void *p = aligned_alloc(bytes, bytes);
	if (!p)
		return NULL;
	struct block *b = malloc(sizeof *b);
	*b = (struct block){ p, order, pv->live[bucket(p)] };
	pv->live[bucket(p)] = b;
	pv->pages_out += (size_t)1 << order;
	pv->blocks_out++;
	if (order > pv->max_order_seen)
		pv->max_order_seen = order;
	return p;
}

static void prov_free(void *p, unsigned order, void *ctx)
{
	struct provider *pv = ctx;

	for (struct block **bp = &pv->live[bucket(p)]; *bp; bp = &(*bp)->next) {
		struct block *b = *bp;
		if (b->p != p)
			continue;
		if (b->order != order) {
			pv->bad_frees++;
			return;
		}
		*bp = b->next;
		free(b);
		pv->pages_out -= (size_t)1 << order;
		pv->blocks_out--;
		free(pv->quarantine[pv->qhead]);
		pv->quarantine[pv->qhead] = p;
		pv->qhead = (pv->qhead + 1) % PROV_QUARANTINE;
		return;
	}
	pv->bad_frees++;
}

static void prov_init(struct provider *pv, struct heap *h, size_t budget)
{
	memset(pv, 0, sizeof *pv);
	pv->budget = budget;
	struct heap_page_ops ops = { prov_alloc, prov_free, pv };
	heap_init(h, &ops);
}

/* Frees whatever the heap leaked plus the quarantine; checks nothing leaked. */
static void prov_fini(struct provider *pv)
{
	CHECKF(pv->blocks_out == 0, "%zu blocks (%zu pages) never returned", pv->blocks_out, pv->pages_out);
	CHECKF(pv->bad_frees == 0, "%zu bad frees seen by the provider", pv->bad_frees);
	for (size_t i = 0; i < PROV_BUCKETS; i++) {
		while (pv->live[i]) {
			struct block *b = pv->live[i];
			pv->live[i] = b->next;
			free(b->p);
			free(b);
		}
	}
	for (size_t i = 0; i < PROV_QUARANTINE; i++)
		free(pv->quarantine[i]);
}

/* After everything was freed: nothing in use, nothing held, no errors. */
static void check_idle(struct heap *h, struct provider *pv)
{
	struct heap_stats st;

	heap_trim(h);
	heap_get_stats(h, &st);
	CHECKF(st.bytes_in_use == 0, "bytes_in_use %zu", st.bytes_in_use);
	CHECKF(st.pages_in_use == 0, "pages_in_use %zu", st.pages_in_use);
	CHECKF(st.allocs == st.frees, "allocs %zu frees %zu", st.allocs, st.frees);
	CHECK(pv->pages_out == 0);
}

static bool aligned16(const void *p)
{
	return ((uintptr_t)p & 15) == 0;
}

static void test_small_sizes(void)
{
	struct provider pv;
	struct heap h;

	prov_init(&pv, &h, 0);
	for (size_t size = 0; size <= HEAP_SMALL_MAX; size++) {
		void *p = heap_alloc(&h, size);
		size_t expect = 16;
		while (expect < size)
			expect *= 2;
		CHECKF(p && aligned16(p), "size %zu: %p", size, p);
		CHECKF(heap_usable_size(&h, p) == expect, "size %zu: usable %zu", size,
		       heap_usable_size(&h, p));
		memset(p, 0xab, size);
		heap_free(&h, p);
	}
	CHECK(h.errors == 0);
	CHECK(pv.max_order_seen == 0);
	check_idle(&h, &pv);
	prov_fini(&pv);
}

static void test_zero_size_is_unique(void)
{
	struct provider pv;
	struct heap h;

	prov_init(&pv, &h, 0);
	void *a = heap_alloc(&h, 0), *b = heap_alloc(&h, 0);
	CHECK(a && b && a != b);
	CHECK(heap_usable_size(&h, a) == 16);
	heap_free(&h, a);
	heap_free(&h, b);
	heap_free(&h, NULL);
	CHECK(h.errors == 0);
	check_idle(&h, &pv);
	prov_fini(&pv);
}

static void test_large_sizes(void)
{
	static const struct { size_t size; unsigned order; } cases[] = {
		{ 2049, 0 }, { 4064, 0 }, { 4065, 1 }, { 8160, 1 }, { 8161, 2 },
		{ 20000, 3 }, { (1 << 20) - 32, 8 }, { 1 << 20, 9 },
	};
	struct provider pv;
	struct heap h;

	prov_init(&pv, &h, 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t before = pv.pages_out;
		char *p = heap_alloc(&h, cases[i].size);
		CHECKF(p && aligned16(p), "size %zu", cases[i].size);
		CHECKF(pv.pages_out - before == (size_t)1 << cases[i].order, "size %zu took %zu pages",
		       cases[i].size, pv.pages_out - before);
		CHECK(heap_usable_size(&h, p) >= cases[i].size);
		CHECK(heap_usable_size(&h, p) < ((size_t)HEAP_PAGE_SIZE << cases[i].order));
		memset(p, 0x5a, heap_usable_size(&h, p));
		heap_free(&h, p);
		CHECK(pv.pages_out == before);
	}
	CHECK(heap_alloc(&h, (size_t)-1) == NULL);
	CHECK(heap_alloc(&h, (size_t)-1 / 2) == NULL);
	CHECK(h.errors == 0);
	check_idle(&h, &pv);
	prov_fini(&pv);
}

static uint8_t pattern(size_t slot, size_t serial, size_t i)
{
	return (uint8_t)(slot * 131 + serial * 31 + i * 7 + (i >> 8));
}

/* Random sizes 1..20000 (half of them small), each filled with its own
 * pattern and checked just before it is freed, so any overlap between two
 * live allocations or any write by the heap into live data shows up. */
static void test_random_stress(void)
{
	enum { SLOTS = 3000, STEPS = 200000 };
	struct provider pv;
	struct heap h;
	static struct { uint8_t *p; size_t size, serial; } slot[SLOTS];
	uint64_t seed = 0x4ea9c0ffee;
	size_t serial = 0, live_bytes = 0;
	int bad_patterns = 0;

	prov_init(&pv, &h, 0);
	memset(slot, 0, sizeof slot);
	for (int step = 0; step < STEPS; step++) {
		size_t i = rng_below(&seed, SLOTS);
		if (slot[i].p) {
			for (size_t j = 0; j < slot[i].size; j++)
				if (slot[i].p[j] != pattern(i, slot[i].serial, j)) {
					bad_patterns++;
					break;
				}
			live_bytes -= heap_usable_size(&h, slot[i].p);
			heap_free(&h, slot[i].p);
			slot[i].p = NULL;
			continue;
		}
		size_t size = rng_below(&seed, 2) ? 1 + rng_below(&seed, 20000) : 1 + rng_below(&seed, 2048);
		uint8_t *p = heap_alloc(&h, size);
		CHECKF(p != NULL, "size %zu failed", size);
		if (!p)
			continue;
		CHECKF(aligned16(p), "%p misaligned", (void *)p);
		CHECK(heap_usable_size(&h, p) >= size);
		live_bytes += heap_usable_size(&h, p);
		slot[i] = (typeof(slot[i])){ p, size, serial++ };
		for (size_t j = 0; j < size; j++)
			p[j] = pattern(i, slot[i].serial, j);
		if (step % 997 == 0) {
			struct heap_stats st;
			heap_get_stats(&h, &st);
			CHECK(st.bytes_in_use == live_bytes);
		}
	}
	CHECKF(bad_patterns == 0, "%d allocations had their data changed", bad_patterns);
	for (size_t i = 0; i < SLOTS; i++)
		heap_free(&h, slot[i].p);
	CHECK(h.errors == 0);
	check_idle(&h, &pv);
	prov_fini(&pv);
}

static void test_double_free_small(void)
{
	struct provider pv;
	struct heap h;

	prov_init(&pv, &h, 0);
	void *keep = heap_alloc(&h, 48);  /* keeps the slab alive */
	void *p = heap_alloc(&h, 48);
	heap_free(&h, p);
	heap_free(&h, p);
	CHECK(h.errors == 1);
	/* The class still hands out distinct objects. */
	void *a = heap_alloc(&h, 48), *b = heap_alloc(&h, 48);
	CHECK(a && b && a != b && a != keep && b != keep);
	heap_free(&h, a);
	heap_free(&h, b);
	heap_free(&h, keep);
	/* Double free into a slab that was given back (now dead). */
	void *q = heap_alloc(&h, 100);
	void *r = heap_alloc(&h, 16);
	heap_free(&h, q);
	heap_free(&h, r);
	heap_trim(&h);
	heap_free(&h, q);
	heap_free(&h, r);
	CHECK(h.errors == 3);
	check_idle(&h, &pv);
	prov_fini(&pv);
}

static void test_double_free_large(void)
{
	struct provider pv;
	struct heap h;

	prov_init(&pv, &h, 0);
	void *p = heap_alloc(&h, 10000);
	heap_free(&h, p);
	heap_free(&h, p);
	CHECK(h.errors == 1);
	check_idle(&h, &pv);
	prov_fini(&pv);
}

static void test_bad_pointers(void)
{
	struct provider pv;
	struct heap h;

	prov_init(&pv, &h, 0);
	char *p = heap_alloc(&h, 64);
	char *big = heap_alloc(&h, 3 * HEAP_PAGE_SIZE);
	memset(big, 0, 3 * HEAP_PAGE_SIZE);
	heap_free(&h, p + 1);                    /* misaligned */
	heap_free(&h, p + 16);                   /* between slots */
	heap_free(&h, p - 16);                  /* inside the page header */
	heap_free(&h, big + 16);                 /* not the start of a large block */
	heap_free(&h, big + HEAP_PAGE_SIZE);     /* a later page of a large block */
	CHECK(h.errors == 5);
	CHECK(heap_usable_size(&h, p + 16) == 0);
	CHECK(heap_usable_size(&h, big + 16) == 0);
	CHECK(heap_usable_size(&h, NULL) == 0);
	heap_free(&h, p);
	heap_free(&h, big);
	CHECK(h.errors == 5);
	check_idle(&h, &pv);
	prov_fini(&pv);
}

/* A live object whose data happens to look like a free one is still freed. */
static void test_live_data_looking_free(void)
{
	struct provider pv;
	struct heap h;

	prov_init(&pv, &h, 0);
	char *keep = heap_alloc(&h, 16);
	char *gone = heap_alloc(&h, 16);
	char *live = heap_alloc(&h, 16);
	heap_free(&h, gone);
	memcpy(live, gone, 16);  /* the heap's own free-object words, read back */
	heap_free(&h, live);
	CHECK(h.errors == 0);
	heap_free(&h, keep);
	check_idle(&h, &pv);
	prov_fini(&pv);
}

/* A write after free that smashes the free list is caught, not followed. */
static void test_corrupt_free_list(void)
{
	struct provider pv;
	struct heap h;

	prov_init(&pv, &h, 0);
	char *a = heap_alloc(&h, 64);
	char *b = heap_alloc(&h, 64);
	heap_free(&h, a);
	memset(a, 0x41, 16);
	char *c = heap_alloc(&h, 64);
	CHECK(h.errors == 1);
	CHECK(c && c != a && c != b);
	memset(c, 0, 64);
	heap_free(&h, c);
	heap_free(&h, b);
	CHECK(h.errors == 1);
	check_idle(&h, &pv);
	prov_fini(&pv);
}

static void test_out_of_memory(void)
{
	struct provider pv;
	struct heap h;
	void *p[200];
	int n = 0;

	prov_init(&pv, &h, 2);
	while (n < 200 && (p[n] = heap_alloc(&h, 64)))
		n++;
	CHECKF(n == 2 * 63, "got %d objects from 2 pages", n);
	CHECK(heap_alloc(&h, 10000) == NULL);
	heap_free(&h, p[0]);
	CHECK((p[0] = heap_alloc(&h, 64)) != NULL);
	while (n-- > 0)
		heap_free(&h, p[n]);
	CHECK(heap_alloc(&h, 10000) == NULL);  /* 4 pages > budget */
	void *q = heap_alloc(&h, 8000);        /* 2 pages fit once the slabs are gone */
	heap_trim(&h);
	if (!q)
		q = heap_alloc(&h, 8000);
	CHECK(q != NULL);
	heap_free(&h, q);
	CHECK(h.errors == 0);
	check_idle(&h, &pv);
	prov_fini(&pv);
}

/* One empty slab per class stays cached; more go back; trim drops the rest. */
static void test_empty_slab_cache(void)
{
	struct provider pv;
	struct heap h;
	void *p[2 * 31];

	prov_init(&pv, &h, 0);
	for (int i = 0; i < 2 * 31; i++)
		p[i] = heap_alloc(&h, 128);
	CHECK(pv.pages_out == 2);
	for (int i = 0; i < 2 * 31; i++)
		heap_free(&h, p[i]);
	CHECK(pv.pages_out == 1);
	void *q = heap_alloc(&h, 128);
	CHECK(pv.pages_out == 1);  /* reused the cached page */
	heap_free(&h, q);
	heap_trim(&h);
	CHECK(pv.pages_out == 0);
	check_idle(&h, &pv);
	prov_fini(&pv);
}

/* A provider that ignores the alignment rule is refused, not trusted. */
static _Alignas(HEAP_PAGE_SIZE) char odd_pool[2 * HEAP_PAGE_SIZE];
static int odd_returned;

static void *odd_alloc(unsigned order, void *ctx)
{
	(void)order, (void)ctx;
	return odd_pool + 64;
}

static void odd_free(void *p, unsigned order, void *ctx)
{
	(void)ctx;
	odd_returned += p == odd_pool + 64 && order == 0;
}

static void test_misaligned_provider(void)
{
	struct heap h;
	struct heap_page_ops ops = { odd_alloc, odd_free, NULL };

	heap_init(&h, &ops);
	CHECK(heap_alloc(&h, 32) == NULL);
	CHECK(odd_returned == 1);
	CHECK(h.errors == 1);
	CHECK(h.pages_in_use == 0);
}

int main(void)
{
	RUN(test_small_sizes);
	RUN(test_zero_size_is_unique);
	RUN(test_large_sizes);
	RUN(test_random_stress);
	RUN(test_double_free_small);
	RUN(test_double_free_large);
	RUN(test_bad_pointers);
	RUN(test_live_data_looking_free);
	RUN(test_corrupt_free_list);
	RUN(test_out_of_memory);
	RUN(test_empty_slab_cache);
	RUN(test_misaligned_provider);
	return check_done();
}
