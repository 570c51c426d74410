/* fileio: the file system calls on the writable root (ramfs): create, write, read back, lseek,
 * pread, readv/writev, O_APPEND, O_EXCL, O_TRUNC, stat sizes and types, rename,
 * unlink, mkdir/rmdir, getdents through readdir, symlink/readlink, chdir/getcwd, dup/dup2/fcntl,
 * close-on-exec, and the errors ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, EBADF. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include "t.h"

static char dir[64], path[128], path2[128];

static const char *in_dir(char *buf, const char *name)
{
    snprintf(buf, 128, "%s/%s", dir, name);
    return buf;
}

int main(void)
{
    t_start("fileio");
    snprintf(dir, sizeof dir, "/tmp/fileio.%d", (int)getpid());
    if (!CHECK(mkdir(dir, 0755) == 0, "mkdir %s: %s", dir, strerror(errno)))
        return t_done();
    struct stat st;
    CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode), "stat of the new directory");
    CHECK_ERR(mkdir(dir, 0755), EEXIST, "mkdir of an existing directory");

    /* 1 MiB written in odd-sized pieces, read back whole. */
    in_dir(path, "big");
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
    if (!CHECK(fd >= 0, "create %s: %s", path, strerror(errno)))
        return t_done();
    static unsigned char buf[1 << 20], back[1 << 20];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 131 + (i >> 9));
    size_t off = 0;
    for (size_t piece = 1; off < sizeof buf; piece = piece * 3 + 7) {
        size_t n = piece < sizeof buf - off ? piece : sizeof buf - off;
        if (!CHECK(write(fd, buf + off, n) == (ssize_t)n, "write %zu at %zu: %s", n, off, strerror(errno)))
            break;
        off += n;
    }
    CHECK(fstat(fd, &st) == 0 && st.st_size == sizeof buf && S_ISREG(st.st_mode),
          "fstat size %ld, expected %zu", (long)st.st_size, sizeof buf);
    CHECK(lseek(fd, 0, SEEK_CUR) == sizeof buf, "lseek(SEEK_CUR) after writing");
    CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek(0, SEEK_SET)");
    size_t got = 0;
    ssize_t n;
    while (got < sizeof back && (n = read(fd, back + got, 65537)) > 0)
        got += n;
    CHECK(got == sizeof buf && !memcmp(buf, back, sizeof buf), "read back %zu bytes, differs or short", got);
    CHECK(read(fd, back, 10) == 0, "read at EOF should return 0");
    CHECK(lseek(fd, -10, SEEK_END) == sizeof buf - 10, "lseek(-10, SEEK_END)");
    char small[16];
    CHECK(pread(fd, small, 4, 1000) == 4 && !memcmp(small, buf + 1000, 4), "pread at 1000");
    CHECK(lseek(fd, 0, SEEK_CUR) == sizeof buf - 10, "pread moved the file offset");
    close(fd);
    CHECK_ERR(read(fd, small, 1), EBADF, "read of a closed fd");
    CHECK_ERR(open(path, O_RDWR | O_CREAT | O_EXCL, 0644), EEXIST, "O_CREAT|O_EXCL of an existing file");

    /* readv / writev, O_APPEND, O_TRUNC */
    fd = open(path, O_RDWR | O_TRUNC);
    CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 0, "O_TRUNC");
    struct iovec wv[3] = {{"abc", 3}, {"", 0}, {"defgh", 5}};
    CHECK(writev(fd, wv, 3) == 8, "writev: %s", strerror(errno));
    close(fd);
    fd = open(path, O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, "ij", 2) == 2, "O_APPEND write");
    lseek(fd, 0, SEEK_SET);
    CHECK(write(fd, "kl", 2) == 2, "O_APPEND write after lseek(0)");
    close(fd);
    fd = open(path, O_RDONLY);
    char a[4] = {0}, b[16] = {0};
    struct iovec rv[2] = {{a, 4}, {b, 16}};
    CHECK(readv(fd, rv, 2) == 12 && !memcmp(a, "abcd", 4) && !memcmp(b, "efghijkl", 8),
          "readv: got \"%.4s\" + \"%.16s\"", a, b);

    /* dup, dup2, fcntl */
    int d = dup(fd);
    CHECK(d > fd || d >= 0, "dup: %s", strerror(errno));
    CHECK(lseek(d, 1, SEEK_SET) == 1 && lseek(fd, 0, SEEK_CUR) == 1, "dup'ed fds do not share the offset");
    CHECK(dup2(fd, 100) == 100, "dup2(fd, 100): %s", strerror(errno));
    CHECK(fcntl(100, F_GETFD) == 0, "dup2's fd has FD_CLOEXEC");
    CHECK(fcntl(100, F_SETFD, FD_CLOEXEC) == 0 && fcntl(100, F_GETFD) == FD_CLOEXEC, "F_SETFD");
    int d2 = fcntl(fd, F_DUPFD_CLOEXEC, 50);
    CHECK(d2 >= 50 && fcntl(d2, F_GETFD) == FD_CLOEXEC, "F_DUPFD_CLOEXEC gave %d", d2);
    CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY, "F_GETFL access mode");
    close(d);
    close(d2);
    close(100);
    close(fd);
    CHECK_ERR(close(100), EBADF, "close of a closed fd");

    /* rename, symlink, readlink, unlink */
    in_dir(path2, "moved");
    CHECK(rename(path, path2) == 0, "rename: %s", strerror(errno));
    CHECK_ERR(stat(path, &st), ENOENT, "stat of the old name after rename");
    CHECK(stat(path2, &st) == 0 && st.st_size == 12, "stat of the new name after rename");
    char link[128], target[128] = {0};
    in_dir(link, "link");
    CHECK(symlink("moved", link) == 0, "symlink: %s", strerror(errno));
    CHECK(readlink(link, target, sizeof target) == 5 && !strcmp(target, "moved"), "readlink: \"%s\"", target);
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "lstat of a symlink");
    CHECK(stat(link, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 12, "stat through a symlink");
    fd = open(link, O_RDONLY);
    CHECK(fd >= 0 && read(fd, b, 3) == 3 && !memcmp(b, "abc", 3), "open through a symlink");
    close(fd);

    /* directories: listing, ENOTDIR, EISDIR, ENOTEMPTY, chdir/getcwd */
    char sub[128];
    in_dir(sub, "sub");
    CHECK(mkdir(sub, 0755) == 0, "mkdir sub");
    DIR *dp = opendir(dir);
    int seen = 0, entries = 0;
    struct dirent *e;
    while (dp && (e = readdir(dp))) {
        entries++;
        seen |= !strcmp(e->d_name, ".") << 0 | !strcmp(e->d_name, "..") << 1 |
                !strcmp(e->d_name, "moved") << 2 | !strcmp(e->d_name, "link") << 3 |
                !strcmp(e->d_name, "sub") << 4;
        if (!strcmp(e->d_name, "sub"))
            CHECK(e->d_type == DT_DIR || e->d_type == DT_UNKNOWN, "d_type of sub: %d", e->d_type);
    }
    if (dp)
        closedir(dp);
    CHECK(seen == 31 && entries == 5, "readdir saw %d entries (mask %d), expected . .. moved link sub",
          entries, seen);
    CHECK_ERR(open(path2, O_RDONLY | O_DIRECTORY), ENOTDIR, "O_DIRECTORY on a file");
    char inside[160];
    snprintf(inside, sizeof inside, "%s/x", path2);
    CHECK_ERR(open(inside, O_RDONLY), ENOTDIR, "a path through a file");
    CHECK_ERR(open(sub, O_WRONLY), EISDIR, "open a directory for writing");
    CHECK_ERR(rmdir(dir), ENOTEMPTY, "rmdir of a non-empty directory");
    char cwd[PATH_MAX];
    CHECK(chdir(sub) == 0 && getcwd(cwd, sizeof cwd) && !strcmp(cwd, sub), "chdir/getcwd: \"%s\"", cwd);
    CHECK(chdir("..") == 0 && getcwd(cwd, sizeof cwd) && !strcmp(cwd, dir), "chdir ..: \"%s\"", cwd);
    fd = open("moved", O_RDONLY);       /* relative to the new cwd */
    CHECK(fd >= 0, "relative open after chdir: %s", strerror(errno));
    close(fd);
    CHECK(chdir("/") == 0, "chdir /");
    CHECK(access(path2, R_OK) == 0, "access(R_OK)");
    CHECK_ERR(access(path, F_OK), ENOENT, "access of a missing file");

    CHECK(unlink(link) == 0 && unlink(path2) == 0, "unlink: %s", strerror(errno));
    CHECK_ERR(unlink(sub), EISDIR, "unlink of a directory");
    CHECK(rmdir(sub) == 0 && rmdir(dir) == 0, "rmdir: %s", strerror(errno));
    CHECK_ERR(stat(dir, &st), ENOENT, "stat of the removed directory");
    return t_done();
}
