/*
 * kernel/sys_info.c: the informational system calls: who and where am I (uname, hostname,
 * credentials), what time is it (time, gettimeofday, clock_*), how is the system doing (sysinfo,
 * times, getrusage), a few scheduler knobs (sched_yield, affinity, priority), prctl's process name,
 * getrandom, and reboot.
 *
 * uname says "Linux": musl and busybox key some behaviour on the system name (busybox's `uname -o`,
 * feature checks on the release number), and Shoal implements the Linux ABI, so it says it is Linux
 * with a release that names Shoal. Credentials follow Linux's rules with one simplification: there
 * is no saved set-user-ID yet, so "saved" reads as the effective ID.
 */
#include "arch/x86/cpu.h"
#include "arch/x86/io.h"
#include "kernel/format.h"
#include "kernel/kmalloc.h"
#include "kernel/node.h"
#include "kernel/pmm.h"
#include "kernel/printk.h"
#include "kernel/proc.h"
#include "kernel/procfs.h"
#include "kernel/random.h"
#include "kernel/sched.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "kernel/syscall.h"
#include "kernel/time.h"
#include "kernel/uaccess.h"
#include "kernel/wallclock.h"

#define NSEC_PER_TICK (NSEC_PER_SEC / HZ)

/* ---- uname, sethostname ---- */

#define UTS_LEN 65
struct new_utsname {
    char sysname[UTS_LEN], nodename[UTS_LEN], release[UTS_LEN], version[UTS_LEN], machine[UTS_LEN],
        domainname[UTS_LEN];
};

static struct spinlock uts_lock = SPINLOCK_INIT("uts");
static char hostname[UTS_LEN];          /* "" until sethostname: then the name is "node<N>" */

/* syslog(2), as busybox dmesg uses it: this node's kernel log ring (kernel/printk.c). */
SYSCALL(NR_syslog, syslog)
{
    switch (a0) {
    case 0: case 1:                     /* close, open: nothing to do */
        return 0;
    case 3: case 4: {                   /* READ_ALL, READ_CLEAR */
        if (!a1 || a2 < 0)
            return -EINVAL;
        unsigned long cap = (unsigned long)a2 < PRINTK_RING_SIZE ? (unsigned long)a2 : PRINTK_RING_SIZE;
        char *b = kmalloc(cap ? cap : 1);
        if (!b)
            return -ENOMEM;
        unsigned long n = printk_ring_read(b, cap);
        long r = copy_to_user((void *)a1, b, n) ? -EFAULT : (long)n;
        kfree(b);
        if (r >= 0 && a0 == 4)
            printk_ring_clear();
        return r;
    }
    case 5:                             /* CLEAR */
        printk_ring_clear();
        return 0;
    case 6:                             /* CONSOLE_OFF: emergencies only */
        printk_set_level(LOG_EMERG);
        return 0;
    case 7:                             /* CONSOLE_ON */
        printk_set_level(LOG_INFO);
        return 0;
    case 8:                             /* CONSOLE_LEVEL: show messages below a2 */
        if (a2 < 1 || a2 > 8)
            return -EINVAL;
        printk_set_level((int)a2 - 1);
        return 0;
    case 9:                             /* SIZE_UNREAD */
        return (long)printk_ring_used();
    case 10:                            /* SIZE_BUFFER */
        return PRINTK_RING_SIZE;
    default:
        return -EINVAL;
    }
}

SYSCALL(NR_uname, uname)
{
    struct new_utsname u;
    memset(&u, 0, sizeof u);
    strlcpy(u.sysname, "Linux", UTS_LEN);
    strlcpy(u.release, "6.1.0-shoal", UTS_LEN);
    strlcpy(u.version, "#1 SMP Shoal", UTS_LEN);
    strlcpy(u.machine, "x86_64", UTS_LEN);
    strlcpy(u.domainname, "(none)", UTS_LEN);
    uint64_t f = spin_lock_irqsave(&uts_lock);
    if (hostname[0])
        strlcpy(u.nodename, hostname, UTS_LEN);
    spin_unlock_irqrestore(&uts_lock, f);
    if (!u.nodename[0])
        ksnprintf(u.nodename, UTS_LEN, "node%d", node_self());
    return copy_to_user((void *)a0, &u, sizeof u);
}

