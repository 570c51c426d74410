/* kernel/string.h: the C string/memory functions the freestanding kernel provides
 * (kernel/string.c), plus kstrtoul (kernel/format.c, so host tests can reach it).
 * Under HOST_TEST the libc versions are used instead. */
#ifndef KERNEL_STRING_H
#define KERNEL_STRING_H

#include <stddef.h>

#ifdef HOST_TEST
#include <string.h>

/* glibc only gained strlcpy in 2.38; give host builds a private copy so
 * portable code may use it either way. */
static inline size_t shoal_host_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}
#define strlcpy shoal_host_strlcpy

#else

/* Also the targets of the calls gcc emits by itself for struct copies and
 * initialisers, so they must exist even if no C code calls them. */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);
/* Copies at most size-1 bytes, always terminates when size > 0, returns
 * strlen(src) so callers can detect truncation (result >= size). */
size_t strlcpy(char *dst, const char *src, size_t size);

#endif /* HOST_TEST */

/* Like strtoul: leading spaces, optional sign, base 0 picks 0x/0 prefixes,
 * saturates at ULONG_MAX on overflow; *end (if end) is s when nothing parsed. */
unsigned long kstrtoul(const char *s, char **end, int base);

#endif /* KERNEL_STRING_H */
