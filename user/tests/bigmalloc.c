/* bigmalloc: a 64 MiB malloc, every page touched, written with a pattern and checksummed; then a
 * forked child checks the same bytes (copy-on-write of a big area) and changes them without the
 * parent seeing the change.  Exercises mmap of large areas, demand paging and fork. */
#include <stdint.h>
#include "t.h"

#define SIZE (64u << 20)

static uint64_t pattern(size_t i)
{
    uint64_t x = i * 0x9e3779b97f4a7c15ull;
    return x ^ (x >> 29);
}

static uint64_t checksum(const uint64_t *a, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum = sum * 31 + a[i];
    return sum;
}

int main(void)
{
    t_start("bigmalloc");
    size_t n = SIZE / sizeof(uint64_t);
    uint64_t *a = malloc(SIZE);
    if (!CHECK(a != NULL, "malloc(64 MiB) failed: %s", strerror(errno)))
        return t_done();

    int zero = 1;
    for (size_t i = 0; i < n; i += 4096 / sizeof(uint64_t))
        zero &= a[i] == 0;          /* fresh anonymous memory is zero (musl mmaps big blocks) */
    CHECK(zero, "a fresh 64 MiB block is not zero-filled");

    uint64_t expect = 0;
    for (size_t i = 0; i < n; i++) {
        a[i] = pattern(i);
        expect = expect * 31 + pattern(i);
    }
    CHECK(checksum(a, n) == expect, "checksum after writing differs");

    pid_t pid = fork();
    if (pid == 0) {
        if (checksum(a, n) != expect)
            _exit(1);
        for (size_t i = 0; i < n; i += (1 << 20) / sizeof(uint64_t))
            a[i] = ~a[i];           /* one page per MiB: 64 copied pages, not a second 64 MiB */
        _exit(checksum(a, n) == expect ? 2 : 0);
    }
    int st = -1;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid, "fork/waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child saw wrong data: %s", t_status(st));
    CHECK(checksum(a, n) == expect, "the child's writes leaked into the parent (no copy-on-write)");

    free(a);
    a = malloc(SIZE);               /* again: freed memory must be reusable */
    if (CHECK(a != NULL, "second malloc(64 MiB) failed")) {
        memset(a, 0x5a, SIZE);
        CHECK(((unsigned char *)a)[SIZE - 1] == 0x5a, "last byte of the second block");
        free(a);
    }
    return t_done();
}
