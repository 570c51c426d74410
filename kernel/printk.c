/*
 * kernel/printk.c: the kernel log. Formats into a line buffer and writes it to the serial console
 * (the log tests and tools read) and the VGA console. A lock keeps lines from interleaving.
 */
#include "kernel/printk.h"
#include "drivers/serial.h"
#include "drivers/vga.h"
#include "kernel/format.h"
#include "kernel/spinlock.h"
#include <stdbool.h>

static int console_level = LOG_INFO;
static struct spinlock log_lock = SPINLOCK_INIT("printk");
static bool panicking;

/* A fault inside printk must still be reportable: from now on nobody waits for the lock. */
void printk_panic_mode(void)
{
    panicking = true;
    serial_flush_polled();      /* what is queued goes out first, then everything polled */
}

void printk_set_level(int level) { console_level = level; }

void vprintk(int level, const char *fmt, va_list ap)
{
    if (level > console_level)
        return;
    char buf[512];
    int n = kvsnprintf(buf, sizeof buf, fmt, ap);
    if (n < 0)
        return;
    if ((unsigned)n >= sizeof buf)
        n = sizeof buf - 1;
    if (panicking) {
        serial_write(buf, n);
        vga_write(buf, n);
        return;
    }
    uint64_t f = spin_lock_irqsave(&log_lock);
    serial_write(buf, n);
    vga_write(buf, n);
    spin_unlock_irqrestore(&log_lock, f);
}

void printk(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintk(level, fmt, ap);
    va_end(ap);
}
