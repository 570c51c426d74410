/*
 * kernel/ssi.c: the cluster-wide process table (docs/SSI.md). Owns the pid ranges of nodes, the
 * record encoding, the "list" and "signal" RPC services, and the cached view of other nodes'
 * processes that procfs reads: refreshed by parallel "list" calls when older than CACHE_TTL_NS, so
 * ps reading /proc file by file costs one round of calls, and pruned at once when a node goes down.
 */
#include "kernel/ssi.h"
#include "kernel/deputy.h"
#include "kernel/errno.h"
#include "kernel/format.h"
#include "kernel/kmalloc.h"
#include "kernel/ktest.h"
#include "kernel/node.h"
#include "kernel/printk.h"
#include "kernel/proc.h"
#include "kernel/sched.h"
#include "kernel/signal.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/tty.h"
#include "net/netdev.h"
#include "net/rpc.h"

#define CACHE_TTL_NS (300ull * 1000000ull)
#define CALL_TIMEOUT_NS (500ull * 1000000ull)
#define LIST_RESP_CAP (32u * 1024u)     /* per node: about 100 processes of average command lines */

/* ---- pid ranges ---- */

int ssi_pid_home(int pid)
{
    if (pid == 1)
        return node_self();
    if (pid < 2 || pid >= SSI_PID_MAX)
        return -1;
    return pid / SSI_PIDS_PER_NODE;
}

int ssi_pid_first(void) { return node_self() * SSI_PIDS_PER_NODE + 2; }
int ssi_pid_last(void) { return node_self() * SSI_PIDS_PER_NODE + SSI_PIDS_PER_NODE - 1; }

/* ---- records on the wire: little-endian, fixed part then the command line ---- */

struct ssi_wire {
    int32_t pid, ppid, pgid, sid, tty_nr, tpgid, nice;
    uint32_t uid, gid;
    uint64_t utime, stime, start_ticks, vsize, rss_pages;
    char comm[16];
    uint8_t state;
    uint8_t cmdline_len;
} __attribute__((packed));

size_t ssi_encode(const struct ssi_proc *p, void *buf, size_t cap)
{
    uint32_t cl = p->cmdline_len < SSI_CMDLINE_MAX ? p->cmdline_len : SSI_CMDLINE_MAX;
    size_t need = sizeof(struct ssi_wire) + cl;
    if (need > cap)
        return 0;
    struct ssi_wire w = { p->pid, p->ppid, p->pgid, p->sid, p->tty_nr, p->tpgid, p->nice, p->uid, p->gid,
                          p->utime, p->stime, p->start_ticks, p->vsize, p->rss_pages, { 0 },
                          (uint8_t)p->state, (uint8_t)cl };
    memcpy(w.comm, p->comm, 16);
    memcpy(buf, &w, sizeof w);
    memcpy((char *)buf + sizeof w, p->cmdline, cl);
    return need;
}

size_t ssi_decode(const void *buf, size_t len, struct ssi_proc *out)
{
    struct ssi_wire w;
    if (len < sizeof w)
        return 0;
    memcpy(&w, buf, sizeof w);
    if (w.cmdline_len > SSI_CMDLINE_MAX || len < sizeof w + w.cmdline_len || w.pid <= 0)
        return 0;
    memset(out, 0, sizeof *out);
    out->pid = w.pid;
    out->ppid = w.ppid;
    out->pgid = w.pgid;
    out->sid = w.sid;
    out->tty_nr = w.tty_nr;
    out->tpgid = w.tpgid;
    out->nice = w.nice;
    out->uid = w.uid;
    out->gid = w.gid;
    out->utime = w.utime;
    out->stime = w.stime;
    out->start_ticks = w.start_ticks;
    out->vsize = w.vsize;
    out->rss_pages = w.rss_pages;
    memcpy(out->comm, w.comm, 16);
    out->comm[16] = 0;
    out->state = (char)w.state;
    out->cmdline_len = w.cmdline_len;
    memcpy(out->cmdline, (const char *)buf + sizeof w, w.cmdline_len);
    return sizeof w + w.cmdline_len;
}

/* ---- the services ---- */

