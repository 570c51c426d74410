/* kernel/heap.h: kmalloc core. Small size classes carved from 4 KiB pages,
 * bigger requests get whole page blocks; pages come from a provider so the
 * host can test it. Not locked: the kernel wraps calls in a spinlock. */
#ifndef KERNEL_HEAP_H
#define KERNEL_HEAP_H

#include <stddef.h>

#define HEAP_PAGE_SIZE 4096
#define HEAP_NCLASSES 8         /* 16, 32, ..., 2048 bytes */
#define HEAP_SMALL_MAX 2048
#define HEAP_ALIGN 16
#define HEAP_MAX_ORDER 30       /* never ask the provider for more than 4 TiB */

/* alloc_pages must return blocks of 4 KiB << order aligned to that size, or NULL. */
struct heap_page_ops {
	void *(*alloc_pages)(unsigned order, void *ctx);
	void (*free_pages)(void *p, unsigned order, void *ctx);
	void *ctx;
};

struct heap_page;  /* header at the start of every page block the heap owns */

struct heap {
	struct heap_page_ops ops;
	struct heap_page *partial[HEAP_NCLASSES];  /* slabs with at least one free object */
	unsigned empty[HEAP_NCLASSES];             /* wholly free slabs kept for reuse */
	/* Statistics, see struct heap_stats. */
	size_t bytes_in_use, pages_in_use, allocs, frees, errors;
};

/* bytes_in_use counts usable sizes (heap_usable_size), not requested sizes;
 * pages_in_use includes cached empty slabs (see heap_trim); allocs and frees
 * are cumulative counts of successful calls; errors counts rejected frees
 * (double, foreign or misaligned pointers) and corruption found in free lists. */
struct heap_stats {
	size_t bytes_in_use, pages_in_use, allocs, frees, errors;
};

void heap_init(struct heap *h, const struct heap_page_ops *ops);

/* 16-byte aligned, NULL when out of memory. size 0 returns a unique minimal
 * (16-byte) allocation, never NULL unless out of memory; free it as usual. */
void *heap_alloc(struct heap *h, size_t size);

/* NULL is ignored. Double frees and pointers the heap did not hand out are
 * counted in h->errors and otherwise ignored (best effort: a pointer into a
 * page that was given back and reused elsewhere cannot be recognised). */
void heap_free(struct heap *h, void *p);

/* Bytes the allocation may really use (>= the size asked for); 0 for NULL
 * or a pointer the heap does not recognise. */
size_t heap_usable_size(struct heap *h, void *p);

void heap_get_stats(const struct heap *h, struct heap_stats *out);

/* Gives every cached empty slab page back to the provider. */
void heap_trim(struct heap *h);

#endif /* KERNEL_HEAP_H */
