/* kernel/printk.h: the kernel log: levelled printf to the serial and VGA consoles, and a ring of
 * the latest messages of every level for syslog(2) (busybox dmesg). */
#pragma once
#include <stdarg.h>

#define LOG_EMERG 0
#define LOG_ERR 3
#define LOG_WARN 4
#define LOG_NOTICE 5
#define LOG_INFO 6
#define LOG_DEBUG 7

void printk(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vprintk(int level, const char *fmt, va_list ap);
void printk_set_level(int level);
void printk_panic_mode(void);      /* fatal error: stop taking the log lock */

#define PRINTK_RING_SIZE (64 * 1024)
/* The newest bytes of the ring (at most cap) since it was last cleared, as Linux's syslog READ_ALL
 * gives them: lines "<LEVEL>[SECONDS.MICROS] text". Returns how many. */
unsigned long printk_ring_read(char *dst, unsigned long cap);
void printk_ring_clear(void);
unsigned long printk_ring_used(void);      /* bytes readable */

#define pr_err(...) printk(LOG_ERR, __VA_ARGS__)
#define pr_warn(...) printk(LOG_WARN, __VA_ARGS__)
#define pr_info(...) printk(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) printk(LOG_DEBUG, __VA_ARGS__)
