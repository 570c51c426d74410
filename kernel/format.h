/* kernel/format.h: printf-style formatting into caller buffers (no floating
 * point). kstrtoul, also implemented in format.c, is declared in kernel/string.h. */
#ifndef KERNEL_FORMAT_H
#define KERNEL_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

/*
 * C99 snprintf semantics: returns the length the full output would have had
 * (-1 only if that exceeds INT_MAX) and always NUL-terminates when size > 0.
 * Conversions: d i u x X o p s c %; lengths hh h l ll z j t; flags - 0 + space #;
 * width and precision, either may be '*'. Differences from glibc, on purpose:
 * %p is always "0x" + 16 hex digits (NULL too), %n and unknown conversions
 * are copied to the output literally instead of being interpreted.
 */
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
int ksnprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* KERNEL_FORMAT_H */
