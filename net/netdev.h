/*
 * net/netdev.h: the kernel side of the cluster network: the protocol engine (net/cluster.h) bound
 * to the e1000, the clock, the heap and a kernel thread, for the layers above (RPC, the SSI core).
 *
 * One spinlock serialises every call into the engine. Frames arrive in the e1000's polling thread,
 * timers run in the "net" thread (at least every 10 ms, sooner when the engine asks), and any thread
 * may send. Messages are handed to the channel's handler with the engine lock held, like a Linux
 * softirq: handlers must not sleep, and queue anything slow to a thread of their own (net/rpc.c
 * does). A message to this node itself is delivered the same way, without touching the wire.
 *
 * Cluster key: `key=HEX` gives up to 32 bytes; the 16-byte SipHash key is those bytes XOR-folded
 * onto 16 (byte i goes to key[i % 16]), so a key of 16 bytes or fewer is simply zero-padded, and
 * every byte of a longer one still matters. No `key=`: the all-zero key (frames still carry a tag).
 */
#pragma once
#include "net/cluster.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct boot_options;

/* Boot: after e1000_init (works without a card: then only this node exists). Starts "net".
 * 0, or -errno (the node then runs alone; net_send to others gives -EHOSTDOWN). */
int net_init(const struct boot_options *o);

int net_self(void);                     /* this node's id */
bool net_node_up(int node);             /* this node counts as up */
uint64_t net_up_mask(void);             /* bit n: node n is up (this node included) */
uint32_t net_incarnation(int node);     /* of an up node (ours for net_self()), else 0 */
int net_nodes_up(void);

/* Queues a copy of msg for node on channel (CLUSTER_CH_CONTROL or CLUSTER_CH_BULK); never sleeps.
 * 0, -EHOSTDOWN (not up), -EMSGSIZE, -ENOMEM, -EINVAL. To net_self(): delivered locally. */
int net_send(int node, int channel, const void *msg, size_t len);
size_t net_backlog(int node);           /* bytes queued towards node and not yet acknowledged */

/* A whole message for channel arrived from node. Called with the engine lock held (interrupts
 * off): must not sleep nor call net_send. The handler owns msg and frees it with net_msg_free. */
typedef void (*net_msg_fn)(int node, int channel, void *msg, size_t len, void *ctx);
/* One handler per channel; -EBUSY if taken, -EINVAL for a bad channel. Messages on a channel
 * without a handler are dropped and counted (no_handler). */
int net_register_channel_handler(int channel, net_msg_fn fn, void *ctx);

/* Membership changes, called with the engine lock held (must not sleep nor call net_send). A peer
 * that restarted is reported down (if it was up), then up with its new incarnation. */
typedef void (*net_peer_fn)(int node, bool up, uint32_t incarnation, void *ctx);
int net_register_peer_notifier(net_peer_fn fn, void *ctx);   /* -ENOSPC past 8 */

/* Memory for messages: the engine's buffers, and what handlers receive. Messages beyond the
 * buddy allocator's largest block (4 MiB) are mapped page by page into a private kernel area. */
void *net_msg_alloc(size_t len);        /* NULL when out of memory */
void net_msg_free(void *msg);           /* NULL is ignored */

/* Wakes the net thread to run the engine's timers now. Any context. */
void net_kick(void);

/* Counters of this glue (the engine's are struct cluster_stats). */
struct net_glue_stats {
    uint64_t rx_frames;                 /* given to cluster_input */
    uint64_t xmit_busy;                 /* env->xmit refused: TX ring full */
    uint64_t delivered, delivered_local, no_handler;
    uint64_t ticks, info_updates;
    uint64_t big_allocs, big_alloc_failures;
};
void net_get_stats(struct cluster_stats *engine, struct net_glue_stats *glue);
/* What the engine knows of node (false if never heard of); net_self() is filled in locally. */
bool net_peer_info(int node, struct peer_info *out);

/* /proc/cluster (net/netproc.c): after rpc_init and once /proc exists. */
void netproc_init(void);

/* A subdirectory /proc/cluster/NAME of files another subsystem provides (up to 4 such directories, at
 * most 15 files each): show writes the file's text (at most NETPROC_SHOW_MAX bytes) and returns its
 * length; store (NULL: read-only) takes what was written (one line, trailing newline removed) and
 * returns 0 or -errno. After netproc_init. 0 or -EBUSY, -ENOMEM. */
#define NETPROC_SHOW_MAX 8192
struct netproc_file {
    const char *name;
    size_t (*show)(char *buf, size_t cap);
    long (*store)(const char *text);
};
int netproc_add_dir(const char *name, const struct netproc_file *files, int n);
