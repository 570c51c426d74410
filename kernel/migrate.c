/*
 * kernel/migrate.c: process images between nodes (kernel/migrate.h). Owns the image format (every
 * node runs the same kernel, so kernel structures travel as they are, behind a magic and version),
 * packing a process or a freshly built execve image, the "image" service that starts or hands over
 * an image on arrival, and the move of the current process away from home on its way back to user
 * mode (after which its task at home becomes its deputy, kernel/deputy.c).
 */
#include "kernel/migrate.h"
#include "arch/x86/gdt.h"
#include "arch/x86/trap.h"
#include "kernel/balance.h"
#include "kernel/balancer.h"
#include "kernel/deputy.h"
#include "kernel/errno.h"
#include "kernel/exec.h"
#include "kernel/format.h"
#include "kernel/fpu.h"
#include "kernel/kmalloc.h"
#include "kernel/mm.h"
#include "kernel/node.h"
#include "kernel/pmm.h"
#include "kernel/printk.h"
#include "kernel/ssi.h"
#include "kernel/proc.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/tty.h"
#include "kernel/uvm.h"
#include "kernel/vfs.h"
#include "kernel/vm.h"
#include "net/netdev.h"
#include "net/rpc.h"
#include "arch/x86/cpu.h"

void signal_cancel_alarm(struct process *p);
void signal_return_to_user(struct trap_frame *tf, long ret);

#define IMAGE_MAGIC 0x53484f49u         /* "SHOI" */
#define IMAGE_VERSION 2
#define IMAGE_NEW 1                     /* start this process here */
#define IMAGE_EXEC 2                    /* the new program of a process running here */
#define IMAGE_MAX_VMAS 4096
#define IMAGE_TIMEOUT_NS (30ull * 1000000000ull)

struct image_hdr {
    uint32_t magic, version, purpose;
    int32_t pid, ppid, pgid, sid, tpgid;
    uint32_t tty_nr;
    uint32_t uid, gid, euid, egid;
    int32_t nice;
    struct trap_frame regs;
    uint64_t fs_base;
    uint8_t fpu[512];
    uint64_t sig_blocked, sig_pending;
    int32_t sig_code[64], sig_from[64];
    struct k_sigaction sigactions[64];
    uint64_t altstack_sp, altstack_size;
    uint32_t altstack_flags, pad;
    struct rlimit64 rlimits[RLIM_NLIMITS];
    uint64_t alarm_left_ns, alarm_interval_ns;
    uint64_t utime, stime, age_ns, clear_child_tid;
    char comm[16];
    char exe_path[256];
    uint64_t entry, sp;                 /* IMAGE_EXEC */
    uint64_t brk_start, brk;
    uint32_t nvma, nruns, cmdline_len, pad2;
    int32_t home;                       /* the process's home (IMAGE_NEW) */
    uint32_t locked;
    uint64_t monotonic_ns;              /* its CLOCK_MONOTONIC when it left */
    uint32_t auto_load;                 /* a balancer's move: the sender's load (0: asked by hand) */
    uint32_t nfiles;                    /* struct image_file after the VMAs */
    int32_t auto_reason;                /* a balancer's move: why (enum bal_reason) */
    uint32_t pad4;
    uint64_t restart_deadline_ns, restart_rem;  /* an interrupted sleep's restart block */
};

/* An image that came home, for its deputy's task (migrate_come_home). */
struct arrival {
    struct image_hdr h;
    struct mm *mm;
};

static void sanitize_regs(struct trap_frame *regs)
{
    regs->cs = USER_CS;
    regs->ss = USER_DS;
    regs->rflags = (regs->rflags & 0xcd5) | 0x202;    /* user flags only, interrupts on */
}

struct image_vma {
    uint64_t start, end;
    uint32_t prot, flags;
    uint64_t file_off, file_len;        /* a private mapping of file file_ref (1-based), or 0 */
    uint32_t file_ref, pad;
};

/* A file the image's mappings read: the receiver maps its own copy if it is the same file (same
 * path, size and modification time: every node boots the same initrd), else refuses (-ESTALE) and
 * the sender sends the pages themselves. */
struct image_file {
    uint64_t size, mtime_ns;
    char path[240];
};
#define IMAGE_MAX_FILES 16

struct image_run {                      /* npages pages of contents follow, from va up */
    uint64_t va;
    uint32_t npages, pad;
};

static struct migrate_stats st;
static uint64_t throughput = 50000000;  /* bytes/s of moves, smoothed; a guess until measured */

uint64_t migrate_throughput(void) { return throughput; }

/* A move of bytes took ns: the balancer weighs moves with what they cost. */
static void measured(uint64_t bytes, uint64_t ns)
{
    if (bytes < (256u << 10) || !ns)
        return;                         /* small moves are latency, not throughput */
    uint64_t t = bytes * 1000000000ull / ns;
    throughput = (throughput * 3 + t) / 4;
}

static bool page_is_zero(const void *page)
{
    const uint64_t *w = page;
    for (size_t i = 0; i < PAGE_SIZE / 8; i++)
        if (w[i])
            return false;
    return true;
}

/* ---- packing ---- */

/* ---- the stream: BEGIN (header, command line, VMAs), PAGES (runs) ..., COMMIT ---- */

/* Flags of a message: a small image is one message (BEGIN | COMMIT with its pages between). */
enum {
    MSG_BEGIN = 1, MSG_COMMIT = 2, MSG_ABORT = 4,
    MSG_PRE = 8,                        /* with BEGIN: a pre-copy; the process still runs there */
    MSG_DELTA = 16,                     /* with BEGIN: the move after that pre-copy; the pages
                                         * that follow replace the pre-copied ones */
};

struct image_msg {                      /* in front of every request of the image service */
    uint32_t magic, flags;
    int32_t pid;
    uint32_t pad;
};

#define CHUNK (4u << 20)                /* bytes of pages per PAGES message */
#define PENDING_MAX_AGE_NS (60ull * 1000000000ull)

