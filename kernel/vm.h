/*
 * kernel/vm.h: virtual memory: the kernel's page tables and address-space objects. The upper half
 * (direct map and kernel image) is shared by every address space; the lower half belongs to one.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define VM_WRITE (1u << 0)
#define VM_USER (1u << 1)
#define VM_EXEC (1u << 2)
#define VM_NOCACHE (1u << 3)

#define USER_TOP 0x0000800000000000ul     /* user addresses are below this */

struct vm_space {
    uint64_t pml4;                  /* physical address */
};

void vm_init(void);                 /* builds the kernel page tables and switches to them */
struct vm_space *vm_kernel_space(void);
struct vm_space *vm_space_create(void);
/* Frees the page tables of the lower half; put_page, if set, is called for each mapped frame. */
void vm_space_destroy(struct vm_space *s, void (*put_page)(uint64_t pa));
void vm_activate(struct vm_space *s);

int vm_map(struct vm_space *s, uint64_t va, uint64_t pa, unsigned flags);   /* 4 KiB; 0 or -ENOMEM */
bool vm_unmap(struct vm_space *s, uint64_t va, uint64_t *pa_out);
bool vm_translate(struct vm_space *s, uint64_t va, uint64_t *pa_out, unsigned *flags_out);

/* Page-table entries for the user memory manager (kernel/uvm.c). */
void vm_for_each_pte(struct vm_space *s, uint64_t start, uint64_t end,
                     void (*fn)(uint64_t va, uint64_t *pte, void *ctx), void *ctx);
uint64_t vm_pte_make(uint64_t pa, unsigned flags);
uint64_t vm_pte_addr(uint64_t pte);
bool vm_pte_writable(uint64_t pte);
uint64_t *vm_pte_lookup(struct vm_space *s, uint64_t va);   /* NULL if no page table covers va */
void vm_flush_all(void);
/* The dirty bit the CPU sets on a write through the entry: read and cleared at once (the caller
 * flushes the TLB before the address space runs again, or a cached entry would not set it anew). */
bool vm_pte_test_clear_dirty(uint64_t *pte);
bool vm_pte_dirty(uint64_t pte);
