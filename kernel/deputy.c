/*
 * kernel/deputy.c: the two parts of a process that runs away from home (kernel/deputy.h), and the
 * messages between them (docs/SSI.md, "The deputy"). Owns the per-process link (a mailbox of
 * messages, the call in progress, the signals to pass on), the home side's serving loop and
 * remote copies of user memory, the running side's forwarding of system calls, fork, execve and
 * exit, and what a node failure does to either side.
 *
 * All messages go through one direct RPC service, so they arrive in the order they were sent: a
 * signal before the result of the call it interrupted, memory writes before the result that
 * follows them. They are handled where they arrive (engine lock held, no sleeping): signals and
 * interrupts at once, everything else is queued on the process's mailbox for its own task.
 */
#include "kernel/deputy.h"
#include "arch/x86/trap.h"
#include "kernel/errno.h"
#include "kernel/exec.h"
#include "kernel/format.h"
#include "kernel/kmalloc.h"
#include "kernel/migrate.h"
#include "kernel/mm.h"
#include "kernel/node.h"
#include "kernel/printk.h"
#include "kernel/proc.h"
#include "kernel/string.h"
#include "kernel/syscall.h"
#include "kernel/syscall_nr.h"
#include "kernel/tty.h"
#include "kernel/uaccess.h"
#include "kernel/uvm.h"
#include "kernel/vfs.h"
#include "net/netdev.h"
#include "net/rpc.h"

enum dmsg_type {
    D_SYSCALL = 1,  /* remote -> home: v0 nr, v1-v6 args, v7 blocked, v8 ignored, v9 prefetch address; data: prefetched bytes */
    D_RESULT,       /* home -> remote: v0 return value, v1 ppid, v2 pgid, v3 sid, v4 tty_nr, v5 tpgid; data: writes */
    D_MEMREAD,      /* home -> remote: v0 address, v1 length */
    D_MEMDATA,      /* remote -> home: v0 0 or -EFAULT; data: the bytes */
    D_MEMWRITE,     /* home -> remote: data: writes (struct wentry, bytes), in order */
    D_SIGNAL,       /* home -> remote: v0 signal, v1 si_code, v2 sender pid */
    D_INTERRUPT,    /* remote -> home: a signal arrived during call seq: end it as a signal would */
    D_EXIT,         /* remote -> home: v0 wait status */
    D_STOP,         /* remote -> home: v0 the stop signal */
    D_CONT,         /* remote -> home: continued */
    D_EXEC,         /* remote -> home: v0 argc, v1 envc, v2 bytes of strings; data: path NUL, strings */
    D_SIGACT,       /* remote -> home: SIGCHLD's v0 handler (0 default, 1 ignored, 2 caught), v1 flags */
    D_MOVING,       /* remote -> home: v0 the node it is about to move to: hold signals */
    D_MOVING_ACK,   /* home -> remote: signals are held (every earlier one has been sent) */
    D_MOVED,        /* remote -> home: v0 the node it runs on now (its own if the move failed) */
    D_MIGRATE,      /* home -> remote: v0 a node to move to, or MIGRATE_LOCK / MIGRATE_UNLOCK */
};

struct dmsg {
    uint16_t type, flags;
    int32_t pid;
    uint32_t seq;                       /* of the call (D_SYSCALL, D_EXEC, D_RESULT, D_INTERRUPT) */
    uint32_t len;                       /* bytes of data after this header */
    int64_t v[10];
} __attribute__((packed));
_Static_assert(sizeof(struct dmsg) == 96, "deputy message header");

#define DATA_MAX (RPC_MAX_PAYLOAD - sizeof(struct dmsg))
#define WRITE_PREFETCH_MAX (32u * 1024u)

/* One write of the home side into the process's memory: header then len bytes. */
struct wentry {
    uint64_t addr;
    uint32_t len, pad;
};

struct dnode {
    struct list_head link;
    struct dmsg m;                      /* then m.len bytes */
};

struct deputy_link {
    int peer;                           /* the node of the other part */
    struct list_head mailbox;           /* struct dnode, in arrival order */
    struct waitqueue wq;
    bool peer_dead;
    uint32_t seq;                       /* remote: the last call sent; home: the call being served */
    bool serving, intr;                 /* home: serving call seq; a D_INTERRUPT for it came */

    /* home side */
    uint64_t fwd;                       /* signals to pass on */
    int fwd_code[64], fwd_from[64];
    uint64_t ignored;                   /* signals the process ignores (sent with each call) */
    const uint8_t *pf;                  /* prefetched bytes of the call, at pf_addr */
    uint64_t pf_addr;
    uint32_t pf_len;
    uint8_t *wlog;                      /* writes not sent yet: struct wentry + bytes, DATA_MAX */
    size_t wlog_len;
    struct trap_frame frame;            /* what syscall_frame() shows a call served here */
    int moving_to;                      /* -1, or the node the process is moving to: signals wait */
    void *home_state;                   /* the process came home (kernel/migrate.c's arrival) */

    /* remote side */
    int ppid, tpgid;                    /* as the home last told */
    uint32_t tty_nr;
    bool write_fault;
    bool exec_ready;                    /* an image for the execve in progress arrived */
    struct mm *exec_mm;
    uint64_t exec_entry, exec_sp;
    char exec_comm[16];
    char *exec_cmdline;
    uint32_t exec_cmdline_len;
};

