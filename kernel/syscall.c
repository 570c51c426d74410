/*
 * kernel/syscall.c: system-call dispatch. The table is built at boot from every SYSCALL()
 * definition in the kernel (a linker section), indexed by Linux x86-64 number. An unknown number
 * gives -ENOSYS and one log line per number, so missing calls show up without flooding the console.
 */
#include "kernel/syscall.h"
#include "arch/x86/irq.h"
#include "arch/x86/percpu.h"
#include "arch/x86/trap.h"
#include "kernel/deputy.h"
#include "kernel/migrate.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/proc.h"
#include "kernel/sched.h"

#define NR_SYSCALLS 512

extern const struct syscall_desc __syscalls_start[], __syscalls_end[];
static syscall_fn table[NR_SYSCALLS];
static const char *names[NR_SYSCALLS];
static uint64_t reported[NR_SYSCALLS / 64];

void signal_return_to_user(struct trap_frame *tf, long ret);

void syscall_init(void)
{
    for (const struct syscall_desc *d = __syscalls_start; d < __syscalls_end; d++) {
        if (d->nr < 0 || d->nr >= NR_SYSCALLS || table[d->nr])
            panic("syscall: %s: number %d out of range or defined twice", d->name, d->nr);
        table[d->nr] = d->fn;
        names[d->nr] = d->name;
    }
    syscall_arch_init();
}

struct trap_frame *syscall_frame(void) { return current_task()->user_frame; }

const char *syscall_name(long nr) { return nr >= 0 && nr < NR_SYSCALLS ? names[nr] : NULL; }

static long unknown_syscall(long nr)
{
    if (nr >= 0 && nr < NR_SYSCALLS) {
        if (reported[nr / 64] & (1ull << (nr % 64)))
            return -ENOSYS;
        reported[nr / 64] |= 1ull << (nr % 64);
    }
    struct process *p = current_proc();
    printk(LOG_DEBUG, "syscall: %ld not implemented (first caller: pid %d %s)\n", nr, p ? p->pid : 0,
           p ? p->comm : "?");
    return -ENOSYS;
}

long syscall_invoke(long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
    if (nr >= 0 && nr < NR_SYSCALLS && table[nr])
        return table[nr]((long)a0, (long)a1, (long)a2, (long)a3, (long)a4, (long)a5);
    return unknown_syscall(nr);
}

void syscall_dispatch(struct trap_frame *tf)
{
    struct task *t = current_task();
    t->user_frame = tf;
    t->syscall_nr = (long)tf->rax;
    irq_enable();
    long nr = (long)tf->rax, ret;
    struct process *p = t->proc;
    if (p && p->kind == PROC_REMOTE) {      /* runs away from home: its deputy may have to do it */
        ret = deputy_remote_syscall(nr, tf);
    } else {
        if (p && deputy_call_needs_home(nr, tf->r10))
            p->calls_home++;
        ret = syscall_invoke(nr, tf->rdi, tf->rsi, tf->rdx, tf->r10, tf->r8, tf->r9);
    }
    if (nr != NR_rt_sigreturn)
        tf->rax = ret;
    sched_preempt_point(tf);
    signal_return_to_user(tf, ret);
    if (p && p->migrate_to >= 0)        /* a safe point: registers final, a restart already rewound */
        migrate_on_return(tf);
}
