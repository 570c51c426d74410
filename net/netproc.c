/*
 * net/netproc.c: /proc/cluster, the cluster as users, tools and tests see it (formats:
 * docs/PROC-CLUSTER.md):
 *   nodes  one line per known node, this one included: id MAC up|down load free_kB procs incarnation
 *   stats  `name value` lines: the engine's, the driver's, the glue's and the RPC layer's counters
 *   ctl    write `ping NODE COUNT`, `bulk NODE BYTES` or `rpcflood NODE COUNT`: the measurement runs
 *          in the writer's write(); reading ctl then gives its one-line result.
 * Also the flood-counting service rpcflood talks to.
 *
 * Files are generated whole at open (like the rest of /proc), so a reader sees one snapshot.
 */
#include "drivers/e1000.h"
#include "kernel/deputy.h"
#include "kernel/migrate.h"
#include "kernel/errno.h"
#include "kernel/format.h"
#include "kernel/kmalloc.h"
#include "kernel/ktest.h"
#include "kernel/printk.h"
#include "kernel/procfs.h"
#include "kernel/random.h"
#include "kernel/sched.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/vfs.h"
#include "net/netdev.h"
#include "net/rpc.h"
#include <stdarg.h>

enum { NP_DIR, NP_NODES, NP_STATS, NP_CTL, NP_COUNT };

/* Inode numbers beside procfs's own (pid << 16 | type << 8 | fd): type 0xfe is not one of its. */
#define NP_INO(k) (0xfe00u + (k))

static const struct {
    const char *name;
    uint32_t mode;
} np_files[NP_COUNT] = {
    [NP_DIR] = { "cluster", S_IFDIR | 0555 },
    [NP_NODES] = { "nodes", S_IFREG | 0444 },
    [NP_STATS] = { "stats", S_IFREG | 0444 },
    [NP_CTL] = { "ctl", S_IFREG | 0644 },
};

static struct inode *np_inode[NP_COUNT];

/* Subdirectories of files that other subsystems provide (netproc_add_dir): the balancer's, the
 * migration's. Subdirectory d has kinds NP_SUB_FIRST + 16 d (itself) and the 15 after (its files). */
#define NP_SUB_FIRST 16
#define NP_SUB_MAX 15
#define NP_SUBDIRS 4
static struct subdir {
    const char *name;
    const struct netproc_file *files;
    int n;
    struct inode *inode[NP_SUB_MAX + 1];        /* [0]: the directory */
} subs[NP_SUBDIRS];
static int nsubs;

static int sub_kind(int d, int i) { return NP_SUB_FIRST + d * (NP_SUB_MAX + 1) + i; }

/* ---- text buffers ---- */

struct tbuf {
    char *data;
    size_t len, cap;
    bool nomem;
};

__attribute__((format(printf, 2, 3))) static void tb_printf(struct tbuf *b, const char *fmt, ...)
{
    for (int pass = 0; pass < 2 && !b->nomem; pass++) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = kvsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *d = kmalloc(cap);
        if (!d) {
            b->nomem = true;
            return;
        }
        if (b->len)
            memcpy(d, b->data, b->len);
        kfree(b->data);
        b->data = d;
        b->cap = cap;
    }
}

