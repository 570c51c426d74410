/* tests/unit/test_cpio.c: host tests for the cpio newc parser (kernel/cpio.c): good archives,
 * every kind of malformed header, every truncation, and random corruption. Buffers are malloc'ed
 * at their exact size so ASan reports any read past the end. */
#include "kernel/cpio.h"
#include "kernel/errno.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>

struct archive {
    uint8_t buf[1 << 16];
    size_t len;
};

static void pad(struct archive *a)
{
    while (a->len & 3)
        a->buf[a->len++] = 0;
}

/* Appends one entry; magic "070701" or "070702" (then check is the sum of the data bytes). */
static void add_entry_magic(struct archive *a, const char *magic, const char *name, uint32_t mode,
                            const void *data, size_t size, uint32_t check)
{
    char hdr[256];
    int n = snprintf(hdr, sizeof hdr, "%.6s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", magic, 7u,
                     mode, 0u, 0u, 1u, 1700000000u, (unsigned)size, 0u, 0u, 0u, 0u,
                     (unsigned)strlen(name) + 1, check);
    CHECK(n == CPIO_HEADER_SIZE);
    memcpy(a->buf + a->len, hdr, CPIO_HEADER_SIZE);
    a->len += CPIO_HEADER_SIZE;
    memcpy(a->buf + a->len, name, strlen(name) + 1);
    a->len += strlen(name) + 1;
    pad(a);
    if (size)
        memcpy(a->buf + a->len, data, size);
    a->len += size;
    pad(a);
}

static void add_entry(struct archive *a, const char *name, uint32_t mode, const void *data, size_t size)
{
    add_entry_magic(a, "070701", name, mode, data, size, 0);
}

static void add_trailer(struct archive *a) { add_entry(a, "TRAILER!!!", 0, NULL, 0); }

static void build_good(struct archive *a)
{
    a->len = 0;
    add_entry(a, ".", 040755, NULL, 0);
    add_entry(a, "bin", 040755, NULL, 0);
    add_entry(a, "bin/hello", 0100755, "hello, world\n", 13);
    add_entry(a, "bin/sh", 0120777, "busybox", 7);
    add_entry(a, "dev/console", 020600, NULL, 0);
    add_trailer(a);
}

/* Parses a copy of buf[0..len) in an exact-size heap buffer; returns the final status
 * (0: reached the trailer, -EINVAL) and the number of entries. Checks every entry's pointers. */
static int parse_copy(const uint8_t *buf, size_t len, int *entries)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (len)
        memcpy(copy, buf, len);
    struct cpio_iter it;
    struct cpio_entry e;
    int r, n = 0;
    cpio_iter_init(&it, copy, len);
    while ((r = cpio_next(&it, &e)) == 1) {
        n++;
        CHECK((const uint8_t *)e.name >= copy && (const uint8_t *)e.name + e.namelen < copy + len);
        CHECK(e.name[e.namelen] == '\0' && strlen(e.name) == e.namelen);
        CHECK(e.data >= copy && e.data + e.size <= copy + len);
        if (n > 100000)
            break;
    }
    /* The iterator stays where it stopped. */
    struct cpio_entry e2;
    CHECK(cpio_next(&it, &e2) == r);
    free(copy);
    if (entries)
        *entries = n;
    return r;
}