static bool capable(const struct process *p) { return p && p->euid == 0; }

SYSCALL(NR_sethostname, sethostname)
{
    char name[UTS_LEN];
    size_t len = (size_t)a1;
    if (!capable(current_proc()))
        return -EPERM;
    if (a1 < 0 || len >= UTS_LEN)
        return -EINVAL;
    if (copy_from_user(name, (const void *)a0, len))
        return -EFAULT;
    name[len] = 0;
    uint64_t f = spin_lock_irqsave(&uts_lock);
    memcpy(hostname, name, len + 1);    /* a name with a NUL inside is cut there, as Linux shows it */
    spin_unlock_irqrestore(&uts_lock, f);
    return 0;
}

/* ---- time ---- */

struct k_timespec {
    int64_t tv_sec, tv_nsec;
};
struct k_timeval {
    int64_t tv_sec, tv_usec;
};
struct k_timezone {
    int32_t tz_minuteswest, tz_dsttime;
};

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_PROCESS_CPUTIME_ID 2
#define CLOCK_THREAD_CPUTIME_ID 3
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7

static struct k_timezone sys_tz;        /* what settimeofday was given; only reported back */

static uint64_t process_cpu_ns(void)
{
    struct process *p = current_proc();
    return p ? (p->utime_ticks + p->stime_ticks) * NSEC_PER_TICK : current_task()->ticks_run * NSEC_PER_TICK;
}

/* The clock's current value in ns, or -EINVAL for a clock Shoal does not have. The monotonic clocks
 * are all the TSC: no NTP slewing (RAW = MONOTONIC) and no suspend (BOOTTIME = MONOTONIC). */
static long clock_read(long clk, uint64_t *ns)
{
    switch (clk) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
        *ns = wallclock_ns();
        return 0;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
        *ns = proc_monotonic_ns(current_proc());
        return 0;
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID:       /* one task per process */
        *ns = process_cpu_ns();
        return 0;
    default:
        return -EINVAL;                 /* includes the negative per-pid CPU clocks */
    }
}

static struct k_timespec ns_to_timespec(uint64_t ns)
{
    return (struct k_timespec){ (int64_t)(ns / NSEC_PER_SEC), (int64_t)(ns % NSEC_PER_SEC) };
}

SYSCALL(NR_clock_gettime, clock_gettime)
{
    uint64_t ns;
    long r = clock_read(a0, &ns);
    if (r)
        return r;
    struct k_timespec ts = ns_to_timespec(ns);
    return copy_to_user((void *)a1, &ts, sizeof ts);
}

SYSCALL(NR_clock_getres, clock_getres)
{
    uint64_t ns;
    long r = clock_read(a0, &ns);
    if (r)
        return r;
    /* The TSC clocks resolve to a nanosecond; what counts ticks resolves to a tick. */
    bool tick = a0 == CLOCK_REALTIME_COARSE || a0 == CLOCK_MONOTONIC_COARSE ||
                a0 == CLOCK_PROCESS_CPUTIME_ID || a0 == CLOCK_THREAD_CPUTIME_ID;
    struct k_timespec ts = { 0, tick ? (int64_t)NSEC_PER_TICK : 1 };
    return a1 ? copy_to_user((void *)a1, &ts, sizeof ts) : 0;
}

