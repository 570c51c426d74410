/*
 * net/transport.c: reliable, in-order message channels between two sessions. Per peer there are
 * two channels (control and bulk) with separate sequence spaces, windows and timers, so a small
 * message never waits behind a page stream. A message is cut into frames (FIRST carries its
 * size, LAST ends it); the receiver keeps frames above the cumulative point in a ring, consumes
 * them in order into one reassembly buffer and delivers whole messages. Acks are cumulative plus
 * a selective bitmap of the whole window (64 bits in every header, the rest in ACK frames),
 * piggybacked on DATA or sent after ACK_EVERY frames, ACK_DELAY, or at once on any disorder.
 *
 * Loss recovery is time based (after RACK, RFC 8985): undelivered frames sit on a list ordered
 * by last transmission; a frame is lost once a frame sent reo_wnd later (or DUPTHRESH frames
 * further) was delivered; a tail loss probe resends a silent last frame; the list head is the
 * retransmission timer (Jacobson/Karels RTO, exponential backoff, Karn's rule). Every operation
 * walks only frames that change state, so the cost per frame is O(1) whatever the window.
 * Loss never slows the sender (on these private links it is noise, not congestion, and halving
 * on loss collapses throughput); queueing delay does: the bulk pipe (frames in flight) shrinks
 * when the round trip grows well above its minimum, so the queue in front of the slower end
 * stays short, holes are repaired quickly and control frames are not stuck behind bulk ones.
 */
#include "net/cluster_int.h"
#include "kernel/errno.h"
#include "kernel/string.h"

enum rx_result { RX_OK, RX_MSG, RX_NOMEM };

struct delivery {
    uint8_t *buf;
    uint32_t len;
};

/* --- ring bitmaps --- */

static inline bool bit_test(const uint64_t *b, uint32_t i)
{
    return b[i >> 6] >> (i & 63) & 1;
}

static inline void bit_set(uint64_t *b, uint32_t i)
{
    b[i >> 6] |= 1ull << (i & 63);
}

static inline void bit_clear(uint64_t *b, uint32_t i)
{
    b[i >> 6] &= ~(1ull << (i & 63));
}

/* The 64 bits starting at ring position start (wrapping). */
static uint64_t bits_at(const uint64_t *b, uint32_t mask, uint32_t start)
{
    uint32_t nwords = (mask + 1) / 64;
    uint32_t i = start & mask, w = i >> 6, sh = i & 63;
    uint64_t lo = b[w] >> sh;

    if (!sh)
        return lo;
    return lo | b[(w + 1) & (nwords - 1)] << (64 - sh);
}

/* --- sessions --- */

static uint32_t ring_of(uint32_t window)
{
    return window < RING_MIN ? RING_MIN : window;
}

static size_t ring_bytes(uint32_t ring)
{
    return ring * sizeof(struct tx_slot) + ring * sizeof(struct rx_slot) + 2 * (ring / 8);
}

static uint8_t *channel_setup(struct channel *ch, int id, uint8_t *mem)
{
    uint32_t ring;

    ch->id = id;
    ch->window = id == CLUSTER_CH_BULK ? BULK_WINDOW : CONTROL_WINDOW;
    ch->ack_every = id == CLUSTER_CH_BULK ? BULK_ACK_EVERY : CONTROL_ACK_EVERY;
    ring = ring_of(ch->window);
    ch->mask = ring - 1;
    ch->pipe_cap = id == CLUSTER_CH_BULK ? PIPE_INIT : ch->window;
    ch->tl_head = ch->tl_tail = TL_NIL;
    ch->tx = (struct tx_slot *)mem;
    mem += ring * sizeof(struct tx_slot);
    ch->rx = (struct rx_slot *)mem;
    mem += ring * sizeof(struct rx_slot);
    ch->sacked = (uint64_t *)mem;
    mem += ring / 8;
    ch->held = (uint64_t *)mem;
    mem += ring / 8;
    return mem;
}

struct session *session_create(struct cluster *c)
{
    size_t size = sizeof(struct session);
    struct session *s;
    uint8_t *mem;

