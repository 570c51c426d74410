/*
 * kernel/balancer.c: the load-balancing kernel thread (docs/BALANCER.md). Owns this node's CPU
 * speed (calibrated at boot), its smoothed load, the gossip of load and free memory to a few random
 * peers each period (RPC 21, one-way), the window of what peers said, the sampling of the processes
 * that run here, the decisions (kernel/balance.c, the portable policy) turned into migrations, the
 * log of recent decisions, and /proc/cluster/balancer/.
 */
#include "kernel/balancer.h"
#include "kernel/balance.h"
#include "kernel/cmdline.h"
#include "kernel/errno.h"
#include "kernel/format.h"
#include "kernel/kmalloc.h"
#include "kernel/migrate.h"
#include "kernel/node.h"
#include "kernel/pmm.h"
#include "kernel/printk.h"
#include "kernel/proc.h"
#include "kernel/random.h"
#include "kernel/sched.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "net/netdev.h"
#include "net/rpc.h"

#define RPC_SVC_BAL_INFO 21
#define CALIBRATE_LOOPS 2000000u
#define REF_CALIBRATE_NS 4000000ull     /* the reference CPU (speed 1000) runs the loop this long */
#define LOG_SIZE 32
#define MAX_CANDIDATES 512

struct log_entry {
    uint64_t at_ms;
    int32_t pid, from, to;
    enum bal_reason reason;
    char comm[16];
};

static struct bal_params params;
static struct bal_window window;        /* under irq_save: rpc workers write it */
static uint32_t speed, speed_measured;
static struct bal_node self;            /* what this node says of itself; load: the smoothing state */
static uint32_t last_free_kb;
static uint64_t rnd;
static struct log_entry log_ring[LOG_SIZE];
static unsigned log_next;
static struct {
    uint64_t periods, gossip_sent, gossip_received, decisions[4], asked, refused_here, stayed;
} st;

/* ---- measuring ---- */

/* The time of one run of the calibration loop. */
static uint64_t time_loop(uint32_t loops)
{
    volatile uint64_t x = loops;
    uint64_t t0 = clock_ns();
    for (uint32_t i = 0; i < loops; i++)
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    return clock_ns() - t0;
}

/* Interference (other guests on the host, the emulator translating code) only ever slows a run
 * down, so the speed is the fastest run seen: several at boot, then one short one every period. */
static void calibrate(uint32_t loops)
{
    uint64_t t = time_loop(loops) * (CALIBRATE_LOOPS / loops);
    uint64_t s = t ? REF_CALIBRATE_NS * 1000 / t : 1000;
    s = s < 50 ? 50 : s > 100000 ? 100000 : s;
    if (s > speed_measured)
        speed_measured = (uint32_t)s;
    speed = speed_measured;
}

/* A peer measured its CPU within 12% above ours: the same kind of CPU, measured with less
 * interference. Taking its figure makes identical nodes agree exactly, so noise in the calibration
 * never makes one of them look faster (and attract an extra process). Interrupts off. */
static void heard_speed(uint32_t peer_speed)
{
    if (peer_speed > speed_measured && (uint64_t)peer_speed * 100 <= (uint64_t)speed_measured * 112) {
        speed_measured = peer_speed;
        speed = peer_speed;
    }
}

struct sample {
    struct bal_proc *procs;
    int n, runnable;
    uint64_t now;
};

/* Processes that run here (not deputies): how many want the CPU, and each one's recent use. */
static bool sample_one(struct process *p, void *arg)
{
    struct sample *s = arg;
    if (p->kind == PROC_DEPUTY || p->state != PROC_RUNNING || !p->task || p->pid <= 1)
        return true;
    if (p->task->state == TASK_RUNNABLE && p->migrate_to < 0)
        s->runnable++;                  /* (one asked to leave counts where it goes already) */
    uint64_t ticks = p->utime_ticks + p->stime_ticks;
    uint64_t cpu = (ticks - p->bal_prev_ticks) * (NSEC_PER_SEC / HZ);
    uint64_t calls = p->calls_home - p->bal_prev_calls;
    p->bal_prev_ticks = ticks;
    p->bal_prev_calls = p->calls_home;
    if (s->n == MAX_CANDIDATES)
        return true;
    uint64_t since = p->start_ns;       /* its age predicts how long it will still run */
    s->procs[s->n++] = (struct bal_proc){
        .pid = p->pid,
        .home = p->kind == PROC_REMOTE ? p->home : node_self(),
        .cpu_ns = cpu,
        .calls_fwd = calls,
        .age_ns = s->now - since,
        .size_bytes = proc_rss_pages(p) * 4096,
        .last_move_ns = p->moved_ns,
        .movable = !p->locked && p->mm && !p->mm_borrowed && !p->vfork_parent && p->migrate_to < 0 &&
                   p->precopy == PRECOPY_NONE,
    };
    return true;
}