static struct deputy_stats st;

void signal_return_to_user(struct trap_frame *tf, long ret);
void ret_to_user(struct trap_frame *tf);

/* ---- links and messages ---- */

static struct deputy_link *link_new(int peer)
{
    struct deputy_link *l = kzalloc(sizeof *l);
    if (!l)
        return NULL;
    l->peer = peer;
    l->moving_to = -1;
    list_init(&l->mailbox);
    wq_init(&l->wq);
    return l;
}

int deputy_attach_home(struct process *p, int where)
{
    struct deputy_link *l = link_new(where);
    if (!l)
        return -ENOMEM;
    p->link = l;
    p->where = where;
    return 0;
}

int deputy_attach_remote(struct process *p, int home, struct process *like)
{
    struct deputy_link *l = link_new(home);
    if (!l)
        return -ENOMEM;
    if (like && like->link) {
        l->ppid = like->pid;
        l->tty_nr = like->link->tty_nr;
        l->tpgid = like->link->tpgid;
    }
    p->link = l;
    p->home = home;
    p->kind = PROC_REMOTE;
    return 0;
}

static void drop_exec_image(struct deputy_link *l)
{
    if (!l->exec_ready)
        return;
    mm_destroy(l->exec_mm);
    kfree(l->exec_cmdline);
    l->exec_mm = NULL;
    l->exec_cmdline = NULL;
    l->exec_ready = false;
}

void deputy_link_free(struct process *p)
{
    struct deputy_link *l = p->link;
    if (!l)
        return;
    uint64_t f = irq_save();
    p->link = NULL;
    irq_restore(f);
    while (!list_empty(&l->mailbox)) {
        struct dnode *n = list_first_entry(&l->mailbox, struct dnode, link);
        list_del(&n->link);
        kfree(n);
    }
    drop_exec_image(l);
    if (l->home_state)
        migrate_drop_arrival(l->home_state);
    kfree(l->wlog);
    kfree(l);
}

static int send_msg(int node, struct dmsg *m, const void *data, size_t len)
{
    if (len > DATA_MAX)
        return -EMSGSIZE;
    uint8_t *buf = kmalloc(sizeof *m + len);
    if (!buf)
        return -ENOMEM;
    m->len = (uint32_t)len;
    memcpy(buf, m, sizeof *m);
    if (len)
        memcpy(buf + sizeof *m, data, len);
    int r = rpc_cast(node, RPC_SVC_SSI_DEPUTY, buf, sizeof *m + len);
    kfree(buf);
    return r;
}

static int send_simple(int node, int type, int pid, uint32_t seq, int64_t v0, int64_t v1, int64_t v2)
{
    struct dmsg m = { .type = (uint16_t)type, .pid = pid, .seq = seq, .v = { v0, v1, v2 } };
    return send_msg(node, &m, NULL, 0);
}

/* Takes the first message (of type, or any if 0) from p's mailbox; NULL if none. Interrupts off. */
static struct dnode *take(struct deputy_link *l, int type)
{
    struct list_head *pos;
    list_for_each(pos, &l->mailbox) {
        struct dnode *n = list_entry(pos, struct dnode, link);
        if (!type || n->m.type == type) {
            list_del(&n->link);
            return n;
        }
    }
    return NULL;
}

/* netdev context: interrupts off, must not sleep nor send. */
static void deputy_input(int from, const void *msg, size_t len)
{
    struct dmsg m;
    if (len < sizeof m) {
        st.bad_messages++;
        return;
    }
    memcpy(&m, msg, sizeof m);
    struct process *p = m.len == len - sizeof m ? proc_find(m.pid) : NULL;
    struct deputy_link *l = p ? p->link : NULL;
    if (l && p->kind == PROC_DEPUTY && from == l->moving_to && from != l->peer) {
        l->peer = p->where = from;      /* its first word from where it moved to: the move is done */
        l->moving_to = -1;
        wake_up(&l->wq);                /* signals held during the move go there now */
    }
    if (!l || l->peer != from || p->state == PROC_ZOMBIE) {
        st.bad_messages++;
        return;
    }
    switch (m.type) {
    case D_MOVED:
        if (p->kind == PROC_DEPUTY && l->moving_to >= 0) {
            l->peer = p->where = (int)m.v[0];
            l->moving_to = -1;
            wake_up(&l->wq);
        }
        return;
    case D_MIGRATE:
        if (p->kind == PROC_REMOTE && (m.v[0] == MIGRATE_LOCK || m.v[0] == MIGRATE_UNLOCK)) {
            p->locked = m.v[0] == MIGRATE_LOCK;
        } else if (p->kind == PROC_REMOTE && m.v[0] >= 0 && m.v[0] < CLUSTER_MAX_NODES) {
            p->migrate_to = (int)m.v[0];
            if (p->task)
                sched_wake_task(p->task);
        }
        return;
    case D_SIGNAL:
        if (p->kind == PROC_REMOTE && m.v[0] >= 1 && m.v[0] <= NSIG)
            signal_deliver(p, (int)m.v[0], (int)m.v[1], (int)m.v[2]);
        return;
    case D_INTERRUPT:
        if (l->serving && m.seq == l->seq) {
            l->intr = true;
            if (p->task)
                sched_wake_task(p->task);
        }
        return;
    case D_SIGACT:
        p->sigactions[SIGCHLD - 1].handler = (uint64_t)m.v[0];
        p->sigactions[SIGCHLD - 1].flags = (uint64_t)m.v[1];
        return;
    default:
        break;
    }
    struct dnode *n = kmalloc(sizeof *n + m.len);
    if (!n) {
        st.bad_messages++;
        return;
    }
    memcpy(&n->m, msg, len);
    list_add_tail(&n->link, &l->mailbox);
    wake_up(&l->wq);
}

