/*
 * kernel/sched.h: tasks, the preemptive round-robin scheduler, wait queues and timed sleeps.
 * A kernel thread, and later a user process or a process arrived from another node, is a task.
 */
#pragma once
#include "arch/x86/irq.h"
#include "kernel/list.h"
#include <stdbool.h>
#include <stdint.h>

struct trap_frame;

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
};

#define KSTACK_SIZE 16384

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

void sleep_ns(uint64_t ns);
static inline void msleep(uint64_t ms) { sleep_ns(ms * 1000000ull); }

struct sched_stats { uint64_t switches, preemptions, tasks; };
void sched_get_stats(struct sched_stats *s);