    for (int i = 0; i < CLUSTER_NCHANNELS; i++)
        size += ring_bytes(ring_of(i == CLUSTER_CH_BULK ? BULK_WINDOW : CONTROL_WINDOW));
    s = c->env.alloc(c->env.ctx, size);
    if (!s)
        return NULL;
    memset(s, 0, size);
    mem = (uint8_t *)(s + 1);
    for (int i = 0; i < CLUSTER_NCHANNELS; i++)
        mem = channel_setup(&s->ch[i], i, mem);
    return s;
}

static void msg_put(struct cluster *c, struct tx_msg *m, bool dropped)
{
    if (--m->refs == 0) {
        if (dropped)
            c->st.messages_dropped++;
        c->env.free(c->env.ctx, m);
    }
}

static void channel_destroy(struct cluster *c, struct channel *ch)
{
    /* In-flight frames first: a message still queued keeps its queue reference until below. */
    for (uint32_t seq = ch->snd_una; seq != ch->snd_nxt; seq++)
        msg_put(c, ch->tx[seq & ch->mask].msg, true);
    while (ch->q_head) {
        struct tx_msg *m = ch->q_head;
        ch->q_head = m->next;
        msg_put(c, m, true);
    }
    for (uint32_t i = 0; i <= ch->mask; i++)
        if (bit_test(ch->held, i) && ch->rx[i].buf)
            c->env.free(c->env.ctx, ch->rx[i].buf);
    if (ch->rx_active) {
        c->env.free(c->env.ctx, ch->rx_buf);
        c->st.messages_dropped++;
    }
}

void session_destroy(struct cluster *c, struct session *s)
{
    if (!s)
        return;
    for (int i = 0; i < CLUSTER_NCHANNELS; i++)
        channel_destroy(c, &s->ch[i]);
    c->env.free(c->env.ctx, s);
}

/* --- the time list: undelivered frames in order of last transmission --- */

static void tl_append(struct channel *ch, uint16_t i)
{
    ch->pipe++;
    ch->tx[i].prev = ch->tl_tail;
    ch->tx[i].next = TL_NIL;
    if (ch->tl_tail != TL_NIL)
        ch->tx[ch->tl_tail].next = i;
    else
        ch->tl_head = i;
    ch->tl_tail = i;
}

static void tl_remove(struct channel *ch, uint16_t i)
{
    struct tx_slot *s = &ch->tx[i];

    ch->pipe--;
    if (s->prev != TL_NIL)
        ch->tx[s->prev].next = s->next;
    else
        ch->tl_head = s->next;
    if (s->next != TL_NIL)
        ch->tx[s->next].prev = s->prev;
    else
        ch->tl_tail = s->prev;
}

/* --- timers --- */

static uint64_t rto_of(const struct channel *ch)
{
    uint64_t r = RTO_INIT_NS;

    if (ch->srtt) {
        uint64_t var = 4 * ch->rttvar;
        r = ch->srtt + (var > RTO_GRANULARITY_NS ? var : RTO_GRANULARITY_NS);
    }
    if (r < RTO_MIN_NS)
        r = RTO_MIN_NS;
    for (uint32_t i = 0; i < ch->backoff && r < RTO_MAX_NS; i++)
        r <<= 1;
    return r > RTO_MAX_NS ? RTO_MAX_NS : r;
}

/* When the oldest undelivered frame times out: an RTO after it was sent, and after the last
 * ack that made progress or the last timeout (RFC 6298's restart), whichever is later. */
static uint64_t rto_deadline(const struct channel *ch)
{
    uint64_t t = ch->tx[ch->tl_head].sent_ns;

    return (t > ch->rto_start_ns ? t : ch->rto_start_ns) + rto_of(ch);
}

static void rtt_sample(struct channel *ch, uint64_t r)
{
    if (!ch->srtt) {
        ch->srtt = r ? r : 1;
        ch->rttvar = r / 2;
    } else {
        uint64_t err = r > ch->srtt ? r - ch->srtt : ch->srtt - r;
        ch->rttvar = (3 * ch->rttvar + err) / 4;
        ch->srtt = (7 * ch->srtt + r) / 8;
        if (!ch->srtt)
            ch->srtt = 1;
    }
    if (!ch->min_rtt || r < ch->min_rtt)
        ch->min_rtt = r ? r : 1;
}

