/*
 * kernel/balance.h: the load-balancing policy (docs/BALANCER.md), portable: the kernel's balancer
 * thread (kernel/balancer.c) and the host simulator (tools/balsim) run the same code
 * (kernel/balance.c). It knows nothing of processes or the network: it is given numbers and
 * answers with decisions. No locking: the caller serialises calls on its own state.
 *
 * Units: load is "runnable processes x 1000 x 1000 / CPU speed", where speed is 1000 for the
 * reference CPU: one process on the reference CPU is load 1000, on a CPU half as fast 2000
 * (bal_proc_load); memory in KiB; times in ns; throughput in bytes/s.
 *
 * How the balancer thread uses it, every period_ns (docs/BALANCER.md "Calling the policy"):
 *   self.load = bal_smooth(self.load, runnable, speed, smoothing); free_kb, procs, stamp now;
 *   tell bal_pick_peers(...) peers about self (they bal_heard it, stamped with their own clock);
 *   if bal_decide(...) names a process: offer it to the target, which answers with bal_accept;
 *   if it went: bal_moved_out(&self, &window, target, size, now) (the target did bal_moved_in).
 * A fork of a user process counts at once too: bal_moved_in(&self, 0) (so a burst of forks is
 * spread from the first period on); exits are left to the smoothing (a process that slept for
 * long is no longer in the load, and subtracting it again would undercount).
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define BAL_MAX_NODES 1024
#define BAL_WINDOW 8                    /* freshest peers remembered */

/* What a node says about itself in gossip. */
struct bal_node {
    int32_t node;
    uint32_t load;                      /* smoothed, speed-adjusted (above), moves counted at once */
    uint32_t speed;                     /* 1000 = reference */
    uint32_t free_kb;
    uint32_t procs;                     /* processes it runs that could move */
    uint64_t stamp_ns;                  /* when it was measured, on the receiver's clock (a receiver
                                         * stamps gossip with its clock when it arrives) */
    uint64_t sent_ns;                   /* window entries only: when this node last sent it a process
                                         * (bal_moved_out; 0: never); not part of gossip */
};

/* One process this node runs, as the balancer sees it. */
struct bal_proc {
    int32_t pid;
    int32_t home;                       /* its home node */
    uint64_t cpu_ns;                    /* CPU used over the last sampling period (params.period_ns) */
    uint64_t calls_fwd;                 /* system calls forwarded home over the last period; at home:
                                         * the calls that would be forwarded if it left (0 if not
                                         * counted: then only processes away from home look I/O-bound) */
    uint64_t age_ns;                    /* since it started (its expected remaining run time) */
    uint64_t size_bytes;                /* what moving it would send (resident memory) */
    uint64_t last_move_ns;              /* when it last moved (arrived here), on this node's clock;
                                         * 0: never */
    bool movable;                       /* not locked, not pid 1, no shared memory, not already
                                         * moving... */
};

struct bal_params {
    uint64_t period_ns;                 /* gossip, measurement and decision period (200 ms) */
    uint32_t fanout;                    /* peers told per period (2) */
    uint64_t stale_ns;                  /* older window entries are ignored (1 s) */
    uint32_t hysteresis;                /* load margin a move must clear, load units (600) */
    uint64_t cooldown_ns;               /* a process moved is not moved again before this (5 s) */
    uint64_t min_age_ns;                /* younger processes are not moved for load (200 ms) */
    uint32_t mem_low_kb;                /* under this much free memory: usher processes away; a
                                         * target must keep this much after a move (16 MiB) */
    uint32_t io_calls_per_s;            /* a process away from home calling home more than this goes
                                         * home, and one at home stays there (200; 0: rule off) */
    uint32_t smoothing;                 /* EWMA weight of the newest sample, in 1/1000, for one
                                         * sample per period (250) */
    bool enabled;                       /* off: bal_decide and bal_accept say no */
};
void bal_default_params(struct bal_params *p);

/* The peers heard from, freshest first (at most BAL_WINDOW). */
struct bal_window {
    struct bal_node peers[BAL_WINDOW];
    int n;
};
/* A peer's gossip arrived (replaces its older entry unless info is older still; drops the
 * stalest when full). The caller skips entries about itself (forwarded gossip). */
