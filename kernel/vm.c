/*
 * kernel/vm.c: 4-level paging. The kernel page tables map all physical memory (at least the first
 * 4 GiB, where the MMIO of the APICs and PCI devices lives) at DIRECT_MAP with 2 MiB pages, and the
 * kernel image at KERNEL_VMA with 4 KiB pages and per-section permissions (text RX, rodata R,
 * data RW, everything else no-execute). The identity map of the boot code is dropped.
 */
#include "kernel/vm.h"
#include "arch/x86/cpu.h"
#include "kernel/kmalloc.h"
#include "kernel/mm.h"
#include "kernel/panic.h"
#include "kernel/pmm.h"
#include "kernel/printk.h"
#include "kernel/string.h"

#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_U (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_G (1ull << 8)
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

static struct vm_space kernel_space;
static uint64_t nx_bit;
extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[], __data_start[], __kernel_end[];

static inline uint64_t *table(uint64_t entry) { return P2V(entry & PTE_ADDR); }
static inline unsigned idx(uint64_t va, int level) { return (va >> (12 + 9 * level)) & 511; }

/* The entry of `level` (0 = PTE) for va, creating intermediate tables if asked. */
static uint64_t *walk(uint64_t pml4, uint64_t va, int level, bool create)
{
    uint64_t *t = P2V(pml4);
    for (int l = 3; l > level; l--) {
        uint64_t *e = &t[idx(va, l)];
        if (!(*e & PTE_P)) {
            if (!create)
                return NULL;
            uint64_t pa = pmm_alloc_page();
            if (!pa)
                return NULL;
            *e = pa | PTE_P | PTE_W | PTE_U;    /* leaf entries decide the real permissions */
        }
        if (*e & PTE_PS)
            return NULL;
        t = table(*e);
    }
    return &t[idx(va, level)];
}

static uint64_t pte_flags(unsigned flags)
{
    uint64_t f = PTE_P;
    if (flags & VM_WRITE)
        f |= PTE_W;
    if (flags & VM_USER)
        f |= PTE_U;
    if (!(flags & VM_EXEC))
        f |= nx_bit;
    if (flags & VM_NOCACHE)
        f |= PTE_PCD | PTE_PWT;
    return f;
}

static void map_direct(uint64_t pml4, uint64_t limit)
{
    for (uint64_t pa = 0; pa < limit; pa += 0x200000) {
        uint64_t *pde = walk(pml4, DIRECT_MAP + pa, 1, true);
        if (!pde)
            panic("vm: out of memory building the direct map");
        uint64_t f = PTE_P | PTE_W | PTE_PS | PTE_G | nx_bit;
        if (pa >= 0xc0000000ull && pa < 0x100000000ull)
            f |= PTE_PCD | PTE_PWT;             /* the PCI hole: device registers, never cache */
        *pde = pa | f;
    }
}

static void map_kernel_image(uint64_t pml4)
{
    for (uint64_t va = (uint64_t)__text_start; va < (uint64_t)__kernel_end; va += PAGE_SIZE) {
        unsigned flags = VM_WRITE;
        if (va < (uint64_t)__text_end)
            flags = VM_EXEC;
        else if (va >= (uint64_t)__rodata_start && va < (uint64_t)__data_start)
            flags = 0;
        uint64_t *pte = walk(pml4, va, 0, true);
        if (!pte)
            panic("vm: out of memory mapping the kernel");
        *pte = KIMG_V2P(va) | pte_flags(flags) | PTE_G;
    }
}

void vm_init(void)
{
    uint32_t r[4];
    cpuid(0x80000001, 0, r);
    if (r[3] & (1u << 20)) {
        wrmsr(MSR_EFER, rdmsr(MSR_EFER) | (1u << 11));
        nx_bit = PTE_NX;
    }
    /* CR0.WP: the kernel too faults on read-only pages, so copy_to_user into a page shared
     * copy-on-write breaks the sharing instead of writing into the other process's memory. */
    uint64_t cr0;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | (1ull << 16)));
    uint64_t pml4 = pmm_alloc_page();
    if (!pml4)
        panic("vm: no page for the kernel PML4");
    uint64_t limit = pmm_max_phys() > 0x100000000ull ? pmm_max_phys() : 0x100000000ull;
    map_direct(pml4, (limit + 0x1fffff) & ~0x1fffffull);
    map_kernel_image(pml4);
    /* Every upper-half PML4 slot exists now, so address spaces can share them by copying. */
    for (int i = 256; i < 512; i++)
        if (!(((uint64_t *)P2V(pml4))[i] & PTE_P))
            ((uint64_t *)P2V(pml4))[i] = pmm_alloc_page() | PTE_P | PTE_W;
    kernel_space.pml4 = pml4;
    write_cr3(pml4);
    printk(LOG_INFO, "vm: direct map of %lu MiB, kernel image %lu KiB, NX %s\n", limit >> 20,
           ((uint64_t)__kernel_end - (uint64_t)__text_start) >> 10, nx_bit ? "on" : "off");
}

