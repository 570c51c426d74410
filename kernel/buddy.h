/* kernel/buddy.h: binary buddy allocator over physical page frame numbers.
 * It owns only its metadata array, never the frames, so it also runs on the host. */
#ifndef KERNEL_BUDDY_H
#define KERNEL_BUDDY_H

#include <stdbool.h>
#include <stdint.h>

#define BUDDY_MAX_ORDER 11          /* blocks of 1..1024 pages: orders 0..10 */
#define BUDDY_NIL 0xffffffffu       /* "no page" in the index-linked free lists */
#define BUDDY_MAX_PAGES 0xfffffffeu /* indices must stay below BUDDY_NIL */

/* Per-frame state; only a block's first frame (its head) says anything about it. */
enum {
	BUDDY_RESERVED = 0,  /* never handed to the allocator (the initial state) */
	BUDDY_TAIL,          /* inside a block headed by a lower frame */
	BUDDY_FREE,          /* head of a free block, linked on free_head[order] */
	BUDDY_ALLOCATED,     /* head of an allocated block */
};

struct buddy_page {
	uint32_t next, prev;  /* free-list links (indices from base_pfn), heads only */
	uint8_t state;
	uint8_t order;        /* block order, heads only */
};

struct buddy {
	struct buddy_page *meta;
	uint64_t base_pfn;
	uint64_t npages;
	uint32_t free_head[BUDDY_MAX_ORDER];
	uint64_t nfree[BUDDY_MAX_ORDER];  /* blocks on each free list */
	uint64_t free_pages;
	uint64_t usable_pages;            /* everything ever given by buddy_free_range */
	uint64_t errors;                  /* rejected frees and overlapping ranges */
};

/* meta must have room for npages entries; frames [base_pfn, base_pfn+npages)
 * are managed (npages is clamped to BUDDY_MAX_PAGES); all start RESERVED. */
void buddy_init(struct buddy *b, struct buddy_page *meta, uint64_t base_pfn, uint64_t npages);

/* Makes frames usable (from a memory map), coalescing as it goes. The part
 * outside the managed window is ignored; frames already usable are skipped
 * and counted in b->errors. */
void buddy_free_range(struct buddy *b, uint64_t pfn, uint64_t count);

/* Returns the first pfn of a block of 1 << order frames, aligned to that size
 * in absolute pfn terms, or -1 when exhausted or order >= BUDDY_MAX_ORDER. */
int64_t buddy_alloc(struct buddy *b, unsigned order);

/* pfn and order must be exactly what buddy_alloc returned/was given. Anything
 * else (double free, wrong order, unmanaged or misaligned pfn) is counted in
 * b->errors and otherwise ignored. */
void buddy_free(struct buddy *b, uint64_t pfn, unsigned order);

uint64_t buddy_free_pages(const struct buddy *b);

/* Walks all metadata and free lists and returns whether every invariant holds
 * (for tests and self-checks; O(npages)). */
bool buddy_check(const struct buddy *b);

#endif /* KERNEL_BUDDY_H */
