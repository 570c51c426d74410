/* stack: the user stack grows on demand (page faults below the initial stack), deep recursion
 * and a large local array work, and the grown stack is copied correctly by fork. */
#include <stdint.h>
#include "t.h"

static volatile int depth_limit = 4000;

static uint64_t recurse(int n)
{
    volatile unsigned char frame[1000];         /* ~1 KiB a frame: ~4 MiB in all */
    for (size_t i = 0; i < sizeof frame; i += 64)
        frame[i] = (unsigned char)(n + i);
    uint64_t below = n < depth_limit ? recurse(n + 1) : 0;
    uint64_t sum = below;
    for (size_t i = 0; i < sizeof frame; i += 64)
        sum += frame[i];
    return sum;
}

static uint64_t expected(void)
{
    uint64_t sum = 0;
    for (int n = 0; n <= depth_limit; n++)
        for (size_t i = 0; i < 1000; i += 64)
            sum += (unsigned char)(n + i);
    return sum;
}

static uint64_t big_local(void)
{
    volatile unsigned char big[2 << 20];        /* 2 MiB in one frame: skips many pages at once */
    for (size_t i = 0; i < sizeof big; i += 4096)
        big[i] = (unsigned char)(i >> 12);
    uint64_t sum = 0;
    for (size_t i = 0; i < sizeof big; i += 4096)
        sum += big[i];
    return sum;
}

int main(void)
{
    t_start("stack");
    uint64_t want = expected();
    CHECK(recurse(0) == want, "deep recursion gave a wrong sum");
    uint64_t big_want = 0;
    for (size_t i = 0; i < (2 << 20); i += 4096)
        big_want += (unsigned char)(i >> 12);
    CHECK(big_local() == big_want, "a 2 MiB local array gave a wrong sum");

    pid_t pid = fork();
    if (pid == 0)
        _exit(recurse(0) == want && big_local() == big_want ? 0 : 1);
    int st = -1;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid, "fork/waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the same in a child: %s", t_status(st));
    return t_done();
}
