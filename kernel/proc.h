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

enum proc_state { PROC_RUNNING, PROC_STOPPED, PROC_ZOMBIE };

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
};

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
/* Starts the first user process (pid 1) running path with argv; returns its pid or -errno. */
int proc_spawn_init(const char *path, char *const argv[], char *const envp[]);
