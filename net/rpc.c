/*
 * net/rpc.c: the RPC layer. Owns the pending-call table (calls waiting for their response), the
 * service table, the request queue and the worker threads that run handlers, and the built-in echo
 * and bulk-sink services.
 *
 * Messages arrive in netdev's handler context (engine lock held, interrupts off): a response is
 * matched to its caller and copied into the caller's buffer right there; a request is queued for a
 * worker, since handlers may sleep. So a handler that itself makes a call never deadlocks on its
 * own response. The transport is reached through `tp`, which the self-tests replace by a fake one.
 */
#include "net/rpc.h"
#include "kernel/errno.h"
#include "kernel/format.h"
#include "kernel/kmalloc.h"
#include "kernel/ktest.h"
#include "kernel/mm.h"
#include "kernel/pmm.h"
#include "kernel/printk.h"
#include "kernel/random.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "net/netdev.h"

#define RPC_VERSION 1
#define RPC_REQUEST 1
#define RPC_RESPONSE 2
#define RPC_CAST 3

/* In front of every RPC message, little-endian like the rest of the cluster protocol. */
struct rpc_hdr {
    uint8_t version;
    uint8_t kind;                       /* RPC_REQUEST, RPC_RESPONSE, RPC_CAST */
    uint16_t service;
    int32_t status;                     /* response: the handler's value (0 or -errno) */
    uint64_t id;                        /* request: chosen by the caller; response: echoed */
} __attribute__((packed));
_Static_assert(sizeof(struct rpc_hdr) == 16, "rpc header layout");
_Static_assert(RPC_MAX_PAYLOAD + sizeof(struct rpc_hdr) == 65536, "response buffers are 64 KiB");

#define NWORKERS 4
#define RESP_BUF_ORDER 4                /* 64 KiB: header + RPC_MAX_PAYLOAD */
#define MAX_SERVICES 64

struct rpc_transport {
    int (*send)(int node, int channel, const void *msg, size_t len);
    uint32_t (*incarnation)(int node);  /* 0: down */
};

static const struct rpc_transport net_transport = { net_send, net_incarnation };
static const struct rpc_transport *tp = &net_transport;

struct rpc_work {
    struct list_head link;
    int node;
    void *msg;
    size_t len;
};

static struct spinlock rpc_lock = SPINLOCK_INIT("rpc");
static struct list_head pending = LIST_HEAD_INIT(pending);
static uint64_t next_id;
static struct { uint16_t service; rpc_handler_fn fn; } services[MAX_SERVICES];
static int nservices;
static struct list_head work_queue = LIST_HEAD_INIT(work_queue);
static unsigned work_queued;
static struct waitqueue work_wq;
static struct rpc_stats st;             /* under rpc_lock */
static bool started;

#define COUNT(field)                                    \
    do {                                                \
        uint64_t __f = spin_lock_irqsave(&rpc_lock);    \
        st.field++;                                     \
        spin_unlock_irqrestore(&rpc_lock, __f);         \
    } while (0)

void rpc_get_stats(struct rpc_stats *out)
{
    uint64_t f = spin_lock_irqsave(&rpc_lock);
    *out = st;
    spin_unlock_irqrestore(&rpc_lock, f);
}