static void tb_free(struct tbuf *b)
{
    kfree(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- nodes and stats ---- */

static void gen_nodes(struct tbuf *b)
{
    for (int n = 0; n < CLUSTER_MAX_NODES; n++) {
        struct peer_info pi;
        if (!net_peer_info(n, &pi))
            continue;
        const uint8_t *m = pi.mac;
        tb_printf(b, "%d %02x:%02x:%02x:%02x:%02x:%02x %s %u %lu %u %08x\n", n, m[0], m[1], m[2], m[3], m[4], m[5],
                  pi.up ? "up" : "down", pi.load, (unsigned long)pi.free_pages * 4, pi.nprocs, pi.incarnation);
    }
}

struct stat_field {
    const char *name;
    size_t off;
};

#define SF(type, f) { #f, offsetof(struct type, f) }
static const struct stat_field engine_fields[] = {
    SF(cluster_stats, frames_sent), SF(cluster_stats, frames_received), SF(cluster_stats, bytes_sent),
    SF(cluster_stats, bytes_received), SF(cluster_stats, messages_sent), SF(cluster_stats, messages_delivered),
    SF(cluster_stats, retransmits), SF(cluster_stats, fast_retransmits), SF(cluster_stats, acks_sent),
    SF(cluster_stats, dup_frames), SF(cluster_stats, hellos_sent), SF(cluster_stats, hellos_received),
    SF(cluster_stats, drop_short), SF(cluster_stats, drop_version), SF(cluster_stats, drop_type),
    SF(cluster_stats, drop_length), SF(cluster_stats, drop_tag), SF(cluster_stats, drop_stale_incarnation),
    SF(cluster_stats, drop_unknown_peer), SF(cluster_stats, drop_out_of_window), SF(cluster_stats, drop_replay),
    SF(cluster_stats, drop_not_for_us), SF(cluster_stats, drop_no_memory), SF(cluster_stats, peer_up_events),
    SF(cluster_stats, peer_down_events), SF(cluster_stats, messages_dropped), SF(cluster_stats, dup_acks),
};
static const struct stat_field e1000_fields[] = {
    SF(e1000_stats, rx_frames), SF(e1000_stats, rx_bytes), SF(e1000_stats, tx_frames), SF(e1000_stats, tx_bytes),
    SF(e1000_stats, rx_errors), SF(e1000_stats, rx_missed), SF(e1000_stats, rx_no_receiver),
    SF(e1000_stats, tx_ring_full), SF(e1000_stats, tx_too_big), SF(e1000_stats, interrupts), SF(e1000_stats, polls),
    SF(e1000_stats, rx_budget_exhausted), SF(e1000_stats, link_changes), SF(e1000_stats, tdt_writes),
    SF(e1000_stats, rdt_writes),
};
static const struct stat_field glue_fields[] = {
    SF(net_glue_stats, rx_frames), SF(net_glue_stats, xmit_busy), SF(net_glue_stats, delivered),
    SF(net_glue_stats, delivered_local), SF(net_glue_stats, no_handler), SF(net_glue_stats, ticks),
    SF(net_glue_stats, info_updates), SF(net_glue_stats, big_allocs), SF(net_glue_stats, big_alloc_failures),
};
static const struct stat_field rpc_fields[] = {
    SF(rpc_stats, calls), SF(rpc_stats, calls_ok), SF(rpc_stats, calls_failed), SF(rpc_stats, timeouts),
    SF(rpc_stats, interrupted), SF(rpc_stats, hostdown), SF(rpc_stats, late_responses), SF(rpc_stats, requests),
    SF(rpc_stats, responses_sent), SF(rpc_stats, unknown_service), SF(rpc_stats, casts_sent),
    SF(rpc_stats, casts_received), SF(rpc_stats, bad_messages), SF(rpc_stats, send_failures),
    SF(rpc_stats, worker_queue_max),
};
#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

static void print_fields(struct tbuf *b, const char *prefix, const void *s, const struct stat_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, (const char *)s + f[i].off, sizeof v);
        tb_printf(b, "%s%s %lu\n", prefix, f[i].name, (unsigned long)v);
    }
}

static const struct stat_field deputy_fields[] = {
    SF(deputy_stats, calls_forwarded), SF(deputy_stats, calls_served), SF(deputy_stats, mem_reads),
    SF(deputy_stats, mem_writes), SF(deputy_stats, signals_forwarded), SF(deputy_stats, bad_messages),
    SF(deputy_stats, mmap_by_ref), SF(deputy_stats, mmap_by_value),
};
static const struct stat_field migrate_fields[] = {
    SF(migrate_stats, out), SF(migrate_stats, in), SF(migrate_stats, failed), SF(migrate_stats, execs_out),
    SF(migrate_stats, execs_in), SF(migrate_stats, bytes_out), SF(migrate_stats, bytes_in),
    SF(migrate_stats, pages_out), SF(migrate_stats, pages_in), SF(migrate_stats, last_freeze_us),
    SF(migrate_stats, by_value), SF(migrate_stats, precopies), SF(migrate_stats, precopy_pages),
    SF(migrate_stats, precopy_void),
};

