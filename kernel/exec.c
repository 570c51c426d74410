/*
 * kernel/exec.c: execve. Everything that can fail is done first, into a new address space, while
 * the old program is intact (xv6's rule): read and check the ELF header (or a #! line), map the
 * segments as private file mappings, build the Linux initial stack (argc, argv, envp, auxv). Only
 * then is the process committed to the new image.
 */
#include "kernel/exec.h"
#include "arch/x86/cpu.h"
#include "arch/x86/gdt.h"
#include "arch/x86/trap.h"
#include "kernel/elf.h"
#include "kernel/errno.h"
#include "kernel/format.h"
#include "kernel/fpu.h"
#include "kernel/kmalloc.h"
#include "kernel/mm.h"
#include "kernel/printk.h"
#include "kernel/proc.h"
#include "kernel/random.h"
#include "kernel/string.h"
#include "kernel/syscall.h"
#include "kernel/uaccess.h"
#include "kernel/uvm.h"
#include "kernel/vfs.h"
#include "kernel/vm.h"

long vfs_pread(struct file *f, void *buf, size_t n, uint64_t off);

#define MAX_SCRIPT_DEPTH 4
#define STACK_INITIAL (128 * 1024)

enum {
    AT_NULL = 0, AT_PHDR = 3, AT_PHENT = 4, AT_PHNUM = 5, AT_PAGESZ = 6, AT_BASE = 7, AT_FLAGS = 8,
    AT_ENTRY = 9, AT_UID = 11, AT_EUID = 12, AT_GID = 13, AT_EGID = 14, AT_PLATFORM = 15, AT_HWCAP = 16,
    AT_CLKTCK = 17, AT_SECURE = 23, AT_RANDOM = 25, AT_HWCAP2 = 26, AT_EXECFN = 31,
};

static int args_append(struct exec_args *a, const char *s, size_t len)
{
    if (a->used + len + 1 > EXEC_ARGS_MAX)
        return -E2BIG;
    if (a->used + len + 1 > a->size) {
        size_t size = a->size ? a->size * 2 : 4096;
        while (size < a->used + len + 1)
            size *= 2;
        char *nb = kmalloc(size);
        if (!nb)
            return -ENOMEM;
        memcpy(nb, a->buf, a->used);
        kfree(a->buf);
        a->buf = nb;
        a->size = size;
    }
    memcpy(a->buf + a->used, s, len);
    a->buf[a->used + len] = 0;
    a->used += len + 1;
    return 0;
}

static int copy_user_strings(struct exec_args *a, const char *const *uvec, int *count, char *tmp)
{
    for (int i = 0; uvec; i++) {
        const char *us;
        if (get_user(us, &uvec[i]))
            return -EFAULT;
        if (!us)
            break;
        long n = strncpy_from_user(tmp, us, PAGE_SIZE);
        if (n < 0)
            return n == -ENAMETOOLONG ? -E2BIG : (int)n;
        int r = args_append(a, tmp, n);
        if (r)
            return r;
        (*count)++;
    }
    return 0;
}

int exec_args_from_user(struct exec_args *a, const char *const *uargv, const char *const *uenvp)
{
    memset(a, 0, sizeof *a);
    char *tmp = kmalloc(PAGE_SIZE);
    if (!tmp)
        return -ENOMEM;
    int r = copy_user_strings(a, uargv, &a->argc, tmp);
    if (r == 0)
        r = copy_user_strings(a, uenvp, &a->envc, tmp);
    kfree(tmp);
    return r;
}

int exec_args_from_kernel(struct exec_args *a, char *const argv[], char *const envp[])
{
    memset(a, 0, sizeof *a);
    for (int i = 0; argv && argv[i]; i++, a->argc++)
        if (args_append(a, argv[i], strlen(argv[i])))
            return -E2BIG;
    for (int i = 0; envp && envp[i]; i++, a->envc++)
        if (args_append(a, envp[i], strlen(envp[i])))
            return -E2BIG;
    return 0;
}

void exec_args_free(struct exec_args *a)
{
    kfree(a->buf);
    a->buf = NULL;
}

