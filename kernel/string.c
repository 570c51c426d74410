/* kernel/string.c: freestanding memory and string functions for the kernel
 * build only (host tests use libc). kstrtoul lives in kernel/format.c. */
#include "kernel/string.h"

#include <stdint.h>

/*
 * The mem* bodies are inline asm rather than loops for two reasons: rep
 * movsb/stosb is fast on every CPU with ERMS, and gcc may turn a plain copy
 * loop back into a call to memcpy/memset, which here would recurse forever.
 */

/* Eight bytes per iteration too (see memcpy): pages are zeroed here, and structures cleared. */
void *memset(void *dst, int c, size_t n)
{
	void *d = dst;
	size_t words = n / 8, tail = n % 8;
	uint64_t v = (uint64_t)(unsigned char)c * 0x0101010101010101ull;

	asm volatile("rep stosq" : "+D"(d), "+c"(words) : "a"(v) : "memory");
	asm volatile("rep stosb" : "+D"(d), "+c"(tail) : "a"(v) : "memory");
	return dst;
}

/* Eight bytes per iteration, then the tail: under emulation (TCG) rep movsb costs one iteration per
 * byte, and every frame, page and pipe buffer goes through here. */
void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
	void *d = dst;
	size_t words = n / 8, tail = n % 8;

	asm volatile("rep movsq" : "+D"(d), "+S"(src), "+c"(words) : : "memory");
	asm volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(tail) : : "memory");
	return dst;
}

/*
 * A forward byte copy is correct whenever dst is below src, so only an
 * overlapping copy to a higher address needs to run backwards (DF=1). DF is
 * cleared again at once: the ABI (and our interrupt entry, which must cld)
 * assumes it clear.
 */
void *memmove(void *dst, const void *src, size_t n)
{
	uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;

	if (n == 0 || d == s)
		return dst;
	if (d < s || d - s >= n) {
		void *dp = dst;
		asm volatile("rep movsb" : "+D"(dp), "+S"(src), "+c"(n) : : "memory");
	} else {
		unsigned char *dp = (unsigned char *)dst + n - 1;
		const unsigned char *sp = (const unsigned char *)src + n - 1;
		asm volatile("std\n\trep movsb\n\tcld"
			     : "+D"(dp), "+S"(sp), "+c"(n) : : "memory");
	}
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (size_t i = 0; i < n; i++)
		if (p[i] != q[i])
			return p[i] - q[i];
	return 0;
}

void *memchr(const void *s, int c, size_t n)
{
	const unsigned char *p = s;

	for (size_t i = 0; i < n; i++)
		if (p[i] == (unsigned char)c)
			return (void *)(p + i);
	return NULL;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

size_t strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n > 0; n--, a++, b++)
		if (*a != *b || !*a)
			return (unsigned char)*a - (unsigned char)*b;
	return 0;
}

char *strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (!*s)
			return NULL;
	}
}

char *strrchr(const char *s, int c)
{
	const char *last = NULL;

	for (;; s++) {
		if (*s == (char)c)
			last = s;
		if (!*s)
			return (char *)last;
	}
}

size_t strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}
