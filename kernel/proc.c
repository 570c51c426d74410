/*
 * kernel/proc.c: the process table and the life of a process: creation (fork, vfork, clone without
 * threads), the first process, exit and the zombie state, wait, process groups and sessions,
 * resource limits. Signals are in kernel/signal.c, execve in kernel/exec.c.
 */
#include "kernel/proc.h"
#include "arch/x86/cpu.h"
#include "arch/x86/gdt.h"
#include "arch/x86/trap.h"
#include "kernel/deputy.h"
#include "kernel/exec.h"
#include "kernel/fpu.h"
#include "kernel/kmalloc.h"
#include "kernel/mm.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/ssi.h"
#include "kernel/string.h"
#include "kernel/syscall.h"
#include "kernel/tty.h"
#include "kernel/uaccess.h"
#include "kernel/uvm.h"
#include "kernel/vfs.h"
#include "kernel/vm.h"

#define PROC_MAX 512                /* a fork bomb meets EAGAIN here, long before memory runs out */


#define WNOHANG 1
#define WUNTRACED 2
#define WEXITED 4
#define WCONTINUED 8
#define WNOWAIT 0x1000000

static struct list_head all_procs = LIST_HEAD_INIT(all_procs);   /* sorted by pid */
static int nprocs, last_pid;
static struct waitqueue vfork_wq;

void ret_to_user(struct trap_frame *tf);
void signal_init_process(struct process *p);
void signal_timer_tick(void);
void signal_cancel_alarm(struct process *p);

struct process *current_proc(void)
{
    struct task *t = current_task();
    return t ? t->proc : NULL;
}

struct process *proc_find(int pid)
{
    struct list_head *pos;
    list_for_each(pos, &all_procs) {
        struct process *p = list_entry(pos, struct process, all_link);
        if (p->pid == pid)
            return p;
        if (p->pid > pid)
            break;
    }
    return NULL;
}

void proc_for_each(bool (*fn)(struct process *p, void *ctx), void *ctx)
{
    uint64_t f = irq_save();
    struct list_head *pos;
    list_for_each(pos, &all_procs) {
        if (!fn(list_entry(pos, struct process, all_link), ctx))
            break;
    }
    irq_restore(f);
}

int proc_count(void) { return nprocs; }
uint64_t proc_vsize(struct process *p) { return p->mm ? mm_total_size(p->mm) : 0; }
uint64_t proc_rss_pages(struct process *p) { return p->mm ? p->mm->rss_pages : 0; }

char proc_state_char(struct process *p)
{
    if (p->state == PROC_ZOMBIE)
        return 'Z';
    if (p->state == PROC_STOPPED)
        return 'T';
    return p->task && p->task->state == TASK_BLOCKED ? 'S' : 'R';
}

/* From this node's range, so pids are unique in the cluster and name their home (docs/SSI.md). */
static int alloc_pid(void)
{
    int first = ssi_pid_first(), last = ssi_pid_last();
    for (int tries = 0; tries <= last - first; tries++) {
        last_pid = last_pid < first || last_pid >= last ? first : last_pid + 1;
        if (!proc_find(last_pid))
            return last_pid;
    }
    return -1;
}

static void table_insert(struct process *p)
{
    struct list_head *pos;
    list_for_each(pos, &all_procs) {
        if (list_entry(pos, struct process, all_link)->pid > p->pid)
            break;
    }
    list_add_tail(&p->all_link, pos);
    nprocs++;
}

static struct process *proc_alloc(void)
{
    struct process *p = kzalloc(sizeof *p);
    if (!p)
        return NULL;
    list_init(&p->children);
    list_init(&p->sibling);
    list_init(&p->all_link);
    list_init(&p->alarm_link);
    wq_init(&p->child_wait);
    p->start_ns = clock_ns();
    p->altstack_flags = 2;                          /* SS_DISABLE */
    for (int i = 0; i < RLIM_NLIMITS; i++)
        p->rlimits[i] = (struct rlimit64){ ~0ull, ~0ull };
    p->rlimits[RLIMIT_STACK] = (struct rlimit64){ USER_STACK_MAX, ~0ull };
    p->rlimits[RLIMIT_NOFILE] = (struct rlimit64){ FD_MAX, FD_MAX };
    p->rlimits[RLIMIT_NPROC] = (struct rlimit64){ PROC_MAX, PROC_MAX };
    p->migrate_to = -1;
    return p;
}

