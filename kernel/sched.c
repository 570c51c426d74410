/*
 * kernel/sched.c: the scheduler. One run queue, round robin with a time slice of SLICE_TICKS timer
 * ticks, preemption on return from any interrupt that arrived with interrupts enabled. Blocking is
 * a wait queue plus an optional deadline on a sorted timer list checked every tick.
 */
#include "kernel/sched.h"
#include "arch/x86/cpu.h"
#include "arch/x86/gdt.h"
#include "arch/x86/percpu.h"
#include "kernel/fpu.h"
#include "kernel/proc.h"
#include "kernel/uvm.h"
#include "arch/x86/irq.h"
#include "arch/x86/trap.h"
#include "kernel/kmalloc.h"
#include "kernel/mm.h"
#include "kernel/pmm.h"
#include "kernel/panic.h"
#include "kernel/string.h"
#include "kernel/time.h"

#define SLICE_TICKS 2

static struct list_head run_queue = LIST_HEAD_INIT(run_queue);
static struct list_head sleepers = LIST_HEAD_INIT(sleepers);     /* sorted by wake_at_ns */
static struct list_head all_tasks = LIST_HEAD_INIT(all_tasks);
static struct list_head dead_tasks = LIST_HEAD_INIT(dead_tasks);
static struct task boot_task;
static struct task *current;
static struct task *idle_task;
static bool need_resched;
static int next_tid;
static struct sched_stats stats;

void context_switch(uint64_t *save_rsp, uint64_t next_rsp);
void kthread_start(void);

struct task *current_task(void) { return current; }

static void task_init_common(struct task *t, const char *name)
{
    t->tid = next_tid++;
    strlcpy(t->name, name, sizeof t->name);
    t->state = TASK_RUNNABLE;
    list_init(&t->run_link);
    list_init(&t->sleep_link);
    list_add_tail(&t->all_link, &all_tasks);
    t->slice_left = SLICE_TICKS;
    stats.tasks++;
}

static void reap_dead_tasks(void)
{
    uint64_t f = irq_save();
    while (!list_empty(&dead_tasks)) {
        struct task *t = list_first_entry(&dead_tasks, struct task, run_link);
        list_del(&t->run_link);
        list_del(&t->all_link);
        stats.tasks--;
        pmm_free_pages(V2P(t->kstack), KSTACK_ORDER);
        kfree(t);
    }
    irq_restore(f);
}

void sched_idle_loop(void)
{
    for (;;) {
        reap_dead_tasks();
        irq_disable();
        if (!list_empty(&run_queue)) {
            irq_enable();
            schedule();
            continue;
        }
        /* sti takes effect after the next instruction: no wakeup can slip in before hlt. */
        __asm__ volatile("sti; hlt" ::: "memory");
    }
}

void sched_init(void)
{
    extern char boot_stack_bottom[];
    boot_task.kstack = boot_stack_bottom;
    boot_task.kstack_size = 16384;
    task_init_common(&boot_task, "idle");
    current = &boot_task;
    idle_task = &boot_task;
}

struct task *kthread_create(const char *name, void (*fn)(void *arg), void *arg)
{
    struct task *t = kzalloc(sizeof *t);
    uint64_t stack_pa = t ? pmm_alloc_pages(KSTACK_ORDER) : 0;
    if (!stack_pa) {
        kfree(t);
        return NULL;
    }
    void *stack = P2V(stack_pa);
    t->kstack = stack;
    t->kstack_size = KSTACK_SIZE;
    /* What context_switch pops: r15 r14 r13 r12 rbx rbp, then "returns" to kthread_start. */
    uint64_t *sp = (uint64_t *)((char *)stack + KSTACK_SIZE);
    *--sp = (uint64_t)kthread_start;
    *--sp = 0;                          /* rbp */
    *--sp = 0;                          /* rbx */
    *--sp = (uint64_t)fn;               /* r12 */
    *--sp = (uint64_t)arg;              /* r13 */
    *--sp = 0;                          /* r14 */
    *--sp = 0;                          /* r15 */
    t->saved_rsp = (uint64_t)sp;

    uint64_t f = irq_save();
    task_init_common(t, name);
    list_add_tail(&t->run_link, &run_queue);
    irq_restore(f);
    return t;
}

void kthread_entry(void *arg, void (*fn)(void *))
{
    irq_enable();
    fn(arg);
    kthread_exit();
}

void kthread_exit(void)
{
    irq_disable();
    current->state = TASK_DEAD;
    list_add_tail(&current->run_link, &dead_tasks);
    schedule();
    panic("dead task %d was scheduled again", current->tid);
}

static struct task *pick_next(void)
{
    if (list_empty(&run_queue))
        return idle_task;
    struct task *t = list_first_entry(&run_queue, struct task, run_link);
    list_del(&t->run_link);
    return t;
}