static void gen_stats(struct tbuf *b)
{
    struct cluster_stats cs;
    struct net_glue_stats gs;
    struct e1000_stats es;
    struct rpc_stats rs;
    net_get_stats(&cs, &gs);
    e1000_get_stats(&es);
    rpc_get_stats(&rs);
    print_fields(b, "", &cs, engine_fields, NFIELDS(engine_fields));
    print_fields(b, "e1000_", &es, e1000_fields, NFIELDS(e1000_fields));
    print_fields(b, "net_", &gs, glue_fields, NFIELDS(glue_fields));
    print_fields(b, "rpc_", &rs, rpc_fields, NFIELDS(rpc_fields));
    struct deputy_stats ds;
    struct migrate_stats ms;
    deputy_get_stats(&ds);
    migrate_get_stats(&ms);
    print_fields(b, "deputy_", &ds, deputy_fields, NFIELDS(deputy_fields));
    print_fields(b, "migrate_", &ms, migrate_fields, NFIELDS(migrate_fields));
    tb_printf(b, "nodes_up %d\n", net_nodes_up());
}

/* ---- ctl: measurements ---- */

#define CTL_RESULT_MAX 256
#define PING_MAX 100000
#define PING_PAYLOAD 32
#define CALL_TIMEOUT_NS (10 * NSEC_PER_SEC)
#define FLOOD_WINDOW 32

static char ctl_result[CTL_RESULT_MAX] = "none\n";
static struct spinlock ctl_lock = SPINLOCK_INIT("netproc-ctl");
static bool ctl_busy;                   /* one measurement at a time: they would skew each other */
static struct waitqueue ctl_wq;

__attribute__((format(printf, 1, 2))) static void set_result(const char *fmt, ...)
{
    char line[CTL_RESULT_MAX];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    uint64_t f = spin_lock_irqsave(&ctl_lock);
    strlcpy(ctl_result, line, sizeof ctl_result);
    spin_unlock_irqrestore(&ctl_lock, f);
}

static void sort_u64(uint64_t *v, size_t n)
{
    static const size_t gaps[] = { 8929, 3905, 1750, 701, 301, 132, 57, 23, 10, 4, 1 };   /* Ciura, extended */
    for (size_t g = 0; g < NFIELDS(gaps); g++)
        for (size_t i = gaps[g]; i < n; i++) {
            uint64_t x = v[i];
            size_t j = i;
            for (; j >= gaps[g] && v[j - gaps[g]] > x; j -= gaps[g])
                v[j] = v[j - gaps[g]];
            v[j] = x;
        }
}

static int ctl_ping(int node, unsigned long count)
{
    if (count == 0 || count > PING_MAX)
        return -EINVAL;
    uint64_t *rtt = net_msg_alloc(count * sizeof *rtt);
    if (!rtt)
        return -ENOMEM;
    uint8_t req[PING_PAYLOAD], resp[PING_PAYLOAD];
    int r = 0;
    unsigned long done = 0;
    for (; done < count; done++) {
        for (int i = 0; i < PING_PAYLOAD; i++)
            req[i] = (uint8_t)(done * 31 + i);
        size_t rl = 0;
        uint64_t t0 = clock_ns();
        r = rpc_call(node, RPC_SVC_ECHO, req, sizeof req, resp, sizeof resp, &rl, CALL_TIMEOUT_NS);
        rtt[done] = clock_ns() - t0;
        if (r == 0 && (rl != sizeof req || memcmp(req, resp, sizeof req) != 0))
            r = -EIO;
        if (r)
            break;
    }
    if (r) {
        set_result("ping %d %lu error %d after %lu\n", node, count, r, done);
    } else {
        sort_u64(rtt, count);
        size_t p99 = (count * 99 + 99) / 100 - 1;   /* nearest rank */
        set_result("ping %d %lu %lu %lu %lu %lu\n", node, count, (unsigned long)(rtt[0] / 1000),
                   (unsigned long)(rtt[count / 2] / 1000), (unsigned long)(rtt[p99] / 1000),
                   (unsigned long)(rtt[count - 1] / 1000));
    }
    net_msg_free(rtt);
    return r;
}

static void fill_pattern(uint8_t *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed | 1;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(buf + i, &x, 8);
    }
    for (; i < len; i++)
        buf[i] = (uint8_t)(x >> (8 * (i % 8)));
}

