/* kernel/time.h: the monotonic clock and the scheduler tick. */
#pragma once
#include <stdint.h>

#define HZ 100                          /* scheduler ticks per second (also Linux's USER_HZ) */
#define NSEC_PER_SEC 1000000000ull
#define NSEC_PER_MSEC 1000000ull

void timer_init(void);                  /* calibrates TSC and LAPIC timer against the PIT, starts ticking */
uint64_t clock_ns(void);                /* nanoseconds since boot, monotonic, from the TSC */
uint64_t jiffies(void);                 /* ticks since the timer started */
uint64_t tsc_hz(void);
uint64_t lapic_timer_hz(void);          /* LAPIC timer input clock after its divider */
void udelay(uint64_t us);               /* busy wait; only for hardware that wants it */
