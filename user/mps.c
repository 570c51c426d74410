/*
 * user/mps.c: `mps`, the cluster's processes (docs/SSI.md): for every numeric directory of /proc,
 * which lists the processes of every up node, one line
 *     PID  HOME  WHERE  STATE  RSS  COMMAND
 * HOME is the node the pid was allocated on, WHERE the node it runs on (/proc/PID/home, where),
 * RSS in kB, COMMAND the command line (or [comm] when it is empty). Exit status 0, 1 if /proc
 * cannot be read.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The file's contents (at most cap-1 bytes, NUL-terminated); its length, or -1. */
static int slurp(int pid, const char *name, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", pid, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = 0;
    return (int)n;
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void show(int pid)
{
    char stat[1024], where[16], home[16], cmd[512];
    if (slurp(pid, "stat", stat, sizeof stat) <= 0)
        return;                         /* gone meanwhile */
    /* "pid (comm) S ppid ..."; comm may hold spaces and parentheses: the last ')' ends it */
    char *open = strchr(stat, '('), *close = strrchr(stat, ')');
    if (!open || !close || close[1] != ' ')
        return;
    *close = 0;
    char state = close[2];
    unsigned long rss = 0;
    const char *field = close + 2;
    for (int i = 3; i < 24 && field; i++) {     /* rss is field 24 */
        field = strchr(field, ' ');
        if (field)
            field++;
    }
    if (field)
        rss = strtoul(field, NULL, 10) * 4;
    if (slurp(pid, "where", where, sizeof where) <= 0)
        strcpy(where, "?");
    if (slurp(pid, "home", home, sizeof home) <= 0)
        strcpy(home, "?");
    where[strcspn(where, "\n")] = 0;
    home[strcspn(home, "\n")] = 0;
    int n = slurp(pid, "cmdline", cmd, sizeof cmd);
    if (n > 0) {
        for (int i = 0; i < n; i++)
            if (cmd[i] == 0)
                cmd[i] = ' ';
        while (n > 0 && cmd[n - 1] == ' ')
            cmd[--n] = 0;
    } else {
        snprintf(cmd, sizeof cmd, "[%s]", open + 1);
    }
    printf("%7d %5s %5s %5c %7lu %s\n", pid, home, where, state, rss, cmd);
}

int main(void)
{
    DIR *d = opendir("/proc");
    if (!d) {
        perror("mps: /proc");
        return 1;
    }
    int *pids = NULL, n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            pids = realloc(pids, sizeof *pids * (size_t)cap);
            if (!pids)
                return 1;
        }
        pids[n++] = atoi(e->d_name);
    }
    closedir(d);
    qsort(pids, (size_t)n, sizeof *pids, cmp_int);
    printf("%7s %5s %5s %5s %7s %s\n", "PID", "HOME", "WHERE", "STATE", "RSS", "COMMAND");
    for (int i = 0; i < n; i++)
        show(pids[i]);
    free(pids);
    return 0;
}
