/*
 * kernel/mman.c: the memory system calls: brk, mmap, munmap, mprotect. Policy lives here, the
 * mechanism (VMAs, faults, copy-on-write) in kernel/uvm.c.
 */
#include "kernel/mm.h"
#include "kernel/proc.h"
#include "kernel/syscall.h"
#include "kernel/uvm.h"
#include "kernel/vfs.h"
#include "kernel/vm.h"

static struct vma *vma_at(struct mm *mm, uint64_t addr)
{
    struct list_head *pos;
    list_for_each(pos, &mm->vmas) {
        struct vma *v = list_entry(pos, struct vma, link);
        if (addr >= v->start && addr < v->end)
            return v;
    }
    return NULL;
}

static bool range_free(struct mm *mm, uint64_t start, uint64_t end)
{
    struct list_head *pos;
    list_for_each(pos, &mm->vmas) {
        struct vma *v = list_entry(pos, struct vma, link);
        if (v->start < end && start < v->end)
            return false;
    }
    return true;
}

/* Highest gap of len bytes below USER_MMAP_TOP (mappings grow down from there, as on Linux). */
static uint64_t find_gap(struct mm *mm, uint64_t len)
{
    uint64_t best = 0, prev_end = USER_MIN_ADDR;
    struct list_head *pos;
    list_for_each(pos, &mm->vmas) {
        struct vma *v = list_entry(pos, struct vma, link);
        uint64_t gap_end = v->start < USER_MMAP_TOP ? v->start : USER_MMAP_TOP;
        if (gap_end > prev_end && gap_end - prev_end >= len)
            best = gap_end - len;
        if (v->end > prev_end)
            prev_end = v->end;
    }
    if (USER_MMAP_TOP > prev_end && USER_MMAP_TOP - prev_end >= len)
        best = USER_MMAP_TOP - len;
    return best;
}

SYSCALL(NR_brk, brk)
{
    struct mm *mm = current_proc()->mm;
    uint64_t want = (uint64_t)a0;
    if (want < mm->brk_start || want > USER_MMAP_TOP)
        return mm->brk;
    uint64_t old_end = PAGE_ALIGN_UP(mm->brk), new_end = PAGE_ALIGN_UP(want);
    if (new_end > old_end) {
        if (!range_free(mm, old_end, new_end))
            return mm->brk;
        struct vma *heap = old_end > mm->brk_start ? vma_at(mm, old_end - 1) : NULL;
        if (heap && (heap->flags & VMA_HEAP))
            heap->end = new_end;
        else if (mm_map(mm, old_end, new_end - old_end, PROT_READ | PROT_WRITE, VMA_HEAP, NULL, 0, 0) != 0)
            return mm->brk;
    } else if (new_end < old_end) {
        mm_unmap(mm, new_end, old_end - new_end);
    }
    mm->brk = want;
    return want;
}

SYSCALL(NR_mmap, mmap)
{
    uint64_t addr = a0, len = PAGE_ALIGN_UP((uint64_t)a1), off = a5;
    uint32_t prot = a2, flags = a3;
    struct process *p = current_proc();
    if (a1 <= 0 || len == 0 || (off & (PAGE_SIZE - 1)) || !(flags & (MAP_PRIVATE | MAP_SHARED)))
        return -EINVAL;
    struct file *f = NULL;
    uint64_t file_len = 0;
    if (!(flags & MAP_ANONYMOUS)) {
        f = fd_get(p->files, a4);
        if (!f)
            return -EBADF;
        /* Shared writable file mappings would need a page cache; refused rather than faked. */
        if (!S_ISREG(f->inode->mode) || (flags & MAP_SHARED && prot & PROT_WRITE) ||
            (f->flags & O_ACCMODE) == O_WRONLY) {
            file_put(f);
            return !S_ISREG(f->inode->mode) ? -ENODEV : -EACCES;
        }
        file_len = f->inode->size > off ? f->inode->size - off : 0;
        if (file_len > len)
            file_len = len;
    }
    long r;
    if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
        r = (addr & (PAGE_SIZE - 1)) || addr < USER_MIN_ADDR || addr + len > USER_TOP || addr + len < addr
                ? -EINVAL : (long)addr;
        if (r > 0 && (flags & MAP_FIXED_NOREPLACE) && !range_free(p->mm, addr, addr + len))
            r = -EEXIST;
    } else if (addr && !(addr & (PAGE_SIZE - 1)) && addr >= USER_MIN_ADDR && addr + len <= USER_MMAP_TOP &&
               range_free(p->mm, addr, addr + len)) {
        r = addr;
    } else {
        r = find_gap(p->mm, len);
        if (r == 0)
            r = -ENOMEM;
    }
    if (r > 0) {
        int e = mm_map(p->mm, r, len, prot, 0, f, off, file_len);
        if (e)
            r = e;
    }
    if (f)
        file_put(f);
    return r;
}

SYSCALL(NR_munmap, munmap)
{
    uint64_t addr = a0, len = PAGE_ALIGN_UP((uint64_t)a1);
    if ((addr & (PAGE_SIZE - 1)) || len == 0 || addr + len > USER_TOP || addr + len < addr)
        return -EINVAL;
    return mm_unmap(current_proc()->mm, addr, len);
}

struct prot_ctx {
    uint32_t prot;
};

static void reprotect(uint64_t va, uint64_t *pte, void *arg)
{
    struct prot_ctx *c = arg;
    uint64_t pa = vm_pte_addr(*pte);
    unsigned f = VM_USER | ((c->prot & PROT_EXEC) ? VM_EXEC : 0);
    if ((c->prot & PROT_WRITE) && vm_pte_writable(*pte))
        f |= VM_WRITE;          /* shared copy-on-write pages stay read-only until written */
    if (c->prot == PROT_NONE)
        f = 0;                  /* present for the kernel only: the page and its contents stay */
    *pte = vm_pte_make(pa, f);
}

SYSCALL(NR_mprotect, mprotect)
{
    uint64_t addr = a0, len = PAGE_ALIGN_UP((uint64_t)a1);
    struct mm *mm = current_proc()->mm;
    if (addr & (PAGE_SIZE - 1) || addr + len > USER_TOP || addr + len < addr)
        return -EINVAL;
    for (uint64_t a = addr; a < addr + len;) {          /* the whole range must be mapped */
        struct vma *v = vma_at(mm, a);
        if (!v)
            return -ENOMEM;
        a = v->end;
    }
    for (uint64_t a = addr; a < addr + len;) {
        struct vma *v = vma_at(mm, a);
        int r = mm_split_range(mm, v, addr, addr + len);
        if (r)
            return r;
        v = vma_at(mm, a);
        v->prot = a2;
        struct prot_ctx c = { (uint32_t)a2 };
        vm_for_each_pte(mm->space, v->start, v->end, reprotect, &c);
        a = v->end;
    }
    vm_flush_all();
    return 0;
}
