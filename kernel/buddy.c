/* kernel/buddy.c: binary buddy page-frame allocator core (see buddy.h). Blocks
 * are aligned to their size in absolute pfn terms, so the buddy of a block is
 * found by flipping one bit of its pfn. */
#include "kernel/buddy.h"

#include <stddef.h>

static struct buddy_page *page(const struct buddy *b, uint64_t pfn)
{
	return &b->meta[pfn - b->base_pfn];
}

static bool managed(const struct buddy *b, uint64_t pfn)
{
	return pfn >= b->base_pfn && pfn - b->base_pfn < b->npages;
}

static void list_push(struct buddy *b, uint64_t pfn, unsigned order)
{
	uint32_t idx = pfn - b->base_pfn;
	struct buddy_page *p = &b->meta[idx];

	p->state = BUDDY_FREE;
	p->order = order;
	p->prev = BUDDY_NIL;
	p->next = b->free_head[order];
	if (p->next != BUDDY_NIL)
		b->meta[p->next].prev = idx;
	b->free_head[order] = idx;
	b->nfree[order]++;
}

static void list_remove(struct buddy *b, uint64_t pfn, unsigned order)
{
	struct buddy_page *p = page(b, pfn);

	if (p->prev != BUDDY_NIL)
		b->meta[p->prev].next = p->next;
	else
		b->free_head[order] = p->next;
	if (p->next != BUDDY_NIL)
		b->meta[p->next].prev = p->prev;
	b->nfree[order]--;
}

void buddy_init(struct buddy *b, struct buddy_page *meta, uint64_t base_pfn, uint64_t npages)
{
	*b = (struct buddy){ .meta = meta, .base_pfn = base_pfn };
	b->npages = npages < BUDDY_MAX_PAGES ? npages : BUDDY_MAX_PAGES;
	for (unsigned k = 0; k < BUDDY_MAX_ORDER; k++)
		b->free_head[k] = BUDDY_NIL;
	for (uint64_t i = 0; i < b->npages; i++)
		meta[i] = (struct buddy_page){ BUDDY_NIL, BUDDY_NIL, BUDDY_RESERVED, 0 };
}

/* Puts a block on the free lists, merging with its buddy while that is a
 * whole free block of the same order. Each merge demotes the upper head to a
 * tail, so only real heads ever claim to be free. */
static void release(struct buddy *b, uint64_t pfn, unsigned order)
{
	while (order + 1 < BUDDY_MAX_ORDER) {
		uint64_t buddy = pfn ^ (1ull << order);
		if (!managed(b, buddy))
			break;
		struct buddy_page *bp = page(b, buddy);
		if (bp->state != BUDDY_FREE || bp->order != order)
			break;
		list_remove(b, buddy, order);
		bp->state = BUDDY_TAIL;
		page(b, pfn)->state = BUDDY_TAIL;
		pfn &= ~(1ull << order);
		order++;
	}
	list_push(b, pfn, order);
}

/* Largest order for a block at pfn that stays aligned and ends by end. */
static unsigned fit_order(uint64_t pfn, uint64_t end)
{
	unsigned k = 0;

	while (k + 1 < BUDDY_MAX_ORDER && (pfn & ((2ull << k) - 1)) == 0 && pfn + (2ull << k) <= end)
		k++;
	return k;
}

void buddy_free_range(struct buddy *b, uint64_t pfn, uint64_t count)
{
	uint64_t lo = pfn, hi = pfn + count;
	uint64_t end = b->base_pfn + b->npages;

	if (hi < lo)  /* wrapped */
		hi = UINT64_MAX;
	if (lo < b->base_pfn)
		lo = b->base_pfn;
	if (hi > end)
		hi = end;

	while (lo < hi) {
		if (page(b, lo)->state != BUDDY_RESERVED) {
			b->errors++;
			lo++;
			continue;
		}
		/* Free the run of still-reserved frames as the biggest aligned blocks. */
		uint64_t run = lo;
		while (run < hi && page(b, run)->state == BUDDY_RESERVED)
			run++;
		while (lo < run) {
			unsigned k = fit_order(lo, run);
			uint64_t n = 1ull << k;
			for (uint64_t i = 1; i < n; i++)
				page(b, lo + i)->state = BUDDY_TAIL;
			b->free_pages += n;
			b->usable_pages += n;
			release(b, lo, k);
			lo += n;
		}
	}
}

