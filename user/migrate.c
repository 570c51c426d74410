/*
 * user/migrate.c: moving processes by hand (docs/SSI.md, "Moving processes").
 *     migrate PID NODE|home    ask PID to move to NODE (or back to its home), wait until it did
 *     lock PID                 PID never moves (by hand or by the load balancer)
 *     unlock PID               PID may move again
 * lock and unlock are this program under other names. It writes to /proc/PID/where and
 * /proc/PID/lock, which work on any node for any pid of the cluster. Exit status 0 when done;
 * 1 when the request failed or the process did not move within 30 s (`dmesg` on the node it runs on says why).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shoal.h"

static int usage(const char *name)
{
    if (strcmp(name, "migrate") == 0)
        fprintf(stderr, "usage: migrate PID NODE|home\n");
    else
        fprintf(stderr, "usage: %s PID\n", name);
    return 2;
}

static int lock(const char *name, const char *pid, int on)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/lock", pid);
    int r = shoal_write_file(path, on ? "1" : "0");
    if (r) {
        fprintf(stderr, "%s: %s: %s\n", name, pid, strerror(-r));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (strcmp(name, "lock") == 0 || strcmp(name, "unlock") == 0)
        return argc == 2 ? lock(name, argv[1], name[0] == 'l') : usage(name);
    if (argc != 3)
        return usage("migrate");
    char where[64], home[64];
    snprintf(where, sizeof where, "/proc/%s/where", argv[1]);
    snprintf(home, sizeof home, "/proc/%s/home", argv[1]);
    int target = strcmp(argv[2], "home") == 0 ? shoal_read_int(home) : atoi(argv[2]);
    int r = shoal_write_file(where, argv[2]);
    if (r) {
        fprintf(stderr, "migrate: %s to %s: %s\n", argv[1], argv[2], strerror(-r));
        return 1;
    }
    for (int i = 0; i < 6000; i++) {
        int now = shoal_read_int(where);
        if (now == target)
            return 0;
        if (now < 0) {
            fprintf(stderr, "migrate: %s: gone\n", argv[1]);
            return 1;
        }
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    int now = shoal_read_int(where);
    fprintf(stderr, "migrate: %s stays on node %d (`dmesg` there says why)\n", argv[1], now);
    return 1;
}