static void fill_record(struct process *p, struct ssi_proc *r)
{
    bool zombie = p->state == PROC_ZOMBIE;
    memset(r, 0, sizeof *r);
    r->pid = p->pid;
    r->ppid = proc_ppid(p);
    r->pgid = p->pgid;
    r->sid = p->sid;
    bool remote = p->kind == PROC_REMOTE;
    r->tty_nr = remote ? (int)deputy_remote_tty_nr(p) : (int)tty_devnum(p->tty);
    r->tpgid = remote ? deputy_remote_tpgid(p) : tty_fg_pgrp(p->tty);
    r->nice = p->nice;
    r->uid = p->euid;
    r->gid = p->egid;
    r->state = proc_state_char(p);
    memcpy(r->comm, p->comm, 16);
    r->utime = p->utime_ticks;
    r->stime = p->stime_ticks;
    r->start_ticks = p->start_ns / (NSEC_PER_SEC / HZ);
    r->vsize = zombie ? 0 : proc_vsize(p);
    r->rss_pages = zombie ? 0 : proc_rss_pages(p);
    r->node = node_self();
    if (p->cmdline && !zombie) {
        r->cmdline_len = p->cmdline_len < SSI_CMDLINE_MAX ? p->cmdline_len : SSI_CMDLINE_MAX;
        memcpy(r->cmdline, p->cmdline, r->cmdline_len);
    }
}

struct list_ctx {
    char *out;
    size_t cap, len;
    struct ssi_proc rec;
};

static bool list_visit(struct process *p, void *arg)
{
    struct list_ctx *c = arg;
    if (proc_away(p))
        return true;                    /* the node it runs on lists it */
    fill_record(p, &c->rec);
    size_t n = ssi_encode(&c->rec, c->out + c->len, c->cap - c->len);
    c->len += n;
    return n != 0;                      /* full: the rest is left out */
}

static int svc_list(int from, const void *req, size_t len, void *resp, size_t cap, size_t *resp_len)
{
    struct list_ctx *c = kmalloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    c->out = resp;
    c->cap = cap < LIST_RESP_CAP ? cap : LIST_RESP_CAP;
    c->len = 0;
    proc_for_each(list_visit, c);
    *resp_len = c->len;
    kfree(c);
    return 0;
}

struct signal_req {
    int32_t pid, sig, from_pid;
};

static int svc_signal(int from, const void *req, size_t len, void *resp, size_t cap, size_t *resp_len)
{
    struct signal_req r;
    if (len != sizeof r)
        return -EINVAL;
    memcpy(&r, req, sizeof r);
    int target = r.pid < -1 ? -r.pid : r.pid;
    if (target <= 1 || ssi_pid_home(target) != node_self())
        return -ESRCH;
    return signal_kill_local(r.pid, r.sig, r.from_pid);
}

int ssi_remote_kill(int pid, int sig)
{
    int home = ssi_pid_home(pid < -1 ? -pid : pid);
    if (home < 0 || home == node_self() || !net_node_up(home))
        return -ESRCH;
    struct process *self = current_proc();
    struct signal_req r = { pid, sig, self ? self->pid : 0 };
    int ret = rpc_call(home, RPC_SVC_SSI_SIGNAL, &r, sizeof r, NULL, 0, NULL, CALL_TIMEOUT_NS);
    if (ret == -EINTR)
        return -EINTR;
    if (ret == 0 || ret == -EPERM || ret == -EINVAL)
        return ret;
    return -ESRCH;                      /* gone, or its node is down or does not answer */
}

/* ---- the cached view of the other nodes ---- */

static struct spinlock cache_lock = SPINLOCK_INIT("ssi");
static struct ssi_proc *cache;          /* sorted by pid; under cache_lock */
static int ncache;
static uint64_t cache_at;               /* clock_ns of the fetch; 0: none */
static bool fetching;
static struct waitqueue fetch_wq;
static bool started;

static int cmp_pid(const struct ssi_proc *a, const struct ssi_proc *b) { return a->pid - b->pid; }

