/*
 * kernel/signal.c: signals. Sending marks a signal pending and wakes the target; delivery happens
 * on the way back to user mode (signal_return_to_user): default actions (terminate, dump core,
 * stop, continue, ignore) or a handler frame on the user stack laid out as Linux's rt_sigframe,
 * undone by rt_sigreturn. Also interval timers (alarm) and the sleeping system calls, whose
 * interruption and restart rules live here.
 */
#include "kernel/signal.h"
#include "kernel/deputy.h"
#include "arch/x86/gdt.h"
#include "arch/x86/trap.h"
#include "kernel/fpu.h"
#include "kernel/printk.h"
#include "kernel/proc.h"
#include "kernel/node.h"
#include "kernel/sched.h"
#include "kernel/ssi.h"
#include "kernel/string.h"
#include "kernel/syscall.h"
#include "kernel/uaccess.h"
#include "kernel/uvm.h"

#define SIG_DFL 0
#define SIG_IGN 1
#define SA_NOCLDSTOP 1
#define SA_SIGINFO 4
#define SA_ONSTACK 0x08000000
#define SA_RESTORER 0x04000000
#define SA_RESTART 0x10000000
#define SA_NODEFER 0x40000000
#define SA_RESETHAND 0x80000000
#define SS_ONSTACK 1
#define SS_DISABLE 2


static struct list_head alarms = LIST_HEAD_INIT(alarms);

enum action { ACT_TERM, ACT_CORE, ACT_IGNORE, ACT_STOP, ACT_CONT };

static enum action default_action(int sig)
{
    switch (sig) {
    case SIGCHLD: case SIGURG: case SIGWINCH:
        return ACT_IGNORE;
    case SIGCONT:
        return ACT_CONT;
    case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
        return ACT_STOP;
    case SIGQUIT: case SIGILL: case SIGTRAP: case SIGABRT: case SIGBUS: case SIGFPE: case SIGSEGV:
    case SIGXCPU: case SIGXFSZ: case SIGSYS:
        return ACT_CORE;
    default:
        return sig >= 32 ? ACT_TERM : ACT_TERM;
    }
}

static bool is_ignored(struct process *p, int sig)
{
    uint64_t h = p->sigactions[sig - 1].handler;
    return h == SIG_IGN || (h == SIG_DFL && default_action(sig) == ACT_IGNORE);
}

bool signal_ignored_or_blocked(struct process *p, int sig)
{
    return p->sigactions[sig - 1].handler == SIG_IGN || (p->sig_blocked & sigmask(sig));
}

static void notify_parent(struct process *p, bool stopped)
{
    struct process *parent = p->parent;
    if (!parent)
        return;
    if (!stopped || !(parent->sigactions[SIGCHLD - 1].flags & SA_NOCLDSTOP))
        signal_send(parent, SIGCHLD);
    wake_up(&parent->child_wait);
}

static void do_continue(struct process *p)
{
    p->sig_pending &= ~STOP_SIGNALS;
    if (p->state == PROC_STOPPED) {
        p->state = PROC_RUNNING;
        p->continued_reported = false;
        if (p->task)
            sched_wake_task(p->task);
        notify_parent(p, false);
    }
}

#define SI_USER 0
#define SI_KERNEL 0x80
#define SI_TKILL (-6)

static int send(struct process *p, int sig, int code, int from_pid);

int signal_send(struct process *p, int sig) { return send(p, sig, SI_KERNEL, 0); }

static int send(struct process *p, int sig, int code, int from_pid)
{
    if (!p || sig < 0 || sig > NSIG)
        return -EINVAL;
    if (sig == 0 || p->state == PROC_ZOMBIE)
        return 0;
    uint64_t f = irq_save();
    if (sig == SIGCONT || sig == SIGKILL)
        do_continue(p);
    if (p->kind == PROC_DEPUTY && p->link) {     /* it runs elsewhere: pass it on */
        deputy_signal(p, sig, code, from_pid);
        irq_restore(f);
        return 0;
    }
    if (STOP_SIGNALS & sigmask(sig))
        p->sig_pending &= ~sigmask(SIGCONT);
    bool blocked = p->sig_blocked & sigmask(sig);
    if (!is_ignored(p, sig) || blocked) {
        if (!(p->sig_pending & sigmask(sig))) {     /* standard signals do not queue: first sender wins */
            p->sig_code[sig - 1] = code;
            p->sig_from[sig - 1] = from_pid;
        }
        p->sig_pending |= sigmask(sig);
        if (!blocked && p->task)
            sched_wake_task(p->task);
    }
    irq_restore(f);
    return 0;
}