static void proc_free(struct process *p)
{
    deputy_link_free(p);
    kfree(p->cmdline);
    kfree(p);
}

int proc_ppid(struct process *p)
{
    if (p->kind == PROC_REMOTE)
        return deputy_remote_ppid(p);
    return p->parent ? p->parent->pid : 0;
}

struct process *proc_new_blank(void) { return proc_alloc(); }

uint64_t proc_monotonic_ns(struct process *p) { return clock_ns() + (p ? (uint64_t)p->mono_offset_ns : 0); }

void proc_discard(struct process *p)
{
    mm_destroy(p->mm);
    p->mm = NULL;
    proc_free(p);
}

void proc_init(void) { wq_init(&vfork_wq); }

/* ---- the first process ---- */

int proc_spawn_init(const char *path, char *const argv[], char *const envp[])
{
    struct process *p = proc_alloc();
    if (!p)
        return -ENOMEM;
    p->pid = p->pgid = p->sid = 1;
    last_pid = 1;
    p->fs = fs_context_new();
    p->files = fdtable_new();
    if (!p->fs || !p->files)
        return -ENOMEM;
    struct task *t = current_task();
    strlcpy(p->comm, "init", sizeof p->comm);
    p->task = t;
    t->proc = p;
    uint64_t f = irq_save();
    table_insert(p);
    irq_restore(f);

    struct file *con;
    if (vfs_open(p->fs, NULL, "/dev/console", O_RDWR, 0, &con) == 0) {
        for (int fd = 0; fd < 3; fd++) {
            file_get(con);
            fd_install(p->files, con, fd, false);
        }
        file_put(con);
    } else {
        printk(LOG_WARN, "init: no /dev/console; running without stdin/stdout\n");
    }
    p->tty = tty_console();
    if (p->tty)
        tty_set_session(p->tty, 1, 1);

    struct exec_args args;
    struct trap_frame tf;
    int r = exec_args_from_kernel(&args, argv, envp);
    if (r == 0)
        r = do_execve(path, &args, &tf);
    exec_args_free(&args);
    if (r)
        return r;
    ret_to_user(&tf);
    return 0;
}

/* ---- fork ---- */

struct child_start {
    struct trap_frame tf;
};

static void child_task_entry(void *arg)
{
    struct child_start *cs = arg;
    struct trap_frame tf = cs->tf;
    kfree(cs);
    mm_activate(current_proc()->mm);
    ret_to_user(&tf);
}

static void copy_identity(struct process *c, struct process *p)
{
    c->pgid = p->pgid;
    c->sid = p->sid;
    c->tty = p->tty;
    c->uid = p->uid;
    c->gid = p->gid;
    c->euid = p->euid;
    c->egid = p->egid;
    c->nice = p->nice;
    c->mono_offset_ns = p->mono_offset_ns;
    memcpy(c->comm, p->comm, sizeof c->comm);
    memcpy(c->exe_path, p->exe_path, sizeof c->exe_path);
    memcpy(c->rlimits, p->rlimits, sizeof c->rlimits);
    memcpy(c->sigactions, p->sigactions, sizeof c->sigactions);
    c->sig_blocked = p->sig_blocked;
    c->altstack_sp = p->altstack_sp;
    c->altstack_size = p->altstack_size;
    c->altstack_flags = p->altstack_flags;
    if (p->cmdline_len && (c->cmdline = kmalloc(p->cmdline_len)) != NULL) {
        memcpy(c->cmdline, p->cmdline, p->cmdline_len);
        c->cmdline_len = p->cmdline_len;
    }
}

static int copy_mm(struct process *c, struct process *p, uint64_t flags)
{
    /* A vfork child runs in its parent's memory (the parent sleeps until it execs or exits). */
    c->mm_borrowed = flags & CLONE_VFORK;
    c->mm = c->mm_borrowed ? p->mm : mm_clone(p->mm);
    return c->mm ? 0 : -ENOMEM;
}

