/*
 * net/siphash.c: SipHash-2-4 over byte strings, written from the paper's description: 2
 * compression rounds per 8-byte word, 4 finalisation rounds, 64-bit output. Words are read as
 * little-endian byte by byte so the code is alignment- and endian-neutral. Checked against the
 * reference test vectors in tests/unit/test_net_siphash.c.
 */
#include "net/siphash.h"

static inline uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

/* The state lives in locals inside the loops: through a pointer, every byte store the compiler
 * cannot rule out as aliasing would force the four words back to memory each round. */
#define SIPROUND(v0, v1, v2, v3)                                               \
    do {                                                                       \
        v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);              \
        v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                                 \
        v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                                 \
        v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);              \
    } while (0)

#define COMPRESS(v0, v1, v2, v3, m)                                            \
    do {                                                                       \
        v3 ^= (m);                                                             \
        SIPROUND(v0, v1, v2, v3);                                              \
        SIPROUND(v0, v1, v2, v3);                                              \
        v0 ^= (m);                                                             \
    } while (0)

/* Compresses n / 8 whole words from p. */
static void compress_words(struct siphash_state *s, const uint8_t *p, size_t n)
{
    uint64_t v0 = s->v0, v1 = s->v1, v2 = s->v2, v3 = s->v3;

    for (; n >= 8; n -= 8, p += 8) {
        uint64_t m = load_le64(p);
        COMPRESS(v0, v1, v2, v3, m);
    }
    s->v0 = v0;
    s->v1 = v1;
    s->v2 = v2;
    s->v3 = v3;
}

void siphash_key_init(struct siphash_key *k, const uint8_t bytes[SIPHASH_KEY_LEN])
{
    k->k0 = load_le64(bytes);
    k->k1 = load_le64(bytes + 8);
}

void siphash_init(struct siphash_state *s, const struct siphash_key *k)
{
    s->v0 = k->k0 ^ 0x736f6d6570736575ull;
    s->v1 = k->k1 ^ 0x646f72616e646f6dull;
    s->v2 = k->k0 ^ 0x6c7967656e657261ull;
    s->v3 = k->k1 ^ 0x7465646279746573ull;
    s->tail = 0;
    s->len = 0;
}

void siphash_update(struct siphash_state *s, const void *data, size_t n)
{
    const uint8_t *p = data;
    size_t have = s->len & 7;

    s->len += n;
    /* Finish a partial word left by the previous call. */
    if (have) {
        while (have < 8 && n) {
            s->tail |= (uint64_t)*p++ << (8 * have++);
            n--;
        }
        if (have < 8)
            return;
        uint8_t word[8];
        for (int i = 0; i < 8; i++)
            word[i] = s->tail >> (8 * i);
        compress_words(s, word, 8);
        s->tail = 0;
    }
    compress_words(s, p, n);
    p += n & ~(size_t)7;
    n &= 7;
    for (size_t i = 0; i < n; i++)
        s->tail |= (uint64_t)p[i] << (8 * i);
}

uint64_t siphash_final(struct siphash_state *s)
{
    uint64_t v0 = s->v0, v1 = s->v1, v2 = s->v2, v3 = s->v3;
    uint64_t m = s->tail | (uint64_t)(s->len & 0xff) << 56;

    COMPRESS(v0, v1, v2, v3, m);
    v2 ^= 0xff;
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t siphash24(const struct siphash_key *k, const void *data, size_t n)
{
    struct siphash_state s;

    siphash_init(&s, k);
    siphash_update(&s, data, n);
    return siphash_final(&s);
}
