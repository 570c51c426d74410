/*
 * arch/x86/timer.c: time. The PIT (a known 1.193182 MHz clock) calibrates the TSC and the LAPIC
 * timer once at boot; afterwards the TSC is the monotonic clock and the LAPIC timer drives the
 * scheduler tick. Under emulation calibration is noisy, so we take the median of three runs.
 */
#include "kernel/time.h"
#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "arch/x86/io.h"
#include "arch/x86/trap.h"
#include "kernel/printk.h"
#include "kernel/proc.h"
#include "kernel/sched.h"

#define PIT_HZ 1193182ull
#define CALIBRATE_MS 25

static uint64_t tsc_freq, lapic_freq, tsc_boot, ns_mult, ticks;

static void pit_channel2_start(uint16_t count)
{
    outb(0x61, (inb(0x61) & ~0x03));            /* gate low, speaker off */
    outb(0x43, 0xb0);                           /* channel 2, lo/hi byte, mode 0 */
    outb(0x42, count & 0xff);
    outb(0x42, count >> 8);
}

/* One measurement: TSC ticks and LAPIC timer ticks during `count` PIT periods. */
static bool calibrate_once(uint16_t count, uint64_t *tsc_delta, uint64_t *lapic_delta)
{
    pit_channel2_start(count);
    lapic_timer_oneshot_max();
    uint32_t l0 = lapic_timer_current();
    uint64_t t0 = rdtsc();
    outb(0x61, (inb(0x61) & ~0x02) | 0x01);     /* gate high: counting starts */
    uint64_t spins = 0;
    while (!(inb(0x61) & 0x20))
        if (++spins > 100000000ull)
            return false;
    uint64_t t1 = rdtsc();
    uint32_t l1 = lapic_timer_current();
    lapic_timer_stop();
    *tsc_delta = t1 - t0;
    *lapic_delta = l0 - l1;
    return true;
}

static uint64_t median3(uint64_t a, uint64_t b, uint64_t c)
{
    if ((a <= b && b <= c) || (c <= b && b <= a))
        return b;
    if ((b <= a && a <= c) || (c <= a && a <= b))
        return a;
    return c;
}

static void timer_interrupt(struct trap_frame *tf)
{
    ticks++;
    lapic_eoi();
    proc_tick(tf->cs & 3);
    sched_tick();
}

void timer_init(void)
{
    uint16_t count = PIT_HZ * CALIBRATE_MS / 1000;
    uint64_t tsc[3], lap[3];
    for (int i = 0; i < 3; i++)
        if (!calibrate_once(count, &tsc[i], &lap[i]))
            printk(LOG_ERR, "timer: PIT does not count; assuming 1 GHz TSC\n");
    tsc_freq = median3(tsc[0], tsc[1], tsc[2]) * PIT_HZ / count;
    lapic_freq = median3(lap[0], lap[1], lap[2]) * PIT_HZ / count;
    if (tsc_freq == 0)
        tsc_freq = 1000000000ull;
    if (lapic_freq < HZ)
        lapic_freq = 100000000ull;
    ns_mult = (NSEC_PER_SEC << 32) / tsc_freq;
    tsc_boot = rdtsc();
    printk(LOG_INFO, "timer: TSC %lu kHz, LAPIC timer %lu kHz, tick %d Hz\n", tsc_freq / 1000,
           lapic_freq / 1000, HZ);
    idt_set_handler(VEC_TIMER, timer_interrupt);
    lapic_timer_periodic(VEC_TIMER, lapic_freq / HZ);
}

uint64_t clock_ns(void)
{
    if (!ns_mult)
        return 0;
    return (uint64_t)(((unsigned __int128)(rdtsc() - tsc_boot) * ns_mult) >> 32);
}

uint64_t jiffies(void) { return ticks; }
uint64_t tsc_hz(void) { return tsc_freq; }
uint64_t lapic_timer_hz(void) { return lapic_freq; }

void udelay(uint64_t us)
{
    uint64_t end = rdtsc() + tsc_freq * us / 1000000;
    while (rdtsc() < end)
        cpu_relax();
}
