/* migwork [MIB] [SECONDS]: a process with MIB MiB of touched memory (default 4), an open file, a
 * pipe to its parent, an interval timer with a SIGALRM handler and the FPU in use, working for
 * SECONDS (default 1) while it writes to its memory, a different page each round, and checks that
 * the memory holds exactly what it wrote (a move that lost a page written while the memory was
 * being sent ahead shows here) and that nothing else changes under it. On Shoal it may be moved
 * between nodes meanwhile (`migrate PID NODE`, tests/system/test_migrate.py): it says its pid on
 * stdout first ("worker PID"), then at the end the nodes it ran on ("nodes 0 1 2 0"); everything
 * must have survived every move. On Linux it simply passes. */
#include "t.h"
#include "../shoal.h"
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

static uint64_t fill(uint64_t *mem, size_t words, uint64_t seed)
{
    uint64_t x = seed, sum = 0;
    for (size_t i = 0; i < words; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        mem[i] = x;
        sum += x ^ i;
    }
    return sum;
}

static uint64_t checksum(const uint64_t *mem, size_t words)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < words; i++)
        sum += mem[i] ^ i;
    return sum;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int worker(int out, size_t mib, double seconds)
{
    size_t words = mib * 1024 * 1024 / 8;
    uint64_t *mem = malloc(words * 8);
    CHECK(mem != NULL, "malloc %zu MiB", mib);
    if (!mem)
        return 1;
    uint64_t sum = fill(mem, words, 12345);
    char path[64];
    snprintf(path, sizeof path, "/tmp/migwork.%d", getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    CHECK(write(fd, "first half|", 11) == 11, "write");
    struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { { 0, 20000 }, { 0, 20000 } };
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer");

    int nodes[64], nnodes = 0;
    double start = now(), last = start, fp = 1.0;
    unsigned long rounds = 0;
    while (now() - start < seconds) {
        int w = shoal_where();
        if (nnodes < 64 && (nnodes == 0 || nodes[nnodes - 1] != w))
            nodes[nnodes++] = w;
        fp = sqrt(fp * fp + 1.0);               /* the FPU state must travel too */
        size_t j = (size_t)(rounds * 513) % words;     /* a different page each round */
        uint64_t v = mem[j] * 6364136223846793005ull + rounds;
        sum += (v ^ j) - (mem[j] ^ j);                  /* checksum() of what it holds now */
        mem[j] = v;
        if (now() - last > 0.2) {
            CHECK(checksum(mem, words) == sum, "memory changed after %lu rounds (on node %d)", rounds, w);
            char line[64];
            int n = snprintf(line, sizeof line, "tick %lu on %d\n", rounds, w);
            CHECK(write(out, line, n) == n, "write to the pipe: %s", strerror(errno));
            double t = now();
            CHECK(t >= last, "CLOCK_MONOTONIC went back by %.3f s", last - t);
            last = t;
        }
        rounds++;
    }
    it = (struct itimerval){ { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &it, NULL);
    CHECK(checksum(mem, words) == sum, "memory changed by the end");
    CHECK(alarms > 0, "no SIGALRM in %.1f s", seconds);
    CHECK(fabs(fp - sqrt(1.0 + rounds)) < 1e-6 * fp, "FPU result %f after %lu rounds", fp, rounds);
    CHECK(write(fd, "second half", 11) == 11, "write after the work");
    char back[32] = { 0 };
    CHECK(lseek(fd, 0, SEEK_SET) == 0 && read(fd, back, sizeof back - 1) == 22 &&
              strcmp(back, "first half|second half") == 0, "the file reads back %s", back);
    close(fd);
    unlink(path);
    char line[512];
    int n = snprintf(line, sizeof line, "nodes");
    for (int i = 0; i < nnodes && n < (int)sizeof line - 8; i++)
        n += snprintf(line + n, sizeof line - n, " %d", nodes[i]);
    n += snprintf(line + n, sizeof line - n, "\nalarms %d rounds %lu\n", (int)alarms, rounds);
    CHECK(write(out, line, n) == n, "write the summary");
    return t_failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    t_start("migwork");
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 4;
    double seconds = argc > 2 ? atof(argv[2]) : 1;
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        printf("worker %d\n", getpid());
        _exit(worker(p[1], mib, seconds));
    }
    close(p[1]);
    char buf[4096];
    ssize_t n;
    int ticks = 0;
    while ((n = read(p[0], buf, sizeof buf - 1)) > 0) {
        buf[n] = 0;
        for (char *s = buf; (s = strstr(s, "tick ")) != NULL; s++)
            ticks++;
        char *summary = strstr(buf, "nodes");
        if (summary)
            printf("%s", summary);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the worker failed: status %#x", status);
    CHECK(ticks > 0, "no ticks through the pipe");
    return t_done();
}
