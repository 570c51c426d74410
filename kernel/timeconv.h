/*
 * kernel/timeconv.h: calendar arithmetic (proleptic Gregorian, UTC) and decoding of the PC's CMOS
 * real-time clock registers. Portable: no hardware access, host-tested in tests/unit/test_wallclock.c.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* A broken-down UTC time. year is the full year (2024), mon 1..12, mday 1..31. */
struct civil_time {
    int64_t year;
    unsigned mon, mday, hour, min, sec;
};

/* Days since 1970-01-01 of a date (negative before it); valid for any year that fits. */
int64_t days_from_civil(int64_t year, unsigned mon, unsigned mday);
/* The inverse: the date of day number days (0 = 1970-01-01). */
void civil_from_days(int64_t days, int64_t *year, unsigned *mon, unsigned *mday);

/* Seconds since the Unix epoch of t (no leap seconds, like Unix time), and back. */
int64_t civil_to_unix(const struct civil_time *t);
void unix_to_civil(int64_t secs, struct civil_time *t);

/* True if t names a real date and time (month length and leap years checked). */
bool civil_valid(const struct civil_time *t);

/* The CMOS clock registers as read: seconds 0x00, minutes 0x02, hours 0x04, day 0x07, month 0x08,
 * year 0x09 and status register B 0x0b (bit 2: binary instead of BCD, bit 1: 24-hour mode). */
struct rtc_regs {
    uint8_t sec, min, hour, mday, mon, year, status_b;
};

#define RTC_B_24H 0x02
#define RTC_B_BINARY 0x04
#define RTC_HOUR_PM 0x80                /* in 12-hour mode, the top bit of the hour register */

/* Decodes the registers (BCD or binary, 12- or 24-hour; the century is taken to be 20xx, since the
 * century register's location is not standard). Returns false if they do not make a valid time. */
bool rtc_decode(const struct rtc_regs *r, struct civil_time *out);