static int copy_resources(struct process *c, struct process *p, uint64_t flags)
{
    copy_mm(c, p, flags);
    if (flags & CLONE_FILES) {
        c->files = p->files;
        c->files->refcount++;
    } else {
        c->files = fdtable_clone(p->files);
    }
    if (flags & CLONE_FS) {
        c->fs = p->fs;
        c->fs->refcount++;
    } else {
        c->fs = fs_context_clone(p->fs);
    }
    return c->mm && c->files && c->fs ? 0 : -ENOMEM;
}

static void release_resources(struct process *c)
{
    if (c->files)
        fdtable_put(c->files);
    if (c->fs)
        fs_context_put(c->fs);
    if (!c->mm_borrowed)
        mm_destroy(c->mm);
    c->files = NULL;
    c->fs = NULL;
    c->mm = NULL;
}

static int count_user_procs(uint32_t uid)
{
    int n = 0;
    struct list_head *pos;
    list_for_each(pos, &all_procs) {
        if (list_entry(pos, struct process, all_link)->uid == uid)
            n++;
    }
    return n;
}

static bool refuse_threads(struct process *p, uint64_t flags)
{
    if ((flags & CLONE_THREAD) || ((flags & CLONE_VM) && !(flags & CLONE_VFORK))) {
        static bool told;
        if (!told)
            printk(LOG_NOTICE, "clone: threads (CLONE_VM/CLONE_THREAD) are not supported yet (pid %d %s)\n",
                   p->pid, p->comm);
        told = true;
        return true;
    }
    return false;
}

/* Has the vfork child pid given parent its memory back (by exec or exit)? A child whose parent
 * need not wait for it (a process away from home, one whose parent ignores SIGCHLD) is freed
 * when it exits: so it is found by pid, never by a pointer kept across the wait. */
static bool vfork_released(int pid, struct process *parent)
{
    uint64_t f = irq_save();
    struct process *c = proc_find(pid);
    bool done = !c || c->vfork_parent != parent || c->vfork_done;
    irq_restore(f);
    return done;
}

/* remote_pid > 0: the running part of a fork whose deputy (and pid) the home node made; it has no
 * files or parent here (its deputy has them at home). A vfork child shares its parent's memory
 * here as at home: parent and child run on the same node. */
static long fork_process(uint64_t flags, uint64_t new_sp, uint64_t parent_tid, uint64_t child_tid, uint64_t tls,
                         int remote_pid)
{
    struct process *p = current_proc();
    if (refuse_threads(p, flags))
        return -EINVAL;
    if (remote_pid)
        flags &= ~(uint64_t)(CLONE_FILES | CLONE_FS | CLONE_PARENT);
    if (nprocs >= PROC_MAX ||
        (!remote_pid && (uint64_t)count_user_procs(p->uid) >= p->rlimits[RLIMIT_NPROC].cur))
        return -EAGAIN;
    struct process *c = proc_alloc();
    struct child_start *cs = kmalloc(sizeof *cs);
    if (!c || !cs) {
        kfree(c);
        kfree(cs);
        return -EAGAIN;
    }
    copy_identity(c, p);
    if (remote_pid && deputy_attach_remote(c, p->home, p) != 0) {
        proc_free(c);
        kfree(cs);
        return -ENOMEM;
    }
    if ((remote_pid ? copy_mm(c, p, flags) : copy_resources(c, p, flags)) != 0) {
        release_resources(c);
        proc_free(c);
        kfree(cs);
        return -ENOMEM;
    }
    cs->tf = *syscall_frame();
    cs->tf.rax = 0;
    if (new_sp)
        cs->tf.rsp = new_sp;

    uint64_t f = irq_save();
    c->pid = remote_pid ? remote_pid : alloc_pid();
    struct task *t = c->pid > 0 && !(remote_pid && proc_find(remote_pid)) ? kthread_create(c->comm, child_task_entry, cs)
                                                                         : NULL;
    if (!t) {
        irq_restore(f);
        release_resources(c);
        proc_free(c);
        kfree(cs);
        return -EAGAIN;
    }
    c->task = t;
    t->proc = c;
    t->fs_base = (flags & CLONE_SETTLS) ? tls : current_task()->fs_base;
    fpu_save(current_task());
    memcpy(t->fpu_state, current_task()->fpu_state, sizeof t->fpu_state);
    if (!remote_pid) {
        c->parent = (flags & CLONE_PARENT) && p->parent ? p->parent : p;
        list_add_tail(&c->sibling, &c->parent->children);
    }
    table_insert(c);
    if (flags & CLONE_CHILD_CLEARTID)
        c->clear_child_tid = child_tid;
    if (flags & CLONE_VFORK)
        c->vfork_parent = p;
    int pid = c->pid;
    /* Before the child can run (and maybe exit): its memory is still there. */
    if (flags & CLONE_CHILD_SETTID) {
        uint64_t pa;
        if ((child_tid & 3) == 0 && mm_fault(c->mm, child_tid, true) == 0 &&
            vm_translate(c->mm->space, child_tid, &pa, NULL))
            *(int *)P2V(pa) = pid;
    }
    irq_restore(f);

    if (flags & CLONE_PARENT_SETTID)
        put_user(pid, (int *)parent_tid);
    if (flags & CLONE_VFORK)
        wait_event(vfork_wq, vfork_released(pid, p));
    return pid;
}

