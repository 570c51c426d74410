/*
 * kernel/wallclock.h: the time of day. The CMOS real-time clock is read once at boot (arch/x86/rtc.c)
 * and turned into the wall-clock time at which clock_ns() was 0 (the boot epoch); from then on the
 * wall clock is that epoch plus the monotonic clock, so it never drifts from it and costs no I/O.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* Reads the RTC and sets the boot epoch. Call once at boot, after timer_init(). */
void wallclock_init(void);
/* Nanoseconds since 1970-01-01 00:00:00 UTC. */
uint64_t wallclock_ns(void);
/* Sets the time of day (clock_settime, settimeofday); moves the boot epoch, not the monotonic clock. */
void wallclock_set_ns(uint64_t ns);
/* Wall-clock time of boot, in nanoseconds since the epoch (/proc/stat's btime). */
uint64_t wallclock_boot_ns(void);
/* True if the boot epoch came from a readable RTC (false: it is 0, the clock counts from 1970). */
bool wallclock_from_rtc(void);
