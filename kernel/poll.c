/*
 * kernel/poll.c: waiting for file readiness: poll, ppoll, select, pselect6.
 *
 * There is one wait queue for every poller in the system (poll_waiters). A file whose readiness
 * changes calls poll_notify(), which wakes every poller; each one asks its files again
 * (file_ops.poll). The asking is the wait condition, so it runs with interrupts off right up to
 * the sleep: a change cannot slip in between asking and sleeping (one CPU per node). Hence a
 * file's poll operation must not sleep. Simple, and cheap at the scale of one node's console and
 * pipes.
 */
#include "kernel/errno.h"
#include "kernel/format.h"
#include "kernel/kmalloc.h"
#include "kernel/ktest.h"
#include "kernel/pipe.h"
#include "kernel/proc.h"
#include "kernel/sched.h"
#include "kernel/signal.h"
#include "kernel/string.h"
#include "kernel/syscall.h"
#include "kernel/uaccess.h"
#include "kernel/vfs.h"

#define POLLRDNORM 0x040
#define POLLRDBAND 0x080
#define POLLWRNORM 0x100
#define POLLWRBAND 0x200
/* A file without a poll operation (a regular file) is always ready. */
#define DEFAULT_POLLMASK (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM)
/* What select counts as readable, writable, exceptional (Linux's sets). */
#define POLLIN_SET (POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR)
#define POLLOUT_SET (POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR)
#define POLLEX_SET (POLLPRI)

#define FDSET_WORDS (FD_MAX / 64)
/* Timeouts beyond this (about 31 years) are treated as none. */
#define MAX_TIMEOUT_SEC 1000000000ull

/* Weak: kernel/vfs.c may define the same two (identically); either copy does. */
__attribute__((weak)) struct waitqueue poll_waiters = { LIST_HEAD_INIT(poll_waiters.waiters) };
__attribute__((weak)) void poll_notify(void) { wake_up(&poll_waiters); }

struct kpollfd {                    /* Linux's struct pollfd */
    int fd;
    short events, revents;
};

struct ktimespec {
    int64_t sec, nsec;
};

struct ktimeval {
    int64_t sec, usec;
};

/* When to give up: nowait (timeout 0: never sleep), or deadline in clock_ns() time (0: never). */
struct timeout {
    bool nowait;
    uint64_t deadline;
};

static struct timeout timeout_from(uint64_t sec, uint64_t nsec)
{
    struct timeout t = { false, 0 };
    if (sec == 0 && nsec == 0)
        t.nowait = true;
    else if (sec < MAX_TIMEOUT_SEC)
        t.deadline = clock_ns() + sec * NSEC_PER_SEC + nsec;
    return t;
}

static uint64_t time_left(const struct timeout *t)
{
    uint64_t now = clock_ns();
    return t->deadline > now ? t->deadline - now : 0;
}

/* Sleeps until scan (re-run on every wakeup, with interrupts off) is non-zero, a signal arrives
 * or the deadline passes. Returns scan's last value, or -EINTR. */
#define wait_for(scan, to)                                                                          \
    ({                                                                                              \
        long __n = (scan);                                                                          \
        if (!__n && !(to).nowait) {                                                                 \
            uint64_t __ns = (to).deadline ? time_left(&(to)) : 0;                                   \
            if (!(to).deadline || __ns) {                                                           \
                if (wait_event_interruptible_timeout(poll_waiters, (__n = (scan)) != 0, __ns) == -EINTR) \
                    __n = -EINTR;                                                                   \
            }                                                                                       \
        }                                                                                           \
        __n;                                                                                        \
    })

static unsigned file_mask(struct file *f)
{
    unsigned m = f->ops && f->ops->poll ? f->ops->poll(f) : DEFAULT_POLLMASK;
    if (m & POLLIN)
        m |= POLLRDNORM;
    if (m & POLLOUT)
        m |= POLLWRNORM;
    return m;
}