static void test_good_archive(void)
{
    static struct archive a;
    build_good(&a);
    struct cpio_iter it;
    struct cpio_entry e;
    cpio_iter_init(&it, a.buf, a.len);
    CHECK(cpio_next(&it, &e) == 1 && strcmp(e.name, ".") == 0 && e.mode == 040755 && e.size == 0);
    CHECK(cpio_next(&it, &e) == 1 && strcmp(e.name, "bin") == 0);
    CHECK(cpio_next(&it, &e) == 1 && strcmp(e.name, "bin/hello") == 0 && e.mode == 0100755);
    CHECK(e.size == 13 && memcmp(e.data, "hello, world\n", 13) == 0);
    CHECK(e.ino == 7 && e.nlink == 1 && e.mtime == 1700000000u && e.namelen == 9);
    CHECK(cpio_next(&it, &e) == 1 && strcmp(e.name, "bin/sh") == 0 && e.size == 7);
    CHECK(memcmp(e.data, "busybox", 7) == 0);
    CHECK(cpio_next(&it, &e) == 1 && e.mode == 020600);
    CHECK(cpio_next(&it, &e) == 0);
    CHECK(cpio_next(&it, &e) == 0);
    int n;
    CHECK(parse_copy(a.buf, a.len, &n) == 0 && n == 5);
}

static void test_lowercase_hex_and_crc(void)
{
    static struct archive a;
    a.len = 0;
    add_entry_magic(&a, "070702", "f", 0100644, "abc", 3, 'a' + 'b' + 'c');
    add_trailer(&a);
    /* Lower-case hex digits are accepted too. */
    for (size_t i = 6; i < CPIO_HEADER_SIZE; i++)
        if (a.buf[i] >= 'A' && a.buf[i] <= 'F')
            a.buf[i] += 'a' - 'A';
    int n;
    CHECK(parse_copy(a.buf, a.len, &n) == 0 && n == 1);

    a.len = 0;
    add_entry_magic(&a, "070702", "f", 0100644, "abc", 3, 1234);
    add_trailer(&a);
    CHECK(parse_copy(a.buf, a.len, NULL) == -EINVAL);
}

/* Every prefix of a good archive is rejected (the trailer is missing or cut), never overread. */
static void test_every_truncation(void)
{
    static struct archive a;
    build_good(&a);
    for (size_t len = 0; len < a.len; len++) {
        int r = parse_copy(a.buf, len, NULL);
        /* Only a cut inside the trailer's own padding (121 bytes padded to 124) is complete. */
        if (len >= a.len - 3 && r == 0)
            continue;
        CHECKF(r == -EINVAL, "prefix of %zu/%zu bytes: %d", len, a.len, r);
    }
    CHECK(parse_copy(NULL, 0, NULL) == -EINVAL);
}

static void test_trailer_without_padding(void)
{
    static struct archive a;
    a.len = 0;
    add_entry(&a, "x", 0100644, "1", 1);
    size_t start = a.len;
    add_trailer(&a);
    /* Header + "TRAILER!!!\0" = 121 bytes; the archive may stop right there. */
    CHECK(parse_copy(a.buf, start + CPIO_HEADER_SIZE + 11, NULL) == 0);
    CHECK(parse_copy(a.buf, start + CPIO_HEADER_SIZE + 10, NULL) == -EINVAL);
}

/* Builds a one-entry archive, lets patch() damage the header, and checks it is rejected. */
static void expect_bad(const char *what, void (*patch)(struct archive *a))
{
    static struct archive a;
    a.len = 0;
    add_entry(&a, "file", 0100644, "data", 4);
    add_trailer(&a);
    patch(&a);
    int r = parse_copy(a.buf, a.len, NULL);
    CHECKF(r == -EINVAL, "%s: got %d", what, r);
}

static void set_field(struct archive *a, int index, const char *value8)
{
    memcpy(a->buf + 6 + 8 * index, value8, 8);
}

