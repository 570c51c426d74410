/*
 * kernel/sched.h: tasks, the preemptive round-robin scheduler, wait queues and timed sleeps.
 * A kernel thread, and later a user process or a process arrived from another node, is a task.
 */
#pragma once
#include "arch/x86/irq.h"
#include "kernel/errno.h"
#include "kernel/list.h"
#include "kernel/signal.h"
#include "kernel/time.h"
#include <stdbool.h>
#include <stdint.h>

struct trap_frame;
struct process;

enum task_state { TASK_RUNNABLE, TASK_BLOCKED, TASK_DEAD };

struct waitqueue {
    struct list_head waiters;
};

struct task {
    int tid;
    char name[16];
    enum task_state state;
    uint64_t saved_rsp;             /* valid while not running */
    void *kstack;                   /* bottom of the kernel stack */
    uint64_t kstack_size;
    struct list_head run_link;      /* on the run queue or a wait queue */
    struct list_head sleep_link;    /* on the timer list while a timeout is armed */
    struct list_head all_link;
    struct waitqueue *waiting_on;
    uint64_t wake_at_ns;
    bool timed_out;
    uint64_t ticks_run;             /* CPU time, in scheduler ticks */
    int slice_left;
    struct process *proc;           /* user process this task runs, NULL for kernel threads */
    struct trap_frame *user_frame;  /* user registers saved on entry from ring 3 */
    long syscall_nr;                /* the call in progress (for restarts) */
    uint64_t fs_base;               /* user TLS base (arch_prctl ARCH_SET_FS) */
    uint8_t fpu_state[512] __attribute__((aligned(16)));   /* fxsave image of the user FPU/SSE state */
};

#define KSTACK_ORDER 2
#define KSTACK_SIZE (4096 << KSTACK_ORDER)

void sched_init(void);              /* the boot flow becomes task 0, the idle task */
__attribute__((noreturn)) void sched_idle_loop(void);   /* what task 0 does once boot has started init */
struct task *kthread_create(const char *name, void (*fn)(void *arg), void *arg);
__attribute__((noreturn)) void kthread_exit(void);
struct task *current_task(void);

void schedule(void);                /* give up the CPU; returns when chosen again */
void yield(void);
void sched_tick(void);              /* from the timer interrupt */
void sched_preempt_point(struct trap_frame *tf);

void wq_init(struct waitqueue *wq);
void wake_up(struct waitqueue *wq);         /* wakes every waiter */
void wake_up_one(struct waitqueue *wq);
/* Blocks on wq (interrupts must be disabled by the caller, who checked the condition with them off).
 * timeout_ns 0 = forever. Returns false if the timeout expired. */
bool wq_sleep(struct waitqueue *wq, uint64_t timeout_ns);

/* Sleep until cond holds; cond is re-evaluated with interrupts off so no wakeup is lost. */
#define wait_event(wq, cond)                                   \
    do {                                                       \
        uint64_t __f = irq_save();                             \
        while (!(cond))                                        \
            wq_sleep(&(wq), 0);                                \
        irq_restore(__f);                                      \
    } while (0)

/* Sleep until cond holds, a signal arrives (-EINTR) or timeout_ns passes (-ETIMEDOUT; 0 = no
 * timeout). Returns 0 when cond holds. Signals wake blocked tasks (sched_wake_task). */
#define wait_event_interruptible_timeout(wq, cond, timeout_ns)                           \
    ({                                                                                  \
        int __r = 0;                                                                    \
        uint64_t __to = (timeout_ns);                                                   \
        uint64_t __deadline = __to ? clock_ns() + __to : 0;                             \
        uint64_t __f = irq_save();                                                      \
        while (!(cond)) {                                                               \
            if (signal_pending()) {                                                     \
                __r = -EINTR;                                                           \
                break;                                                                  \
            }                                                                           \
            uint64_t __now = clock_ns();                                                \
            if (__deadline && __now >= __deadline) {                                    \
                __r = -ETIMEDOUT;                                                       \
                break;                                                                  \
            }                                                                           \
            wq_sleep(&(wq), __deadline ? __deadline - __now : 0);                      \
        }                                                                               \
        irq_restore(__f);                                                               \
        __r;                                                                            \
    })
#define wait_event_interruptible(wq, cond) wait_event_interruptible_timeout(wq, cond, 0)

/* Wakes t if it is blocked (on a wait queue or a timed sleep); it re-checks its condition. */
void sched_wake_task(struct task *t);

/* Returns true if the whole time passed, false if woken early (by a signal). */
bool sleep_ns(uint64_t ns);
static inline void msleep(uint64_t ms) { sleep_ns(ms * 1000000ull); }

struct sched_stats { uint64_t switches, preemptions, tasks; };
void sched_get_stats(struct sched_stats *s);
/* Tasks that are runnable now (the running one included, the idle task not): the load average's input. */
unsigned sched_nr_running(void);