int64_t buddy_alloc(struct buddy *b, unsigned order)
{
	unsigned k = order;

	if (order >= BUDDY_MAX_ORDER)
		return -1;
	while (k < BUDDY_MAX_ORDER && b->free_head[k] == BUDDY_NIL)
		k++;
	if (k == BUDDY_MAX_ORDER)
		return -1;

	uint64_t pfn = b->base_pfn + b->free_head[k];
	list_remove(b, pfn, k);
	/* Split, keeping the lower half and freeing each upper half. */
	while (k > order) {
		k--;
		list_push(b, pfn + (1ull << k), k);
	}
	page(b, pfn)->state = BUDDY_ALLOCATED;
	page(b, pfn)->order = order;
	b->free_pages -= 1ull << order;
	return (int64_t)pfn;
}

void buddy_free(struct buddy *b, uint64_t pfn, unsigned order)
{
	/* The head check alone rejects tails, free blocks and wrong orders; the
	 * others keep a corrupted pfn from indexing outside meta. */
	if (order >= BUDDY_MAX_ORDER || !managed(b, pfn) || (pfn & ((1ull << order) - 1)) ||
	    page(b, pfn)->state != BUDDY_ALLOCATED || page(b, pfn)->order != order) {
		b->errors++;
		return;
	}
	b->free_pages += 1ull << order;
	release(b, pfn, order);
}

uint64_t buddy_free_pages(const struct buddy *b)
{
	return b->free_pages;
}

/* Every head must be aligned and followed by exactly its tails. */
static bool check_blocks(const struct buddy *b, uint64_t *free_heads)
{
	uint64_t i = 0;

	*free_heads = 0;
	while (i < b->npages) {
		const struct buddy_page *p = &b->meta[i];
		if (p->state == BUDDY_RESERVED) {
			i++;
			continue;
		}
		if (p->state != BUDDY_FREE && p->state != BUDDY_ALLOCATED)
			return false;  /* orphan tail or garbage */
		uint64_t n = 1ull << p->order;
		if (p->order >= BUDDY_MAX_ORDER || ((b->base_pfn + i) & (n - 1)) || i + n > b->npages)
			return false;
		for (uint64_t j = 1; j < n; j++)
			if (b->meta[i + j].state != BUDDY_TAIL)
				return false;
		if (p->state == BUDDY_FREE)
			(*free_heads)++;
		i += n;
	}
	return true;
}

/* Every list entry must be a free head of that order with sane links, no
 * free block may have an unmerged free buddy, and counters must add up. */
static bool check_lists(const struct buddy *b, uint64_t free_heads)
{
	uint64_t blocks = 0, pages = 0;

	for (unsigned k = 0; k < BUDDY_MAX_ORDER; k++) {
		uint64_t n = 0;
		uint32_t prev = BUDDY_NIL;
		for (uint32_t i = b->free_head[k]; i != BUDDY_NIL; i = b->meta[i].next) {
			if (i >= b->npages || n > b->npages)
				return false;
			const struct buddy_page *p = &b->meta[i];
			if (p->state != BUDDY_FREE || p->order != k || p->prev != prev)
				return false;
			uint64_t buddy = (b->base_pfn + i) ^ (1ull << k);
			if (k + 1 < BUDDY_MAX_ORDER && managed(b, buddy) &&
			    page(b, buddy)->state == BUDDY_FREE && page(b, buddy)->order == k)
				return false;
			prev = i;
			n++;
		}
		if (n != b->nfree[k])
			return false;
		blocks += n;
		pages += n << k;
	}
	return blocks == free_heads && pages == b->free_pages;
}

bool buddy_check(const struct buddy *b)
{
	uint64_t free_heads;

	return check_blocks(b, &free_heads) && check_lists(b, free_heads);
}