SYSCALL(NR_clock_settime, clock_settime)
{
    struct k_timespec ts;
    if (a0 != CLOCK_REALTIME)
        return -EINVAL;
    if (copy_from_user(&ts, (const void *)a1, sizeof ts))
        return -EFAULT;
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= (int64_t)NSEC_PER_SEC ||
        (uint64_t)ts.tv_sec > UINT64_MAX / NSEC_PER_SEC - 1)
        return -EINVAL;
    if (!capable(current_proc()))
        return -EPERM;
    wallclock_set_ns((uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec);
    return 0;
}

SYSCALL(NR_gettimeofday, gettimeofday)
{
    if (a0) {
        uint64_t ns = wallclock_ns();
        struct k_timeval tv = { (int64_t)(ns / NSEC_PER_SEC), (int64_t)(ns % NSEC_PER_SEC / 1000) };
        if (copy_to_user((void *)a0, &tv, sizeof tv))
            return -EFAULT;
    }
    if (a1 && copy_to_user((void *)a1, &sys_tz, sizeof sys_tz))
        return -EFAULT;
    return 0;
}

SYSCALL(NR_settimeofday, settimeofday)
{
    struct k_timeval tv;
    struct k_timezone tz;
    if (a0 && copy_from_user(&tv, (const void *)a0, sizeof tv))
        return -EFAULT;
    if (a1 && copy_from_user(&tz, (const void *)a1, sizeof tz))
        return -EFAULT;
    if (a0 && (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000 ||
               (uint64_t)tv.tv_sec > UINT64_MAX / NSEC_PER_SEC - 1))
        return -EINVAL;
    if (a1 && (tz.tz_minuteswest < -15 * 60 || tz.tz_minuteswest > 15 * 60))
        return -EINVAL;
    if (!capable(current_proc()))
        return -EPERM;
    if (a1)
        sys_tz = tz;
    if (a0)
        wallclock_set_ns((uint64_t)tv.tv_sec * NSEC_PER_SEC + (uint64_t)tv.tv_usec * 1000);
    return 0;
}

SYSCALL(NR_time, time)
{
    int64_t t = (int64_t)(wallclock_ns() / NSEC_PER_SEC);
    if (a0 && copy_to_user((void *)a0, &t, sizeof t))
        return -EFAULT;
    return t;
}

/* ---- system and process statistics ---- */

struct k_sysinfo {
    int64_t uptime;
    uint64_t loads[3];                  /* fixed point with 16 fraction bits */
    uint64_t totalram, freeram, sharedram, bufferram, totalswap, freeswap;
    uint16_t procs, pad;
    uint32_t pad2;
    uint64_t totalhigh, freehigh;
    uint32_t mem_unit;
    uint32_t pad3;
};
_Static_assert(sizeof(struct k_sysinfo) == 112, "struct sysinfo is 112 bytes on x86-64");

SYSCALL(NR_sysinfo, sysinfo)
{
    struct k_sysinfo si;
    memset(&si, 0, sizeof si);
    uint64_t up = clock_ns();
    si.uptime = (int64_t)((up + NSEC_PER_SEC - 1) / NSEC_PER_SEC);     /* rounded up, as Linux */
    unsigned long loads[3];
    loadavg_get(loads);
    for (int i = 0; i < 3; i++)
        si.loads[i] = loads[i] << (16 - FSHIFT);
    si.totalram = pmm_total_count() * 4096;
    si.freeram = pmm_free_count() * 4096;
    int n = proc_count();
    si.procs = n > 0xffff ? 0xffff : (uint16_t)n;
    si.mem_unit = 1;
    return copy_to_user((void *)a0, &si, sizeof si);
}

struct k_tms {
    int64_t utime, stime, cutime, cstime;
};

SYSCALL(NR_times, times)
{
    struct process *p = current_proc();
    if (a0) {
        struct k_tms t = { 0, 0, 0, 0 };
        if (p)
            t = (struct k_tms){ (int64_t)p->utime_ticks, (int64_t)p->stime_ticks, (int64_t)p->cutime_ticks,
                                (int64_t)p->cstime_ticks };
        if (copy_to_user((void *)a0, &t, sizeof t))
            return -EFAULT;
    }
    return (long)jiffies();
}