static uint64_t reo_wnd(const struct channel *ch)
{
    uint64_t w = ch->min_rtt / 4;

    return (w > REO_WND_MIN_NS ? w : REO_WND_MIN_NS) << ch->reo_level;
}

/* --- sending --- */

static unsigned rx_sack_words(const struct channel *ch, uint64_t w[1 + ACK_MAX_EXTRA_WORDS])
{
    uint32_t valid = ch->window - 1;    /* frames rcv_nxt + 1 .. rcv_nxt + window - 1 */
    unsigned n = 1;

    w[0] = 0;
    if (ch->rcv_high == ch->rcv_nxt)
        return 1;                       /* nothing held: the common, in-order case */
    for (unsigned j = 0; j * 64 < valid; j++) {
        w[j] = bits_at(ch->held, ch->mask, ch->rcv_nxt + 1 + 64 * j);
        if (valid - j * 64 < 64)
            w[j] &= (1ull << (valid - j * 64)) - 1;
        if (w[j])
            n = j + 1;
    }
    return n;
}

static void fill_hdr(struct cluster *c, struct peer *p, struct channel *ch, struct shoal_hdr *h,
                     int type, uint64_t sack)
{
    memset(h, 0, sizeof *h);
    h->type = type;
    h->channel = ch->id;
    h->src = c->self;
    h->dst = (uint16_t)(p - c->peers);
    h->src_inc = c->inc;
    h->dst_inc = p->inc;
    h->src_epoch = p->my_epoch;
    h->dst_epoch = p->their_epoch;
    h->ack = ch->rcv_nxt;
    h->sack = sack;
}

static void acked_now(struct channel *ch, unsigned nwords)
{
    ch->ack_pending = 0;
    ch->ack_due_ns = 0;
    if (nwords <= 1)
        ch->ack_now = false;            /* the header said it all */
}

static bool send_ack(struct cluster *c, struct peer *p, struct channel *ch)
{
    uint64_t w[1 + ACK_MAX_EXTRA_WORDS];
    unsigned n = rx_sack_words(ch, w);
    struct shoal_hdr h;

    fill_hdr(c, p, ch, &h, SHOAL_ACK, w[0]);
    h.len = (n - 1) * 8;
    for (unsigned j = 1; j < n; j++)
        put_be64(c->txbuf + SHOAL_OVERHEAD + (j - 1) * 8, w[j]);
    ch->blocked = !cluster_xmit(c, wire_build(c->txbuf, p->mac, c->mac, &h,
                                              c->txbuf + SHOAL_OVERHEAD, &c->key));
    if (ch->blocked)
        return false;
    c->st.acks_sent++;
    ch->ack_pending = 0;
    ch->ack_due_ns = 0;
    ch->ack_now = false;
    return true;
}

static bool send_data(struct cluster *c, struct peer *p, struct channel *ch, struct tx_slot *s)
{
    uint64_t w[1 + ACK_MAX_EXTRA_WORDS];
    unsigned n = rx_sack_words(ch, w);
    struct shoal_hdr h;

    fill_hdr(c, p, ch, &h, SHOAL_DATA, w[0]);
    h.flags = s->flags;
    h.seq = s->seq;
    h.msg_len = (s->flags & SHOAL_F_FIRST) ? s->msg->len : 0;
    h.len = s->len;
    ch->blocked = !cluster_xmit(c, wire_build(c->txbuf, p->mac, c->mac, &h, s->msg->data + s->off,
                                              &c->key));
    if (ch->blocked)
        return false;
    acked_now(ch, n);
    return true;
}

static bool resend(struct cluster *c, struct peer *p, struct channel *ch, uint16_t i)
{
    struct tx_slot *s = &ch->tx[i];

    if (!send_data(c, p, ch, s))
        return false;
    if (s->xmits < 0xffff)
        s->xmits++;
    s->fast = 0;
    s->sent_ns = c->now;
    tl_remove(ch, i);
    tl_append(ch, i);
    c->st.retransmits++;
    return true;
}