int signal_deliver(struct process *p, int sig, int code, int from_pid) { return send(p, sig, code, from_pid); }

uint64_t signal_ignored_mask(struct process *p)
{
    uint64_t m = 0;
    for (int sig = 1; sig <= NSIG; sig++)
        if (is_ignored(p, sig))
            m |= sigmask(sig);
    return m;
}

int signal_send_pgrp(int pgid, int sig);

struct pgrp_ctx {
    int pgid, sig, found, code, from;
};

static bool send_to_member(struct process *p, void *arg)
{
    struct pgrp_ctx *c = arg;
    if (p->pgid == c->pgid && p->state != PROC_ZOMBIE) {
        send(p, c->sig, c->code, c->from);
        c->found++;
    }
    return true;
}

static int send_pgrp(int pgid, int sig, int code, int from)
{
    struct pgrp_ctx c = { pgid, sig, 0, code, from };
    proc_for_each(send_to_member, &c);
    return c.found ? 0 : -ESRCH;
}

int signal_send_pgrp(int pgid, int sig) { return send_pgrp(pgid, sig, SI_KERNEL, 0); }

bool signal_pending(void)
{
    struct process *p = current_proc();
    if (p && p->kind == PROC_DEPUTY && p->link)
        return deputy_signal_pending(p);
    /* A move asked for ends a blocking call the same way; the call restarts where it arrives. */
    return p && ((p->sig_pending & (~p->sig_blocked | UNBLOCKABLE)) || p->migrate_to >= 0);
}

/* A fault the process caused: the signal cannot be blocked or ignored away (it would fault again). */
void signal_force(int sig, uint64_t addr, int code)
{
    struct process *p = current_proc();
    struct k_sigaction *a = &p->sigactions[sig - 1];
    if ((p->sig_blocked & sigmask(sig)) || a->handler == SIG_IGN) {
        p->sig_blocked &= ~sigmask(sig);
        a->handler = SIG_DFL;
    }
    p->fault_addr = addr;
    p->sig_code[sig - 1] = code;
    p->sig_from[sig - 1] = 0;
    p->sig_pending |= sigmask(sig);
}

void signal_init_process(struct process *p) { (void)p; }

/* ---- delivery ---- */

struct linux_sigcontext {
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
    uint16_t cs, gs, fs, ss;
    uint64_t err, trapno, oldmask, cr2, fpstate;
    uint64_t reserved[8];
};

struct linux_ucontext {
    uint64_t flags, link;
    uint64_t ss_sp;
    int32_t ss_flags, pad;
    uint64_t ss_size;
    struct linux_sigcontext mc;
    uint64_t sigmask;
};

struct linux_siginfo {
    int32_t signo, errno_, code, pad;
    union {
        struct { int32_t pid; uint32_t uid; } kill;
        uint64_t addr;
        uint8_t pad[112];
    } f;
};

struct rt_sigframe {
    uint64_t pretcode;
    struct linux_ucontext uc;
    struct linux_siginfo info;
};

static bool on_altstack(struct process *p, uint64_t sp)
{
    return p->altstack_size && sp > p->altstack_sp && sp <= p->altstack_sp + p->altstack_size;
}

static void save_context(struct linux_sigcontext *mc, const struct trap_frame *tf)
{
    mc->r8 = tf->r8; mc->r9 = tf->r9; mc->r10 = tf->r10; mc->r11 = tf->r11;
    mc->r12 = tf->r12; mc->r13 = tf->r13; mc->r14 = tf->r14; mc->r15 = tf->r15;
    mc->rdi = tf->rdi; mc->rsi = tf->rsi; mc->rbp = tf->rbp; mc->rbx = tf->rbx;
    mc->rdx = tf->rdx; mc->rax = tf->rax; mc->rcx = tf->rcx; mc->rsp = tf->rsp;
    mc->rip = tf->rip; mc->eflags = tf->rflags;
    mc->cs = USER_CS;
    mc->ss = USER_DS;
    mc->trapno = tf->vector < 32 ? tf->vector : 0;
    mc->err = tf->vector < 32 ? tf->error : 0;
}

