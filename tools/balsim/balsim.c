/*
 * tools/balsim/balsim.c: a discrete-event simulation of Shoal's load balancing, driving the
 * kernel's own policy (kernel/balance.c, compiled for the host) on N simulated nodes.
 *
 * Model (docs/BALANCER.md "Simulation"):
 * - Nodes run their processes by processor sharing at their speed (1000 = reference CPU).
 *   Every period (the first at a random phase) a node measures its run queue (bal_smooth; with
 *   --noise, a measurement sees one more runnable task now and then), tells its load and free
 *   memory to `fanout` random peers (bal_pick_peers; arrival `delay` later, bal_heard; with
 *   --forward K the message also carries K of the sender's freshest window entries, as MOSIX's
 *   load vector halves), then asks bal_decide for a move (--moves K: up to K calls).
 * - A move: the process stops running at once (bal_moved_out); the offer reaches the target after
 *   `delay`; the target checks it (bal_accept) and either refuses (the process resumes at the
 *   source `delay` later) or takes it (bal_moved_in) and the process runs there after
 *   2 x delay + size / throughput, during which it runs nowhere. Processes on their way count in
 *   the target's run queue; a new process counts at once (bal_moved_in), as the kernel does.
 * - Processes are CPU-bound; in churn one in ten also calls home 300 times a second.
 * Scenarios: burst (every process forked at node 0, 5 ms apart: the "fork and forget"),
 * hotspot (one node in 16 holds everything), random (0..2 x ppn processes per node), churn
 * (Poisson arrivals at a quarter of the nodes, exponential run times of mean 10 s, load
 * ppn/(ppn+1) of the cluster; the only one where processes finish).
 * Measured every 10 ms: the spread (max - min) of the number of processes per node (a moving one
 * counts at its target once accepted). Reported: when the spread fell to <= 1 (and <= 2) for good,
 * migrations (total, the most of one process), refusals, the spread and standard deviation at the
 * end and their mean over the second half, and for churn the mean slowdown (time in the system /
 * CPU time needed alone on a reference CPU). Everything derives from --seed: the same arguments
 * give the same output on any machine.
 */
#include "kernel/balance.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ull
#define SEC 1000000000ull
#define FOREVER (UINT64_MAX / 4)
#define FORWARD_MAX 4

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    if (!p) {
        perror("balsim");
        exit(2);
    }
    return p;
}

/* ---- random numbers (splitmix64: seeds; xorshift64*: draws) ---- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}
static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }
static double rnd_unit(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }  /* [0,1) */
static uint64_t rnd_exp(uint64_t mean) { return (uint64_t)(-log(1.0 - rnd_unit()) * (double)mean); }

/* ---- the model ---- */

enum pstate { P_RUN, P_MOVING, P_DONE };

struct proc {
    int id, home, node;                   /* node: where it counts (the target once accepted) */
    int from;                             /* while moving: the source */
    enum pstate state;
    uint64_t work;                        /* reference-CPU ns left (FOREVER: never ends) */
    uint64_t work0;
    uint64_t size, calls_per_s;
    uint64_t created, last_move, done_at;
    uint64_t cpu_period;                  /* CPU ns since its node's last tick */
    int moves;
    int slot;                             /* index in its node's run list */
};

struct node {
    uint32_t speed;
    uint64_t mem_kb, used_kb;
    struct bal_node self;
    struct bal_window win;
    uint64_t rnd;
    int *run, nrun, cap;                  /* running processes */
    int count;                            /* processes it has (running, or moving to it) */
    uint64_t last_adv;                    /* CPU accounted up to here */
    uint64_t finish_ver;
    int incoming;                         /* accepted moves still on their way here */
};

enum evtype { EV_TICK, EV_OFFER, EV_REFUSED, EV_ARRIVE, EV_FINISH, EV_SPAWN, EV_SAMPLE };

struct event {
    uint64_t t, seq;
    enum evtype type;
    int a, b;                             /* node / process / ... */
    uint64_t v;
};

/* Gossip messages all take the same delay, so they arrive in the order sent: a FIFO, apart from
 * the heap (most events are gossip, and they are the big ones). */
