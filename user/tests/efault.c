/* efault: bad user pointers given to system calls fail with EFAULT, never with a crash of the
 * caller or of the kernel: a low address, NULL, kernel addresses, non-canonical addresses, and
 * buffers that start in mapped memory and run into an unmapped page.  Raw syscall() is used where
 * libc would touch the pointer itself (or use the vDSO on Linux). */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include "t.h"

static void *const bad[] = {
    (void *)1,
    (void *)0x1000,
    (void *)0x0000800000000000ull,      /* first non-canonical address */
    (void *)0x8000000000000000ull,      /* non-canonical */
    (void *)0xffff800000000000ull,      /* kernel half: Shoal's direct map */
    (void *)0xffffffff80000000ull,      /* kernel half: the kernel image */
};
#define NBAD (sizeof bad / sizeof bad[0])

int main(void)
{
    t_start("efault");
    int p[2];
    long r;

    /* The case, exactly. */
    errno = 0;
    r = write(1, (void *)1, 10);
    CHECK_ERR(r, EFAULT, "write(1, (void*)1, 10)");

    for (size_t i = 0; i < NBAD; i++) {
        char what[64];
        snprintf(what, sizeof what, "write(pipe, %p, 10)", bad[i]);
        if (pipe(p) != 0)
            break;
        r = write(p[1], bad[i], 10);
        CHECK_ERR(r, EFAULT, what);

        /* read into a bad pointer, with data waiting in the pipe */
        CHECK(write(p[1], "hello", 5) == 5, "write to pipe");
        snprintf(what, sizeof what, "read(pipe, %p, 5)", bad[i]);
        r = read(p[0], bad[i], 5);
        CHECK_ERR(r, EFAULT, what);
        close(p[0]);
        close(p[1]);

        int zero = open("/dev/zero", O_RDONLY);
        if (CHECK(zero >= 0, "open /dev/zero: %s", strerror(errno))) {
            snprintf(what, sizeof what, "read(/dev/zero, %p, 4096)", bad[i]);
            r = read(zero, bad[i], 4096);
            CHECK_ERR(r, EFAULT, what);
            close(zero);
        }
        snprintf(what, sizeof what, "open(%p)", bad[i]);
        r = syscall(SYS_open, bad[i], O_RDONLY);
        CHECK_ERR(r, EFAULT, what);
    }

    /* NULL paths */
    r = syscall(SYS_open, NULL, O_RDONLY);
    CHECK_ERR(r, EFAULT, "open(NULL)");
    r = syscall(SYS_openat, AT_FDCWD, NULL, O_RDONLY);
    CHECK_ERR(r, EFAULT, "openat(AT_FDCWD, NULL)");
    r = syscall(SYS_stat, NULL, (void *)1);
    CHECK_ERR(r, EFAULT, "stat(NULL)");
    r = syscall(SYS_execve, NULL, NULL, NULL);
    CHECK_ERR(r, EFAULT, "execve(NULL)");
    r = syscall(SYS_chdir, NULL);
    CHECK_ERR(r, EFAULT, "chdir(NULL)");
    r = syscall(SYS_mkdir, (void *)1, 0755);
    CHECK_ERR(r, EFAULT, "mkdir((void*)1)");

    /* Bad output structures */
    r = syscall(SYS_stat, "/", (void *)1);
    CHECK_ERR(r, EFAULT, "stat(\"/\", (void*)1)");
    r = syscall(SYS_fstat, 1, (void *)0xffff800000000000ull);
    CHECK_ERR(r, EFAULT, "fstat(1, kernel address)");
    r = syscall(SYS_newfstatat, AT_FDCWD, "/", (void *)1, 0);
    CHECK_ERR(r, EFAULT, "newfstatat(\"/\", (void*)1)");
    r = syscall(SYS_uname, (void *)1);
    CHECK_ERR(r, EFAULT, "uname((void*)1)");
    r = syscall(SYS_pipe, (void *)1);
    CHECK_ERR(r, EFAULT, "pipe((void*)1)");
    r = syscall(SYS_pipe2, (void *)0xffffffff80000000ull, 0);
    CHECK_ERR(r, EFAULT, "pipe2(kernel image)");
    r = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (void *)1);
    CHECK_ERR(r, EFAULT, "clock_gettime(MONOTONIC, (void*)1)");
    r = syscall(SYS_gettimeofday, (void *)1, NULL);
    CHECK_ERR(r, EFAULT, "gettimeofday((void*)1)");
    r = syscall(SYS_getcwd, (void *)1, 256);
    CHECK_ERR(r, EFAULT, "getcwd((void*)1, 256)");
    r = syscall(SYS_nanosleep, (void *)1, NULL);
    CHECK_ERR(r, EFAULT, "nanosleep((void*)1)");
    r = syscall(SYS_rt_sigaction, SIGUSR1, (void *)1, NULL, 8);
    CHECK_ERR(r, EFAULT, "rt_sigaction(SIGUSR1, (void*)1)");
    r = syscall(SYS_rt_sigprocmask, SIG_BLOCK, (void *)1, NULL, 8);
    CHECK_ERR(r, EFAULT, "rt_sigprocmask(SIG_BLOCK, (void*)1)");
    char *argv_bad[] = {"x", (char *)1, NULL};
    r = syscall(SYS_execve, "/bin/sh", argv_bad, NULL);
    CHECK_ERR(r, EFAULT, "execve(\"/bin/sh\", argv with a bad string)");
    r = syscall(SYS_execve, "/bin/sh", (void *)1, NULL);
    CHECK_ERR(r, EFAULT, "execve(\"/bin/sh\", (void*)1)");

    /* An iovec array that is fine, pointing at a bad buffer; and a bad iovec array. */
    if (CHECK(pipe(p) == 0, "pipe")) {
        struct iovec iov[2] = {{"ok", 2}, {(void *)1, 10}};
        r = writev(p[1], iov, 2);
        CHECK((r == -1 && errno == EFAULT) || r == 2,
              "writev(good, bad): expected EFAULT or a short count of 2, got %ld (%s)", r,
              strerror(errno));
        r = writev(p[1], (void *)1, 2);
        CHECK_ERR(r, EFAULT, "writev((void*)1)");
        close(p[0]);
        close(p[1]);
    }

    /* A buffer whose first 5 bytes are mapped and the next 5 are not: Linux returns either EFAULT
     * or the 5 bytes it could copy.  Never 10, never a crash. */
    char *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (CHECK(two != MAP_FAILED, "mmap 2 pages: %s", strerror(errno))) {
        CHECK(munmap(two + 4096, 4096) == 0, "munmap the second page: %s", strerror(errno));
        char *edge = two + 4096 - 5;
        memcpy(edge, "abcde", 5);
        if (CHECK(pipe(p) == 0, "pipe")) {
            r = write(p[1], edge, 10);
            CHECK((r == -1 && errno == EFAULT) || r == 5,
                  "write(pipe, 5 mapped + 5 unmapped bytes): got %ld (%s)", r, strerror(errno));
            if (r == 5) {
                char back[8] = {0};
                CHECK(read(p[0], back, 8) == 5 && !memcmp(back, "abcde", 5),
                      "the 5 mapped bytes should be what went through the pipe");
            }
            close(p[0]);
            close(p[1]);
        }
        int zero = open("/dev/zero", O_RDONLY);
        if (zero >= 0) {
            r = read(zero, edge, 10);
            CHECK((r == -1 && errno == EFAULT) || r == 5,
                  "read(/dev/zero, 5 mapped + 5 unmapped bytes): got %ld (%s)", r, strerror(errno));
            if (r == 5)
                CHECK(!memcmp(edge, "\0\0\0\0\0", 5), "the 5 mapped bytes should now be zero");
            close(zero);
        }
        char path[64];
        memcpy(two + 4096 - 4, "/tmp", 4);    /* a path without its terminating NUL in mapped memory */
        r = syscall(SYS_open, two + 4096 - 4, O_RDONLY);
        CHECK_ERR(r, EFAULT, "open(path running into an unmapped page)");
        snprintf(path, sizeof path, "/");
        CHECK(syscall(SYS_open, path, O_RDONLY | O_DIRECTORY) >= 0, "open(\"/\") still works");
        munmap(two, 4096);
    }

    /* wait4 with a bad status pointer: EFAULT (Linux has reaped the child by then). */
    pid_t pid = fork();
    if (pid == 0)
        _exit(7);
    if (CHECK(pid > 0, "fork: %s", strerror(errno))) {
        r = syscall(SYS_wait4, pid, (void *)1, 0, NULL);
        CHECK_ERR(r, EFAULT, "wait4(pid, (int*)1)");
        waitpid(pid, NULL, 0);      /* in case the kernel did not reap it */
    }

    CHECK(write(1, "", 0) == 0, "the process still works after all that");
    return t_done();
}
