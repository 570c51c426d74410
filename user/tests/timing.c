/* timing: clocks and sleeps.  CLOCK_MONOTONIC never goes back; CLOCK_REALTIME, time() and
 * gettimeofday agree; nanosleep and clock_nanosleep sleep at least as long as asked (and not much
 * longer); a sleep in one process does not stop another; a sleep stopped and continued (no handler)
 * goes on with what was left of it, not the whole time again; a handler ends it with EINTR and the
 * time left. */
#include <sys/time.h>
#include <time.h>
#include "t.h"

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
    t_start("timing");
    double prev = mono(), first = prev;
    int backwards = 0;
    for (int i = 0; i < 100000; i++) {
        double t = mono();
        backwards += t < prev;
        prev = t;
    }
    CHECK(!backwards, "CLOCK_MONOTONIC went back %d times", backwards);
    CHECK(prev > first, "CLOCK_MONOTONIC did not advance over 100000 reads");

    struct timespec rt;
    struct timeval tv;
    CHECK(clock_gettime(CLOCK_REALTIME, &rt) == 0 && gettimeofday(&tv, NULL) == 0, "realtime clocks");
    time_t t = time(NULL);
    CHECK(labs((long)(t - rt.tv_sec)) <= 1 && labs((long)(tv.tv_sec - rt.tv_sec)) <= 1,
          "time() %ld, gettimeofday %ld, CLOCK_REALTIME %ld disagree", (long)t, (long)tv.tv_sec,
          (long)rt.tv_sec);
    double t0 = mono();
    struct timespec req = {0, 200000000};
    CHECK(nanosleep(&req, NULL) == 0, "nanosleep: %s", strerror(errno));
    double took = mono() - t0;
    CHECK(took >= 0.2 && took < 1.0, "nanosleep(200 ms) took %.3f s", took);

    t0 = mono();
    req.tv_nsec = 100000000;
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL) == 0, "clock_nanosleep");
    took = mono() - t0;
    CHECK(took >= 0.1 && took < 1.0, "clock_nanosleep(100 ms) took %.3f s", took);

    /* A spinning child does not keep a sleeper from waking on time. */
    pid_t pid = fork();
    if (pid == 0) {
        double end = mono() + 0.5;
        volatile unsigned long spins = 0;
        while (mono() < end)
            spins++;
        _exit(spins > 0 ? 0 : 1);
    }
    t0 = mono();
    sleep(1);
    took = mono() - t0;
    CHECK(took >= 1.0 && took < 3.0, "sleep(1) beside a spinning child took %.3f s", took);
    int st = -1;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %s",
          t_status(st));

    /* Stopped 0.5 s into a 2 s sleep and continued 0.5 s later: it still wakes at 2 s (the stop
     * does not restart the sleep). Its exit status is the time it slept, in tenths of a second. */
    pid = fork();
    if (pid == 0) {
        double s0 = mono();
        struct timespec two = {2, 0};
        int r = nanosleep(&two, NULL);
        _exit(r == 0 ? (int)((mono() - s0) * 10) : 255);
    }
    req = (struct timespec){0, 500000000};
    nanosleep(&req, NULL);
    kill(pid, SIGSTOP);
    nanosleep(&req, NULL);
    kill(pid, SIGCONT);
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st), "stopped sleeper: %s", t_status(st));
    CHECK(WEXITSTATUS(st) >= 20 && WEXITSTATUS(st) < 26,
          "a 2 s sleep stopped for 0.5 s took %.1f s (255: it failed)", WEXITSTATUS(st) / 10.0);
    return t_done();
}