void proc_vfork_release(struct process *p)
{
    if (!p->vfork_parent)
        return;
    uint64_t f = irq_save();
    p->vfork_done = true;
    p->vfork_parent = NULL;
    wake_up(&vfork_wq);
    irq_restore(f);
}

static long do_fork(uint64_t flags, uint64_t new_sp, uint64_t parent_tid, uint64_t child_tid, uint64_t tls)
{
    struct process *p = current_proc();
    if (p->kind == PROC_REMOTE)         /* the home node makes the child's deputy and pid first */
        return refuse_threads(p, flags) ? -EINVAL : deputy_remote_fork(flags, new_sp, parent_tid, child_tid, tls);
    return fork_process(flags, new_sp, parent_tid, child_tid, tls, 0);
}

long proc_fork_remote(int pid, uint64_t flags, uint64_t new_sp, uint64_t child_tid, uint64_t tls)
{
    return fork_process(flags, new_sp, 0, child_tid, tls, pid);
}

int proc_fork_deputy(struct process *p, uint64_t flags)
{
    if (refuse_threads(p, flags))
        return -EINVAL;
    if (nprocs >= PROC_MAX || (uint64_t)count_user_procs(p->uid) >= p->rlimits[RLIMIT_NPROC].cur)
        return -EAGAIN;
    struct process *c = proc_alloc();
    if (!c)
        return -EAGAIN;
    copy_identity(c, p);
    c->files = fdtable_clone(p->files);
    c->fs = fs_context_clone(p->fs);
    if (!c->files || !c->fs || deputy_attach_home(c, p->where) != 0) {
        release_resources(c);
        proc_free(c);
        return -ENOMEM;
    }
    c->kind = PROC_DEPUTY;
    uint64_t f = irq_save();
    c->pid = alloc_pid();
    struct task *t = c->pid > 0 ? kthread_create(c->comm, deputy_child_main, NULL) : NULL;
    if (!t) {
        irq_restore(f);
        release_resources(c);
        proc_free(c);
        return -EAGAIN;
    }
    c->task = t;
    t->proc = c;
    c->parent = p;
    list_add_tail(&c->sibling, &p->children);
    table_insert(c);
    int pid = c->pid;
    irq_restore(f);
    return pid;
}

int proc_start_user(struct process *p, const struct trap_frame *tf, uint64_t fs_base, const uint8_t *fpu)
{
    struct child_start *cs = kmalloc(sizeof *cs);
    if (!cs)
        return -ENOMEM;
    cs->tf = *tf;
    uint64_t f = irq_save();
    struct task *t = nprocs < PROC_MAX && !proc_find(p->pid) ? kthread_create(p->comm, child_task_entry, cs) : NULL;
    if (!t) {
        irq_restore(f);
        kfree(cs);
        return -EAGAIN;
    }
    p->task = t;
    t->proc = p;
    t->fs_base = fs_base;
    memcpy(t->fpu_state, fpu, sizeof t->fpu_state);
    table_insert(p);
    irq_restore(f);
    return 0;
}

SYSCALL(NR_fork, fork) { return do_fork(SIGCHLD, 0, 0, 0, 0); }
SYSCALL(NR_vfork, vfork) { return do_fork(CLONE_VFORK | CLONE_VM | SIGCHLD, 0, 0, 0, 0); }
SYSCALL(NR_clone, clone) { return do_fork(a0, a1, a2, a3, a4); }

/* ---- exit and wait ---- */

static struct process *init_proc(void) { return proc_find(1); }

