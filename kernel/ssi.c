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
#define LIST_PAGE RPC_MAX_PAYLOAD        /* bytes of one "list" response: ~600 records of short commands */
#define LIST_MAX_PAGES 64               /* per node and listing: far more than PROC_MAX records */
#define STALE_MAX_NS (3000ull * 1000000ull)     /* a node that fails to list keeps a listing this young */

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

#define CMDLINE_LEN_AT offsetof(struct ssi_wire, cmdline_len)

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

/* "list" pages: the request asks for the processes with pid >= from, in at most max bytes; the
 * response is a header, then the records in ascending pid order. next 0: that was the last page;
 * else ask again from next (greater than every pid in this page). proc_for_each visits the table in
 * pid order (kernel/proc.c keeps it sorted), so the pages of one listing neither overlap nor skip. */
struct list_req {
    int32_t from;
    uint32_t max;                       /* bytes of response the caller takes, header included */
} __attribute__((packed));

struct list_hdr {
    int32_t next;
    uint32_t count;                     /* records that follow */
} __attribute__((packed));

struct list_ctx {
    char *out;
    size_t cap, len;
    int from;
    struct list_hdr hdr;
    struct ssi_proc rec;
};

static bool list_visit(struct process *p, void *arg)
{
    struct list_ctx *c = arg;
    if (p->pid < c->from || proc_away(p))
        return true;                    /* before this page; or the node it runs on lists it */
    fill_record(p, &c->rec);
    size_t n = ssi_encode(&c->rec, c->out + c->len, c->cap - c->len);
    if (n == 0) {
        c->hdr.next = p->pid;           /* page full: the caller asks again from here */
        return false;
    }
    c->len += n;
    c->hdr.count++;
    return true;
}

static int svc_list(int from, const void *req, size_t len, void *resp, size_t cap, size_t *resp_len)
{
    struct list_req r = { 0, (uint32_t)cap };
    if (len == sizeof r)
        memcpy(&r, req, sizeof r);
    else if (len != 0)
        return -EINVAL;
    if (r.max < cap)
        cap = r.max;
    if (cap < sizeof(struct list_hdr) + sizeof(struct ssi_wire) + SSI_CMDLINE_MAX)
        return -EINVAL;                 /* a page must hold any one record */
    struct list_ctx *c = kmalloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    c->out = resp;
    c->cap = cap;
    c->len = sizeof(struct list_hdr);
    c->from = r.from;
    c->hdr = (struct list_hdr){ 0, 0 };
    proc_for_each(list_visit, c);
    memcpy(resp, &c->hdr, sizeof c->hdr);
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

/* ---- the cached view of the other nodes ----
 *
 * A view per node holds the records of its last complete listing in their wire form (94 bytes
 * and the command line; decoded when looked up), in pages as they came, with the pids in order.
 * One index over all views, sorted by pid, answers lookups by binary search and listings by a
 * scan. Views and index are replaced together, under cache_lock; a peer event only unhooks its
 * node's view (the index entries of a node without a view, or not up, are skipped). */

struct rec_ix {
    int32_t pid;
    uint16_t off;                       /* in its page */
    uint8_t page, node;                 /* node: in the global index only */
};

struct view {
    uint64_t at;                        /* clock_ns when the listing completed */
    int n, ixcap, npages;
    struct rec_ix *ix;                  /* this node's records, ascending pid */
    char *pages[LIST_MAX_PAGES];        /* records only, headers stripped */
    uint32_t page_len[LIST_MAX_PAGES];
    struct view *dead_next;             /* on a list of views to free */
};

static struct spinlock cache_lock = SPINLOCK_INIT("ssi");
/* Under cache_lock: */
static struct view *views[CLUSTER_MAX_NODES];
static struct rec_ix *gix;              /* every view's records, ascending pid (equal pids: any order) */
static int ngix;
static uint32_t view_epoch[CLUSTER_MAX_NODES];  /* bumped by every peer event of the node */
static bool view_failing[CLUSTER_MAX_NODES];    /* the last listing failed (logged once) */
static struct view *graveyard;          /* views unhooked by peer events, freed by the next fetch */
static uint64_t round_at;               /* clock_ns of the last fetch round; 0: none (stale) */
static bool fetching;
static struct waitqueue fetch_wq;
static bool started;

static void view_free(struct view *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->npages; i++)
        kfree(v->pages[i]);
    kfree(v->ix);
    kfree(v);
}