struct k_rusage {
    struct k_timeval utime, stime;
    int64_t maxrss, ixrss, idrss, isrss, minflt, majflt, nswap, inblock, oublock, msgsnd, msgrcv, nsignals,
        nvcsw, nivcsw;
};
_Static_assert(sizeof(struct k_rusage) == 144, "struct rusage is 144 bytes on x86-64");

#define RUSAGE_SELF 0
#define RUSAGE_CHILDREN (-1)
#define RUSAGE_THREAD 1

static struct k_timeval ticks_to_timeval(uint64_t ticks)
{
    uint64_t us = ticks * (1000000 / HZ);
    return (struct k_timeval){ (int64_t)(us / 1000000), (int64_t)(us % 1000000) };
}

SYSCALL(NR_getrusage, getrusage)
{
    struct process *p = current_proc();
    struct k_rusage ru;
    memset(&ru, 0, sizeof ru);
    if (a0 != RUSAGE_SELF && a0 != RUSAGE_CHILDREN && a0 != RUSAGE_THREAD)
        return -EINVAL;
    if (p && a0 == RUSAGE_CHILDREN) {
        ru.utime = ticks_to_timeval(p->cutime_ticks);
        ru.stime = ticks_to_timeval(p->cstime_ticks);
    } else if (p) {
        ru.utime = ticks_to_timeval(p->utime_ticks);
        ru.stime = ticks_to_timeval(p->stime_ticks);
        ru.maxrss = (int64_t)(proc_rss_pages(p) * 4);   /* kB; no peak is kept, the current size stands in */
        ru.minflt = (int64_t)p->min_flt;
        ru.majflt = (int64_t)p->maj_flt;
    }
    return copy_to_user((void *)a1, &ru, sizeof ru);
}

/* ---- scheduler knobs ---- */

SYSCALL(NR_sched_yield, sched_yield)
{
    yield();
    return 0;
}

/* A live (non-zombie) process by pid, 0 meaning the caller; call with interrupts off. */
static struct process *find_target(long pid)
{
    if (pid == 0)
        return current_proc();
    if (pid < 0 || pid > 0x7fffffff)
        return NULL;
    return proc_find((int)pid);
}

SYSCALL(NR_sched_getaffinity, sched_getaffinity)
{
    /* One CPU per node: the mask is CPU 0 alone. Linux wants room for a whole number of longs. */
    if (a1 < (long)sizeof(uint64_t) || (a1 & (sizeof(uint64_t) - 1)))
        return -EINVAL;
    uint64_t f = irq_save();
    bool found = find_target(a0) != NULL;
    irq_restore(f);
    if (!found)
        return -ESRCH;
    uint64_t mask = 1;
    if (copy_to_user((void *)a2, &mask, sizeof mask))
        return -EFAULT;
    return sizeof mask;
}

#define PRIO_PROCESS 0
#define PRIO_PGRP 1
#define PRIO_USER 2

struct prio_walk {
    long which;
    int who;
    int nice;                           /* setpriority: the new value */
    bool set;
    struct process *caller;
    int best;                           /* getpriority: lowest nice seen */
    int matched;
    long err;
};

static bool prio_matches(const struct prio_walk *w, const struct process *p)
{
    if (p->state == PROC_ZOMBIE)
        return false;
    switch (w->which) {
    case PRIO_PROCESS:
        return p->pid == w->who;
    case PRIO_PGRP:
        return p->pgid == w->who;
    default:
        return p->uid == (uint32_t)w->who;
    }
}