/* Cuts the next frame off the queue head and sends it; false if the device refused it. */
static bool send_new(struct cluster *c, struct peer *p, struct channel *ch)
{
    struct tx_msg *m = ch->q_head;
    uint32_t max = c->mtu - SHOAL_HLEN;
    uint32_t len = m->len - m->framed < max ? m->len - m->framed : max;
    uint16_t i = ch->snd_nxt & ch->mask;
    struct tx_slot *s = &ch->tx[i];

    s->msg = m;
    s->seq = ch->snd_nxt;
    s->off = m->framed;
    s->len = len;
    s->flags = (m->framed == 0 ? SHOAL_F_FIRST : 0) | (m->framed + len == m->len ? SHOAL_F_LAST : 0);
    s->delivered = 0;
    s->fast = 0;
    if (!send_data(c, p, ch, s))
        return false;                   /* nothing committed: the slot is rebuilt next time */
    s->xmits = 1;
    s->sent_ns = c->now;
    tl_append(ch, i);
    ch->probed = false;
    ch->snd_nxt++;
    ch->inflight_bytes += len;
    m->framed += len;
    m->refs++;
    if (m->framed == m->len) {
        ch->q_head = m->next;
        if (!ch->q_head)
            ch->q_tail = NULL;
        msg_put(c, m, false);           /* the queue's reference; its frames hold the others */
    }
    return true;
}

/* When a frame counts as lost given that a frame sent after it was delivered: once its own
 * ack is a round trip plus the reordering window overdue. UINT64_MAX: no evidence yet. */
static uint64_t rack_deadline(const struct channel *ch, const struct tx_slot *s)
{
    if (s->sent_ns >= ch->rack_xmit_ns)
        return UINT64_MAX;              /* nothing sent after it has been delivered */
    if (ch->rack_xmit_ns - s->sent_ns >= reo_wnd(ch) ||
        (int32_t)(ch->rack_seq - s->seq) >= (int32_t)(DUPTHRESH << ch->reo_level))
        return 0;
    return s->sent_ns + ch->srtt + reo_wnd(ch);
}

static bool frame_lost(const struct cluster *c, const struct channel *ch, const struct tx_slot *s)
{
    return c->now >= rack_deadline(ch, s);
}

/* Tail loss probe: the newest frame unacknowledged for two round trips is resent once, so a
 * lost last frame (a lone RPC) costs a few round trips instead of a retransmission timeout. */
static uint64_t probe_deadline(const struct channel *ch)
{
    uint64_t pto;

    if (ch->probed || !ch->srtt || ch->tl_tail == TL_NIL)
        return UINT64_MAX;
    pto = 2 * ch->srtt + (ch->ack_every > 1 ? ACK_DELAY_NS : 0);
    return ch->tx[ch->tl_tail].sent_ns + (pto > PTO_MIN_NS ? pto : PTO_MIN_NS);
}

static void pump_channel(struct cluster *c, struct peer *p, struct channel *ch)
{
    uint32_t burst = ch->id == CLUSTER_CH_BULK ? BULK_BURST : ch->window;

    if (ch->reo_level && c->now - ch->reo_changed_ns > REO_DECAY_NS) {
        ch->reo_level--;
        ch->reo_changed_ns = c->now;
    }
    /* Repairs before new data; the walk stops at the first frame not known lost. */
    while (ch->tl_head != TL_NIL && frame_lost(c, ch, &ch->tx[ch->tl_head])) {
        uint16_t i = ch->tl_head;
        if (!resend(c, p, ch, i))
            return;
        ch->tx[i].fast = 1;
        c->st.fast_retransmits++;
    }
    while (ch->q_head && burst-- && ch->snd_nxt - ch->snd_una < ch->window &&
           ch->pipe < ch->pipe_cap)
        if (!send_new(c, p, ch))
            return;
}