struct gossip {
    uint64_t t, seq;
    int to, ninfo;
    struct bal_node info[1 + FORWARD_MAX];   /* the sender's own entry, then forwarded ones */
};

struct config {
    int n;
    const char *scenario;
    uint64_t seed;
    uint64_t duration;                    /* 0: the scenario's default */
    int ppn;                              /* processes per node, on average */
    uint64_t delay;
    uint64_t throughput;                  /* bytes/s */
    uint64_t mem_kb;
    int moves;                            /* bal_decide calls per period */
    int forward;                          /* window entries passed on with each gossip message */
    int noise;                            /* % of measurements that see one more runnable task */
    bool off;
    struct bal_params par;
    const char *data;
    bool json;
    bool trace;                           /* every move on stderr */
    const char *label;
};

static struct config cfg;
static struct node *nodes;
static struct proc *procs;
static int nprocs, procs_cap;
static int32_t *node_ids;
static struct event *heap;
static size_t heap_n, heap_cap;
static uint64_t seq_next, now;
static struct gossip *fifo;
static size_t fifo_head, fifo_n, fifo_cap;

static struct gossip *fifo_push(void)
{
    if (fifo_n == fifo_cap) {
        size_t ncap = fifo_cap ? fifo_cap * 2 : 1024;
        struct gossip *nf = xcalloc(ncap, sizeof *nf);
        for (size_t i = 0; i < fifo_n; i++)
            nf[i] = fifo[(fifo_head + i) % fifo_cap];
        free(fifo);
        fifo = nf;
        fifo_cap = ncap;
        fifo_head = 0;
    }
    struct gossip *g = &fifo[(fifo_head + fifo_n++) % fifo_cap];
    g->seq = seq_next++;
    return g;
}

/* results */
static uint64_t migrations, refusals, by_reason[4];
/* convergence: the first sample after the last one over the bound (1, and 2 processes) */
static uint64_t first_good_after[2];
static bool ever_bad[2];
static double sum_maxmin, sum_sd;
static uint64_t nsamples_late;
static FILE *data;
static uint64_t next_data_at;
static uint64_t sample_ns;                /* imbalance is measured this often: 10 ms, or 10^4 times */

/* ---- event queue (binary heap on time, then insertion order) ---- */

static bool ev_before(const struct event *x, const struct event *y)
{
    return x->t < y->t || (x->t == y->t && x->seq < y->seq);
}

static void ev_push(struct event e)
{
    if (heap_n == heap_cap) {
        heap_cap = heap_cap ? heap_cap * 2 : 1024;
        heap = realloc(heap, heap_cap * sizeof *heap);
        if (!heap) {
            perror("balsim");
            exit(2);
        }
    }
    e.seq = seq_next++;
    size_t i = heap_n++;
    while (i > 0 && ev_before(&e, &heap[(i - 1) / 2])) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = e;
}

static struct event ev_pop(void)
{
    struct event top = heap[0], last = heap[--heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= heap_n)
            break;
        if (c + 1 < heap_n && ev_before(&heap[c + 1], &heap[c]))
            c++;
        if (!ev_before(&heap[c], &last))
            break;
        heap[i] = heap[c];
        i = c;
    }
    if (heap_n)
        heap[i] = last;
    return top;
}

static void at(uint64_t t, enum evtype type, int a, int b, uint64_t v)
{
    ev_push((struct event){ .t = t, .type = type, .a = a, .b = b, .v = v });
}

/* ---- CPU: processor sharing ---- */

/* Accounts the CPU each running process of node k got since the last call. */
static void advance(int k)
{
    struct node *nd = &nodes[k];
    uint64_t dt = now - nd->last_adv;
    nd->last_adv = now;
    if (!dt || !nd->nrun)
        return;
    uint64_t share = dt / (uint64_t)nd->nrun;
    uint64_t work = dt * nd->speed / 1000 / (uint64_t)nd->nrun;
    for (int i = 0; i < nd->nrun; i++) {
        struct proc *p = &procs[nd->run[i]];
        p->cpu_period += share;
        if (p->work != FOREVER)
            p->work = p->work > work ? p->work - work : 0;
    }
}