static void reparent_children(struct process *p)
{
    struct process *init = init_proc();
    bool zombies = false;
    while (!list_empty(&p->children)) {
        struct process *c = list_first_entry(&p->children, struct process, sibling);
        list_del(&c->sibling);
        c->parent = init;
        if (init)
            list_add_tail(&c->sibling, &init->children);
        zombies |= c->state == PROC_ZOMBIE;
    }
    if (init && zombies)
        wake_up(&init->child_wait);
}

static bool parent_ignores_children(struct process *parent)
{
    const struct k_sigaction *a = &parent->sigactions[SIGCHLD - 1];
    return a->handler == 1 || (a->flags & 2);        /* SIG_IGN or SA_NOCLDWAIT */
}

static void reap(struct process *c)
{
    list_del(&c->sibling);
    list_del(&c->all_link);
    nprocs--;
    if (c->parent) {
        c->parent->cutime_ticks += c->utime_ticks + c->cutime_ticks;
        c->parent->cstime_ticks += c->stime_ticks + c->cstime_ticks;
    }
    proc_free(c);
}

void proc_exit(int status)
{
    struct process *p = current_proc();
    if (p->kind == PROC_REMOTE)
        deputy_remote_exit(p, status);      /* its home makes the exit seen: status, SIGCHLD, wait */
    if (p->pid == 1)
        printk(LOG_ERR, "init (pid 1) exited with status %#x; the node has no shell any more\n", status);
    if (p->clear_child_tid) {
        int zero = 0;
        put_user(zero, (int *)p->clear_child_tid);
    }
    signal_cancel_alarm(p);
    if (p->files)
        fdtable_put(p->files);
    if (p->fs)
        fs_context_put(p->fs);
    p->files = NULL;
    p->fs = NULL;
    /* Clear p->mm before freeing it: a preemption in between would switch back to a dead mm. */
    struct mm *mm = p->mm;
    p->mm = NULL;
    mm_activate(NULL);
    if (!p->mm_borrowed)
        mm_destroy(mm);
    if (p->tty && p->sid == p->pid)
        tty_session_exit(p->sid);

    irq_disable();
    proc_vfork_release(p);
    reparent_children(p);
    p->exit_status = status;
    p->state = PROC_ZOMBIE;
    p->task = NULL;
    current_task()->proc = NULL;
    struct process *parent = p->parent;
    if (!parent) {
        list_del(&p->all_link);
        nprocs--;
        proc_free(p);
    } else if (parent_ignores_children(parent)) {
        reap(p);
        wake_up(&parent->child_wait);
    } else {
        signal_send(parent, SIGCHLD);
        wake_up(&parent->child_wait);
    }
    kthread_exit();
}

void proc_vanish(void)
{
    struct process *p = current_proc();
    signal_cancel_alarm(p);
    struct mm *mm = p->mm;
    p->mm = NULL;
    mm_activate(NULL);
    mm_destroy(mm);
    irq_disable();
    p->state = PROC_ZOMBIE;
    p->task = NULL;
    current_task()->proc = NULL;
    list_del(&p->all_link);
    nprocs--;
    proc_free(p);
    kthread_exit();
}

SYSCALL(NR_exit, exit) { proc_exit((a0 & 0xff) << 8); }
SYSCALL(NR_exit_group, exit_group) { proc_exit((a0 & 0xff) << 8); }

static bool wait_matches(struct process *self, struct process *c, int pid)
{
    if (pid > 0)
        return c->pid == pid;
    if (pid == 0)
        return c->pgid == self->pgid;
    if (pid < -1)
        return c->pgid == -pid;
    return true;
}

struct wait_result {
    int pid, status;
    int why;            /* CLD_EXITED 1, CLD_KILLED 2, CLD_DUMPED 3, CLD_STOPPED 5, CLD_CONTINUED 6 */
    uint32_t uid;
    uint64_t utime, stime;
};

static int classify(int status)
{
    if ((status & 0x7f) == 0)
        return 1;
    return (status & 0x80) ? 3 : 2;
}