/*
 * The bulk pipe: how many frames may be in flight undelivered. The window (counted from the
 * oldest hole) bounds reassembly memory; the pipe bounds the queue in front of the slower end.
 * Loss says nothing here (it is noise on these links), delay does: once per round trip the cap
 * shrinks by 1/8 when the RTT sample exceeds the minimum by more than the target, and grows by a
 * step when it did not and the cap was what limited us (after TCP Vegas). A short queue keeps
 * hole repairs quick, so the window never fills up behind a lost frame, and keeps the device
 * queue short for control frames.
 */
static void adapt_pipe(struct cluster *c, struct channel *ch, uint64_t rtt)
{
    uint64_t target = ch->min_rtt > QDELAY_TARGET_NS ? ch->min_rtt : QDELAY_TARGET_NS;

    if (ch->id != CLUSTER_CH_BULK || c->now - ch->cap_changed_ns < ch->srtt)
        return;
    ch->cap_changed_ns = c->now;
    if (rtt > ch->min_rtt + target) {
        ch->pipe_cap -= ch->pipe_cap / 8;
        if (ch->pipe_cap < PIPE_MIN)
            ch->pipe_cap = PIPE_MIN;
    } else if (ch->pipe + PIPE_STEP >= ch->pipe_cap && ch->pipe_cap < ch->window) {
        ch->pipe_cap += PIPE_STEP;
    }
}

int transport_send(struct cluster *c, struct peer *p, int channel, const void *msg, size_t len)
{
    struct channel *ch = &p->s->ch[channel];
    struct tx_msg *m = c->env.alloc(c->env.ctx, sizeof *m + len);

    if (!m)
        return -ENOMEM;
    m->next = NULL;
    m->len = len;
    m->framed = 0;
    m->refs = 1;
    if (len)
        memcpy(m->data, msg, len);
    if (ch->q_tail)
        ch->q_tail->next = m;
    else
        ch->q_head = m;
    ch->q_tail = m;
    ch->backlog_bytes += len;
    c->st.messages_sent++;
    pump_channel(c, p, ch);
    return 0;
}

/* --- acknowledgements received --- */

struct ack_info {
    uint32_t ack;
    unsigned nwords;
    uint64_t w[1 + ACK_MAX_EXTRA_WORDS];
    bool stale;                         /* older than what we know: carries nothing new */
};

static void read_ack(const struct shoal_frame *f, struct ack_info *a)
{
    a->ack = f->h.ack;
    a->w[0] = f->h.sack;
    a->nwords = 1;
    if (f->h.type == SHOAL_ACK)
        for (unsigned j = 0; j < f->h.len / 8u; j++)
            a->w[a->nwords++] = get_be64(f->payload + 8 * j);
}

/* An ack may not cover or selectively acknowledge anything we have not sent. */
static bool ack_valid(const struct channel *ch, struct ack_info *a)
{
    int32_t d = (int32_t)(a->ack - ch->snd_una);
    uint32_t limit;

    a->stale = d < 0;
    if (a->stale)
        return true;
    if ((uint32_t)d > ch->snd_nxt - ch->snd_una)
        return false;
    limit = ch->snd_nxt - a->ack;       /* frames ack .. snd_nxt - 1; bit i is ack + 1 + i */
    limit = limit ? limit - 1 : 0;
    for (unsigned j = 0; j < a->nwords; j++) {
        uint32_t base = 64 * j;
        if (base >= limit) {
            if (a->w[j])
                return false;
        } else if (limit - base < 64 && a->w[j] >> (limit - base)) {
            return false;
        }
    }
    return true;
}

struct ack_progress {
    bool any;
    uint64_t sample_sent_ns;            /* newest first-transmission delivered, 0 none */
};