static int ctl_bulk(int node, unsigned long bytes)
{
    if (bytes == 0 || bytes > CLUSTER_MAX_MESSAGE - 64)
        return -EINVAL;
    uint8_t *buf = rpc_bulk_alloc(bytes);
    if (!buf)
        return -ENOMEM;
    fill_pattern(buf, bytes, random_u64());
    uint64_t sum = rpc_checksum(buf, bytes);
    struct rpc_sink_reply reply = { 0, 0 };
    size_t rl = 0;
    uint64_t timeout = 60 * NSEC_PER_SEC + bytes / 1000 * 1000;   /* a minute, plus 1 s per MB */
    uint64_t t0 = clock_ns();
    int r = rpc_call_bulk(node, RPC_SVC_BULK_SINK, buf, bytes, &reply, sizeof reply, &rl, timeout);
    uint64_t us = (clock_ns() - t0) / 1000;
    rpc_bulk_free(buf);
    if (r) {
        set_result("bulk %d %lu error %d\n", node, bytes, r);
        return r;
    }
    bool ok = rl == sizeof reply && reply.bytes == bytes && reply.checksum == sum;
    uint64_t tenths = us ? bytes * 10 / us : 0;     /* bytes per microsecond = MB/s */
    set_result("bulk %d %lu %lu %lu.%lu %s\n", node, bytes, (unsigned long)us, (unsigned long)(tenths / 10),
               (unsigned long)(tenths % 10), ok ? "checksum-ok" : "checksum-BAD");
    return ok ? 0 : -EIO;
}

/* The flood service: per client node, which sequence numbers of its current flood arrived. */
enum { FLOOD_START = 1, FLOOD_HIT, FLOOD_REPORT };

struct flood_req {
    uint32_t op, id, seq, count;
    uint64_t token;                     /* echoed: proves the reply belongs to this request */
};

struct flood_reply {
    uint32_t id, seq;
    uint64_t token;
    uint32_t distinct, dups;
};

static struct {
    uint32_t id, count, distinct, dups;
    uint8_t *seen;
} floods[CLUSTER_MAX_NODES];
static struct spinlock flood_lock = SPINLOCK_INIT("flood");

static int svc_flood(int from, const void *req, size_t len, void *resp, size_t cap, size_t *resp_len)
{
    struct flood_req q;
    if (len != sizeof q || from < 0 || from >= CLUSTER_MAX_NODES)
        return -EINVAL;
    memcpy(&q, req, sizeof q);
    uint8_t *fresh = NULL, *old = NULL;
    if (q.op == FLOOD_START) {
        if (q.count == 0 || q.count > 10000000)
            return -EINVAL;
        fresh = kzalloc(q.count / 8 + 1);
        if (!fresh)
            return -ENOMEM;
    }
    struct flood_reply a = { q.id, q.seq, q.token, 0, 0 };
    int r = 0;
    uint64_t f = spin_lock_irqsave(&flood_lock);
    typeof(floods[0]) *fl = &floods[from];
    if (q.op == FLOOD_START) {
        old = fl->seen;
        fl->seen = fresh;
        fl->id = q.id;
        fl->count = q.count;
        fl->distinct = fl->dups = 0;
    } else if (fl->id != q.id || !fl->seen) {
        r = -ESRCH;
    } else if (q.op == FLOOD_HIT && q.seq < fl->count) {
        if (fl->seen[q.seq / 8] & (1u << (q.seq % 8)))
            fl->dups++;
        else
            fl->distinct++;
        fl->seen[q.seq / 8] |= 1u << (q.seq % 8);
    } else if (q.op != FLOOD_REPORT) {
        r = -EINVAL;
    }
    a.distinct = fl->distinct;
    a.dups = fl->dups;
    spin_unlock_irqrestore(&flood_lock, f);
    kfree(old);
    memcpy(resp, &a, sizeof a);
    *resp_len = sizeof a;
    return r;
}

static int flood_call(int node, struct flood_req *q, struct flood_reply *a)
{
    size_t rl = 0;
    int r = rpc_call(node, RPC_SVC_FLOOD, q, sizeof *q, a, sizeof *a, &rl, CALL_TIMEOUT_NS);
    return r ? r : rl == sizeof *a ? 0 : -EIO;
}

struct flood_slot {
    struct rpc_pending p;
    struct flood_req q;
    struct flood_reply a;
    bool busy;
};

