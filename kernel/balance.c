/*
 * kernel/balance.c: the load-balancing policy (docs/BALANCER.md). Portable: no floating point, no
 * allocation, nothing but numbers in and decisions out, so the kernel's balancer thread
 * (kernel/balancer.c), the host unit tests (tests/unit/test_balance.c) and the simulator
 * (tools/balsim) run exactly this code.
 *
 * Arithmetic is 64-bit integer throughout; every product is bounded (inputs are clamped first) so
 * nothing overflows whatever the caller passes.
 */
#include "kernel/balance.h"
#include "kernel/string.h"

#define NS_PER_S 1000000000ull
#define LOAD_UNIT 1000000ull                /* one runnable process on the reference CPU, x1000 x1000 */

/* The extra cost of one system call forwarded home instead of run locally (a round trip on the
 * emulated link, with the deputy's work): what a process pays per call away from home. */
#define BAL_CALL_COST_NS 200000ull
/* A process's expected remaining run time is taken to be its age (a process that has run for t
 * will probably run for about t more), but at most this. */
#define BAL_HORIZON_MAX_NS (600 * NS_PER_S)
/* A process moved less than this long ago is moved for load only when no other candidate gains:
 * the moves a noisy measurement still causes then fall on different processes, not on the same
 * one back and forth. */
#define BAL_RECENT_NS (60 * NS_PER_S)
/* Assumed when the caller has no throughput measurement yet (bytes/s). */
#define BAL_MIN_THROUGHPUT 1000000ull
/* Clamps that keep every product below 2^63. */
#define BAL_SIZE_MAX (1ull << 40)           /* 1 TiB */
#define BAL_CALLS_MAX 10000000ull

void bal_default_params(struct bal_params *p)
{
    memset(p, 0, sizeof *p);
    p->period_ns = 200000000ull;            /* 200 ms: 12 moves from one node take ~2.4 s */
    p->fanout = 2;                          /* peers told per period */
    p->stale_ns = 1000000000ull;            /* 5 periods */
    p->hysteresis = 600;                    /* 0.6 of a process on the reference CPU */
    p->cooldown_ns = 5 * NS_PER_S;
    p->min_age_ns = 200000000ull;           /* one period: its CPU use has been measured once */
    p->mem_low_kb = 16 * 1024;              /* 1/8 of a 128 MiB node */
    p->io_calls_per_s = 200;                /* 200 x 200 us: 4% of its time lost away from home */
    p->smoothing = 250;                     /* a quarter per period: half-life 2.4 periods */
    p->enabled = true;
}

const char *bal_reason_name(enum bal_reason r)
{
    switch (r) {
    case BAL_NONE: return "none";
    case BAL_LOAD: return "load";
    case BAL_MEMORY: return "memory";
    case BAL_IO_HOME: return "io-home";
    }
    return "?";
}

uint32_t bal_proc_load(uint32_t speed)
{
    uint64_t l = LOAD_UNIT / (speed ? speed : 1000);
    return l ? (uint32_t)l : 1;
}