/* One look at every entry: fills revents, returns how many have any. */
static long scan_poll(struct fdtable *t, struct kpollfd *fds, size_t n)
{
    long count = 0;
    for (size_t i = 0; i < n; i++) {
        fds[i].revents = 0;
        if (fds[i].fd < 0)
            continue;
        struct file *f = fd_get(t, fds[i].fd);
        unsigned m = POLLNVAL;
        if (f) {
            m = file_mask(f) & ((unsigned short)fds[i].events | POLLERR | POLLHUP);
            file_put(f);
        }
        fds[i].revents = (short)m;
        if (m)
            count++;
    }
    return count;
}

/* The heart of poll/ppoll: the number of entries with events, 0 on timeout, or -EINTR. */
static long do_poll(struct fdtable *t, struct kpollfd *fds, size_t n, struct timeout to)
{
    return wait_for(scan_poll(t, fds, n), to);
}

struct fdsets {
    const uint64_t *in, *out, *ex;  /* asked */
    uint64_t *rin, *rout, *rex;     /* found */
};

/* One look at every descriptor below n in the sets: the count of bits found, or -EBADF. */
static long scan_select(struct fdtable *t, int n, const struct fdsets *s)
{
    long count = 0;
    memset(s->rin, 0, FDSET_WORDS * 8);
    memset(s->rout, 0, FDSET_WORDS * 8);
    memset(s->rex, 0, FDSET_WORDS * 8);
    for (int w = 0; w * 64 < n; w++) {
        uint64_t all = s->in[w] | s->out[w] | s->ex[w];
        for (int b = 0; all && b < 64 && w * 64 + b < n; b++) {
            uint64_t bit = 1ull << b;
            if (!(all & bit))
                continue;
            struct file *f = fd_get(t, w * 64 + b);
            if (!f)
                return -EBADF;
            unsigned m = file_mask(f);
            file_put(f);
            if ((s->in[w] & bit) && (m & POLLIN_SET)) {
                s->rin[w] |= bit;
                count++;
            }
            if ((s->out[w] & bit) && (m & POLLOUT_SET)) {
                s->rout[w] |= bit;
                count++;
            }
            if ((s->ex[w] & bit) && (m & POLLEX_SET)) {
                s->rex[w] |= bit;
                count++;
            }
        }
    }
    return count;
}

/* The heart of select/pselect6: the count of bits found, 0 on timeout, -EBADF or -EINTR. */
static long do_select(struct fdtable *t, int n, const struct fdsets *s, struct timeout to)
{
    return wait_for(scan_select(t, n, s), to);
}

/* ---- signal masks for ppoll/pselect6 ---- */

/* The caller's mask is replaced for the duration of the call. When a signal interrupts it, the
 * temporary mask stays until the handler has been set up (signal delivery restores the saved one),
 * so the signal the call was waiting for is delivered, as Linux does. */
static long sigmask_enter(const uint64_t *umask, long size)
{
    uint64_t mask;
    if (size != 8)
        return -EINVAL;
    if (copy_from_user(&mask, umask, sizeof mask))
        return -EFAULT;
    struct process *p = current_proc();
    p->saved_sigmask = p->sig_blocked;
    p->restore_sigmask = true;
    p->sig_blocked = mask & ~(sigmask(SIGKILL) | sigmask(SIGSTOP));
    return 0;
}

static void sigmask_leave(long r)
{
    struct process *p = current_proc();
    if (r == -EINTR)
        return;
    p->sig_blocked = p->saved_sigmask;
    p->restore_sigmask = false;
}

/* ---- system calls ---- */

static unsigned long nofile_limit(void)
{
    uint64_t cur = current_proc()->rlimits[RLIMIT_NOFILE].cur;
    return cur ? cur : FD_MAX;
}

static long poll_common(struct kpollfd *ufds, unsigned long nfds, struct timeout to)
{
    if (nfds > nofile_limit())
        return -EINVAL;
    struct kpollfd *k = NULL;
    size_t bytes = nfds * sizeof *k;
    if (nfds) {
        k = kmalloc(bytes);
        if (!k)
            return -ENOMEM;
        if (copy_from_user(k, ufds, bytes)) {
            kfree(k);
            return -EFAULT;
        }
    }
    long r = do_poll(current_proc()->files, k, nfds, to);
    for (unsigned long i = 0; r >= 0 && i < nfds; i++)
        if (put_user(k[i].revents, &ufds[i].revents))
            r = -EFAULT;
    kfree(k);
    return r;
}