static bool setup_frame(struct process *p, int sig, struct trap_frame *tf, uint64_t saved_mask)
{
    struct k_sigaction *a = &p->sigactions[sig - 1];
    uint64_t sp = tf->rsp;
    if ((a->flags & SA_ONSTACK) && !(p->altstack_flags & SS_DISABLE) && !on_altstack(p, sp))
        sp = p->altstack_sp + p->altstack_size;
    sp -= 128;                                          /* the red zone of the interrupted code */
    sp = (sp - 512) & ~63ull;
    uint64_t fpstate = sp;
    sp = ((sp - sizeof(struct rt_sigframe)) & ~15ull) - 8;   /* as if just called: rsp+8 aligned */

    struct task *t = current_task();
    fpu_save(t);
    struct rt_sigframe frame;
    memset(&frame, 0, sizeof frame);
    frame.pretcode = a->restorer;
    frame.uc.ss_sp = p->altstack_sp;
    frame.uc.ss_size = p->altstack_size;
    frame.uc.ss_flags = p->altstack_flags | (on_altstack(p, tf->rsp) ? SS_ONSTACK : 0);
    save_context(&frame.uc.mc, tf);
    frame.uc.mc.fpstate = fpstate;
    frame.uc.mc.oldmask = saved_mask;
    frame.uc.mc.cr2 = p->fault_addr;
    frame.uc.sigmask = saved_mask;
    frame.info.signo = sig;
    frame.info.code = p->sig_code[sig - 1];
    if ((sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE) && p->sig_code[sig - 1] > 0 &&
        p->sig_code[sig - 1] != SI_KERNEL)
        frame.info.f.addr = p->fault_addr;
    else if (p->sig_code[sig - 1] <= 0)
        frame.info.f.kill.pid = p->sig_from[sig - 1];
    if (copy_to_user((void *)fpstate, t->fpu_state, 512) || copy_to_user((void *)sp, &frame, sizeof frame))
        return false;

    tf->rsp = sp;
    tf->rip = a->handler;
    tf->rdi = sig;
    tf->rsi = sp + __builtin_offsetof(struct rt_sigframe, info);
    tf->rdx = sp + __builtin_offsetof(struct rt_sigframe, uc);
    tf->rax = 0;
    tf->rflags &= ~((1u << 8) | (1u << 10));            /* TF, DF clear in the handler */
    tf->cs = USER_CS;
    tf->ss = USER_DS;
    p->sig_blocked |= a->mask | ((a->flags & SA_NODEFER) ? 0 : sigmask(sig));
    p->sig_blocked &= ~UNBLOCKABLE;
    if (a->flags & SA_RESETHAND)
        memset(a, 0, sizeof *a);
    return true;
}

static void stop_self(struct process *p, int sig)
{
    if (p->kind == PROC_REMOTE)
        deputy_remote_stopped(p, sig);      /* its parent and wait are at home */
    uint64_t f = irq_save();
    p->state = PROC_STOPPED;
    p->stop_signal = sig;
    p->stop_reported = false;
    notify_parent(p, true);
    while (p->state == PROC_STOPPED && !(p->sig_pending & sigmask(SIGKILL)))
        wq_sleep(NULL, 0);
    irq_restore(f);
    if (p->kind == PROC_REMOTE && !(p->sig_pending & sigmask(SIGKILL)))
        deputy_remote_continued(p);
}

void signal_mirror_stop(struct process *p, int sig)
{
    uint64_t f = irq_save();
    if (p->state == PROC_RUNNING) {
        p->state = PROC_STOPPED;
        p->stop_signal = sig;
        p->stop_reported = false;
        notify_parent(p, true);
    }
    irq_restore(f);
}