static uint32_t sat32(uint64_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

uint32_t bal_smooth(uint32_t old_load, uint32_t runnable, uint32_t speed, uint32_t weight)
{
    uint64_t sample = (uint64_t)runnable * LOAD_UNIT / (speed ? speed : 1000);
    if (sample > UINT32_MAX)
        sample = UINT32_MAX;
    if (weight > 1000)
        weight = 1000;
    int64_t diff = (int64_t)sample - (int64_t)old_load;
    int64_t step = diff * (int64_t)weight / 1000;
    /* Truncation alone would leave the average stuck short of a steady sample. */
    if (step == 0 && diff != 0 && weight != 0)
        step = diff > 0 ? 1 : -1;
    return (uint32_t)((int64_t)old_load + step);
}

/* ---- the window of freshest peers ---- */

static void win_remove(struct bal_window *w, int i)
{
    memmove(&w->peers[i], &w->peers[i + 1], (size_t)(w->n - i - 1) * sizeof w->peers[0]);
    w->n--;
}

/* A window whose count is out of range (never, unless memory was trampled) is emptied rather
 * than followed. */
static void win_check(struct bal_window *w)
{
    if (w->n < 0 || w->n > BAL_WINDOW)
        w->n = 0;
}

void bal_heard(struct bal_window *w, const struct bal_node *info)
{
    win_check(w);
    for (int i = 0; i < w->n; i++) {
        if (w->peers[i].node != info->node)
            continue;
        if (info->stamp_ns < w->peers[i].stamp_ns)
            return;                         /* older than what we have: a late message */
        win_remove(w, i);
        break;
    }
    /* Kept freshest first: the new entry goes before every entry not newer than it. */
    int pos = 0;
    while (pos < w->n && w->peers[pos].stamp_ns > info->stamp_ns)
        pos++;
    if (pos == BAL_WINDOW)
        return;                             /* full, and staler than all: it is the one dropped */
    int keep = w->n < BAL_WINDOW ? w->n : BAL_WINDOW - 1;
    memmove(&w->peers[pos + 1], &w->peers[pos], (size_t)(keep - pos) * sizeof w->peers[0]);
    w->peers[pos] = *info;
    w->n = keep + 1;
}

void bal_gossip_heard(const struct bal_params *p, struct bal_window *w, const struct bal_node *info)
{
    win_check(w);
    struct bal_node n = *info;
    n.sent_ns = 0;
    for (int i = 0; i < w->n; i++) {
        const struct bal_node *e = &w->peers[i];
        if (e->node != n.node || !e->sent_ns)
            continue;
        uint64_t hold = 2 * (p->period_ns ? p->period_ns : NS_PER_S);
        if (n.stamp_ns < e->sent_ns + hold) {
            n.sent_ns = e->sent_ns;
            if (n.load < e->load)
                n.load = e->load;
        }
        break;
    }
    bal_heard(w, &n);
}

void bal_forget(struct bal_window *w, int node)
{
    win_check(w);
    for (int i = 0; i < w->n; i++)
        if (w->peers[i].node == node) {
            win_remove(w, i);
            return;
        }
}

/* ---- random peers ---- */

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;   /* 0 is xorshift's fixed point */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

int bal_pick_peers(const int32_t *nodes, int n, int32_t self, int k, uint64_t *rnd, int32_t *out)
{
    if (k > n)
        k = n;
    if (n <= 0 || k <= 0)
        return 0;
    if ((int64_t)n > 4 * (int64_t)k + 1) {
        /* Many more nodes than picks: draw and reject self and repeats (under 1.4 draws a pick on
         * average; the bound on attempts is never reached in practice, Floyd's below is the
         * fallback), so a period costs O(k), not O(n). */
        int got = 0;
        for (int tries = 0; got < k && tries < 16 * k; tries++) {
            int32_t c = nodes[xorshift64(rnd) % (uint64_t)n];
            bool dup = c == self;
            for (int i = 0; i < got && !dup; i++)
                dup = out[i] == c;
            if (!dup)
                out[got++] = c;
        }
        if (got == k)
            return got;
    }
    int self_idx = -1;
    for (int i = 0; i < n; i++)
        if (nodes[i] == self) {
            self_idx = i;
            break;
        }
    int m = self_idx >= 0 ? n - 1 : n;      /* candidates: nodes without self, by index 0..m */
    if (k > m)
        k = m;
    /* Floyd's sampling: k distinct indices in k draws. out holds the indices until the end. */
    int got = 0;
    for (int j = m - k; j < m; j++) {
        int t = (int)(xorshift64(rnd) % (uint64_t)(j + 1));
        for (int i = 0; i < got; i++)
            if (out[i] == t) {
                t = j;                      /* j cannot have been drawn yet */
                break;
            }
        out[got++] = t;
    }
    for (int i = 0; i < got; i++)
        out[i] = nodes[self_idx >= 0 && out[i] >= self_idx ? out[i] + 1 : out[i]];
    return got;
}

/* ---- accounting of moves ---- */

static uint32_t size_kb(uint64_t bytes)
{
    if (bytes > BAL_SIZE_MAX)
        bytes = BAL_SIZE_MAX;
    return sat32((bytes + 1023) / 1024);
}

static void take_kb(uint32_t *free_kb, uint32_t kb)
{
    *free_kb = *free_kb > kb ? *free_kb - kb : 0;
}

void bal_moved_out(struct bal_node *self, struct bal_window *w, int32_t target, uint64_t size_bytes,
                   uint64_t now_ns)
{
    uint32_t mine = bal_proc_load(self->speed);
    self->load = self->load > mine ? self->load - mine : 0;
    if (self->procs)
        self->procs--;
    self->free_kb = sat32((uint64_t)self->free_kb + size_kb(size_bytes));
    if (!w)
        return;
    win_check(w);
    for (int i = 0; i < w->n; i++) {
        struct bal_node *e = &w->peers[i];
        if (e->node != target)
            continue;
        struct bal_node upd = *e;
        upd.load = sat32((uint64_t)e->load + bal_proc_load(e->speed));
        upd.procs++;
        take_kb(&upd.free_kb, size_kb(size_bytes));
        if (upd.stamp_ns < now_ns)
            upd.stamp_ns = now_ns;
        upd.sent_ns = now_ns;
        bal_heard(w, &upd);                 /* moves it to its place, freshest first */
        return;
    }
}

void bal_moved_in(struct bal_node *self, uint64_t size_bytes)
{
    self->load = sat32((uint64_t)self->load + bal_proc_load(self->speed));
    self->procs++;
    take_kb(&self->free_kb, size_kb(size_bytes));
}

/* Would a process of kb KiB leave node e above its own ushering threshold? */
static bool has_room(const struct bal_params *p, const struct bal_node *e, uint32_t kb)
{
    return (uint64_t)e->free_kb > (uint64_t)kb + p->mem_low_kb;
}

bool bal_accept(const struct bal_params *p, const struct bal_node *self, enum bal_reason reason,
                uint32_t sender_load, uint64_t size_bytes)
{
    if (!p->enabled || !has_room(p, self, size_kb(size_bytes)))
        return false;
    if (reason == BAL_LOAD) {
        uint64_t after = (uint64_t)self->load + bal_proc_load(self->speed);
        return (int64_t)sender_load - (int64_t)after > (int64_t)p->hysteresis;
    }
    return true;
}

/* ---- the decision ---- */

static bool fresh(const struct bal_params *p, const struct bal_node *self, const struct bal_node *e,
                  uint64_t now)
{
    return e->node != self->node && (e->stamp_ns >= now || now - e->stamp_ns <= p->stale_ns);
}

static bool cooling(const struct bal_params *p, const struct bal_proc *pr, uint64_t now)
{
    return pr->last_move_ns != 0 &&
           (now < pr->last_move_ns || now - pr->last_move_ns < p->cooldown_ns);
}

static uint64_t period_of(const struct bal_params *p)
{
    return p->period_ns ? p->period_ns : NS_PER_S;
}

/* Forwarded system calls per second. */
static uint64_t call_rate(const struct bal_params *p, const struct bal_proc *pr)
{
    uint64_t calls = pr->calls_fwd > BAL_CALLS_MAX ? BAL_CALLS_MAX : pr->calls_fwd;
    uint64_t r = calls * NS_PER_S / period_of(p);
    return r > BAL_CALLS_MAX ? BAL_CALLS_MAX : r;
}

static bool io_bound(const struct bal_params *p, const struct bal_proc *pr)
{
    return p->io_calls_per_s && call_rate(p, pr) > p->io_calls_per_s;
}

/* (a) Memory ushering: the largest process that some peer has room for goes to the peer with the
 * most free memory. */
static bool decide_memory(const struct bal_params *p, const struct bal_window *w,
                          const struct bal_node *self, const struct bal_proc *procs, int nprocs,
                          uint64_t now, struct bal_decision *out)
{
    const struct bal_node *to = 0;
    for (int i = 0; i < w->n; i++) {
        const struct bal_node *e = &w->peers[i];
        if (fresh(p, self, e, now) && (!to || e->free_kb > to->free_kb ||
                                       (e->free_kb == to->free_kb && e->load < to->load)))
            to = e;
    }
    if (!to)
        return false;
    const struct bal_proc *best = 0;
    for (int i = 0; i < nprocs; i++) {
        const struct bal_proc *pr = &procs[i];
        uint32_t kb = size_kb(pr->size_bytes);
        if (!pr->movable || cooling(p, pr, now) || kb == 0 || !has_room(p, to, kb))
            continue;
        if (!best || pr->size_bytes > best->size_bytes ||
            (pr->size_bytes == best->size_bytes && pr->pid < best->pid))
            best = pr;
    }
    if (!best)
        return false;
    *out = (struct bal_decision){ .pid = best->pid, .target = to->node, .reason = BAL_MEMORY,
                                  .gain = size_kb(best->size_bytes) };
    return true;
}

/* (b) A process away from home that calls home more than io_calls_per_s goes home, unless its
 * home is known to have no room for it. */
static bool decide_io(const struct bal_params *p, const struct bal_window *w,
                      const struct bal_node *self, const struct bal_proc *procs, int nprocs,
                      uint64_t now, struct bal_decision *out)
{
    if (!p->io_calls_per_s)
        return false;
    const struct bal_proc *best = 0;
    uint64_t best_rate = 0;
    for (int i = 0; i < nprocs; i++) {
        const struct bal_proc *pr = &procs[i];
        if (pr->home == self->node || pr->home < 0 || !pr->movable || cooling(p, pr, now) ||
            !io_bound(p, pr))
            continue;
        bool room = true;
        for (int j = 0; j < w->n; j++)
            if (w->peers[j].node == pr->home && fresh(p, self, &w->peers[j], now))
                room = has_room(p, &w->peers[j], size_kb(pr->size_bytes));
        if (!room)
            continue;
        uint64_t r = call_rate(p, pr);
        if (!best || r > best_rate || (r == best_rate && pr->pid < best->pid)) {
            best = pr;
            best_rate = r;
        }
    }
    if (!best)
        return false;
    *out = (struct bal_decision){ .pid = best->pid, .target = best->home, .reason = BAL_IO_HOME,
                                  .gain = (int64_t)best_rate };
    return true;
}

/* (c) Load: the fresh peer that would be least loaded with one more process; if this node is more
 * than hysteresis above that, the process that gains most from the move (net of its cost) goes. */
static bool decide_load(const struct bal_params *p, const struct bal_window *w,
                        const struct bal_node *self, const struct bal_proc *procs, int nprocs,
                        uint64_t now, uint64_t throughput, struct bal_decision *out)
{
    if (self->load == 0 || nprocs <= 0)
        return false;
    const struct bal_node *to = 0;
    uint64_t to_after = 0;
    for (int i = 0; i < w->n; i++) {
        const struct bal_node *e = &w->peers[i];
        if (!fresh(p, self, e, now))
            continue;
        uint64_t after = (uint64_t)e->load + bal_proc_load(e->speed);
        if (!to || after < to_after || (after == to_after && (e->free_kb > to->free_kb ||
                                        (e->free_kb == to->free_kb && e->node < to->node)))) {
            to = e;
            to_after = after;
        }
    }
    if (!to)
        return false;
    /* What a CPU-bound process gains: its run time scales with the load of where it runs. The
     * same inequality, seen from the target after the move, forbids moving it back. */
    int64_t diff = (int64_t)self->load - (int64_t)to_after;
    if (diff <= (int64_t)p->hysteresis)
        return false;

    uint64_t speed = self->speed ? self->speed : 1000;
    uint64_t nrun = ((uint64_t)self->load * speed + LOAD_UNIT / 2) / LOAD_UNIT;   /* runnable here */
    if (nrun == 0)
        nrun = 1;
    if (throughput == 0)
        throughput = BAL_MIN_THROUGHPUT;

    const struct bal_proc *best = 0;
    int64_t best_net = 0;
    bool best_recent = false;
    for (int i = 0; i < nprocs; i++) {
        const struct bal_proc *pr = &procs[i];
        if (!pr->movable || pr->age_ns < p->min_age_ns || cooling(p, pr, now) || pr->cpu_ns == 0)
            continue;
        if (io_bound(p, pr) && to->node != pr->home)
            continue;                       /* it belongs at home; (b) would bring it back */
        if (!has_room(p, to, size_kb(pr->size_bytes)))
            continue;
        /* How much of a CPU it would use if it had one, per mille: it got about 1/nrun here. */
        uint64_t demand = pr->cpu_ns > period_of(p) ? period_of(p) : pr->cpu_ns;
        demand = demand * nrun * 1000 / period_of(p);
        if (demand > 1000)
            demand = 1000;
        uint64_t horizon_us = (pr->age_ns > BAL_HORIZON_MAX_NS ? BAL_HORIZON_MAX_NS : pr->age_ns) / 1000;
        /* Time saved over its expected remaining life: horizon x demand x (L_here - L_there) / L_here. */
        int64_t saved_ns = (int64_t)(horizon_us * demand / 1000) * diff / (int64_t)self->load * 1000;
        uint64_t bytes = pr->size_bytes > BAL_SIZE_MAX ? BAL_SIZE_MAX : pr->size_bytes;
        int64_t cost_ns = (int64_t)(bytes * 1000000 / throughput) * 1000;
        /* Calls home: each one costs a round trip more away from home, and one less back there. */
        int64_t calls_ns = (int64_t)(call_rate(p, pr) * horizon_us * (BAL_CALL_COST_NS / 1000) / 1000);
        int64_t net = saved_ns - cost_ns;
        if (pr->home == self->node)
            net -= calls_ns;
        else if (pr->home == to->node)
            net += calls_ns;
        if (net <= 0)
            continue;
        bool recent = pr->last_move_ns && now - pr->last_move_ns < BAL_RECENT_NS;
        bool better;
        if (!best)
            better = true;
        else if (recent != best_recent)
            better = !recent;
        else
            better = net > best_net || (net == best_net && (pr->calls_fwd < best->calls_fwd ||
                                        (pr->calls_fwd == best->calls_fwd && pr->pid < best->pid)));
        if (better) {
            best = pr;
            best_net = net;
            best_recent = recent;
        }
    }
    if (!best)
        return false;
    *out = (struct bal_decision){ .pid = best->pid, .target = to->node, .reason = BAL_LOAD,
                                  .gain = best_net };
    return true;
}

bool bal_decide(const struct bal_params *p, const struct bal_window *w, const struct bal_node *self,
                const struct bal_proc *procs, int nprocs, uint64_t now_ns, uint64_t throughput,
                struct bal_decision *out)
{
    if (!p->enabled || w->n < 0 || w->n > BAL_WINDOW || nprocs <= 0)
        return false;
    if (self->free_kb < p->mem_low_kb &&
        decide_memory(p, w, self, procs, nprocs, now_ns, out))
        return true;
    if (decide_io(p, w, self, procs, nprocs, now_ns, out))
        return true;
    return decide_load(p, w, self, procs, nprocs, now_ns, throughput, out);
}