/* Replaces argv[0] by the interpreter line of a #! script: interp [arg] script argv[1..]. */
static int script_args(struct exec_args *a, const char *line, size_t len, const char *path)
{
    const char *p = line + 2, *end = line + len;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    const char *interp = p;
    while (p < end && *p != ' ' && *p != '\t')
        p++;
    size_t interp_len = p - interp;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    const char *arg = p;
    size_t arg_len = end - p;
    while (arg_len && (arg[arg_len - 1] == ' ' || arg[arg_len - 1] == '\t'))
        arg_len--;
    if (interp_len == 0)
        return -ENOEXEC;

    struct exec_args n = { 0 };
    int r = args_append(&n, interp, interp_len);
    if (!r && arg_len)
        r = args_append(&n, arg, arg_len);
    if (!r)
        r = args_append(&n, path, strlen(path));
    const char *old = a->buf;
    size_t skip = a->argc ? strlen(old) + 1 : 0;        /* drop the old argv[0] */
    if (!r && a->used > skip)
        r = args_append(&n, old + skip, a->used - skip - 1);
    if (r) {
        exec_args_free(&n);
        return r;
    }
    n.argc = 1 + (arg_len ? 1 : 0) + 1 + (a->argc ? a->argc - 1 : 0);
    n.envc = a->envc;
    exec_args_free(a);
    *a = n;
    return 0;
}

/* Writes into an address space that is not active yet: fault each page in, copy through the direct map. */
static int mm_write(struct mm *mm, uint64_t va, const void *src, size_t n)
{
    const uint8_t *s = src;
    while (n) {
        uint64_t pa;
        if (mm_fault(mm, va, true) != 0 || !vm_translate(mm->space, va, &pa, NULL))
            return -EFAULT;
        size_t chunk = PAGE_SIZE - (va & (PAGE_SIZE - 1));
        if (chunk > n)
            chunk = n;
        memcpy(P2V(pa), s, chunk);
        va += chunk;
        s += chunk;
        n -= chunk;
    }
    return 0;
}

static int map_segments(struct mm *mm, struct file *f, const struct elf_image *img)
{
    for (int i = 0; i < img->nseg; i++) {
        const struct elf_segment *s = &img->seg[i];
        uint64_t start = PAGE_ALIGN_DOWN(s->vaddr);
        uint64_t file_top = PAGE_ALIGN_UP(s->vaddr + s->filesz);
        uint64_t top = PAGE_ALIGN_UP(s->vaddr + s->memsz);
        uint64_t off = s->offset - (s->vaddr - start);
        int r = 0;
        if (file_top > start)
            r = mm_map(mm, start, file_top - start, s->prot, 0, f, off, s->vaddr + s->filesz - start);
        if (!r && top > file_top)
            r = mm_map(mm, file_top, top - file_top, s->prot, 0, NULL, 0, 0);
        if (r)
            return r;
    }
    mm->brk_start = mm->brk = PAGE_ALIGN_UP(img->hi);
    return 0;
}

struct stack_builder {
    struct mm *mm;
    uint64_t sp;
    int err;
};

static uint64_t push_bytes(struct stack_builder *b, const void *data, size_t n)
{
    b->sp -= n;
    if (!b->err)
        b->err = mm_write(b->mm, b->sp, data, n);
    return b->sp;
}

static void push_word(struct stack_builder *b, uint64_t v) { push_bytes(b, &v, 8); }

