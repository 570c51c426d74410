/*
 * kernel/cpio.c: the cpio "newc" parser (see cpio.h). An entry is a 110-byte ASCII header (magic
 * "070701", or "070702" with a checksum, then 13 fields of 8 hex digits), the NUL-terminated name
 * padded to 4 bytes, then the data padded to 4 bytes. Offsets are checked against what is left of
 * the buffer before every access, so no arithmetic can overflow and nothing past len is read.
 */
#include "kernel/cpio.h"
#include "kernel/errno.h"
#include "kernel/string.h"

#define CPIO_S_IFMT 0170000

enum {
    F_INO, F_MODE, F_UID, F_GID, F_NLINK, F_MTIME, F_FILESIZE, F_DEVMAJOR, F_DEVMINOR,
    F_RDEVMAJOR, F_RDEVMINOR, F_NAMESIZE, F_CHECK, F_COUNT
};

void cpio_iter_init(struct cpio_iter *it, const void *buf, size_t len)
{
    it->buf = buf;
    it->len = buf ? len : 0;
    it->off = 0;
    it->state = 0;
}

static bool parse_hex8(const uint8_t *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        uint8_t c = p[i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

/* Bytes of padding after an item that ends at off, so the next one starts 4-aligned. */
static size_t pad4(size_t off) { return (4 - (off & 3)) & 3; }

static bool type_ok(uint32_t mode)
{
    switch (mode & CPIO_S_IFMT) {
    case 0100000: case 0040000: case 0120000: case 0020000: case 0060000: case 0010000: case 0140000:
        return true;
    default:
        return false;
    }
}

static int fail(struct cpio_iter *it)
{
    it->state = -EINVAL;
    return -EINVAL;
}

int cpio_next(struct cpio_iter *it, struct cpio_entry *e)
{
    if (it->state)
        return it->state > 0 ? 0 : it->state;
    size_t left = it->len - it->off;
    const uint8_t *h = it->buf + it->off;
    if (left < CPIO_HEADER_SIZE || memcmp(h, "07070", 5) != 0 || (h[5] != '1' && h[5] != '2'))
        return fail(it);
    bool has_crc = h[5] == '2';
    uint32_t f[F_COUNT];
    for (int i = 0; i < F_COUNT; i++)
        if (!parse_hex8(h + 6 + 8 * i, &f[i]))
            return fail(it);

    /* The name: at least one character and its NUL, which must be the only NUL. */
    size_t namesize = f[F_NAMESIZE];
    if (namesize < 2 || namesize > CPIO_NAME_MAX || namesize > left - CPIO_HEADER_SIZE)
        return fail(it);
    const char *name = (const char *)h + CPIO_HEADER_SIZE;
    if (name[namesize - 1] != '\0' || memchr(name, '\0', namesize - 1) != NULL)
        return fail(it);
    size_t off = it->off + CPIO_HEADER_SIZE + namesize;
    bool trailer = namesize == sizeof "TRAILER!!!" && memcmp(name, "TRAILER!!!", namesize) == 0;
    if (trailer) {
        /* The archive may end right after the trailer's name, without its padding. */
        it->state = 1;
        return 0;
    }
    if (pad4(off) > it->len - off)
        return fail(it);
    off += pad4(off);

    size_t size = f[F_FILESIZE];
    if (size > it->len - off)
        return fail(it);
    const uint8_t *data = it->buf + off;
    uint32_t mode = f[F_MODE];
    if (!type_ok(mode) || (mode & ~(uint32_t)0177777) != 0)
        return fail(it);
    uint32_t type = mode & CPIO_S_IFMT;
    if (type == 0120000) {
        /* A symlink's data is its target: not empty, no NUL inside. */
        if (size == 0 || size >= CPIO_NAME_MAX || memchr(data, '\0', size) != NULL)
            return fail(it);
    } else if (type != 0100000 && size != 0) {
        return fail(it);            /* only regular files and symlinks carry data */
    }
    if (has_crc) {
        uint32_t sum = 0;
        for (size_t i = 0; i < size; i++)
            sum += data[i];
        if (sum != f[F_CHECK])
            return fail(it);
    }
    off += size;
    /* The data's padding may be cut short only at the very end; the next entry's header check
     * then reports the truncation. */
    size_t pad = pad4(off);
    off = pad > it->len - off ? it->len : off + pad;

    e->name = name;
    e->namelen = namesize - 1;
    e->ino = f[F_INO];
    e->mode = mode;
    e->uid = f[F_UID];
    e->gid = f[F_GID];
    e->nlink = f[F_NLINK];
    e->mtime = f[F_MTIME];
    e->devmajor = f[F_DEVMAJOR];
    e->devminor = f[F_DEVMINOR];
    e->rdevmajor = f[F_RDEVMAJOR];
    e->rdevminor = f[F_RDEVMINOR];
    e->data = data;
    e->size = size;
    it->off = off;
    return 1;
}
