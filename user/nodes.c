/*
 * user/nodes.c: `nodes`, the cluster's membership as a table: reads /proc/cluster/nodes (one line
 * per known node: id MAC up|down load free_kB procs incarnation; docs/PROC-CLUSTER.md) and prints
 *     ID  MAC                STATE  LOAD     FREE  PROCS
 * Exit status 0, or 1 if the file cannot be read (not a Shoal kernel, or no network).
 */
#include <stdio.h>
#include <string.h>

#define NODES_FILE "/proc/cluster/nodes"

/* Free memory in the unit that keeps it short: "812K", "96.4M", "3.2G". */
static void human(unsigned long kb, char *out, size_t cap)
{
    if (kb < 1024)
        snprintf(out, cap, "%luK", kb);
    else if (kb < 1024ul * 1024)
        snprintf(out, cap, "%lu.%luM", kb / 1024, kb % 1024 * 10 / 1024);
    else
        snprintf(out, cap, "%lu.%luG", kb >> 20, (kb & 0xfffff) * 10 >> 20);
}

int main(int argc, char **argv)
{
    FILE *f = fopen(NODES_FILE, "r");
    if (!f) {
        perror("nodes: " NODES_FILE);
        return 1;
    }
    char line[256];
    int up = 0, total = 0;
    printf("%-3s %-17s  %-5s %5s %8s %6s\n", "ID", "MAC", "STATE", "LOAD", "FREE", "PROCS");
    while (fgets(line, sizeof line, f)) {
        int id;
        char mac[32], state[16];
        unsigned load, procs;
        unsigned long free_kb;
        if (sscanf(line, "%d %31s %15s %u %lu %u", &id, mac, state, &load, &free_kb, &procs) != 6)
            continue;
        char free_s[32];
        human(free_kb, free_s, sizeof free_s);
        printf("%-3d %-17s  %-5s %5u %8s %6u\n", id, mac, state, load, free_s, procs);
        total++;
        up += strcmp(state, "up") == 0;
    }
    fclose(f);
    printf("%d of %d nodes up\n", up, total);
    return 0;
}
