/*
 * net/rpc.h: request/response calls between nodes, over the cluster transport (net/netdev.h).
 *
 * A call carries a 64-bit id; the callee's handler runs in one of a few "rpc" worker threads (it may
 * sleep, but a slow handler holds a worker), and its return value and response travel back on
 * CLUSTER_CH_CONTROL. The caller sleeps until the response, its timeout (-ETIMEDOUT), a signal
 * (-EINTR), or the callee's node going down or restarting (-EHOSTDOWN, at once). A response that
 * comes after its caller gave up is dropped and counted (late_responses).
 *
 * Small requests travel on the control channel; rpc_call_bulk sends a big request (a page stream,
 * a whole message of megabytes) on the bulk channel, so small calls never queue behind it.
 * Calls to this node itself work too (the transport loops them back).
 * Wire format: one struct rpc_hdr before every payload (docs/PROC-CLUSTER.md, "RPC messages").
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kernel/sched.h"

/* Services: 1-15 belong to net/ (built-in), 16-255 to the SSI core, 256+ are free. */
#define RPC_SVC_ECHO 1                  /* replies with the request */
#define RPC_SVC_BULK_SINK 2             /* replies with struct rpc_sink_reply of the request */
#define RPC_SVC_FLOOD 3                 /* counts requests by sequence number, see netproc.c */

#define RPC_MAX_PAYLOAD (65536u - 16u)  /* of a control-channel request or of any response */
#define RPC_DEFAULT_TIMEOUT_NS (5ull * 1000000000ull)

/* The handler gets the request (valid during the call) and a buffer of cap bytes for its response;
 * it sets *resp_len (0 if not set) and returns 0 or -errno; the caller sees that value. Negative
 * returns send no payload. Runs in an rpc worker thread. */
typedef int (*rpc_handler_fn)(int from, const void *req, size_t len, void *resp, size_t cap, size_t *resp_len);

/* 0, -EINVAL (service 0 or no handler), -EBUSY (taken). */
int rpc_register(uint16_t service, rpc_handler_fn fn);

/* Blocking call (a kernel thread or a system call, never with a lock held). The response (at
 * most resp_cap bytes; a longer one gives -EMSGSIZE) lands in resp; *resp_len (may be NULL) gets
 * its length. Returns the handler's value, or -ETIMEDOUT, -EINTR, -EHOSTDOWN, -EMSGSIZE, -ENOMEM,
 * -EOPNOTSUPP (no such service there). timeout_ns 0: RPC_DEFAULT_TIMEOUT_NS. */
int rpc_call(int node, uint16_t service, const void *req, size_t req_len, void *resp, size_t resp_cap,
             size_t *resp_len, uint64_t timeout_ns);

/* The same for a big request on the bulk channel. buf comes from rpc_bulk_alloc (it has room for
 * the header in front, so the payload is not copied again) and stays the caller's. */
void *rpc_bulk_alloc(size_t len);
void rpc_bulk_free(void *buf);
int rpc_call_bulk(int node, uint16_t service, void *buf, size_t len, void *resp, size_t resp_cap,
                  size_t *resp_len, uint64_t timeout_ns);

/* A direct service: its one-way messages (rpc_cast) are handed to fn as they arrive, in netdev's
 * handler context (engine lock held, interrupts off: fn must not sleep nor send), so they keep the
 * channel's order, which the worker threads would not. msg is valid during the call only.
 * 0, -EINVAL, -EBUSY, -ENOSPC. */
typedef void (*rpc_direct_fn)(int from, const void *msg, size_t len);
int rpc_register_direct(uint16_t service, rpc_direct_fn fn);

/* rpc_call_bulk without a response, whose wait signals do not end (only the answer, the timeout
 * or the callee's death): for a request whose effect the caller must know, such as a process
 * image that starts the process there. */
int rpc_call_bulk_uninterruptible(int node, uint16_t service, void *buf, size_t len, uint64_t timeout_ns);

/* One-way message to service on node (the handler's response is discarded). 0 or -errno. */
int rpc_cast(int node, uint16_t service, const void *msg, size_t len);

/* Asynchronous calls: start several, then wait for each. The struct must stay put until
 * rpc_call_wait returned (it is linked into the pending table). */
struct rpc_pending {
    struct list_head link;
    uint64_t id;
    int node;
    uint32_t incarnation;               /* of the callee when the call started */
    void *resp;
    size_t resp_cap, resp_len;
    volatile bool done;
    int status;
    struct waitqueue wq;
};
int rpc_call_start(struct rpc_pending *p, int node, uint16_t service, const void *req, size_t req_len, void *resp,
                   size_t resp_cap);
/* Returns what rpc_call would; after it the struct is free again. */
int rpc_call_wait(struct rpc_pending *p, uint64_t timeout_ns, size_t *resp_len);

struct rpc_stats {
    uint64_t calls, calls_ok, calls_failed, timeouts, interrupted, hostdown;
    uint64_t late_responses;            /* answers to calls that had given up: dropped */
    uint64_t requests, responses_sent, unknown_service, casts_sent, casts_received;
    uint64_t bad_messages;              /* too short, unknown kind, response from the wrong node */
    uint64_t send_failures, worker_queue_max;
};
void rpc_get_stats(struct rpc_stats *out);

/* The bulk sink's reply: what arrived. */
struct rpc_sink_reply {
    uint64_t bytes;
    uint64_t checksum;                  /* rpc_checksum of the payload */
};
uint64_t rpc_checksum(const void *data, size_t len);

/* Boot: registers with net/netdev.c and starts the workers. After net_init. */
int rpc_init(void);
