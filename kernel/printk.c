/*
 * kernel/printk.c: the kernel log. Formats into a line buffer and writes it to the serial console
 * (the log tests and tools read) and the VGA console, and keeps every message, whatever its level,
 * in a ring for syslog(2): so `dmesg` says why something happened (a move refused by the balancer
 * is logged at debug level: routine, but worth finding). A lock keeps lines from interleaving.
 */
#include "kernel/printk.h"
#include "drivers/serial.h"
#include "drivers/vga.h"
#include "kernel/format.h"
#include "kernel/spinlock.h"
#include "kernel/time.h"
#include <stdbool.h>

static int console_level = LOG_INFO;
static char ring[PRINTK_RING_SIZE];
static uint64_t ring_end, ring_start;   /* bytes ever written; the oldest one still readable */
static bool line_open;                  /* the last message did not end its line */
static struct spinlock log_lock = SPINLOCK_INIT("printk");
static bool panicking;

/* A fault inside printk must still be reportable: from now on nobody waits for the lock. */
void printk_panic_mode(void)
{
    panicking = true;
    serial_flush_polled();      /* what is queued goes out first, then everything polled */
}

void printk_set_level(int level) { console_level = level; }

static void ring_put(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ring[ring_end++ % PRINTK_RING_SIZE] = s[i];
    if (ring_end - ring_start > PRINTK_RING_SIZE)
        ring_start = ring_end - PRINTK_RING_SIZE;
}

/* A message into the ring, each line it starts with Linux's "<level>[time] " prefix. */
static void ring_message(int level, const char *s, size_t n)
{
    if (!line_open) {
        char pre[40];
        uint64_t ns = clock_ns();
        int k = ksnprintf(pre, sizeof pre, "<%d>[%5lu.%06lu] ", level, (unsigned long)(ns / 1000000000),
                          (unsigned long)(ns % 1000000000 / 1000));
        ring_put(pre, (size_t)k);
    }
    ring_put(s, n);
    line_open = n && s[n - 1] != '\n';
}

unsigned long printk_ring_read(char *dst, unsigned long cap)
{
    uint64_t f = spin_lock_irqsave(&log_lock);
    uint64_t n = ring_end - ring_start < cap ? ring_end - ring_start : cap;
    for (uint64_t i = 0; i < n; i++)
        dst[i] = ring[(ring_end - n + i) % PRINTK_RING_SIZE];
    spin_unlock_irqrestore(&log_lock, f);
    return n;
}

unsigned long printk_ring_used(void)
{
    uint64_t f = spin_lock_irqsave(&log_lock);
    uint64_t n = ring_end - ring_start;
    spin_unlock_irqrestore(&log_lock, f);
    return n;
}

void printk_ring_clear(void)
{
    uint64_t f = spin_lock_irqsave(&log_lock);
    ring_start = ring_end;
    spin_unlock_irqrestore(&log_lock, f);
}

void vprintk(int level, const char *fmt, va_list ap)
{
    char buf[512];
    int n = kvsnprintf(buf, sizeof buf, fmt, ap);
    if (n < 0)
        return;
    if ((unsigned)n >= sizeof buf)
        n = sizeof buf - 1;
    bool shown = level <= console_level;
    if (panicking) {
        ring_message(level, buf, (size_t)n);
        serial_write(buf, n);
        vga_write(buf, n);
        return;
    }
    uint64_t f = spin_lock_irqsave(&log_lock);
    ring_message(level, buf, (size_t)n);
    if (shown) {
        serial_write(buf, n);
        vga_write(buf, n);
    }
    spin_unlock_irqrestore(&log_lock, f);
}

void printk(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintk(level, fmt, ap);
    va_end(ap);
}