static void delivered(struct cluster *c, struct channel *ch, uint16_t i, struct ack_progress *pr)
{
    struct tx_slot *s = &ch->tx[i];
    uint64_t age = c->now - s->sent_ns;

    s->delivered = 1;
    bit_set(ch->sacked, i);
    tl_remove(ch, i);
    ch->backlog_bytes -= s->len;
    ch->inflight_bytes -= s->len;
    pr->any = true;
    if (s->xmits != 1) {
        /* Acked sooner than any round trip after the resend: the original was only late. */
        if (ch->min_rtt && age < ch->min_rtt / 2) {
            if (ch->reo_level < REO_LEVEL_MAX)
                ch->reo_level++;
            ch->reo_changed_ns = c->now;
            return;
        }
        /* Which copy arrived is unknown. After a timeout or a probe it may well be a late
         * original: taking the resend's time would declare everything sent before it lost (a
         * stalled receiver would then get every frame twice). After a fast retransmit the
         * original was shown lost, so the resend's time is evidence: it lets a lost resend be
         * found by the resends after it, without waiting for a timeout. */
        if (!s->fast)
            return;
    } else if (s->sent_ns > pr->sample_sent_ns) {
        pr->sample_sent_ns = s->sent_ns;
    }
    if (s->sent_ns > ch->rack_xmit_ns)
        ch->rack_xmit_ns = s->sent_ns;
    if ((int32_t)(s->seq - ch->rack_seq) > 0)
        ch->rack_seq = s->seq;
}

static bool apply_ack(struct cluster *c, struct channel *ch, const struct ack_info *a)
{
    struct ack_progress pr = { false, 0 };

    if (a->stale)
        return false;
    while (ch->snd_una != a->ack) {
        uint16_t i = ch->snd_una & ch->mask;
        struct tx_slot *s = &ch->tx[i];
        if (!s->delivered)
            delivered(c, ch, i, &pr);
        bit_clear(ch->sacked, i);
        msg_put(c, s->msg, false);
        s->msg = NULL;
        ch->snd_una++;
    }
    for (unsigned j = 0; j < a->nwords; j++) {
        uint32_t base = a->ack + 1 + 64 * j;
        uint64_t fresh = a->w[j] & ~bits_at(ch->sacked, ch->mask, base);
        while (fresh) {
            int b = __builtin_ctzll(fresh);
            fresh &= fresh - 1;
            delivered(c, ch, (base + b) & ch->mask, &pr);
        }
    }
    if (pr.any) {
        ch->rto_start_ns = c->now;
        ch->probed = false;
        if (pr.sample_sent_ns) {
            /* Karn: the backed-off timeout stays until a frame sent once is acknowledged. */
            rtt_sample(ch, c->now - pr.sample_sent_ns);
            adapt_pipe(c, ch, c->now - pr.sample_sent_ns);
            ch->backoff = 0;
        }
    }
    return pr.any;
}

/* --- receiving --- */

static bool hold(struct cluster *c, struct channel *ch, const struct shoal_frame *f)
{
    uint32_t i = f->h.seq & ch->mask;
    struct rx_slot *r = &ch->rx[i];

    r->buf = NULL;
    if (f->h.len) {
        r->buf = c->env.alloc(c->env.ctx, f->h.len);
        if (!r->buf)
            return false;
        memcpy(r->buf, f->payload, f->h.len);
    }
    r->len = f->h.len;
    r->flags = f->h.flags;
    r->msg_len = f->h.msg_len;
    bit_set(ch->held, i);
    return true;
}

static void rx_abandon(struct cluster *c, struct channel *ch)
{
    c->env.free(c->env.ctx, ch->rx_buf);
    ch->rx_buf = NULL;
    ch->rx_active = false;
    c->st.messages_dropped++;
}

/*
 * Consumes the next in-order frame into the reassembly buffer. Fragments that contradict the
 * message they belong to (only a broken or hostile peer with the key sends them) are dropped
 * and counted, and reassembly resynchronises on the next FIRST.
 */
static enum rx_result rx_take(struct cluster *c, struct channel *ch, uint8_t flags,
                              uint32_t msg_len, const uint8_t *data, uint32_t len,
                              struct delivery *out)
{
    if (flags & SHOAL_F_FIRST) {
        if (ch->rx_active)
            rx_abandon(c, ch);
        ch->rx_buf = c->env.alloc(c->env.ctx, msg_len ? msg_len : 1);
        if (!ch->rx_buf)
            return RX_NOMEM;
        ch->rx_active = true;
        ch->rx_len = msg_len;
        ch->rx_got = 0;
    } else if (!ch->rx_active) {
        c->st.drop_length++;            /* a fragment with no message */
        return RX_OK;
    }
    if (len > ch->rx_len - ch->rx_got) {
        c->st.drop_length++;
        rx_abandon(c, ch);
        return RX_OK;
    }
    if (len)
        memcpy(ch->rx_buf + ch->rx_got, data, len);
    ch->rx_got += len;
    if (!(flags & SHOAL_F_LAST))
        return RX_OK;
    if (ch->rx_got != ch->rx_len) {
        c->st.drop_length++;
        rx_abandon(c, ch);
        return RX_OK;
    }
    out->buf = ch->rx_buf;
    out->len = ch->rx_len;
    ch->rx_buf = NULL;
    ch->rx_active = false;
    return RX_MSG;
}