/* ---- gossip ---- */

struct wire_info {
    int32_t node;
    uint32_t load, speed, free_kb, procs;
};

static int svc_info(int from, const void *req, size_t len, void *resp, size_t cap, size_t *resp_len)
{
    (void)resp;
    (void)cap;
    (void)resp_len;
    struct wire_info w;
    if (len != sizeof w)
        return -EINVAL;
    memcpy(&w, req, sizeof w);
    if (w.node != from || w.speed == 0 || w.node == node_self())
        return -EINVAL;
    struct bal_node n = { w.node, w.load, w.speed, w.free_kb, w.procs, clock_ns(), 0 };
    uint64_t f = irq_save();
    bal_gossip_heard(&params, &window, &n);
    heard_speed(w.speed);
    st.gossip_received++;
    irq_restore(f);
    return 0;
}

static void peer_event(int node, bool up, uint32_t incarnation, void *ctx)
{
    (void)incarnation;
    (void)ctx;
    if (!up)
        bal_forget(&window, node);      /* engine context: interrupts are off already */
}

static void gossip(const struct bal_node *self)
{
    int32_t nodes[64], peers[8];
    int n = 0;
    uint64_t up = net_up_mask();
    for (int k = 0; k < 64; k++)
        if ((up & (1ull << k)) && k != node_self())
            nodes[n++] = k;
    int k = bal_pick_peers(nodes, n, node_self(), (int)(params.fanout < 8 ? params.fanout : 8), &rnd, peers);
    struct wire_info w = { self->node, self->load, self->speed, self->free_kb, self->procs };
    for (int i = 0; i < k; i++)
        if (rpc_cast(peers[i], RPC_SVC_BAL_INFO, &w, sizeof w) == 0)
            st.gossip_sent++;
}

/* ---- deciding ---- */

static void record(const struct bal_decision *d, const char *comm, uint64_t size)
{
    uint64_t f = irq_save();
    struct log_entry *e = &log_ring[log_next++ % LOG_SIZE];
    *e = (struct log_entry){ clock_ns() / 1000000, d->pid, node_self(), d->target, d->reason, { 0 } };
    strlcpy(e->comm, comm, sizeof e->comm);
    st.decisions[d->reason < 4 ? d->reason : 0]++;
    /* It counts there, not here, from now on (if the move fails, balancer_stayed undoes it). */
    bal_moved_out(&self, &window, d->target, size, clock_ns());
    irq_restore(f);
}

/* One decision; true if it asked a process to move (then the caller may decide again: the move
 * already counts at the target and not here). */
static bool decide_one(struct sample *s)
{
    struct bal_window w;
    uint64_t f = irq_save();
    w = window;
    struct bal_node me = self;         /* (also what the target is told) */
    irq_restore(f);
    struct bal_decision d;
    if (!bal_decide(&params, &w, &me, s->procs, s->n, s->now, migrate_throughput(), &d))
        return false;
    uint64_t size = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->procs[i].pid == d.pid) {
            size = s->procs[i].size_bytes;
            s->procs[i].movable = false;        /* chosen: not again this period */
        }
    }
    char comm[16] = "?";
    f = irq_save();
    struct process *p = proc_find(d.pid);
    bool ok = p && p->kind != PROC_DEPUTY && p->state == PROC_RUNNING;
    if (ok) {
        memcpy(comm, p->comm, sizeof comm);
        p->migrate_auto = true;
        p->migrate_reason = d.reason;
        p->migrate_load = me.load;
    }
    irq_restore(f);
    if (ok && migrate_request(p, d.target) == 0) {
        st.asked++;
        record(&d, comm, size);
        return true;
    }
    return false;
}