/* After any change of node k's run list: when does its next process finish? */
static void plan_finish(int k)
{
    struct node *nd = &nodes[k];
    uint64_t least = FOREVER;
    for (int i = 0; i < nd->nrun; i++)
        if (procs[nd->run[i]].work < least)
            least = procs[nd->run[i]].work;
    nd->finish_ver++;
    if (least == FOREVER)
        return;
    uint64_t dt = (least * 1000 * (uint64_t)nd->nrun + nd->speed - 1) / nd->speed;
    at(now + dt, EV_FINISH, k, 0, nd->finish_ver);
}

static void run_add(int k, int pid)
{
    struct node *nd = &nodes[k];
    if (nd->nrun == nd->cap) {
        nd->cap = nd->cap ? nd->cap * 2 : 16;
        nd->run = realloc(nd->run, (size_t)nd->cap * sizeof *nd->run);
        if (!nd->run) {
            perror("balsim");
            exit(2);
        }
    }
    procs[pid].slot = nd->nrun;
    nd->run[nd->nrun++] = pid;
    procs[pid].state = P_RUN;
    procs[pid].node = k;
}

static void run_remove(int k, int pid)
{
    struct node *nd = &nodes[k];
    int s = procs[pid].slot;
    nd->run[s] = nd->run[--nd->nrun];
    procs[nd->run[s]].slot = s;
}

static int spawn(int k, uint64_t work, uint64_t size, uint64_t calls)
{
    if (nprocs == procs_cap) {
        procs_cap = procs_cap ? procs_cap * 2 : 1024;
        procs = realloc(procs, (size_t)procs_cap * sizeof *procs);
        if (!procs) {
            perror("balsim");
            exit(2);
        }
    }
    int id = nprocs++;
    procs[id] = (struct proc){ .id = id, .home = k, .work = work, .work0 = work, .size = size,
                               .calls_per_s = calls, .created = now };
    advance(k);
    run_add(k, id);
    bal_moved_in(&nodes[k].self, 0);      /* a new process counts at once, as one arriving */
    nodes[k].count++;
    nodes[k].used_kb += size / 1024;
    plan_finish(k);
    return id;
}

/* Sizes: log-uniform from 256 KiB to 16 MiB. */
static uint64_t rnd_size(void)
{
    return (uint64_t)(262144.0 * pow(64.0, rnd_unit())) & ~4095ull;
}

/* ---- the balancer, as kernel/balancer.c runs it ---- */

