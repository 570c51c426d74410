/* sigpipe: writing to a pipe whose reader is gone kills the writer with SIGPIPE (default action);
 * with SIGPIPE ignored the write fails with EPIPE; with a handler, the handler runs and the write
 * fails with EPIPE; a writer blocked on a full pipe is woken when the reader closes. */
#include <fcntl.h>
#include "t.h"

static volatile sig_atomic_t caught;
static void on_pipe(int sig) { caught = sig; }

static void write_to_closed(void *arg)
{
    int p[2];
    if (pipe(p) != 0)
        _exit(2);
    close(p[0]);
    (void)!write(p[1], "x", 1);
    _exit(3);                       /* not reached: SIGPIPE kills us */
}

int main(void)
{
    t_start("sigpipe");

    int st = t_in_child(write_to_closed, NULL);
    CHECK(t_killed_by(st, SIGPIPE), "write to a reader-less pipe: %s, expected signal %d (SIGPIPE)",
          st == -1 ? "fork failed" : t_status(st), SIGPIPE);

    int p[2];
    signal(SIGPIPE, SIG_IGN);
    if (CHECK(pipe(p) == 0, "pipe: %s", strerror(errno))) {
        close(p[0]);
        errno = 0;
        ssize_t r = write(p[1], "x", 1);
        CHECK_ERR(r, EPIPE, "write with SIGPIPE ignored");
        close(p[1]);
    }

    struct sigaction sa = {.sa_handler = on_pipe};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
    if (CHECK(pipe(p) == 0, "pipe: %s", strerror(errno))) {
        close(p[0]);
        ssize_t r = write(p[1], "x", 1);
        CHECK_ERR(r, EPIPE, "write with a SIGPIPE handler");
        CHECK(caught == SIGPIPE, "the SIGPIPE handler did not run");
        close(p[1]);
    }

    /* A writer blocked on a full pipe: the reader reads a little, then closes. */
    signal(SIGPIPE, SIG_IGN);
    if (CHECK(pipe(p) == 0, "pipe: %s", strerror(errno))) {
        int res[2];
        (void)!pipe(res);
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            close(res[0]);
            static char buf[65536];
            long total = 0;
            ssize_t n;
            alarm(30);              /* a writer never woken must not hang the test */
            while ((n = write(p[1], buf, sizeof buf)) > 0)
                total += n;
            int e = errno;
            (void)!write(res[1], &e, sizeof e);
            _exit(total > 0 ? 0 : 1);
        }
        close(p[1]);
        close(res[1]);
        char buf[100];
        CHECK(read(p[0], buf, sizeof buf) == sizeof buf, "read from the writer: %s", strerror(errno));
        usleep(200000);             /* let the writer fill the pipe and block */
        close(p[0]);
        int e = 0;
        CHECK(read(res[0], &e, sizeof e) == sizeof e, "no errno from the writer");
        CHECK(e == EPIPE, "blocked writer: errno %d (%s), expected EPIPE", e, strerror(e));
        CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "blocked writer: %s", t_status(st));
        close(res[0]);
    }
    return t_done();
}