/* A node far above the others sends several processes in one period, each decided with the
 * previous ones already counted where they go. */
#define MOVES_PER_PERIOD 1

static void decide(struct sample *s)
{
    for (int i = 0; i < MOVES_PER_PERIOD && decide_one(s); i++)
        ;
}

static void balancer_thread(void *arg)
{
    (void)arg;
    struct sample s = { kmalloc(sizeof(struct bal_proc) * MAX_CANDIDATES), 0, 0, 0 };
    if (!s.procs) {
        printk(LOG_ERR, "balancer: no memory; not balancing\n");
        return;
    }
    for (;;) {
        sleep_ns(params.period_ns);
        calibrate(CALIBRATE_LOOPS / 8);
        s.n = s.runnable = 0;
        s.now = clock_ns();
        proc_for_each(sample_one, &s);
        uint64_t f = irq_save();
        self.load = bal_smooth(self.load, (uint32_t)s.runnable, speed, params.smoothing);
        self.speed = speed;
        self.free_kb = last_free_kb = (uint32_t)(pmm_free_count() * 4);
        self.procs = (uint32_t)s.n;
        self.stamp_ns = s.now;
        struct bal_node me = self;
        irq_restore(f);
        st.periods++;
        if (net_nodes_up() < 2 || !params.enabled)
            continue;                   /* off: silent too (peers forget this node's figures) */
        gossip(&me);
        decide(&s);
    }
}

uint32_t balancer_load(void) { return self.load; }
uint32_t balancer_speed(void) { return speed; }

bool balancer_accepts(int reason, uint32_t sender_load, uint64_t size_bytes)
{
    uint64_t f = irq_save();
    self.free_kb = (uint32_t)(pmm_free_count() * 4);
    bool ok = bal_accept(&params, &self, (enum bal_reason)reason, sender_load, size_bytes);
    if (ok)
        bal_moved_in(&self, size_bytes);    /* it counts here at once, before the smoothing sees it */
    else
        st.refused_here++;
    irq_restore(f);
    return ok;
}

void balancer_stayed(uint64_t size_bytes)
{
    uint64_t f = irq_save();
    bal_moved_in(&self, size_bytes);
    st.stayed++;
    irq_restore(f);
}


/* ---- /proc/cluster/balancer ---- */

struct tunable {
    const char *name;
    uint64_t *u64;                      /* ns, shown and set in ms */
    uint32_t *u32;
};

static size_t show_log(char *buf, size_t cap)
{
    size_t n = 0;
    uint64_t f = irq_save();
    unsigned first = log_next > LOG_SIZE ? log_next - LOG_SIZE : 0;
    for (unsigned i = first; i < log_next && n + 96 < cap; i++) {
        const struct log_entry *e = &log_ring[i % LOG_SIZE];
        n += (size_t)ksnprintf(buf + n, cap - n, "%lu.%03lu %d %s %d -> %d %s\n", (unsigned long)(e->at_ms / 1000),
                               (unsigned long)(e->at_ms % 1000), e->pid, e->comm, e->from, e->to,
                               bal_reason_name(e->reason));
    }
    irq_restore(f);
    return n;
}

static size_t show_status(char *buf, size_t cap)
{
    size_t n = (size_t)ksnprintf(buf, cap,
                                 "speed %u\nload %u\nfree_kb %u\nthroughput_Bps %lu\nperiods %lu\ngossip_sent %lu\n"
                                 "gossip_received %lu\nmoves_load %lu\nmoves_memory %lu\nmoves_io_home %lu\n"
                                 "asked %lu\nrefused_here %lu\nstayed %lu\n",
                                 speed, self.load, last_free_kb, (unsigned long)migrate_throughput(),
                                 (unsigned long)st.periods, (unsigned long)st.gossip_sent,
                                 (unsigned long)st.gossip_received, (unsigned long)st.decisions[BAL_LOAD],
                                 (unsigned long)st.decisions[BAL_MEMORY], (unsigned long)st.decisions[BAL_IO_HOME],
                                 (unsigned long)st.asked, (unsigned long)st.refused_here,
                                 (unsigned long)st.stayed);
    uint64_t f = irq_save();
    uint64_t now = clock_ns();
    for (int i = 0; i < window.n && n + 80 < cap; i++) {
        const struct bal_node *p = &window.peers[i];
        n += (size_t)ksnprintf(buf + n, cap - n, "peer %d load %u speed %u free_kb %u procs %u age_ms %lu\n", p->node,
                               p->load, p->speed, p->free_kb, p->procs,
                               (unsigned long)((now - p->stamp_ns) / 1000000));
    }
    irq_restore(f);
    return n;
}

