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
#include "kernel/deputy.h"
#include "kernel/errno.h"
#include "kernel/exec.h"
#include "kernel/fpu.h"
#include "kernel/kmalloc.h"
#include "kernel/mm.h"
#include "kernel/node.h"
#include "kernel/printk.h"
#include "kernel/proc.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/tty.h"
#include "kernel/uvm.h"
#include "kernel/vm.h"
#include "net/netdev.h"
#include "net/rpc.h"

void signal_cancel_alarm(struct process *p);

#define IMAGE_MAGIC 0x53484f49u         /* "SHOI" */
#define IMAGE_VERSION 1
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
};

struct image_vma {
    uint64_t start, end;
    uint32_t prot, flags;
};

struct image_run {                      /* npages pages of contents follow, from va up */
    uint64_t va;
    uint32_t npages, pad;
};

static struct migrate_stats st;

static bool page_is_zero(const void *page)
{
    const uint64_t *w = page;
    for (size_t i = 0; i < PAGE_SIZE / 8; i++)
        if (w[i])
            return false;
    return true;
}

/* ---- packing ---- */

struct packer {
    struct mm *mm;
    uint8_t *out;                       /* NULL: only count */
    size_t off;
    uint32_t nvma, nruns;
    uint64_t pages;
};

static void put(struct packer *k, const void *data, size_t len)
{
    if (k->out)
        memcpy(k->out + k->off, data, len);
    k->off += len;
}

/* The VMAs, then runs of pages with contents. Two passes: count, then write. */
static int pack_memory(struct packer *k)
{
    k->nvma = k->nruns = 0;
    k->pages = 0;
    for (struct vma *v = mm_first_vma(k->mm); v; v = mm_next_vma(k->mm, v)) {
        struct image_vma iv = { v->start, v->end, v->prot, v->flags & (VMA_GROWSDOWN | VMA_HEAP) };
        put(k, &iv, sizeof iv);
        k->nvma++;
    }
    if (k->nvma > IMAGE_MAX_VMAS)
        return -ENOMEM;
    for (struct vma *v = mm_first_vma(k->mm); v; v = mm_next_vma(k->mm, v)) {
        size_t run_at = 0;
        struct image_run run = { 0, 0, 0 };
        for (uint64_t va = v->start; va < v->end; va += PAGE_SIZE) {
            int err;
            const void *page = mm_page_contents(k->mm, v, va, &err);
            if (err)
                return err;
            if (!page || page_is_zero(page)) {
                if (run.npages && k->out)
                    memcpy(k->out + run_at, &run, sizeof run);
                run.npages = 0;
                continue;
            }
            if (!run.npages) {
                run_at = k->off;
                run.va = va;
                put(k, &run, sizeof run);
                k->nruns++;
            }
            put(k, page, PAGE_SIZE);
            run.npages++;
            k->pages++;
        }
        if (run.npages && k->out)
            memcpy(k->out + run_at, &run, sizeof run);
    }
    return 0;
}

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

/* Builds the whole image in a bulk buffer; *len its size. NULL and *err on failure. */
static void *pack(struct image_hdr *h, struct mm *mm, const char *cmdline, uint32_t cmdline_len, size_t *len,
                  int *err)
{
    struct packer k = { mm, NULL, 0, 0, 0, 0 };
    *err = pack_memory(&k);
    if (*err)
        return NULL;
    size_t total = sizeof *h + cmdline_len + k.off;
    uint8_t *buf = rpc_bulk_alloc(total);
    if (!buf) {
        *err = -ENOMEM;
        return NULL;
    }
    h->cmdline_len = cmdline_len;
    memcpy(buf + sizeof *h, cmdline, cmdline_len);
    k.out = buf + sizeof *h + cmdline_len;
    k.off = 0;
    *err = pack_memory(&k);
    if (*err) {
        rpc_bulk_free(buf);
        return NULL;
    }
    h->nvma = k.nvma;
    h->nruns = k.nruns;
    h->brk_start = mm->brk_start;
    h->brk = mm->brk;
    memcpy(buf, h, sizeof *h);
    *len = total;
    st.pages_out += k.pages;
    return buf;
}

/* ---- unpacking (an rpc worker) ---- */

