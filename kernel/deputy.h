/*
 * kernel/deputy.h: a process that runs on another node than its home (docs/SSI.md, "The deputy").
 *
 * Its home keeps the *deputy*: the same struct process with its pid, files, working directory,
 * terminal, credentials, parent, children, process group and session, whose task does nothing but
 * serve the process. Where it runs, the *remote part* has the memory, registers, signal handlers,
 * mask and timers. System calls that depend on location are forwarded by the remote part to the
 * deputy, which runs them as the process would at home: its copies to and from user memory travel
 * back (kernel/uaccess.c calls deputy_copy_*), and signals it receives are passed on. The two talk
 * through one RPC service whose messages keep their order (rpc_register_direct).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct process;
struct trap_frame;
struct mm;

#define RPC_SVC_SSI_DEPUTY 18           /* one-way messages between a deputy and its remote part */

void deputy_init(void);                 /* boot: after rpc_init */

/* ---- links ---- */
/* Gives p (not yet started, or the current process about to migrate) a link to its other part. */
int deputy_attach_home(struct process *p, int where);
/* p is the remote part of a process whose home is node home; like (if not NULL) copies the ids
 * its home last told it (ppid, terminal). */
int deputy_attach_remote(struct process *p, int home, struct process *like);
void deputy_link_free(struct process *p);       /* with the process; NULL link is fine */

/* ---- home side ---- */
/* The current task serves p, its deputy, until the process exits (then it does not return) or
 * comes home: then p is LOCAL again and tf holds the registers to return to user mode with. */
void deputy_serve(struct process *p, struct trap_frame *tf);
/* Tells the process of deputy p to move to node (or MIGRATE_LOCK / MIGRATE_UNLOCK). */
int deputy_ask_move(struct process *p, int node);
/* An image of the deputy's process came home from node from (rpc worker): state is handed to
 * migrate_come_home by the deputy's task. 0, or -ESRCH (no such deputy expecting it). */
int deputy_home_arrived(int pid, int from, void *state);
void deputy_child_main(void *unused);           /* task entry of a deputy made by proc_fork_deputy */
/* A signal for a deputy's process: passed on to where it runs (interrupts disabled). */
void deputy_signal(struct process *p, int sig, int code, int from_pid);
/* signal_pending() of a deputy serving a call: a signal its process would take, or an interrupt. */
bool deputy_signal_pending(struct process *p);
/* Copies to and from the memory of the process the current deputy serves. 0 or -EFAULT. */
long deputy_copy_from_user(void *dst, const void *usrc, size_t n);
long deputy_copy_to_user(void *udst, const void *src, size_t n);
/* strncpy_from_user from what came with the call; -EAGAIN if it did not come with it. */
long deputy_prefetched_string(char *dst, const char *usrc, size_t max);
static inline bool deputy_current(void);

/* ---- remote side ---- */
/* The system call of the current REMOTE process: forwarded or run here. */
long deputy_remote_syscall(long nr, struct trap_frame *tf);
/* Would system call nr (mmap: with these flags) be served by the deputy if the caller ran away
 * from home? Counted for processes at home too, so the balancer sees I/O-bound processes before
 * it moves them. */
bool deputy_call_needs_home(long nr, uint64_t mmap_flags);
long deputy_remote_fork(uint64_t flags, uint64_t new_sp, uint64_t parent_tid, uint64_t child_tid, uint64_t tls);
void deputy_remote_exit(struct process *p, int status);
/* Moving on: the deputy is told first and holds signals (0, or the process dies with a home that
 * is gone); then where it runs now (node_self() again if the move failed). */
int deputy_remote_move_begin(struct process *p, int node);
void deputy_remote_move_end(struct process *p, int now_at);
/* Job control of the remote part, reported to its deputy (process context). */
void deputy_remote_stopped(struct process *p, int sig);
void deputy_remote_continued(struct process *p);
/* SIGCHLD's disposition changed: the deputy decides about zombies and SIGCHLD at home. */
void deputy_remote_sigchld_action(struct process *p);
struct deputy_remote_ids {
    int ppid;
    uint32_t tty_nr;
    int tpgid;
};
void deputy_remote_set_ids(struct process *p, const struct deputy_remote_ids *ids);
int deputy_remote_ppid(struct process *p);
uint32_t deputy_remote_tty_nr(struct process *p);
int deputy_remote_tpgid(struct process *p);
/* A new image built by kernel/migrate.c for an execve in progress (worker context). */
int deputy_remote_exec_arrived(int pid, struct mm *mm, uint64_t entry, uint64_t sp, const char *comm,
                               const char *cmdline, uint32_t cmdline_len);

struct deputy_stats {
    uint64_t calls_forwarded, calls_served, mem_reads, mem_writes, signals_forwarded;
    uint64_t bad_messages;              /* malformed, for no such process, or from the wrong node */
    uint64_t mmap_by_ref, mmap_by_value;    /* file mappings away from home: this node's copy of the
                                             * file, or contents read from home */
};
void deputy_get_stats(struct deputy_stats *out);

#include "kernel/sched.h"
#include "kernel/proc.h"
static inline bool deputy_current(void)
{
    struct task *t = current_task();
    return t->proc && t->proc->kind == PROC_DEPUTY && t->proc->link;
}