void signal_mirror_continue(struct process *p)
{
    uint64_t f = irq_save();
    if (p->state == PROC_STOPPED) {
        p->state = PROC_RUNNING;
        p->continued_reported = false;
        notify_parent(p, false);
    }
    irq_restore(f);
}

static int next_signal(struct process *p)
{
    uint64_t deliverable = p->sig_pending & (~p->sig_blocked | UNBLOCKABLE);
    if (!deliverable)
        return 0;
    if (deliverable & sigmask(SIGKILL))
        return SIGKILL;
    return __builtin_ctzll(deliverable) + 1;
}

static bool restartable(long nr)
{
    return nr != NR_nanosleep && nr != NR_clock_nanosleep && nr != NR_poll && nr != NR_ppoll &&
           nr != NR_select && nr != NR_pselect6 && nr != NR_rt_sigsuspend && nr != NR_pause;
}

/* An interrupted system call either restarts (rip back onto the syscall instruction, rax = its
 * number) or reports -EINTR; decided before a handler frame saves the registers. */
struct restart {
    bool pending;
    bool by_block;                      /* -ERESTART_RESTARTBLOCK: p->restart_* say how */
    long nr;
};

static void rewind_syscall(struct trap_frame *tf, long nr)
{
    tf->rax = nr;
    tf->rip -= 2;
}

static void resolve_restart(struct restart *rs, struct trap_frame *tf, const struct k_sigaction *a)
{
    if (!rs->pending)
        return;
    if (rs->by_block)                   /* a sleep: with a handler it ends; else what is left of it */
        a ? (void)(tf->rax = -EINTR) : rewind_syscall(tf, NR_restart_syscall);
    else if (a && !((a->flags & SA_RESTART) && restartable(rs->nr)))
        tf->rax = -EINTR;
    else
        rewind_syscall(tf, rs->nr);
    rs->pending = false;
}

/* Handles one pending signal; returns true if a handler frame was set up (then stop delivering:
 * the handler runs first, the next signal comes on the next return to user mode). */
static bool handle_signal(struct process *p, int sig, struct trap_frame *tf, struct restart *rs)
{
    uint64_t f = irq_save();
    p->sig_pending &= ~sigmask(sig);
    irq_restore(f);
    struct k_sigaction *a = &p->sigactions[sig - 1];
    if (a->handler == SIG_IGN)
        return false;
    if (a->handler == SIG_DFL) {
        switch (default_action(sig)) {
        case ACT_IGNORE:
        case ACT_CONT:
            return false;
        case ACT_STOP:
            stop_self(p, sig);
            return false;
        case ACT_CORE:
            proc_exit(sig | 0x80);
        case ACT_TERM:
            proc_exit(sig);
        }
    }
    resolve_restart(rs, tf, a);
    uint64_t saved = p->restore_sigmask ? p->saved_sigmask : p->sig_blocked;
    if (p->restore_sigmask) {
        p->sig_blocked = p->saved_sigmask;
        p->restore_sigmask = false;
    }
    if (!setup_frame(p, sig, tf, saved)) {
        printk(LOG_NOTICE, "signal: pid %d (%s): bad stack for signal %d handler, killed\n", p->pid, p->comm, sig);
        proc_exit(SIGSEGV | 0x80);
    }
    return true;
}

void signal_return_to_user(struct trap_frame *tf, long ret)
{
    struct process *p = current_proc();
    if (!p)
        return;
    bool by_block = ret == -ERESTART_RESTARTBLOCK;
    struct restart rs = { tf->vector == SYSCALL_VECTOR && (ret == -EINTR || ret == -ERESTARTSYS || by_block),
                          by_block, current_task()->syscall_nr };
    for (;;) {
        uint64_t f = irq_save();
        int sig = next_signal(p);
        irq_restore(f);
        if (!sig || handle_signal(p, sig, tf, &rs))
            break;
    }
    resolve_restart(&rs, tf, NULL);     /* no handler ran: the call continues where it was */
    if (p->restore_sigmask && !signal_pending()) {
        p->sig_blocked = p->saved_sigmask;
        p->restore_sigmask = false;
    }
}