static int unpack_memory(const uint8_t *data, size_t len, const struct image_hdr *h, struct mm **out)
{
    size_t off = 0;
    if (h->nvma > IMAGE_MAX_VMAS || (size_t)h->nvma * sizeof(struct image_vma) > len)
        return -EINVAL;
    struct mm *mm = mm_create();
    if (!mm)
        return -ENOMEM;
    int r = 0;
    for (uint32_t i = 0; i < h->nvma && !r; i++) {
        struct image_vma v;
        memcpy(&v, data + off, sizeof v);
        off += sizeof v;
        if (v.end <= v.start || v.end > USER_TOP || (v.start | v.end) & (PAGE_SIZE - 1))
            r = -EINVAL;
        else
            r = mm_map(mm, v.start, v.end - v.start, v.prot & 7, v.flags & (VMA_GROWSDOWN | VMA_HEAP), NULL, 0, 0);
    }
    for (uint32_t i = 0; i < h->nruns && !r; i++) {
        struct image_run run;
        if (len - off < sizeof run) {
            r = -EINVAL;
            break;
        }
        memcpy(&run, data + off, sizeof run);
        off += sizeof run;
        if ((uint64_t)run.npages * PAGE_SIZE > len - off || run.va & (PAGE_SIZE - 1)) {
            r = -EINVAL;
            break;
        }
        for (uint32_t j = 0; j < run.npages && !r; j++) {
            r = mm_install_page(mm, run.va + (uint64_t)j * PAGE_SIZE, data + off);
            off += PAGE_SIZE;
        }
        st.pages_in += run.npages;
    }
    if (r == 0 && off != len)
        r = -EINVAL;
    if (r) {
        mm_destroy(mm);
        return r;
    }
    mm->brk_start = h->brk_start;
    mm->brk = h->brk;
    *out = mm;
    return 0;
}