static bool prio_visit(struct process *p, void *ctx)
{
    struct prio_walk *w = ctx;
    if (!prio_matches(w, p))
        return true;
    w->matched++;
    if (!w->set) {
        if (p->nice < w->best)
            w->best = p->nice;
        return true;
    }
    /* Linux: only root may touch other users' processes or lower a nice value. */
    if (!capable(w->caller) && w->caller->euid != p->uid && w->caller->euid != p->euid)
        w->err = -EPERM;
    else if (w->nice < p->nice && !capable(w->caller))
        w->err = -EACCES;
    else
        p->nice = w->nice;
    return true;
}

static long prio_walk_run(struct prio_walk *w)
{
    struct process *self = current_proc();
    if (w->which < PRIO_PROCESS || w->which > PRIO_USER)
        return -EINVAL;
    if (w->who == 0 && self)
        w->who = w->which == PRIO_PROCESS ? self->pid : w->which == PRIO_PGRP ? self->pgid : (int)self->uid;
    w->caller = self;
    w->best = 20;
    proc_for_each(prio_visit, w);
    if (!w->matched)
        return -ESRCH;
    return w->err;
}

SYSCALL(NR_getpriority, getpriority)
{
    struct prio_walk w = { .which = a0, .who = (int)a1 };
    long r = prio_walk_run(&w);
    /* The system call returns 20 - nice (1..40) so that no valid value looks like an error. */
    return r ? r : 20 - w.best;
}

SYSCALL(NR_setpriority, setpriority)
{
    long nice = a2 < -20 ? -20 : a2 > 19 ? 19 : a2;
    struct prio_walk w = { .which = a0, .who = (int)a1, .nice = (int)nice, .set = true };
    return prio_walk_run(&w);
}

/* ---- prctl ---- */

#define PR_SET_NAME 15
#define PR_GET_NAME 16

SYSCALL(NR_prctl, prctl)
{
    struct process *p = current_proc();
    if (!p)
        return -EINVAL;
    if (a0 == PR_SET_NAME) {
        /* Up to 15 characters are kept; a longer name is cut, as Linux does. */
        char name[16];
        size_t i = 0;
        for (; i < sizeof name - 1; i++) {
            if (copy_from_user(&name[i], (const char *)a1 + i, 1))
                return -EFAULT;
            if (!name[i])
                break;
        }
        name[i] = 0;
        uint64_t f = irq_save();
        memcpy(p->comm, name, sizeof name);
        irq_restore(f);
        return 0;
    }
    if (a0 == PR_GET_NAME) {
        char name[16];
        uint64_t f = irq_save();
        memcpy(name, p->comm, sizeof name);
        irq_restore(f);
        name[15] = 0;
        return copy_to_user((void *)a1, name, sizeof name);
    }
    return -EINVAL;
}

/* ---- getrandom ---- */

#define GRND_NONBLOCK 0x1
#define GRND_RANDOM 0x2
#define GRND_INSECURE 0x4
#define GETRANDOM_MAX 0x7ffff000        /* Linux's MAX_RW_COUNT */

SYSCALL(NR_getrandom, getrandom)
{
    uint64_t flags = (uint64_t)a2;
    if (flags & ~(uint64_t)(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE))
        return -EINVAL;
    if ((flags & GRND_INSECURE) && (flags & GRND_RANDOM))
        return -EINVAL;
    /* The generator is seeded at boot and never blocks, so the flags change nothing. */
    size_t len = (size_t)a1 > GETRANDOM_MAX ? GETRANDOM_MAX : (size_t)a1;
    uint8_t chunk[256];
    size_t done = 0;
    while (done < len) {
        size_t n = len - done < sizeof chunk ? len - done : sizeof chunk;
        random_bytes(chunk, n);
        if (copy_to_user((uint8_t *)a0 + done, chunk, n))
            return done ? (long)done : -EFAULT;
        done += n;
        if (done < len && signal_pending())
            return (long)done;
    }
    memset(chunk, 0, sizeof chunk);
    return (long)done;
}

/* ---- credentials ---- */