SYSCALL(NR_poll, poll)
{
    int ms = (int)a2;
    struct timeout to = { ms == 0, 0 };
    if (ms > 0)
        to = timeout_from(ms / 1000, (uint64_t)(ms % 1000) * NSEC_PER_MSEC);
    return poll_common((struct kpollfd *)a0, a1, to);
}

static long read_timespec(const struct ktimespec *uts, struct timeout *to)
{
    struct ktimespec ts;
    if (copy_from_user(&ts, uts, sizeof ts))
        return -EFAULT;
    if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= (int64_t)NSEC_PER_SEC)
        return -EINVAL;
    *to = timeout_from(ts.sec, ts.nsec);
    return 0;
}

/* Like Linux, ppoll, select and pselect6 report the time left; not after a zero timeout. */
static void write_timespec_left(struct ktimespec *uts, const struct timeout *to)
{
    if (!to->deadline)
        return;
    uint64_t left = time_left(to);
    struct ktimespec ts = { (int64_t)(left / NSEC_PER_SEC), (int64_t)(left % NSEC_PER_SEC) };
    (void)copy_to_user(uts, &ts, sizeof ts);     /* Linux ignores a fault here too */
}

SYSCALL(NR_ppoll, ppoll)
{
    struct timeout to = { false, 0 };
    struct ktimespec *uts = (struct ktimespec *)a2;
    long r;
    if (uts && (r = read_timespec(uts, &to)))
        return r;
    if (a3 && (r = sigmask_enter((const uint64_t *)a3, a4)))
        return r;
    r = poll_common((struct kpollfd *)a0, a1, to);
    if (a3)
        sigmask_leave(r);
    if (uts)
        write_timespec_left(uts, &to);
    return r;
}

static long select_common(int n, uint64_t *uin, uint64_t *uout, uint64_t *uex, struct timeout to)
{
    uint64_t in[FDSET_WORDS] = { 0 }, out[FDSET_WORDS] = { 0 }, ex[FDSET_WORDS] = { 0 };
    uint64_t rin[FDSET_WORDS], rout[FDSET_WORDS], rex[FDSET_WORDS];
    if (n < 0)
        return -EINVAL;
    if (n > FD_MAX)
        n = FD_MAX;                 /* no descriptor can be above: Linux clamps the same way */
    size_t bytes = (size_t)(n + 63) / 64 * 8;
    if ((uin && copy_from_user(in, uin, bytes)) || (uout && copy_from_user(out, uout, bytes)) ||
        (uex && copy_from_user(ex, uex, bytes)))
        return -EFAULT;
    struct fdsets s = { in, out, ex, rin, rout, rex };
    long r = do_select(current_proc()->files, n, &s, to);
    if (r < 0)
        return r;
    if ((uin && copy_to_user(uin, rin, bytes)) || (uout && copy_to_user(uout, rout, bytes)) ||
        (uex && copy_to_user(uex, rex, bytes)))
        return -EFAULT;
    return r;
}

SYSCALL(NR_select, select)
{
    struct ktimeval *utv = (struct ktimeval *)a4;
    struct timeout to = { false, 0 };
    if (utv) {
        struct ktimeval tv;
        if (copy_from_user(&tv, utv, sizeof tv))
            return -EFAULT;
        /* Linux normalises microseconds beyond a second rather than refusing them. */
        int64_t sec = tv.sec + tv.usec / 1000000, nsec = tv.usec % 1000000 * 1000;
        if (sec < 0 || nsec < 0)
            return -EINVAL;
        to = timeout_from(sec, nsec);
    }
    long r = select_common(a0, (uint64_t *)a1, (uint64_t *)a2, (uint64_t *)a3, to);
    if (utv && to.deadline) {
        uint64_t left = time_left(&to);
        struct ktimeval tv = { (int64_t)(left / NSEC_PER_SEC), (int64_t)(left % NSEC_PER_SEC / 1000) };
        (void)copy_to_user(utv, &tv, sizeof tv);
    }
    return r;
}