static size_t show_u32(char *buf, size_t cap, uint32_t v) { return (size_t)ksnprintf(buf, cap, "%u\n", v); }
static size_t show_ms(char *buf, size_t cap, uint64_t ns)
{
    return (size_t)ksnprintf(buf, cap, "%lu\n", (unsigned long)(ns / 1000000));
}

static long parse(const char *text, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v = kstrtoul(text, &end, 10);
    if (!*text || *end || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

#define TUNABLE_U32(field, max)                                              \
    static size_t show_##field(char *b, size_t c) { return show_u32(b, c, params.field); } \
    static long store_##field(const char *t)                                 \
    {                                                                        \
        unsigned long v;                                                     \
        long r = parse(t, max, &v);                                          \
        if (!r)                                                              \
            params.field = (uint32_t)v;                                      \
        return r;                                                            \
    }
#define TUNABLE_MS(field, min_ms, max_ms)                                    \
    static size_t show_##field(char *b, size_t c) { return show_ms(b, c, params.field); } \
    static long store_##field(const char *t)                                 \
    {                                                                        \
        unsigned long v;                                                     \
        long r = parse(t, max_ms, &v);                                       \
        if (!r && v + 1 < (unsigned long)(min_ms) + 1)                       \
            r = -EINVAL;                                                     \
        if (!r)                                                              \
            params.field = (uint64_t)v * 1000000ull;                         \
        return r;                                                            \
    }

TUNABLE_U32(fanout, 8)
TUNABLE_U32(hysteresis, 100000)
TUNABLE_U32(mem_low_kb, 1u << 30)
TUNABLE_U32(io_calls_per_s, 1000000)
TUNABLE_U32(smoothing, 1000)
TUNABLE_MS(period_ns, 10, 60000)
TUNABLE_MS(cooldown_ns, 0, 3600000)
TUNABLE_MS(min_age_ns, 0, 3600000)

static size_t show_enabled(char *b, size_t c) { return show_u32(b, c, params.enabled); }
static long store_enabled(const char *t)
{
    unsigned long v;
    long r = parse(t, 1, &v);
    if (!r)
        params.enabled = v;
    return r;
}

static const struct netproc_file files[] = {
    { "enabled", show_enabled, store_enabled },
    { "period_ms", show_period_ns, store_period_ns },
    { "fanout", show_fanout, store_fanout },
    { "hysteresis", show_hysteresis, store_hysteresis },
    { "cooldown_ms", show_cooldown_ns, store_cooldown_ns },
    { "min_age_ms", show_min_age_ns, store_min_age_ns },
    { "mem_low_kb", show_mem_low_kb, store_mem_low_kb },
    { "io_calls_per_s", show_io_calls_per_s, store_io_calls_per_s },
    { "smoothing", show_smoothing, store_smoothing },
    { "status", show_status, NULL },
    { "log", show_log, NULL },
};

void balancer_init(const struct boot_options *o)
{
    bal_default_params(&params);
    params.enabled = o->balance;
    self.node = node_self();
    for (int round = 0; round < 10; round++) {
        if (round)
            msleep(10);
        calibrate(CALIBRATE_LOOPS);
    }
    random_bytes(&rnd, sizeof rnd);
    rnd |= 1;
    /* A self-test boot measures the kernel alone (fairness, memory): no balancer thread there. */
    if (rpc_register(RPC_SVC_BAL_INFO, svc_info) != 0 || net_register_peer_notifier(peer_event, NULL) != 0 ||
        netproc_add_dir("balancer", files, (int)(sizeof files / sizeof files[0])) != 0 ||
        (!o->ktest && !kthread_create("balancer", balancer_thread, NULL)))
        printk(LOG_ERR, "balancer: cannot start; this node will not balance\n");
    printk(LOG_INFO, "balancer: CPU speed %u (1000 = reference), %s\n", speed, params.enabled ? "on" : "off");
}