/* Keeps FLOOD_WINDOW calls in flight; every reply must match its request, every seq answered once. */
static int ctl_rpcflood(int node, unsigned long count)
{
    if (count == 0 || count > 1000000)
        return -EINVAL;
    struct flood_slot *slots = kzalloc(FLOOD_WINDOW * sizeof *slots);
    uint8_t *answered = kzalloc(count / 8 + 1);
    uint32_t id = (uint32_t)random_u64();
    struct flood_req q = { FLOOD_START, id, 0, (uint32_t)count, 0 };
    struct flood_reply a;
    int r = slots && answered ? flood_call(node, &q, &a) : -ENOMEM;
    unsigned long next = 0, replies = 0, bad = 0;
    uint64_t t0 = clock_ns();
    while (r == 0 && replies < count) {
        for (int i = 0; i < FLOOD_WINDOW && r == 0; i++) {
            struct flood_slot *s = &slots[i];
            if (s->busy) {
                size_t rl = 0;
                int w = rpc_call_wait(&s->p, CALL_TIMEOUT_NS, &rl);
                s->busy = false;
                if (w) {
                    r = w;
                    break;
                }
                bool match = rl == sizeof s->a && s->a.id == id && s->a.seq == s->q.seq && s->a.token == s->q.token;
                bool again = answered[s->q.seq / 8] & (1u << (s->q.seq % 8));
                answered[s->q.seq / 8] |= 1u << (s->q.seq % 8);
                bad += !match || again;
                replies++;
            }
            if (next < count) {
                s->q = (struct flood_req){ FLOOD_HIT, id, (uint32_t)next, 0, random_u64() };
                r = rpc_call_start(&s->p, node, RPC_SVC_FLOOD, &s->q, sizeof s->q, &s->a, sizeof s->a);
                s->busy = r == 0;
                next++;
            }
        }
    }
    for (int i = 0; slots && i < FLOOD_WINDOW; i++)     /* after an error: collect what is in flight */
        if (slots[i].busy)
            rpc_call_wait(&slots[i].p, CALL_TIMEOUT_NS, NULL);
    uint64_t us = (clock_ns() - t0) / 1000;
    if (r == 0) {
        q = (struct flood_req){ FLOOD_REPORT, id, 0, 0, 0 };
        r = flood_call(node, &q, &a);
    }
    kfree(slots);
    kfree(answered);
    if (r) {
        set_result("rpcflood %d %lu error %d after %lu replies\n", node, count, r, replies);
        return r;
    }
    bool ok = bad == 0 && replies == count && a.distinct == count && a.dups == 0;
    set_result("rpcflood %d %lu %lu %s replies=%lu bad=%lu server_seen=%u server_dups=%u\n", node, count,
               (unsigned long)us, ok ? "ok" : "FAILED", replies, bad, a.distinct, a.dups);
    return ok ? 0 : -EIO;
}

/* Splits "cmd NODE N" into its words; returns the number of words. */
static int split(char *s, char **w, int max)
{
    int n = 0;
    while (*s && n < max) {
        while (*s == ' ' || *s == '\t' || *s == '\n')
            *s++ = 0;
        if (!*s)
            break;
        w[n++] = s;
        while (*s && *s != ' ' && *s != '\t' && *s != '\n')
            s++;
    }
    return n;
}

static bool parse_ulong(const char *s, unsigned long *out)
{
    char *end;
    *out = kstrtoul(s, &end, 0);
    return end != s && *end == 0 && *s != '-';
}

static int run_command(char *line)
{
    char *w[4];
    int n = split(line, w, 4);
    unsigned long node, arg;
    if (n != 3 || !parse_ulong(w[1], &node) || node >= CLUSTER_MAX_NODES || !parse_ulong(w[2], &arg)) {
        set_result("usage: ping NODE COUNT | bulk NODE BYTES | rpcflood NODE COUNT\n");
        return -EINVAL;
    }
    if (strcmp(w[0], "ping") == 0)
        return ctl_ping((int)node, arg);
    if (strcmp(w[0], "bulk") == 0)
        return ctl_bulk((int)node, arg);
    if (strcmp(w[0], "rpcflood") == 0)
        return ctl_rpcflood((int)node, arg);
    set_result("unknown command \"%s\"\n", w[0]);
    return -EINVAL;
}

