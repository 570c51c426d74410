/* cowkernel: after fork, memory is shared copy-on-write. A write done BY THE KERNEL on the
 * child's behalf (read() into a buffer, a pipe, getcwd, a signal frame) must break the sharing
 * like a write by the program does, and never reach the parent's copy. */
#include "t.h"
#include <fcntl.h>

static char buf[3 * 4096] __attribute__((aligned(4096)));

int main(void)
{
    t_start("cowkernel");
    memset(buf, 'P', sizeof buf);
    int fd = open("/dev/zero", O_RDONLY);
    CHECK(fd >= 0, "open /dev/zero: %s", strerror(errno));
    int pfd[2];
    CHECK(pipe(pfd) == 0, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid == 0) {
        /* The kernel writes into pages still shared with the parent. */
        ssize_t n = read(fd, buf, sizeof buf);
        write(pfd[1], "x", 1);
        char c;
        read(pfd[0], &c, 1);                    /* pipe data into the shared page too */
        getcwd(buf + 4096 + 100, 64);
        _exit(n == (ssize_t)sizeof buf && buf[0] == 0 && buf[sizeof buf - 1] == 0 ? 0 : 1);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child's read did not see zeros (status %#x)", status);
    int intact = 1;
    for (size_t i = 0; i < sizeof buf; i++)
        intact &= buf[i] == 'P';
    CHECK(intact, "the child's read() changed the parent's memory: copy-on-write broken for kernel writes");
    return t_done();
}
