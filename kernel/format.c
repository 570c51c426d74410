/* kernel/format.c: kvsnprintf/ksnprintf and kstrtoul; portable, so the host
 * unit tests compare them against libc. */
#include "kernel/format.h"
#include "kernel/string.h"

#include <stdbool.h>
#include <stdint.h>

#define FMT_INT_MAX 0x7fffffff

/* Output sink: counts every byte, stores only what fits before the NUL. */
struct out {
	char *buf;
	size_t size;
	size_t len;
};

/* How many of n bytes starting at o->len still fit (leaving room for NUL). */
static size_t room(const struct out *o, size_t n)
{
	if (o->len + 1 >= o->size)
		return 0;
	size_t left = o->size - 1 - o->len;
	return n < left ? n : left;
}

static void put_char(struct out *o, char c)
{
	if (room(o, 1))
		o->buf[o->len] = c;
	o->len++;
}

static void put_bytes(struct out *o, const char *s, size_t n)
{
	size_t k = room(o, n);

	if (k)
		memcpy(o->buf + o->len, s, k);
	o->len += n;
}

/* Padding is counted, not looped, so a huge width costs nothing past the buffer. */
static void put_fill(struct out *o, char c, size_t n)
{
	size_t k = room(o, n);

	if (k)
		memset(o->buf + o->len, c, k);
	o->len += n;
}

enum length { LEN_INT, LEN_CHAR, LEN_SHORT, LEN_LONG, LEN_LLONG, LEN_SIZE, LEN_MAX, LEN_PTRDIFF };

struct spec {
	bool left, zero, plus, space, alt;
	int width;          /* 0 = none */
	int prec;           /* -1 = none */
	enum length len;
	char conv;
};

/* Digits of a width or precision, saturating instead of overflowing. */
static int parse_num(const char **fmt)
{
	int n = 0;

	while (**fmt >= '0' && **fmt <= '9') {
		int d = *(*fmt)++ - '0';
		n = n > (FMT_INT_MAX - d) / 10 ? FMT_INT_MAX : n * 10 + d;
	}
	return n;
}

/* Parses everything after '%' up to and including the conversion letter. */
static void parse_spec(const char **fmt, struct spec *sp, va_list *ap)
{
	*sp = (struct spec){ .prec = -1 };

	for (;; (*fmt)++) {
		switch (**fmt) {
		case '-': sp->left = true; continue;
		case '0': sp->zero = true; continue;
		case '+': sp->plus = true; continue;
		case ' ': sp->space = true; continue;
		case '#': sp->alt = true; continue;
		}
		break;
	}

	if (**fmt == '*') {
		(*fmt)++;
		int w = va_arg(*ap, int);
		if (w < 0) {
			sp->left = true;
			w = w == -FMT_INT_MAX - 1 ? FMT_INT_MAX : -w;
		}
		sp->width = w;
	} else {
		sp->width = parse_num(fmt);
	}

	if (**fmt == '.') {
		(*fmt)++;
		if (**fmt == '*') {
			(*fmt)++;
			int p = va_arg(*ap, int);
			sp->prec = p < 0 ? -1 : p;
		} else {
			sp->prec = parse_num(fmt);
		}
	}

	switch (**fmt) {
	case 'h':
		sp->len = LEN_SHORT;
		if (*++*fmt == 'h') {
			sp->len = LEN_CHAR;
			(*fmt)++;
		}
		break;
	case 'l':
		sp->len = LEN_LONG;
		if (*++*fmt == 'l') {
			sp->len = LEN_LLONG;
			(*fmt)++;
		}
		break;
	case 'z': sp->len = LEN_SIZE; (*fmt)++; break;
	case 'j': sp->len = LEN_MAX; (*fmt)++; break;
	case 't': sp->len = LEN_PTRDIFF; (*fmt)++; break;
	}

	/* Leave fmt on a terminating NUL so the caller's loop stops there. */
	sp->conv = **fmt;
	if (sp->conv)
		(*fmt)++;
}

static intmax_t arg_signed(va_list *ap, enum length len)
{
	switch (len) {
	case LEN_CHAR: return (signed char)va_arg(*ap, int);
	case LEN_SHORT: return (short)va_arg(*ap, int);
	case LEN_LONG: return va_arg(*ap, long);
	case LEN_LLONG: return va_arg(*ap, long long);
	case LEN_SIZE: return va_arg(*ap, ptrdiff_t);   /* the signed size_t */
	case LEN_MAX: return va_arg(*ap, intmax_t);
	case LEN_PTRDIFF: return va_arg(*ap, ptrdiff_t);
	default: return va_arg(*ap, int);
	}
}

static uintmax_t arg_unsigned(va_list *ap, enum length len)
{
	switch (len) {
	case LEN_CHAR: return (unsigned char)va_arg(*ap, unsigned int);
	case LEN_SHORT: return (unsigned short)va_arg(*ap, unsigned int);
	case LEN_LONG: return va_arg(*ap, unsigned long);
	case LEN_LLONG: return va_arg(*ap, unsigned long long);
	case LEN_SIZE: return va_arg(*ap, size_t);
	case LEN_MAX: return va_arg(*ap, uintmax_t);
	case LEN_PTRDIFF: return (size_t)va_arg(*ap, ptrdiff_t);
	default: return va_arg(*ap, unsigned int);
	}
}