/* Membership (engine lock held): the other part of a process died with its node. */
static bool mark_dead(struct process *p, void *arg)
{
    int node = *(int *)arg;
    struct deputy_link *l = p->link;
    if (!l || l->peer != node || p->state == PROC_ZOMBIE || p->kind == PROC_LOCAL)
        return true;
    l->peer_dead = true;
    wake_up(&l->wq);
    if (p->kind == PROC_DEPUTY)
        p->sig_pending |= sigmask(SIGKILL);     /* ends whatever call it serves */
    else
        signal_deliver(p, SIGKILL, 0x80, 0);
    if (p->task)
        sched_wake_task(p->task);
    return true;
}

static void peer_event(int node, bool up, uint32_t incarnation, void *ctx)
{
    (void)incarnation;
    (void)ctx;
    if (!up)
        proc_for_each(mark_dead, &node);
}

/* ---- home side: the deputy ---- */

void deputy_signal(struct process *p, int sig, int code, int from_pid)
{
    struct deputy_link *l = p->link;
    uint64_t mask = sigmask(sig);
    if (!(l->fwd & mask)) {
        l->fwd_code[sig - 1] = code;
        l->fwd_from[sig - 1] = from_pid;
    }
    l->fwd |= mask;
    if (sig == SIGKILL || !(l->ignored & mask))
        p->sig_pending |= mask;
    wake_up(&l->wq);
    if (p->task)
        sched_wake_task(p->task);
}

bool deputy_signal_pending(struct process *p)
{
    return p->link->intr || (p->sig_pending & (~p->sig_blocked | UNBLOCKABLE));
}

static void forward_signals(struct process *p)
{
    struct deputy_link *l = p->link;
    uint64_t f = irq_save();
    if (l->moving_to >= 0) {            /* they go where it arrives */
        irq_restore(f);
        return;
    }
    uint64_t fwd = l->fwd;
    int code[64], from[64];
    memcpy(code, l->fwd_code, sizeof code);
    memcpy(from, l->fwd_from, sizeof from);
    l->fwd = 0;
    irq_restore(f);
    while (fwd) {
        int sig = __builtin_ctzll(fwd) + 1;
        fwd &= fwd - 1;
        if (send_simple(p->where, D_SIGNAL, p->pid, 0, sig, code[sig - 1], from[sig - 1]) == 0)
            st.signals_forwarded++;
    }
}

static void flush_writes(struct process *p)
{
    struct deputy_link *l = p->link;
    if (!l->wlog_len)
        return;
    struct dmsg m = { .type = D_MEMWRITE, .pid = p->pid, .seq = l->seq };
    send_msg(p->where, &m, l->wlog, l->wlog_len);
    l->wlog_len = 0;
    st.mem_writes++;
}

long deputy_copy_to_user(void *udst, const void *src, size_t n)
{
    struct process *p = current_proc();
    struct deputy_link *l = p->link;
    uint64_t addr = (uint64_t)udst;
    if (!user_range_ok(addr, n))
        return -EFAULT;
    if (!l->wlog && !(l->wlog = kmalloc(DATA_MAX)))
        return -EFAULT;
    const uint8_t *s = src;
    while (n) {
        if (l->wlog_len + sizeof(struct wentry) + 1 > DATA_MAX)
            flush_writes(p);
        size_t room = DATA_MAX - l->wlog_len - sizeof(struct wentry);
        size_t k = n < room ? n : room;
        struct wentry e = { addr, (uint32_t)k, 0 };
        memcpy(l->wlog + l->wlog_len, &e, sizeof e);
        memcpy(l->wlog + l->wlog_len + sizeof e, s, k);
        l->wlog_len += sizeof e + k;
        addr += k;
        s += k;
        n -= k;
    }
    return 0;
}

long deputy_prefetched_string(char *dst, const char *usrc, size_t max)
{
    struct deputy_link *l = current_proc()->link;
    uint64_t addr = (uint64_t)usrc;
    if (!l->pf || addr < l->pf_addr || addr >= l->pf_addr + l->pf_len || !max)
        return -EAGAIN;
    const char *s = (const char *)l->pf + (addr - l->pf_addr);
    size_t avail = l->pf_addr + l->pf_len - addr;
    size_t n = strnlen(s, avail < max ? avail : max);
    if (n == max) {                     /* as strncpy_from_user: no NUL in max bytes */
        memcpy(dst, s, max - 1);
        dst[max - 1] = 0;
        return -ENAMETOOLONG;
    }
    if (n == avail)
        return -EAGAIN;                 /* the string goes on past what came */
    memcpy(dst, s, n + 1);
    return (long)n;
}

/* Waits for a message of type from the other part; NULL if its node died. Not interruptible:
 * the other part answers at once. */
static struct dnode *await(struct deputy_link *l, int type)
{
    uint64_t f = irq_save();
    struct dnode *n;
    while (!(n = take(l, type)) && !l->peer_dead)
        wq_sleep(&l->wq, 0);
    irq_restore(f);
    return n;
}

