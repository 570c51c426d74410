/* memhog [MIB] [STEP_MS] [HOLD_S]: takes MIB MiB (default 8) of memory 4 MiB at a time, touching
 * every page, STEP_MS milliseconds apart (default 0), then checks all of it, prints "memhog MIB MiB
 * ok on node N" and keeps it HOLD_S seconds more (default 0). On Shoal a node short of memory moves such a process to a node with room
 * (tests/system/test_balance.py); it must finish all the same. */
#include "t.h"
#include "../shoal.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

int main(int argc, char **argv)
{
    t_start("memhog");
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 8;
    long step_ms = argc > 2 ? atol(argv[2]) : 0;
    size_t chunks = (mib + 3) / 4;
    uint64_t **chunk = calloc(chunks, sizeof *chunk);
    CHECK(chunk != NULL, "calloc");
    const size_t words = (4u << 20) / 8;
    for (size_t c = 0; chunk && c < chunks; c++) {
        chunk[c] = mmap(NULL, 4u << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (!CHECK(chunk[c] != MAP_FAILED, "mmap of chunk %zu: %s", c, strerror(errno)))
            return t_done();
        for (size_t i = 0; i < words; i++)
            chunk[c][i] = c * words + i + 1;
        if (step_ms) {
            struct timespec ts = { step_ms / 1000, step_ms % 1000 * 1000000 };
            nanosleep(&ts, NULL);
        }
    }
    size_t bad = 0;
    for (size_t c = 0; chunk && c < chunks; c++)
        for (size_t i = 0; i < words; i++)
            bad += chunk[c][i] != c * words + i + 1;
    CHECK(bad == 0, "%zu words changed", bad);
    printf("memhog %zu MiB ok on node %d\n", mib, shoal_where());
    if (argc > 3)
        sleep((unsigned)atoi(argv[3]));
    return t_done();
}