/* Lays out [spaces][sign or 0x][zeros][digits][spaces] for one integer. */
static void put_int(struct out *o, const struct spec *sp, uintmax_t v, char sign)
{
	unsigned base = sp->conv == 'o' ? 8 : (sp->conv == 'x' || sp->conv == 'X') ? 16 : 10;
	const char *digit = sp->conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];  /* 22 octal digits is the most a 64-bit value needs */
	char prefix[2];
	size_t nd = 0, np = 0, zeros = 0;
	bool nonzero = v != 0;

	/* C: a zero value with zero precision prints no digits at all. */
	if (nonzero || sp->prec != 0) {
		do {
			tmp[nd++] = digit[v % base];
			v /= base;
		} while (v);
	}

	if (sign)
		prefix[np++] = sign;
	if (sp->alt && base == 16 && nonzero) {
		prefix[np++] = '0';
		prefix[np++] = sp->conv;
	}

	if (sp->prec > 0 && (size_t)sp->prec > nd)
		zeros = sp->prec - nd;
	/* '#' with %o: the first digit printed must be 0. */
	if (sp->alt && base == 8 && zeros == 0 && (nd == 0 || tmp[nd - 1] != '0'))
		zeros = 1;

	size_t body = np + zeros + nd;
	size_t pad = (size_t)sp->width > body ? sp->width - body : 0;

	if (sp->zero && !sp->left && sp->prec < 0) {
		zeros += pad;
		pad = 0;
	}
	if (!sp->left)
		put_fill(o, ' ', pad);
	put_bytes(o, prefix, np);
	put_fill(o, '0', zeros);
	while (nd > 0)
		put_char(o, tmp[--nd]);
	if (sp->left)
		put_fill(o, ' ', pad);
}

/* Strings, chars and pointers share width handling; zero padding is ignored. */
static void put_padded(struct out *o, const struct spec *sp, const char *s, size_t n)
{
	size_t pad = (size_t)sp->width > n ? sp->width - n : 0;

	if (!sp->left)
		put_fill(o, ' ', pad);
	put_bytes(o, s, n);
	if (sp->left)
		put_fill(o, ' ', pad);
}

static void put_string(struct out *o, const struct spec *sp, const char *s)
{
	size_t n = 0;

	/* Like glibc: "(null)" unless a precision too short for it was given. */
	if (!s)
		s = sp->prec < 0 || sp->prec >= 6 ? "(null)" : "";
	/* With a precision, s need not be terminated: never look past it. */
	while ((sp->prec < 0 || n < (size_t)sp->prec) && s[n])
		n++;
	put_padded(o, sp, s, n);
}

static void put_pointer(struct out *o, const struct spec *sp, const void *p)
{
	uintptr_t v = (uintptr_t)p;
	char tmp[18] = "0x";

	for (int i = 17; i >= 2; i--, v >>= 4)
		tmp[i] = "0123456789abcdef"[v & 15];
	put_padded(o, sp, tmp, sizeof tmp);
}

static void convert(struct out *o, const struct spec *sp, const char *start,
		    const char *end, va_list *ap)
{
	switch (sp->conv) {
	case 'd':
	case 'i': {
		intmax_t v = arg_signed(ap, sp->len);
		uintmax_t mag = v < 0 ? -(uintmax_t)v : (uintmax_t)v;
		char sign = v < 0 ? '-' : sp->plus ? '+' : sp->space ? ' ' : 0;
		put_int(o, sp, mag, sign);
		break;
	}
	case 'u':
	case 'x':
	case 'X':
	case 'o':
		put_int(o, sp, arg_unsigned(ap, sp->len), 0);
		break;
	case 'c': {
		char c = (char)va_arg(*ap, int);
		put_padded(o, sp, &c, 1);
		break;
	}
	case 's':
		put_string(o, sp, va_arg(*ap, const char *));
		break;
	case 'p':
		put_pointer(o, sp, va_arg(*ap, const void *));
		break;
	case '%':
		put_char(o, '%');
		break;
	default:
		/* Unknown (including %n, never supported): show the directive verbatim. */
		put_bytes(o, start, end - start);
		break;
	}
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { .buf = buf, .size = size, .len = 0 };
	va_list args;

	/* A va_list parameter may be an array type; only a local copy can be
	 * passed on by pointer portably. */
	va_copy(args, ap);
	while (*fmt) {
		if (*fmt != '%') {
			const char *lit = fmt;
			while (*fmt && *fmt != '%')
				fmt++;
			put_bytes(&o, lit, fmt - lit);
			continue;
		}
		const char *start = fmt++;
		struct spec sp;
		parse_spec(&fmt, &sp, &args);
		convert(&o, &sp, start, fmt, &args);
	}
	va_end(args);

	if (size > 0)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len > FMT_INT_MAX ? -1 : (int)o.len;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

static bool is_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

unsigned long kstrtoul(const char *s, char **end, int base)
{
	const char *p = s;
	unsigned long v = 0;
	bool neg = false, any = false, overflow = false;

	if (base < 0 || base == 1 || base > 36) {
		if (end)
			*end = (char *)s;
		return 0;
	}

	while (is_space(*p))
		p++;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	/* "0x" only counts as a prefix if a hex digit follows; else "0" is the number. */
	if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
	    digit_value(p[2]) < 16) {
		p += 2;
		base = 16;
	} else if (base == 0) {
		base = p[0] == '0' ? 8 : 10;
	}

	for (;; p++) {
		int d = digit_value(*p);
		if (d >= base)
			break;
		any = true;
		if (v > (~0UL - d) / base)
			overflow = true;
		else
			v = v * base + d;
	}

	if (end)
		*end = (char *)(any ? p : s);
	if (overflow)
		return ~0UL;
	return neg ? -v : v;
}