static void fill_identity(struct image_hdr *h, struct process *p)
{
    h->magic = IMAGE_MAGIC;
    h->version = IMAGE_VERSION;
    h->pid = p->pid;
    h->ppid = p->parent ? p->parent->pid : 0;
    h->pgid = p->pgid;
    h->sid = p->sid;
    h->tty_nr = tty_devnum(p->tty);
    h->tpgid = tty_fg_pgrp(p->tty);
    h->uid = p->uid;
    h->gid = p->gid;
    h->euid = p->euid;
    h->egid = p->egid;
    h->nice = p->nice;
    memcpy(h->rlimits, p->rlimits, sizeof h->rlimits);
    memcpy(h->exe_path, p->exe_path, sizeof h->exe_path);
}

static int send_part(int node, void *buf, size_t len)
{
    int r = rpc_call_bulk_uninterruptible(node, RPC_SVC_SSI_IMAGE, buf, len, IMAGE_TIMEOUT_NS);
    if (r == 0)
        st.bytes_out += len;
    return r;
}

struct stream {
    int node;
    int32_t pid;
    uint8_t *buf;                       /* rpc_bulk_alloc'ed: message header, [BEGIN part], runs */
    size_t cap, len;                    /* bytes allocated, used */
    size_t run_at;                      /* offset of the open run's header, 0 if none */
    struct image_run run;
    uint32_t flags;                     /* of the message being filled */
    int err;
};

static void stream_send(struct stream *k, uint32_t more_flags)
{
    if (k->run_at)
        memcpy(k->buf + k->run_at, &k->run, sizeof k->run);
    k->run_at = 0;
    struct image_msg m = { IMAGE_MAGIC, k->flags | more_flags, k->pid, 0 };
    memcpy(k->buf, &m, sizeof m);
    if (!k->err)
        k->err = send_part(k->node, k->buf, k->len);
    k->len = sizeof m;
    k->flags = 0;
}

static void stream_page(struct stream *k, uint64_t va, const void *page)
{
    bool extends = k->run_at && k->run.va + (uint64_t)k->run.npages * PAGE_SIZE == va;
    if (k->len + PAGE_SIZE + (extends ? 0 : sizeof k->run) > k->cap)
        stream_send(k, 0);
    extends = k->run_at && k->run.va + (uint64_t)k->run.npages * PAGE_SIZE == va;
    if (!extends) {
        if (k->run_at)
            memcpy(k->buf + k->run_at, &k->run, sizeof k->run);
        k->run_at = k->len;
        k->run = (struct image_run){ va, 0, 0 };
        k->len += sizeof k->run;
    }
    memcpy(k->buf + k->len, page, PAGE_SIZE);
    k->len += PAGE_SIZE;
    k->run.npages++;
    st.pages_out++;
}

/* The file table index (1-based) of v's file, adding it; 0 if it cannot be referred to. */
static uint32_t file_ref(struct image_file *files, uint32_t *nfiles, const struct vma *v)
{
    const struct file *f = v->file;
    if (!f || !f->abs_path || !S_ISREG(f->inode->mode) || strlen(f->abs_path) >= sizeof files[0].path)
        return 0;
    for (uint32_t i = 0; i < *nfiles; i++)
        if (strcmp(files[i].path, f->abs_path) == 0)
            return i + 1;
    if (*nfiles == IMAGE_MAX_FILES)
        return 0;
    struct image_file *e = &files[(*nfiles)++];
    memset(e, 0, sizeof *e);
    e->size = f->inode->size;
    e->mtime_ns = f->inode->mtime_ns;
    strlcpy(e->path, f->abs_path, sizeof e->path);
    return *nfiles;
}

/* Is page, mapped at va of file mapping v, the file's own page (shared, never written here)? The
 * target then maps its own copy of the file there. */
static bool file_own_page(struct vma *v, uint64_t va, const void *page)
{
    uint64_t pa;
    if (vfs_lend_page(v->file, v->file_off + (va - v->start), &pa) != 0)
        return false;
    bool same = P2V(pa) == page;
    page_put(pa);
    return same;
}

/* How a stream sends pages. */
enum image_mode {
    IMG_FULL,                           /* every page with contents (file pages by reference) */
    IMG_BY_VALUE,                       /* the same, file pages by value (the target lacks the files) */
    IMG_PRE,                            /* ahead of the move, while the process runs: anonymous
                                         * pages, their dirty bits cleared (precopy_thread) */
    IMG_DELTA,                          /* the move after a pre-copy: anonymous pages written since,
                                         * file pages as IMG_FULL */
};

static uint32_t count_vmas(struct mm *mm)
{
    uint32_t n = 0;
    for (struct vma *v = mm_first_vma(mm); v; v = mm_next_vma(mm, v))
        n++;
    return n;
}

/* A stream whose first message will carry the BEGIN part of an image with nvma mappings. */
static int stream_open(struct stream *k, int node, int32_t pid, uint32_t nvma, uint32_t cmdline_len,
                       uint32_t flags)
{
    size_t begin_len = sizeof(struct image_msg) + sizeof(struct image_hdr) + cmdline_len +
                       nvma * sizeof(struct image_vma) + IMAGE_MAX_FILES * sizeof(struct image_file);
    *k = (struct stream){ .node = node, .pid = pid, .cap = begin_len + CHUNK, .flags = MSG_BEGIN | flags };
    k->buf = rpc_bulk_alloc(k->cap);
    return k->buf ? 0 : -ENOMEM;
}

/* Lays out the BEGIN part (h, the command line, mm's mappings and the files they refer to) in k,
 * which stream_open made for at least as many mappings. files: room for IMAGE_MAX_FILES, filled.
 * Nothing here sleeps: the pre-copy calls it with interrupts off, its process running. */
static void stream_begin(struct stream *k, struct image_hdr *h, struct mm *mm, const char *cmdline,
                         uint32_t cmdline_len, struct image_file *files)
{
    h->nvma = count_vmas(mm);
    h->nruns = 0;
    h->nfiles = 0;
    h->cmdline_len = cmdline_len;
    h->brk_start = mm->brk_start;
    h->brk = mm->brk;
    uint8_t *o = k->buf + sizeof(struct image_msg) + sizeof *h;
    memcpy(o, cmdline, cmdline_len);
    o += cmdline_len;
    for (struct vma *v = mm_first_vma(mm); v; v = mm_next_vma(mm, v)) {
        struct image_vma iv = { v->start, v->end, v->prot, v->flags & (VMA_GROWSDOWN | VMA_HEAP), 0, 0, 0, 0 };
        if (files && (iv.file_ref = file_ref(files, &h->nfiles, v)) != 0) {
            iv.file_off = v->file_off;  /* file_end may lie past a VMA that mprotect split off */
            iv.file_len = v->file_end <= v->start ? 0 : (v->file_end < v->end ? v->file_end : v->end) - v->start;
        }
        memcpy(o, &iv, sizeof iv);
        o += sizeof iv;
    }
    memcpy(o, files, h->nfiles * sizeof *files);
    o += h->nfiles * sizeof *files;
    memcpy(k->buf + sizeof(struct image_msg), h, sizeof *h);
    k->len = (size_t)(o - k->buf);
}

