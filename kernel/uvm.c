/*
 * kernel/uvm.c: user memory. The VMA list says what a process may touch; pages appear on the first
 * access (zeroed, or read from the mapped file), and after fork both processes share every page
 * read-only until one writes (copy-on-write, with page reference counts from kernel/pmm.c).
 */
#include "kernel/uvm.h"
#include "arch/x86/cpu.h"
#include "kernel/errno.h"
#include "kernel/kmalloc.h"
#include "kernel/mm.h"
#include "kernel/panic.h"
#include "kernel/pmm.h"
#include "kernel/printk.h"
#include "kernel/string.h"
#include "kernel/vfs.h"
#include "kernel/vm.h"

long vfs_pread(struct file *f, void *buf, size_t n, uint64_t off);

static unsigned vm_flags_of(uint32_t prot, bool writable)
{
    if (prot == PROT_NONE)
        return 0;                   /* kept for the kernel only: contents survive, user access faults */
    unsigned f = VM_USER;
    if (writable && (prot & PROT_WRITE))
        f |= VM_WRITE;
    if (prot & PROT_EXEC)
        f |= VM_EXEC;
    return f;
}

static uint64_t last_gen;

void mm_changed(struct mm *mm)
{
    uint64_t f = irq_save();
    mm->gen = ++last_gen;
    irq_restore(f);
}

struct mm *mm_create(void)
{
    struct mm *mm = kzalloc(sizeof *mm);
    if (!mm)
        return NULL;
    mm->space = vm_space_create();
    if (!mm->space) {
        kfree(mm);
        return NULL;
    }
    list_init(&mm->vmas);
    mm->magic = MM_MAGIC;
    mm_changed(mm);
    return mm;
}

void mm_activate(struct mm *mm)
{
    if (mm && mm->magic != MM_MAGIC)
        panic("mm_activate: %p is not a live address space (used after mm_destroy)", mm);
    vm_activate(mm ? mm->space : vm_kernel_space());
}

static struct vma *vma_new(uint64_t start, uint64_t end, uint32_t prot, uint32_t flags)
{
    struct vma *v = kzalloc(sizeof *v);
    if (v) {
        v->start = start;
        v->end = end;
        v->prot = prot;
        v->flags = flags;
        list_init(&v->link);
    }
    return v;
}

static void vma_free(struct vma *v)
{
    if (v->file)
        file_put(v->file);
    kfree(v);
}

static void vma_insert(struct mm *mm, struct vma *v)
{
    struct list_head *pos;
    list_for_each(pos, &mm->vmas) {
        if (list_entry(pos, struct vma, link)->start > v->start)
            break;
    }
    list_add_tail(&v->link, pos);
}

static struct vma *vma_find(struct mm *mm, uint64_t addr)
{
    struct list_head *pos;
    list_for_each(pos, &mm->vmas) {
        struct vma *v = list_entry(pos, struct vma, link);
        if (addr < v->end)
            return addr >= v->start ? v : NULL;
    }
    return NULL;
}

/* The first VMA that ends above addr (the one containing it or the next one up). */
static struct vma *vma_next_above(struct mm *mm, uint64_t addr)
{
    struct list_head *pos;
    list_for_each(pos, &mm->vmas) {
        struct vma *v = list_entry(pos, struct vma, link);
        if (v->end > addr)
            return v;
    }
    return NULL;
}

struct unmap_ctx {
    struct mm *mm;
};

static void drop_pte(uint64_t va, uint64_t *pte, void *ctx)
{
    struct mm *mm = ctx;
    page_put(vm_pte_addr(*pte));
    *pte = 0;
    mm->rss_pages--;
}

/* Splits v at addr so that a VMA boundary falls there; returns the upper part. */
static struct vma *vma_split(struct vma *v, uint64_t addr)
{
    struct vma *hi = vma_new(addr, v->end, v->prot, v->flags);
    if (!hi)
        return NULL;
    if (v->file) {
        file_get(v->file);
        hi->file = v->file;
        hi->file_off = v->file_off + (addr - v->start);
        hi->file_end = v->file_end;
    }
    v->end = addr;
    list_add(&hi->link, &v->link);
    return hi;
}

int mm_split_range(struct mm *mm, struct vma *v, uint64_t start, uint64_t end)
{
    mm_changed(mm);
    if (start > v->start && start < v->end) {
        v = vma_split(v, start);
        if (!v)
            return -ENOMEM;
    }
    if (end > v->start && end < v->end && !vma_split(v, end))
        return -ENOMEM;
    return 0;
}