uint64_t rpc_checksum(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ull ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* ---- services ---- */

int rpc_register(uint16_t service, rpc_handler_fn fn)
{
    if (service == 0 || !fn)
        return -EINVAL;
    uint64_t f = spin_lock_irqsave(&rpc_lock);
    int r = nservices < MAX_SERVICES ? 0 : -ENOSPC;
    for (int i = 0; i < nservices && !r; i++)
        if (services[i].service == service)
            r = -EBUSY;
    if (!r) {
        services[nservices].service = service;
        services[nservices].fn = fn;
        nservices++;
    }
    spin_unlock_irqrestore(&rpc_lock, f);
    return r;
}

static struct {
    uint16_t service;
    rpc_direct_fn fn;
} directs[8];
static int ndirects;

int rpc_register_direct(uint16_t service, rpc_direct_fn fn)
{
    if (service == 0 || !fn)
        return -EINVAL;
    uint64_t f = spin_lock_irqsave(&rpc_lock);
    int r = ndirects < (int)(sizeof directs / sizeof directs[0]) ? 0 : -ENOSPC;
    for (int i = 0; i < ndirects && !r; i++)
        if (directs[i].service == service)
            r = -EBUSY;
    for (int i = 0; i < nservices && !r; i++)
        if (services[i].service == service)
            r = -EBUSY;
    if (!r) {
        directs[ndirects].service = service;
        directs[ndirects].fn = fn;
        ndirects++;
    }
    spin_unlock_irqrestore(&rpc_lock, f);
    return r;
}

/* Engine lock held: the table only grows at boot, before any message can name it. */
static rpc_direct_fn find_direct(uint16_t service)
{
    for (int i = 0; i < ndirects; i++)
        if (directs[i].service == service)
            return directs[i].fn;
    return NULL;
}

static rpc_handler_fn find_service(uint16_t service)
{
    rpc_handler_fn fn = NULL;
    uint64_t f = spin_lock_irqsave(&rpc_lock);
    for (int i = 0; i < nservices && !fn; i++)
        if (services[i].service == service)
            fn = services[i].fn;
    spin_unlock_irqrestore(&rpc_lock, f);
    return fn;
}

/* ---- the caller's side ---- */

/* Finishes a pending call; rpc_lock held. */
static void finish(struct rpc_pending *p, int status)
{
    list_del(&p->link);
    p->status = status;
    p->done = true;
    wake_up(&p->wq);
}

static void complete_call(int node, const struct rpc_hdr *h, const void *payload, size_t len)
{
    uint64_t f = spin_lock_irqsave(&rpc_lock);
    struct rpc_pending *p = NULL;
    struct list_head *pos;
    list_for_each(pos, &pending) {
        struct rpc_pending *q = list_entry(pos, struct rpc_pending, link);
        if (q->id == h->id) {
            p = q;
            break;
        }
    }
    if (!p) {
        st.late_responses++;
    } else if (p->node != node) {
        st.bad_messages++;              /* an id we gave another node: not an answer */
    } else if (len > p->resp_cap) {
        p->resp_len = len;
        finish(p, -EMSGSIZE);
    } else {
        if (len)
            memcpy(p->resp, payload, len);
        p->resp_len = len;
        finish(p, h->status);
    }
    spin_unlock_irqrestore(&rpc_lock, f);
}

/* Registers p and sends msg (total bytes, an rpc_hdr in front). */
static int start(struct rpc_pending *p, int node, uint16_t service, int channel, void *msg, size_t total,
                 void *resp, size_t resp_cap)
{
    memset(p, 0, sizeof *p);
    wq_init(&p->wq);
    p->node = node;
    p->resp = resp;
    p->resp_cap = resp ? resp_cap : 0;
    uint64_t f = spin_lock_irqsave(&rpc_lock);
    st.calls++;
    p->incarnation = tp->incarnation(node);
    if (!p->incarnation) {
        st.hostdown++;
        st.calls_failed++;
        spin_unlock_irqrestore(&rpc_lock, f);
        return -EHOSTDOWN;
    }
    p->id = next_id++;
    list_add_tail(&p->link, &pending);
    spin_unlock_irqrestore(&rpc_lock, f);

    struct rpc_hdr *h = msg;
    *h = (struct rpc_hdr){ RPC_VERSION, RPC_REQUEST, service, 0, p->id };
    int r = tp->send(node, channel, msg, total);
    if (r == 0)
        return 0;
    f = spin_lock_irqsave(&rpc_lock);
    if (!p->done)
        list_del(&p->link);
    p->done = true;
    st.send_failures++;
    st.calls_failed++;
    if (r == -EHOSTDOWN)
        st.hostdown++;
    spin_unlock_irqrestore(&rpc_lock, f);
    return r;
}

int rpc_call_start(struct rpc_pending *p, int node, uint16_t service, const void *req, size_t req_len, void *resp,
                   size_t resp_cap)
{
    if (req_len > RPC_MAX_PAYLOAD)
        return -EMSGSIZE;
    uint8_t *msg = kmalloc(sizeof(struct rpc_hdr) + req_len);
    if (!msg)
        return -ENOMEM;
    if (req_len)
        memcpy(msg + sizeof(struct rpc_hdr), req, req_len);
    int r = start(p, node, service, CLUSTER_CH_CONTROL, msg, sizeof(struct rpc_hdr) + req_len, resp, resp_cap);
    kfree(msg);                         /* the transport made its copy */
    return r;
}

/* Signals do not end the wait: for calls whose effect must be known (a process image). */
static int wait_uninterruptible(struct rpc_pending *p, uint64_t timeout_ns)
{
    uint64_t deadline = clock_ns() + timeout_ns;
    int r = 0;
    uint64_t f = irq_save();
    while (!p->done) {
        uint64_t now = clock_ns();
        if (now >= deadline) {
            r = -ETIMEDOUT;
            break;
        }
        wq_sleep(&p->wq, deadline - now);
    }
    irq_restore(f);
    return r;
}

static int wait_call(struct rpc_pending *p, uint64_t timeout_ns, size_t *resp_len, bool interruptible)
{
    timeout_ns = timeout_ns ? timeout_ns : RPC_DEFAULT_TIMEOUT_NS;
    int r = interruptible ? wait_event_interruptible_timeout(p->wq, p->done, timeout_ns)
                          : wait_uninterruptible(p, timeout_ns);
    uint64_t f = spin_lock_irqsave(&rpc_lock);
    if (!p->done)
        finish(p, r);                   /* -ETIMEDOUT or -EINTR; a later answer counts as late */
    int status = p->status;
    if (status == -ETIMEDOUT)
        st.timeouts++;
    else if (status == -EINTR)
        st.interrupted++;
    else if (status == -EHOSTDOWN)
        st.hostdown++;
    if (status >= 0)
        st.calls_ok++;
    else
        st.calls_failed++;
    spin_unlock_irqrestore(&rpc_lock, f);
    if (resp_len)
        *resp_len = status >= 0 ? p->resp_len : 0;
    return status;
}

int rpc_call_wait(struct rpc_pending *p, uint64_t timeout_ns, size_t *resp_len)
{
    return wait_call(p, timeout_ns, resp_len, true);
}

int rpc_call(int node, uint16_t service, const void *req, size_t req_len, void *resp, size_t resp_cap,
             size_t *resp_len, uint64_t timeout_ns)
{
    struct rpc_pending p;
    int r = rpc_call_start(&p, node, service, req, req_len, resp, resp_cap);
    if (r)
        return r;
    return rpc_call_wait(&p, timeout_ns, resp_len);
}

void *rpc_bulk_alloc(size_t len)
{
    uint8_t *m = net_msg_alloc(sizeof(struct rpc_hdr) + len);
    return m ? m + sizeof(struct rpc_hdr) : NULL;
}

void rpc_bulk_free(void *buf)
{
    if (buf)
        net_msg_free((uint8_t *)buf - sizeof(struct rpc_hdr));
}

int rpc_call_bulk(int node, uint16_t service, void *buf, size_t len, void *resp, size_t resp_cap,
                  size_t *resp_len, uint64_t timeout_ns)
{
    struct rpc_pending p;
    uint8_t *msg = (uint8_t *)buf - sizeof(struct rpc_hdr);
    int r = start(&p, node, service, CLUSTER_CH_BULK, msg, sizeof(struct rpc_hdr) + len, resp, resp_cap);
    if (r)
        return r;
    return rpc_call_wait(&p, timeout_ns, resp_len);
}

int rpc_call_bulk_uninterruptible(int node, uint16_t service, void *buf, size_t len, uint64_t timeout_ns)
{
    struct rpc_pending p;
    uint8_t *msg = (uint8_t *)buf - sizeof(struct rpc_hdr);
    int r = start(&p, node, service, CLUSTER_CH_BULK, msg, sizeof(struct rpc_hdr) + len, NULL, 0);
    if (r)
        return r;
    return wait_call(&p, timeout_ns, NULL, false);
}

int rpc_cast(int node, uint16_t service, const void *msg, size_t len)
{
    if (len > RPC_MAX_PAYLOAD)
        return -EMSGSIZE;
    struct rpc_hdr *h = kmalloc(sizeof *h + len);
    if (!h)
        return -ENOMEM;
    *h = (struct rpc_hdr){ RPC_VERSION, RPC_CAST, service, 0, 0 };
    if (len)
        memcpy(h + 1, msg, len);
    int r = tp->send(node, CLUSTER_CH_CONTROL, h, sizeof *h + len);
    kfree(h);
    if (r)
        COUNT(send_failures);
    else
        COUNT(casts_sent);
    return r;
}

/* A peer went down or came back as a new life: its pending calls will never be answered. Engine
 * lock held (netdev's notifier). */
static void peer_event(int node, bool up, uint32_t incarnation, void *ctx)
{
    uint64_t f = spin_lock_irqsave(&rpc_lock);
    struct list_head *pos, *n;
    list_for_each_safe(pos, n, &pending) {
        struct rpc_pending *p = list_entry(pos, struct rpc_pending, link);
        if (p->node == node && (!up || p->incarnation != incarnation))
            finish(p, -EHOSTDOWN);
    }
    spin_unlock_irqrestore(&rpc_lock, f);
}

/* ---- the callee's side ---- */

/* netdev's handler for both channels: engine lock held, must not sleep. Takes msg. */
static void rpc_input(int node, int channel, void *msg, size_t len, void *ctx)
{
    const struct rpc_hdr *h = msg;
    bool ok = len >= sizeof *h && h->version == RPC_VERSION;
    if (ok && h->kind == RPC_RESPONSE && channel == CLUSTER_CH_CONTROL) {
        complete_call(node, h, h + 1, len - sizeof *h);
        net_msg_free(msg);
        return;
    }
    ok = ok && (h->kind == RPC_REQUEST || (h->kind == RPC_CAST && channel == CLUSTER_CH_CONTROL));
    rpc_direct_fn direct = ok && h->kind == RPC_CAST ? find_direct(h->service) : NULL;
    if (direct) {
        direct(node, h + 1, len - sizeof *h);
        net_msg_free(msg);
        uint64_t f = spin_lock_irqsave(&rpc_lock);
        st.casts_received++;
        spin_unlock_irqrestore(&rpc_lock, f);
        return;
    }
    struct rpc_work *w = ok ? kmalloc(sizeof *w) : NULL;
    if (!w) {
        COUNT(bad_messages);
        net_msg_free(msg);
        return;
    }
    w->node = node;
    w->msg = msg;
    w->len = len;
    uint64_t f = spin_lock_irqsave(&rpc_lock);
    list_add_tail(&w->link, &work_queue);
    if (++work_queued > st.worker_queue_max)
        st.worker_queue_max = work_queued;
    spin_unlock_irqrestore(&rpc_lock, f);
    wake_up_one(&work_wq);
}

static void serve(struct rpc_work *w, uint8_t *buf)
{
    struct rpc_hdr h = *(struct rpc_hdr *)w->msg;
    rpc_handler_fn fn = find_service(h.service);
    size_t rlen = 0;
    int status = -EOPNOTSUPP;
    if (fn)
        status = fn(w->node, (uint8_t *)w->msg + sizeof h, w->len - sizeof h, buf + sizeof h, RPC_MAX_PAYLOAD,
                    &rlen);
    net_msg_free(w->msg);
    uint64_t f = spin_lock_irqsave(&rpc_lock);
    st.requests += h.kind == RPC_REQUEST;
    st.casts_received += h.kind == RPC_CAST;
    st.unknown_service += !fn;
    spin_unlock_irqrestore(&rpc_lock, f);
    if (h.kind != RPC_REQUEST)
        return;
    if (rlen > RPC_MAX_PAYLOAD)
        status = -EMSGSIZE;
    if (status < 0)
        rlen = 0;
    *(struct rpc_hdr *)buf = (struct rpc_hdr){ RPC_VERSION, RPC_RESPONSE, h.service, status, h.id };
    int r = tp->send(w->node, CLUSTER_CH_CONTROL, buf, sizeof h + rlen);
    if (r)
        COUNT(send_failures);
    else
        COUNT(responses_sent);
}

static void worker(void *arg)
{
    uint8_t *buf = arg;
    for (;;) {
        wait_event(work_wq, !list_empty(&work_queue));
        uint64_t f = spin_lock_irqsave(&rpc_lock);
        struct rpc_work *w = NULL;
        if (!list_empty(&work_queue)) {
            w = list_first_entry(&work_queue, struct rpc_work, link);
            list_del(&w->link);
            work_queued--;
        }
        spin_unlock_irqrestore(&rpc_lock, f);
        if (w) {
            serve(w, buf);
            kfree(w);
        }
    }
}

/* ---- built-in services ---- */

static int svc_echo(int from, const void *req, size_t len, void *resp, size_t cap, size_t *resp_len)
{
    if (len > cap)
        return -EMSGSIZE;
    memcpy(resp, req, len);
    *resp_len = len;
    return 0;
}

static int svc_bulk_sink(int from, const void *req, size_t len, void *resp, size_t cap, size_t *resp_len)
{
    struct rpc_sink_reply r = { len, rpc_checksum(req, len) };
    memcpy(resp, &r, sizeof r);
    *resp_len = sizeof r;
    return 0;
}

int rpc_init(void)
{
    if (started)
        return -EBUSY;
    wq_init(&work_wq);
    next_id = (random_u64() & 0xffffffff00000000ull) | 1;   /* ids of different boots rarely meet */
    int r = net_register_channel_handler(CLUSTER_CH_CONTROL, rpc_input, NULL);
    if (!r)
        r = net_register_channel_handler(CLUSTER_CH_BULK, rpc_input, NULL);
    if (!r)
        r = net_register_peer_notifier(peer_event, NULL);
    if (r) {
        printk(LOG_ERR, "rpc: cannot attach to the network (%d)\n", r);
        return r;
    }
    rpc_register(RPC_SVC_ECHO, svc_echo);
    rpc_register(RPC_SVC_BULK_SINK, svc_bulk_sink);
    for (int i = 0; i < NWORKERS; i++) {
        uint64_t pa = pmm_alloc_pages(RESP_BUF_ORDER);
        if (!pa || !kthread_create("rpc", worker, P2V(pa))) {
            printk(LOG_ERR, "rpc: only %d of %d workers\n", i, NWORKERS);
            return i ? 0 : -ENOMEM;
        }
    }
    started = true;
    return 0;
}

/* ---- self-tests, over a fake transport that turns every message around ---- */

static int fake_node;
static uint32_t fake_inc;
static bool fake_drop;                  /* keep the next message instead of delivering it */
static void *fake_kept;
static size_t fake_kept_len;
static int fake_kept_channel;

static void fake_deliver(int channel, const void *msg, size_t len)
{
    void *copy = net_msg_alloc(len);
    if (!copy)
        return;
    memcpy(copy, msg, len);
    uint64_t f = irq_save();            /* the context netdev calls handlers in */
    rpc_input(fake_node, channel, copy, len, NULL);
    irq_restore(f);
}

/* What we send to the fake node comes back as if the fake node had sent it to us. */
static int fake_send(int node, int channel, const void *msg, size_t len)
{
    if (node != fake_node || !fake_inc)
        return -EHOSTDOWN;
    if (fake_drop && !fake_kept) {
        fake_kept = net_msg_alloc(len);
        if (fake_kept) {
            memcpy(fake_kept, msg, len);
            fake_kept_len = len;
            fake_kept_channel = channel;
        }
        return 0;
    }
    fake_deliver(channel, msg, len);
    return 0;
}

static uint32_t fake_incarnation(int node) { return node == fake_node ? fake_inc : 0; }

static const struct rpc_transport fake_transport = { fake_send, fake_incarnation };

#define SVC_TEST 15

static int svc_test(int from, const void *req, size_t len, void *resp, size_t cap, size_t *resp_len)
{
    if (len && ((const char *)req)[0] == 'e')
        return -ENOENT;
    if (len && ((const char *)req)[0] == 'b')
        *resp_len = cap + 1;            /* a handler that overflows its buffer is refused */
    return 7;
}

static bool fake_begin(char *why, size_t why_len)
{
    if (!started) {
        ksnprintf(why, why_len, "rpc_init did not run");
        return false;
    }
    fake_node = CLUSTER_MAX_NODES - 1;
    while (net_node_up(fake_node) && fake_node > 0)
        fake_node--;
    fake_inc = 0x1234;
    fake_drop = false;
    fake_kept = NULL;
    rpc_register(SVC_TEST, svc_test);   /* -EBUSY on a second run: fine */
    tp = &fake_transport;
    return true;
}

static void fake_end(void)
{
    tp = &net_transport;
    net_msg_free(fake_kept);
    fake_kept = NULL;
}

KTEST(rpc_calls_over_fake_transport)
{
    if (!fake_begin(why, why_len))
        return false;
    char resp[64];
    size_t rl = 0;
    int r1 = rpc_call(fake_node, RPC_SVC_ECHO, "hello", 5, resp, sizeof resp, &rl, 0);
    bool echo_ok = r1 == 0 && rl == 5 && memcmp(resp, "hello", 5) == 0;
    int r2 = rpc_call(fake_node, 999, "x", 1, resp, sizeof resp, &rl, 0);
    int r3 = rpc_call(fake_node, SVC_TEST, "e", 1, resp, sizeof resp, &rl, 0);
    int r4 = rpc_call(fake_node, SVC_TEST, "ok", 2, resp, sizeof resp, &rl, 0);
    int r5 = rpc_call(fake_node, SVC_TEST, "big", 3, resp, sizeof resp, &rl, 0);
    static char big[RPC_MAX_PAYLOAD + 1];
    int r6 = rpc_call(fake_node, RPC_SVC_ECHO, big, sizeof big, NULL, 0, NULL, 0);
    int r7 = rpc_call(fake_node, RPC_SVC_ECHO, big, 100, resp, 10, &rl, 0);   /* answer too long */
    int r8 = rpc_call(fake_node + 1 == net_self() ? fake_node - 1 : fake_node + 1, RPC_SVC_ECHO, "x", 1, resp,
                      sizeof resp, &rl, 0);
    fake_end();
    if (!echo_ok)
        KTEST_FAIL("echo: %d, %lu bytes", r1, (unsigned long)rl);
    if (r2 != -EOPNOTSUPP || r3 != -ENOENT || r4 != 7 || r5 != -EMSGSIZE)
        KTEST_FAIL("unknown service %d, handler errors %d %d %d", r2, r3, r4, r5);
    if (r6 != -EMSGSIZE || r7 != -EMSGSIZE || r8 != -EHOSTDOWN)
        KTEST_FAIL("oversized request %d, oversized answer %d, down node %d", r6, r7, r8);
    return true;
}

KTEST(rpc_timeout_late_answer_and_peer_death)
{
    if (!fake_begin(why, why_len))
        return false;
    struct rpc_stats before, after;
    rpc_get_stats(&before);
    char resp[16];
    size_t rl;
    /* Lost request: the caller times out; the answer that comes later is dropped and counted. */
    fake_drop = true;
    uint64_t t0 = clock_ns();
    int r1 = rpc_call(fake_node, RPC_SVC_ECHO, "late", 4, resp, sizeof resp, &rl, 30 * NSEC_PER_MSEC);
    uint64_t waited = clock_ns() - t0;
    fake_drop = false;
    if (fake_kept)
        fake_deliver(fake_kept_channel, fake_kept, fake_kept_len);
    for (int i = 0; i < 50; i++) {      /* a worker answers it */
        rpc_get_stats(&after);
        if (after.late_responses > before.late_responses)
            break;
        msleep(10);
    }
    net_msg_free(fake_kept);
    fake_kept = NULL;
    /* The callee dies while a call waits: the caller wakes at once. */
    struct rpc_pending p;
    fake_drop = true;
    int r2 = rpc_call_start(&p, fake_node, RPC_SVC_ECHO, "x", 1, resp, sizeof resp);
    uint64_t f = irq_save();
    fake_inc = 0;
    peer_event(fake_node, false, 0, NULL);
    irq_restore(f);
    t0 = clock_ns();
    int r3 = r2 ? r2 : rpc_call_wait(&p, 5 * NSEC_PER_SEC, &rl);
    uint64_t woke = clock_ns() - t0;
    int r4 = rpc_call(fake_node, RPC_SVC_ECHO, "x", 1, resp, sizeof resp, &rl, 0);
    /* A restart (new incarnation) fails calls made to the old life. */
    net_msg_free(fake_kept);
    fake_kept = NULL;
    fake_inc = 0x1111;
    int r5 = rpc_call_start(&p, fake_node, RPC_SVC_ECHO, "x", 1, resp, sizeof resp);
    f = irq_save();
    fake_inc = 0x2222;
    peer_event(fake_node, true, 0x2222, NULL);
    irq_restore(f);
    int r6 = r5 ? r5 : rpc_call_wait(&p, 5 * NSEC_PER_SEC, &rl);
    fake_end();
    rpc_get_stats(&after);
    if (r1 != -ETIMEDOUT || waited < 25 * NSEC_PER_MSEC || waited > 500 * NSEC_PER_MSEC)
        KTEST_FAIL("lost request: %d after %lu ms", r1, (unsigned long)(waited / NSEC_PER_MSEC));
    if (after.late_responses != before.late_responses + 1)
        KTEST_FAIL("late answer not counted (%lu)", after.late_responses - before.late_responses);
    if (r3 != -EHOSTDOWN || woke > 100 * NSEC_PER_MSEC)
        KTEST_FAIL("peer death: %d after %lu ms", r3, (unsigned long)(woke / NSEC_PER_MSEC));
    if (r4 != -EHOSTDOWN)
        KTEST_FAIL("call to a dead peer gave %d", r4);
    if (r6 != -EHOSTDOWN)
        KTEST_FAIL("call to a restarted peer's old life gave %d", r6);
    return true;
}

KTEST(rpc_many_outstanding_and_bulk)
{
    if (!fake_begin(why, why_len))
        return false;
    enum { N = 64 };
    static struct rpc_pending calls[N];
    static uint32_t answers[N];
    int started_n = 0, good = 0, r = 0;
    for (int i = 0; i < N; i++) {
        uint32_t v = 0xabc00000u + (uint32_t)i;
        answers[i] = 0;
        if ((r = rpc_call_start(&calls[i], fake_node, RPC_SVC_ECHO, &v, sizeof v, &answers[i], sizeof answers[i])))
            break;
        started_n++;
    }
    for (int i = 0; i < started_n; i++) {
        size_t rl = 0;
        if (rpc_call_wait(&calls[i], NSEC_PER_SEC, &rl) == 0 && rl == 4 && answers[i] == 0xabc00000u + (uint32_t)i)
            good++;
    }
    size_t len = 3u << 20;
    uint8_t *buf = rpc_bulk_alloc(len);
    struct rpc_sink_reply sr = { 0, 0 };
    size_t rl = 0;
    int rb = -ENOMEM;
    uint64_t sum = 0;
    if (buf) {
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)(i * 7 + (i >> 11));
        sum = rpc_checksum(buf, len);
        rb = rpc_call_bulk(fake_node, RPC_SVC_BULK_SINK, buf, len, &sr, sizeof sr, &rl, 5 * NSEC_PER_SEC);
        rpc_bulk_free(buf);
    }
    fake_end();
    if (started_n != N || good != N)
        KTEST_FAIL("%d of %d calls started (%d), %d answered right", started_n, N, r, good);
    if (rb != 0 || rl != sizeof sr || sr.bytes != len || sr.checksum != sum)
        KTEST_FAIL("bulk call: %d, %lu bytes seen, checksum %s", rb, (unsigned long)sr.bytes,
                   sr.checksum == sum ? "ok" : "wrong");
    return true;
}