/* ---- system calls ---- */

SYSCALL(NR_rt_sigaction, rt_sigaction)
{
    int sig = a0;
    struct process *p = current_proc();
    if (sig < 1 || sig > NSIG || a3 != 8)
        return -EINVAL;
    struct k_sigaction na, old = p->sigactions[sig - 1];
    if (a1) {
        if (sig == SIGKILL || sig == SIGSTOP)
            return -EINVAL;
        if (copy_from_user(&na, (void *)a1, sizeof na))
            return -EFAULT;
    }
    if (a2 && copy_to_user((void *)a2, &old, sizeof old))
        return -EFAULT;
    if (a1) {
        uint64_t f = irq_save();
        na.mask &= ~UNBLOCKABLE;
        p->sigactions[sig - 1] = na;
        if (is_ignored(p, sig))
            p->sig_pending &= ~sigmask(sig);
        irq_restore(f);
    }
    return 0;
}

SYSCALL(NR_rt_sigprocmask, rt_sigprocmask)
{
    struct process *p = current_proc();
    if (a3 != 8)
        return -EINVAL;
    uint64_t set, old = p->sig_blocked;
    if (a1) {
        if (copy_from_user(&set, (void *)a1, sizeof set))
            return -EFAULT;
        if (a0 == 0)
            p->sig_blocked |= set;
        else if (a0 == 1)
            p->sig_blocked &= ~set;
        else if (a0 == 2)
            p->sig_blocked = set;
        else
            return -EINVAL;
        p->sig_blocked &= ~UNBLOCKABLE;
    }
    if (a2 && copy_to_user((void *)a2, &old, sizeof old))
        return -EFAULT;
    return 0;
}

SYSCALL(NR_rt_sigpending, rt_sigpending)
{
    struct process *p = current_proc();
    uint64_t set = p->sig_pending & p->sig_blocked;
    return copy_to_user((void *)a0, &set, sizeof set) ? -EFAULT : 0;
}

static struct waitqueue never;

SYSCALL(NR_rt_sigsuspend, rt_sigsuspend)
{
    struct process *p = current_proc();
    uint64_t mask;
    if (a1 != 8)
        return -EINVAL;
    if (copy_from_user(&mask, (void *)a0, sizeof mask))
        return -EFAULT;
    p->saved_sigmask = p->sig_blocked;
    p->restore_sigmask = true;
    p->sig_blocked = mask & ~UNBLOCKABLE;
    wq_init(&never);
    wait_event_interruptible(never, false);
    return -EINTR;
}

SYSCALL(NR_pause, pause)
{
    wq_init(&never);
    wait_event_interruptible(never, false);
    return -EINTR;
}

SYSCALL(NR_sigaltstack, sigaltstack)
{
    struct process *p = current_proc();
    struct { uint64_t sp; int32_t flags, pad; uint64_t size; } ss, old;
    old.sp = p->altstack_sp;
    old.size = p->altstack_size;
    old.flags = (p->altstack_flags & SS_DISABLE) ? SS_DISABLE
              : on_altstack(p, syscall_frame()->rsp) ? SS_ONSTACK : 0;
    old.pad = 0;
    if (a0) {
        if (copy_from_user(&ss, (void *)a0, sizeof ss))
            return -EFAULT;
        if (on_altstack(p, syscall_frame()->rsp))
            return -EPERM;
        if (ss.flags & ~(SS_DISABLE | (1u << 31)))
            return -EINVAL;
        if (!(ss.flags & SS_DISABLE) && ss.size < 2048)
            return -ENOMEM;
    }
    if (a1 && copy_to_user((void *)a1, &old, sizeof old))
        return -EFAULT;
    if (a0) {
        p->altstack_sp = ss.flags & SS_DISABLE ? 0 : ss.sp;
        p->altstack_size = ss.flags & SS_DISABLE ? 0 : ss.size;
        p->altstack_flags = ss.flags & SS_DISABLE;
    }
    return 0;
}