int mm_unmap(struct mm *mm, uint64_t start, uint64_t len)
{
    uint64_t end = start + len;
    mm_changed(mm);
    struct list_head *pos, *n;
    list_for_each_safe(pos, n, &mm->vmas) {
        struct vma *v = list_entry(pos, struct vma, link);
        if (v->end <= start || v->start >= end)
            continue;
        if (v->start < start) {
            if (!vma_split(v, start))
                return -ENOMEM;
            n = v->link.next;
            continue;
        }
        if (v->end > end && !vma_split(v, end))
            return -ENOMEM;
        vm_for_each_pte(mm->space, v->start, v->end, drop_pte, mm);
        list_del(&v->link);
        vma_free(v);
    }
    vm_flush_all();
    return 0;
}

int mm_map(struct mm *mm, uint64_t start, uint64_t len, uint32_t prot, uint32_t flags, struct file *file,
           uint64_t file_off, uint64_t file_len)
{
    if (start & (PAGE_SIZE - 1) || len == 0 || start + len < start || start + len > USER_TOP)
        return -EINVAL;
    int r = mm_unmap(mm, start, len);
    if (r)
        return r;
    struct vma *v = vma_new(start, start + len, prot, flags);
    if (!v)
        return -ENOMEM;
    if (file) {
        file_get(file);
        v->file = file;
        v->file_off = file_off;
        v->file_end = start + file_len;
    }
    vma_insert(mm, v);
    return 0;
}

static int fill_page(struct vma *v, uint64_t page_va, uint64_t pa)
{
    if (!v->file || page_va >= v->file_end)
        return 0;
    uint64_t n = v->file_end - page_va < PAGE_SIZE ? v->file_end - page_va : PAGE_SIZE;
    long got = vfs_pread(v->file, P2V(pa), n, v->file_off + (page_va - v->start));
    return got < 0 ? (int)got : 0;     /* a short read leaves zeros, as a mapping past EOF does */
}

/* A whole page of a file mapping that is not being written: the file's own page, read-only (a
 * write later copies it, copy_on_write, as after fork). 0, or -errno: copy it instead. */
static int share_file_page(struct mm *mm, struct vma *v, uint64_t page_va)
{
    uint64_t pa;
    if (page_va + PAGE_SIZE > v->file_end || vfs_lend_page(v->file, v->file_off + (page_va - v->start), &pa) != 0)
        return -ENOENT;
    int r = vm_map(mm->space, page_va, pa, vm_flags_of(v->prot, false));
    if (r) {
        page_put(pa);
        return r;
    }
    mm->rss_pages++;
    return 0;
}

static int fault_in(struct mm *mm, struct vma *v, uint64_t page_va, bool write)
{
    if (v->file && !write && share_file_page(mm, v, page_va) == 0)
        return 0;
    uint64_t pa = page_alloc_user();
    if (!pa)
        return -ENOMEM;
    int r = fill_page(v, page_va, pa);
    if (r == 0)
        r = vm_map(mm->space, page_va, pa, vm_flags_of(v->prot, true));
    if (r) {
        page_put(pa);
        return r;
    }
    mm->rss_pages++;
    return 0;
}

static int copy_on_write(struct mm *mm, struct vma *v, uint64_t page_va, uint64_t *pte)
{
    uint64_t old = vm_pte_addr(*pte);
    if (page_refcount(old) == 1) {              /* the last sharer just takes it */
        *pte = vm_pte_make(old, vm_flags_of(v->prot, true));
    } else {
        uint64_t pa = page_alloc_user();
        if (!pa)
            return -ENOMEM;
        memcpy(P2V(pa), P2V(old), PAGE_SIZE);
        *pte = vm_pte_make(pa, vm_flags_of(v->prot, true));
        page_put(old);
    }
    invlpg(page_va);
    return 0;
}

/* A stack VMA grows down to meet an access below it, within the stack limit. */
static struct vma *grow_stack(struct mm *mm, uint64_t addr)
{
    struct vma *v = vma_next_above(mm, addr);
    if (!v || !(v->flags & VMA_GROWSDOWN) || addr < USER_STACK_TOP - USER_STACK_MAX)
        return NULL;
    uint64_t new_start = PAGE_ALIGN_DOWN(addr);
    struct vma *below = vma_find(mm, new_start);
    if (below && below != v)
        return NULL;
    v->start = new_start;
    mm_changed(mm);
    return v;
}

int mm_fault(struct mm *mm, uint64_t addr, bool write)
{
    if (!mm || addr >= USER_TOP)
        return -EFAULT;
    struct vma *v = vma_find(mm, addr);
    if (!v)
        v = grow_stack(mm, addr);
    if (!v)
        return -EFAULT;             /* nothing mapped there: SEGV_MAPERR */
    if ((write && !(v->prot & PROT_WRITE)) || v->prot == PROT_NONE)
        return -EACCES;             /* mapped, but not for this access: SEGV_ACCERR */
    uint64_t page_va = PAGE_ALIGN_DOWN(addr);
    uint64_t *pte = vm_pte_lookup(mm->space, page_va);
    if (!pte || !(*pte & 1))
        return fault_in(mm, v, page_va, write);
    if (write && !vm_pte_writable(*pte))
        return copy_on_write(mm, v, page_va, pte);
    return 0;                                   /* already fixed (e.g. by a racing fault) */
}

