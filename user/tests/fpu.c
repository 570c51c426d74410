/* fpu: floating-point state belongs to each process and survives preemption and signal handlers.
 * Four processes compute SSE (double) and x87 (long double) series at the same time while a
 * SIGALRM handler, re-armed every 10 ms, clobbers the FPU registers with its own computation;
 * every result must be bit-identical to the one computed before, alone. */
#include <sys/time.h>
#include "t.h"

#define NPROC 4
#define STEPS 1000000

static double sse_series(int seed)
{
    double a = 1.0 + seed, b = 0.5 / (seed + 1), sum = 0;
    for (int i = 1; i < STEPS; i++) {
        sum += a / (b + i);
        a = a * 0.9999999 + 1e-7;
        b += 1e-9 * sum;
    }
    return sum;
}

static long double x87_series(int seed)
{
    long double x = 0.1L * (seed + 1), sum = 0;
    for (int i = 1; i < STEPS / 4; i++) {
        sum += x / i;
        x = x * 1.0000001L;
    }
    return sum;
}

static volatile double noise;

static void on_alarm(int sig)
{
    double v = sig;                 /* different values in every FP register the handler uses */
    long double w = 3.0L;
    for (int i = 0; i < 200; i++) {
        v = v * 1.5 + 0.25;
        w = w / 1.1L + 7;
    }
    noise = v + (double)w;
    struct itimerval it = {{0, 0}, {0, 10000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

int main(void)
{
    t_start("fpu");
    double want_sse[NPROC];
    long double want_x87[NPROC];
    for (int i = 0; i < NPROC; i++) {
        want_sse[i] = sse_series(i);
        want_x87[i] = x87_series(i);
    }

    signal(SIGALRM, on_alarm);
    pid_t pids[NPROC];
    for (int i = 0; i < NPROC; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            on_alarm(0);
            int bad = 0;
            for (int round = 0; round < 2; round++) {
                bad |= sse_series(i) != want_sse[i];
                bad |= (x87_series(i) != want_x87[i]) << 1;
            }
            _exit(bad);
        }
        CHECK(pids[i] > 0, "fork: %s", strerror(errno));
    }
    for (int i = 0; i < NPROC; i++) {
        int st = -1;
        if (pids[i] > 0)
            waitpid(pids[i], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "process %d: %s%s%s", i, t_status(st),
              WIFEXITED(st) && (WEXITSTATUS(st) & 1) ? ", SSE result differs" : "",
              WIFEXITED(st) && (WEXITSTATUS(st) & 2) ? ", x87 result differs" : "");
    }
    return t_done();
}