/* Ends a stream: COMMIT, or after an error, ABORT if the receiver holds a part. Frees it. */
static int stream_close(struct stream *k, bool commit_it)
{
    int err = k->err;
    if (!err && commit_it) {
        stream_send(k, MSG_COMMIT);
        err = k->err;
    } else if (err && !(k->flags & MSG_BEGIN)) {
        k->err = 0;
        k->len = sizeof(struct image_msg);
        stream_send(k, MSG_ABORT);
    } else if (!err) {
        stream_send(k, 0);              /* what is left of a pre-copy */
        err = k->err;
    }
    rpc_bulk_free(k->buf);
    return err;
}

/* Sends the image (h filled in but for the counts), its command line and the memory of mm, the
 * caller's own, stopped. IMG_FULL leaves pages of file mappings that were never touched behind:
 * the receiver reads them from its own copy of the file. */
static int send_image_as(int node, struct image_hdr *h, struct mm *mm, const char *cmdline, uint32_t cmdline_len,
                         enum image_mode mode)
{
    uint32_t nvma = count_vmas(mm);
    if (nvma > IMAGE_MAX_VMAS)
        return -ENOMEM;
    bool by_ref = mode != IMG_BY_VALUE;
    struct image_file *files = by_ref ? kzalloc(sizeof *files * IMAGE_MAX_FILES) : NULL;
    struct stream k;
    if ((by_ref && !files) || stream_open(&k, node, h->pid, nvma, cmdline_len, mode == IMG_DELTA ? MSG_DELTA : 0)) {
        kfree(files);
        return -ENOMEM;
    }
    stream_begin(&k, h, mm, cmdline, cmdline_len, files);
    for (struct vma *v = mm_first_vma(mm); v && !k.err; v = mm_next_vma(mm, v)) {
        /* A file mapping that could not be referred to travels by value. */
        bool ref = by_ref && v->file && file_ref(files, &h->nfiles, v);
        for (uint64_t va = v->start; va < v->end && !k.err; va += PAGE_SIZE) {
            if (mode == IMG_DELTA && !v->file) {
                const void *page = mm_page_dirty(mm, va);       /* even zeroed since: it must travel */
                if (page)
                    stream_page(&k, va, page);
                continue;
            }
            int err;
            const void *page = mm_page_contents(mm, v, va, !ref, &err);
            if (err)
                k.err = err;
            else if (page && (!page_is_zero(page) || ref) && !(ref && file_own_page(v, va, page)))
                stream_page(&k, va, page);      /* a zeroed page over a file must travel */
        }
    }
    kfree(files);
    return stream_close(&k, true);
}

/* The image of a stopped process: after a pre-copy the pages written since, else all of them (by
 * value if the target lacks the files). A target that cannot take the difference gets it all. */
static int send_image(int node, struct image_hdr *h, struct mm *mm, const char *cmdline, uint32_t cmdline_len,
                      bool delta)
{
    int r = -ESTALE;
    if (delta) {
        r = send_image_as(node, h, mm, cmdline, cmdline_len, IMG_DELTA);
        if (r == -ESTALE)
            st.precopy_void++;
    }
    if (r == -ESTALE)
        r = send_image_as(node, h, mm, cmdline, cmdline_len, IMG_FULL);
    if (r == -ESTALE) {                 /* the target has other files: send their pages */
        st.by_value++;
        r = send_image_as(node, h, mm, cmdline, cmdline_len, IMG_BY_VALUE);
    }
    return r;
}

/* ---- pre-copy: the memory goes ahead while the process runs ---- */

static void stays(struct process *p, int node, const char *why, int err);

#define PRECOPY_MIN_BYTES (2u << 20)    /* smaller: the stop-and-copy is short anyway */
#define PRECOPY_MIN_FREE (32u << 20)    /* less free memory here: no pre-copy */

static bool precopy_on = true;
#define PRECOPY_BATCH 32                /* pages snapshot per pass with interrupts off */

struct precopy_job {
    int32_t pid;
    int node;
    uint64_t gen;
};

/* The process of a pre-copy, if it still has the address space the pre-copy started with
 * (interrupts off). Exit, exec, and any change of its mappings end that. */
static struct process *precopy_owner(const struct precopy_job *j)
{
    struct process *p = proc_find(j->pid);
    return p && p->kind != PROC_DEPUTY && p->mm && p->mm->gen == j->gen && p->precopy == PRECOPY_RUNNING
               ? p : NULL;
}

/* Sends the mappings and the anonymous pages of a running process as a pending image at the target
 * (BEGIN | PRE, no COMMIT). Each page's dirty bit is cleared as it is copied, with interrupts off
 * (one CPU: the process cannot write meanwhile), and the TLB flushed before they go back on, so
 * what the process writes after its copy shows as dirty at the move. */