long deputy_copy_from_user(void *dst, const void *usrc, size_t n)
{
    struct process *p = current_proc();
    struct deputy_link *l = p->link;
    uint64_t addr = (uint64_t)usrc;
    if (!user_range_ok(addr, n))
        return -EFAULT;
    if (l->pf && addr >= l->pf_addr && addr + n <= l->pf_addr + l->pf_len) {
        memcpy(dst, l->pf + (addr - l->pf_addr), n);
        return 0;
    }
    flush_writes(p);                    /* so the process's memory is what this call made it */
    uint8_t *d = dst;
    while (n) {
        size_t k = n < DATA_MAX ? n : DATA_MAX;
        st.mem_reads++;
        if (send_simple(p->where, D_MEMREAD, p->pid, l->seq, (int64_t)addr, (int64_t)k, 0) != 0)
            return -EFAULT;
        struct dnode *r = await(l, D_MEMDATA);
        bool ok = r && r->m.v[0] == 0 && r->m.len == k;
        if (ok)
            memcpy(d, r + 1, k);
        kfree(r);
        if (!ok)
            return -EFAULT;
        d += k;
        addr += k;
        n -= k;
    }
    return 0;
}

static void send_result(struct process *p, long ret)
{
    struct deputy_link *l = p->link;
    uint64_t f = irq_save();
    l->serving = false;
    l->intr = false;
    irq_restore(f);
    forward_signals(p);                 /* before the result: the remote part takes them on return */
    f = irq_save();
    p->sig_pending = 0;
    struct dmsg m = { .type = D_RESULT, .pid = p->pid, .seq = l->seq };
    m.v[0] = ret;
    m.v[1] = p->parent ? p->parent->pid : 0;
    m.v[2] = p->pgid;
    m.v[3] = p->sid;
    m.v[4] = tty_devnum(p->tty);
    m.v[5] = tty_fg_pgrp(p->tty);
    irq_restore(f);
    send_msg(p->where, &m, l->wlog, l->wlog_len);
    l->wlog_len = 0;
}

static void begin_call(struct process *p, const struct dmsg *m)
{
    struct deputy_link *l = p->link;
    uint64_t f = irq_save();
    l->seq = m->seq;
    l->serving = true;
    l->intr = false;
    p->sig_pending = 0;                 /* what came before was passed on already */
    p->sig_blocked = (uint64_t)m->v[7];
    l->ignored = (uint64_t)m->v[8];
    irq_restore(f);
    l->wlog_len = 0;
    st.calls_served++;
}

static void serve_call(struct process *p, struct dnode *n)
{
    struct deputy_link *l = p->link;
    const struct dmsg *m = &n->m;
    begin_call(p, m);
    l->pf = m->len ? (const uint8_t *)(n + 1) : NULL;
    l->pf_addr = (uint64_t)m->v[9];
    l->pf_len = m->len;
    struct task *t = current_task();
    long nr = m->v[0];
    memset(&l->frame, 0, sizeof l->frame);
    l->frame.rax = (uint64_t)nr;
    l->frame.vector = SYSCALL_VECTOR;
    t->user_frame = &l->frame;
    t->syscall_nr = nr;
    long ret;
    if (nr == NR_clone || nr == NR_fork || nr == NR_vfork)
        ret = proc_fork_deputy(p, nr == NR_clone ? (uint64_t)m->v[1] : SIGCHLD);
    else
        ret = syscall_invoke(nr, (uint64_t)m->v[1], (uint64_t)m->v[2], (uint64_t)m->v[3], (uint64_t)m->v[4],
                             (uint64_t)m->v[5], (uint64_t)m->v[6]);
    l->pf = NULL;
    send_result(p, ret);
}

/* execve of the process: the new image is made here, where the file is, and shipped to it. */
static void serve_exec(struct process *p, struct dnode *n)
{
    const struct dmsg *m = &n->m;
    begin_call(p, m);
    const char *data = (const char *)(n + 1);
    size_t plen = strnlen(data, m->len);
    size_t used = (size_t)m->v[2];
    struct exec_args a = { 0 };
    long r = -EINVAL;
    if (plen < m->len && used == m->len - plen - 1 && used > 0 && data[m->len - 1] == 0 &&
        (a.buf = kmalloc(used)) != NULL) {
        memcpy(a.buf, data + plen + 1, used);
        a.used = a.size = used;
        a.argc = (int)m->v[0];
        a.envc = (int)m->v[1];
        struct exec_image img;
        r = exec_build_image(data, &a, &img);
        if (r == 0) {
            r = migrate_send_exec(p, &img, &a);
            if (r == 0)
                exec_commit_home(p, &img, &a);
            mm_destroy(img.mm);
        }
    }
    exec_args_free(&a);
    send_result(p, r);
}

/* The process came home: this task runs it again (kernel/migrate.c), with the signals that waited. */
static void take_home(struct process *p, struct trap_frame *tf)
{
    struct deputy_link *l = p->link;
    uint64_t f = irq_save();
    void *state = l->home_state;
    l->home_state = NULL;
    uint64_t held = l->fwd;
    int code[64], from[64];
    memcpy(code, l->fwd_code, sizeof code);
    memcpy(from, l->fwd_from, sizeof from);
    p->sig_pending = 0;
    p->kind = PROC_LOCAL;
    irq_restore(f);
    deputy_link_free(p);
    p->where = 0;
    migrate_come_home(p, state, tf);
    for (int sig = 1; sig <= NSIG; sig++)
        if (held & sigmask(sig))
            signal_deliver(p, sig, code[sig - 1], from[sig - 1]);
}

