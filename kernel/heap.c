/* kernel/heap.c: kmalloc core (see heap.h).
 *
 * Every page block the heap owns starts with a struct heap_page. Because
 * blocks are aligned to their size and every pointer handed out lies in a
 * block's first 4 KiB, rounding a pointer down to 4 KiB finds its header.
 * A slab is one page of equal objects; free objects form a list inside the
 * page and carry a magic word so double frees can be recognised. A large
 * allocation is a block of 4 KiB << order whose data follows the header.
 *
 * The price of in-page headers: the 1024-byte class fits 3 objects per page
 * and the 2048-byte class only 1 (no worse than a page-backed allocation). */
#include "kernel/heap.h"

#include <stdbool.h>
#include <stdint.h>

#define SLAB_MAGIC 0x51ab0c0du
#define LARGE_MAGIC 0x1a59eb1du
#define DEAD_MAGIC 0xdeadfa9eu     /* stamped on blocks given back */
#define FREE_MAGIC 0xf7eeb10cf7eeb10cull
#define CACHED_EMPTY 1             /* empty slabs kept per class */

struct heap_obj {
	struct heap_obj *next;
	uint64_t magic;  /* FREE_MAGIC while on a free list */
};

struct heap_page {
	uint32_t magic;               /* SLAB_MAGIC, LARGE_MAGIC or DEAD_MAGIC */
	uint8_t cls;                  /* slab: size class */
	uint8_t order;                /* large: block order */
	uint16_t inuse;               /* slab: objects handed out */
	struct heap_obj *free;        /* slab: non-NULL exactly while on partial list */
	struct heap_page *prev, *next;
};

#define HDR_SIZE ((sizeof(struct heap_page) + HEAP_ALIGN - 1) & ~(size_t)(HEAP_ALIGN - 1))

_Static_assert(sizeof(struct heap_obj) <= 16, "free object must fit the smallest class");
_Static_assert(HDR_SIZE == 32, "header layout changed");

static size_t class_size(unsigned cls)
{
	return (size_t)16 << cls;
}

static unsigned class_capacity(unsigned cls)
{
	return (HEAP_PAGE_SIZE - HDR_SIZE) / class_size(cls);
}

static unsigned size_class(size_t size)
{
	unsigned cls = 0;

	while (class_size(cls) < size)
		cls++;
	return cls;
}

static size_t large_usable(unsigned order)
{
	return ((size_t)HEAP_PAGE_SIZE << order) - HDR_SIZE;
}

static struct heap_page *page_of(const void *p)
{
	return (struct heap_page *)((uintptr_t)p & ~(uintptr_t)(HEAP_PAGE_SIZE - 1));
}

static void *get_block(struct heap *h, unsigned order)
{
	void *p = h->ops.alloc_pages(order, h->ops.ctx);

	/* Header lookup depends on alignment; refuse a provider that breaks it. */
	if (p && ((uintptr_t)p & (((uintptr_t)HEAP_PAGE_SIZE << order) - 1))) {
		h->ops.free_pages(p, order, h->ops.ctx);
		h->errors++;
		return NULL;
	}
	if (p)
		h->pages_in_use += (size_t)1 << order;
	return p;
}

static void put_block(struct heap *h, struct heap_page *pg, unsigned order)
{
	pg->magic = DEAD_MAGIC;
	h->pages_in_use -= (size_t)1 << order;
	h->ops.free_pages(pg, order, h->ops.ctx);
}

static void partial_push(struct heap *h, struct heap_page *pg)
{
	pg->prev = NULL;
	pg->next = h->partial[pg->cls];
	if (pg->next)
		pg->next->prev = pg;
	h->partial[pg->cls] = pg;
}

static void partial_remove(struct heap *h, struct heap_page *pg)
{
	if (pg->prev)
		pg->prev->next = pg->next;
	else
		h->partial[pg->cls] = pg->next;
	if (pg->next)
		pg->next->prev = pg->prev;
}

static void slab_release(struct heap *h, struct heap_page *pg)
{
	partial_remove(h, pg);
	h->empty[pg->cls]--;
	put_block(h, pg, 0);
}

static struct heap_page *slab_new(struct heap *h, unsigned cls)
{
	struct heap_page *pg = get_block(h, 0);

	if (!pg)
		return NULL;
	*pg = (struct heap_page){ .magic = SLAB_MAGIC, .cls = cls };
	/* Build the list back to front so objects go out in address order. */
	char *base = (char *)pg + HDR_SIZE;
	for (unsigned i = class_capacity(cls); i-- > 0;) {
		struct heap_obj *o = (struct heap_obj *)(base + i * class_size(cls));
		o->next = pg->free;
		o->magic = FREE_MAGIC;
		pg->free = o;
	}
	h->empty[cls]++;
	partial_push(h, pg);
	return pg;
}

/* Is o a slot of pg (not the header, not between slots)? */
static bool valid_slot(const struct heap_page *pg, const void *o)
{
	uintptr_t off = (uintptr_t)o - (uintptr_t)pg;

	if (off < HDR_SIZE || off >= HEAP_PAGE_SIZE)
		return false;
	off -= HDR_SIZE;
	return off % class_size(pg->cls) == 0 && off / class_size(pg->cls) < class_capacity(pg->cls);
}