static int precopy_stream(const struct precopy_job *j)
{
    struct image_hdr *h = kzalloc(sizeof *h);
    struct image_file *files = kzalloc(sizeof *files * IMAGE_MAX_FILES);
    uint8_t *batch = kmalloc(PRECOPY_BATCH * PAGE_SIZE);
    struct image_vma *vmas = kmalloc(IMAGE_MAX_VMAS * sizeof *vmas);
    char *cmdline = kmalloc(65536);
    struct stream k = { .buf = NULL };
    int r = h && files && batch && vmas && cmdline ? 0 : -ENOMEM;
    uint32_t nvma = 0, cmdline_len = 0;
    if (!r)
        r = stream_open(&k, j->node, j->pid, IMAGE_MAX_VMAS, 65536, MSG_PRE);
    if (!r) {
        uint64_t f = irq_save();
        struct process *p = precopy_owner(j);
        nvma = p ? count_vmas(p->mm) : 0;
        if (!p || nvma > IMAGE_MAX_VMAS) {
            r = -ESRCH;
        } else {
            fill_identity(h, p);
            h->purpose = IMAGE_NEW;
            h->home = p->kind == PROC_REMOTE ? p->home : node_self();
            cmdline_len = p->cmdline && p->cmdline_len <= 65536 ? p->cmdline_len : 0;
            memcpy(cmdline, p->cmdline ? p->cmdline : "", cmdline_len);
            stream_begin(&k, h, p->mm, cmdline, cmdline_len, files);
            uint32_t i = 0;
            for (struct vma *v = mm_first_vma(p->mm); v; v = mm_next_vma(p->mm, v))
                vmas[i++] = (struct image_vma){ v->start, v->end, v->prot, 0, 0, 0, v->file ? 1u : 0u, 0 };
        }
        irq_restore(f);
    }
    for (uint32_t i = 0; i < nvma && !r && !k.err; i++) {
        if (vmas[i].file_ref)
            continue;                   /* file pages go with the move (or stay behind by reference) */
        for (uint64_t va = vmas[i].start; va < vmas[i].end && !r && !k.err;) {
            uint64_t got = 0, first = va;
            uint64_t f = irq_save();
            struct process *p = precopy_owner(j);
            if (!p)
                r = -ESRCH;
            for (uint32_t n = 0; p && n < PRECOPY_BATCH && va < vmas[i].end; n++, va += PAGE_SIZE)
                if (mm_page_snapshot(p->mm, va, batch + n * PAGE_SIZE))
                    got |= 1ull << n;
            if (p)
                vm_flush_all();
            irq_restore(f);
            for (uint32_t n = 0; n < PRECOPY_BATCH && !k.err; n++) {
                const uint8_t *page = batch + n * PAGE_SIZE;
                if ((got & (1ull << n)) && !page_is_zero(page)) {
                    stream_page(&k, first + n * PAGE_SIZE, page);
                    st.precopy_pages++;
                }
            }
        }
    }
    if (k.buf) {
        k.err = k.err ? k.err : r;
        r = stream_close(&k, false);
    }
    kfree(h);
    kfree(files);
    kfree(batch);
    kfree(vmas);
    kfree(cmdline);
    return r;
}

/* Runs a pre-copy, then asks its process to move again: the move sends what changed since
 * (PRECOPY_DONE), or everything if the pre-copy was voided (PRECOPY_VOID). */
static void precopy_thread(void *arg)
{
    struct precopy_job *j = arg;
    int r = precopy_stream(j);
    uint64_t f = irq_save();
    struct process *p = precopy_owner(j);
    bool done = p && r == 0;
    if (!p)
        p = proc_find(j->pid);
    if (p && p->kind != PROC_DEPUTY && p->state != PROC_ZOMBIE && p->precopy == PRECOPY_RUNNING) {
        p->precopy = done ? PRECOPY_DONE : PRECOPY_VOID;
        int want = p->precopy_want;     /* asked for elsewhere meanwhile: it goes there, whole */
        int rq = migrate_request(p, want);
        if (rq) {                       /* the target went down meanwhile, or it was locked */
            p->precopy = PRECOPY_NONE;
            stays(p, want, NULL, rq);
        }
    }
    irq_restore(f);
    if (done)
        st.precopies++;
    else
        st.precopy_void++;
    kfree(j);
}

/* On the way to a move of p to node: true if a pre-copy starts (or runs) and p should run on
 * meanwhile; false if the move happens now (after a pre-copy: p->precopy == PRECOPY_DONE). */
static bool precopy_first(struct process *p, int node)
{
    if (p->precopy == PRECOPY_RUNNING) {
        p->precopy_want = node;         /* the thread asks for it again when done */
        return true;
    }
    if (p->precopy == PRECOPY_DONE && p->precopy_node == node && p->mm->gen == p->precopy_gen)
        return false;
    bool again = p->precopy != PRECOPY_NONE;
    p->precopy = PRECOPY_NONE;
    if (again || !precopy_on || p->mm->rss_pages * PAGE_SIZE < PRECOPY_MIN_BYTES)
        return false;                   /* after a voided one, or small: stop and copy */
    /* Short of memory (or moved because of it), stop it now: running on, it would only grow (a
     * growing process voids the pre-copy anyway, and its buffers are memory this node lacks). */
    if ((p->migrate_auto && p->migrate_reason == BAL_MEMORY) || pmm_free_count() * PAGE_SIZE < PRECOPY_MIN_FREE)
        return false;
    struct precopy_job *j = kmalloc(sizeof *j);
    if (!j)
        return false;
    *j = (struct precopy_job){ p->pid, node, p->mm->gen };
    p->precopy = PRECOPY_RUNNING;
    p->precopy_node = p->precopy_want = node;
    p->precopy_gen = p->mm->gen;
    if (!kthread_create("precopy", precopy_thread, j)) {
        p->precopy = PRECOPY_NONE;
        kfree(j);
        return false;
    }
    return true;
}

/* ---- receiving (rpc workers; one source sends one part at a time) ---- */

struct pending {
    struct list_head link;
    int from;
    int32_t pid;
    bool pre;                           /* a pre-copy: its process still runs at the sender */
    uint64_t started_ns;
    struct image_hdr h;
    char *cmdline;
    struct mm *mm;
};

static struct list_head pendings = LIST_HEAD_INIT(pendings);

static void pending_free(struct pending *q)
{
    mm_destroy(q->mm);
    kfree(q->cmdline);
    kfree(q);
}

/* Takes the pending image of (from, pid) off the list; NULL if none. Also drops stale ones (their
 * sender died or gave up). */
static struct pending *pending_take(int from, int32_t pid)
{
    struct list_head stale = LIST_HEAD_INIT(stale);
    struct pending *found = NULL;
    uint64_t now = clock_ns();
    uint64_t f = irq_save();
    struct list_head *pos, *n;
    list_for_each_safe(pos, n, &pendings) {
        struct pending *q = list_entry(pos, struct pending, link);
        if (q->from == from && q->pid == pid && !found) {
            list_del(&q->link);
            found = q;
        } else if (now - q->started_ns > PENDING_MAX_AGE_NS || !net_node_up(q->from)) {
            list_del(&q->link);
            list_add_tail(&q->link, &stale);
        }
    }
    irq_restore(f);
    while (!list_empty(&stale)) {
        struct pending *q = list_first_entry(&stale, struct pending, link);
        list_del(&q->link);
        pending_free(q);
    }
    return found;
}