void deputy_serve(struct process *p, struct trap_frame *tf)
{
    struct deputy_link *l = p->link;
    for (;;) {
        uint64_t f = irq_save();
        while (list_empty(&l->mailbox) && !(l->fwd && l->moving_to < 0) && !l->peer_dead && !l->home_state)
            wq_sleep(&l->wq, 0);
        struct dnode *n = l->peer_dead || l->home_state ? NULL : take(l, 0);
        irq_restore(f);
        if (l->home_state) {
            take_home(p, tf);
            return;
        }
        if (l->peer_dead) {
            printk(LOG_NOTICE, "deputy: pid %d (%s) was running on node %d, which is gone: killed\n", p->pid,
                   p->comm, p->where);
            proc_exit(SIGKILL);
        }
        forward_signals(p);
        if (!n)
            continue;
        switch (n->m.type) {
        case D_SYSCALL:
            serve_call(p, n);
            break;
        case D_EXEC:
            serve_exec(p, n);
            break;
        case D_EXIT: {
            int status = (int)n->m.v[0];
            kfree(n);
            proc_exit(status);
        }
        case D_STOP:
            signal_mirror_stop(p, (int)n->m.v[0]);
            break;
        case D_CONT:
            signal_mirror_continue(p);
            break;
        case D_MOVING:
            f = irq_save();
            l->moving_to = (int)n->m.v[0];
            irq_restore(f);
            send_simple(p->where, D_MOVING_ACK, p->pid, 0, 0, 0, 0);
            break;
        default:
            st.bad_messages++;
            break;
        }
        kfree(n);
    }
}

void deputy_child_main(void *unused)
{
    (void)unused;
    struct trap_frame tf;
    struct process *p = current_proc();
    deputy_serve(p, &tf);
    signal_return_to_user(&tf, 0);
    ret_to_user(&tf);
}

int deputy_ask_move(struct process *p, int node)
{
    return send_simple(p->where, D_MIGRATE, p->pid, 0, node, 0, 0);
}

int deputy_home_arrived(int pid, int from, void *state)
{
    uint64_t f = irq_save();
    struct process *p = proc_find(pid);
    struct deputy_link *l = p && p->kind == PROC_DEPUTY && p->state != PROC_ZOMBIE ? p->link : NULL;
    int r = -ESRCH;
    if (l && l->peer == from && l->moving_to == node_self() && !l->home_state) {
        l->home_state = state;
        wake_up(&l->wq);
        if (p->task)
            sched_wake_task(p->task);
        r = 0;
    }
    irq_restore(f);
    return r;
}

/* ---- remote side ---- */

static void apply_writes(struct deputy_link *l, const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off + sizeof(struct wentry) <= len) {
        struct wentry e;
        memcpy(&e, data + off, sizeof e);
        off += sizeof e;
        if (e.len > len - off) {
            l->write_fault = true;
            return;
        }
        if (copy_to_user((void *)e.addr, data + off, e.len))
            l->write_fault = true;
        off += e.len;
    }
}

static void serve_memread(struct process *p, const struct dmsg *m)
{
    uint64_t addr = (uint64_t)m->v[0];
    size_t len = (size_t)m->v[1];
    uint8_t *buf = len <= DATA_MAX ? kmalloc(len ? len : 1) : NULL;
    struct dmsg r = { .type = D_MEMDATA, .pid = p->pid, .seq = m->seq };
    if (!buf || copy_from_user(buf, (const void *)addr, len)) {
        r.v[0] = -EFAULT;
        len = 0;
    }
    send_msg(p->home, &r, buf, len);
    kfree(buf);
}

/* The forwarded call's end: serve the home side's memory accesses meanwhile, tell it when a
 * signal arrives here, and die with a home that is gone (nobody is left to take the status). */
static long await_result(struct process *p)
{
    struct deputy_link *l = p->link;
    bool told = false;
    for (;;) {
        uint64_t f = irq_save();
        struct dnode *n;
        while (!(n = take(l, 0)) && !l->peer_dead && (told || !signal_pending()))
            wq_sleep(&l->wq, 0);
        irq_restore(f);
        if (l->peer_dead) {
            kfree(n);
            proc_exit(SIGKILL);
        }
        if (!n) {                       /* a signal (or a move) came here: end the call at home */
            told = true;
            send_simple(p->home, D_INTERRUPT, p->pid, l->seq, 0, 0, 0);
            continue;
        }
        const struct dmsg *m = &n->m;
        long ret = 0;
        bool done = false;
        if (m->type == D_MEMREAD) {
            serve_memread(p, m);
        } else if (m->type == D_MEMWRITE) {
            apply_writes(l, (const uint8_t *)(n + 1), m->len);
        } else if (m->type == D_RESULT && m->seq == l->seq) {
            apply_writes(l, (const uint8_t *)(n + 1), m->len);
            ret = m->v[0];
            l->ppid = (int)m->v[1];
            p->pgid = (int)m->v[2];
            p->sid = (int)m->v[3];
            l->tty_nr = (uint32_t)m->v[4];
            l->tpgid = (int)m->v[5];
            done = true;
        } else {
            st.bad_messages++;
        }
        kfree(n);
        if (done) {
            if (l->write_fault && ret >= 0)
                ret = -EFAULT;
            l->write_fault = false;
            return ret;
        }
    }
}