static uint64_t build_stack(struct mm *mm, const struct exec_args *a, const struct elf_image *img,
                            const char *execfn, int *err)
{
    struct stack_builder b = { mm, USER_STACK_TOP - 16, 0 };
    if (mm_map(mm, USER_STACK_TOP - STACK_INITIAL, STACK_INITIAL, PROT_READ | PROT_WRITE, VMA_GROWSDOWN,
               NULL, 0, 0) != 0) {
        *err = -ENOMEM;
        return 0;
    }
    uint64_t execfn_va = push_bytes(&b, execfn, strlen(execfn) + 1);
    uint64_t platform_va = push_bytes(&b, "x86_64", 7);
    uint64_t strings_va = push_bytes(&b, a->buf, a->used);
    uint8_t rnd[16];
    random_bytes(rnd, sizeof rnd);
    uint64_t random_va = push_bytes(&b, rnd, sizeof rnd);
    b.sp &= ~15ull;

    uint32_t id[4];
    cpuid(1, 0, id);
    struct process *p = current_proc();
    uint64_t auxv[][2] = {
        { AT_PHDR, img->phdr_vaddr }, { AT_PHENT, img->phentsize }, { AT_PHNUM, img->phnum },
        { AT_PAGESZ, PAGE_SIZE }, { AT_BASE, 0 }, { AT_FLAGS, 0 }, { AT_ENTRY, img->entry },
        { AT_UID, p->uid }, { AT_EUID, p->euid }, { AT_GID, p->gid }, { AT_EGID, p->egid },
        { AT_PLATFORM, platform_va }, { AT_HWCAP, id[3] }, { AT_CLKTCK, 100 }, { AT_SECURE, 0 },
        { AT_RANDOM, random_va }, { AT_HWCAP2, 0 }, { AT_EXECFN, execfn_va }, { AT_NULL, 0 },
    };
    size_t nwords = 1 + (a->argc + 1) + (a->envc + 1) + 2 * (sizeof auxv / sizeof auxv[0]);
    if (nwords & 1)
        push_word(&b, 0);                       /* rsp must be 16-byte aligned at argc */
    for (int i = sizeof auxv / sizeof auxv[0] - 1; i >= 0; i--) {
        push_word(&b, auxv[i][1]);
        push_word(&b, auxv[i][0]);
    }
    /* Pointers to each string, envp then argv, pushed in reverse. */
    int total = a->argc + a->envc;
    uint64_t *offs = kmalloc((total + 1) * sizeof *offs);
    if (!offs) {
        *err = -ENOMEM;
        return 0;
    }
    size_t off = 0;
    for (int i = 0; i < total; i++) {
        offs[i] = strings_va + off;
        off += strlen(a->buf + off) + 1;
    }
    push_word(&b, 0);
    for (int i = total - 1; i >= a->argc; i--)
        push_word(&b, offs[i]);
    push_word(&b, 0);
    for (int i = a->argc - 1; i >= 0; i--)
        push_word(&b, offs[i]);
    push_word(&b, a->argc);
    kfree(offs);
    *err = b.err;
    return b.sp;
}

static void set_comm_and_cmdline(struct process *p, const char *path, const char *resolved,
                                 const struct exec_args *a)
{
    const char *base = strrchr(path, '/');
    strlcpy(p->comm, base ? base + 1 : path, sizeof p->comm);
    size_t argv_len = 0;
    for (int i = 0; i < a->argc; i++)
        argv_len += strlen(a->buf + argv_len) + 1;
    char *cmd = kmalloc(argv_len ? argv_len : 1);
    if (cmd)
        memcpy(cmd, a->buf, argv_len);
    kfree(p->cmdline);
    p->cmdline = cmd;
    p->cmdline_len = cmd ? argv_len : 0;
    /* The file itself, symlinks resolved: /proc/self/exe must never point at /proc/self/exe. */
    if (resolved)
        strlcpy(p->exe_path, resolved, sizeof p->exe_path);
    else if (path[0] == '/' || !p->fs)
        strlcpy(p->exe_path, path, sizeof p->exe_path);
    else
        ksnprintf(p->exe_path, sizeof p->exe_path, "%s%s%s", p->fs->cwd_path,
                  strcmp(p->fs->cwd_path, "/") ? "/" : "", path);
}

static void reset_signals(struct process *p)
{
    for (int i = 0; i < 64; i++)
        if (p->sigactions[i].handler > 1)       /* caught signals revert to default; ignored stay ignored */
            memset(&p->sigactions[i], 0, sizeof p->sigactions[i]);
    p->altstack_sp = p->altstack_size = 0;
    p->altstack_flags = 2;                      /* SS_DISABLE */
}

static void switch_image(struct process *p, struct mm *mm, uint64_t entry, uint64_t sp, struct trap_frame *tf)
{
    struct mm *old = p->mm;
    p->mm = mm;
    mm_activate(mm);
    if (!p->mm_borrowed)            /* a vfork child gives its parent's memory back untouched */
        mm_destroy(old);
    p->mm_borrowed = false;
    reset_signals(p);
    fpu_reset_current();
    memset(tf, 0, sizeof *tf);
    tf->rip = entry;
    tf->rsp = sp;
    tf->rflags = 0x202;
    tf->cs = USER_CS;
    tf->ss = USER_DS;
}

static void commit(struct process *p, struct mm *mm, const char *path, const char *resolved,
                   const struct exec_args *a, const struct elf_image *img, uint64_t sp, struct trap_frame *tf)
{
    switch_image(p, mm, img->entry, sp, tf);
    if (p->files)
        fdtable_close_on_exec(p->files);
    set_comm_and_cmdline(p, path, resolved, a);
    proc_vfork_release(p);
}

