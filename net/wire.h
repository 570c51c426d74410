/*
 * net/wire.h: the Shoal frame format (docs/PROTOCOL.md): Ethernet header, the fixed 56-byte Shoal
 * header, the HELLO and ACK payloads, and the SipHash-2-4 tag. wire_parse checks the syntax of a
 * frame and its tag; what the fields mean to the state machines is checked by the engine.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/cluster.h"
#include "net/siphash.h"

#define ETH_ALEN 6
#define ETH_HLEN 14
#define SHOAL_VERSION 1
#define SHOAL_HLEN 56                   /* the Shoal header, tag included */
#define SHOAL_TAG_OFF 48                /* the tag covers header bytes [0, 48) and the payload */
#define SHOAL_OVERHEAD (ETH_HLEN + SHOAL_HLEN)
#define SHOAL_MTU_MIN 1280              /* a full HELLO must fit */
#define SHOAL_MTU_MAX 9000
#define SHOAL_MAX_PAYLOAD (SHOAL_MTU_MAX - SHOAL_HLEN)
#define SHOAL_MAX_FRAME (ETH_HLEN + SHOAL_MTU_MAX)

enum shoal_type {
    SHOAL_HELLO = 1,
    SHOAL_DATA = 2,
    SHOAL_ACK = 3,
};

#define SHOAL_F_FIRST 0x01              /* DATA: first fragment, msg_len is the message's size */
#define SHOAL_F_LAST 0x02               /* DATA: last fragment */

/* The decoded Shoal header (on the wire: big-endian, offsets in docs/PROTOCOL.md). */
struct shoal_hdr {
    uint8_t version, type, flags, channel;
    uint16_t src, dst;
    uint32_t src_inc, dst_inc;
    uint32_t src_epoch, dst_epoch;
    uint32_t seq, ack;
    uint64_t sack;                      /* bit i: frame ack + 1 + i was received */
    uint32_t msg_len;
    uint16_t len;                       /* payload bytes after the header */
    uint16_t reserved;                  /* zero */
};

/* HELLO payload: fixed part, then one view entry per peer in handshake or up. */
#define HELLO_FIXED_LEN 24
#define HELLO_ENTRY_LEN 16
#define HELLO_MAX_ENTRIES (CLUSTER_MAX_NODES - 1)
#define HELLO_MAX_LEN (HELLO_FIXED_LEN + HELLO_MAX_ENTRIES * HELLO_ENTRY_LEN)

struct hello_entry {
    uint16_t node;
    uint32_t incarnation;               /* the incarnation the sender knows for node */
    uint32_t epoch;                     /* the sender's session epoch towards node */
    uint32_t peer_epoch;                /* node's epoch as the sender last heard it, 0 unknown */
};

struct hello_info {
    uint8_t mac[ETH_ALEN];
    uint16_t nentries;
    uint32_t load, free_pages, nprocs;
};

/* ACK payload: the selective-ack words after the one in the header (ack + 65 onwards). */
#define ACK_MAX_EXTRA_WORDS 7

struct shoal_frame {
    const uint8_t *eth_dst, *eth_src;
    struct shoal_hdr h;
    const uint8_t *payload;             /* h.len bytes */
};

enum wire_verdict {
    WIRE_OK,
    WIRE_SHORT,                         /* shorter than the headers */
    WIRE_ETHERTYPE,                     /* not 0x88B5 */
    WIRE_VERSION,
    WIRE_TYPE,                          /* unknown type or a field invalid for the type */
    WIRE_LENGTH,                        /* payload length impossible or inconsistent */
    WIRE_TAG,                           /* authentication failed */
};

enum wire_verdict wire_parse(const void *frame, size_t len, const struct siphash_key *key,
                             struct shoal_frame *out);

/*
 * Writes a whole frame into buf (at least SHOAL_OVERHEAD + h->len bytes): Ethernet header,
 * Shoal header with its tag, and the payload, which is copied unless it already sits at
 * buf + SHOAL_OVERHEAD. h->version is set here. Returns the frame length.
 */
size_t wire_build(uint8_t *buf, const uint8_t dst[ETH_ALEN], const uint8_t src[ETH_ALEN],
                  struct shoal_hdr *h, const void *payload, const struct siphash_key *key);

void hello_put_info(uint8_t *p, const struct hello_info *hi);
void hello_get_info(const uint8_t *p, struct hello_info *hi);
void hello_put_entry(uint8_t *p, unsigned i, const struct hello_entry *e);
void hello_get_entry(const uint8_t *p, unsigned i, struct hello_entry *e);

static inline uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t get_be64(const uint8_t *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, v >> 32);
    put_be32(p + 4, (uint32_t)v);
}
