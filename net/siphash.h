/*
 * net/siphash.h: SipHash-2-4 (Aumasson and Bernstein, 2012), the keyed 64-bit MAC that
 * authenticates every cluster frame. Portable; one-shot and incremental forms give the same result.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN 16

struct siphash_key {
    uint64_t k0, k1;                    /* the 16 key bytes read as two little-endian words */
};

/* Incremental state: update may be called with any split of the message. */
struct siphash_state {
    uint64_t v0, v1, v2, v3;
    uint64_t tail;                      /* up to 7 pending bytes, little-endian */
    size_t len;                         /* total bytes so far */
};

void siphash_key_init(struct siphash_key *k, const uint8_t bytes[SIPHASH_KEY_LEN]);
void siphash_init(struct siphash_state *s, const struct siphash_key *k);
void siphash_update(struct siphash_state *s, const void *data, size_t n);
uint64_t siphash_final(struct siphash_state *s);
uint64_t siphash24(const struct siphash_key *k, const void *data, size_t n);
