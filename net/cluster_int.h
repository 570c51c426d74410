/*
 * net/cluster_int.h: the engine's private state, shared by its parts: cluster.c (the API and
 * frame dispatch), membership.c (HELLO, handshake, failure detection) and transport.c (reliable
 * channels). Nothing outside net/ includes this.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/cluster.h"
#include "net/siphash.h"
#include "net/wire.h"

#define MS 1000000ull                   /* nanoseconds */
#define US 1000ull

/* Transport tuning (docs/PROTOCOL.md, "Timers and defaults"). */
#define CONTROL_WINDOW 32               /* frames in flight on the control channel */
#define BULK_WINDOW 512                 /* ... on the bulk channel (~740 KB at MTU 1500) */
#define RING_MIN 64                     /* rings are at least one bitmap word */
#define CONTROL_ACK_EVERY 1             /* in-order frames per ack: control acks at once */
#define BULK_ACK_EVERY 8
#define ACK_DELAY_NS (2 * MS)
#define BULK_BURST 64                   /* new bulk frames sent per pump, so control goes first */
#define PIPE_INIT 64                    /* bulk frames in flight undelivered: start, least, step */
#define PIPE_MIN 32
#define PIPE_STEP 8
#define QDELAY_TARGET_NS (2 * MS)       /* queueing delay above the minimum RTT that shrinks it */
#define RTO_INIT_NS (50 * MS)
#define RTO_MIN_NS (20 * MS)
#define RTO_MAX_NS (1000 * MS)
#define RTO_GRANULARITY_NS (2 * MS)
#define RTO_BURST 16                    /* frames retransmitted per timeout */
#define PTO_MIN_NS (1 * MS)             /* tail loss probe: 2 SRTT (+ ack delay), at least this */
#define REO_WND_MIN_NS (250 * US)       /* reordering tolerance before a frame counts as lost */
#define DUPTHRESH 3                     /* ... or this many later frames delivered */
#define REO_LEVEL_MAX 4                 /* both double per level after spurious retransmits */
#define REO_DECAY_NS (1000 * MS)
#define TX_RETRY_NS (1 * MS)            /* after the device refused a frame */
#define RX_RETRY_NS (10 * MS)           /* after reassembly memory was refused */

/* Membership. */
#define HELLO_DEFAULT_MS 200
#define DEAD_DEFAULT_MS 1500
#define MTU_DEFAULT 1500
#define HELLO_MIN_GAP_NS (5 * MS)       /* between triggered HELLOs */

#define TL_NIL 0xffff

/* A message being sent: the copy cluster_send made, freed when its last frame is acknowledged. */
struct tx_msg {
    struct tx_msg *next;
    uint32_t len;
    uint32_t framed;                    /* bytes already cut into frames */
    uint32_t refs;                      /* frames in flight, plus one while still queued */
    uint8_t data[];
};

/* One sent, not yet cumulatively acknowledged frame. */
struct tx_slot {
    struct tx_msg *msg;
    uint64_t sent_ns;                   /* last transmission */
    uint32_t seq;
    uint32_t off;
    uint16_t len;
    uint8_t flags;
    uint8_t delivered;                  /* selectively acknowledged (or acked) */
    uint8_t fast;                       /* last sent again because acks showed it lost */
    uint16_t xmits;
    uint16_t prev, next;                /* time list: undelivered frames by last send time */
};

/* One received frame above the cumulative point, kept until it can be consumed in order. */
struct rx_slot {
    uint8_t *buf;                       /* payload copy, NULL when len is 0 */
    uint32_t msg_len;
    uint16_t len;
    uint8_t flags;
};

