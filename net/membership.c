/*
 * net/membership.c: who is in the cluster. Every node broadcasts a HELLO each hello interval
 * (and soon after any change of its view) carrying its incarnation, a strictly increasing
 * counter, its MAC, its load, and its view: for each peer it has a session with, that peer's
 * incarnation, its own session epoch and the peer's epoch as last heard. A session goes up only
 * when the peer's HELLO echoes our current epoch (a three-way handshake, as in BFD), so both
 * ends always agree on which session a DATA/ACK frame belongs to, even after a partition heals
 * without a reboot. A peer silent for dead_after is torn down; any teardown shows in our next
 * HELLO, which makes the other side tear down too: "down" is seen everywhere.
 */
#include "net/cluster_int.h"
#include "kernel/string.h"

static const uint8_t broadcast_mac[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

void membership_init(struct cluster *c)
{
    c->next_epoch = 1;
    c->next_hello_ns = c->now;          /* announce ourselves at the first tick */
}

static void trigger_hello(struct cluster *c)
{
    c->hello_trigger = true;
}

static void send_hello(struct cluster *c)
{
    uint8_t *pl = c->txbuf + SHOAL_OVERHEAD;
    struct hello_info hi;
    struct shoal_hdr h;
    unsigned n = 0;

    for (int i = 0; i < CLUSTER_MAX_NODES; i++) {
        const struct peer *p = &c->peers[i];
        if (p->state == PEER_JOINING || p->state == PEER_UP) {
            struct hello_entry e = { (uint16_t)i, p->inc, p->my_epoch, p->their_epoch };
            hello_put_entry(pl, n++, &e);
        }
    }
    memcpy(hi.mac, c->mac, ETH_ALEN);
    hi.nentries = n;
    hi.load = c->load;
    hi.free_pages = c->free_pages;
    hi.nprocs = c->nprocs;
    hello_put_info(pl, &hi);

    memset(&h, 0, sizeof h);
    h.type = SHOAL_HELLO;
    h.src = c->self;
    h.dst = CLUSTER_BROADCAST;
    h.src_inc = c->inc;
    h.seq = c->hello_seq + 1;
    h.len = HELLO_FIXED_LEN + n * HELLO_ENTRY_LEN;
    if (!cluster_xmit(c, wire_build(c->txbuf, broadcast_mac, c->mac, &h, pl, &c->key))) {
        c->next_hello_ns = c->now + TX_RETRY_NS;    /* the device is busy: soon again */
        return;
    }
    c->hello_seq++;
    c->st.hellos_sent++;
    c->last_hello_ns = c->now;
    c->next_hello_ns = c->now + c->hello_ns;
    c->hello_trigger = false;
}

static uint64_t hello_deadline(const struct cluster *c)
{
    uint64_t t = c->next_hello_ns;

    if (c->hello_trigger && c->last_hello_ns + HELLO_MIN_GAP_NS < t)
        t = c->last_hello_ns + HELLO_MIN_GAP_NS;
    return t;
}

void membership_hello_due(struct cluster *c)
{
    if (c->now >= hello_deadline(c))
        send_hello(c);
}

static bool start_session(struct cluster *c, struct peer *p)
{
    struct session *s = session_create(c);

    if (!s)
        return false;
    p->s = s;
    p->my_epoch = c->next_epoch++;
    if (c->next_epoch == 0)
        c->next_epoch = 1;
    p->their_epoch = 0;
    p->state = PEER_JOINING;
    trigger_hello(c);
    return true;
}

static void go_up(struct cluster *c, struct peer *p)
{
    p->state = PEER_UP;
    c->st.peer_up_events++;
    trigger_hello(c);
    c->env.peer_event(c->env.ctx, (int)(p - c->peers), true, p->inc);
}

/* Ends the session (its messages are dropped and counted); the upcall comes last, with the
 * peer already down, so the callee may react by sending elsewhere. */
static void peer_down(struct cluster *c, struct peer *p)
{
    bool was_up = p->state == PEER_UP;

    session_destroy(c, p->s);
    p->s = NULL;
    p->state = PEER_DOWN;
    p->my_epoch = p->their_epoch = 0;
    trigger_hello(c);
    if (was_up) {
        c->st.peer_down_events++;
        c->env.peer_event(c->env.ctx, (int)(p - c->peers), false, p->inc);
    }
}

/* Our entry in the sender's view, if it names this life of ours. */
static bool find_entry(const struct cluster *c, const struct shoal_frame *f, unsigned n,
                       struct hello_entry *e)
{
    for (unsigned i = 0; i < n; i++) {
        hello_get_entry(f->payload, i, e);
        if (e->node == c->self && e->incarnation == c->inc)
            return true;
    }
    return false;
}

void membership_hello_input(struct cluster *c, const struct shoal_frame *f)
{
    struct peer *p = &c->peers[f->h.src];
    struct hello_entry e;
    struct hello_info hi;
    bool found;

    if (p->state == PEER_NONE) {
        p->state = PEER_DOWN;
        p->inc = f->h.src_inc;
        p->hello_seq = 0;
    } else if (f->h.src_inc != p->inc) {
        /* A higher incarnation is a reboot; a lower one is a stale frame, unless we have given
         * up on the life we knew (then whoever speaks may start a handshake). */
        if (f->h.src_inc < p->inc && p->state != PEER_DOWN) {
            c->st.drop_stale_incarnation++;
            return;
        }
        if (p->state != PEER_DOWN)
            peer_down(c, p);
        p->inc = f->h.src_inc;
        p->hello_seq = 0;
    } else if (f->h.seq <= p->hello_seq) {
        c->st.drop_replay++;
        return;
    }
    hello_get_info(f->payload, &hi);
    p->hello_seq = f->h.seq;
    p->last_heard_ns = c->now;
    memcpy(p->mac, hi.mac, ETH_ALEN);
    p->load = hi.load;
    p->free_pages = hi.free_pages;
    p->nprocs = hi.nprocs;
    c->st.hellos_received++;

    found = find_entry(c, f, hi.nentries, &e);
    switch (p->state) {
    case PEER_UP:
        if (found && e.epoch == p->their_epoch && e.peer_epoch == p->my_epoch)
            break;
        /* The other side no longer has our session: it declared us down or started anew. */
        peer_down(c, p);
        /* fall through */
    case PEER_DOWN:
        if (!start_session(c, p)) {
            c->st.drop_no_memory++;
            break;
        }
        p->their_epoch = found ? e.epoch : 0;
        break;
    case PEER_JOINING:
        if (p->their_epoch != (found ? e.epoch : 0)) {
            p->their_epoch = found ? e.epoch : 0;
            trigger_hello(c);           /* echo it, so the peer can complete */
        }
        if (found && e.peer_epoch == p->my_epoch)
            go_up(c, p);
        break;
    }
}

struct peer *membership_check_source(struct cluster *c, const struct shoal_frame *f)
{
    struct peer *p = &c->peers[f->h.src];

    if (f->h.dst_inc != c->inc) {
        c->st.drop_stale_incarnation++;     /* meant for an earlier life of ours */
        return NULL;
    }
    if (p->state != PEER_JOINING && p->state != PEER_UP) {
        c->st.drop_unknown_peer++;
        return NULL;
    }
    if (f->h.src_inc != p->inc) {
        if (f->h.src_inc < p->inc)
            c->st.drop_stale_incarnation++;
        else
            c->st.drop_unknown_peer++;      /* a new life whose HELLO we have not heard yet */
        return NULL;
    }
    if (f->h.dst_epoch != p->my_epoch || p->their_epoch == 0 ||
        f->h.src_epoch != p->their_epoch) {
        c->st.drop_stale_incarnation++;     /* an earlier session between the same lives */
        return NULL;
    }
    return p;
}

void membership_confirm(struct cluster *c, struct peer *p)
{
    p->last_heard_ns = c->now;
    if (p->state == PEER_JOINING)
        go_up(c, p);
}

void membership_tick(struct cluster *c)
{
    for (int i = 0; i < CLUSTER_MAX_NODES; i++) {
        struct peer *p = &c->peers[i];
        if ((p->state == PEER_JOINING || p->state == PEER_UP) &&
            c->now - p->last_heard_ns > c->dead_ns)
            peer_down(c, p);
    }
    membership_hello_due(c);
}

uint64_t membership_deadline(const struct cluster *c)
{
    uint64_t t = hello_deadline(c);

    for (int i = 0; i < CLUSTER_MAX_NODES; i++) {
        const struct peer *p = &c->peers[i];
        if ((p->state == PEER_JOINING || p->state == PEER_UP) &&
            p->last_heard_ns + c->dead_ns + 1 < t)
            t = p->last_heard_ns + c->dead_ns + 1;
    }
    return t;
}

void membership_fini(struct cluster *c)
{
    for (int i = 0; i < CLUSTER_MAX_NODES; i++) {
        struct peer *p = &c->peers[i];
        if (p->s) {
            session_destroy(c, p->s);
            p->s = NULL;
        }
        p->state = PEER_DOWN;
    }
}