static void pending_put(struct pending *q)
{
    uint64_t f = irq_save();
    list_add_tail(&q->link, &pendings);
    irq_restore(f);
}

/* The header of a BEGIN part, checked; the size of the whole part, or -EINVAL. */
static long begin_header(const uint8_t *data, size_t len, struct image_hdr *h)
{
    if (len < sizeof *h)
        return -EINVAL;
    memcpy(h, data, sizeof *h);
    len -= sizeof *h;
    size_t need = h->cmdline_len + (size_t)h->nvma * sizeof(struct image_vma) + h->nfiles * sizeof(struct image_file);
    if (h->magic != IMAGE_MAGIC || h->version != IMAGE_VERSION || h->pid <= 1 || h->nvma > IMAGE_MAX_VMAS ||
        h->cmdline_len > 65536 || h->nfiles > IMAGE_MAX_FILES || len < need)
        return -EINVAL;
    return (long)(sizeof *h + need);
}

/* Are the nvma struct image_vma at vd exactly the mappings of mm? */
static bool same_layout(struct mm *mm, const uint8_t *vd, uint32_t nvma)
{
    struct vma *v = mm_first_vma(mm);
    for (uint32_t i = 0; i < nvma; i++, v = mm_next_vma(mm, v)) {
        struct image_vma iv;
        memcpy(&iv, vd + i * sizeof iv, sizeof iv);
        if (!v || v->start != iv.start || v->end != iv.end || v->prot != (iv.prot & 7) || !v->file != !iv.file_ref)
            return false;
    }
    return v == NULL;
}

/* The BEGIN part of the move after a pre-copy: the pending pre-copy of (from, pid) becomes the
 * image, with this header and command line, if its mappings are still the same (they are: the
 * sender checked; anything else is refused with -ESTALE and the sender sends everything). */
static long begin_delta(int from, const uint8_t *data, size_t len)
{
    struct image_hdr h;
    long used = begin_header(data, len, &h);
    if (used < 0)
        return used;
    struct pending *q = pending_take(from, h.pid);
    if (!q || !q->pre) {
        if (q)
            pending_free(q);
        return -ESTALE;
    }
    char *cmdline = kmalloc(h.cmdline_len ? h.cmdline_len : 1);
    if (!same_layout(q->mm, data + sizeof h + h.cmdline_len, h.nvma) || !cmdline) {
        kfree(cmdline);
        pending_free(q);
        return -ESTALE;
    }
    memcpy(cmdline, data + sizeof h, h.cmdline_len);
    kfree(q->cmdline);
    q->cmdline = cmdline;
    q->h = h;
    q->pre = false;
    q->started_ns = clock_ns();
    q->mm->brk_start = h.brk_start;
    q->mm->brk = h.brk;
    pending_put(q);
    return used;
}

/* The BEGIN part at data: a pending image for (from, its pid). Returns the bytes it took, or -errno. */
static long begin(int from, const uint8_t *data, size_t len, bool pre)
{
    struct pending *q = kzalloc(sizeof *q);
    if (!q)
        return -ENOMEM;
    struct image_hdr *h = &q->h;
    if (begin_header(data, len, h) < 0) {
        kfree(q);
        return -EINVAL;
    }
    data += sizeof *h;
    q->pre = pre;
    q->from = from;
    q->pid = h->pid;
    q->started_ns = clock_ns();
    q->cmdline = kmalloc(h->cmdline_len ? h->cmdline_len : 1);
    q->mm = mm_create();
    int r = q->cmdline && q->mm ? 0 : -ENOMEM;
    if (q->cmdline)
        memcpy(q->cmdline, data, h->cmdline_len);
    data += h->cmdline_len;
    struct file *opened[IMAGE_MAX_FILES] = { 0 };
    const uint8_t *ftab = data + (size_t)h->nvma * sizeof(struct image_vma);
    for (uint32_t i = 0; i < h->nfiles && !r; i++) {
        struct image_file e;
        memcpy(&e, ftab + i * sizeof e, sizeof e);
        e.path[sizeof e.path - 1] = 0;
        r = vfs_open(NULL, NULL, e.path, O_RDONLY, 0, &opened[i]);
        if (r == 0 && (!S_ISREG(opened[i]->inode->mode) || opened[i]->inode->size != e.size ||
                       opened[i]->inode->mtime_ns != e.mtime_ns))
            r = -ESTALE;
        else if (r)
            r = -ESTALE;
    }
    for (uint32_t i = 0; i < h->nvma && !r; i++) {
        struct image_vma v;
        memcpy(&v, data + i * sizeof v, sizeof v);
        struct file *f = v.file_ref && v.file_ref <= h->nfiles ? opened[v.file_ref - 1] : NULL;
        if (v.end <= v.start || v.end > USER_TOP || (v.start | v.end) & (PAGE_SIZE - 1) ||
            (v.file_ref && !f) || v.file_len > v.end - v.start || v.file_off & (PAGE_SIZE - 1))
            r = -EINVAL;
        else
            r = mm_map(q->mm, v.start, v.end - v.start, v.prot & 7, v.flags & (VMA_GROWSDOWN | VMA_HEAP), f,
                       f ? v.file_off : 0, f ? v.file_len : 0);
    }
    for (uint32_t i = 0; i < h->nfiles; i++)
        if (opened[i])
            file_put(opened[i]);        /* the mappings hold their own references */
    if (r) {
        pending_free(q);
        return r;
    }
    q->mm->brk_start = h->brk_start;
    q->mm->brk = h->brk;
    struct pending *old = pending_take(from, h->pid);   /* an earlier attempt that never finished */
    if (old)
        pending_free(old);
    pending_put(q);
    return (long)(sizeof *h + h->cmdline_len + (size_t)h->nvma * sizeof(struct image_vma) +
                  h->nfiles * sizeof(struct image_file));
}

static int pages(struct pending *q, const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        struct image_run run;
        if (len - off < sizeof run)
            return -EINVAL;
        memcpy(&run, data + off, sizeof run);
        off += sizeof run;
        if ((uint64_t)run.npages * PAGE_SIZE > len - off || run.va & (PAGE_SIZE - 1))
            return -EINVAL;
        for (uint32_t j = 0; j < run.npages; j++) {
            int r = mm_install_page(q->mm, run.va + (uint64_t)j * PAGE_SIZE, data + off);
            if (r)
                return r;
            off += PAGE_SIZE;
        }
        st.pages_in += run.npages;
    }
    return 0;
}

