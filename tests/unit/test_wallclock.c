/* tests/unit/test_wallclock.c: host tests of the calendar arithmetic and CMOS clock decoding
 * (kernel/timeconv.c), checked against known timestamps and against the host's gmtime/timegm. */
#define _DEFAULT_SOURCE
#include "kernel/timeconv.h"
#include "tests/unit/check.h"

#include <string.h>
#include <time.h>

static void test_known_dates(void)
{
    static const struct {
        int64_t y;
        unsigned m, d;
        int64_t days;
    } cases[] = {
        { 1970, 1, 1, 0 },
        { 1970, 1, 2, 1 },
        { 1969, 12, 31, -1 },
        { 2000, 1, 1, 10957 },
        { 2000, 2, 29, 11016 },
        { 2000, 3, 1, 11017 },
        { 2024, 1, 1, 19723 },
        { 2024, 2, 29, 19782 },
        { 2038, 1, 19, 24855 },
        { 2100, 3, 1, 47541 },              /* 2100 is not a leap year: Feb 28 is day 47540 */
        { 2100, 2, 28, 47540 },
        { 1900, 1, 1, -25567 },
        { 1600, 1, 1, -135140 },
        { 0, 3, 1, -719468 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t got = days_from_civil(cases[i].y, cases[i].m, cases[i].d);
        CHECKF(got == cases[i].days, "%lld-%02u-%02u: %lld days, want %lld", (long long)cases[i].y,
               cases[i].m, cases[i].d, (long long)got, (long long)cases[i].days);
        int64_t y;
        unsigned m, d;
        civil_from_days(cases[i].days, &y, &m, &d);
        CHECKF(y == cases[i].y && m == cases[i].m && d == cases[i].d, "day %lld: %lld-%u-%u",
               (long long)cases[i].days, (long long)y, m, d);
    }
}

static void test_known_timestamps(void)
{
    struct civil_time t = { 2009, 2, 13, 23, 31, 30 };
    CHECK(civil_to_unix(&t) == 1234567890);
    t = (struct civil_time){ 2038, 1, 19, 3, 14, 8 };
    CHECK(civil_to_unix(&t) == 2147483648ll);
    t = (struct civil_time){ 2024, 2, 29, 12, 0, 0 };
    CHECK(civil_to_unix(&t) == 1709208000);
    unix_to_civil(1700000000, &t);         /* 2023-11-14 22:13:20 */
    CHECK(t.year == 2023 && t.mon == 11 && t.mday == 14 && t.hour == 22 && t.min == 13 && t.sec == 20);
    unix_to_civil(-1, &t);                 /* 1969-12-31 23:59:59 */
    CHECK(t.year == 1969 && t.mon == 12 && t.mday == 31 && t.hour == 23 && t.min == 59 && t.sec == 59);
}

/* Every day from 1900 to 2200 (and random instants) agree with the host's timegm/gmtime_r. */
static void test_against_libc(void)
{
    int64_t prev = days_from_civil(1899, 12, 31);
    for (int64_t y = 1900; y <= 2200; y++) {
        for (unsigned m = 1; m <= 12; m++) {
            for (unsigned d = 1; d <= 31; d++) {
                struct civil_time t = { y, m, d, 0, 0, 0 };
                if (!civil_valid(&t))
                    continue;
                int64_t days = days_from_civil(y, m, d);
                CHECKF(days == prev + 1, "%lld-%u-%u is day %lld after %lld", (long long)y, m, d,
                       (long long)days, (long long)prev);
                prev = days;
                struct tm tm = { .tm_year = (int)(y - 1900), .tm_mon = (int)m - 1, .tm_mday = (int)d };
                CHECKF(timegm(&tm) == days * 86400, "%lld-%u-%u disagrees with timegm", (long long)y, m, d);
            }
        }
    }
    uint64_t s = 42;
    for (int i = 0; i < 100000; i++) {
        int64_t secs = (int64_t)rng_below(&s, 8000000000ull) - 2000000000ll;
        struct civil_time t;
        unix_to_civil(secs, &t);
        time_t tt = (time_t)secs;
        struct tm tm;
        gmtime_r(&tt, &tm);
        CHECKF(t.year == tm.tm_year + 1900 && t.mon == (unsigned)tm.tm_mon + 1 && t.mday == (unsigned)tm.tm_mday &&
                   t.hour == (unsigned)tm.tm_hour && t.min == (unsigned)tm.tm_min && t.sec == (unsigned)tm.tm_sec,
               "%lld: %lld-%u-%u %u:%u:%u", (long long)secs, (long long)t.year, t.mon, t.mday, t.hour, t.min, t.sec);
        CHECKF(civil_to_unix(&t) == secs, "%lld does not round-trip", (long long)secs);
    }
}

static void test_valid(void)
{
    struct civil_time t = { 2023, 2, 29, 0, 0, 0 };
    CHECK(!civil_valid(&t));
    t.year = 2024;
    CHECK(civil_valid(&t));
    t = (struct civil_time){ 1900, 2, 29, 0, 0, 0 };
    CHECK(!civil_valid(&t));
    t = (struct civil_time){ 2000, 2, 29, 0, 0, 0 };
    CHECK(civil_valid(&t));
    t = (struct civil_time){ 2024, 4, 31, 0, 0, 0 };
    CHECK(!civil_valid(&t));
    t = (struct civil_time){ 2024, 13, 1, 0, 0, 0 };
    CHECK(!civil_valid(&t));
    t = (struct civil_time){ 2024, 0, 1, 0, 0, 0 };
    CHECK(!civil_valid(&t));
    t = (struct civil_time){ 2024, 1, 1, 24, 0, 0 };
    CHECK(!civil_valid(&t));
    t = (struct civil_time){ 2024, 1, 1, 23, 60, 0 };
    CHECK(!civil_valid(&t));
}

static void test_rtc_bcd_24h(void)
{
    /* 2024-07-15 21:05:09, the default PC setting: BCD, 24-hour. */
    struct rtc_regs r = { 0x09, 0x05, 0x21, 0x15, 0x07, 0x24, RTC_B_24H };
    struct civil_time t;
    CHECK(rtc_decode(&r, &t));
    CHECK(t.year == 2024 && t.mon == 7 && t.mday == 15 && t.hour == 21 && t.min == 5 && t.sec == 9);
    r.sec = 0x5a;                           /* not BCD */
    CHECK(!rtc_decode(&r, &t));
}

static void test_rtc_binary(void)
{
    struct rtc_regs r = { 59, 59, 23, 31, 12, 99, RTC_B_24H | RTC_B_BINARY };
    struct civil_time t;
    CHECK(rtc_decode(&r, &t));
    CHECK(t.year == 2099 && t.mon == 12 && t.mday == 31 && t.hour == 23 && t.min == 59 && t.sec == 59);
    r.year = 100;
    CHECK(!rtc_decode(&r, &t));
    r.year = 25;
    r.mon = 2;
    r.mday = 29;                            /* 2025 is not a leap year */
    CHECK(!rtc_decode(&r, &t));
}

static void test_rtc_12h(void)
{
    struct civil_time t;
    /* BCD 12-hour: 12 AM = 0h, 1 AM = 1h, 12 PM = 12h, 11 PM = 23h. */
    static const struct {
        uint8_t raw;
        unsigned hour;
    } bcd[] = { { 0x12, 0 }, { 0x01, 1 }, { 0x11, 11 }, { 0x80 | 0x12, 12 }, { 0x80 | 0x01, 13 }, { 0x80 | 0x11, 23 } };
    for (size_t i = 0; i < sizeof bcd / sizeof bcd[0]; i++) {
        struct rtc_regs r = { 0, 0, bcd[i].raw, 0x01, 0x01, 0x25, 0 };
        CHECKF(rtc_decode(&r, &t) && t.hour == bcd[i].hour, "BCD 12h %#x -> %u", bcd[i].raw, t.hour);
    }
    /* Binary 12-hour: same rule with binary hours. */
    struct rtc_regs r = { 0, 0, 0x80 | 12, 1, 1, 25, RTC_B_BINARY };
    CHECK(rtc_decode(&r, &t) && t.hour == 12);
    r.hour = 0x80 | 7;
    CHECK(rtc_decode(&r, &t) && t.hour == 19);
    r.hour = 12;
    CHECK(rtc_decode(&r, &t) && t.hour == 0);
    r.hour = 0;                             /* hour 0 does not exist on a 12-hour clock */
    CHECK(!rtc_decode(&r, &t));
    r.hour = 13;
    CHECK(!rtc_decode(&r, &t));
}

int main(void)
{
    RUN(test_known_dates);
    RUN(test_known_timestamps);
    RUN(test_against_libc);
    RUN(test_valid);
    RUN(test_rtc_bcd_24h);
    RUN(test_rtc_binary);
    RUN(test_rtc_12h);
    return check_done();
}
