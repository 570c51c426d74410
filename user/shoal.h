/* user/shoal.h: what Shoal's own programs (user/) and test programs (user/tests/) share to
 * use the cluster's interfaces, which are small files under /proc (docs/SSI.md): reading a number,
 * writing a word, and the node this process runs on. Plain POSIX, so the test programs still build
 * and run on Linux, where shoal_where() says -1. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The number at the start of a small file, or -1 if it cannot be read. */
static inline int shoal_read_int(const char *path)
{
    char buf[32];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    return atoi(buf);
}

/* Writes text to a file that exists: 0, or -errno. */
static inline int shoal_write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return -errno;
    int r = write(fd, text, strlen(text)) < 0 ? -errno : 0;
    close(fd);
    return r;
}

/* The node this process runs on now (-1: not on Shoal). */
static inline int shoal_where(void) { return shoal_read_int("/proc/self/where"); }
