/*
 * kernel/timeconv.c: calendar arithmetic and CMOS clock decoding (see timeconv.h).
 * The date conversions are Howard Hinnant's days_from_civil / civil_from_days: they count in 400-year
 * eras (146097 days each) of years starting on March 1st, so the leap day is the last day of a year
 * and no table of month lengths is needed.
 */
#include "kernel/timeconv.h"

int64_t days_from_civil(int64_t year, unsigned mon, unsigned mday)
{
    int64_t y = year - (mon <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                    /* 0..399 */
    int64_t doy = (153 * (mon > 2 ? mon - 3 : mon + 9) + 2) / 5 + mday - 1;   /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            /* 0..146096 */
    return era * 146097 + doe - 719468;                             /* 719468: 0000-03-01 to 1970-01-01 */
}

void civil_from_days(int64_t days, int64_t *year, unsigned *mon, unsigned *mday)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;                               /* 0 = March */
    *mday = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *mon = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*mon <= 2);
}

int64_t civil_to_unix(const struct civil_time *t)
{
    return days_from_civil(t->year, t->mon, t->mday) * 86400 + t->hour * 3600 + t->min * 60 + t->sec;
}

void unix_to_civil(int64_t secs, struct civil_time *t)
{
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {                                                  /* floor, not truncation */
        rem += 86400;
        days--;
    }
    civil_from_days(days, &t->year, &t->mon, &t->mday);
    t->hour = (unsigned)(rem / 3600);
    t->min = (unsigned)(rem / 60 % 60);
    t->sec = (unsigned)(rem % 60);
}

static bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool civil_valid(const struct civil_time *t)
{
    static const uint8_t mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (t->mon < 1 || t->mon > 12 || t->mday < 1)
        return false;
    unsigned max = mdays[t->mon - 1] + (t->mon == 2 && is_leap(t->year));
    return t->mday <= max && t->hour < 24 && t->min < 60 && t->sec < 60;
}

/* A BCD byte is two decimal digits; anything else (a nibble above 9) is not a clock value. */
static bool bcd_to_bin(uint8_t v, unsigned *out)
{
    if ((v & 0x0f) > 9 || (v >> 4) > 9)
        return false;
    *out = (v >> 4) * 10 + (v & 0x0f);
    return true;
}

static bool field(uint8_t v, bool binary, unsigned *out)
{
    if (binary) {
        *out = v;
        return true;
    }
    return bcd_to_bin(v, out);
}

bool rtc_decode(const struct rtc_regs *r, struct civil_time *out)
{
    bool binary = r->status_b & RTC_B_BINARY;
    bool h24 = r->status_b & RTC_B_24H;
    /* In 12-hour mode the PM flag sits on top of the hour whatever the encoding; strip it first. */
    bool pm = !h24 && (r->hour & RTC_HOUR_PM);
    uint8_t hour_raw = h24 ? r->hour : (uint8_t)(r->hour & ~RTC_HOUR_PM);
    unsigned sec, min, hour, mday, mon, year;
    if (!field(r->sec, binary, &sec) || !field(r->min, binary, &min) || !field(hour_raw, binary, &hour) ||
        !field(r->mday, binary, &mday) || !field(r->mon, binary, &mon) || !field(r->year, binary, &year))
        return false;
    if (!h24) {
        if (hour < 1 || hour > 12)
            return false;
        hour = hour % 12 + (pm ? 12 : 0);                           /* 12 AM is 0h, 12 PM is 12h */
    }
    if (year > 99)
        return false;
    out->year = 2000 + year;
    out->mon = mon;
    out->mday = mday;
    out->hour = hour;
    out->min = min;
    out->sec = sec;
    return civil_valid(out);
}