struct channel {
    uint8_t id;
    uint32_t window, mask, ack_every;
    /* sender */
    struct tx_msg *q_head, *q_tail;     /* messages not yet completely framed */
    uint32_t snd_una, snd_nxt;
    uint16_t tl_head, tl_tail;
    uint32_t pipe;                      /* frames on the time list (sent, not delivered) */
    uint32_t pipe_cap;                  /* at most this many (delay based, see transport.c) */
    uint64_t cap_changed_ns;
    struct tx_slot *tx;
    uint64_t *sacked;                   /* ring bitmap: tx[i].delivered */
    uint64_t srtt, rttvar, min_rtt;     /* ns; 0 = no sample yet */
    uint32_t backoff;
    uint64_t rto_start_ns;              /* timer restarted (ack progress, timeout) at this time */
    bool probed;                        /* a tail loss probe is out for this flight */
    bool blocked;                       /* the device refused this channel's last frame */
    uint64_t rack_xmit_ns;              /* latest send time of a delivered frame */
    uint32_t rack_seq;                  /* highest sequence delivered */
    uint32_t reo_level;
    uint64_t reo_changed_ns;
    uint64_t backlog_bytes;             /* accepted by cluster_send, not yet acknowledged */
    uint64_t inflight_bytes;            /* sent, not yet acknowledged */
    /* receiver */
    uint32_t rcv_nxt;                   /* every frame before it was consumed */
    uint32_t rcv_high;                  /* one past the highest frame held */
    struct rx_slot *rx;
    uint64_t *held;                     /* ring bitmap: rx[i] holds a frame */
    uint32_t ack_pending;               /* consumed frames not yet acknowledged */
    uint64_t ack_due_ns;                /* 0: no delayed ack pending */
    bool ack_now;
    bool rx_stalled;                    /* reassembly memory refused; retry on tick */
    uint8_t *rx_buf;                    /* message being reassembled */
    uint32_t rx_len, rx_got;
    bool rx_active;
};

struct session {
    struct channel ch[CLUSTER_NCHANNELS];
};

enum peer_state {
    PEER_NONE,                          /* never heard */
    PEER_DOWN,                          /* heard before, no session */
    PEER_JOINING,                       /* session created, handshake not confirmed */
    PEER_UP,
};

struct peer {
    uint8_t state;
    uint8_t mac[ETH_ALEN];
    uint32_t inc;                       /* incarnation of the life we know */
    uint32_t hello_seq;                 /* last HELLO counter accepted from that life */
    uint64_t last_heard_ns;
    uint32_t my_epoch, their_epoch;     /* session identifiers, 0 = unknown */
    uint32_t load, free_pages, nprocs;
    struct session *s;                  /* JOINING and UP only */
};

struct cluster {
    struct net_env env;
    int self;
    uint8_t mac[ETH_ALEN];
    uint32_t inc;
    uint16_t mtu;
    uint64_t hello_ns, dead_ns;
    struct siphash_key key;
    uint64_t now;                       /* env->now_ns at the start of the current call */
    uint32_t hello_seq;
    uint32_t next_epoch;
    uint64_t last_hello_ns, next_hello_ns;
    bool hello_trigger;
    uint32_t load, free_pages, nprocs;
    struct cluster_stats st;
    struct peer peers[CLUSTER_MAX_NODES];
    uint8_t txbuf[SHOAL_MAX_FRAME];
};

/* cluster.c: sends the frame built in c->txbuf; false if the device refused it */
bool cluster_xmit(struct cluster *c, size_t len);
uint64_t cluster_now(struct cluster *c);

/* membership.c */
void membership_init(struct cluster *c);
void membership_hello_input(struct cluster *c, const struct shoal_frame *f);
/* Checks the source of a DATA/ACK frame (node, incarnations, session epochs); returns its peer
 * or NULL after counting the drop. membership_confirm then marks it heard (and up if it was
 * joining: a frame of the session proves the other side completed the handshake). */
struct peer *membership_check_source(struct cluster *c, const struct shoal_frame *f);
void membership_confirm(struct cluster *c, struct peer *p);
void membership_tick(struct cluster *c);
void membership_hello_due(struct cluster *c);   /* sends a periodic or triggered HELLO if due */
uint64_t membership_deadline(const struct cluster *c);
void membership_fini(struct cluster *c);

/* transport.c */
struct session *session_create(struct cluster *c);
void session_destroy(struct cluster *c, struct session *s);
/* Validates a DATA/ACK frame against the session (ack, selective acks, sequence window);
 * returns false after counting the drop. Nothing changes before it returned true. */
bool transport_check(struct cluster *c, struct peer *p, const struct shoal_frame *f);
void transport_input(struct cluster *c, struct peer *p, const struct shoal_frame *f);
int transport_send(struct cluster *c, struct peer *p, int channel, const void *msg, size_t len);
void transport_tick(struct cluster *c, struct peer *p, int channel);
uint64_t transport_deadline(const struct cluster *c, const struct peer *p);
