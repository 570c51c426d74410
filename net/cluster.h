/*
 * net/cluster.h: the cluster protocol engine, portable (kernel and host): membership (HELLO,
 * incarnations, failure detection) and a reliable, in-order, authenticated message transport per
 * peer over raw Ethernet frames (EtherType 0x88B5), with two independent channels per peer so small
 * messages never wait behind a bulk stream. Wire format and state machines: docs/PROTOCOL.md.
 *
 * The engine owns no threads, timers, locks or devices: the environment (struct net_env) gives it
 * time, frame transmission, memory and upcalls; the caller serialises all calls into one engine
 * (the kernel glue holds a lock; host tests are single-threaded).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETH_P_SHOAL 0x88b5
#define CLUSTER_MAX_NODES 64            /* node ids 0..63 */
#define CLUSTER_BROADCAST 0xffff
#define CLUSTER_CH_CONTROL 0            /* small messages, RPC */
#define CLUSTER_CH_BULK 1               /* page streams, big messages */
#define CLUSTER_NCHANNELS 2
#define CLUSTER_MAX_MESSAGE (64u << 20) /* bytes */
#define CLUSTER_KEY_LEN 16

struct net_env {
    void *ctx;
    uint64_t (*now_ns)(void *ctx);                          /* monotonic */
    /* Sends one complete Ethernet frame (header included); may drop it (returns -1) when busy. */
    int (*xmit)(void *ctx, const void *frame, size_t len);
    void *(*alloc)(void *ctx, size_t size);                 /* NULL when out of memory */
    void (*free)(void *ctx, void *p);
    /* A whole message arrived, in order, from node on channel; the engine frees msg after return
     * unless the callee sets *keep = true (then the callee owns it and frees it with env->free). */
    void (*deliver)(void *ctx, int node, int channel, void *msg, size_t len, bool *keep);
    /* Membership change: node came up (with a new incarnation) or went down. */
    void (*peer_event)(void *ctx, int node, bool up, uint32_t incarnation);
};

struct cluster_config {
    int self;                           /* this node's id, 0..CLUSTER_MAX_NODES-1 */
    uint8_t mac[6];
    uint32_t incarnation;               /* nonzero, new at every boot */
    uint8_t key[CLUSTER_KEY_LEN];       /* SipHash-2-4 key; all zero if no key= was given */
    uint32_t hello_interval_ms;         /* default 200 */
    uint32_t dead_after_ms;             /* default 1500: silence before a peer is declared down */
    uint16_t mtu;                       /* Ethernet payload size, default 1500 */
};

struct cluster_stats {
    uint64_t frames_sent, frames_received, bytes_sent, bytes_received;
    uint64_t messages_sent, messages_delivered;
    uint64_t retransmits, fast_retransmits, acks_sent, dup_frames;
    uint64_t hellos_sent, hellos_received;
    /* drops, by reason: each malformed, unauthenticated or stale frame is counted exactly once */
    uint64_t drop_short, drop_version, drop_type, drop_length, drop_tag, drop_stale_incarnation,
        drop_unknown_peer, drop_out_of_window, drop_replay, drop_not_for_us, drop_no_memory;
    uint64_t peer_up_events, peer_down_events;
    /* messages given up: queued or in flight to a peer that went down or restarted, and
     * partial messages being reassembled from it (added by the engine's implementer) */
    uint64_t messages_dropped;
    /* ACK frames that acknowledged nothing new (a duplicate or a replay): ignored, like dup_frames */
    uint64_t dup_acks;
};

struct peer_info {
    bool up;
    uint8_t mac[6];
    uint32_t incarnation;
    uint64_t last_heard_ns;
    uint64_t srtt_ns;                   /* smoothed round-trip time, 0 if unknown */
    uint64_t bytes_in_flight;
    uint32_t load, free_pages, nprocs;  /* what its last HELLO said (cluster_set_local_info) */
};

struct cluster;                         /* opaque; allocate with cluster_size() */

size_t cluster_size(void);
/* Returns 0 or -EINVAL for a bad configuration. */
int cluster_init(struct cluster *c, const struct cluster_config *cfg, const struct net_env *env);
void cluster_fini(struct cluster *c);   /* frees every queued message */

/* A frame from the NIC (Ethernet header included). Every field is validated; bad frames are
 * dropped and counted. May call env->deliver / env->peer_event / env->xmit. */
void cluster_input(struct cluster *c, const void *frame, size_t len);

/* Queues a copy of msg for node on channel. 0, -EHOSTDOWN (peer not up), -EMSGSIZE, -ENOMEM. */
int cluster_send(struct cluster *c, int node, int channel, const void *msg, size_t len);
/* Bytes queued but not yet acknowledged towards node (for flow control by callers). */
size_t cluster_backlog(const struct cluster *c, int node);

/* Timers: HELLOs, retransmissions, delayed acks, failure detection. Call at least every 10 ms. */
void cluster_tick(struct cluster *c);
/* Nanoseconds until cluster_tick next has something to do (0 = now), for a sleeping caller. */
uint64_t cluster_next_timeout(const struct cluster *c);

/* What this node advertises in its HELLOs (load, free memory, processes). */
void cluster_set_local_info(struct cluster *c, uint32_t load, uint32_t free_pages, uint32_t nprocs);
bool cluster_peer(const struct cluster *c, int node, struct peer_info *out);
void cluster_get_stats(const struct cluster *c, struct cluster_stats *out);