static void deliver(struct cluster *c, struct peer *p, struct channel *ch, struct delivery *d)
{
    bool keep = false;

    c->st.messages_delivered++;
    c->env.deliver(c->env.ctx, (int)(p - c->peers), ch->id, d->buf, d->len, &keep);
    if (!keep)
        c->env.free(c->env.ctx, d->buf);
}

static void advance(struct channel *ch)
{
    ch->rcv_nxt++;
    if ((int32_t)(ch->rcv_high - ch->rcv_nxt) < 0)
        ch->rcv_high = ch->rcv_nxt;
}

/* Consumes held frames from rcv_nxt on; state is consistent before each delivery upcall. */
static void drain(struct cluster *c, struct peer *p, struct channel *ch)
{
    ch->rx_stalled = false;
    while (bit_test(ch->held, ch->rcv_nxt & ch->mask)) {
        uint32_t i = ch->rcv_nxt & ch->mask;
        struct rx_slot *r = &ch->rx[i];
        struct delivery d;
        enum rx_result res = rx_take(c, ch, r->flags, r->msg_len, r->buf, r->len, &d);
        if (res == RX_NOMEM) {
            ch->rx_stalled = true;
            return;
        }
        if (r->buf)
            c->env.free(c->env.ctx, r->buf);
        r->buf = NULL;
        bit_clear(ch->held, i);
        advance(ch);
        ch->ack_now = true;             /* a hole was filled: tell the sender at once */
        if (res == RX_MSG)
            deliver(c, p, ch, &d);
    }
}

static void ack_later(struct cluster *c, struct channel *ch)
{
    if (++ch->ack_pending >= ch->ack_every)
        ch->ack_now = true;
    else if (!ch->ack_due_ns)
        ch->ack_due_ns = c->now + ACK_DELAY_NS;
}

static void rx_data(struct cluster *c, struct peer *p, struct channel *ch,
                    const struct shoal_frame *f)
{
    int32_t d = (int32_t)(f->h.seq - ch->rcv_nxt);
    struct delivery dl;
    enum rx_result res;

    if (d < 0 || bit_test(ch->held, f->h.seq & ch->mask)) {
        c->st.dup_frames++;
        ch->ack_now = true;             /* our ack was lost, or the sender was too eager */
        return;
    }
    if (d > 0) {
        if (!hold(c, ch, f)) {
            c->st.drop_no_memory++;
            return;
        }
        if (f->h.seq != ch->rcv_high)
            ch->ack_now = true;         /* a new hole, or a frame inside one */
        else
            ack_later(c, ch);
        if ((int32_t)(f->h.seq + 1 - ch->rcv_high) > 0)
            ch->rcv_high = f->h.seq + 1;
        return;
    }
    res = rx_take(c, ch, f->h.flags, f->h.msg_len, f->payload, f->h.len, &dl);
    if (res == RX_NOMEM) {
        /* Keep it for the tick to retry; it is not acknowledged until it has been consumed. */
        if (!hold(c, ch, f)) {
            c->st.drop_no_memory++;
            return;
        }
        if ((int32_t)(f->h.seq + 1 - ch->rcv_high) > 0)
            ch->rcv_high = f->h.seq + 1;
        ch->rx_stalled = true;
        return;
    }
    advance(ch);
    if (ch->id == CLUSTER_CH_BULK && (f->h.flags & SHOAL_F_LAST))
        ch->ack_now = true;             /* end of a stream: nothing will follow to ack it */
    else
        ack_later(c, ch);
    if (res == RX_MSG)
        deliver(c, p, ch, &dl);
    if (ch->rcv_high != ch->rcv_nxt)
        drain(c, p, ch);
}

