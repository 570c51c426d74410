/*
 * net/cluster.c: the engine's public API (net/cluster.h): configuration, frame dispatch, timers,
 * statistics. Frames go wire_parse (syntax, tag) -> membership (who sent it, which life and
 * session) -> transport (sequence window, acks, data). Every drop is counted here or below in
 * exactly one drop_* counter. Portable: no kernel facility beyond the env callbacks.
 */
#include "net/cluster_int.h"
#include "kernel/errno.h"
#include "kernel/string.h"

size_t cluster_size(void)
{
    return sizeof(struct cluster);
}

uint64_t cluster_now(struct cluster *c)
{
    c->now = c->env.now_ns(c->env.ctx);
    return c->now;
}

/* Sends the frame built in c->txbuf. A refusal by the device is not counted as sent. */
bool cluster_xmit(struct cluster *c, size_t len)
{
    if (c->env.xmit(c->env.ctx, c->txbuf, len) < 0)
        return false;
    c->st.frames_sent++;
    c->st.bytes_sent += len;
    return true;
}

int cluster_init(struct cluster *c, const struct cluster_config *cfg, const struct net_env *env)
{
    uint32_t hello_ms = cfg->hello_interval_ms ? cfg->hello_interval_ms : HELLO_DEFAULT_MS;
    uint32_t dead_ms = cfg->dead_after_ms ? cfg->dead_after_ms : DEAD_DEFAULT_MS;
    uint16_t mtu = cfg->mtu ? cfg->mtu : MTU_DEFAULT;

    if (cfg->self < 0 || cfg->self >= CLUSTER_MAX_NODES || cfg->incarnation == 0)
        return -EINVAL;
    if (mtu < SHOAL_MTU_MIN || mtu > SHOAL_MTU_MAX || dead_ms < 2 * hello_ms)
        return -EINVAL;
    if (!env || !env->now_ns || !env->xmit || !env->alloc || !env->free || !env->deliver ||
        !env->peer_event)
        return -EINVAL;
    memset(c, 0, sizeof *c);
    c->env = *env;
    c->self = cfg->self;
    memcpy(c->mac, cfg->mac, ETH_ALEN);
    c->inc = cfg->incarnation;
    c->mtu = mtu;
    c->hello_ns = hello_ms * MS;
    c->dead_ns = dead_ms * MS;
    siphash_key_init(&c->key, cfg->key);
    cluster_now(c);
    membership_init(c);
    return 0;
}

void cluster_fini(struct cluster *c)
{
    membership_fini(c);
}

static bool count_wire_drop(struct cluster *c, enum wire_verdict v)
{
    switch (v) {
    case WIRE_OK:
        return false;
    case WIRE_SHORT:
        c->st.drop_short++;
        break;
    case WIRE_ETHERTYPE:
        c->st.drop_not_for_us++;
        break;
    case WIRE_VERSION:
        c->st.drop_version++;
        break;
    case WIRE_TYPE:
        c->st.drop_type++;
        break;
    case WIRE_LENGTH:
        c->st.drop_length++;
        break;
    case WIRE_TAG:
        c->st.drop_tag++;
        break;
    }
    return true;
}

static bool is_broadcast(const uint8_t *mac)
{
    static const uint8_t bcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

    return memcmp(mac, bcast, ETH_ALEN) == 0;
}

void cluster_input(struct cluster *c, const void *frame, size_t len)
{
    struct shoal_frame f;
    struct peer *p;

    cluster_now(c);
    c->st.frames_received++;
    c->st.bytes_received += len;
    if (count_wire_drop(c, wire_parse(frame, len, &c->key, &f)))
        return;
    if (f.h.src >= CLUSTER_MAX_NODES || f.h.src == c->self) {
        c->st.drop_unknown_peer++;
        return;
    }
    if (f.h.type == SHOAL_HELLO) {
        if (!is_broadcast(f.eth_dst)) {
            c->st.drop_not_for_us++;
            return;
        }
        membership_hello_input(c, &f);
    } else {
        if (f.h.dst != c->self || memcmp(f.eth_dst, c->mac, ETH_ALEN) != 0) {
            c->st.drop_not_for_us++;
            return;
        }
        p = membership_check_source(c, &f);
        if (!p || !transport_check(c, p, &f))
            return;
        membership_confirm(c, p);
        transport_input(c, p, &f);
    }
    /* A triggered HELLO (handshake progress) goes out now rather than at the next tick. */
    membership_hello_due(c);
}

int cluster_send(struct cluster *c, int node, int channel, const void *msg, size_t len)
{
    if (node < 0 || node >= CLUSTER_MAX_NODES || node == c->self || channel < 0 ||
        channel >= CLUSTER_NCHANNELS)
        return -EINVAL;
    if (len > CLUSTER_MAX_MESSAGE)
        return -EMSGSIZE;
    if (c->peers[node].state != PEER_UP)
        return -EHOSTDOWN;
    cluster_now(c);
    return transport_send(c, &c->peers[node], channel, msg, len);
}

size_t cluster_backlog(const struct cluster *c, int node)
{
    const struct peer *p;
    size_t n = 0;

    if (node < 0 || node >= CLUSTER_MAX_NODES)
        return 0;
    p = &c->peers[node];
    if (!p->s)
        return 0;
    for (int i = 0; i < CLUSTER_NCHANNELS; i++)
        n += p->s->ch[i].backlog_bytes;
    return n;
}

void cluster_tick(struct cluster *c)
{
    cluster_now(c);
    membership_tick(c);
    /* Control channels of every peer first, so a bulk burst never delays them. */
    for (int ch = 0; ch < CLUSTER_NCHANNELS; ch++)
        for (int i = 0; i < CLUSTER_MAX_NODES; i++)
            if (c->peers[i].state == PEER_UP)
                transport_tick(c, &c->peers[i], ch);
}

uint64_t cluster_next_timeout(const struct cluster *c)
{
    uint64_t now = c->env.now_ns(c->env.ctx);
    uint64_t t = membership_deadline(c);

    for (int i = 0; i < CLUSTER_MAX_NODES; i++) {
        if (c->peers[i].state == PEER_UP) {
            uint64_t d = transport_deadline(c, &c->peers[i]);
            if (d < t)
                t = d;
        }
    }
    return t > now ? t - now : 0;
}

void cluster_set_local_info(struct cluster *c, uint32_t load, uint32_t free_pages,
                            uint32_t nprocs)
{
    c->load = load;
    c->free_pages = free_pages;
    c->nprocs = nprocs;
}

bool cluster_peer(const struct cluster *c, int node, struct peer_info *out)
{
    const struct peer *p;

    if (node < 0 || node >= CLUSTER_MAX_NODES || node == c->self)
        return false;
    p = &c->peers[node];
    if (p->state == PEER_NONE)
        return false;
    memset(out, 0, sizeof *out);
    out->up = p->state == PEER_UP;
    memcpy(out->mac, p->mac, ETH_ALEN);
    out->incarnation = p->inc;
    out->last_heard_ns = p->last_heard_ns;
    out->load = p->load;
    out->free_pages = p->free_pages;
    out->nprocs = p->nprocs;
    if (p->s) {
        const struct channel *ctl = &p->s->ch[CLUSTER_CH_CONTROL];
        out->srtt_ns = ctl->srtt ? ctl->srtt : p->s->ch[CLUSTER_CH_BULK].srtt;
        for (int i = 0; i < CLUSTER_NCHANNELS; i++)
            out->bytes_in_flight += p->s->ch[i].inflight_bytes;
    }
    return true;
}

void cluster_get_stats(const struct cluster *c, struct cluster_stats *out)
{
    *out = c->st;
}
