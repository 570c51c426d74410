/* kernel/cmdline.h: parses the kernel command line into boot options. */
#ifndef KERNEL_CMDLINE_H
#define KERNEL_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMDLINE_MAX 4096          /* bytes ever read from the line, NUL included */
#define CMDLINE_KEY_MAX 32        /* key=HEX: up to 64 hex digits */
#define CMDLINE_DEFAULT_LOGLEVEL 6

struct boot_options {
	int node;            /* node=auto|0..254; -1 = auto (default) */
	int loglevel;        /* loglevel=0..7, default 6 */
	bool ktest;          /* ktest, or ktest=on|off */
	bool balance;        /* balance=on|off, default on */
	uint8_t key[CMDLINE_KEY_MAX];
	size_t key_len;      /* 0 = no key given */
	char console[32];    /* console=..., "" when not given */
	char crash[16];      /* crash=pagefault|panic (tests of the fault report), "" = none */
};

typedef void (*cmdline_warn_fn)(const char *msg, void *ctx);

/*
 * Fills *o with defaults, then applies line: space-separated key=value or
 * bare flag words. A first word containing '/' and no '=' is the kernel file
 * name (QEMU puts it there) and is skipped. Unknown keys and bad values call
 * warn (may be NULL) once per offending word and are otherwise ignored; a
 * later occurrence of a key overrides an earlier one. Booleans accept
 * on/off, yes/no, true/false, 1/0. At most CMDLINE_MAX bytes are read: a line
 * without a NUL within them is cut at the last complete word, with a warning.
 * line may be NULL. Returns the number of warnings.
 */
int cmdline_parse(const char *line, struct boot_options *o, cmdline_warn_fn warn, void *ctx);

#endif /* KERNEL_CMDLINE_H */