/* What an arriving process takes from its image wherever it arrives (a new process here, or its
 * deputy's at home): handlers, times, clocks, lock and restart block. Signal state and identity
 * differ between the two (at home the deputy kept them) and are done by the callers. */
static void take_run_state(struct process *p, const struct image_hdr *h)
{
    memcpy(p->sigactions, h->sigactions, sizeof p->sigactions);
    p->altstack_sp = h->altstack_sp;
    p->altstack_size = h->altstack_size;
    p->altstack_flags = h->altstack_flags;
    p->utime_ticks = h->utime;
    p->stime_ticks = h->stime;
    p->clear_child_tid = h->clear_child_tid;
    p->locked = h->locked;
    p->mono_offset_ns = (int64_t)(h->monotonic_ns - clock_ns());
    p->moved_ns = clock_ns();
    p->bal_prev_ticks = h->utime + h->stime;
    p->restart_deadline_ns = h->restart_deadline_ns;
    p->restart_rem = h->restart_rem;
}

static int start_arrival(const struct image_hdr *h, struct mm *mm, const char *cmdline)
{
    struct process *p = proc_new_blank();
    if (!p || deputy_attach_remote(p, h->home, NULL) != 0) {
        if (p)
            proc_discard(p);
        mm_destroy(mm);
        return -ENOMEM;
    }
    p->pid = h->pid;
    p->mm = mm;
    p->pgid = h->pgid;
    p->sid = h->sid;
    p->uid = h->uid;
    p->gid = h->gid;
    p->euid = h->euid;
    p->egid = h->egid;
    p->nice = h->nice;
    memcpy(p->comm, h->comm, sizeof p->comm);
    p->comm[sizeof p->comm - 1] = 0;
    memcpy(p->exe_path, h->exe_path, sizeof p->exe_path);
    p->exe_path[sizeof p->exe_path - 1] = 0;
    if (h->cmdline_len && (p->cmdline = kmalloc(h->cmdline_len)) != NULL) {
        memcpy(p->cmdline, cmdline, h->cmdline_len);
        p->cmdline_len = h->cmdline_len;
    }
    memcpy(p->sig_code, h->sig_code, sizeof p->sig_code);
    memcpy(p->sig_from, h->sig_from, sizeof p->sig_from);
    p->sig_blocked = h->sig_blocked;
    p->sig_pending = h->sig_pending;
    memcpy(p->rlimits, h->rlimits, sizeof p->rlimits);
    uint64_t now = clock_ns();
    p->start_ns = h->age_ns < now ? now - h->age_ns : 0;
    struct deputy_remote_ids ids = { h->ppid, h->tty_nr, h->tpgid };
    deputy_remote_set_ids(p, &ids);
    take_run_state(p, h);
    struct trap_frame regs = h->regs;
    sanitize_regs(&regs);
    int r = proc_start_user(p, &regs, h->fs_base, h->fpu);
    if (r) {
        proc_discard(p);
        return r;
    }
    if (h->alarm_left_ns)
        signal_alarm_set(p, h->alarm_left_ns, h->alarm_interval_ns);
    return 0;
}

