/* cpuwork [CHUNKS] [EVERY_MS]: CPU-bound work of CHUNKS chunks (default 20) of a million steps of a
 * 64-bit LCG, for the balancer's tests (tests/system/test_balance.py). While it works it notes,
 * every EVERY_MS ms (default 100) of its CLOCK_MONOTONIC, the node it runs on when that changed;
 * at the end it prints "cpuwork PID result HEX" (the same wherever it ran) and its timeline
 * "where PID START END T0:NODE T1:NODE ..." (its CLOCK_MONOTONIC in seconds: a process's clock goes
 * on across moves, so processes started on one node share a time base). */
#include "t.h"
#include "../shoal.h"
#include <fcntl.h>
#include <stdint.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    t_start("cpuwork");
    long chunks = argc > 1 ? atol(argv[1]) : 20;
    double every = (argc > 2 ? atol(argv[2]) : 100) / 1000.0;
    static char line[8192];
    double start = now(), next = start;
    int len = 0;
    int last = -2;
    uint64_t x = 1;
    for (long c = 0; c < chunks; c++) {
        for (int i = 0; i < 1000000; i++)
            x = (x * 6364136223846793005ull + 1442695040888963407ull) ^ (x >> 29);
        double t = now();
        if (t >= next) {
            next = t + every;
            int w = shoal_where();
            if (w != last && len < (int)sizeof line - 32) {
                len += snprintf(line + len, sizeof line - len, " %.2f:%d", t, w);
                last = w;
            }
        }
    }
    printf("cpuwork %d result %llx\nwhere %d %.2f %.2f%s\n", getpid(), (unsigned long long)x, getpid(), start, now(),
           line);
    return t_done();
}