static void tick(int k)
{
    struct node *nd = &nodes[k];
    uint64_t period = cfg.par.period_ns;
    advance(k);
    /* processes on their way here count as runnable: they will be in a moment, and the target
     * already counted them when it accepted them (bal_moved_in) */
    uint32_t runnable = (uint32_t)(nd->nrun + nd->incoming);
    if (cfg.noise && rnd_below(100) < (uint64_t)cfg.noise)
        runnable++;                       /* a daemon or a shell command that happened to run */
    nd->self.load = bal_smooth(nd->self.load, runnable, nd->speed, cfg.par.smoothing);
    nd->self.free_kb = (uint32_t)(nd->mem_kb > nd->used_kb ? nd->mem_kb - nd->used_kb : 0);
    nd->self.procs = (uint32_t)nd->nrun;
    nd->self.stamp_ns = now;

    int32_t to[64];
    int fan = cfg.par.fanout < 64 ? (int)cfg.par.fanout : 64;
    int got = bal_pick_peers(node_ids, cfg.n, k, fan, &nd->rnd, to);
    for (int i = 0; i < got; i++) {
        struct gossip *e = fifo_push();
        e->t = now + cfg.delay;
        e->to = to[i];
        e->ninfo = 1;
        e->info[0] = nd->self;
        /* MOSIX-style: also pass on the freshest entries heard (not the receiver's own) */
        for (int j = 0; j < nd->win.n && e->ninfo <= cfg.forward; j++) {
            const struct bal_node *w = &nd->win.peers[j];
            if (w->node != to[i] && now - w->stamp_ns <= cfg.par.stale_ns) {
                e->info[e->ninfo] = *w;
                e->info[e->ninfo++].sent_ns = 0;        /* the sender's sends are not the receiver's */
            }
        }
    }

    struct bal_proc *bp = xcalloc((size_t)nd->nrun, sizeof *bp);
    int n = nd->nrun;
    for (int i = 0; i < n; i++) {
        struct proc *p = &procs[nd->run[i]];
        bp[i] = (struct bal_proc){ .pid = p->id, .home = p->home, .cpu_ns = p->cpu_period,
                                   .calls_fwd = p->calls_per_s * period / SEC,
                                   .age_ns = now - p->created, .size_bytes = p->size,
                                   .last_move_ns = p->last_move, .movable = true };
        p->cpu_period = 0;
    }
    for (int m = 0; !cfg.off && m < cfg.moves; m++) {
        struct bal_decision d;
        if (!bal_decide(&cfg.par, &nd->win, &nd->self, bp, n, now, cfg.throughput, &d))
            break;
        struct proc *p = &procs[d.pid];
        if (d.target < 0 || d.target >= cfg.n || p->state != P_RUN || p->node != k) {
            fprintf(stderr, "balsim: bad decision: pid %d target %d\n", d.pid, d.target);
            exit(2);
        }
        uint32_t sender_load = nd->self.load;
        run_remove(k, p->id);
        p->state = P_MOVING;
        p->from = k;
        bal_moved_out(&nd->self, &nd->win, d.target, p->size, now);
        by_reason[d.reason]++;
        if (cfg.trace)
            fprintf(stderr, "%9.3f move pid %d %d->%d (%s) load %u->%u gain %" PRId64 "\n",
                    (double)now / SEC, d.pid, k, d.target, bal_reason_name(d.reason), sender_load,
                    nd->self.load, d.gain);
        struct event e = { .t = now + cfg.delay, .type = EV_OFFER, .a = d.target, .b = p->id,
                           .v = ((uint64_t)d.reason << 32) | sender_load };
        ev_push(e);
        /* it is no longer here: take it out of what the next call sees */
        for (int i = 0; i < n; i++)
            if (bp[i].pid == d.pid) {
                bp[i] = bp[--n];
                break;
            }
    }
    free(bp);
    plan_finish(k);
    at(now + period, EV_TICK, k, 0, 0);
}

static void offer(int k, int pid, enum bal_reason reason, uint32_t sender_load)
{
    struct node *nd = &nodes[k];
    struct proc *p = &procs[pid];
    nd->self.free_kb = (uint32_t)(nd->mem_kb > nd->used_kb ? nd->mem_kb - nd->used_kb : 0);
    if (!bal_accept(&cfg.par, &nd->self, reason, sender_load, p->size)) {
        refusals++;
        if (cfg.trace)
            fprintf(stderr, "%9.3f node %d refuses pid %d (its load %u, sender's %u)\n",
                    (double)now / SEC, k, pid, nd->self.load, sender_load);
        at(now + cfg.delay, EV_REFUSED, p->from, pid, 0);
        return;
    }
    bal_moved_in(&nd->self, p->size);
    nd->incoming++;
    nd->used_kb += p->size / 1024;
    nd->count++;
    nodes[p->from].count--;
    p->node = k;
    at(now + 2 * cfg.delay + p->size * SEC / cfg.throughput, EV_ARRIVE, k, pid, 0);
}

static void refused(int k, int pid)
{
    advance(k);
    run_add(k, pid);
    bal_moved_in(&nodes[k].self, procs[pid].size);
    plan_finish(k);
}

static void arrive(int k, int pid)
{
    struct proc *p = &procs[pid];
    struct node *src = &nodes[p->from];
    src->used_kb -= p->size / 1024;
    nodes[k].incoming--;
    advance(k);
    run_add(k, pid);
    p->last_move = now;
    p->moves++;
    if (cfg.trace)
        fprintf(stderr, "%9.3f pid %d arrives at %d (move %d); counts:", (double)now / SEC, pid, k,
                p->moves);
    for (int i = 0; cfg.trace && i < cfg.n && i < 32; i++)
        fprintf(stderr, " %d", nodes[i].count);
    if (cfg.trace)
        fprintf(stderr, "\n");
    migrations++;
    plan_finish(k);
}

