/* forkcpu: 8 forked CPU-bound children, each counting the primes in its eighth of [0, 2000000) by
 * trial division; the parent checks every result twice: through a shared pipe and through the
 * child's exit status.  Exercises fork, preemptive scheduling between CPU-bound processes, pipes,
 * wait4 and exit statuses. */
#include "t.h"

#define NCHILD 8
#define RANGE 250000

/* pi(2000000) = 148933, split into eighths (computed independently with a sieve). */
static const int expected[NCHILD] = {22044, 19494, 18700, 18260, 17971, 17686, 17453, 17325};

struct result {
    int index;
    int count;
};

static int is_prime(int n)
{
    if (n < 2)
        return 0;
    if (n % 2 == 0)
        return n == 2;
    for (int d = 3; d * d <= n; d += 2)
        if (n % d == 0)
            return 0;
    return 1;
}

static int count_primes(int lo, int hi)
{
    int count = 0;
    for (int n = lo; n < hi; n++)
        count += is_prime(n);
    return count;
}

int main(void)
{
    t_start("forkcpu");
    int fds[2];
    if (!CHECK(pipe(fds) == 0, "pipe: %s", strerror(errno)))
        return t_done();

    pid_t pids[NCHILD];
    for (int i = 0; i < NCHILD; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            close(fds[0]);
            struct result r = {i, count_primes(i * RANGE, (i + 1) * RANGE)};
            if (write(fds[1], &r, sizeof r) != sizeof r)
                _exit(255);
            _exit(r.count & 0xff);
        }
        CHECK(pids[i] > 0, "fork %d: %s", i, strerror(errno));
    }
    close(fds[1]);

    int seen[NCHILD] = {0}, total = 0;
    struct result r;
    ssize_t n;
    while ((n = read(fds[0], &r, sizeof r)) == sizeof r) {
        if (!CHECK(r.index >= 0 && r.index < NCHILD, "bad index %d from the pipe", r.index))
            continue;
        CHECK(!seen[r.index]++, "child %d reported twice", r.index);
        CHECK(r.count == expected[r.index], "child %d counted %d primes, expected %d", r.index,
              r.count, expected[r.index]);
        total += r.count;
    }
    CHECK(n == 0, "pipe read ended with %zd (%s), expected EOF", n, strerror(errno));
    for (int i = 0; i < NCHILD; i++)
        CHECK(seen[i], "no result from child %d", i);
    CHECK(total == 148933, "total %d primes below 2000000, expected 148933", total);

    for (int i = 0; i < NCHILD; i++) {
        if (pids[i] <= 0)
            continue;
        int st;
        pid_t w = waitpid(pids[i], &st, 0);
        CHECK(w == pids[i], "waitpid(%d) returned %d: %s", pids[i], w, strerror(errno));
        CHECK(w == pids[i] && WIFEXITED(st) && WEXITSTATUS(st) == (expected[i] & 0xff),
              "child %d: %s, expected exit %d", i, t_status(st), expected[i] & 0xff);
    }
    CHECK(wait(NULL) == -1 && errno == ECHILD, "wait after reaping all: expected ECHILD");
    return t_done();
}