/* Adds one "list" response to v: checks it whole (header, every record, pids ascending and >=
 * *from, next beyond them) and keeps its records. Returns 1 if more pages follow (*from set to
 * where), 0 if that was the last one, -EIO if it is malformed, -ENOMEM. */
static int view_add_page(struct view *v, const char *buf, size_t len, int *from)
{
    struct list_hdr h;
    if (len < sizeof h)
        return -EIO;
    memcpy(&h, buf, sizeof h);
    buf += sizeof h;
    len -= sizeof h;
    if (v->npages == LIST_MAX_PAGES || len > 0xffff)
        return -EIO;
    struct ssi_proc *r = kmalloc(sizeof *r);
    if (!r)
        return -ENOMEM;
    /* first pass: validate and count the records to index (pid 1: every node shows only its own) */
    size_t off = 0, used;
    uint32_t count = 0;
    int last = *from - 1, keep = 0;
    while (off < len && (used = ssi_decode(buf + off, len - off, r)) != 0 && r->pid > last) {
        last = r->pid;
        keep += r->pid > 1;
        off += used;
        count++;
    }
    kfree(r);
    if (off != len || count != h.count || (h.next != 0 && (count == 0 || h.next <= last)))
        return -EIO;
    if (v->n + keep > v->ixcap) {
        int ncap = v->ixcap ? v->ixcap : 64;
        while (ncap < v->n + keep)
            ncap *= 2;
        struct rec_ix *g = kmalloc(sizeof *g * (size_t)ncap);
        if (!g)
            return -ENOMEM;
        if (v->ix)
            memcpy(g, v->ix, sizeof *g * (size_t)v->n);
        kfree(v->ix);
        v->ix = g;
        v->ixcap = ncap;
    }
    if (keep) {
        char *page = kmalloc(len);
        if (!page)
            return -ENOMEM;
        memcpy(page, buf, len);
        v->pages[v->npages] = page;
        v->page_len[v->npages] = (uint32_t)len;
        for (off = 0; off < len; off += sizeof(struct ssi_wire) + (uint8_t)page[off + CMDLINE_LEN_AT]) {
            int32_t pid;                /* records checked above: whole and well formed */
            memcpy(&pid, page + off + offsetof(struct ssi_wire, pid), sizeof pid);
            if (pid > 1)
                v->ix[v->n++] = (struct rec_ix){ pid, (uint16_t)off, (uint8_t)v->npages, 0 };
        }
        v->npages++;
    }
    *from = h.next;
    return h.next != 0;
}

/* The global index of the views vs (NULL: none), merged from their ascending lists; NULL and 0
 * if there is nothing to index or no memory (*ok false then). */
static struct rec_ix *merge_views(struct view *const *vs, int *count, bool *ok)
{
    int total = 0, nv = 0, pos[CLUSTER_MAX_NODES], node[CLUSTER_MAX_NODES];
    const struct view *live[CLUSTER_MAX_NODES];
    for (int n = 0; n < CLUSTER_MAX_NODES; n++) {
        if (vs[n] && vs[n]->n) {
            total += vs[n]->n;
            live[nv] = vs[n];
            node[nv] = n;
            pos[nv++] = 0;
        }
    }
    *count = 0;
    *ok = true;
    if (!total)
        return NULL;
    struct rec_ix *out = kmalloc(sizeof *out * (size_t)total);
    if (!out) {
        *ok = false;
        return NULL;
    }
    int k = 0;
    while (nv > 0) {
        int best = 0;
        for (int j = 1; j < nv; j++)
            if (live[j]->ix[pos[j]].pid < live[best]->ix[pos[best]].pid)
                best = j;
        out[k] = live[best]->ix[pos[best]];
        out[k++].node = (uint8_t)node[best];
        if (++pos[best] == live[best]->n) {     /* exhausted: the last list takes its place */
            nv--;
            live[best] = live[nv];
            node[best] = node[nv];
            pos[best] = pos[nv];
        }
    }
    *count = k;
    return out;
}