static long ctl_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    char line[128];
    if (n >= sizeof line)
        return -EINVAL;
    memcpy(line, buf, n);
    line[n] = 0;
    uint64_t f_irq = irq_save();        /* see it free and take it with nothing in between */
    int r = wait_event_interruptible(ctl_wq, !ctl_busy);
    if (!r)
        ctl_busy = true;
    irq_restore(f_irq);
    if (r)
        return r;
    r = run_command(line);
    ctl_busy = false;
    wake_up(&ctl_wq);
    return r ? r : (long)n;
}

/* ---- the files ---- */

static int np_kind(struct inode *ino) { return (int)(ino->ino - NP_INO(0)); }

/* The subdirectory a kind belongs to (NULL: none), and the kind's index in it (0: itself). */
static struct subdir *sub_of(int kind, int *i)
{
    if (kind < NP_SUB_FIRST)
        return NULL;
    int d = (kind - NP_SUB_FIRST) / (NP_SUB_MAX + 1);
    *i = (kind - NP_SUB_FIRST) % (NP_SUB_MAX + 1);
    return d < nsubs && *i <= subs[d].n ? &subs[d] : NULL;
}

static const struct netproc_file *sub_file(int kind)
{
    int i;
    struct subdir *sd = sub_of(kind, &i);
    return sd && i > 0 ? &sd->files[i - 1] : NULL;
}

static int np_open(struct inode *ino, struct file *f)
{
    int kind = np_kind(ino);
    const struct netproc_file *sf = sub_file(kind);
    uint32_t acc = f->flags & O_ACCMODE;
    f->priv = NULL;
    if (acc != O_RDONLY && kind != NP_CTL && !(sf && sf->store))
        return -EACCES;
    if (acc == O_WRONLY)
        return 0;
    struct tbuf *b = kzalloc(sizeof *b);
    if (!b)
        return -ENOMEM;
    if (sf) {
        char *text = kmalloc(NETPROC_SHOW_MAX);
        if (text) {
            size_t n = sf->show(text, NETPROC_SHOW_MAX);
            tb_printf(b, "%.*s", (int)n, text);
        }
        b->nomem |= !text;
        kfree(text);
    } else if (kind == NP_NODES) {
        gen_nodes(b);
    } else if (kind == NP_STATS) {
        gen_stats(b);
    } else {
        char copy[CTL_RESULT_MAX];
        uint64_t fl = spin_lock_irqsave(&ctl_lock);
        strlcpy(copy, ctl_result, sizeof copy);
        spin_unlock_irqrestore(&ctl_lock, fl);
        tb_printf(b, "%s", copy);
    }
    if (b->nomem) {
        tb_free(b);
        kfree(b);
        return -ENOMEM;
    }
    f->priv = b;
    return 0;
}

static long np_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    struct tbuf *b = f->priv;
    if (!b)
        return -EBADF;
    if (*pos >= b->len)
        return 0;
    size_t k = b->len - *pos < n ? b->len - (size_t)*pos : n;
    memcpy(buf, b->data + *pos, k);
    *pos += k;
    return (long)k;
}

static long np_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    const struct netproc_file *sf = sub_file(np_kind(f->inode));
    if (sf && sf->store) {
        char text[128];
        size_t k = n < sizeof text - 1 ? n : sizeof text - 1;
        memcpy(text, buf, k);
        text[k] = 0;
        while (k && (text[k - 1] == '\n' || text[k - 1] == ' '))
            text[--k] = 0;
        long r = sf->store(text);
        return r < 0 ? r : (long)n;
    }
    if (np_kind(f->inode) != NP_CTL)
        return -EACCES;
    return ctl_write(f, buf, n, pos);
}

static void np_release(struct file *f)
{
    struct tbuf *b = f->priv;
    if (b) {
        tb_free(b);
        kfree(b);
    }
}

