/*
 * kernel/migrate.h: moving a process image between nodes (docs/SSI.md, "Images"). An image is
 * everything of a process that lives where it runs: registers, FPU/SSE state, FS base, the memory
 * map with the contents of every page that is not untouched or zero, brk, signal handlers, mask,
 * pending signals, the interval timer, credentials, limits, times. It travels as one bulk RPC.
 */
#pragma once
#include <stdint.h>

struct process;
struct exec_image;
struct exec_args;
struct trap_frame;

#define RPC_SVC_SSI_IMAGE 19            /* an image: start it here, or the new program of an execve */

void migrate_init(void);                /* boot: after rpc_init */

/* Writing a node to /proc/self/where: moves the current process there on its way back to user
 * mode. 0 (requested), -EINVAL, -EHOSTDOWN, -EPERM (pid 1), -EOPNOTSUPP (see docs/SSI.md). */
int migrate_request(struct process *p, int node);
/* From the system-call exit path when p->migrate_to is set: the process moves and this task
 * becomes its deputy (never returns), or it stays (returns; the reason is logged). */
void migrate_on_return(struct trap_frame *tf);
/* The home side of an execve of a process running elsewhere: ships the image built at home. */
int migrate_send_exec(struct process *p, const struct exec_image *img, const struct exec_args *a);

struct migrate_stats {
    uint64_t out, in, failed, execs_out, execs_in;
    uint64_t bytes_out, bytes_in, pages_out, pages_in;
    uint64_t last_freeze_us;            /* of the last move out: from freezing to the deputy */
};
void migrate_get_stats(struct migrate_stats *out);