void bal_heard(struct bal_window *w, const struct bal_node *info);
/* Gossip from a peer arrived (info stamped on arrival, sent_ns ignored): bal_heard, except that for
 * two periods after this node sent the peer a process (the entry's sent_ns), a load lower than the
 * entry's is not believed: the peer may have measured it before the process arrived, and believing
 * it would send the peer a second process for the same room. Only the load is held, and only for
 * that time from the send, however often the peer speaks. */
void bal_gossip_heard(const struct bal_params *p, struct bal_window *w, const struct bal_node *info);
/* A peer is gone (down): forget it. */
void bal_forget(struct bal_window *w, int node);

/* Exponential smoothing of the run-queue length, once per period: returns old_load moved by
 * weight/1000 of the way to runnable x 1000 x 1000 / speed (at least one unit, so a steady
 * run queue is reached exactly). */
uint32_t bal_smooth(uint32_t old_load, uint32_t runnable, uint32_t speed, uint32_t weight);

/* Up to k distinct random peers from the up set (nodes[0..n), distinct ids, self excluded
 * whether listed or not) into out (room for k); returns how many: min(k, other nodes).
 * rnd: the caller's random source state (xorshift64; 0 is allowed), advanced. */
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
    int64_t gain;                       /* for the log: BAL_LOAD: time the process is expected to
                                         * save, net of the move's cost, ns; BAL_MEMORY: KiB freed
                                         * here; BAL_IO_HOME: forwarded calls per second */
};

/* One decision for this node (self) given its peers and processes; at most one move per call.
 * throughput: measured bytes/s of a move (the cost of moving a process is size / throughput;
 * 0: not measured yet, 1 MB/s assumed). Rules, first that applies (docs/BALANCER.md):
 *  1. memory: self->free_kb < mem_low_kb: the largest movable process not cooling down that the
 *     fresh peer with the most free memory can hold (keeping mem_low_kb) goes there;
 *  2. I/O home: a process away from home calling home more than io_calls_per_s (the heaviest
 *     caller first; movable, not cooling) goes home, unless home is known to lack memory for it;
 *  3. load: T = the fresh peer least loaded with one more process (load + bal_proc_load(speed));
 *     if self->load - that > hysteresis, the candidate (movable, age >= min_age, not cooling,
 *     cpu_ns > 0, not I/O-bound unless T is its home, fits in T's memory) whose expected saving
 *     (age x its CPU demand x the load difference / self->load) minus size / throughput is
 *     largest and positive goes to T; processes that moved in the last minute only if no other
 *     qualifies. The same inequality seen from T after the move forbids the move back.
 * Returns true with *out filled, or false: nothing worth doing. */
bool bal_decide(const struct bal_params *p, const struct bal_window *w, const struct bal_node *self,
                const struct bal_proc *procs, int nprocs, uint64_t now_ns, uint64_t throughput,
                struct bal_decision *out);

const char *bal_reason_name(enum bal_reason r);

/* Load accounting of moves, so that decisions do not wait for smoothing or gossip to see them.
 * self is the caller's own, persistent entry (its load is the state bal_smooth updates).
 * A process of size_bytes left self for target at now_ns: its share leaves self->load at once, and
 * target's window entry (if any) gets it and is restamped now_ns, so the next decision neither
 * counts it here nor piles onto the same target, and no older news of the target (forwarded by
 * others, or sent before it took the process) undoes that. */
void bal_moved_out(struct bal_node *self, struct bal_window *w, int32_t target, uint64_t size_bytes,
                   uint64_t now_ns);
/* A process of size_bytes arrived here (or a move away failed and it stayed): it counts at once,
 * so the gossip this node sends says so before the smoothed run-queue length catches up. */
void bal_moved_in(struct bal_node *self, uint64_t size_bytes);
/* The target's check of a move offered to it (reason and the sender's load as the sender's
 * decision saw them): false if the process would not fit in memory (free memory would fall under
 * mem_low_kb) or, for BAL_LOAD, if with this node's own, fresher load the move no longer passes
 * the sender's rule (load + one process here must stay more than hysteresis under the sender's
 * load). A target that keeps this rule is never sent more than it can take, however many senders
 * chose it from old gossip. */
bool bal_accept(const struct bal_params *p, const struct bal_node *self, enum bal_reason reason,
                uint32_t sender_load, uint64_t size_bytes);
/* The load one process adds to a node of this speed: 1000 * 1000 / speed. */
uint32_t bal_proc_load(uint32_t speed);
