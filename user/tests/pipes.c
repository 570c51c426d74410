/* pipes: 16 MiB through a pipe between two processes, checksummed; EOF when the last writer
 * closes; O_NONBLOCK gives EAGAIN; poll and select report readable, writable and hang-up;
 * dup2 of a pipe onto stdin/stdout across exec (a real pipeline: /bin/sh -c "tr a-z A-Z"). */
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/select.h>
#include "t.h"

#define TOTAL (16 << 20)

static uint32_t next(uint32_t x) { return x * 1103515245u + 12345u; }

int main(void)
{
    t_start("pipes");
    int p[2];
    if (!CHECK(pipe(p) == 0, "pipe: %s", strerror(errno)))
        return t_done();
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        static uint32_t buf[3000];      /* not a multiple of the pipe size: partial reads */
        uint32_t x = 1;
        for (size_t sent = 0; sent < TOTAL; sent += sizeof buf) {
            size_t n = TOTAL - sent < sizeof buf ? TOTAL - sent : sizeof buf;
            for (size_t i = 0; i < n / 4; i++)
                buf[i] = x = next(x);
            if (write(p[1], buf, n) != (ssize_t)n)
                _exit(1);
        }
        _exit(0);
    }
    close(p[1]);
    static unsigned char buf[70000];
    uint32_t x = 1, word;
    size_t got = 0, bad = 0, have = 0;
    unsigned char part[4];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            part[have++] = buf[i];
            if (have == 4) {
                memcpy(&word, part, 4);
                x = next(x);
                bad += word != x;
                have = 0;
            }
        }
        got += n;
    }
    CHECK(n == 0, "read ended with %zd: %s", n, strerror(errno));
    CHECK(got == TOTAL, "received %zu bytes, expected %d", got, TOTAL);
    CHECK(bad == 0, "%zu words differ", bad);
    int st = -1;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer: %s",
          t_status(st));
    close(p[0]);

    /* Non-blocking, poll, select */
    if (CHECK(pipe(p) == 0, "pipe")) {
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        char c;
        CHECK_ERR(read(p[0], &c, 1), EAGAIN, "non-blocking read of an empty pipe");
        struct pollfd pf[2] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}};
        CHECK(poll(pf, 2, 0) == 1 && pf[0].revents == 0 && (pf[1].revents & POLLOUT),
              "poll on an empty pipe: %d %d", pf[0].revents, pf[1].revents);
        CHECK(poll(pf, 1, 100) == 0, "poll with a timeout on an empty pipe should time out");
        (void)!write(p[1], "y", 1);
        CHECK(poll(pf, 1, 1000) == 1 && (pf[0].revents & POLLIN), "poll: POLLIN after a write");
        fd_set r, w;
        FD_ZERO(&r);
        FD_ZERO(&w);
        FD_SET(p[0], &r);
        FD_SET(p[1], &w);
        struct timeval tv = {1, 0};
        CHECK(select(p[1] + 1, &r, &w, NULL, &tv) == 2 && FD_ISSET(p[0], &r) && FD_ISSET(p[1], &w),
              "select: readable and writable");
        CHECK(read(p[0], &c, 1) == 1 && c == 'y', "read the byte");
        FD_ZERO(&r);
        FD_SET(p[0], &r);
        tv.tv_sec = 0;
        tv.tv_usec = 100000;
        CHECK(select(p[0] + 1, &r, NULL, NULL, &tv) == 0, "select on an empty pipe should time out");
        fcntl(p[1], F_SETFL, O_NONBLOCK);
        size_t cap = 0;
        static char chunk[4096];
        while ((n = write(p[1], chunk, sizeof chunk)) > 0)
            cap += n;
        CHECK(n == -1 && errno == EAGAIN, "non-blocking write to a full pipe: %s", strerror(errno));
        CHECK(cap >= 4096, "pipe capacity %zu bytes, expected at least 4096", cap);
        pf[1].revents = 0;
        CHECK(poll(&pf[1], 1, 0) == 0, "poll says a full pipe is writable");
        close(p[1]);
        size_t drained = 0;
        while ((n = read(p[0], chunk, sizeof chunk)) > 0)
            drained += n;
        CHECK(drained == cap && n == 0, "drained %zu of %zu, then %zd", drained, cap, n);
        pf[0].revents = 0;
        CHECK(poll(pf, 1, 0) == 1 && (pf[0].revents & POLLHUP), "poll: no POLLHUP when the writer is gone");
        close(p[0]);
    }

    /* A two-process pipeline through exec: echo | tr. */
    int in[2], out[2];
    if (CHECK(pipe(in) == 0 && pipe(out) == 0, "pipe")) {
        pid = fork();
        if (pid == 0) {
            dup2(in[0], 0);
            dup2(out[1], 1);
            close(in[0]); close(in[1]); close(out[0]); close(out[1]);
            execl("/bin/sh", "sh", "-c", "tr a-z A-Z", (char *)NULL);
            _exit(127);
        }
        close(in[0]);
        close(out[1]);
        CHECK(write(in[1], "hello, pipe\n", 12) == 12, "write to the pipeline");
        close(in[1]);
        char res[64] = {0};
        size_t len = 0;
        while ((n = read(out[0], res + len, sizeof res - 1 - len)) > 0)
            len += n;
        CHECK(!strcmp(res, "HELLO, PIPE\n"), "pipeline output \"%s\"", res);
        CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "sh: %s",
              t_status(st));
        close(out[0]);
    }
    return t_done();
}