static uint64_t prefetch_string(uint64_t addr, uint8_t *buf, uint32_t *len)
{
    long n = strncpy_from_user((char *)buf, (const char *)addr, PATH_MAX);
    *len = n >= 0 ? (uint32_t)n + 1 : 0;
    return addr;
}

/* The bytes a call will surely read, sent with it so the home side need not ask for them. */
static uint64_t prefetch(long nr, const uint64_t *a, uint8_t *buf, uint32_t *len)
{
    *len = 0;
    switch (nr) {
    case NR_write:
    case NR_pwrite64: {
        uint32_t k = a[2] < WRITE_PREFETCH_MAX ? (uint32_t)a[2] : WRITE_PREFETCH_MAX;
        if (copy_from_user(buf, (const void *)a[1], k) == 0)
            *len = k;
        return a[1];
    }
    case NR_open: case NR_stat: case NR_lstat: case NR_access: case NR_chdir: case NR_mkdir:
    case NR_rmdir: case NR_unlink: case NR_readlink: case NR_chmod: case NR_creat: case NR_truncate:
    case NR_rename: case NR_link: case NR_symlink: case NR_chown: case NR_lchown:
        return prefetch_string(a[0], buf, len);
    case NR_openat: case NR_newfstatat: case NR_faccessat: case NR_mkdirat: case NR_unlinkat:
    case NR_readlinkat: case NR_fchmodat: case NR_fchownat: case NR_faccessat2: case NR_statx:
        return prefetch_string(a[1], buf, len);
    default:
        return 0;
    }
}

static long forward(struct process *p, long nr, const uint64_t *a)
{
    struct deputy_link *l = p->link;
    uint8_t *buf = kmalloc(WRITE_PREFETCH_MAX > PATH_MAX ? WRITE_PREFETCH_MAX : PATH_MAX);
    if (!buf)
        return -ENOMEM;
    struct dmsg m = { .type = D_SYSCALL, .pid = p->pid, .seq = ++l->seq };
    m.v[0] = nr;
    for (int i = 0; i < 6; i++)
        m.v[i + 1] = (int64_t)a[i];
    m.v[7] = (int64_t)p->sig_blocked;
    m.v[8] = (int64_t)signal_ignored_mask(p);
    uint32_t len;
    m.v[9] = (int64_t)prefetch(nr, a, buf, &len);
    int r = send_msg(p->home, &m, buf, len);
    kfree(buf);
    st.calls_forwarded++;
    p->calls_home++;
    if (r)
        return r == -EHOSTDOWN ? -EIO : r;
    return await_result(p);
}

static long remote_execve(struct process *p, uint64_t upath, uint64_t uargv, uint64_t uenvp, struct trap_frame *tf)
{
    struct deputy_link *l = p->link;
    char *path = kmalloc(PATH_MAX);
    if (!path)
        return -ENOMEM;
    long n = strncpy_from_user(path, (const char *)upath, PATH_MAX);
    struct exec_args a = { 0 };
    long r = n < 0 ? n : exec_args_from_user(&a, (const char *const *)uargv, (const char *const *)uenvp);
    uint8_t *data = NULL;
    size_t total = r == 0 ? (size_t)n + 1 + a.used : 0;
    if (r == 0 && (a.used == 0 || total > DATA_MAX))
        r = a.used == 0 ? -EFAULT : -E2BIG;     /* an exec of a remote process carries < 64 KiB of strings */
    if (r == 0 && !(data = kmalloc(total)))
        r = -ENOMEM;
    if (r == 0) {
        memcpy(data, path, (size_t)n + 1);
        memcpy(data + n + 1, a.buf, a.used);
        struct dmsg m = { .type = D_EXEC, .pid = p->pid, .seq = ++l->seq, .v = { a.argc, a.envc, (int64_t)a.used } };
        r = send_msg(p->home, &m, data, total);
        if (r == 0)
            r = await_result(p);
    }
    kfree(data);
    kfree(path);
    exec_args_free(&a);
    uint64_t f = irq_save();
    bool ready = l->exec_ready;
    irq_restore(f);
    if (r == 0 && ready) {
        exec_commit_remote(p, l->exec_mm, l->exec_entry, l->exec_sp, tf);
        memcpy(p->comm, l->exec_comm, sizeof p->comm);
        kfree(p->cmdline);
        p->cmdline = l->exec_cmdline;
        p->cmdline_len = l->exec_cmdline_len;
        l->exec_mm = NULL;
        l->exec_cmdline = NULL;
        l->exec_ready = false;
        current_task()->fs_base = 0;
        return 0;
    }
    drop_exec_image(l);
    return r == 0 ? -EIO : r;
}

