/*
 * kernel/proc.h: processes. A process is a task (kernel/sched.h) plus everything user space sees:
 * address space, open files, file-system context, credentials, signals, its place in the process
 * tree, process group and session. Threads are refused for now (clone with CLONE_VM and no
 * CLONE_VFORK), so one task per process.
 */
#pragma once
#include "kernel/list.h"
#include "kernel/sched.h"
#include "kernel/signal.h"
#include <stdbool.h>
#include <stdint.h>

struct mm;
struct fdtable;
struct fs_context;
struct tty;

#define CLONE_VM 0x100
#define CLONE_FS 0x200
#define CLONE_FILES 0x400
#define CLONE_SIGHAND 0x800
#define CLONE_VFORK 0x4000
#define CLONE_PARENT 0x8000
#define CLONE_THREAD 0x10000
#define CLONE_SETTLS 0x80000
#define CLONE_PARENT_SETTID 0x100000
#define CLONE_CHILD_CLEARTID 0x200000
#define CLONE_CHILD_SETTID 0x1000000

enum proc_state { PROC_RUNNING, PROC_STOPPED, PROC_ZOMBIE };

/* Where a process's parts are (kernel/deputy.h, docs/SSI.md): LOCAL runs at home; a process that
 * runs on another node is a DEPUTY at home (files, tty, parent and children, wait, signals) and
 * REMOTE where it runs (memory, registers, signal handlers, timers). */
enum proc_kind { PROC_LOCAL, PROC_DEPUTY, PROC_REMOTE };
struct deputy_link;

struct k_sigaction {
    uint64_t handler;               /* SIG_DFL 0, SIG_IGN 1, or a user address */
    uint64_t flags;
    uint64_t restorer;
    uint64_t mask;
};

#define RLIMIT_NPROC 6
#define RLIMIT_NOFILE 7
#define RLIMIT_STACK 3
#define RLIM_NLIMITS 16
struct rlimit64 {
    uint64_t cur, max;
};

struct process {
    int pid, pgid, sid;
    struct process *parent;
    struct list_head children;      /* of struct process, via sibling */
    struct list_head sibling;
    struct list_head all_link;      /* the process table */
    struct task *task;
    enum proc_state state;
    char comm[16];                  /* basename of the executable, as Linux's comm */
    char *cmdline;                  /* argv strings, each NUL-terminated, kmalloc'ed */
    uint32_t cmdline_len;
    char exe_path[256];             /* the executable, for /proc/PID/exe */

    struct mm *mm;
    struct fdtable *files;
    struct fs_context *fs;
    struct tty *tty;                /* controlling terminal or NULL */
    uint32_t uid, gid, euid, egid;

    struct k_sigaction sigactions[64];
    uint64_t sig_blocked, sig_pending;
    uint64_t saved_sigmask;         /* rt_sigsuspend/ppoll: the mask to restore after the handler */
    bool restore_sigmask;
    uint64_t fault_addr;            /* si_addr of the last fault signal */
    int sig_code[64];               /* si_code and sender of each pending signal */
    int sig_from[64];
    bool mm_borrowed;               /* vfork child running in its parent's memory */
    uint64_t altstack_sp, altstack_size;
    uint32_t altstack_flags;

    int exit_status;                /* wait status (Linux encoding) once a zombie */
    bool stop_reported, continued_reported;
    int stop_signal;
    struct waitqueue child_wait;    /* parent sleeps here in wait4 */
    struct rlimit64 rlimits[RLIM_NLIMITS];
    uint64_t clear_child_tid;       /* set_tid_address */
    uint64_t start_ns;              /* since boot */
    uint64_t utime_ticks, stime_ticks, cutime_ticks, cstime_ticks;
    uint64_t min_flt, maj_flt;
    int nice;
    struct process *vfork_parent;   /* blocked in vfork until we exec or exit */
    bool vfork_done;
    uint64_t alarm_at_ns, alarm_interval_ns;   /* ITIMER_REAL */
    struct list_head alarm_link;

