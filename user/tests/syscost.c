/* syscost [N]: the cost of system calls that run where the process is (getpid) and of those its
 * home serves (getppid: forwarded to the deputy when the process runs away from home; docs/SSI.md).
 * Prints "syscost local_ns=L home_ns=H" (per call, N calls each, default 2000) for bench/ssibench,
 * after checking that the answers are right. */
#include "t.h"
#include <stdint.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    t_start("syscost");
    long n = argc > 1 ? atol(argv[1]) : 2000;
    pid_t me = getpid(), parent = getppid();
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        CHECK(getpid() == me, "getpid changed");
    uint64_t t1 = now_ns();
    for (long i = 0; i < n; i++)
        CHECK(getppid() == parent, "getppid changed");
    uint64_t t2 = now_ns();
    printf("syscost local_ns=%llu home_ns=%llu\n", (unsigned long long)((t1 - t0) / n),
           (unsigned long long)((t2 - t1) / n));
    return t_done();
}