/* One scan of the children: 1 = found something to report, 0 = children but nothing yet, -ECHILD. */
static int wait_scan(struct process *self, int pid, int options, struct wait_result *res)
{
    bool any = false;
    struct list_head *pos, *n;
    list_for_each_safe(pos, n, &self->children) {
        struct process *c = list_entry(pos, struct process, sibling);
        if (!wait_matches(self, c, pid))
            continue;
        any = true;
        *res = (struct wait_result){ c->pid, 0, 0, c->uid, c->utime_ticks, c->stime_ticks };
        if (c->state == PROC_ZOMBIE && (options & WEXITED)) {
            res->status = c->exit_status;
            res->why = classify(c->exit_status);
            if (!(options & WNOWAIT))
                reap(c);
            return 1;
        }
        if (c->state == PROC_STOPPED && !c->stop_reported && (options & WUNTRACED)) {
            res->status = (c->stop_signal << 8) | 0x7f;
            res->why = 5;
            if (!(options & WNOWAIT))
                c->stop_reported = true;
            return 1;
        }
        if (c->continued_reported == false && c->state == PROC_RUNNING && c->stop_signal &&
            (options & WCONTINUED)) {
            res->status = 0xffff;
            res->why = 6;
            if (!(options & WNOWAIT))
                c->continued_reported = true;
            return 1;
        }
    }
    return any ? 0 : -ECHILD;
}

static int do_wait(int pid, int options, struct wait_result *res)
{
    struct process *self = current_proc();
    int r;
    int err = wait_event_interruptible(self->child_wait, (r = wait_scan(self, pid, options, res)) != 0 ||
                                                             (options & WNOHANG));
    if (err)
        return err;
    return r;           /* 1 found, 0 (WNOHANG, nothing yet), or -ECHILD */
}

struct linux_rusage {
    int64_t utime_sec, utime_usec, stime_sec, stime_usec;
    int64_t rest[14];
};

SYSCALL(NR_wait4, wait4)
{
    int options = (int)a2;
    if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | 0x40000000 | 0x80000000 | 0x20000000))
        return -EINVAL;
    struct wait_result res;
    int r = do_wait((int)a0, options | WEXITED, &res);
    if (r <= 0)
        return r;
    if (a1 && put_user(res.status, (int *)a1))
        return -EFAULT;
    if (a3) {
        struct linux_rusage ru = { 0 };
        ru.utime_sec = res.utime / HZ;
        ru.utime_usec = (res.utime % HZ) * (1000000 / HZ);
        ru.stime_sec = res.stime / HZ;
        ru.stime_usec = (res.stime % HZ) * (1000000 / HZ);
        if (copy_to_user((void *)a3, &ru, sizeof ru))
            return -EFAULT;
    }
    return res.pid;
}

struct linux_siginfo_chld {
    int32_t signo, errno_, code, pad;
    int32_t pid;
    uint32_t uid;
    int32_t status;
    int32_t pad2;
    int64_t utime, stime;
    uint8_t rest[128 - 48];
};

SYSCALL(NR_waitid, waitid)
{
    int idtype = (int)a0, id = (int)a1, options = (int)a3;
    int pid = idtype == 0 ? -1 : idtype == 1 ? id : idtype == 2 ? -id : 0;
    if (idtype < 0 || idtype > 2 || (idtype == 1 && id <= 0) || !(options & (WEXITED | WUNTRACED | WCONTINUED)))
        return -EINVAL;
    struct wait_result res;
    int r = do_wait(pid, options, &res);
    if (r < 0)
        return r;
    struct linux_siginfo_chld si = { 0 };
    if (r == 1) {
        si.signo = SIGCHLD;
        si.code = res.why;
        si.pid = res.pid;
        si.uid = res.uid;
        si.status = res.why == 1 ? (res.status >> 8) & 0xff : res.why == 5 ? res.status >> 8
                    : res.why == 6 ? SIGCONT : res.status & 0x7f;
    }
    if (a2 && copy_to_user((void *)a2, &si, sizeof si))
        return -EFAULT;
    return 0;
}

/* ---- identities, groups and sessions ---- */

SYSCALL(NR_getpid, getpid) { return current_proc()->pid; }
SYSCALL(NR_gettid, gettid) { return current_proc()->pid; }

SYSCALL(NR_getppid, getppid)
{
    struct process *p = current_proc();
    return p->parent ? p->parent->pid : 0;
}

SYSCALL(NR_set_tid_address, set_tid_address)
{
    current_proc()->clear_child_tid = a0;
    return current_proc()->pid;
}

