/*
 * kernel/uvm.h: a process's memory: the list of mappings (VMAs) over an address space, demand
 * paging, copy-on-write after fork, brk, mmap, munmap and mprotect. File mappings are private:
 * pages are read from the file at the first touch.
 */
#pragma once
#include "kernel/list.h"
#include <stdbool.h>
#include <stdint.h>

#define PROT_NONE 0
#define PROT_READ 1
#define PROT_WRITE 2
#define PROT_EXEC 4

#define MAP_SHARED 0x01
#define MAP_PRIVATE 0x02
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_GROWSDOWN 0x100
#define MAP_NORESERVE 0x4000
#define MAP_POPULATE 0x8000
#define MAP_FIXED_NOREPLACE 0x100000

#define VMA_GROWSDOWN 1u
#define VMA_HEAP 2u

#define USER_STACK_TOP 0x7ffffffff000ul
#define USER_STACK_MAX (8ul << 20)
#define USER_MMAP_TOP (USER_STACK_TOP - USER_STACK_MAX - 0x10000000ul)
#define USER_MIN_ADDR 0x10000ul

struct file;
struct vm_space;

struct vma {
    uint64_t start, end;
    uint32_t prot, flags;
    struct file *file;              /* private file mapping, or NULL for anonymous memory */
    uint64_t file_off;              /* file offset of start */
    uint64_t file_end;              /* address where file data stops (zero fill beyond) */
    struct list_head link;
};

struct mm {
    struct vm_space *space;
    struct list_head vmas;          /* sorted by address, not overlapping */
    uint64_t brk_start, brk;
    uint64_t rss_pages;
    uint64_t magic;                 /* MM_MAGIC while alive: catches use after mm_destroy */
    uint64_t gen;                   /* unique to this address space, renewed whenever its mappings
                                     * change or its dirty bits may have been lost (mm_changed) */
};
#define MM_MAGIC 0x6d6d5f616c697665ull

struct mm *mm_create(void);
struct mm *mm_clone(struct mm *parent);         /* fork: copy-on-write */
void mm_destroy(struct mm *mm);
void mm_activate(struct mm *mm);

/* Maps [start, start+len) (page aligned). file may be NULL. Returns 0 or -errno. */
int mm_map(struct mm *mm, uint64_t start, uint64_t len, uint32_t prot, uint32_t flags, struct file *file,
           uint64_t file_off, uint64_t file_len);
int mm_unmap(struct mm *mm, uint64_t start, uint64_t len);
/* Splits v so that its part inside [start, end) is a VMA of its own. */
int mm_split_range(struct mm *mm, struct vma *v, uint64_t start, uint64_t end);
/* Resolves a fault at addr; 0 if the access may be retried; -EFAULT (nothing mapped), -EACCES
 * (mapped without that permission) or -ENOMEM otherwise. */
int mm_fault(struct mm *mm, uint64_t addr, bool write);
uint64_t mm_total_size(struct mm *mm);

/* Migration (kernel/migrate.c). The contents of the page at va (page aligned) of v in mm, through
 * the direct map: a present page, or (read_files) a file page read in now; NULL for a page not
 * present (an untouched anonymous page reads as zeros; a file page as the file says) or when out
 * of memory (*err -ENOMEM). mm need not be active. */
const void *mm_page_contents(struct mm *mm, struct vma *v, uint64_t va, bool read_files, int *err);
/* Puts a private copy of data at va (page aligned, inside a VMA of mm). 0, -EFAULT, -ENOMEM. */
int mm_install_page(struct mm *mm, uint64_t va, const void *data);
/* First VMA of mm, and the one after v (NULL at the end): for walking without the list. */
/* Pre-copy of a running process (kernel/migrate.c), interrupts off: copies the page at va to out
 * and clears its dirty bit, so a later write shows in mm_page_dirty; false if no page is there.
 * The caller flushes the TLB (vm_flush_all) before the address space runs again. */
bool mm_page_snapshot(struct mm *mm, uint64_t va, void *out);
/* The page at va if it was written since its snapshot (or it came since), else NULL. */
const void *mm_page_dirty(struct mm *mm, uint64_t va);
/* The mappings of mm changed, or something rewrote its page-table entries (and their dirty bits):
 * a pre-copy taken before is worthless. Renews mm->gen. */
void mm_changed(struct mm *mm);
struct vma *mm_first_vma(struct mm *mm);
struct vma *mm_next_vma(struct mm *mm, struct vma *v);