static void p_magic(struct archive *a) { a->buf[5] = '7'; }
static void p_magic2(struct archive *a) { a->buf[0] = 'x'; }
static void p_nonhex(struct archive *a) { a->buf[6 + 8 * 1 + 3] = 'g'; }
static void p_space(struct archive *a) { a->buf[6 + 8 * 6] = ' '; }
static void p_namesize0(struct archive *a) { set_field(a, 11, "00000000"); }
static void p_namesize1(struct archive *a) { set_field(a, 11, "00000001"); }
static void p_namesize_big(struct archive *a) { set_field(a, 11, "00010000"); }
static void p_namesize_huge(struct archive *a) { set_field(a, 11, "FFFFFFFF"); }
static void p_namesize_short(struct archive *a) { set_field(a, 11, "00000003"); }   /* no NUL at [2] */
static void p_name_nul(struct archive *a) { a->buf[CPIO_HEADER_SIZE + 1] = 0; }
static void p_filesize_huge(struct archive *a) { set_field(a, 6, "FFFFFFFF"); }
static void p_filesize_past(struct archive *a) { set_field(a, 6, "00000400"); }
static void p_mode_type(struct archive *a) { set_field(a, 1, "000F01A4"); }
static void p_mode_high(struct archive *a) { set_field(a, 1, "000181A4"); }
static void p_dir_with_data(struct archive *a) { set_field(a, 1, "000041ED"); }
static void p_symlink_nul(struct archive *a)
{
    set_field(a, 1, "0000A1FF");
    a->buf[CPIO_HEADER_SIZE + 6 + 1] = 0;       /* "file\0" ends at 115, data at 116: "d\0ta" */
}
static void p_no_trailer(struct archive *a) { a->len -= CPIO_HEADER_SIZE + 12; }
static void p_garbage_after(struct archive *a) { memcpy(a->buf + a->len - CPIO_HEADER_SIZE - 12, "0707xx", 6); }

static void test_malformed_headers(void)
{
    expect_bad("magic", p_magic);
    expect_bad("magic2", p_magic2);
    expect_bad("non-hex digit", p_nonhex);
    expect_bad("space in a field", p_space);
    expect_bad("namesize 0", p_namesize0);
    expect_bad("namesize 1", p_namesize1);
    expect_bad("namesize over the limit", p_namesize_big);
    expect_bad("namesize 0xffffffff", p_namesize_huge);
    expect_bad("name without NUL", p_namesize_short);
    expect_bad("NUL inside name", p_name_nul);
    expect_bad("filesize 0xffffffff", p_filesize_huge);
    expect_bad("filesize past the end", p_filesize_past);
    expect_bad("unknown file type", p_mode_type);
    expect_bad("mode above 16 bits", p_mode_high);
    expect_bad("directory with data", p_dir_with_data);
    expect_bad("symlink target with NUL", p_symlink_nul);
    expect_bad("no trailer", p_no_trailer);
    expect_bad("garbage instead of trailer", p_garbage_after);

    /* An empty symlink target. */
    static struct archive a;
    a.len = 0;
    add_entry(&a, "l", 0120777, NULL, 0);
    add_trailer(&a);
    CHECK(parse_copy(a.buf, a.len, NULL) == -EINVAL);
}

/* Random byte changes and truncations: the parser must stay inside the buffer and never loop. */
static void test_random_corruption(void)
{
    static struct archive good, a;
    build_good(&good);
    uint64_t seed = 0x5eed;
    int accepted = 0;
    for (int round = 0; round < 20000; round++) {
        a = good;
        int changes = 1 + (int)rng_below(&seed, 4);
        for (int i = 0; i < changes && a.len > 0; i++) {
            size_t at = rng_below(&seed, a.len);
            switch (rng_below(&seed, 3)) {
            case 0: a.buf[at] = (uint8_t)rng_next(&seed); break;
            case 1: a.buf[at] = "0123456789abcdefF"[rng_below(&seed, 17)]; break;
            default: a.len = at; break;
            }
        }
        if (parse_copy(a.buf, a.len, NULL) == 0)
            accepted++;
    }
    /* Some damage is harmless (mtime digits, padding bytes); most is not. */
    CHECKF(accepted < 20000, "all %d corrupted archives accepted", accepted);
}

int main(void)
{
    RUN(test_good_archive);
    RUN(test_lowercase_hex_and_crc);
    RUN(test_every_truncation);
    RUN(test_trailer_without_padding);
    RUN(test_malformed_headers);
    RUN(test_random_corruption);
    return check_done();
}
