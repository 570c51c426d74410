/*
 * net/wire.c: encoding and syntax checking of Shoal frames. wire_parse is the first thing any
 * received byte meets: it reads nothing beyond len, checks every field whose validity does not
 * depend on engine state, then the tag. Building with -DSHOAL_FUZZ_NO_TAG skips only the tag
 * comparison, so a fuzzer can reach the code behind it; never in a real build.
 */
#include "net/wire.h"
#include "kernel/string.h"

static void put_hdr(uint8_t *p, const struct shoal_hdr *h)
{
    p[0] = h->version;
    p[1] = h->type;
    p[2] = h->flags;
    p[3] = h->channel;
    put_be16(p + 4, h->src);
    put_be16(p + 6, h->dst);
    put_be32(p + 8, h->src_inc);
    put_be32(p + 12, h->dst_inc);
    put_be32(p + 16, h->src_epoch);
    put_be32(p + 20, h->dst_epoch);
    put_be32(p + 24, h->seq);
    put_be32(p + 28, h->ack);
    put_be64(p + 32, h->sack);
    put_be32(p + 40, h->msg_len);
    put_be16(p + 44, h->len);
    put_be16(p + 46, h->reserved);
}

static void get_hdr(const uint8_t *p, struct shoal_hdr *h)
{
    h->version = p[0];
    h->type = p[1];
    h->flags = p[2];
    h->channel = p[3];
    h->src = get_be16(p + 4);
    h->dst = get_be16(p + 6);
    h->src_inc = get_be32(p + 8);
    h->dst_inc = get_be32(p + 12);
    h->src_epoch = get_be32(p + 16);
    h->dst_epoch = get_be32(p + 20);
    h->seq = get_be32(p + 24);
    h->ack = get_be32(p + 28);
    h->sack = get_be64(p + 32);
    h->msg_len = get_be32(p + 40);
    h->len = get_be16(p + 44);
    h->reserved = get_be16(p + 46);
}

/* The tag is SipHash-2-4's 8 output bytes in the reference order (the value little-endian). */
static uint64_t compute_tag(const struct siphash_key *key, const uint8_t *hdr,
                            const uint8_t *payload, size_t len)
{
    struct siphash_state s;

    siphash_init(&s, key);
    siphash_update(&s, hdr, SHOAL_TAG_OFF);
    siphash_update(&s, payload, len);
    return siphash_final(&s);
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = v >> (8 * i);
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void hello_put_info(uint8_t *p, const struct hello_info *hi)
{
    memcpy(p, hi->mac, ETH_ALEN);
    put_be16(p + 6, hi->nentries);
    put_be32(p + 8, hi->load);
    put_be32(p + 12, hi->free_pages);
    put_be32(p + 16, hi->nprocs);
    put_be32(p + 20, 0);
}

void hello_get_info(const uint8_t *p, struct hello_info *hi)
{
    memcpy(hi->mac, p, ETH_ALEN);
    hi->nentries = get_be16(p + 6);
    hi->load = get_be32(p + 8);
    hi->free_pages = get_be32(p + 12);
    hi->nprocs = get_be32(p + 16);
}

void hello_put_entry(uint8_t *p, unsigned i, const struct hello_entry *e)
{
    p += HELLO_FIXED_LEN + i * HELLO_ENTRY_LEN;
    put_be16(p, e->node);
    put_be16(p + 2, 0);
    put_be32(p + 4, e->incarnation);
    put_be32(p + 8, e->epoch);
    put_be32(p + 12, e->peer_epoch);
}

void hello_get_entry(const uint8_t *p, unsigned i, struct hello_entry *e)
{
    p += HELLO_FIXED_LEN + i * HELLO_ENTRY_LEN;
    e->node = get_be16(p);
    e->incarnation = get_be32(p + 4);
    e->epoch = get_be32(p + 8);
    e->peer_epoch = get_be32(p + 12);
}

static enum wire_verdict check_hello(const struct shoal_hdr *h, const uint8_t *payload)
{
    if (h->flags || h->channel || h->dst != CLUSTER_BROADCAST || h->dst_inc || h->src_epoch ||
        h->dst_epoch || h->seq == 0 || h->ack || h->sack || h->msg_len)
        return WIRE_TYPE;
    if (h->len < HELLO_FIXED_LEN)
        return WIRE_LENGTH;
    unsigned n = get_be16(payload + 6);
    if (n > HELLO_MAX_ENTRIES || h->len != HELLO_FIXED_LEN + n * HELLO_ENTRY_LEN)
        return WIRE_LENGTH;
    if (get_be32(payload + 20))
        return WIRE_TYPE;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *e = payload + HELLO_FIXED_LEN + i * HELLO_ENTRY_LEN;
        if (get_be16(e) >= CLUSTER_MAX_NODES || get_be16(e + 2) || get_be32(e + 4) == 0 ||
            get_be32(e + 8) == 0)
            return WIRE_TYPE;
    }
    return WIRE_OK;
}