/*
 * A write after free can clobber the list. Rather than follow a bad link,
 * drop the rest of the list: the page then behaves as full until its live
 * objects come back, or is given back at once if nothing is live.
 */
static void slab_corrupt(struct heap *h, struct heap_page *pg)
{
	h->errors++;
	if (pg->inuse == 0) {
		slab_release(h, pg);
		return;
	}
	pg->free = NULL;
	partial_remove(h, pg);
}

static void *alloc_small(struct heap *h, unsigned cls)
{
	for (;;) {
		struct heap_page *pg = h->partial[cls];
		if (!pg && !(pg = slab_new(h, cls)))
			return NULL;

		struct heap_obj *o = pg->free;
		if (o->magic != FREE_MAGIC || (o->next && !valid_slot(pg, o->next))) {
			slab_corrupt(h, pg);
			continue;
		}
		pg->free = o->next;
		o->next = NULL;
		o->magic = 0;
		if (pg->inuse++ == 0)
			h->empty[cls]--;
		if (!pg->free)
			partial_remove(h, pg);
		h->bytes_in_use += class_size(cls);
		h->allocs++;
		return o;
	}
}

static void *alloc_large(struct heap *h, size_t size)
{
	unsigned order = 0;

	while (large_usable(order) < size)
		if (++order > HEAP_MAX_ORDER)
			return NULL;
	struct heap_page *pg = get_block(h, order);
	if (!pg)
		return NULL;
	*pg = (struct heap_page){ .magic = LARGE_MAGIC, .order = order };
	h->bytes_in_use += large_usable(order);
	h->allocs++;
	return (char *)pg + HDR_SIZE;
}

void heap_init(struct heap *h, const struct heap_page_ops *ops)
{
	*h = (struct heap){ .ops = *ops };
}

void *heap_alloc(struct heap *h, size_t size)
{
	if (size <= HEAP_SMALL_MAX)
		return alloc_small(h, size_class(size));
	return alloc_large(h, size);
}

/* Only a suspect (magic matches) is searched for, so live objects whose data
 * happens to contain the magic are still freed. The walk is bounded in case
 * the list is corrupt. */
static bool on_free_list(const struct heap_page *pg, const struct heap_obj *o)
{
	const struct heap_obj *it = pg->free;

	for (unsigned n = 0; it && n < class_capacity(pg->cls); n++, it = it->next) {
		if (it == o)
			return true;
		if (it->next && !valid_slot(pg, it->next))
			break;
	}
	return false;
}

static void free_small(struct heap *h, struct heap_page *pg, void *p)
{
	struct heap_obj *o = p;
	unsigned cls = pg->cls;

	if (!valid_slot(pg, p) || pg->inuse == 0 || (o->magic == FREE_MAGIC && on_free_list(pg, o))) {
		h->errors++;
		return;
	}
	if (!pg->free)
		partial_push(h, pg);
	o->next = pg->free;
	o->magic = FREE_MAGIC;
	pg->free = o;
	h->bytes_in_use -= class_size(cls);
	h->frees++;
	if (--pg->inuse == 0 && h->empty[cls]++ >= CACHED_EMPTY)
		slab_release(h, pg);
}

static void free_large(struct heap *h, struct heap_page *pg, void *p)
{
	if (p != (char *)pg + HDR_SIZE || pg->order > HEAP_MAX_ORDER) {
		h->errors++;
		return;
	}
	h->bytes_in_use -= large_usable(pg->order);
	h->frees++;
	put_block(h, pg, pg->order);
}

void heap_free(struct heap *h, void *p)
{
	if (!p)
		return;
	struct heap_page *pg = page_of(p);
	if ((uintptr_t)p % HEAP_ALIGN) {
		h->errors++;
	} else if (pg->magic == SLAB_MAGIC && pg->cls < HEAP_NCLASSES) {
		free_small(h, pg, p);
	} else if (pg->magic == LARGE_MAGIC) {
		free_large(h, pg, p);
	} else {
		h->errors++;  /* given back already, or never ours */
	}
}

size_t heap_usable_size(struct heap *h, void *p)
{
	(void)h;
	if (!p || (uintptr_t)p % HEAP_ALIGN)
		return 0;
	struct heap_page *pg = page_of(p);
	if (pg->magic == SLAB_MAGIC && pg->cls < HEAP_NCLASSES && valid_slot(pg, p))
		return class_size(pg->cls);
	if (pg->magic == LARGE_MAGIC && p == (char *)pg + HDR_SIZE && pg->order <= HEAP_MAX_ORDER)
		return large_usable(pg->order);
	return 0;
}

void heap_get_stats(const struct heap *h, struct heap_stats *out)
{
	*out = (struct heap_stats){
		.bytes_in_use = h->bytes_in_use,
		.pages_in_use = h->pages_in_use,
		.allocs = h->allocs,
		.frees = h->frees,
		.errors = h->errors,
	};
}

void heap_trim(struct heap *h)
{
	for (unsigned cls = 0; cls < HEAP_NCLASSES; cls++) {
		struct heap_page *pg = h->partial[cls];
		while (pg) {
			struct heap_page *next = pg->next;
			if (pg->inuse == 0)
				slab_release(h, pg);
			pg = next;
		}
	}
}
