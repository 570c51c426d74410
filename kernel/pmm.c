/*
 * kernel/pmm.c: physical memory. Usable RAM from the boot memory map goes to the buddy allocator,
 * minus what is already in use: the first MiB (BIOS, real-mode data), the kernel image, the boot
 * modules, the loader's information, and the allocator's own metadata array.
 */
#include "kernel/pmm.h"
#include "kernel/bootinfo.h"
#include "kernel/buddy.h"
#include "kernel/kmalloc.h"
#include "kernel/mm.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"

#define MAX_RESERVED (BOOT_MAX_MODULES + 4)

struct range {
    uint64_t start, end;
};

static struct buddy buddy;
static struct spinlock pmm_lock = SPINLOCK_INIT("pmm");
static uint64_t max_phys;
static struct range reserved[MAX_RESERVED];
static int nreserved;

extern char __kernel_phys_start[], __kernel_end[];

static void reserve(uint64_t start, uint64_t end)
{
    if (nreserved < MAX_RESERVED && end > start)
        reserved[nreserved++] = (struct range){ PAGE_ALIGN_DOWN(start), PAGE_ALIGN_UP(end) };
}

/* Frees [start, end) minus every reserved range, recursively splitting around them. */
static void free_except_reserved(uint64_t start, uint64_t end, int from)
{
    for (int i = from; i < nreserved && start < end; i++) {
        struct range r = reserved[i];
        if (r.end <= start || r.start >= end)
            continue;
        if (r.start > start)
            free_except_reserved(start, r.start, i + 1);
        start = r.end;
    }
    if (start < end)
        buddy_free_range(&buddy, start >> PAGE_SHIFT, (end - start) >> PAGE_SHIFT);
}

/* The metadata array goes in the first usable gap after everything reserved so far. */
static uint64_t place_metadata(const struct bootinfo *bi, uint64_t bytes)
{
    uint64_t at = 0;
    for (int i = 0; i < nreserved; i++)
        if (reserved[i].end > at)
            at = reserved[i].end;
    for (int i = 0; i < bi->nmem; i++) {
        const struct mem_region *m = &bi->mem[i];
        uint64_t start = m->base > at ? PAGE_ALIGN_UP(m->base) : at;
        if (m->type == 1 && start + bytes <= m->base + m->len && start + bytes <= 0x100000000ull)
            return start;
    }
    panic("pmm: no room for %lu bytes of page metadata", bytes);
}

void pmm_init(const struct bootinfo *bi)
{
    for (int i = 0; i < bi->nmem; i++)
        if (bi->mem[i].type == 1 && bi->mem[i].base + bi->mem[i].len > max_phys)
            max_phys = bi->mem[i].base + bi->mem[i].len;
    max_phys = PAGE_ALIGN_DOWN(max_phys);

    reserve(0, 0x100000);
    reserve((uint64_t)__kernel_phys_start, KIMG_V2P(__kernel_end));
    for (int i = 0; i < bi->nmods; i++)
        reserve(bi->mods[i].start, bi->mods[i].end);
    reserve(bi->info_start, bi->info_end);

    uint64_t npages = max_phys >> PAGE_SHIFT;
    uint64_t meta_bytes = PAGE_ALIGN_UP(npages * sizeof(struct buddy_page));
    uint64_t meta = place_metadata(bi, meta_bytes);
    reserve(meta, meta + meta_bytes);
    buddy_init(&buddy, P2V(meta), 0, npages);

    for (int i = 0; i < bi->nmem; i++) {
        const struct mem_region *m = &bi->mem[i];
        if (m->type == 1)
            free_except_reserved(PAGE_ALIGN_UP(m->base), PAGE_ALIGN_DOWN(m->base + m->len), 0);
    }
    printk(LOG_INFO, "pmm: %lu MiB usable, %lu MiB free, highest address %#lx\n",
           (buddy.usable_pages * PAGE_SIZE) >> 20, (buddy_free_pages(&buddy) * PAGE_SIZE) >> 20, max_phys);
}

uint64_t pmm_alloc_pages(unsigned order)
{
    uint64_t f = spin_lock_irqsave(&pmm_lock);
    int64_t pfn = buddy_alloc(&buddy, order);
    spin_unlock_irqrestore(&pmm_lock, f);
    return pfn < 0 ? 0 : (uint64_t)pfn << PAGE_SHIFT;
}

void pmm_free_pages(uint64_t pa, unsigned order)
{
    uint64_t f = spin_lock_irqsave(&pmm_lock);
    uint64_t errors = buddy.errors;
    buddy_free(&buddy, pa >> PAGE_SHIFT, order);
    bool bad = buddy.errors != errors;
    spin_unlock_irqrestore(&pmm_lock, f);
    if (bad)
        printk(LOG_ERR, "pmm: bad free of %#lx order %u (from %p)\n", pa, order, __builtin_return_address(0));
}

uint64_t pmm_alloc_page(void)
{
    uint64_t pa = pmm_alloc_pages(0);
    if (pa)
        memset(P2V(pa), 0, PAGE_SIZE);
    return pa;
}

void pmm_free_page(uint64_t pa) { pmm_free_pages(pa, 0); }
/* Reference counts of pages shared copy-on-write between address spaces; 0 = not a counted page. */
static uint16_t *page_refs;

void pmm_refs_init(void)
{
    page_refs = kzalloc((max_phys >> PAGE_SHIFT) * sizeof *page_refs);
    if (!page_refs)
        panic("pmm: no memory for page reference counts");
}

uint64_t page_alloc_user(void)
{
    uint64_t pa = pmm_alloc_page();
    if (pa)
        page_refs[pa >> PAGE_SHIFT] = 1;
    return pa;
}

void page_get(uint64_t pa)
{
    uint64_t f = spin_lock_irqsave(&pmm_lock);
    page_refs[pa >> PAGE_SHIFT]++;
    spin_unlock_irqrestore(&pmm_lock, f);
}

void page_put(uint64_t pa)
{
    uint64_t f = spin_lock_irqsave(&pmm_lock);
    uint16_t left = page_refs[pa >> PAGE_SHIFT] ? --page_refs[pa >> PAGE_SHIFT] : 0xffff;
    spin_unlock_irqrestore(&pmm_lock, f);
    if (left == 0)
        pmm_free_pages(pa, 0);
    else if (left == 0xffff)
        printk(LOG_ERR, "pmm: page_put of uncounted page %#lx (from %p)\n", pa, __builtin_return_address(0));
}

unsigned page_refcount(uint64_t pa) { return page_refs[pa >> PAGE_SHIFT]; }

uint64_t pmm_free_count(void) { return buddy_free_pages(&buddy); }
uint64_t pmm_total_count(void) { return buddy.usable_pages; }
uint64_t pmm_max_phys(void) { return max_phys; }