void exec_commit_home(struct process *p, const struct exec_image *img, const struct exec_args *a)
{
    if (p->files)
        fdtable_close_on_exec(p->files);
    set_comm_and_cmdline(p, img->path, img->resolved[0] ? img->resolved : NULL, a);
}

void exec_commit_remote(struct process *p, struct mm *mm, uint64_t entry, uint64_t sp, struct trap_frame *tf)
{
    switch_image(p, mm, entry, sp, tf);
    proc_vfork_release(p);
}

static int open_executable(const char *path, struct file **out)
{
    struct process *p = current_proc();
    struct file *f;
    int r = vfs_open(p->fs, NULL, path, O_RDONLY, 0, &f);
    if (r)
        return r;
    if (!S_ISREG(f->inode->mode) || !(f->inode->mode & 0111)) {
        file_put(f);
        return -EACCES;
    }
    *out = f;
    return 0;
}

static int load(const char *path, struct exec_args *a, struct trap_frame *tf, char *hdr, struct exec_image *out);

int do_execve(const char *path, struct exec_args *a, struct trap_frame *tf)
{
    char *hdr = kmalloc(PAGE_SIZE);
    if (!hdr)
        return -ENOMEM;
    int r = load(path, a, tf, hdr, NULL);
    kfree(hdr);
    return r;
}

int exec_build_image(const char *path, struct exec_args *a, struct exec_image *out)
{
    char *hdr = kmalloc(PAGE_SIZE);
    if (!hdr)
        return -ENOMEM;
    int r = load(path, a, NULL, hdr, out);
    kfree(hdr);
    return r;
}

/* out == NULL: commit into the current process; else hand the new image over, uncommitted. */
static int load(const char *path, struct exec_args *a, struct trap_frame *tf, char *hdr, struct exec_image *out)
{
    char script_path[256];
    struct process *p = current_proc();
    struct file *f = NULL;
    int r;
    for (int depth = 0;; depth++) {
        r = open_executable(path, &f);
        if (r)
            return r;
        long n = vfs_pread(f, hdr, PAGE_SIZE, 0);
        if (n < 0) {
            file_put(f);
            return (int)n;
        }
        if (n < 2 || hdr[0] != '#' || hdr[1] != '!')
            break;
        file_put(f);
        if (depth == MAX_SCRIPT_DEPTH)
            return -ELOOP;
        char *nl = memchr(hdr, '\n', n);
        size_t len = nl ? (size_t)(nl - hdr) : (size_t)n;
        r = script_args(a, hdr, len, path);
        if (r)
            return r;
        strlcpy(script_path, a->buf, sizeof script_path);   /* the interpreter is argv[0] now */
        path = script_path;
    }

    struct elf_image img;
    long n = vfs_pread(f, hdr, PAGE_SIZE, 0);
    r = n < 0 ? (int)n : elf_parse(hdr, n, f->inode->size, USER_MMAP_TOP, &img);
    if (r == 0 && img.has_interp) {
        printk(LOG_NOTICE, "exec: %s is dynamically linked; only static executables run\n", path);
        r = -ENOEXEC;
    }
    struct mm *mm = r == 0 ? mm_create() : NULL;
    if (r == 0 && !mm)
        r = -ENOMEM;
    if (r == 0)
        r = map_segments(mm, f, &img);
    uint64_t sp = 0;
    if (r == 0)
        sp = build_stack(mm, a, &img, path, &r);
    char resolved[256];
    bool have_resolved = f->abs_path && strlen(f->abs_path) < sizeof resolved;
    if (have_resolved)
        strlcpy(resolved, f->abs_path, sizeof resolved);
    file_put(f);
    if (r) {
        mm_destroy(mm);
        return r;
    }
    if (out) {
        out->mm = mm;
        out->entry = img.entry;
        out->sp = sp;
        strlcpy(out->path, path, sizeof out->path);
        strlcpy(out->resolved, have_resolved ? resolved : "", sizeof out->resolved);
        return 0;
    }
    commit(p, mm, path, have_resolved ? resolved : NULL, a, &img, sp, tf);
    return 0;
}

SYSCALL(NR_execve, execve)
{
    char path[PATH_MAX];
    long n = strncpy_from_user(path, (const char *)a0, sizeof path);
    if (n < 0)
        return n;
    struct exec_args args;
    int r = exec_args_from_user(&args, (const char *const *)a1, (const char *const *)a2);
    if (r == 0)
        r = do_execve(path, &args, syscall_frame());
    exec_args_free(&args);
    return r;
}