static void finish(int k, uint64_t ver)
{
    struct node *nd = &nodes[k];
    if (ver != nd->finish_ver)
        return;
    advance(k);
    for (int i = 0; i < nd->nrun;) {
        struct proc *p = &procs[nd->run[i]];
        if (p->work == 0) {
            run_remove(k, p->id);
            p->state = P_DONE;
            p->done_at = now;
            nd->count--;
            nd->used_kb -= p->size / 1024;
        } else {
            i++;
        }
    }
    plan_finish(k);
}

/* ---- scenarios ---- */

static uint64_t churn_mean_work, churn_gap;
static int churn_hot;

static void churn_next(void)
{
    at(now + rnd_exp(churn_gap), EV_SPAWN, (int)rnd_below((uint64_t)churn_hot), 0, 0);
}

static void setup(void)
{
    int n = cfg.n, total = cfg.n * cfg.ppn;
    const char *s = cfg.scenario;
    if (!strcmp(s, "burst")) {
        /* forked one after another by a shell loop at node 0, 5 ms apart */
        for (int i = 0; i < total; i++)
            at((uint64_t)i * 5 * MS, EV_SPAWN, 0, 1, 0);
    } else if (!strcmp(s, "hotspot")) {
        int hot = n >= 16 ? n / 16 : 1;
        for (int i = 0; i < total; i++)
            spawn((i % hot) * (n / hot), FOREVER, rnd_size(), 0);
    } else if (!strcmp(s, "random")) {
        for (int k = 0; k < n; k++) {
            int c = (int)rnd_below(2 * (uint64_t)cfg.ppn + 1);
            for (int i = 0; i < c; i++)
                spawn(k, FOREVER, rnd_size(), 0);
        }
    } else if (!strcmp(s, "churn")) {
        /* a quarter of the nodes get every arrival, at a rate that would keep the whole cluster
         * busy ppn/(ppn+1) of the time; one process in 10 calls home 300 times a second */
        churn_hot = n >= 4 ? n / 4 : 1;
        churn_mean_work = 10 * SEC;
        double per_node_rate = (double)cfg.ppn / (cfg.ppn + 1) / ((double)churn_mean_work / SEC);
        churn_gap = (uint64_t)((double)SEC / (per_node_rate * n));
        churn_next();
    } else {
        fprintf(stderr, "balsim: unknown scenario %s (burst, hotspot, random, churn)\n", s);
        exit(2);
    }
}

static uint64_t default_duration(void)
{
    if (!strcmp(cfg.scenario, "burst")) {
        /* one move per period out of node 0: about total x period, then some */
        uint64_t d = (uint64_t)cfg.n * (uint64_t)cfg.ppn * cfg.par.period_ns * 3 / 2 + 20 * SEC;
        return d;
    }
    if (!strcmp(cfg.scenario, "random"))
        return 60 * SEC;
    return 120 * SEC;
}

/* ---- measurement ---- */

static void sample(void)
{
    int mx = -1, mn = 1 << 30;
    double sum = 0, sq = 0;
    for (int k = 0; k < cfg.n; k++) {
        int c = nodes[k].count;
        mx = c > mx ? c : mx;
        mn = c < mn ? c : mn;
        sum += c;
        sq += (double)c * c;
    }
    double mean = sum / cfg.n, sd = sqrt(sq / cfg.n - mean * mean > 0 ? sq / cfg.n - mean * mean : 0);
    for (int b = 0; b < 2; b++) {
        if (mx - mn > b + 1) {
            ever_bad[b] = true;
            first_good_after[b] = 0;
        } else if (!first_good_after[b]) {
            first_good_after[b] = now;
        }
    }
    if (now >= cfg.duration / 2) {        /* the steady half, for churn */
        sum_maxmin += mx - mn;
        sum_sd += sd;
        nsamples_late++;
    }
    if (data && now >= next_data_at) {
        fprintf(data, "%.2f %d %.3f %" PRIu64 "\n", (double)now / SEC, mx - mn, sd, migrations);
        next_data_at = now + (now / 100 > 100 * MS ? now / 100 : 100 * MS);  /* 1% steps later on */
    }
    at(now + sample_ns, EV_SAMPLE, 0, 0, 0);
}

