/*
 * arch/x86/rtc.c: the wall clock (kernel/wallclock.h). The MC146818-compatible CMOS clock is read
 * once at boot; afterwards the time of day is the boot epoch plus the TSC-based monotonic clock.
 * The RTC is never written back: a node's clock is set again from the RTC at its next boot.
 */
#include "kernel/wallclock.h"
#include "arch/x86/cpu.h"
#include "arch/x86/io.h"
#include "kernel/format.h"
#include "kernel/ktest.h"
#include "kernel/printk.h"
#include "kernel/sched.h"
#include "kernel/spinlock.h"
#include "kernel/time.h"
#include "kernel/timeconv.h"
#include "kernel/vfs.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define RTC_SECONDS 0x00
#define RTC_MINUTES 0x02
#define RTC_HOURS 0x04
#define RTC_MDAY 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_STATUS_A 0x0a
#define RTC_STATUS_B 0x0b
#define RTC_A_UIP 0x80                  /* update in progress: the time registers are changing */

static struct spinlock cmos_lock = SPINLOCK_INIT("cmos");
static int64_t boot_epoch_ns;           /* wall-clock time when clock_ns() was 0 */
static bool from_rtc;

/* Bit 7 of the index port masks NMIs; like Linux we leave it clear (NMIs enabled). */
static uint8_t cmos_read(uint8_t reg)
{
    outb(CMOS_INDEX, reg);
    return inb(CMOS_DATA);
}

static void read_regs(struct rtc_regs *r)
{
    r->sec = cmos_read(RTC_SECONDS);
    r->min = cmos_read(RTC_MINUTES);
    r->hour = cmos_read(RTC_HOURS);
    r->mday = cmos_read(RTC_MDAY);
    r->mon = cmos_read(RTC_MONTH);
    r->year = cmos_read(RTC_YEAR);
    r->status_b = cmos_read(RTC_STATUS_B);
}

static bool regs_equal(const struct rtc_regs *a, const struct rtc_regs *b)
{
    return a->sec == b->sec && a->min == b->min && a->hour == b->hour && a->mday == b->mday &&
           a->mon == b->mon && a->year == b->year && a->status_b == b->status_b;
}

/*
 * Reads a consistent set of registers: wait for the once-a-second update to finish (UIP is set
 * at most ~2 ms before it), then read until two reads in a row agree, so an update that started
 * between the UIP check and the reads cannot give a torn time (e.g. 12:59 + the new hour).
 */
static bool rtc_read(struct civil_time *out)
{
    struct rtc_regs a, b;
    bool ok = false;
    uint64_t f = spin_lock_irqsave(&cmos_lock);
    for (int attempt = 0; attempt < 10 && !ok; attempt++) {
        for (uint32_t spins = 0; (cmos_read(RTC_STATUS_A) & RTC_A_UIP) && spins < 1000000; spins++)
            cpu_relax();
        read_regs(&a);
        read_regs(&b);
        ok = regs_equal(&a, &b);
    }
    spin_unlock_irqrestore(&cmos_lock, f);
    return ok && rtc_decode(&a, out);
}

/* The VFS stamps files with its own copy of the epoch (vfs_now_ns); keep both in step. */
static void set_epoch(int64_t epoch)
{
    __atomic_store_n(&boot_epoch_ns, epoch, __ATOMIC_RELAXED);
    vfs_boot_epoch_ns = epoch > 0 ? (uint64_t)epoch : 0;
}

void wallclock_init(void)
{
    struct civil_time t;
    if (!rtc_read(&t)) {
        printk(LOG_WARN, "rtc: no valid time in the CMOS clock; the wall clock starts at 1970\n");
        return;
    }
    int64_t now = civil_to_unix(&t) * (int64_t)NSEC_PER_SEC;
    set_epoch(now - (int64_t)clock_ns());
    from_rtc = true;
    printk(LOG_INFO, "rtc: %04ld-%02u-%02u %02u:%02u:%02u UTC\n", (long)t.year, t.mon, t.mday, t.hour, t.min,
           t.sec);
}

uint64_t wallclock_ns(void)
{
    return (uint64_t)(__atomic_load_n(&boot_epoch_ns, __ATOMIC_RELAXED) + (int64_t)clock_ns());
}

void wallclock_set_ns(uint64_t ns) { set_epoch((int64_t)ns - (int64_t)clock_ns()); }

uint64_t wallclock_boot_ns(void)
{
    int64_t e = __atomic_load_n(&boot_epoch_ns, __ATOMIC_RELAXED);
    return e > 0 ? (uint64_t)e : 0;
}

bool wallclock_from_rtc(void) { return from_rtc; }

KTEST(rtc_reads_a_plausible_date)
{
    struct civil_time t;
    if (!rtc_read(&t))
        KTEST_FAIL("the CMOS clock gave no valid time");
    if (t.year < 2024)
        KTEST_FAIL("RTC says year %ld", (long)t.year);
    /* If the wall clock came from the RTC (and nobody set it), both must agree to a few seconds. */
    if (from_rtc) {
        int64_t rtc_s = civil_to_unix(&t), wall_s = (int64_t)(wallclock_ns() / NSEC_PER_SEC);
        if (wall_s - rtc_s > 3 || rtc_s - wall_s > 3)
            KTEST_FAIL("wall clock %ld s, RTC %ld s", (long)wall_s, (long)rtc_s);
    }
    return true;
}

KTEST(wallclock_set_and_advance)
{
    uint64_t saved = wallclock_ns();
    wallclock_set_ns(1234567890ull * NSEC_PER_SEC);
    uint64_t a = wallclock_ns();
    msleep(20);
    uint64_t b = wallclock_ns();
    wallclock_set_ns(saved + (b - a));          /* put the clock back where it would have been */
    if (a < 1234567890ull * NSEC_PER_SEC || a - 1234567890ull * NSEC_PER_SEC > NSEC_PER_SEC)
        KTEST_FAIL("set 1234567890 s, read %lu ns", a);
    if (b - a < 15 * NSEC_PER_MSEC || b - a > 2 * NSEC_PER_SEC)
        KTEST_FAIL("20 ms sleep advanced the wall clock by %lu ns", b - a);
    return true;
}

KTEST(date_conversion_known_timestamps)
{
    struct civil_time t = { 2009, 2, 13, 23, 31, 30 };
    if (civil_to_unix(&t) != 1234567890)
        KTEST_FAIL("2009-02-13 23:31:30 -> %ld", (long)civil_to_unix(&t));
    unix_to_civil(1709208000, &t);
    if (t.year != 2024 || t.mon != 2 || t.mday != 29 || t.hour != 12 || t.min || t.sec)
        KTEST_FAIL("1709208000 -> %ld-%u-%u %u:%u:%u", (long)t.year, t.mon, t.mday, t.hour, t.min, t.sec);
    if (days_from_civil(2100, 3, 1) - days_from_civil(2100, 2, 28) != 1)
        KTEST_FAIL("2100 treated as a leap year");
    struct rtc_regs r = { 0x30, 0x59, 0x80 | 0x11, 0x31, 0x12, 0x24, 0 };   /* BCD, 12 h: 11:59:30 PM */
    if (!rtc_decode(&r, &t) || t.hour != 23 || t.year != 2024 || t.mday != 31)
        KTEST_FAIL("BCD 12-hour decode gave %u h", t.hour);
    return true;
}
