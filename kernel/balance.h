/*
 * kernel/balance.h: the load-balancing policy (docs/BALANCER.md), portable: the kernel's balancer
 * thread (kernel/balancer.c) and the host simulator (tools/balsim) run the same code. It knows
 * nothing of processes or the network: it is given numbers and answers with decisions.
 *
 * Units: load is "runnable processes x 1000 / CPU speed", where speed is 1000 for the reference
 * CPU (so a node half as fast running 1 process has load 2000); memory in KiB; times in ns;
 * throughput in bytes/s.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define BAL_MAX_NODES 1024
#define BAL_WINDOW 8                    /* freshest peers remembered */

/* What a node says about itself in gossip. */
struct bal_node {
    int32_t node;
    uint32_t load;                      /* smoothed, speed-adjusted (above) */
    uint32_t speed;                     /* 1000 = reference */
    uint32_t free_kb;
    uint32_t procs;                     /* processes it runs that could move */
    uint64_t stamp_ns;                  /* when it was measured, on the receiver's clock */
};

/* One process this node runs, as the balancer sees it. */
struct bal_proc {
    int32_t pid;
    int32_t home;                       /* its home node */
    uint64_t cpu_ns;                    /* CPU used over the last sampling period */
    uint64_t calls_fwd;                 /* system calls forwarded home over the last period */
    uint64_t age_ns;                    /* since it started (or arrived here) */
    uint64_t size_bytes;                /* what moving it would send (resident memory) */
    uint64_t last_move_ns;              /* when it last moved (0: never) */
    bool movable;                       /* not locked, not pid 1, no shared memory... */
};

struct bal_params {
    uint64_t period_ns;                 /* gossip and decision period */
    uint32_t fanout;                    /* peers told per period */
    uint64_t stale_ns;                  /* older window entries are ignored */
    uint32_t hysteresis;                /* load difference (x1000 units) needed to move */
    uint64_t cooldown_ns;               /* a process moved is not moved again before this */
    uint64_t min_age_ns;                /* younger processes are not worth moving */
    uint32_t mem_low_kb;                /* under this much free memory: usher processes away */
    uint32_t io_calls_per_s;            /* a process away from home calling home more than this goes home */
    uint32_t smoothing;                 /* EWMA weight of the newest sample, in 1/1000 */
    bool enabled;
};
void bal_default_params(struct bal_params *p);

/* The peers heard from, freshest first (at most BAL_WINDOW). */
struct bal_window {
    struct bal_node peers[BAL_WINDOW];
    int n;
};
/* A peer's gossip arrived (replaces its older entry; drops the stalest when full). */
void bal_heard(struct bal_window *w, const struct bal_node *info);
/* A peer is gone (down): forget it. */
void bal_forget(struct bal_window *w, int node);

/* Exponential smoothing of the run-queue length: returns the new smoothed load (x1000 / speed). */
uint32_t bal_smooth(uint32_t old_load, uint32_t runnable, uint32_t speed, uint32_t weight);

/* Up to k distinct random peers from the up set (nodes[0..n), self excluded) into out; returns how
 * many. rnd: the caller's random source state (xorshift64), advanced. */
int bal_pick_peers(const int32_t *nodes, int n, int32_t self, int k, uint64_t *rnd, int32_t *out);

enum bal_reason {
    BAL_NONE = 0,
    BAL_LOAD,                           /* a less loaded node can take a CPU-bound process */
    BAL_MEMORY,                         /* this node is short of memory */
    BAL_IO_HOME,                        /* it calls home so much it should run there */
};

struct bal_decision {
    int32_t pid;
    int32_t target;
    enum bal_reason reason;
    int64_t gain;                       /* expected benefit, in load units x ns, for the log */
};

/* One decision for this node (self) given its peers and processes; at most one move per call.
 * throughput: measured bytes/s of a move (the cost of moving a process is size / throughput).
 * Returns true with *out filled, or false: nothing worth doing. */
bool bal_decide(const struct bal_params *p, const struct bal_window *w, const struct bal_node *self,
                const struct bal_proc *procs, int nprocs, uint64_t now_ns, uint64_t throughput,
                struct bal_decision *out);

const char *bal_reason_name(enum bal_reason r);