SYSCALL(NR_pselect6, pselect6)
{
    struct ktimespec *uts = (struct ktimespec *)a4;
    struct timeout to = { false, 0 };
    struct {
        uint64_t set, size;         /* const sigset_t *, size_t */
    } sig = { 0, 0 };
    long r;
    if (uts && (r = read_timespec(uts, &to)))
        return r;
    if (a5 && copy_from_user(&sig, (void *)a5, sizeof sig))
        return -EFAULT;
    if (sig.set && (r = sigmask_enter((const uint64_t *)sig.set, sig.size)))
        return r;
    r = select_common(a0, (uint64_t *)a1, (uint64_t *)a2, (uint64_t *)a3, to);
    if (sig.set)
        sigmask_leave(r);
    if (uts)
        write_timespec_left(uts, &to);
    return r;
}

/* ---- self-tests: the poll/select cores on a descriptor table of pipes, from kernel threads ---- */

static void write_later(void *arg)
{
    struct file *wr = arg;
    msleep(30);
    wr->ops->write(wr, "x", 1, NULL);
    file_put(wr);
}

KTEST(poll_select_pipes)
{
    struct fdtable *t = fdtable_new();
    struct file *rd, *wr;
    if (!t || pipe_create(&rd, &wr))
        KTEST_FAIL("setup");
    file_get(wr);                   /* for write_later */
    int fdr = fd_install(t, rd, 0, false), fdw = fd_install(t, wr, 0, false);
    struct timeout now = { true, 0 };

    struct kpollfd fds[3] = { { fdr, POLLIN, 0 }, { fdw, POLLOUT, 0 }, { 99, POLLIN, 0 } };
    long n = do_poll(t, fds, 3, now);
    if (n != 2 || fds[0].revents || fds[1].revents != POLLOUT || fds[2].revents != POLLNVAL)
        KTEST_FAIL("poll now: %ld %#x %#x %#x", n, fds[0].revents, fds[1].revents, fds[2].revents);

    uint64_t t0 = clock_ns();
    n = do_poll(t, fds, 1, timeout_from(0, 50 * NSEC_PER_MSEC));
    uint64_t waited = clock_ns() - t0;
    if (n != 0 || waited < 45 * NSEC_PER_MSEC || waited > 1000 * NSEC_PER_MSEC)
        KTEST_FAIL("timeout: %ld after %lu ms", n, (unsigned long)(waited / NSEC_PER_MSEC));

    if (!kthread_create("poll-writer", write_later, wr))
        KTEST_FAIL("no thread");
    t0 = clock_ns();
    n = do_poll(t, fds, 1, timeout_from(5, 0));
    waited = clock_ns() - t0;
    if (n != 1 || fds[0].revents != POLLIN || waited > 2000 * NSEC_PER_MSEC)
        KTEST_FAIL("woken poll: %ld %#x after %lu ms", n, fds[0].revents, (unsigned long)(waited / NSEC_PER_MSEC));

    uint64_t in[FDSET_WORDS] = { 0 }, out[FDSET_WORDS] = { 0 }, ex[FDSET_WORDS] = { 0 };
    uint64_t rin[FDSET_WORDS], rout[FDSET_WORDS], rex[FDSET_WORDS];
    in[0] = 1ull << fdr | 1ull << fdw;
    out[0] = 1ull << fdw;
    struct fdsets s = { in, out, ex, rin, rout, rex };
    n = do_select(t, 64, &s, now);
    if (n != 2 || rin[0] != 1ull << fdr || rout[0] != 1ull << fdw)
        KTEST_FAIL("select: %ld in %#lx out %#lx", n, rin[0], rout[0]);
    in[1] = 1ull << (99 - 64);
    if (do_select(t, 100, &s, now) != -EBADF)
        KTEST_FAIL("select on a closed descriptor");

    fd_close(t, fdw);
    fds[0].events = POLLIN;
    if (do_poll(t, fds, 1, now) != 1 || fds[0].revents != (POLLIN | POLLHUP))
        KTEST_FAIL("after the writer closed: %#x", fds[0].revents);
    fdtable_put(t);
    return true;
}