static void report(void)
{
    int mx = -1, mn = 1 << 30, maxmoves = 0, moved = 0, done = 0;
    double sum = 0, sq = 0, slow = 0;
    for (int k = 0; k < cfg.n; k++) {
        int c = nodes[k].count;
        mx = c > mx ? c : mx;
        mn = c < mn ? c : mn;
        sum += c;
        sq += (double)c * c;
    }
    double mean = sum / cfg.n, var = sq / cfg.n - mean * mean;
    double sd = sqrt(var > 0 ? var : 0);
    for (int i = 0; i < nprocs; i++) {
        maxmoves = procs[i].moves > maxmoves ? procs[i].moves : maxmoves;
        moved += procs[i].moves > 0;
        if (procs[i].state == P_DONE) {
            done++;
            slow += (double)(procs[i].done_at - procs[i].created) / (double)procs[i].work0;
        }
    }
    /* converged: the last sample is within the bound, since first_good_after (or the start) */
    double conv[2];
    for (int b = 0; b < 2; b++) {
        conv[b] = -1;
        if (first_good_after[b] || !ever_bad[b])
            conv[b] = ever_bad[b] ? (double)first_good_after[b] / SEC : 0;
    }
    double late_mm = nsamples_late ? sum_maxmin / nsamples_late : 0;
    double late_sd = nsamples_late ? sum_sd / nsamples_late : 0;
    double slowdown = done ? slow / done : 0;
    const char *label = cfg.label ? cfg.label : (cfg.off ? "off" : "on");
    if (cfg.json) {
        printf("{\"scenario\": \"%s\", \"nodes\": %d, \"label\": \"%s\", \"seed\": %" PRIu64
               ", \"procs\": %d, \"duration_s\": %.1f, \"converged_s\": %.2f, \"within2_s\": %.2f"
               ", \"migrations\": %" PRIu64
               ", \"moved_procs\": %d, \"max_moves_per_proc\": %d, \"refusals\": %" PRIu64
               ", \"by_load\": %" PRIu64 ", \"by_memory\": %" PRIu64 ", \"by_io\": %" PRIu64
               ", \"end_maxmin\": %d, \"end_stddev\": %.3f, \"late_maxmin\": %.3f, \"late_stddev\": %.3f"
               ", \"finished\": %d, \"mean_slowdown\": %.3f}\n",
               cfg.scenario, cfg.n, label, cfg.seed, nprocs, (double)cfg.duration / SEC, conv[0],
               conv[1], migrations, moved, maxmoves, refusals, by_reason[BAL_LOAD], by_reason[BAL_MEMORY],
               by_reason[BAL_IO_HOME], mx - mn, sd, late_mm, late_sd, done, slowdown);
        return;
    }
    char convs[2][32];
    for (int b = 0; b < 2; b++) {
        if (conv[b] < 0)
            snprintf(convs[b], sizeof convs[b], "no");
        else
            snprintf(convs[b], sizeof convs[b], "%.2f", conv[b]);
    }
    printf("%-8s %-4s %6d %7d %8.0f %9s %9s %10" PRIu64 " %8d %7" PRIu64 " %8d %9.2f %9.2f %9.2f",
           cfg.scenario, label, cfg.n, nprocs, (double)cfg.duration / SEC, convs[0], convs[1],
           migrations, maxmoves, refusals, mx - mn, sd, late_mm, late_sd);
    if (done)
        printf(" %9.2f", slowdown);
    printf("\n");
}

static void header(void)
{
    printf("%-8s %-4s %6s %7s %8s %9s %9s %10s %8s %7s %8s %9s %9s %9s %9s\n", "scenario", "bal",
           "nodes", "procs", "sim_s", "conv_s", "conv2_s", "migrations", "max/proc", "refused", "end_mm", "end_sd",
           "late_mm", "late_sd", "slowdown");
}

/* ---- main ---- */