SYSCALL(NR_rt_sigreturn, rt_sigreturn)
{
    struct process *p = current_proc();
    struct trap_frame *tf = syscall_frame();
    struct rt_sigframe frame;
    struct task *t = current_task();
    uint64_t at = tf->rsp - 8;              /* the handler's ret popped pretcode */
    if (copy_from_user(&frame, (void *)at, sizeof frame) ||
        copy_from_user(t->fpu_state, (void *)frame.uc.mc.fpstate, 512)) {
        proc_exit(SIGSEGV | 0x80);
    }
    uint32_t mxcsr;
    memcpy(&mxcsr, t->fpu_state + 24, 4);
    mxcsr &= fpu_mxcsr_mask();               /* reserved MXCSR bits would fault fxrstor */
    memcpy(t->fpu_state + 24, &mxcsr, 4);
    fpu_restore(t);
    const struct linux_sigcontext *mc = &frame.uc.mc;
    tf->r8 = mc->r8; tf->r9 = mc->r9; tf->r10 = mc->r10; tf->r11 = mc->r11;
    tf->r12 = mc->r12; tf->r13 = mc->r13; tf->r14 = mc->r14; tf->r15 = mc->r15;
    tf->rdi = mc->rdi; tf->rsi = mc->rsi; tf->rbp = mc->rbp; tf->rbx = mc->rbx;
    tf->rdx = mc->rdx; tf->rax = mc->rax; tf->rcx = mc->rcx; tf->rsp = mc->rsp;
    tf->rip = mc->rip;
    /* Only the flags user code may change; IF stays on. */
    tf->rflags = (tf->rflags & ~0x40dd5ull) | (mc->eflags & 0x40dd5ull) | 0x200;
    tf->cs = USER_CS;
    tf->ss = USER_DS;
    tf->vector = 0;                         /* not a system call any more: no restart logic */
    p->sig_blocked = frame.uc.sigmask & ~UNBLOCKABLE;
    return tf->rax;
}

static int kill_one(struct process *p, int sig, int code)
{
    if (!p || p->state == PROC_ZOMBIE)
        return p ? 0 : -ESRCH;
    return send(p, sig, code, current_proc()->pid);
}

struct kill_all_ctx {
    int sig, self, count;
};

static bool kill_each(struct process *p, void *arg)
{
    struct kill_all_ctx *c = arg;
    if (p->pid > 1 && p->pid != c->self && p->state != PROC_ZOMBIE) {
        send(p, c->sig, SI_USER, c->self);
        c->count++;
    }
    return true;
}

/* A signal from another node (kernel/ssi.c's "signal" service), sent as kill(2) would; pid < -1: a
 * process group of this node. */
int signal_kill_local(int pid, int sig, int from_pid)
{
    if (sig < 0 || sig > NSIG)
        return -EINVAL;
    if (pid < -1) {
        uint64_t f = irq_save();
        int r = send_pgrp(-pid, sig, SI_USER, from_pid);
        irq_restore(f);
        return r;
    }
    uint64_t f = irq_save();
    struct process *p = proc_find(pid);
    int r = !p ? -ESRCH : p->state == PROC_ZOMBIE ? 0 : send(p, sig, SI_USER, from_pid);
    irq_restore(f);
    return r;
}

/* A pid that is not here but was allocated on another node: ask that node (docs/SSI.md). */
static bool remote_pid(int pid)
{
    int home = ssi_pid_home(pid);
    return pid > 1 && home >= 0 && home != node_self() && !proc_find(pid);
}

SYSCALL(NR_kill, kill)
{
    int pid = a0, sig = a1;
    struct process *self = current_proc();
    if (sig < 0 || sig > NSIG)
        return -EINVAL;
    if (pid > 0 && remote_pid(pid))
        return ssi_remote_kill(pid, sig);
    if (pid > 0)
        return kill_one(proc_find(pid), sig, SI_USER);
    if (pid == 0)
        return send_pgrp(self->pgid, sig, SI_USER, self->pid);
    if (pid == -1) {
        struct kill_all_ctx c = { sig, self->pid, 0 };
        proc_for_each(kill_each, &c);
        return c.count ? 0 : -ESRCH;
    }
    if (pid < -1 && ssi_pid_home(-pid) >= 0 && ssi_pid_home(-pid) != node_self())
        return ssi_remote_kill(pid, sig);   /* a group lives where its leader's pid was born */
    return send_pgrp(-pid, sig, SI_USER, self->pid);
}

