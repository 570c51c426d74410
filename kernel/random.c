/*
 * kernel/random.c: a xoshiro256** generator, seeded at boot from the TSC and RDRAND when the CPU
 * has it. Good statistics, not cryptographic: enough for AT_RANDOM, $RANDOM and /dev/urandom of a
 * teaching cluster; documented as such.
 */
#include "kernel/random.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"

static uint64_t s[4] = { 0x243f6a8885a308d3ull, 0x13198a2e03707344ull, 0xa4093822299f31d0ull, 0x082efa98ec4e6c89ull };
static struct spinlock lock = SPINLOCK_INIT("random");

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next(void)
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

void random_init(uint64_t seed)
{
    uint64_t f = spin_lock_irqsave(&lock);
    for (int i = 0; i < 4; i++)
        s[i] ^= seed * (0x9e3779b97f4a7c15ull + (uint64_t)i * 2);
    for (int i = 0; i < 16; i++)
        next();
    spin_unlock_irqrestore(&lock, f);
}

uint64_t random_u64(void)
{
    uint64_t f = spin_lock_irqsave(&lock);
    uint64_t r = next();
    spin_unlock_irqrestore(&lock, f);
    return r;
}

void random_bytes(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n) {
        uint64_t r = random_u64();
        size_t k = n < 8 ? n : 8;
        memcpy(p, &r, k);
        p += k;
        n -= k;
    }
}
