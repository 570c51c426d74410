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
#define RPC_SVC_SSI_MIGRATE 20          /* {int32 pid, code}: migrate_pid at the pid's home */

void migrate_init(void);                /* boot: after rpc_init */

/* Asks p (here, at home or running here) to move to node on its way back to user mode (a
 * process blocked in a call is woken; the call restarts after the move). MIGRATE_LOCK and
 * MIGRATE_UNLOCK instead set whether it may move at all. 0 (asked), -EINVAL, -EHOSTDOWN, -EPERM
 * (pid 1, locked). Whether it moved shows in /proc/PID/where; why not, in the kernel log. */
#define MIGRATE_LOCK (-2)
#define MIGRATE_UNLOCK (-3)
int migrate_request(struct process *p, int node);
/* The same for any pid of the cluster: asked here if the process (or its deputy) is here, else
 * at its home (RPC). 0 or -errno (-ESRCH: no such process). */
int migrate_pid(int pid, int code);
/* From the system-call exit path when p->migrate_to is set: the process moves and this task
 * becomes its deputy (never returns), or it stays (returns; the reason is logged). */
void migrate_on_return(struct trap_frame *tf);
/* The home side of an execve of a process running elsewhere: ships the image built at home. */
int migrate_send_exec(struct process *p, const struct exec_image *img, const struct exec_args *a);
/* Its deputy's task takes back a process that came home (state: from deputy_home_arrived); tf gets
 * the registers to return to user mode with. */
void migrate_come_home(struct process *p, void *state, struct trap_frame *tf);
void migrate_drop_arrival(void *state);         /* one that nobody took */

struct migrate_stats {
    uint64_t out, in, failed, execs_out, execs_in;
    uint64_t bytes_out, bytes_in, pages_out, pages_in;
    uint64_t last_freeze_us;            /* of the last move out: from freezing to the deputy */
    uint64_t by_value;                  /* images whose files the target lacked: pages sent instead */
    uint64_t precopies;                 /* memory sent ahead while the process ran, then the move */
    uint64_t precopy_pages;             /* pages sent ahead */
    uint64_t precopy_void;              /* pre-copies thrown away (its mappings changed meanwhile,
                                         * it ended, the target failed): the move sent everything */
};
void migrate_get_stats(struct migrate_stats *out);
/* Bytes per second of this node's recent moves (smoothed; a guess before the first large one). */
uint64_t migrate_throughput(void);