struct clone_ctx {
    struct mm *child;
    struct vma *vma;
    int err;
};

static void share_pte(uint64_t va, uint64_t *pte, void *arg)
{
    struct clone_ctx *c = arg;
    if (c->err)
        return;
    uint64_t pa = vm_pte_addr(*pte);
    unsigned flags = vm_flags_of(c->vma->prot, false);   /* both sides read-only: copy on write */
    *pte = vm_pte_make(pa, flags);
    if (vm_map(c->child->space, va, pa, flags) != 0) {
        c->err = -ENOMEM;
        return;
    }
    page_get(pa);
    c->child->rss_pages++;
}

struct mm *mm_clone(struct mm *parent)
{
    struct mm *child = mm_create();
    if (!child)
        return NULL;
    child->brk_start = parent->brk_start;
    child->brk = parent->brk;
    mm_changed(parent);                 /* share_pte rewrites its entries, dirty bits and all */
    struct list_head *pos;
    list_for_each(pos, &parent->vmas) {
        struct vma *pv = list_entry(pos, struct vma, link);
        struct vma *cv = vma_new(pv->start, pv->end, pv->prot, pv->flags);
        if (!cv)
            goto fail;
        if (pv->file) {
            file_get(pv->file);
            cv->file = pv->file;
            cv->file_off = pv->file_off;
            cv->file_end = pv->file_end;
        }
        list_add_tail(&cv->link, &child->vmas);
        struct clone_ctx c = { child, cv, 0 };
        vm_for_each_pte(parent->space, pv->start, pv->end, share_pte, &c);
        if (c.err)
            goto fail;
    }
    vm_flush_all();
    return child;
fail:
    vm_flush_all();
    mm_destroy(child);
    return NULL;
}

void mm_destroy(struct mm *mm)
{
    if (!mm)
        return;
    if (mm->magic != MM_MAGIC)
        panic("mm_destroy: %p is not a live address space (destroyed twice?)", mm);
    mm->magic = 0;
    struct list_head *pos, *n;
    list_for_each_safe(pos, n, &mm->vmas) {
        struct vma *v = list_entry(pos, struct vma, link);
        list_del(&v->link);
        vma_free(v);
    }
    vm_space_destroy(mm->space, page_put);
    kfree(mm);
}

const void *mm_page_contents(struct mm *mm, struct vma *v, uint64_t va, bool read_files, int *err)
{
    *err = 0;
    uint64_t *pte = vm_pte_lookup(mm->space, va);
    if ((!pte || !(*pte & 1)) && read_files && v->file && va < v->file_end) {
        *err = fault_in(mm, v, va, false);
        pte = *err ? NULL : vm_pte_lookup(mm->space, va);
    }
    if (!pte || !(*pte & 1))
        return NULL;
    return P2V(vm_pte_addr(*pte));
}

bool mm_page_snapshot(struct mm *mm, uint64_t va, void *out)
{
    uint64_t *pte = vm_pte_lookup(mm->space, va);
    if (!pte || !(*pte & 1))
        return false;
    vm_pte_test_clear_dirty(pte);
    memcpy(out, P2V(vm_pte_addr(*pte)), PAGE_SIZE);
    return true;
}

const void *mm_page_dirty(struct mm *mm, uint64_t va)
{
    uint64_t *pte = vm_pte_lookup(mm->space, va);
    return pte && (*pte & 1) && vm_pte_dirty(*pte) ? P2V(vm_pte_addr(*pte)) : NULL;
}

int mm_install_page(struct mm *mm, uint64_t va, const void *data)
{
    struct vma *v = vma_find(mm, va);
    if (!v)
        return -EFAULT;
    uint64_t pa = page_alloc_user();
    if (!pa)
        return -ENOMEM;
    memcpy(P2V(pa), data, PAGE_SIZE);
    uint64_t old;
    if (vm_unmap(mm->space, va, &old))
        page_put(old);
    else
        mm->rss_pages++;
    if (vm_map(mm->space, va, pa, vm_flags_of(v->prot, true)) != 0) {
        page_put(pa);
        mm->rss_pages--;
        return -ENOMEM;
    }
    return 0;
}

struct vma *mm_first_vma(struct mm *mm)
{
    return list_empty(&mm->vmas) ? NULL : list_first_entry(&mm->vmas, struct vma, link);
}

struct vma *mm_next_vma(struct mm *mm, struct vma *v)
{
    return v->link.next == &mm->vmas ? NULL : list_entry(v->link.next, struct vma, link);
}

uint64_t mm_total_size(struct mm *mm)
{
    uint64_t total = 0;
    struct list_head *pos;
    list_for_each(pos, &mm->vmas) {
        struct vma *v = list_entry(pos, struct vma, link);
        total += v->end - v->start;
    }
    return total;
}