void schedule(void)
{
    uint64_t f = irq_save();
    struct task *prev = current;
    if (prev->state == TASK_RUNNABLE && prev != idle_task)
        list_add_tail(&prev->run_link, &run_queue);
    struct task *next = pick_next();
    need_resched = false;
    next->slice_left = SLICE_TICKS;
    if (next != prev) {
        stats.switches++;
        if (prev->proc)
            fpu_save(prev);
        if (next->proc) {
            fpu_restore(next);
            wrmsr(MSR_FS_BASE, next->fs_base);
            if (next->proc->mm)
                mm_activate(next->proc->mm);
        }
        current = next;
        percpu_set_kernel_stack((uint64_t)next->kstack + next->kstack_size);
        context_switch(&prev->saved_rsp, next->saved_rsp);
    }
    irq_restore(f);
}

void yield(void) { schedule(); }

static void task_wake(struct task *t, bool timed_out)
{
    if (t->state != TASK_BLOCKED)
        return;
    list_del(&t->run_link);             /* off its wait queue */
    list_del(&t->sleep_link);
    t->waiting_on = NULL;
    t->timed_out = timed_out;
    t->state = TASK_RUNNABLE;
    /* Kernel threads woken by an event (the network's receive path, RPC workers) run next and
     * preempt user code: their work is short, and latency across the cluster depends on it. So do
     * deputies, the servers of processes running elsewhere (their wait is that process's wait). */
    if (!t->proc || t->proc->kind == PROC_DEPUTY) {
        list_add(&t->run_link, &run_queue);
        if (current->proc)
            need_resched = true;
    } else {
        list_add_tail(&t->run_link, &run_queue);
    }
    if (current == idle_task)
        need_resched = true;
}

void sched_tick(void)
{
    current->ticks_run++;
    uint64_t now = clock_ns();
    while (!list_empty(&sleepers)) {
        struct task *t = list_first_entry(&sleepers, struct task, sleep_link);
        if (t->wake_at_ns > now)
            break;
        task_wake(t, true);
    }
    if (current != idle_task && --current->slice_left <= 0 && !list_empty(&run_queue))
        need_resched = true;
}

void sched_preempt_point(struct trap_frame *tf)
{
    /* Only where the interrupted code could have taken an interrupt anyway: IF was set. */
    if (need_resched && (tf->rflags & (1u << 9))) {
        stats.preemptions++;
        schedule();
    }
}

void wq_init(struct waitqueue *wq) { list_init(&wq->waiters); }

static void arm_timeout(struct task *t, uint64_t timeout_ns)
{
    t->wake_at_ns = clock_ns() + timeout_ns;
    struct list_head *pos;
    list_for_each(pos, &sleepers) {
        if (list_entry(pos, struct task, sleep_link)->wake_at_ns > t->wake_at_ns)
            break;
    }
    list_add_tail(&t->sleep_link, pos);     /* before the first later deadline */
}

bool wq_sleep(struct waitqueue *wq, uint64_t timeout_ns)
{
    uint64_t f = irq_save();
    struct task *t = current;
    t->state = TASK_BLOCKED;
    t->timed_out = false;
    t->waiting_on = wq;
    if (wq)
        list_add_tail(&t->run_link, &wq->waiters);
    if (timeout_ns)
        arm_timeout(t, timeout_ns);
    schedule();
    irq_restore(f);
    return !t->timed_out;
}

static void wake_some(struct waitqueue *wq, bool all)
{
    uint64_t f = irq_save();
    struct list_head *pos, *n;
    list_for_each_safe(pos, n, &wq->waiters) {
        task_wake(list_entry(pos, struct task, run_link), false);
        if (!all)
            break;
    }
    irq_restore(f);
}

void wake_up(struct waitqueue *wq) { wake_some(wq, true); }
void wake_up_one(struct waitqueue *wq) { wake_some(wq, false); }

bool sleep_ns(uint64_t ns)
{
    if (ns == 0) {
        yield();
        return true;
    }
    uint64_t deadline = clock_ns() + ns;
    wq_sleep(NULL, ns);
    return clock_ns() >= deadline;
}

void sched_wake_task(struct task *t)
{
    uint64_t f = irq_save();
    task_wake(t, false);
    irq_restore(f);
}

void sched_get_stats(struct sched_stats *s)
{
    uint64_t f = irq_save();
    *s = stats;
    irq_restore(f);
}

unsigned sched_nr_running(void)
{
    uint64_t f = irq_save();
    unsigned n = current != idle_task && current->state == TASK_RUNNABLE;
    struct list_head *pos;
    list_for_each(pos, &run_queue)
        n++;
    irq_restore(f);
    return n;
}
