/* forkbomb: a fork bomb is contained.  Phase 1 (flat): fork children that sleep until fork fails;
 * it must fail with EAGAIN; then every child is killed and reaped and fork works again.  Phase 2
 * (tree): every process forks as fast as it can in one process group until a fork fails with
 * EAGAIN; then the group is killed with kill(-pgid, SIGKILL) until nothing of it is left.
 * Orphans go to us when PR_SET_CHILD_SUBREAPER works, else to init, which must reap them.
 * Safety on a Linux host as root (RLIMIT_NPROC does not apply to root): phase 1 stops at MAX
 * children (argument, default 4096) and counts as a failure; phase 2 is bounded by tokens in a
 * pipe (each fork costs one), at most twice the limit that phase 1 found. */
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <time.h>
#include "t.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int flat(int max)
{
    pid_t *pids = calloc(max, sizeof *pids);
    int n = 0, err = 0;
    if (!CHECK(pids != NULL, "calloc"))
        return 0;
    for (; n < max; n++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (;;)
                pause();
        }
        if (pid < 0) {
            err = errno;
            break;
        }
        pids[n] = pid;
    }
    printf("forkbomb: flat: %d children, then fork: %s\n", n, n < max ? strerror(err) : "(cap)");
    CHECK(n < max, "no fork failure after %d children (the cap): no process limit?", max);
    CHECK(n == max || err == EAGAIN, "fork failed with errno %d (%s), expected EAGAIN", err,
          strerror(err));
    CHECK(n > 0, "not a single fork succeeded");

    for (int i = 0; i < n; i++)
        CHECK(kill(pids[i], SIGKILL) == 0, "kill(%d, SIGKILL): %s", pids[i], strerror(errno));
    int reaped = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        int st;
        if (waitpid(pids[i], &st, 0) == pids[i]) {
            reaped++;
            bad += !t_killed_by(st, SIGKILL);
        }
    }
    CHECK(reaped == n, "reaped %d of %d children", reaped, n);
    CHECK(bad == 0, "%d children did not die of SIGKILL", bad);
    CHECK(wait(NULL) == -1 && errno == ECHILD, "children left after reaping all");
    free(pids);
    return n < max ? n : 0;
}

static void fork_works_again(const char *when)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(42);
    int st = -1;
    CHECK(pid > 0, "%s: fork fails: %s", when, strerror(errno));
    if (pid > 0) {
        CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 42,
              "%s: child: %s", when, t_status(st));
    }
}

static void bomb(int tokens, int notify)
{
    char c;
    while (read(tokens, &c, 1) == 1) {
        pid_t pid = fork();
        if (pid < 0) {
            c = errno == EAGAIN ? 'A' : 'E';
            if (write(notify, &c, 1) < 0) {
                /* full pipe: someone already told the parent */
            }
            break;
        }
        /* parent and child alike go on forking */
    }
    for (;;)
        pause();
}

static void tree(int limit)
{
    int tok[2], note[2];
    if (!CHECK(pipe(tok) == 0 && pipe(note) == 0, "pipe: %s", strerror(errno)))
        return;
    fcntl(tok[0], F_SETFL, O_NONBLOCK);
    fcntl(tok[1], F_SETFL, O_NONBLOCK);
    fcntl(note[1], F_SETFL, O_NONBLOCK);
    int subreaper = prctl(PR_SET_CHILD_SUBREAPER, 1) == 0;

    pid_t leader = fork();
    if (leader == 0) {
        setpgid(0, 0);
        close(tok[1]);
        close(note[0]);
        bomb(tok[0], note[1]);
    }
    if (!CHECK(leader > 0, "fork: %s", strerror(errno)))
        return;
    setpgid(leader, leader);
    close(tok[0]);
    close(note[1]);

    int budget = 2 * limit + 16, given = 0;
    char c = 0;
    double deadline = now() + 120;
    while (now() < deadline) {
        while (given < budget && write(tok[1], "t", 1) == 1)
            given++;
        struct pollfd pfd = {note[0], POLLIN, 0};
        if (poll(&pfd, 1, 20) == 1 && read(note[0], &c, 1) == 1)
            break;
        if (given == budget) {
            printf("forkbomb: tree: all %d tokens given, no fork failed yet\n", budget);
            break;
        }
    }
    close(tok[1]);                  /* whoever still forks stops at the next token */
    printf("forkbomb: tree: %d tokens given, first fork failure: %s\n", given,
           c == 'A' ? "EAGAIN" : c == 'E' ? "another errno" : "none");
    CHECK(c == 'A' || given == budget, "the tree bomb's first fork failure was not EAGAIN (%c)", c);

    /* Kill the whole group until it is gone; reap what comes to us. */
    int rounds = 0;
    deadline = now() + 60;
    while (kill(-leader, SIGKILL) == 0 && now() < deadline) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        rounds++;
        usleep(10000);
    }
    CHECK(kill(-leader, 0) == -1 && errno == ESRCH,
          "process group %d still exists after 60 s of SIGKILL (%s; orphans not reaped by %s?)",
          leader, strerror(errno), subreaper ? "us" : "init");
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    printf("forkbomb: tree: group gone after %d kill rounds\n", rounds);
    close(note[0]);
}

int main(int argc, char **argv)
{
    t_start("forkbomb");
    int max = argc > 1 ? atoi(argv[1]) : 4096;
    double t0 = now();
    int limit = flat(max > 0 ? max : 4096);
    fork_works_again("after the flat bomb");
    if (limit > 0) {
        tree(limit);
        fork_works_again("after the tree bomb");
    }
    printf("forkbomb: %.1f s\n", now() - t0);
    return t_done();
}
