/* kernel/pmm.h: physical page frames, fed by the boot memory map, handed out by a buddy allocator. */
#pragma once
#include <stdint.h>

struct bootinfo;
void pmm_init(const struct bootinfo *bi);
uint64_t pmm_alloc_pages(unsigned order);      /* physical address, 0 when exhausted */
void pmm_free_pages(uint64_t pa, unsigned order);
uint64_t pmm_alloc_page(void);                  /* zeroed page */
void pmm_free_page(uint64_t pa);
uint64_t pmm_free_count(void);                  /* free pages */
uint64_t pmm_total_count(void);                 /* usable pages */
uint64_t pmm_max_phys(void);                    /* end of the highest usable RAM */

/* User pages are reference counted: copy-on-write sharing after fork. */
void pmm_refs_init(void);                       /* after the heap is up */
uint64_t page_alloc_user(void);                 /* zeroed page with one reference, 0 when exhausted */
void page_get(uint64_t pa);
void page_put(uint64_t pa);                     /* frees the page with its last reference */
unsigned page_refcount(uint64_t pa);