#define NO_CHANGE 0xffffffffu             /* (uid_t)-1: leave this ID alone */

SYSCALL(NR_getuid, getuid) { return current_proc() ? current_proc()->uid : 0; }
SYSCALL(NR_geteuid, geteuid) { return current_proc() ? current_proc()->euid : 0; }
SYSCALL(NR_getgid, getgid) { return current_proc() ? current_proc()->gid : 0; }
SYSCALL(NR_getegid, getegid) { return current_proc() ? current_proc()->egid : 0; }

static long put_three(long a0, long a1, long a2, uint32_t r, uint32_t e, uint32_t s)
{
    if (put_user(r, (uint32_t *)a0) || put_user(e, (uint32_t *)a1) || put_user(s, (uint32_t *)a2))
        return -EFAULT;
    return 0;
}

SYSCALL(NR_getresuid, getresuid)
{
    struct process *p = current_proc();
    if (!p)
        return -ESRCH;
    return put_three(a0, a1, a2, p->uid, p->euid, p->euid);
}

SYSCALL(NR_getresgid, getresgid)
{
    struct process *p = current_proc();
    if (!p)
        return -ESRCH;
    return put_three(a0, a1, a2, p->gid, p->egid, p->egid);
}

/*
 * The common core of set*uid and set*gid: *real and *eff are the process's IDs; r and e the
 * requested ones (NO_CHANGE to keep). An unprivileged process may only pick among its current
 * real and effective IDs (and the saved one, which is the effective one here).
 */
static long set_ids(struct process *p, uint32_t *real, uint32_t *eff, uint32_t r, uint32_t e, uint32_t s)
{
    if (!p)
        return -ESRCH;
    if (!capable(p)) {
        uint32_t want[3] = { r, e, s };
        for (int i = 0; i < 3; i++)
            if (want[i] != NO_CHANGE && want[i] != *real && want[i] != *eff)
                return -EPERM;
    }
    if (r != NO_CHANGE)
        *real = r;
    if (e != NO_CHANGE)
        *eff = e;
    return 0;
}

SYSCALL(NR_setuid, setuid)
{
    struct process *p = current_proc();
    uint32_t id = (uint32_t)a0;
    if (id == NO_CHANGE)
        return -EINVAL;
    /* Root sets every ID; anyone else only the effective one, to its real (or saved) ID. */
    if (capable(p))
        return set_ids(p, &p->uid, &p->euid, id, id, id);
    return set_ids(p, &p->uid, &p->euid, NO_CHANGE, id, NO_CHANGE);
}

SYSCALL(NR_setgid, setgid)
{
    struct process *p = current_proc();
    uint32_t id = (uint32_t)a0;
    if (id == NO_CHANGE)
        return -EINVAL;
    if (capable(p))
        return set_ids(p, &p->gid, &p->egid, id, id, id);
    return set_ids(p, &p->gid, &p->egid, NO_CHANGE, id, NO_CHANGE);
}

SYSCALL(NR_setreuid, setreuid)
{
    struct process *p = current_proc();
    return set_ids(p, &p->uid, &p->euid, (uint32_t)a0, (uint32_t)a1, NO_CHANGE);
}

SYSCALL(NR_setregid, setregid)
{
    struct process *p = current_proc();
    return set_ids(p, &p->gid, &p->egid, (uint32_t)a0, (uint32_t)a1, NO_CHANGE);
}

SYSCALL(NR_setresuid, setresuid)
{
    struct process *p = current_proc();
    return set_ids(p, &p->uid, &p->euid, (uint32_t)a0, (uint32_t)a1, (uint32_t)a2);
}

SYSCALL(NR_setresgid, setresgid)
{
    struct process *p = current_proc();
    return set_ids(p, &p->gid, &p->egid, (uint32_t)a0, (uint32_t)a1, (uint32_t)a2);
}

