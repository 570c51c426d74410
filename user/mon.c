/*
 * user/mon.c: `mon [-n COUNT] [-i SECONDS]`, the cluster at a glance, as MOSIX's mon: every node's
 * load (runnable processes) and free memory as bars, redrawn every second (-i) until interrupted, or
 * COUNT times (-n; `mon -n 1` prints one frame without clearing the screen). Reads
 * /proc/cluster/nodes (docs/PROC-CLUSTER.md): id MAC up|down load free_kB procs incarnation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_NODES 64
#define BAR 30

struct node {
    int id, up;
    unsigned load, procs;
    unsigned long free_kb;
};

static int read_nodes(struct node *n)
{
    FILE *f = fopen("/proc/cluster/nodes", "r");
    if (!f)
        return -1;
    char line[256], mac[32], state[16];
    int count = 0;
    while (count < MAX_NODES && fgets(line, sizeof line, f)) {
        struct node *p = &n[count];
        if (sscanf(line, "%d %31s %15s %u %lu %u", &p->id, mac, state, &p->load, &p->free_kb, &p->procs) == 6) {
            p->up = strcmp(state, "up") == 0;
            count++;
        }
    }
    fclose(f);
    return count;
}

static void bar(char *out, unsigned long value, unsigned long full)
{
    int k = full ? (int)(value * BAR / full) : 0;
    if (k > BAR)
        k = BAR;
    memset(out, '#', (size_t)k);
    memset(out + k, '.', (size_t)(BAR - k));
    out[BAR] = 0;
}

static void frame(const struct node *n, int count, int clear)
{
    unsigned max_load = 4;
    unsigned long max_free = 1;
    int up = 0;
    for (int i = 0; i < count; i++) {
        if (n[i].load > max_load)
            max_load = n[i].load;
        if (n[i].free_kb > max_free)
            max_free = n[i].free_kb;
        up += n[i].up;
    }
    if (clear)
        printf("\033[H\033[2J");
    printf("Shoal cluster: %d of %d nodes up\n", up, count);
    printf("node  %-*s load  procs  %-*s free\n", BAR, "load", BAR, "free memory");
    for (int i = 0; i < count; i++) {
        char lb[BAR + 1], mb[BAR + 1];
        if (!n[i].up) {
            printf("%4d  (down)\n", n[i].id);
            continue;
        }
        bar(lb, n[i].load, max_load);
        bar(mb, n[i].free_kb, max_free);
        printf("%4d  %s %4u  %5u  %s %lu.%luM\n", n[i].id, lb, n[i].load, n[i].procs, mb, n[i].free_kb / 1024,
               n[i].free_kb % 1024 * 10 / 1024);
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    long count = -1;
    double interval = 1;
    int opt;
    while ((opt = getopt(argc, argv, "n:i:")) != -1) {
        if (opt == 'n')
            count = atol(optarg);
        else if (opt == 'i')
            interval = atof(optarg);
        else {
            fprintf(stderr, "usage: mon [-n COUNT] [-i SECONDS]\n");
            return 2;
        }
    }
    struct node nodes[MAX_NODES];
    for (long i = 0; count < 0 || i < count; i++) {
        int n = read_nodes(nodes);
        if (n < 0) {
            perror("mon: /proc/cluster/nodes");
            return 1;
        }
        frame(nodes, n, count != 1);
        if (count >= 0 && i + 1 >= count)
            break;
        struct timespec ts = { (time_t)interval, (long)((interval - (time_t)interval) * 1e9) };
        nanosleep(&ts, NULL);
    }
    return 0;
}
