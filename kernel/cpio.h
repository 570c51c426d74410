/*
 * kernel/cpio.h: a parser for cpio "newc" archives (the initrd format), portable so the host unit
 * tests can feed it malformed archives. It validates every header field, the name's length and
 * termination, and the 4-byte alignment of names and data; it never reads past the buffer.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPIO_HEADER_SIZE 110
#define CPIO_NAME_MAX 4096              /* a name's size including its NUL */

struct cpio_entry {
    const char *name;                   /* NUL-terminated, inside the archive */
    size_t namelen;                     /* without the NUL */
    uint32_t ino, mode, uid, gid, nlink, mtime;
    uint32_t devmajor, devminor, rdevmajor, rdevminor;
    const uint8_t *data;                /* inside the archive */
    size_t size;
};

struct cpio_iter {
    const uint8_t *buf;
    size_t len, off;
    int state;                          /* 0 while parsing, 1 after the trailer, -EINVAL on error */
};

void cpio_iter_init(struct cpio_iter *it, const void *buf, size_t len);
/* Returns 1 with the next entry in *e, 0 at the trailer ("TRAILER!!!"), or -EINVAL when the
 * archive is malformed or truncated (the iterator then stays at the error). */
int cpio_next(struct cpio_iter *it, struct cpio_entry *e);