SYSCALL(NR_tkill, tkill)
{
    if (a1 < 0 || a1 > NSIG)
        return -EINVAL;
    if (a0 > 0 && remote_pid(a0))
        return ssi_remote_kill(a0, a1);
    return kill_one(proc_find(a0), a1, SI_TKILL);
}

SYSCALL(NR_tgkill, tgkill)
{
    if (a2 < 0 || a2 > NSIG || a0 != a1)
        return a0 != a1 ? -ESRCH : -EINVAL;
    if (a1 > 0 && remote_pid(a1))
        return ssi_remote_kill(a1, a2);
    return kill_one(proc_find(a1), a2, SI_TKILL);
}

/* ---- interval timers (ITIMER_REAL) ---- */

void signal_cancel_alarm(struct process *p)
{
    uint64_t f = irq_save();
    list_del(&p->alarm_link);
    p->alarm_at_ns = 0;
    irq_restore(f);
}

static void arm_alarm(struct process *p, uint64_t value_ns, uint64_t interval_ns)
{
    signal_cancel_alarm(p);
    if (!value_ns)
        return;
    uint64_t f = irq_save();
    p->alarm_at_ns = clock_ns() + value_ns;
    p->alarm_interval_ns = interval_ns;
    list_add_tail(&p->alarm_link, &alarms);
    irq_restore(f);
}

void signal_alarm_get(struct process *p, uint64_t *left_ns, uint64_t *interval_ns)
{
    uint64_t f = irq_save();
    uint64_t now = clock_ns();
    *left_ns = p->alarm_at_ns ? (p->alarm_at_ns > now ? p->alarm_at_ns - now : 1) : 0;
    *interval_ns = p->alarm_at_ns ? p->alarm_interval_ns : 0;
    irq_restore(f);
}

void signal_alarm_set(struct process *p, uint64_t left_ns, uint64_t interval_ns) { arm_alarm(p, left_ns, interval_ns); }

void signal_timer_tick(void)
{
    uint64_t now = clock_ns();
    struct list_head *pos, *n;
    list_for_each_safe(pos, n, &alarms) {
        struct process *p = list_entry(pos, struct process, alarm_link);
        if (p->alarm_at_ns > now)
            continue;
        signal_send(p, SIGALRM);
        if (p->alarm_interval_ns) {
            p->alarm_at_ns += p->alarm_interval_ns;
        } else {
            list_del(&p->alarm_link);
            p->alarm_at_ns = 0;
        }
    }
}

struct linux_timeval {
    int64_t sec, usec;
};
struct linux_itimerval {
    struct linux_timeval interval, value;
};

static uint64_t tv_ns(struct linux_timeval tv) { return tv.sec * NSEC_PER_SEC + tv.usec * 1000; }
static struct linux_timeval ns_tv(uint64_t ns)
{
    return (struct linux_timeval){ (int64_t)(ns / NSEC_PER_SEC), (int64_t)(ns % NSEC_PER_SEC) / 1000 };
}

static struct linux_itimerval current_itimer(struct process *p)
{
    uint64_t now = clock_ns();
    uint64_t left = p->alarm_at_ns > now ? p->alarm_at_ns - now : (p->alarm_at_ns ? 1000 : 0);
    return (struct linux_itimerval){ ns_tv(p->alarm_interval_ns), ns_tv(left) };
}

SYSCALL(NR_setitimer, setitimer)
{
    struct process *p = current_proc();
    struct linux_itimerval nv, old = current_itimer(p);
    if (a0 != 0)
        return -EINVAL;                     /* ITIMER_VIRTUAL/PROF: not supported */
    if (a1 && copy_from_user(&nv, (void *)a1, sizeof nv))
        return -EFAULT;
    if (nv.value.usec < 0 || nv.value.usec >= 1000000 || nv.interval.usec < 0 || nv.interval.usec >= 1000000)
        return -EINVAL;
    if (a2 && copy_to_user((void *)a2, &old, sizeof old))
        return -EFAULT;
    if (a1)
        arm_alarm(p, tv_ns(nv.value), tv_ns(nv.interval));
    return 0;
}