static void usage(void)
{
    fprintf(stderr,
            "usage: balsim [-n NODES] [-s burst|hotspot|random|churn] [--seed S] [-t SECONDS]\n"
            "              [--ppn K] [--delay MS] [--throughput MB/s] [--mem MiB] [--moves K] [--off]\n"
            "              [--forward K] [--noise PCT] [--trace]\n"
            "              [--period MS] [--fanout K] [--stale MS] [--hysteresis L] [--cooldown MS]\n"
            "              [--min-age MS] [--smoothing W] [--data FILE] [--label L] [--json] [--header]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    cfg = (struct config){ .n = 16, .scenario = "burst", .seed = 1, .ppn = 4, .delay = 1 * MS,
                           .throughput = 50000000, .mem_kb = 512 * 1024, .moves = 1 };
    bal_default_params(&cfg.par);
    enum { O_SEED = 256, O_PPN, O_DELAY, O_THR, O_MEM, O_MOVES, O_OFF, O_PERIOD, O_FANOUT, O_STALE,
           O_HYST, O_COOL, O_AGE, O_SMOOTH, O_DATA, O_LABEL, O_JSON, O_HEADER, O_FORWARD, O_TRACE, O_NOISE };
    static const struct option opts[] = {
        { "seed", 1, 0, O_SEED }, { "ppn", 1, 0, O_PPN }, { "delay", 1, 0, O_DELAY },
        { "throughput", 1, 0, O_THR }, { "mem", 1, 0, O_MEM }, { "moves", 1, 0, O_MOVES },
        { "off", 0, 0, O_OFF }, { "period", 1, 0, O_PERIOD }, { "fanout", 1, 0, O_FANOUT },
        { "stale", 1, 0, O_STALE }, { "hysteresis", 1, 0, O_HYST }, { "cooldown", 1, 0, O_COOL },
        { "min-age", 1, 0, O_AGE }, { "smoothing", 1, 0, O_SMOOTH }, { "data", 1, 0, O_DATA },
        { "label", 1, 0, O_LABEL }, { "json", 0, 0, O_JSON }, { "header", 0, 0, O_HEADER },
        { "forward", 1, 0, O_FORWARD }, { "trace", 0, 0, O_TRACE },
        { "noise", 1, 0, O_NOISE },
        { 0, 0, 0, 0 },
    };
    bool only_header = false;
    int c;
    while ((c = getopt_long(argc, argv, "n:s:t:h", opts, 0)) != -1) {
        switch (c) {
        case 'n': cfg.n = atoi(optarg); break;
        case 's': cfg.scenario = optarg; break;
        case 't': cfg.duration = (uint64_t)(atof(optarg) * SEC); break;
        case O_SEED: cfg.seed = strtoull(optarg, 0, 0); break;
        case O_PPN: cfg.ppn = atoi(optarg); break;
        case O_DELAY: cfg.delay = (uint64_t)(atof(optarg) * MS); break;
        case O_THR: cfg.throughput = (uint64_t)(atof(optarg) * 1e6); break;
        case O_MEM: cfg.mem_kb = strtoull(optarg, 0, 0) * 1024; break;
        case O_MOVES: cfg.moves = atoi(optarg); break;
        case O_FORWARD: cfg.forward = atoi(optarg); break;
        case O_TRACE: cfg.trace = true; break;
        case O_NOISE: cfg.noise = atoi(optarg); break;
        case O_OFF: cfg.off = true; break;
        case O_PERIOD: cfg.par.period_ns = (uint64_t)(atof(optarg) * MS); break;
        case O_FANOUT: cfg.par.fanout = (uint32_t)atoi(optarg); break;
        case O_STALE: cfg.par.stale_ns = (uint64_t)(atof(optarg) * MS); break;
        case O_HYST: cfg.par.hysteresis = (uint32_t)atoi(optarg); break;
        case O_COOL: cfg.par.cooldown_ns = (uint64_t)(atof(optarg) * MS); break;
        case O_AGE: cfg.par.min_age_ns = (uint64_t)(atof(optarg) * MS); break;
        case O_SMOOTH: cfg.par.smoothing = (uint32_t)atoi(optarg); break;
        case O_DATA: cfg.data = optarg; break;
        case O_LABEL: cfg.label = optarg; break;
        case O_JSON: cfg.json = true; break;
        case O_HEADER: only_header = true; break;
        default: usage();
        }
    }
    if (only_header) {
        header();
        return 0;
    }
    if (optind != argc || cfg.n < 2 || cfg.n > BAL_MAX_NODES || cfg.ppn < 1 || cfg.moves < 1 ||
        cfg.forward < 0 || cfg.forward > FORWARD_MAX ||
        cfg.throughput == 0 || cfg.par.period_ns == 0)
        usage();

    uint64_t seeder = cfg.seed;
    rng_state = splitmix(&seeder) | 1;
    nodes = xcalloc((size_t)cfg.n, sizeof *nodes);
    node_ids = xcalloc((size_t)cfg.n, sizeof *node_ids);
    for (int k = 0; k < cfg.n; k++) {
        node_ids[k] = k;
        nodes[k].speed = 1000;
        nodes[k].mem_kb = cfg.mem_kb;
        nodes[k].rnd = splitmix(&seeder) | 1;
        nodes[k].self = (struct bal_node){ .node = k, .speed = 1000, .free_kb = (uint32_t)cfg.mem_kb };
    }
    if (!cfg.duration)
        cfg.duration = default_duration();
    sample_ns = cfg.duration / 10000 > 10 * MS ? cfg.duration / 10000 : 10 * MS;
    setup();
    for (int k = 0; k < cfg.n; k++)
        at(rnd_below(cfg.par.period_ns), EV_TICK, k, 0, 0);
    at(0, EV_SAMPLE, 0, 0, 0);
    if (cfg.data) {
        data = fopen(cfg.data, "a");
        if (!data) {
            perror(cfg.data);
            return 2;
        }
        fprintf(data, "# %s nodes=%d procs/node=%d seed=%" PRIu64 " %s\n", cfg.scenario, cfg.n,
                cfg.ppn, cfg.seed, cfg.label ? cfg.label : (cfg.off ? "off" : "on"));
        fprintf(data, "# t_s maxmin stddev migrations\n");
    }

    for (;;) {
        if (fifo_n && (!heap_n || fifo[fifo_head].t < heap[0].t ||
                       (fifo[fifo_head].t == heap[0].t && fifo[fifo_head].seq < heap[0].seq))) {
            struct gossip *g = &fifo[fifo_head];
            if (g->t > cfg.duration)
                break;
            now = g->t;
            /* stamps on the receiver's clock: its own entry now, forwarded ones by their age when
             * sent (the message's delay is not known to the receiver) */
            for (int i = 0; i < g->ninfo; i++) {
                g->info[i].stamp_ns = i == 0 ? now : g->info[i].stamp_ns + cfg.delay;
                if (i == 0)
                    bal_gossip_heard(&cfg.par, &nodes[g->to].win, &g->info[i]);
                else
                    bal_heard(&nodes[g->to].win, &g->info[i]);
            }
            fifo_head = (fifo_head + 1) % fifo_cap;
            fifo_n--;
            continue;
        }
        if (!heap_n)
            break;
        struct event e = ev_pop();
        if (e.t > cfg.duration)
            break;
        now = e.t;
        switch (e.type) {
        case EV_TICK: tick(e.a); break;
        case EV_OFFER: offer(e.a, e.b, (enum bal_reason)(e.v >> 32), (uint32_t)e.v); break;
        case EV_REFUSED: refused(e.a, e.b); break;
        case EV_ARRIVE: arrive(e.a, e.b); break;
        case EV_FINISH: finish(e.a, e.v); break;
        case EV_SPAWN:
            if (e.b == 1) {                 /* burst */
                spawn(e.a, FOREVER, rnd_size(), 0);
            } else {                        /* churn */
                uint64_t calls = rnd_below(10) == 0 ? 300 : 0;
                spawn(e.a, rnd_exp(churn_mean_work) + 1, rnd_size(), calls);
                churn_next();
            }
            break;
        case EV_SAMPLE: sample(); break;
        }
    }
    now = cfg.duration;
    if (data) {
        fprintf(data, "\n\n");
        fclose(data);
    }
    report();
    return 0;
}
