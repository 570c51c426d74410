/* mmapfile: private file mappings read the file's bytes (whole file, at an offset, the zero tail
 * of the last page), stay valid after close and unlink, are private on write and across fork;
 * a page read before it is written is still private on write (a mapping may share the file's own
 * page until then), also after mprotect made it writable; anonymous mappings are zeroed, munmap
 * removes them, mprotect changes what faults, MAP_FIXED
 * replaces part of a mapping, and bad arguments give EINVAL/EBADF; a mapping of this program's own
 * file (which every Shoal node has: away from home, the node maps its own copy) reads what read()
 * reads. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include "t.h"

#define PAGE 4096
#define FSIZE (3 * PAGE + 100)

static unsigned char byte_at(size_t i) { return (unsigned char)(i * 7 + (i >> 12) + 1); }

static volatile int sink;
static void read_at(void *p) { sink = *(volatile char *)p; }
static void write_at(void *p) { *(volatile char *)p = 1; }

static int same_as_file(const unsigned char *m, size_t from, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (m[i] != byte_at(from + i))
            return 0;
    return 1;
}

int main(void)
{
    t_start("mmapfile");
    char path[64];
    snprintf(path, sizeof path, "/tmp/mmapfile.%d", (int)getpid());
    static unsigned char data[FSIZE];
    for (size_t i = 0; i < FSIZE; i++)
        data[i] = byte_at(i);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (!CHECK(fd >= 0 && write(fd, data, FSIZE) == FSIZE, "create %s: %s", path, strerror(errno)))
        return t_done();

    unsigned char *m = mmap(NULL, FSIZE, PROT_READ, MAP_PRIVATE, fd, 0);
    if (CHECK(m != MAP_FAILED, "mmap(file, PROT_READ, MAP_PRIVATE): %s", strerror(errno))) {
        CHECK(same_as_file(m, 0, FSIZE), "the mapping differs from the file");
        int tail_zero = 1;
        for (size_t i = FSIZE; i < 4 * PAGE; i++)
            tail_zero &= m[i] == 0;
        CHECK(tail_zero, "the rest of the last page past EOF is not zero");
        int st = t_in_child(read_at, m + 100);
        CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "a child reading the mapping: %s",
              t_status(st));
        st = t_in_child(write_at, m);
        CHECK(t_killed_by(st, SIGSEGV), "writing to a PROT_READ file mapping: %s", t_status(st));
        munmap(m, FSIZE);
    }

    m = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 2 * PAGE);
    if (CHECK(m != MAP_FAILED, "mmap at offset 2 pages: %s", strerror(errno))) {
        CHECK(same_as_file(m, 2 * PAGE, PAGE), "the mapping at offset 8192 differs from the file");
        munmap(m, PAGE);
    }

    /* Read-only, read, then made writable and written: the file stays as it was. */
    m = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    if (CHECK(m != MAP_FAILED, "mmap(file, PROT_READ): %s", strerror(errno))) {
        sink = m[5];
        CHECK(mprotect(m, PAGE, PROT_READ | PROT_WRITE) == 0, "mprotect RW: %s", strerror(errno));
        m[5] = (unsigned char)~byte_at(5);
        unsigned char b;
        CHECK(pread(fd, &b, 1, 5) == 1 && b == byte_at(5), "a write after mprotect reached the file");
        munmap(m, PAGE);
    }

    m = mmap(NULL, FSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (CHECK(m != MAP_FAILED, "mmap(file, RW, MAP_PRIVATE): %s", strerror(errno))) {
        close(fd);
        fd = -1;
        sink = m[PAGE + 7];             /* read first: the file's own page may be mapped... */
        m[0] = 0xee;
        m[PAGE + 1] = 0xee;             /* ...and a write then copies it, not writes the file */
        unsigned char b[2];
        int f2 = open(path, O_RDONLY);
        CHECK(f2 >= 0 && pread(f2, b, 1, 0) == 1 && b[0] == byte_at(0) &&
              pread(f2, b + 1, 1, PAGE + 1) == 1 && b[1] == byte_at(PAGE + 1),
              "a write to a MAP_PRIVATE mapping reached the file");
        close(f2);
        pid_t pid = fork();
        if (pid == 0) {
            int ok = m[0] == 0xee && same_as_file(m + 1, 1, PAGE);
            m[2] = 0xdd;
            _exit(ok ? 0 : 1);
        }
        int st = -1;
        waitpid(pid, &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child sees other bytes: %s", t_status(st));
        CHECK(m[2] == byte_at(2), "the child's write to the mapping reached the parent");
        CHECK(unlink(path) == 0, "unlink: %s", strerror(errno));
        CHECK(same_as_file(m + 3, 3, PAGE - 2) && same_as_file(m + PAGE + 2, PAGE + 2, FSIZE - PAGE - 2),
              "the mapping changed after close and unlink");
        munmap(m, FSIZE);
    }
    if (fd >= 0)
        close(fd);
    unlink(path);

    /* Anonymous memory */
    size_t len = 1 << 20;
    unsigned char *a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (CHECK(a != MAP_FAILED, "mmap anonymous 1 MiB: %s", strerror(errno))) {
        int zero = 1;
        for (size_t i = 0; i < len; i += 512)
            zero &= a[i] == 0;
        CHECK(zero, "anonymous memory is not zero");
        memset(a, 0x33, len);
        CHECK(a[len - 1] == 0x33, "anonymous memory does not keep what was written");

        CHECK(mprotect(a, PAGE, PROT_READ) == 0, "mprotect(PROT_READ): %s", strerror(errno));
        CHECK(t_killed_by(t_in_child(write_at, a), SIGSEGV), "write to a PROT_READ page did not fault");
        CHECK(t_in_child(write_at, a + PAGE) == 0, "write to the next (RW) page faulted");
        CHECK(mprotect(a, PAGE, PROT_NONE) == 0, "mprotect(PROT_NONE): %s", strerror(errno));
        CHECK(t_killed_by(t_in_child(read_at, a), SIGSEGV), "read of a PROT_NONE page did not fault");
        CHECK(mprotect(a, PAGE, PROT_READ | PROT_WRITE) == 0, "mprotect(RW): %s", strerror(errno));
        a[0] = 0x44;
        CHECK(a[0] == 0x44 && a[1] == 0x33, "the page lost its contents through mprotect");

        unsigned char *f = mmap(a + 4 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        CHECK(f == a + 4 * PAGE, "MAP_FIXED gave %p, asked for %p", (void *)f, (void *)(a + 4 * PAGE));
        CHECK(a[4 * PAGE] == 0 && a[6 * PAGE - 1] == 0 && a[6 * PAGE] == 0x33 && a[4 * PAGE - 1] == 0x33,
              "MAP_FIXED did not replace exactly its two pages with zeroed memory");

        CHECK(munmap(a + 8 * PAGE, PAGE) == 0, "munmap one page in the middle: %s", strerror(errno));
        CHECK(t_killed_by(t_in_child(read_at, a + 8 * PAGE), SIGSEGV), "read of an unmapped page did not fault");
        CHECK(t_in_child(read_at, a + 9 * PAGE) == 0, "the page after the hole is gone too");
        CHECK(munmap(a, len) == 0, "munmap the rest: %s", strerror(errno));
        CHECK(t_killed_by(t_in_child(read_at, a + len / 2), SIGSEGV), "read after munmap did not fault");
    }

    char exe[256];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    int efd = -1;
    if (CHECK(n > 0, "readlink /proc/self/exe: %s", strerror(errno))) {
        exe[n] = 0;
        efd = open(exe, O_RDONLY);
        CHECK(efd >= 0, "open %s: %s", exe, strerror(errno));
    }
    if (efd >= 0) {
        static unsigned char want[16 * PAGE];
        ssize_t got = pread(efd, want, sizeof want, PAGE);
        unsigned char *e = mmap(NULL, sizeof want, PROT_READ, MAP_PRIVATE, efd, PAGE);
        if (CHECK(got > 0 && e != MAP_FAILED, "pread %zd, mmap of %s: %s", got, exe, strerror(errno))) {
            CHECK(memcmp(e, want, (size_t)got) == 0, "the mapping of %s differs from what read() reads", exe);
            munmap(e, sizeof want);
        }
        close(efd);
    }

    errno = 0;
    CHECK(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, 12345, 0) == MAP_FAILED && errno == EBADF,
          "mmap of a bad fd: errno %d, expected EBADF", errno);
    errno = 0;
    CHECK(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL,
          "mmap of length 0: errno %d, expected EINVAL", errno);
    errno = 0;
    CHECK_ERR(munmap((void *)0x10001, PAGE), EINVAL, "munmap of an unaligned address");
    return t_done();
}