bool transport_check(struct cluster *c, struct peer *p, const struct shoal_frame *f)
{
    struct channel *ch = &p->s->ch[f->h.channel];
    struct ack_info a;

    read_ack(f, &a);
    if (!ack_valid(ch, &a)) {
        c->st.drop_out_of_window++;
        return false;
    }
    if (f->h.type == SHOAL_DATA) {
        int32_t d = (int32_t)(f->h.seq - ch->rcv_nxt);
        if (d < -(int32_t)ch->window) {
            c->st.drop_replay++;        /* older than any retransmission can be */
            return false;
        }
        if (d >= (int32_t)ch->window) {
            c->st.drop_out_of_window++;
            return false;
        }
    }
    return true;
}

void transport_input(struct cluster *c, struct peer *p, const struct shoal_frame *f)
{
    struct channel *ch = &p->s->ch[f->h.channel];
    struct ack_info a;

    read_ack(f, &a);
    ack_valid(ch, &a);                  /* true: transport_check said so; sets a.stale */
    if (a.stale && f->h.type == SHOAL_ACK) {
        c->st.drop_replay++;            /* an ACK older than what we know carries nothing: dropped */
        return;
    }
    if (!apply_ack(c, ch, &a) && f->h.type == SHOAL_ACK)
        c->st.dup_acks++;               /* nothing new: a duplicate (or replayed) ACK, ignored */
    if (f->h.type == SHOAL_DATA)
        rx_data(c, p, ch, f);
    pump_channel(c, p, ch);
    if (ch->ack_now)
        send_ack(c, p, ch);
}

void transport_tick(struct cluster *c, struct peer *p, int channel)
{
    struct channel *ch = &p->s->ch[channel];

    if (ch->rx_stalled)
        drain(c, p, ch);
    if (c->now >= probe_deadline(ch) && resend(c, p, ch, ch->tl_tail))
        ch->probed = true;
    if (ch->tl_head != TL_NIL && c->now >= rto_deadline(ch)) {
        /* A timeout: resend the oldest few, then wait a doubled RTO before the next one. */
        uint64_t rto = rto_of(ch);
        unsigned n = 0;
        while (ch->tl_head != TL_NIL && n < RTO_BURST && ch->tx[ch->tl_head].sent_ns + rto <= c->now) {
            if (!resend(c, p, ch, ch->tl_head))
                break;
            n++;
        }
        if (n) {
            if (ch->backoff < 16)
                ch->backoff++;
            ch->rto_start_ns = c->now;
        }
    }
    pump_channel(c, p, ch);
    if (ch->ack_now || (ch->ack_due_ns && c->now >= ch->ack_due_ns))
        send_ack(c, p, ch);
}

uint64_t transport_deadline(const struct cluster *c, const struct peer *p)
{
    uint64_t t = UINT64_MAX;

    for (int i = 0; i < CLUSTER_NCHANNELS; i++) {
        const struct channel *ch = &p->s->ch[i];
        bool work = ch->ack_now || (ch->q_head && ch->snd_nxt - ch->snd_una < ch->window &&
                                    ch->pipe < ch->pipe_cap);
        if (work)
            t = ch->blocked ? c->now + TX_RETRY_NS : 0;
        if (ch->tl_head != TL_NIL) {
            uint64_t lost = rack_deadline(ch, &ch->tx[ch->tl_head]);
            if (lost <= c->now)
                lost = ch->blocked ? c->now + TX_RETRY_NS : 0;
            if (lost < t)
                t = lost;
        }
        if (probe_deadline(ch) < t)
            t = probe_deadline(ch);
        if (ch->ack_due_ns && ch->ack_due_ns < t)
            t = ch->ack_due_ns;
        if (ch->tl_head != TL_NIL && rto_deadline(ch) < t)
            t = rto_deadline(ch);
        if (ch->rx_stalled && c->now + RX_RETRY_NS < t)
            t = c->now + RX_RETRY_NS;
    }
    return t;
}