static int np_lookup(struct inode *dir, const char *name, size_t len, struct inode **out)
{
    if (len == 2 && name[0] == '.' && name[1] == '.') {
        *out = procfs_root();           /* referenced */
        return *out ? 0 : -ENOMEM;
    }
    struct inode *ino = len == 1 && name[0] == '.' ? dir : NULL;
    for (int k = NP_NODES; k < NP_COUNT && !ino; k++)
        if (strlen(np_files[k].name) == len && memcmp(np_files[k].name, name, len) == 0)
            ino = np_inode[k];
    for (int d = 0; d < nsubs && !ino; d++)
        if (strlen(subs[d].name) == len && memcmp(subs[d].name, name, len) == 0)
            ino = subs[d].inode[0];
    if (!ino)
        return -ENOENT;
    inode_get(ino);
    *out = ino;
    return 0;
}

static int np_readdir(struct file *f, struct dirent_sink *sink)
{
    if (!dirent_emit_dots(f, sink))
        return 0;
    for (; f->pos >= 2 && f->pos < 2 + NP_COUNT - 1; f->pos++) {
        int k = (int)f->pos - 2 + NP_NODES;
        if (!dirent_emit(sink, np_files[k].name, strlen(np_files[k].name), NP_INO(k), np_files[k].mode))
            return 0;
    }
    for (; f->pos >= 2 + NP_COUNT - 1 && f->pos < 2 + NP_COUNT - 1 + (uint64_t)nsubs; f->pos++) {
        int d = (int)(f->pos - (2 + NP_COUNT - 1));
        if (!dirent_emit(sink, subs[d].name, strlen(subs[d].name), NP_INO(sub_kind(d, 0)), S_IFDIR))
            return 0;
    }
    return 0;
}

static int sub_lookup(struct inode *dir, const char *name, size_t len, struct inode **out)
{
    int self;
    struct subdir *sd = sub_of(np_kind(dir), &self);
    struct inode *ino = NULL;
    if (len == 2 && name[0] == '.' && name[1] == '.')
        ino = np_inode[NP_DIR];
    else if (len == 1 && name[0] == '.')
        ino = dir;
    for (int i = 0; sd && i < sd->n && !ino; i++)
        if (strlen(sd->files[i].name) == len && memcmp(sd->files[i].name, name, len) == 0)
            ino = sd->inode[i + 1];
    if (!ino)
        return -ENOENT;
    inode_get(ino);
    *out = ino;
    return 0;
}

static int sub_readdir(struct file *f, struct dirent_sink *sink)
{
    int self;
    struct subdir *sd = sub_of(np_kind(f->inode), &self);
    if (!sd || !dirent_emit_dots(f, sink))
        return 0;
    int d = (int)(sd - subs);
    for (; f->pos >= 2 && f->pos < 2 + (uint64_t)sd->n; f->pos++) {
        const struct netproc_file *sf = &sd->files[f->pos - 2];
        if (!dirent_emit(sink, sf->name, strlen(sf->name), NP_INO(sub_kind(d, 1 + (int)f->pos - 2)),
                         S_IFREG | (sf->store ? 0644 : 0444)))
            return 0;
    }
    return 0;
}

static const struct inode_ops np_dir_iops = { .lookup = np_lookup };
static const struct file_ops np_dir_fops = { .readdir = np_readdir };
static const struct inode_ops np_file_iops = { 0 };
static const struct file_ops np_file_fops = {
    .open = np_open,
    .read = np_read,
    .write = np_write,
    .release = np_release,
};

static const struct inode_ops sub_dir_iops = { .lookup = sub_lookup };
static const struct file_ops sub_dir_fops = { .readdir = sub_readdir };

int netproc_add_dir(const char *name, const struct netproc_file *files, int n)
{
    if (nsubs == NP_SUBDIRS || n > NP_SUB_MAX || !np_inode[NP_DIR])
        return -EBUSY;
    struct subdir *sd = &subs[nsubs];
    for (int i = 0; i <= n; i++) {
        uint32_t mode = i == 0 ? S_IFDIR | 0555 : S_IFREG | (files[i - 1].store ? 0644 : 0444);
        struct inode *ino = inode_alloc(procfs_device(), mode);
        if (!ino)
            return -ENOMEM;             /* (the inodes made so far stay unused) */
        ino->ino = NP_INO(sub_kind(nsubs, i));
        ino->nlink = i == 0 ? 2 : 1;
        ino->iops = i == 0 ? &sub_dir_iops : &np_file_iops;
        ino->fops = i == 0 ? &sub_dir_fops : &np_file_fops;
        sd->inode[i] = ino;
    }
    sd->name = name;
    sd->files = files;
    sd->n = n;
    nsubs++;                            /* last: lookups see it whole */
    return 0;
}

