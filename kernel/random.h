/* kernel/random.h: the kernel's random numbers (for /dev/urandom, getrandom, AT_RANDOM). */
#pragma once
#include <stddef.h>
#include <stdint.h>

void random_init(uint64_t seed);        /* mixes the seed into the state */
void random_bytes(void *buf, size_t n);
uint64_t random_u64(void);
