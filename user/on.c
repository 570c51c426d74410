/*
 * user/on.c: `on NODE CMD [ARG...]` runs CMD on cluster node NODE ("home" for this process's home)
 * as a process whose home is here: the same pid, this terminal for its input and output, its exit
 * status back to the shell. It moves itself there (writing NODE to /proc/self/where; the kernel
 * moves a process on its way back to user mode) and then executes CMD, which starts there from its
 * first instruction. Exit status: CMD's, or 125 (bad usage, cannot move), 126/127 (as a shell).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal.h"

static int usage(void)
{
    fprintf(stderr, "usage: on NODE|home COMMAND [ARG]...\n");
    return 125;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    const char *node = argv[1];
    char *end;
    long want = strtol(node, &end, 10);
    if (strcmp(node, "home") != 0 && (*node == 0 || *end || want < 0))
        return usage();
    int fd = open("/proc/self/where", O_WRONLY);
    if (fd < 0 || write(fd, node, strlen(node)) < 0) {
        fprintf(stderr, "on: cannot move to node %s: %s\n", node, strerror(errno));
        return 125;
    }
    close(fd);
    if (strcmp(node, "home") != 0 && shoal_where() != (int)want) {
        fprintf(stderr, "on: could not move to node %s (`dmesg` says why)\n", node);
        return 125;
    }
    execvp(argv[2], argv + 2);
    int err = errno;
    fprintf(stderr, "on: %s: %s\n", argv[2], strerror(err));
    return err == ENOENT ? 127 : 126;
}