static char *basename_of(char *path)
{
    char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* The whole image is here: start it, or hand it over. Takes q. */
static int commit(int from, struct pending *q)
{
    struct image_hdr *h = &q->h;
    struct mm *mm = q->mm;
    q->mm = NULL;
    int r;
    if (h->purpose == IMAGE_NEW && h->home == node_self()) {
        struct arrival *a = kmalloc(sizeof *a);
        r = a ? 0 : -ENOMEM;
        if (a) {
            a->h = *h;
            a->mm = mm;
            r = deputy_home_arrived(h->pid, from, a);   /* its deputy's task takes it from here */
        }
        if (r) {
            kfree(a);
            mm_destroy(mm);
        }
    } else if (h->purpose == IMAGE_NEW) {
        r = h->home >= 0 && h->home < CLUSTER_MAX_NODES ? 0 : -EINVAL;
        if (r == 0 && !net_node_up(h->home))
            r = -EHOSTDOWN;             /* nobody would take its calls */
        if (r == 0 && h->auto_load && !balancer_accepts(h->auto_reason, h->auto_load, mm->rss_pages * PAGE_SIZE))
            r = -EBUSY;                 /* the sender's balancer saw an older, lighter load */
        if (r == 0)
            r = start_arrival(h, mm, q->cmdline);
        else
            mm_destroy(mm);
        if (r == 0)
            st.in++;
    } else if (h->purpose == IMAGE_EXEC) {
        h->comm[sizeof h->comm - 1] = 0;
        r = deputy_remote_exec_arrived(h->pid, mm, h->entry, h->sp, h->comm, q->cmdline, h->cmdline_len);
        if (r)
            mm_destroy(mm);
        else
            st.execs_in++;
    } else {
        mm_destroy(mm);
        r = -EINVAL;
    }
    pending_free(q);
    return r;
}

static int svc_image(int from, const void *req, size_t len, void *resp, size_t cap, size_t *resp_len)
{
    (void)resp;
    (void)cap;
    (void)resp_len;
    struct image_msg m;
    if (len < sizeof m)
        return -EINVAL;
    memcpy(&m, req, sizeof m);
    const uint8_t *data = (const uint8_t *)req + sizeof m;
    len -= sizeof m;
    if (m.magic != IMAGE_MAGIC)
        return -EINVAL;
    st.bytes_in += len + sizeof m;
    if (m.flags & MSG_BEGIN) {
        long used = m.flags & MSG_DELTA ? begin_delta(from, data, len) : begin(from, data, len, m.flags & MSG_PRE);
        if (used < 0)
            return (int)used;
        data += used;
        len -= (size_t)used;
    }
    struct pending *q = pending_take(from, m.pid);
    if (!q)
        return -ESRCH;
    int r = m.flags & MSG_ABORT ? -EINTR : pages(q, data, len);
    if (r) {
        pending_free(q);
        return m.flags & MSG_ABORT ? 0 : r;
    }
    if ((m.flags & MSG_COMMIT) && q->pre) {
        pending_free(q);                /* a pre-copy is never an image by itself */
        return -EINVAL;
    }
    if (m.flags & MSG_COMMIT)
        return commit(from, q);
    pending_put(q);
    return 0;
}

/* ---- sending ---- */

int migrate_send_exec(struct process *p, const struct exec_image *img, const struct exec_args *a)
{
    struct image_hdr *h = kzalloc(sizeof *h);
    if (!h)
        return -ENOMEM;
    fill_identity(h, p);
    h->purpose = IMAGE_EXEC;
    h->entry = img->entry;
    h->sp = img->sp;
    char path[256];
    strlcpy(path, img->path, sizeof path);
    strlcpy(h->comm, basename_of(path), sizeof h->comm);
    uint32_t argv_len = 0;
    for (int i = 0; i < a->argc; i++)
        argv_len += strlen(a->buf + argv_len) + 1;
    int r = send_image(p->where, h, img->mm, a->buf, argv_len, false);
    kfree(h);
    if (r == 0)
        st.execs_out++;
    return r;
}

int migrate_request(struct process *p, int node)
{
    if (node == MIGRATE_LOCK || node == MIGRATE_UNLOCK) {
        p->locked = node == MIGRATE_LOCK;   /* at a deputy, a mirror for /proc/PID/lock */
        return p->kind == PROC_DEPUTY ? deputy_ask_move(p, node) : 0;
    }
    if (node < 0 || node >= CLUSTER_MAX_NODES)
        return -EINVAL;
    int here = p->kind == PROC_DEPUTY ? p->where : node_self();
    if (node == here)
        return 0;
    if (!net_node_up(node))
        return -EHOSTDOWN;
    if (p->pid == 1)
        return -EPERM;
    if (p->locked)
        return -EPERM;
    if (p->kind == PROC_DEPUTY)         /* the process decides where it runs: tell it */
        return deputy_ask_move(p, node);
    p->migrate_to = node;
    if (p->task && p != current_proc())
        sched_wake_task(p->task);       /* out of a sleep: the call restarts after the move */
    return 0;
}

/* Why p cannot move now, or NULL. */
static const char *refusal(struct process *p)
{
    if (p->locked)
        return "it is locked (unlock PID)";
    if (p->mm_borrowed || p->vfork_parent)
        return "it is a vfork child sharing its parent's memory";
    if (!p->mm)
        return "it has no memory";
    if (p->pid == 1)
        return "it is this node's init";
    return NULL;
}

/* The image of the current process, stopped at tf on its way to user mode, sent to node. */
static int send_current(struct process *p, int node, struct trap_frame *tf, uint64_t *packed_pending)
{
    struct image_hdr *h = kzalloc(sizeof *h);
    if (!h)
        return -ENOMEM;
    fill_identity(h, p);
    if (p->kind == PROC_REMOTE) {
        h->ppid = deputy_remote_ppid(p);
        h->tty_nr = deputy_remote_tty_nr(p);
        h->tpgid = deputy_remote_tpgid(p);
    }
    h->purpose = IMAGE_NEW;
    h->home = p->kind == PROC_REMOTE ? p->home : node_self();
    h->locked = p->locked;
    h->regs = *tf;
    h->fs_base = current_task()->fs_base;
    fpu_save(current_task());
    memcpy(h->fpu, current_task()->fpu_state, sizeof h->fpu);
    uint64_t f = irq_save();
    h->sig_pending = *packed_pending = p->sig_pending;
    irq_restore(f);
    h->sig_blocked = p->sig_blocked;
    memcpy(h->sig_code, p->sig_code, sizeof h->sig_code);
    memcpy(h->sig_from, p->sig_from, sizeof h->sig_from);
    memcpy(h->sigactions, p->sigactions, sizeof h->sigactions);
    h->altstack_sp = p->altstack_sp;
    h->altstack_size = p->altstack_size;
    h->altstack_flags = p->altstack_flags;
    signal_alarm_get(p, &h->alarm_left_ns, &h->alarm_interval_ns);
    h->utime = p->utime_ticks;
    h->stime = p->stime_ticks;
    h->age_ns = clock_ns() - p->start_ns;
    h->clear_child_tid = p->clear_child_tid;
    h->monotonic_ns = proc_monotonic_ns(p);
    h->restart_deadline_ns = p->restart_deadline_ns;
    h->restart_rem = p->restart_rem;
    h->auto_load = p->migrate_auto ? p->migrate_load + 1 : 0;   /* + 1: never 0 */
    h->auto_reason = p->migrate_reason;
    memcpy(h->comm, p->comm, sizeof h->comm);
    bool delta = p->precopy == PRECOPY_DONE;     /* precopy_first checked it is still good */
    p->precopy = PRECOPY_NONE;
    int r = send_image(node, h, p->mm, p->cmdline ? p->cmdline : "", p->cmdline ? p->cmdline_len : 0, delta);
    kfree(h);
    if (r == 0)
        st.out++;
    return r;
}

static void stays(struct process *p, int node, const char *why, int err)
{
    /* A balancer's move that does not happen is routine (the target may refuse): its log says so. */
    int level = p->migrate_auto ? LOG_DEBUG : LOG_NOTICE;
    if (p->migrate_auto)
        balancer_stayed(proc_rss_pages(p) * PAGE_SIZE);
    p->migrate_auto = false;
    if (why)
        printk(level, "migrate: pid %d (%s) stays on node %d: %s\n", p->pid, p->comm, node_self(), why);
    else
        printk(level, "migrate: pid %d (%s) stays on node %d: node %d: error %d\n", p->pid, p->comm, node_self(),
               node, err);
    st.failed++;
}

/* A process at home leaves: its task here becomes its deputy until it comes back or exits. */
static void leave_home(struct process *p, int node, struct trap_frame *tf)
{
    uint64_t t0 = clock_ns();
    /* The link first: the process may send its first call before the answer comes back. */
    if (deputy_attach_home(p, node) != 0) {
        stays(p, node, "out of memory", 0);
        return;
    }
    uint64_t packed_pending = 0, sent = st.bytes_out;
    int r = send_current(p, node, tf, &packed_pending);
    if (r == 0)
        measured(st.bytes_out - sent, clock_ns() - t0);
    if (r) {
        deputy_link_free(p);
        p->where = 0;
        stays(p, node, NULL, r);
        return;
    }
    /* It runs there now. What is left here is its deputy. */
    signal_cancel_alarm(p);
    uint64_t f = irq_save();
    uint64_t late = p->sig_pending & ~packed_pending;
    p->sig_pending = 0;
    p->kind = PROC_DEPUTY;
    for (int sig = 1; sig <= NSIG; sig++)
        if (late & sigmask(sig))
            deputy_signal(p, sig, p->sig_code[sig - 1], p->sig_from[sig - 1]);
    irq_restore(f);
    struct mm *mm = p->mm;
    p->mm = NULL;                       /* first: a preemption must not switch back to it */
    mm_activate(NULL);
    mm_destroy(mm);
    p->clear_child_tid = 0;
    st.last_freeze_us = (clock_ns() - t0) / 1000;
    deputy_serve(p, tf);                /* returns when the process is home again */
    signal_return_to_user(tf, 0);       /* what it brought along */
}

/* A process away from home moves on (or back home): its deputy holds signals meanwhile; the new
 * part announces itself to the deputy with its first message; this part vanishes. */
static void move_on(struct process *p, int node, struct trap_frame *tf)
{
    uint64_t t0 = clock_ns();
    int r = deputy_remote_move_begin(p, node);
    if (r) {
        stays(p, node, NULL, r);
        return;
    }
    uint64_t packed_pending = 0, sent = st.bytes_out;
    r = send_current(p, node, tf, &packed_pending);
    if (r == 0)
        measured(st.bytes_out - sent, clock_ns() - t0);
    if (r) {
        deputy_remote_move_end(p, node_self());
        stays(p, node, NULL, r);
        return;
    }
    if (node != p->home)
        deputy_remote_move_end(p, node);
    st.last_freeze_us = (clock_ns() - t0) / 1000;
    proc_vanish();
}

void migrate_on_return(struct trap_frame *tf)
{
    struct process *p = current_proc();
    int node = p->migrate_to;
    p->migrate_to = -1;

    if (node < 0 || node == node_self())
        return;
    const char *why = refusal(p);
    if (why) {
        stays(p, node, why, 0);
        return;
    }
    if (precopy_first(p, node))
        return;                         /* it runs on while its memory goes ahead */
    irq_enable();                       /* from an interrupt's return path too */
    if (p->kind == PROC_REMOTE)
        move_on(p, node, tf);
    else if (p->kind == PROC_LOCAL)
        leave_home(p, node, tf);
}

/* The deputy's task takes its process back (kernel/deputy.c, when the image came home). */
void migrate_come_home(struct process *p, void *state, struct trap_frame *tf)
{
    struct arrival *a = state;
    struct image_hdr *h = &a->h;
    struct task *t = current_task();
    p->mm = a->mm;
    mm_activate(p->mm);
    t->fs_base = h->fs_base;
    wrmsr(MSR_FS_BASE, h->fs_base);
    memcpy(t->fpu_state, h->fpu, sizeof t->fpu_state);
    fpu_restore(t);
    uint64_t f = irq_save();
    p->sig_blocked = h->sig_blocked;
    for (int sig = 1; sig <= NSIG; sig++) {
        if ((h->sig_pending & sigmask(sig)) && !(p->sig_pending & sigmask(sig))) {
            p->sig_code[sig - 1] = h->sig_code[sig - 1];
            p->sig_from[sig - 1] = h->sig_from[sig - 1];
        }
    }
    p->sig_pending |= h->sig_pending;
    irq_restore(f);
    take_run_state(p, h);
    if (h->alarm_left_ns)
        signal_alarm_set(p, h->alarm_left_ns, h->alarm_interval_ns);
    *tf = h->regs;
    sanitize_regs(tf);
    tf->vector = 0;                     /* no system call to restart: it was resolved there */
    kfree(a);
    st.in++;
}

struct migrate_req {
    int32_t pid, code;
};

int migrate_pid(int pid, int code)
{
    uint64_t f = irq_save();
    struct process *p = pid > 0 ? proc_find(pid) : NULL;
    int r = -ESRCH;
    if (p && p->state != PROC_ZOMBIE) {
        if (p->kind == PROC_DEPUTY && (code == MIGRATE_LOCK || code == MIGRATE_UNLOCK))
            p->locked = code == MIGRATE_LOCK;   /* a mirror, for /proc/PID/lock here */
        irq_restore(f);
        return migrate_request(p, code);
    }
    irq_restore(f);
    int home = ssi_pid_home(pid);
    if (pid <= 1 || home < 0 || home == node_self() || !net_node_up(home))
        return r;
    struct migrate_req req = { pid, code };
    return rpc_call(home, RPC_SVC_SSI_MIGRATE, &req, sizeof req, NULL, 0, NULL, 0);
}

static int svc_migrate(int from, const void *req, size_t len, void *resp, size_t cap, size_t *resp_len)
{
    (void)from;
    (void)resp;
    (void)cap;
    (void)resp_len;
    struct migrate_req r;
    if (len != sizeof r)
        return -EINVAL;
    memcpy(&r, req, sizeof r);
    if (ssi_pid_home(r.pid) != node_self())
        return -ESRCH;
    return migrate_pid(r.pid, r.code);
}

void migrate_drop_arrival(void *state)
{
    struct arrival *a = state;
    mm_destroy(a->mm);
    kfree(a);
}

void migrate_get_stats(struct migrate_stats *out)
{
    uint64_t f = irq_save();
    *out = st;
    irq_restore(f);
}

/* /proc/cluster/migrate/precopy: 1 (default) or 0 (every move stops and copies: the baseline
 * bench/ssibench compares with). */
static size_t show_precopy(char *buf, size_t cap) { return (size_t)ksnprintf(buf, cap, "%d\n", precopy_on); }

static long store_precopy(const char *text)
{
    if ((text[0] != '0' && text[0] != '1') || (text[1] && text[1] != '\n'))
        return -EINVAL;
    precopy_on = text[0] == '1';
    return 0;
}

static const struct netproc_file files[] = {
    { "precopy", show_precopy, store_precopy },
};

void migrate_init(void)
{
    if (rpc_register(RPC_SVC_SSI_IMAGE, svc_image) != 0 || rpc_register(RPC_SVC_SSI_MIGRATE, svc_migrate) != 0 ||
        netproc_add_dir("migrate", files, 1) != 0)
        printk(LOG_ERR, "migrate: cannot register the image service\n");
}