static struct inode *np_dir_get(void)
{
    inode_get(np_inode[NP_DIR]);
    return np_inode[NP_DIR];
}

void netproc_init(void)
{
    wq_init(&ctl_wq);
    rpc_register(RPC_SVC_FLOOD, svc_flood);
    for (int k = 0; k < NP_COUNT; k++) {
        struct inode *ino = inode_alloc(procfs_device(), np_files[k].mode);
        if (!ino) {
            printk(LOG_ERR, "netproc: no memory for /proc/cluster\n");
            return;
        }
        ino->ino = NP_INO(k);
        ino->nlink = k == NP_DIR ? 2 : 1;       /* permanent: the reference from inode_alloc stays */
        ino->iops = k == NP_DIR ? &np_dir_iops : &np_file_iops;
        ino->fops = k == NP_DIR ? &np_dir_fops : &np_file_fops;
        np_inode[k] = ino;
    }
    if (procfs_register_dir(np_files[NP_DIR].name, NP_INO(NP_DIR), np_dir_get) != 0)
        printk(LOG_ERR, "netproc: /proc/cluster could not be added\n");
}

/* ---- self-tests ---- */

static bool contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncmp(hay, needle, n) == 0)
            return true;
    return false;
}

static long read_file(const char *path, char *buf, size_t cap)
{
    struct file *f = vfs_open_kernel(path, O_RDONLY);
    if (!f)
        return -ENOENT;
    long n = vfs_read(f, buf, cap - 1);
    file_put(f);
    buf[n > 0 ? n : 0] = 0;
    return n;
}

static long write_file(const char *path, const char *text)
{
    struct file *f = vfs_open_kernel(path, O_WRONLY | O_TRUNC);
    if (!f)
        return -ENOENT;
    long n = vfs_write(f, text, strlen(text));
    file_put(f);
    return n;
}

KTEST(proc_cluster_files)
{
    static char text[4096];
    char want[32];
    long n = read_file("/proc/cluster/nodes", text, sizeof text);
    ksnprintf(want, sizeof want, "%d ", net_self());
    if (n <= 0 || strncmp(text, want, strlen(want)) != 0 || !contains(text, " up "))
        KTEST_FAIL("nodes: %ld bytes: %.60s", n, text);
    n = read_file("/proc/cluster/stats", text, sizeof text);
    if (n <= 0 || strncmp(text, "frames_sent ", 12) != 0)
        KTEST_FAIL("stats: %ld bytes: %.60s", n, text);
    /* ctl: a ping of this node itself goes through the whole RPC path, looped back locally. */
    ksnprintf(want, sizeof want, "ping %d 20\n", net_self());
    long w = write_file("/proc/cluster/ctl", want);
    n = read_file("/proc/cluster/ctl", text, sizeof text);
    unsigned long v[6];
    const char *s = text + 5;
    int got = 0;
    for (; got < 6; got++) {
        char *end;
        v[got] = kstrtoul(s, &end, 10);
        if (end == s)
            break;
        s = end;
    }
    if (w != (long)strlen(want) || strncmp(text, "ping ", 5) != 0 || got != 6 || v[1] != 20 || v[2] > v[3] ||
        v[3] > v[4] || v[4] > v[5])
        KTEST_FAIL("ping: write %ld, then %.80s", w, text);
    if (write_file("/proc/cluster/ctl", "bogus 1 2") != -EINVAL || write_file("/proc/cluster/ctl", "ping 1") != -EINVAL)
        KTEST_FAIL("bad commands accepted");
    struct file *f = vfs_open_kernel("/proc/cluster/nodes", O_WRONLY);
    if (f) {
        file_put(f);
        KTEST_FAIL("nodes opened for writing");
    }
    ksnprintf(want, sizeof want, "rpcflood %d 200\n", net_self());
    w = write_file("/proc/cluster/ctl", want);
    read_file("/proc/cluster/ctl", text, sizeof text);
    if (w != (long)strlen(want) || !contains(text, " ok "))
        KTEST_FAIL("rpcflood: write %ld, then %.100s", w, text);
    return true;
}