static bool pgrp_in_session(int pgid, int sid)
{
    struct list_head *pos;
    list_for_each(pos, &all_procs) {
        struct process *q = list_entry(pos, struct process, all_link);
        if (q->pgid == pgid && q->sid == sid && q->state != PROC_ZOMBIE)
            return true;
    }
    return false;
}

SYSCALL(NR_setpgid, setpgid)
{
    struct process *self = current_proc();
    int pid = a0 ? (int)a0 : self->pid, pgid = a1 ? (int)a1 : pid;
    if (pgid < 0)
        return -EINVAL;
    uint64_t f = irq_save();
    struct process *p = proc_find(pid);
    long r = 0;
    if (!p || (p != self && p->parent != self))
        r = -ESRCH;
    else if (p->sid == p->pid || p->sid != self->sid)
        r = -EPERM;
    else if (pgid != p->pid && !pgrp_in_session(pgid, self->sid))
        r = -EPERM;
    else
        p->pgid = pgid;
    irq_restore(f);
    return r;
}

SYSCALL(NR_getpgid, getpgid)
{
    struct process *p = a0 ? proc_find((int)a0) : current_proc();
    return p ? p->pgid : -ESRCH;
}

SYSCALL(NR_getpgrp, getpgrp) { return current_proc()->pgid; }

SYSCALL(NR_getsid, getsid)
{
    struct process *p = a0 ? proc_find((int)a0) : current_proc();
    return p ? p->sid : -ESRCH;
}

SYSCALL(NR_setsid, setsid)
{
    struct process *p = current_proc();
    uint64_t f = irq_save();
    bool leader = false;
    struct list_head *pos;
    list_for_each(pos, &all_procs) {
        if (list_entry(pos, struct process, all_link)->pgid == p->pid)
            leader = true;
    }
    if (!leader) {
        p->sid = p->pgid = p->pid;
        p->tty = NULL;
    }
    irq_restore(f);
    return leader ? -EPERM : p->pid;
}

/* ---- limits ---- */

SYSCALL(NR_prlimit64, prlimit64)
{
    struct process *p = a0 ? proc_find((int)a0) : current_proc();
    unsigned res = a1;
    if (!p)
        return -ESRCH;
    if (res >= RLIM_NLIMITS)
        return -EINVAL;
    struct rlimit64 old = p->rlimits[res], nl;
    if (a2) {
        if (copy_from_user(&nl, (void *)a2, sizeof nl))
            return -EFAULT;
        if (nl.cur > nl.max)
            return -EINVAL;
    }
    if (a3 && copy_to_user((void *)a3, &old, sizeof old))
        return -EFAULT;
    if (a2)
        p->rlimits[res] = nl;
    return 0;
}

SYSCALL(NR_getrlimit, getrlimit)
{
    if ((unsigned long)a0 >= RLIM_NLIMITS)
        return -EINVAL;
    return copy_to_user((void *)a1, &current_proc()->rlimits[a0], sizeof(struct rlimit64)) ? -EFAULT : 0;
}

SYSCALL(NR_setrlimit, setrlimit)
{
    struct rlimit64 nl;
    if ((unsigned long)a0 >= RLIM_NLIMITS)
        return -EINVAL;
    if (copy_from_user(&nl, (void *)a1, sizeof nl))
        return -EFAULT;
    if (nl.cur > nl.max)
        return -EINVAL;
    current_proc()->rlimits[a0] = nl;
    return 0;
}

/* ---- TLS ---- */

SYSCALL(NR_arch_prctl, arch_prctl)
{
    struct task *t = current_task();
    switch (a0) {
    case 0x1002:                    /* ARCH_SET_FS */
        if ((uint64_t)a1 >= USER_TOP)
            return -EPERM;
        t->fs_base = a1;
        wrmsr(MSR_FS_BASE, a1);
        return 0;
    case 0x1003:                    /* ARCH_GET_FS */
        return put_user(t->fs_base, (uint64_t *)a1) ? -EFAULT : 0;
    default:
        return -EINVAL;
    }
}

/* ---- accounting ---- */

void proc_tick(bool user_mode)
{
    struct process *p = current_proc();
    if (p) {
        if (user_mode)
            p->utime_ticks++;
        else
            p->stime_ticks++;
    }
    signal_timer_tick();
}