static enum wire_verdict check_data(const struct shoal_hdr *h)
{
    if (h->flags & ~(SHOAL_F_FIRST | SHOAL_F_LAST))
        return WIRE_TYPE;
    if (h->len > SHOAL_MAX_PAYLOAD)
        return WIRE_LENGTH;
    if (h->flags & SHOAL_F_FIRST) {
        if (h->msg_len > CLUSTER_MAX_MESSAGE || h->len > h->msg_len)
            return WIRE_LENGTH;
        if ((h->flags & SHOAL_F_LAST) && h->len != h->msg_len)
            return WIRE_LENGTH;
    } else if (h->msg_len) {
        return WIRE_TYPE;
    }
    return WIRE_OK;
}

static enum wire_verdict check_ack(const struct shoal_hdr *h)
{
    if (h->flags || h->seq || h->msg_len)
        return WIRE_TYPE;
    if (h->len % 8 || h->len > ACK_MAX_EXTRA_WORDS * 8)
        return WIRE_LENGTH;
    return WIRE_OK;
}

enum wire_verdict wire_parse(const void *frame, size_t len, const struct siphash_key *key,
                             struct shoal_frame *out)
{
    const uint8_t *f = frame;
    const uint8_t *p = f + ETH_HLEN;
    struct shoal_hdr *h = &out->h;
    enum wire_verdict v;

    if (len < SHOAL_OVERHEAD)
        return WIRE_SHORT;
    if (get_be16(f + 12) != ETH_P_SHOAL)
        return WIRE_ETHERTYPE;
    get_hdr(p, h);
    if (h->version != SHOAL_VERSION)
        return WIRE_VERSION;
    if (h->type < SHOAL_HELLO || h->type > SHOAL_ACK)
        return WIRE_TYPE;
    /* Ethernet pads short frames: bytes past the payload are allowed, a payload past the end not. */
    if (h->len > len - SHOAL_OVERHEAD)
        return WIRE_LENGTH;
    if (h->reserved || h->channel >= CLUSTER_NCHANNELS || h->src_inc == 0)
        return WIRE_TYPE;
    if (h->type != SHOAL_HELLO && (h->dst_inc == 0 || h->src_epoch == 0 || h->dst_epoch == 0))
        return WIRE_TYPE;
    out->eth_dst = f;
    out->eth_src = f + ETH_ALEN;
    out->payload = f + SHOAL_OVERHEAD;
    switch (h->type) {
    case SHOAL_HELLO:
        v = check_hello(h, out->payload);
        break;
    case SHOAL_DATA:
        v = check_data(h);
        break;
    default:
        v = check_ack(h);
        break;
    }
    if (v != WIRE_OK)
        return v;
    uint64_t tag = compute_tag(key, p, out->payload, h->len);
#ifdef SHOAL_FUZZ_NO_TAG
    (void)tag;
#else
    if (tag != get_le64(p + SHOAL_TAG_OFF))
        return WIRE_TAG;
#endif
    return WIRE_OK;
}

size_t wire_build(uint8_t *buf, const uint8_t dst[ETH_ALEN], const uint8_t src[ETH_ALEN],
                  struct shoal_hdr *h, const void *payload, const struct siphash_key *key)
{
    uint8_t *p = buf + ETH_HLEN;
    uint8_t *pl = buf + SHOAL_OVERHEAD;

    memcpy(buf, dst, ETH_ALEN);
    memcpy(buf + ETH_ALEN, src, ETH_ALEN);
    put_be16(buf + 12, ETH_P_SHOAL);
    h->version = SHOAL_VERSION;
    put_hdr(p, h);
    if (h->len && payload != pl)
        memcpy(pl, payload, h->len);
    put_le64(p + SHOAL_TAG_OFF, compute_tag(key, p, pl, h->len));
    return SHOAL_OVERHEAD + h->len;
}