static void sort_records(struct ssi_proc *r, int n)
{
    struct ssi_proc *t = kmalloc(sizeof *t);
    if (!t)
        return;
    for (int i = 1; i < n; i++) {       /* insertion sort: a few hundred records, mostly in order */
        memcpy(t, &r[i], sizeof *t);
        int j = i;
        while (j > 0 && cmp_pid(&r[j - 1], t) > 0) {
            memcpy(&r[j], &r[j - 1], sizeof *t);
            j--;
        }
        memcpy(&r[j], t, sizeof *t);
    }
    kfree(t);
}

/* Asks every other up node for its processes, in parallel; the result replaces the cache. */
static void fetch_all(void)
{
    int self = node_self();
    struct rpc_pending *pend = kzalloc(sizeof *pend * CLUSTER_MAX_NODES);
    char **bufs = kzalloc(sizeof *bufs * CLUSTER_MAX_NODES);
    bool *asked = kzalloc(CLUSTER_MAX_NODES);
    struct ssi_proc *recs = NULL;
    int nrecs = 0, cap = 0;
    if (!pend || !bufs || !asked)
        goto out;
    for (int n = 0; n < CLUSTER_MAX_NODES; n++) {
        if (n == self || !net_node_up(n))
            continue;
        bufs[n] = kmalloc(LIST_RESP_CAP);
        if (bufs[n] && rpc_call_start(&pend[n], n, RPC_SVC_SSI_LIST, NULL, 0, bufs[n], LIST_RESP_CAP) == 0)
            asked[n] = true;
    }
    for (int n = 0; n < CLUSTER_MAX_NODES; n++) {
        if (!asked[n])
            continue;
        size_t len = 0;
        if (rpc_call_wait(&pend[n], CALL_TIMEOUT_NS, &len) != 0)
            continue;
        size_t off = 0, used;
        struct ssi_proc r;
        while (off < len && (used = ssi_decode(bufs[n] + off, len - off, &r)) != 0) {
            off += used;
            if (r.pid <= 1)
                continue;               /* its init (pid 1): every node shows only its own */
            if (nrecs == cap) {
                int ncap = cap ? cap * 2 : 64;
                struct ssi_proc *g = kmalloc(sizeof *g * (size_t)ncap);
                if (!g)
                    break;
                if (recs)
                    memcpy(g, recs, sizeof *g * (size_t)nrecs);
                kfree(recs);
                recs = g;
                cap = ncap;
            }
            r.node = n;
            recs[nrecs++] = r;
        }
    }
    sort_records(recs, nrecs);
out:
    for (int n = 0; bufs && n < CLUSTER_MAX_NODES; n++)
        kfree(bufs[n]);
    kfree(pend);
    kfree(bufs);
    kfree(asked);
    uint64_t f = spin_lock_irqsave(&cache_lock);
    struct ssi_proc *old = cache;
    cache = recs;
    ncache = nrecs;
    cache_at = clock_ns();
    fetching = false;
    spin_unlock_irqrestore(&cache_lock, f);
    kfree(old);
    wake_up(&fetch_wq);
}

static void refresh(void)
{
    if (!started)
        return;
    uint64_t f = spin_lock_irqsave(&cache_lock);
    bool fresh = cache_at && clock_ns() - cache_at < CACHE_TTL_NS;
    bool wait = !fresh && fetching;
    bool fetch = !fresh && !fetching;
    if (fetch)
        fetching = true;
    spin_unlock_irqrestore(&cache_lock, f);
    if (fetch)
        fetch_all();
    else if (wait)
        wait_event_interruptible(fetch_wq, !fetching);
}