int deputy_remote_exec_arrived(int pid, struct mm *mm, uint64_t entry, uint64_t sp, const char *comm,
                               const char *cmdline, uint32_t cmdline_len)
{
    char *cmd = kmalloc(cmdline_len ? cmdline_len : 1);
    if (!cmd)
        return -ENOMEM;
    memcpy(cmd, cmdline, cmdline_len);
    uint64_t f = irq_save();
    struct process *p = proc_find(pid);
    struct deputy_link *l = p && p->kind == PROC_REMOTE && p->state != PROC_ZOMBIE ? p->link : NULL;
    if (!l) {
        irq_restore(f);
        kfree(cmd);
        return -ESRCH;
    }
    drop_exec_image(l);
    l->exec_mm = mm;
    l->exec_entry = entry;
    l->exec_sp = sp;
    strlcpy(l->exec_comm, comm, sizeof l->exec_comm);
    l->exec_cmdline = cmd;
    l->exec_cmdline_len = cmdline_len;
    l->exec_ready = true;
    irq_restore(f);
    return 0;
}

/* Calls that run where the process is: its memory, its signal handlers and mask, its timers, the
 * clock, its own ids and exit. Everything else depends on home (docs/SSI.md has the list). */
static bool runs_here(long nr)
{
    switch (nr) {
    case NR_mprotect: case NR_munmap: case NR_brk: case NR_mremap: case NR_madvise:
    case NR_rt_sigprocmask: case NR_rt_sigreturn: case NR_rt_sigpending: case NR_rt_sigsuspend:
    case NR_sigaltstack: case NR_pause: case NR_nanosleep: case NR_clock_nanosleep: case NR_restart_syscall:
    case NR_clock_gettime: case NR_clock_getres: case NR_gettimeofday: case NR_time:
    case NR_getpid: case NR_gettid: case NR_set_tid_address: case NR_arch_prctl: case NR_sched_yield:
    case NR_exit: case NR_exit_group: case NR_getitimer: case NR_setitimer: case NR_alarm:
    case NR_uname: case NR_getrandom: case NR_getuid: case NR_getgid: case NR_geteuid: case NR_getegid:
    case NR_getrlimit: case NR_setrlimit: case NR_prlimit64: case NR_sysinfo:
    case NR_fork: case NR_vfork: case NR_clone:
        return true;
    default:
        return false;
    }
}

/* This node's own copy of the file the process has open as fd at home, if it is the same file (the
 * same path, size and modification time: the test the images' file references pass), or NULL.
 * Asks home with fstat and readlink of /proc/self/fd/N, through scratch user memory. */
static struct file *same_file_here(struct process *p, uint64_t fd, uint64_t scratch)
{
    struct linux_stat st;
    char path[256];
    uint64_t a[6] = { fd, scratch, 0, 0, 0, 0 };
    if (forward(p, NR_fstat, a) != 0 || copy_from_user(&st, (void *)scratch, sizeof st) || !S_ISREG(st.st_mode))
        return NULL;
    int n = ksnprintf(path, sizeof path, "/proc/self/fd/%lu", (unsigned long)fd);
    uint64_t link = scratch + 256, target = scratch + 512;
    if (copy_to_user((void *)link, path, (size_t)n + 1))
        return NULL;
    uint64_t b[6] = { link, target, sizeof path - 1, 0, 0, 0 };
    long len = forward(p, NR_readlink, b);
    if (len <= 0 || len >= (long)sizeof path || copy_from_user(path, (void *)target, (size_t)len))
        return NULL;
    path[len] = 0;
    struct file *f;
    if (path[0] != '/' || vfs_open(NULL, NULL, path, O_RDONLY, 0, &f) != 0)
        return NULL;
    if (!S_ISREG(f->inode->mode) || f->inode->size != (uint64_t)st.st_size ||
        f->inode->mtime_ns != (uint64_t)st.st_mtime * NSEC_PER_SEC + (uint64_t)st.st_mtime_nsec) {
        file_put(f);
        return NULL;
    }
    return f;
}

/* mmap of a file away from home, where the file is open. A mapping is private here (a shared
 * writable one is refused, as at home: that needs a page cache), so it only needs the contents:
 * this node's own copy of the same file, mapped lazily as at home, or else the mapped part read
 * from home into private memory at once. The mapping is made anonymous first, at the address the
 * call would get, and serves as scratch memory for the questions to home. */
static long remote_mmap_file(struct process *p, const uint64_t *a)
{
    uint64_t len = PAGE_ALIGN_UP(a[1]), prot = a[2], flags = a[3], fd = a[4], off = a[5];
    if ((int64_t)a[1] <= 0 || (off & (PAGE_SIZE - 1)) || !(flags & (MAP_PRIVATE | MAP_SHARED)) ||
        (prot & ~(uint64_t)(PROT_READ | PROT_WRITE | PROT_EXEC)))
        return -EINVAL;
    uint64_t g[6] = { fd, F_GETFL, 0, 0, 0, 0 };
    long fl = forward(p, NR_fcntl, g);
    if (fl < 0)
        return fl;
    if ((fl & O_ACCMODE) == O_WRONLY || ((flags & MAP_SHARED) && (prot & PROT_WRITE)))
        return -EACCES;
    uint64_t anon = (flags & ~(uint64_t)MAP_SHARED) | MAP_PRIVATE | MAP_ANONYMOUS;
    long addr = syscall_invoke(NR_mmap, a[0], len, PROT_READ | PROT_WRITE, anon, -1, 0);
    if (addr < 0)
        return addr;
    struct file *f = len >= PAGE_SIZE ? same_file_here(p, fd, (uint64_t)addr) : NULL;
    long r;
    if (f) {
        uint64_t file_len = f->inode->size > off ? f->inode->size - off : 0;
        r = mm_unmap(p->mm, (uint64_t)addr, len);
        if (!r)
            r = mm_map(p->mm, (uint64_t)addr, len, (uint32_t)prot, 0, f, off, file_len < len ? file_len : len);
        file_put(f);
        st.mmap_by_ref++;
    } else {
        static const uint8_t zero[1024];
        r = copy_to_user((void *)addr, zero, sizeof zero);     /* what the questions left there */
        uint64_t b[6] = { fd, (uint64_t)addr, len, off, 0, 0 };
        long n = r ? r : forward(p, NR_pread64, b);
        r = n < 0 ? n : syscall_invoke(NR_mprotect, addr, len, prot, 0, 0, 0);
        st.mmap_by_value++;
    }
    if (r) {
        syscall_invoke(NR_munmap, addr, len, 0, 0, 0, 0);
        return r == -ESPIPE || r == -EISDIR ? -ENODEV : r;     /* not a file that can be mapped */
    }
    return addr;
}