/* Index of the first global index entry with pid >= from; cache_lock held. */
static int first_at_least(int from)
{
    int lo = 0, hi = ngix;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (gix[mid].pid < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The view an index entry points into, if its node is up and still has it; cache_lock held. */
static struct view *entry_view(const struct rec_ix *x)
{
    return views[x->node] && net_node_up(x->node) ? views[x->node] : NULL;
}

struct fetch {
    struct rpc_pending pend;
    char *resp;                         /* LIST_PAGE bytes while a call is out */
    struct view *v;                     /* being built */
    uint32_t epoch;                     /* the node's at the start: a peer event in between voids it */
    int from, err;
    enum { F_NONE, F_NEXT, F_ASKED, F_DONE, F_FAILED, F_ABORTED } state;
};

static void push_dead(struct view **list, struct view *v)
{
    if (v) {
        v->dead_next = *list;
        *list = v;
    }
}

/* Asks every other up node for its processes, all nodes in parallel, round after round until each
 * one's listing is complete (one round unless a node has more than a page); then installs them. A
 * node whose listing fails (no answer within CALL_TIMEOUT_NS, a malformed page, no memory) keeps
 * its previous listing if that is younger than STALE_MAX_NS, so a slow answer does not make its
 * processes vanish; otherwise its processes leave the view and that is logged (once, until it
 * lists again). A signal to the fetching process aborts the fetch: the view stays as it was (and
 * stale). Only one fetch runs at a time (refresh). */
static void fetch_all(void)
{
    int self = node_self();
    struct fetch *fs = kzalloc(sizeof *fs * CLUSTER_MAX_NODES);
    struct view **newv = kzalloc(sizeof *newv * CLUSTER_MAX_NODES);
    uint32_t *epoch = kzalloc(sizeof *epoch * CLUSTER_MAX_NODES);
    uint64_t f = spin_lock_irqsave(&cache_lock);
    struct view *dead = graveyard;
    graveyard = NULL;
    for (int n = 0; fs && n < CLUSTER_MAX_NODES; n++)
        fs[n].epoch = view_epoch[n];
    spin_unlock_irqrestore(&cache_lock, f);
    if (!fs || !newv || !epoch)
        goto out;
    for (int n = 0; n < CLUSTER_MAX_NODES; n++) {
        if (n == self || !net_node_up(n))
            continue;
        fs[n].v = kzalloc(sizeof *fs[n].v);
        fs[n].state = fs[n].v ? F_NEXT : F_FAILED;
        fs[n].err = -ENOMEM;
    }
    bool aborted = false;
    for (bool more = true; more;) {
        more = false;
        for (int n = 0; n < CLUSTER_MAX_NODES; n++) {
            struct fetch *q = &fs[n];
            if (q->state != F_NEXT)
                continue;
            if (aborted) {
                q->state = F_ABORTED;
                continue;
            }
            struct list_req req = { q->from, LIST_PAGE };
            q->resp = kmalloc(LIST_PAGE);
            int r = q->resp ? rpc_call_start(&q->pend, n, RPC_SVC_SSI_LIST, &req, sizeof req, q->resp, LIST_PAGE)
                            : -ENOMEM;
            if (r != 0) {
                kfree(q->resp);
                q->state = F_FAILED;
                q->err = r;
                continue;
            }
            q->state = F_ASKED;
            more = true;
        }
        for (int n = 0; more && n < CLUSTER_MAX_NODES; n++) {
            struct fetch *q = &fs[n];
            if (q->state != F_ASKED)
                continue;
            size_t len = 0;
            int r = rpc_call_wait(&q->pend, CALL_TIMEOUT_NS, &len);
            if (r == 0)
                r = view_add_page(q->v, q->resp, len, &q->from);
            kfree(q->resp);
            aborted = aborted || r == -EINTR;
            q->state = r == -EINTR ? F_ABORTED : r == 1 ? F_NEXT : r == 0 ? F_DONE : F_FAILED;
            q->err = r == -EINTR ? 0 : r;
        }
    }

    /* what each node's view becomes */
    uint64_t now = clock_ns();
    f = spin_lock_irqsave(&cache_lock);
    for (int n = 0; n < CLUSTER_MAX_NODES; n++) {
        struct fetch *q = &fs[n];
        int err = q->err;
        q->err = 0;
        epoch[n] = view_epoch[n];
        if (q->epoch != view_epoch[n] || !net_node_up(n)) {
            newv[n] = NULL;             /* a peer event since the start: nothing of this round counts */
        } else if (q->state == F_DONE) {
            q->v->at = now;
            newv[n] = q->v;
            view_failing[n] = false;
        } else if (q->state == F_FAILED) {
            bool young = views[n] && now - views[n]->at < STALE_MAX_NS;
            newv[n] = young ? views[n] : NULL;
            if (!young && !view_failing[n])
                q->err = err ? err : -EIO;  /* logged below, outside the lock */
            view_failing[n] = view_failing[n] || !young;
        } else {
            newv[n] = views[n];
        }
    }
    spin_unlock_irqrestore(&cache_lock, f);
    int nnew;
    bool ok;
    struct rec_ix *ix = merge_views(newv, &nnew, &ok);
    f = spin_lock_irqsave(&cache_lock);
    struct rec_ix *oldix = ix;
    bool events = false;                /* a node went or came during the round: fetch again soon */
    for (int n = 0; n < CLUSTER_MAX_NODES; n++) {
        events = events || fs[n].epoch != view_epoch[n];
        if (!ok)
            continue;
        if (epoch[n] != view_epoch[n])
            newv[n] = NULL;             /* unhooked by a peer event meanwhile (on the graveyard) */
        if (views[n] != newv[n])
            push_dead(&dead, views[n]);
        views[n] = newv[n];
    }
    if (ok) {
        oldix = gix;
        gix = ix;
        ngix = nnew;
    }
    if (!aborted)
        round_at = events ? 0 : now;
    spin_unlock_irqrestore(&cache_lock, f);
    for (int n = 0; n < CLUSTER_MAX_NODES; n++) {
        if (fs[n].v && (!ok || newv[n] != fs[n].v))
            push_dead(&dead, fs[n].v);  /* not installed */
        if (fs[n].err)
            printk(LOG_WARN, "ssi: node %d did not list its processes (error %d): they are left out of /proc\n",
                   n, fs[n].err);
    }
    kfree(oldix);
out:
    f = spin_lock_irqsave(&cache_lock);
    fetching = false;
    spin_unlock_irqrestore(&cache_lock, f);
    while (dead) {
        struct view *v = dead;
        dead = v->dead_next;
        view_free(v);
    }
    kfree(fs);
    kfree(newv);
    kfree(epoch);
    wake_up(&fetch_wq);
}

static void refresh(void)
{
    if (!started)
        return;
    uint64_t f = spin_lock_irqsave(&cache_lock);
    bool fresh = round_at && clock_ns() - round_at < CACHE_TTL_NS;
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

bool ssi_remote_get(int pid, struct ssi_proc *out, bool do_refresh)
{
    if (pid <= 1 || ssi_pid_home(pid) < 0)
        return false;
    if (do_refresh)
        refresh();
    bool found = false;
    uint64_t f = spin_lock_irqsave(&cache_lock);
    for (int i = first_at_least(pid); i < ngix && gix[i].pid == pid && !found; i++) {
        const struct view *v = entry_view(&gix[i]);
        if (!v)
            continue;
        found = true;
        if (out) {
            ssi_decode(v->pages[gix[i].page] + gix[i].off, v->page_len[gix[i].page] - gix[i].off, out);
            out->node = gix[i].node;
        }
    }
    spin_unlock_irqrestore(&cache_lock, f);
    return found;
}

int ssi_remote_pids(int from, int *pids, int max)
{
    refresh();
    int n = 0;
    uint64_t f = spin_lock_irqsave(&cache_lock);
    for (int i = first_at_least(from); i < ngix && n < max; i++)
        if (entry_view(&gix[i]) && (n == 0 || pids[n - 1] != gix[i].pid))
            pids[n++] = gix[i].pid;     /* equal pids: listed by two nodes during a migration */
    spin_unlock_irqrestore(&cache_lock, f);
    return n;
}

/* A node went down or restarted: its processes leave the view now, not at the next refresh; a
 * fetch running meanwhile discards what it got from that node. Engine lock held, interrupts off:
 * the view is freed later, by the next fetch. */
static void peer_event(int node, bool up, uint32_t incarnation, void *ctx)
{
    if (node < 0 || node >= CLUSTER_MAX_NODES)
        return;
    uint64_t f = spin_lock_irqsave(&cache_lock);
    view_epoch[node]++;
    push_dead(&graveyard, views[node]);
    views[node] = NULL;
    round_at = 0;
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

/* A "list" page for the tests: header, then records of the given pids (pid 0 ends the list). */
static size_t test_page(char *buf, size_t cap, int next, const int *pids, const char *cmd)
{
    static struct ssi_proc r;
    struct list_hdr h = { next, 0 };
    size_t len = sizeof h;
    for (; *pids; pids++) {
        memset(&r, 0, sizeof r);
        r.pid = *pids;
        r.state = 'S';
        r.cmdline_len = (uint32_t)strlen(cmd);
        memcpy(r.cmdline, cmd, r.cmdline_len);
        len += ssi_encode(&r, buf + len, cap - len);
        h.count++;
    }
    memcpy(buf, &h, sizeof h);
    return len;
}

KTEST(ssi_list_pages)
{
    static char buf[2048];
    static struct ssi_proc got;
    struct view *a = kzalloc(sizeof *a), *b = kzalloc(sizeof *b), *c = kzalloc(sizeof *c);
    struct view *vs[CLUSTER_MAX_NODES] = { 0 };
    bool pass = false;
    int from = 0, cnt = 0;
    bool ok = false;
    struct rec_ix *ix = NULL;
    if (!a || !b || !c)
        goto out;
    /* node 1: two pages (its init, which is dropped, and a process migrated in from node 0) */
    size_t n = test_page(buf, sizeof buf, 10007, (const int[]){ 1, 3, 10005, 0 }, "first page");
    if (view_add_page(a, buf, n, &from) != 1 || from != 10007)
        goto out;
    n = test_page(buf, sizeof buf, 0, (const int[]){ 10007, 10009, 0 }, "second");
    if (view_add_page(a, buf, n, &from) != 0 || a->n != 4 || a->npages != 2)
        goto out;
    from = 0;
    n = test_page(buf, sizeof buf, 0, (const int[]){ 10004, 20002, 0 }, "node 2");
    if (view_add_page(b, buf, n, &from) != 0 || b->n != 2)
        goto out;
    vs[1] = a;
    vs[2] = b;
    ix = merge_views(vs, &cnt, &ok);
    static const int want[] = { 3, 10004, 10005, 10007, 10009, 20002 };
    if (!ok || cnt != 6)
        goto out;
    for (int i = 0; i < 6; i++) {
        if (ix[i].pid != want[i] || ix[i].node != (want[i] == 10004 || want[i] == 20002 ? 2 : 1))
            goto out;
    }
    const struct view *v = vs[ix[4].node];      /* 10009: second page of node 1 */
    if (ssi_decode(v->pages[ix[4].page] + ix[4].off, v->page_len[ix[4].page] - ix[4].off, &got) == 0 ||
        got.pid != 10009 || got.cmdline_len != 6 || memcmp(got.cmdline, "second", 6) != 0)
        goto out;
    /* malformed pages are refused whole */
    from = 0;
    n = test_page(buf, sizeof buf, 0, (const int[]){ 5, 4, 0 }, "x");    /* descending */
    if (view_add_page(c, buf, n, &from) != -EIO)
        goto out;
    n = test_page(buf, sizeof buf, 5, (const int[]){ 5, 0 }, "x");       /* next not beyond */
    if (view_add_page(c, buf, n, &from) != -EIO)
        goto out;
    n = test_page(buf, sizeof buf, 9, (const int[]){ 0 }, "x");          /* more, but empty */
    if (view_add_page(c, buf, n, &from) != -EIO)
        goto out;
    n = test_page(buf, sizeof buf, 0, (const int[]){ 5, 6, 0 }, "x");
    if (view_add_page(c, buf, n - 1, &from) != -EIO)                     /* truncated */
        goto out;
    ((struct list_hdr *)buf)->count = 3;                                  /* count differs */
    if (view_add_page(c, buf, n, &from) != -EIO)
        goto out;
    from = 6;                                                             /* below from */
    ((struct list_hdr *)buf)->count = 2;
    if (view_add_page(c, buf, n, &from) != -EIO || c->n != 0)
        goto out;
    pass = true;
out:
    kfree(ix);
    view_free(a);
    view_free(b);
    view_free(c);
    if (!pass)
        KTEST_FAIL("paged listing: views or index wrong");
    return true;
}

struct count_ctx {
    int n, last;
    bool sorted;
};

static bool count_visit(struct process *p, void *arg)
{
    struct count_ctx *c = arg;
    c->sorted = c->sorted && p->pid > c->last;
    c->last = p->pid;
    c->n += !proc_away(p) && p->pid > 1;    /* the views drop pid 1 */
    return true;
}

/* The service pages this node's table in small pages without losing or repeating a process. */
KTEST(ssi_list_service_pages)
{
    size_t cap = sizeof(struct list_hdr) + 2 * (sizeof(struct ssi_wire) + SSI_CMDLINE_MAX);
    char *buf = kmalloc(cap);
    struct view *v = kzalloc(sizeof *v);
    struct count_ctx cc = { 0, 0, true };
    proc_for_each(count_visit, &cc);
    int from = 0, r = 1, pages = 0;
    while (buf && v && r == 1 && pages < LIST_MAX_PAGES) {
        struct list_req req = { from, (uint32_t)cap };
        size_t len = 0;
        r = svc_list(0, &req, sizeof req, buf, RPC_MAX_PAYLOAD, &len);
        if (r == 0)
            r = view_add_page(v, buf, len, &from);
        pages++;
    }
    int listed = v ? v->n : -1;
    struct list_req tiny = { 0, 16 };
    size_t len;
    int rt = buf ? svc_list(0, &tiny, sizeof tiny, buf, RPC_MAX_PAYLOAD, &len) : 0;
    kfree(buf);
    view_free(v);
    if (!cc.sorted)
        KTEST_FAIL("the process table is not in pid order (paging relies on it)");
    if (r != 0 || listed != cc.n)
        KTEST_FAIL("listed %d of %d processes in %d pages (status %d)", listed, cc.n, pages, r);
    if (rt != -EINVAL)
        KTEST_FAIL("a page too small for one record was accepted (%d)", rt);
    return true;
}