    enum proc_kind kind;
    int where;                      /* DEPUTY: the node its user part runs on */
    int home;                       /* REMOTE: the node of its deputy */
    struct deputy_link *link;       /* DEPUTY or REMOTE (or migrating): kernel/deputy.c's state */
    int migrate_to;                 /* -1, or the node to move to on the way back to user mode */
    bool locked;                    /* never moves (lock PID) */
    int64_t mono_offset_ns;         /* its CLOCK_MONOTONIC minus this node's: continuous across moves */
    bool migrate_auto;              /* migrate_to was set by the balancer (the target may refuse) */
    int migrate_reason;             /* its enum bal_reason */
    uint32_t migrate_load;          /* this node's load as the balancer's decision saw it */
    uint64_t moved_ns;              /* when it arrived here (0: born here, never moved) */
    uint64_t calls_home;            /* system calls that depend on home: sent there when it runs
                                     * away, counted at home too (the balancer's I/O measure) */
    uint64_t bal_prev_ticks, bal_prev_calls;    /* the balancer's last sample */
    /* restart_syscall after an interrupted sleep that no handler saw (a stop, or a move): the end
     * of the sleep on its own CLOCK_MONOTONIC (0: nothing to restart), and where the time left is
     * written if it is interrupted again. Carried across moves. */
    uint64_t restart_deadline_ns;
    uint64_t restart_rem;
    /* A pre-copy of its memory to the node it is moving to, while it runs (kernel/migrate.c). */
    enum { PRECOPY_NONE, PRECOPY_RUNNING, PRECOPY_DONE, PRECOPY_VOID } precopy;
    int precopy_node;               /* where the pre-copy went */
    int precopy_want;               /* where it was last asked to go (a move asked meanwhile) */
    uint64_t precopy_gen;           /* its mm->gen when the pre-copy started */
};

/* CLOCK_MONOTONIC as p sees it (this node's clock if p is NULL). */
uint64_t proc_monotonic_ns(struct process *p);

/* A deputy whose process is running (not yet a zombie): its live state is on p->where. */
static inline bool proc_away(const struct process *p) { return p->kind == PROC_DEPUTY && p->state != PROC_ZOMBIE; }

struct process *current_proc(void);     /* NULL in kernel threads */
struct process *proc_find(int pid);     /* NULL if none; valid while interrupts are off or the table lock is held */
/* Calls fn for every process in pid order with the table locked; stop when fn returns false. */
void proc_for_each(bool (*fn)(struct process *p, void *ctx), void *ctx);
int proc_count(void);
/* Virtual size and resident pages of p's address space. */
uint64_t proc_vsize(struct process *p);
uint64_t proc_rss_pages(struct process *p);
/* Linux state letter for /proc: R S D T Z. */
char proc_state_char(struct process *p);

void proc_init(void);
/* Called by the timer every tick: CPU time accounting and interval timers. */
void proc_tick(bool user_mode);
/* Processes that block in the kernel for their parent (vfork) are released by exec/exit. */
void proc_vfork_release(struct process *p);
/* Terminates the current process with a wait status (Linux encoding). */
__attribute__((noreturn)) void proc_exit(int status);
/* Parent's pid as getppid would answer (a REMOTE part asks nothing: the last value its home sent). */
int proc_ppid(struct process *p);
/* Cross-node parts (kernel/deputy.c, kernel/migrate.c). A blank process: no pid, task or table
 * entry yet; proc_discard frees one that never started. */
struct process *proc_new_blank(void);
void proc_discard(struct process *p);
/* Enters p (pid set, not in the table) into the table and starts it in user mode at tf with
 * p->mm. 0 or -errno (then p is still the caller's). */
int proc_start_user(struct process *p, const struct trap_frame *tf, uint64_t fs_base, const uint8_t *fpu);
/* The deputy of a child forked by p's remote part: a new pid here, a copy of p's files and
 * identity, and a task that serves it. Returns the pid or -errno. */
int proc_fork_deputy(struct process *p, uint64_t flags);
/* The current process goes on on another node: it leaves this one without a trace or a status. */
__attribute__((noreturn)) void proc_vanish(void);
/* The remote part of a fork of the current (REMOTE) process, with the pid its home chose. */
long proc_fork_remote(int pid, uint64_t flags, uint64_t new_sp, uint64_t child_tid, uint64_t tls);
/* Starts the first user process (pid 1) running path with argv; returns its pid or -errno. */
int proc_spawn_init(const char *path, char *const argv[], char *const envp[]);