struct vm_space *vm_kernel_space(void) { return &kernel_space; }

void vm_activate(struct vm_space *s)
{
    if (read_cr3() != s->pml4)
        write_cr3(s->pml4);
}

struct vm_space *vm_space_create(void)
{
    struct vm_space *s = kzalloc(sizeof *s);
    uint64_t pml4 = s ? pmm_alloc_page() : 0;
    if (!pml4) {
        kfree(s);
        return NULL;
    }
    memcpy((uint64_t *)P2V(pml4) + 256, (uint64_t *)P2V(kernel_space.pml4) + 256, 256 * sizeof(uint64_t));
    s->pml4 = pml4;
    return s;
}

static void free_table(uint64_t pa, int level, void (*put_page)(uint64_t pa))
{
    uint64_t *t = P2V(pa);
    for (int i = 0; i < 512; i++) {
        if (!(t[i] & PTE_P))
            continue;
        if (level > 0)
            free_table(t[i] & PTE_ADDR, level - 1, put_page);
        else if (put_page)
            put_page(t[i] & PTE_ADDR);
    }
    pmm_free_page(pa);
}

void vm_space_destroy(struct vm_space *s, void (*put_page)(uint64_t pa))
{
    if (!s || s == &kernel_space)
        return;
    if (read_cr3() == s->pml4)
        write_cr3(kernel_space.pml4);
    uint64_t *pml4 = P2V(s->pml4);
    for (int i = 0; i < 256; i++)
        if (pml4[i] & PTE_P)
            free_table(pml4[i] & PTE_ADDR, 2, put_page);
    pmm_free_page(s->pml4);
    kfree(s);
}

int vm_map(struct vm_space *s, uint64_t va, uint64_t pa, unsigned flags)
{
    if ((flags & VM_USER) && va >= USER_TOP)
        return -22;
    uint64_t *pte = walk(s->pml4, va, 0, true);
    if (!pte)
        return -12;
    bool was_present = *pte & PTE_P;
    *pte = (pa & PTE_ADDR) | pte_flags(flags);
    if (was_present)
        invlpg(va);
    return 0;
}

bool vm_unmap(struct vm_space *s, uint64_t va, uint64_t *pa_out)
{
    uint64_t *pte = walk(s->pml4, va, 0, false);
    if (!pte || !(*pte & PTE_P))
        return false;
    if (pa_out)
        *pa_out = *pte & PTE_ADDR;
    *pte = 0;
    if (read_cr3() == s->pml4 || va >= USER_TOP)
        invlpg(va);
    return true;
}

bool vm_translate(struct vm_space *s, uint64_t va, uint64_t *pa_out, unsigned *flags_out)
{
    uint64_t *pte = walk(s->pml4, va, 0, false);
    if (!pte || !(*pte & PTE_P))
        return false;
    if (pa_out)
        *pa_out = (*pte & PTE_ADDR) | (va & 0xfff);
    if (flags_out)
        *flags_out = ((*pte & PTE_W) ? VM_WRITE : 0) | ((*pte & PTE_U) ? VM_USER : 0) |
                     ((*pte & nx_bit) || !nx_bit ? 0 : VM_EXEC);
    return true;
}

/* Calls fn for every present 4 KiB mapping in [start, end) of the lower half, skipping absent
 * tables whole; fn may change *pte (the caller flushes the TLB). */
void vm_for_each_pte(struct vm_space *s, uint64_t start, uint64_t end,
                     void (*fn)(uint64_t va, uint64_t *pte, void *ctx), void *ctx)
{
    uint64_t va = start;
    while (va < end) {
        uint64_t *t = P2V(s->pml4);
        int level = 3;
        for (; level > 0; level--) {
            uint64_t e = t[idx(va, level)];
            if (!(e & PTE_P) || (e & PTE_PS))
                break;
            t = table(e);
        }
        if (level > 0) {                /* a whole table is absent: skip what it would cover */
            uint64_t span = 1ull << (12 + 9 * level);
            va = (va & ~(span - 1)) + span;
            continue;
        }
        uint64_t *pte = &t[idx(va, 0)];
        if (*pte & PTE_P)
            fn(va, pte, ctx);
        va += PAGE_SIZE;
    }
}

uint64_t vm_pte_make(uint64_t pa, unsigned flags) { return (pa & PTE_ADDR) | pte_flags(flags); }
uint64_t vm_pte_addr(uint64_t pte) { return pte & PTE_ADDR; }
bool vm_pte_writable(uint64_t pte) { return pte & PTE_W; }
uint64_t *vm_pte_lookup(struct vm_space *s, uint64_t va) { return walk(s->pml4, va, 0, false); }
void vm_flush_all(void) { write_cr3(read_cr3()); }
bool vm_pte_dirty(uint64_t pte) { return pte & PTE_D; }

bool vm_pte_test_clear_dirty(uint64_t *pte)
{
    bool d = *pte & PTE_D;
    *pte &= ~PTE_D;
    return d;
}