/* Supplementary groups are not kept (struct process has no list): every process has none. */
SYSCALL(NR_getgroups, getgroups)
{
    return a0 < 0 ? -EINVAL : 0;
}

SYSCALL(NR_setgroups, setgroups)
{
    if (!capable(current_proc()))
        return -EPERM;
    if (a0 < 0 || a0 > 65536)
        return -EINVAL;
    /* Clearing the list is what we can honour; a non-empty list cannot be stored yet. */
    return a0 == 0 ? 0 : -EINVAL;
}

/* ---- reboot ---- */

#define LINUX_REBOOT_MAGIC1 0xfee1deadul
#define LINUX_REBOOT_MAGIC2 672274793ul
#define LINUX_REBOOT_MAGIC2A 85072278ul
#define LINUX_REBOOT_MAGIC2B 369367448ul
#define LINUX_REBOOT_MAGIC2C 537993216ul
#define LINUX_REBOOT_CMD_RESTART 0x01234567ul
#define LINUX_REBOOT_CMD_HALT 0xcdef0123ul
#define LINUX_REBOOT_CMD_CAD_ON 0x89abcdeful
#define LINUX_REBOOT_CMD_CAD_OFF 0x00000000ul
#define LINUX_REBOOT_CMD_POWER_OFF 0x4321fedcul
#define LINUX_REBOOT_CMD_RESTART2 0xa1b2c3d4ul

#define QEMU_DEBUG_EXIT_PORT 0xf4

static bool cad_enabled = true;         /* Ctrl-Alt-Del reboots (kept for init; no keyboard uses it yet) */

/* Pulses the CPU reset line through the 8042 keyboard controller; QEMU and PCs honour it. */
static __attribute__((noreturn)) void machine_restart(void)
{
    printk(LOG_EMERG, "reboot: Restarting system\n");
    for (int i = 0; i < 100000 && (inb(0x64) & 0x02); i++)     /* input buffer must be empty */
        cpu_relax();
    outb(0x64, 0xfe);
    udelay(100000);
    printk(LOG_EMERG, "reboot: keyboard controller reset failed\n");
    cpu_halt_forever();
}

/*
 * Power-off without ACPI (whose AML interpreter is out of scope): QEMU's isa-debug-exit device, which
 * every Shoal QEMU launch adds, ends QEMU (exit status (0 << 1) | 1 = 1). Elsewhere the CPU halts.
 */
static __attribute__((noreturn)) void machine_power_off(void)
{
    printk(LOG_EMERG, "reboot: Power down\n");
    outl(QEMU_DEBUG_EXIT_PORT, 0);
    printk(LOG_EMERG, "reboot: no power-off device; System halted.\n");
    cpu_halt_forever();
}

SYSCALL(NR_reboot, reboot)
{
    unsigned long m1 = (uint32_t)a0, m2 = (uint32_t)a1, cmd = (uint32_t)a2;
    if (!capable(current_proc()))
        return -EPERM;
    if (m1 != LINUX_REBOOT_MAGIC1 || (m2 != LINUX_REBOOT_MAGIC2 && m2 != LINUX_REBOOT_MAGIC2A &&
                                      m2 != LINUX_REBOOT_MAGIC2B && m2 != LINUX_REBOOT_MAGIC2C))
        return -EINVAL;
    switch (cmd) {
    case LINUX_REBOOT_CMD_CAD_ON:
        cad_enabled = true;
        return 0;
    case LINUX_REBOOT_CMD_CAD_OFF:
        cad_enabled = false;
        return 0;
    case LINUX_REBOOT_CMD_RESTART:
    case LINUX_REBOOT_CMD_RESTART2:
        machine_restart();
    case LINUX_REBOOT_CMD_HALT:
        printk(LOG_EMERG, "reboot: System halted.\n");
        cpu_halt_forever();
    case LINUX_REBOOT_CMD_POWER_OFF:
        machine_power_off();
    default:
        return -EINVAL;
    }
}