bool deputy_call_needs_home(long nr, uint64_t mmap_flags)
{
    if (runs_here(nr) || nr == NR_rt_sigaction)
        return false;
    return nr != NR_mmap || !(mmap_flags & MAP_ANONYMOUS);
}

long deputy_remote_syscall(long nr, struct trap_frame *tf)
{
    struct process *p = current_proc();
    uint64_t a[6] = { tf->rdi, tf->rsi, tf->rdx, tf->r10, tf->r8, tf->r9 };
    if (runs_here(nr))
        return syscall_invoke(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    switch (nr) {
    case NR_mmap:
        if (!(a[3] & MAP_ANONYMOUS))
            return remote_mmap_file(p, a);
        return syscall_invoke(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    case NR_rt_sigaction: {
        long r = syscall_invoke(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        if (r == 0 && a[0] == SIGCHLD && a[1])
            deputy_remote_sigchld_action(p);
        return r;
    }
    case NR_execve:
        return remote_execve(p, a[0], a[1], a[2], tf);
    default:
        return forward(p, nr, a);
    }
}

long deputy_remote_fork(uint64_t flags, uint64_t new_sp, uint64_t parent_tid, uint64_t child_tid, uint64_t tls)
{
    struct process *p = current_proc();
    uint64_t a[6] = { flags, 0, 0, 0, 0, 0 };
    long pid = forward(p, NR_clone, a);
    if (pid <= 0)
        return pid;
    long r = proc_fork_remote((int)pid, flags, new_sp, child_tid, tls);
    if (r < 0) {                        /* its deputy exists: make it a child that died at once */
        send_simple(p->home, D_EXIT, (int)pid, 0, SIGKILL, 0, 0);
        return r;
    }
    if (flags & CLONE_PARENT_SETTID) {
        int v = (int)pid;
        put_user(v, (int *)parent_tid);
    }
    return pid;
}

int deputy_remote_move_begin(struct process *p, int node)
{
    struct deputy_link *l = p->link;
    int r = send_simple(p->home, D_MOVING, p->pid, 0, node, 0, 0);
    if (r)
        return r;
    struct dnode *n = await(l, D_MOVING_ACK);
    if (!n)
        proc_exit(SIGKILL);             /* its home is gone */
    kfree(n);
    return 0;
}

void deputy_remote_move_end(struct process *p, int now_at)
{
    send_simple(p->home, D_MOVED, p->pid, 0, now_at, 0, 0);
}

void deputy_remote_exit(struct process *p, int status)
{
    if (p->link && !p->link->peer_dead)
        send_simple(p->home, D_EXIT, p->pid, 0, status, 0, 0);
}

void deputy_remote_stopped(struct process *p, int sig)
{
    send_simple(p->home, D_STOP, p->pid, 0, sig, 0, 0);
}

void deputy_remote_continued(struct process *p)
{
    send_simple(p->home, D_CONT, p->pid, 0, 0, 0, 0);
}

void deputy_remote_sigchld_action(struct process *p)
{
    const struct k_sigaction *a = &p->sigactions[SIGCHLD - 1];
    int64_t h = a->handler <= 1 ? (int64_t)a->handler : 2;
    send_simple(p->home, D_SIGACT, p->pid, 0, h, (int64_t)a->flags, 0);
}

void deputy_remote_set_ids(struct process *p, const struct deputy_remote_ids *ids)
{
    p->link->ppid = ids->ppid;
    p->link->tty_nr = ids->tty_nr;
    p->link->tpgid = ids->tpgid;
}

int deputy_remote_ppid(struct process *p) { return p->link ? p->link->ppid : 0; }
uint32_t deputy_remote_tty_nr(struct process *p) { return p->link ? p->link->tty_nr : 0; }
int deputy_remote_tpgid(struct process *p) { return p->link ? p->link->tpgid : -1; }

void deputy_get_stats(struct deputy_stats *out)
{
    uint64_t f = irq_save();
    *out = st;
    irq_restore(f);
}

void deputy_init(void)
{
    if (rpc_register_direct(RPC_SVC_SSI_DEPUTY, deputy_input) != 0 ||
        net_register_peer_notifier(peer_event, NULL) != 0)
        printk(LOG_ERR, "deputy: cannot register; processes cannot run away from home\n");
}