SYSCALL(NR_getitimer, getitimer)
{
    if (a0 != 0)
        return -EINVAL;
    struct linux_itimerval v = current_itimer(current_proc());
    return copy_to_user((void *)a1, &v, sizeof v) ? -EFAULT : 0;
}

SYSCALL(NR_alarm, alarm)
{
    struct process *p = current_proc();
    struct linux_itimerval old = current_itimer(p);
    arm_alarm(p, (uint64_t)(unsigned)a0 * NSEC_PER_SEC, 0);
    return old.value.sec + (old.value.usec >= 500000 || (old.value.sec == 0 && old.value.usec) ? 1 : 0);
}

/* ---- sleeping ---- */

struct linux_timespec {
    int64_t sec, nsec;
};

/* Sleeps until deadline_ns (this node's clock). Interrupted, it writes the time left to rem_user
 * and leaves a restart block: a handler makes that -EINTR, anything else (a stop, a move to
 * another node) lets restart_syscall sleep out the rest, not the whole time again. */
static long sleep_until(uint64_t deadline_ns, struct linux_timespec *rem_user)
{
    uint64_t now = clock_ns();
    int r = 0;
    wq_init(&never);
    if (deadline_ns > now)
        r = wait_event_interruptible_timeout(never, false, deadline_ns - now);
    if (r == -EINTR) {
        now = clock_ns();
        uint64_t left = deadline_ns > now ? deadline_ns - now : 0;
        struct linux_timespec rem = { (int64_t)(left / NSEC_PER_SEC), (int64_t)(left % NSEC_PER_SEC) };
        if (rem_user && copy_to_user(rem_user, &rem, sizeof rem))
            return -EFAULT;
        struct process *p = current_proc();
        p->restart_deadline_ns = proc_monotonic_ns(p) + left;   /* its own clock goes on across moves */
        if (p->restart_deadline_ns == 0)
            p->restart_deadline_ns = 1;
        p->restart_rem = (uint64_t)rem_user;
        return -ERESTART_RESTARTBLOCK;
    }
    return 0;
}

SYSCALL(NR_restart_syscall, restart_syscall)
{
    struct process *p = current_proc();
    uint64_t deadline = p->restart_deadline_ns, now = proc_monotonic_ns(p);
    if (!deadline)
        return -EINTR;                  /* nothing to restart (Linux says the same) */
    p->restart_deadline_ns = 0;
    return sleep_until(clock_ns() + (deadline > now ? deadline - now : 0), (struct linux_timespec *)p->restart_rem);
}

SYSCALL(NR_nanosleep, nanosleep)
{
    struct linux_timespec ts;
    if (copy_from_user(&ts, (void *)a0, sizeof ts))
        return -EFAULT;
    if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= (int64_t)NSEC_PER_SEC)
        return -EINVAL;
    return sleep_until(clock_ns() + ts.sec * NSEC_PER_SEC + ts.nsec, (struct linux_timespec *)a1);
}

uint64_t wallclock_ns(void);

SYSCALL(NR_clock_nanosleep, clock_nanosleep)
{
    struct linux_timespec ts;
    int clock = a0, flags = a1;
    if (copy_from_user(&ts, (void *)a2, sizeof ts))
        return -EFAULT;
    if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= (int64_t)NSEC_PER_SEC)
        return -EINVAL;
    if (clock != 0 && clock != 1 && clock != 7)             /* REALTIME, MONOTONIC, BOOTTIME */
        return -EINVAL;
    uint64_t t = ts.sec * NSEC_PER_SEC + ts.nsec, now = clock_ns();
    uint64_t deadline = now + t;
    if (flags & 1) {                                        /* TIMER_ABSTIME */
        uint64_t base = clock == 0 ? wallclock_ns() : proc_monotonic_ns(current_proc());
        deadline = t > base ? now + (t - base) : now;
    }
    return sleep_until(deadline, (flags & 1) ? NULL : (struct linux_timespec *)a3);
}