static int start_arrival(int from, const struct image_hdr *h, struct mm *mm, const char *cmdline)
{
    struct process *p = proc_new_blank();
    if (!p || deputy_attach_remote(p, from, NULL) != 0) {
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
    memcpy(p->sigactions, h->sigactions, sizeof p->sigactions);
    memcpy(p->sig_code, h->sig_code, sizeof p->sig_code);
    memcpy(p->sig_from, h->sig_from, sizeof p->sig_from);
    p->sig_blocked = h->sig_blocked;
    p->sig_pending = h->sig_pending;
    p->altstack_sp = h->altstack_sp;
    p->altstack_size = h->altstack_size;
    p->altstack_flags = h->altstack_flags;
    memcpy(p->rlimits, h->rlimits, sizeof p->rlimits);
    p->utime_ticks = h->utime;
    p->stime_ticks = h->stime;
    uint64_t now = clock_ns();
    p->start_ns = h->age_ns < now ? now - h->age_ns : 0;
    p->clear_child_tid = h->clear_child_tid;
    struct deputy_remote_ids ids = { h->ppid, h->tty_nr, h->tpgid };
    deputy_remote_set_ids(p, &ids);
    struct trap_frame regs = h->regs;
    regs.cs = USER_CS;
    regs.ss = USER_DS;
    regs.rflags = (regs.rflags & 0xcd5) | 0x202;      /* user flags only, interrupts on */
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

static int svc_image(int from, const void *req, size_t len, void *resp, size_t cap, size_t *resp_len)
{
    (void)resp;
    (void)cap;
    (void)resp_len;
    struct image_hdr *h = kmalloc(sizeof *h);
    if (!h)
        return -ENOMEM;
    int r = -EINVAL;
    if (len >= sizeof *h) {
        memcpy(h, req, sizeof *h);
        if (h->magic == IMAGE_MAGIC && h->version == IMAGE_VERSION && h->pid > 1 &&
            h->cmdline_len <= len - sizeof *h && h->cmdline_len <= 65536)
            r = 0;
    }
    const uint8_t *cmdline = (const uint8_t *)req + sizeof *h;
    struct mm *mm = NULL;
    if (r == 0)
        r = unpack_memory(cmdline + h->cmdline_len, len - sizeof *h - h->cmdline_len, h, &mm);
    if (r == 0 && h->purpose == IMAGE_NEW) {
        r = start_arrival(from, h, mm, (const char *)cmdline);
        if (r == 0)
            st.in++;
    } else if (r == 0 && h->purpose == IMAGE_EXEC) {
        h->comm[sizeof h->comm - 1] = 0;
        r = deputy_remote_exec_arrived(h->pid, mm, h->entry, h->sp, h->comm, (const char *)cmdline, h->cmdline_len);
        if (r)
            mm_destroy(mm);
        else
            st.execs_in++;
    } else if (r == 0) {
        mm_destroy(mm);
        r = -EINVAL;
    }
    if (r == 0)
        st.bytes_in += len;
    kfree(h);
    return r;
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
    size_t len;
    int r;
    void *buf = pack(h, img->mm, a->buf, argv_len, &len, &r);
    kfree(h);
    if (!buf)
        return r;
    r = rpc_call_bulk(p->where, RPC_SVC_SSI_IMAGE, buf, len, NULL, 0, NULL, IMAGE_TIMEOUT_NS);
    rpc_bulk_free(buf);
    if (r == 0) {
        st.execs_out++;
        st.bytes_out += len;
    }
    return r;
}

int migrate_request(struct process *p, int node)
{
    if (node < 0 || node >= CLUSTER_MAX_NODES)
        return -EINVAL;
    if (p->kind == PROC_DEPUTY)         /* asked by the process itself, through its deputy */
        return node == p->where ? 0 : -EOPNOTSUPP;
    if (node == node_self())
        return 0;
    if (!net_node_up(node))
        return -EHOSTDOWN;
    if (p->pid == 1)
        return -EPERM;
    p->migrate_to = node;
    return 0;
}

/* Why p cannot move now, or NULL. */
static const char *refusal(struct process *p)
{
    if (p->kind != PROC_LOCAL)
        return "it runs away from home already (moving on is not supported yet)";
    if (p->mm_borrowed || p->vfork_parent)
        return "it is a vfork child sharing its parent's memory";
    if (!p->mm)
        return "it has no memory";
    return NULL;
}

void migrate_on_return(struct trap_frame *tf)
{
    struct process *p = current_proc();
    int node = p->migrate_to;
    p->migrate_to = -1;
    const char *why = refusal(p);
    if (why) {
        printk(LOG_NOTICE, "migrate: pid %d (%s) stays on node %d: %s\n", p->pid, p->comm, node_self(), why);
        st.failed++;
        return;
    }
    uint64_t t0 = clock_ns();
    /* The link first: the process may send its first call before the answer comes back. */
    if (deputy_attach_home(p, node) != 0) {
        st.failed++;
        return;
    }
    struct image_hdr *h = kzalloc(sizeof *h);
    int r = -ENOMEM;
    void *buf = NULL;
    size_t len = 0;
    uint64_t packed_pending = 0;
    if (h) {
        fill_identity(h, p);
        h->purpose = IMAGE_NEW;
        h->regs = *tf;
        h->fs_base = current_task()->fs_base;
        fpu_save(current_task());
        memcpy(h->fpu, current_task()->fpu_state, sizeof h->fpu);
        uint64_t f = irq_save();
        h->sig_pending = packed_pending = p->sig_pending;
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
        memcpy(h->comm, p->comm, sizeof h->comm);
        buf = pack(h, p->mm, p->cmdline ? p->cmdline : "", p->cmdline ? p->cmdline_len : 0, &len, &r);
        kfree(h);
    }
    if (buf) {
        r = rpc_call_bulk(node, RPC_SVC_SSI_IMAGE, buf, len, NULL, 0, NULL, IMAGE_TIMEOUT_NS);
        rpc_bulk_free(buf);
    }
    if (r) {
        deputy_link_free(p);
        p->where = 0;
        printk(LOG_NOTICE, "migrate: pid %d (%s) stays on node %d: node %d: error %d\n", p->pid, p->comm,
               node_self(), node, r);
        st.failed++;
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
    st.out++;
    st.bytes_out += len;
    st.last_freeze_us = (clock_ns() - t0) / 1000;
    deputy_serve(p);
}

void migrate_get_stats(struct migrate_stats *out)
{
    uint64_t f = irq_save();
    *out = st;
    irq_restore(f);
}

void migrate_init(void)
{
    if (rpc_register(RPC_SVC_SSI_IMAGE, svc_image) != 0)
        printk(LOG_ERR, "migrate: cannot register the image service\n");
}
