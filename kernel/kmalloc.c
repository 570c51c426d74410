/* kernel/kmalloc.c: the kernel heap: kernel/heap.c's size classes over buddy pages, under a lock. */
#include "kernel/kmalloc.h"
#include "kernel/heap.h"
#include "kernel/mm.h"
#include "kernel/pmm.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"

static struct heap kheap;
static struct spinlock heap_lock = SPINLOCK_INIT("kheap");

static void *heap_get_pages(unsigned order, void *ctx)
{
    uint64_t pa = pmm_alloc_pages(order);
    return pa ? P2V(pa) : NULL;
}

static void heap_put_pages(void *p, unsigned order, void *ctx) { pmm_free_pages(V2P(p), order); }

void kmalloc_init(void)
{
    static const struct heap_page_ops ops = { heap_get_pages, heap_put_pages, NULL };
    heap_init(&kheap, &ops);
}

void *kmalloc(size_t size)
{
    uint64_t f = spin_lock_irqsave(&heap_lock);
    void *p = heap_alloc(&kheap, size);
    spin_unlock_irqrestore(&heap_lock, f);
    return p;
}

void *kzalloc(size_t size)
{
    void *p = kmalloc(size);
    if (p)
        memset(p, 0, size);
    return p;
}

void kfree(void *p)
{
    uint64_t f = spin_lock_irqsave(&heap_lock);
    heap_free(&kheap, p);
    spin_unlock_irqrestore(&heap_lock, f);
}

void kmalloc_stats(struct heap_stats *out)
{
    uint64_t f = spin_lock_irqsave(&heap_lock);
    heap_get_stats(&kheap, out);
    spin_unlock_irqrestore(&heap_lock, f);
}