/* Index of the first record with pid >= from; cache_lock held. */
static int first_at_least(int from)
{
    int lo = 0, hi = ncache;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (cache[mid].pid < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool ssi_remote_get(int pid, struct ssi_proc *out, bool do_refresh)
{
    if (pid <= 1 || ssi_pid_home(pid) < 0)
        return false;
    if (do_refresh)
        refresh();
    bool found = false;
    uint64_t f = spin_lock_irqsave(&cache_lock);
    int i = first_at_least(pid);
    if (i < ncache && cache[i].pid == pid && net_node_up(cache[i].node)) {
        if (out)
            memcpy(out, &cache[i], sizeof *out);
        found = true;
    }
    spin_unlock_irqrestore(&cache_lock, f);
    return found;
}

int ssi_remote_pids(int from, int *pids, int max)
{
    refresh();
    int n = 0;
    uint64_t f = spin_lock_irqsave(&cache_lock);
    for (int i = first_at_least(from); i < ncache && n < max; i++)
        if (net_node_up(cache[i].node))
            pids[n++] = cache[i].pid;
    spin_unlock_irqrestore(&cache_lock, f);
    return n;
}

/* A node went down or restarted: its processes leave the view now, not at the next refresh. Engine
 * lock held, interrupts off. */
static void peer_event(int node, bool up, uint32_t incarnation, void *ctx)
{
    uint64_t f = spin_lock_irqsave(&cache_lock);
    int k = 0;
    for (int i = 0; i < ncache; i++)
        if (cache[i].node != node)
            cache[k++] = cache[i];
    ncache = k;
    cache_at = 0;
    spin_unlock_irqrestore(&cache_lock, f);
}

void ssi_init(void)
{
    wq_init(&fetch_wq);
    if (rpc_register(RPC_SVC_SSI_LIST, svc_list) || rpc_register(RPC_SVC_SSI_SIGNAL, svc_signal) ||
        net_register_peer_notifier(peer_event, NULL)) {
        printk(LOG_WARN, "ssi: no cluster process table (no network)\n");
        return;
    }
    started = true;
}

/* ---- self-tests ---- */

KTEST(ssi_record_roundtrip)
{
    static struct ssi_proc a, b;
    memset(&a, 0, sizeof a);
    a.pid = 20017;
    a.ppid = 20002;
    a.pgid = 20017;
    a.sid = 20002;
    a.tty_nr = 0x500;
    a.tpgid = -1;
    a.nice = -5;
    a.uid = 1000;
    a.gid = 100;
    a.state = 'S';
    strlcpy(a.comm, "sleep", sizeof a.comm);
    a.utime = 12;
    a.stime = 34;
    a.start_ticks = 5678;
    a.vsize = 1ull << 33;
    a.rss_pages = 99;
    memcpy(a.cmdline, "sleep\0" "300\0", 10);
    a.cmdline_len = 10;
    char buf[512];
    size_t n = ssi_encode(&a, buf, sizeof buf);
    if (n == 0 || ssi_decode(buf, n, &b) != n)
        KTEST_FAIL("encode %lu bytes, decode failed", (unsigned long)n);
    if (b.pid != a.pid || b.ppid != a.ppid || b.pgid != a.pgid || b.sid != a.sid || b.tty_nr != a.tty_nr ||
        b.tpgid != -1 || b.nice != -5 || b.uid != 1000 || b.gid != 100 || b.state != 'S' ||
        strcmp(b.comm, "sleep") != 0 || b.utime != 12 || b.stime != 34 || b.start_ticks != 5678 ||
        b.vsize != a.vsize || b.rss_pages != 99 || b.cmdline_len != 10 || memcmp(b.cmdline, a.cmdline, 10) != 0)
        KTEST_FAIL("decoded record differs");
    if (ssi_encode(&a, buf, n - 1) != 0)
        KTEST_FAIL("encoded into a buffer too small");
    if (ssi_decode(buf, n - 1, &b) != 0 || ssi_decode(buf, 10, &b) != 0)
        KTEST_FAIL("decoded a truncated record");
    a.cmdline_len = 5000;               /* clamped on the wire */
    n = ssi_encode(&a, buf, sizeof buf);
    if (n == 0 || ssi_decode(buf, n, &b) != n || b.cmdline_len != SSI_CMDLINE_MAX)
        KTEST_FAIL("long command line not clamped (%u)", b.cmdline_len);
    return true;
}

KTEST(ssi_pid_ranges)
{
    if (ssi_pid_home(2) != 0 || ssi_pid_home(9999) != 0 || ssi_pid_home(10002) != 1 ||
        ssi_pid_home(639999) != 63 || ssi_pid_home(640000) != -1 || ssi_pid_home(0) != -1 ||
        ssi_pid_home(1) != node_self())
        KTEST_FAIL("pid homes wrong");
    if (ssi_pid_home(ssi_pid_first()) != node_self() || ssi_pid_home(ssi_pid_last()) != node_self())
        KTEST_FAIL("own range not home");
    return true;
}
