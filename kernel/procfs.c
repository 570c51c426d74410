/*
 * kernel/procfs.c: /proc. Every file is generated in full when it is opened, into a kmalloc'ed
 * buffer that read() copies from and the last close frees, so a reader sees one consistent
 * snapshot however it splits its reads (busybox ps reads stat with one 1023-byte read, top with
 * stdio). Formats are Linux's (docs: /work/shared/notes/linux-procfs-format.md), since busybox
 * ps, top, free, uptime and mount parse them.
 *
 * Inodes: procfs keeps one inode per (kind, pid, fd) it has been asked about, in a cache, so that
 * repeated lookups give the same inode; entries of processes that are gone and that nobody holds
 * any more are dropped whenever /proc is listed (what ps and top do) or the cache grows large.
 * Inode numbers are derived from (pid, kind, fd), so getdents and stat agree without allocating
 * inodes to list a directory.
 *
 * Also here: the load average (sampled every 5 s by a kernel thread) and the CPU time split that
 * /proc/stat, /proc/uptime and sysinfo share.
 */
#include "kernel/procfs.h"
#include "arch/x86/cpu.h"
#include "kernel/format.h"
#include "kernel/heap.h"
#include "kernel/kmalloc.h"
#include "kernel/ktest.h"
#include "kernel/list.h"
#include "kernel/node.h"
#include "kernel/pmm.h"
#include "kernel/printk.h"
#include "kernel/proc.h"
#include "kernel/sched.h"
#include "kernel/spinlock.h"
#include "kernel/ssi.h"
#include "kernel/deputy.h"
#include "kernel/migrate.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/tty.h"
#include "kernel/vfs.h"
#include "kernel/wallclock.h"
#include <stdarg.h>

#define PROCFS_ROOT_INO 1               /* as on Linux */

/* ---- the text buffer files are generated into ---- */

struct pbuf {
    char *data;
    size_t len, cap;
    bool nomem;
};

static bool pb_reserve(struct pbuf *b, size_t extra)
{
    if (b->nomem)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *d = kmalloc(cap);
    if (!d) {
        b->nomem = true;
        return false;
    }
    if (b->len)
        memcpy(d, b->data, b->len);
    kfree(b->data);
    b->data = d;
    b->cap = cap;
    return true;
}

static void pb_write(struct pbuf *b, const void *p, size_t n)
{
    if (!pb_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

__attribute__((format(printf, 2, 3))) static void pb_printf(struct pbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    int n = kvsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= room) {            /* did not fit: grow and format again */
        if (!pb_reserve(b, (size_t)n))
            return;
        va_start(ap, fmt);
        kvsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

static void pb_free(struct pbuf *b)
{
    kfree(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- load average and CPU times ---- */

#define LOAD_FREQ_MS 5000
#define EXP_1 1884                      /* FIXED_1 / exp(5 s / 1 min) */
#define EXP_5 2014
#define EXP_15 2037

static unsigned long avenrun[3];
static struct spinlock stats_lock = SPINLOCK_INIT("procstats");

/* One step of Linux's exponential decay; rounds up while the load rises so it can reach the target. */
static unsigned long calc_load(unsigned long load, unsigned long exp, unsigned long active)
{
    unsigned long newload = load * exp + active * (FIXED_1 - exp);
    if (active >= load)
        newload += FIXED_1 - 1;
    return newload / FIXED_1;
}

static void loadavg_update(unsigned nr_active)
{
    unsigned long active = (unsigned long)nr_active * FIXED_1;
    uint64_t f = spin_lock_irqsave(&stats_lock);
    avenrun[0] = calc_load(avenrun[0], EXP_1, active);
    avenrun[1] = calc_load(avenrun[1], EXP_5, active);
    avenrun[2] = calc_load(avenrun[2], EXP_15, active);
    spin_unlock_irqrestore(&stats_lock, f);
}

void loadavg_get(unsigned long loads[3])
{
    uint64_t f = spin_lock_irqsave(&stats_lock);
    for (int i = 0; i < 3; i++)
        loads[i] = avenrun[i];
    spin_unlock_irqrestore(&stats_lock, f);
}

static void loadavg_thread(void *arg)
{
    for (;;) {
        msleep(LOAD_FREQ_MS);
        unsigned n = sched_nr_running();
        loadavg_update(n ? n - 1 : 0);  /* not counting this thread, which is running to count */
    }
}

struct cpu_walk {
    uint64_t user, nice, system;
    int max_pid, running;
};

static bool cpu_visit(struct process *p, void *ctx)
{
    struct cpu_walk *w = ctx;
    uint64_t u = p->utime_ticks + p->cutime_ticks;
    if (p->nice > 0)
        w->nice += u;
    else
        w->user += u;
    w->system += p->stime_ticks + p->cstime_ticks;
    if (p->pid > w->max_pid)
        w->max_pid = p->pid;
    return true;
}

static struct cpu_times last_times;
static int highest_pid;                 /* ever seen: /proc/stat's "processes" must not go down */

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* Also reports the highest pid (pids are handed out in order, so it counts the forks since boot). */
static void cpu_times_walk(struct cpu_times *t, int *max_pid)
{
    struct cpu_walk w = { 0, 0, 0, 0, 0 };
    proc_for_each(cpu_visit, &w);
    uint64_t now = jiffies(), busy = w.user + w.nice + w.system;
    uint64_t f = spin_lock_irqsave(&stats_lock);
    /* Times move from a child to its parent's cutime when it is reaped; a child reaped by nobody
     * takes its time with it. Keeping each figure monotonic hides that from top's deltas. */
    last_times.user = max_u64(last_times.user, w.user);
    last_times.nice = max_u64(last_times.nice, w.nice);
    last_times.system = max_u64(last_times.system, w.system);
    last_times.idle = max_u64(last_times.idle, now > busy ? now - busy : 0);
    *t = last_times;
    if (w.max_pid > highest_pid)
        highest_pid = w.max_pid;
    if (max_pid)
        *max_pid = highest_pid;
    spin_unlock_irqrestore(&stats_lock, f);
}

void cpu_times_get(struct cpu_times *t) { cpu_times_walk(t, NULL); }

/* ---- system-wide files ---- */

static char kernel_cmdline[1024];

void procfs_set_cmdline(const char *line) { strlcpy(kernel_cmdline, line, sizeof kernel_cmdline); }

static void meminfo_line(struct pbuf *b, const char *key, uint64_t kb)
{
    char label[20];
    ksnprintf(label, sizeof label, "%s:", key);
    pb_printf(b, "%-15s %8lu kB\n", label, kb);
}

static bool rss_visit(struct process *p, void *ctx)
{
    if (p->state != PROC_ZOMBIE)
        *(uint64_t *)ctx += proc_rss_pages(p);
    return true;
}

static int gen_meminfo(struct pbuf *b)
{
    uint64_t total = pmm_total_count() * 4, free = pmm_free_count() * 4, anon = 0;
    struct heap_stats hs;
    struct sched_stats ss;
    kmalloc_stats(&hs);
    sched_get_stats(&ss);
    proc_for_each(rss_visit, &anon);
    anon *= 4;
    uint64_t slab = hs.pages_in_use * 4;
    meminfo_line(b, "MemTotal", total);
    meminfo_line(b, "MemFree", free);
    meminfo_line(b, "MemAvailable", free);  /* nothing is cached, so nothing more is reclaimable */
    meminfo_line(b, "Buffers", 0);
    meminfo_line(b, "Cached", 0);
    meminfo_line(b, "SwapCached", 0);
    meminfo_line(b, "Active", anon);
    meminfo_line(b, "Inactive", 0);
    meminfo_line(b, "Active(anon)", anon);
    meminfo_line(b, "Inactive(anon)", 0);
    meminfo_line(b, "Active(file)", 0);
    meminfo_line(b, "Inactive(file)", 0);
    meminfo_line(b, "Unevictable", 0);
    meminfo_line(b, "Mlocked", 0);
    meminfo_line(b, "SwapTotal", 0);
    meminfo_line(b, "SwapFree", 0);
    meminfo_line(b, "Dirty", 0);
    meminfo_line(b, "Writeback", 0);
    meminfo_line(b, "AnonPages", anon);
    meminfo_line(b, "Mapped", 0);
    meminfo_line(b, "Shmem", 0);
    meminfo_line(b, "KReclaimable", 0);
    meminfo_line(b, "Slab", slab);
    meminfo_line(b, "SReclaimable", 0);
    meminfo_line(b, "SUnreclaim", slab);
    meminfo_line(b, "KernelStack", ss.tasks * (KSTACK_SIZE / 1024));
    meminfo_line(b, "PageTables", 0);
    meminfo_line(b, "CommitLimit", total);
    meminfo_line(b, "Committed_AS", anon);
    return 0;
}

static int gen_uptime(struct pbuf *b)
{
    struct cpu_times t;
    cpu_times_get(&t);
    uint64_t up = clock_ns() / (NSEC_PER_SEC / 100);   /* hundredths of a second */
    uint64_t idle = t.idle * (100 / HZ);
    pb_printf(b, "%lu.%02lu %lu.%02lu\n", up / 100, up % 100, idle / 100, idle % 100);
    return 0;
}

#define LOAD_INT(x) ((x) >> FSHIFT)
#define LOAD_FRAC(x) LOAD_INT(((x) & (FIXED_1 - 1)) * 100)

static int gen_loadavg(struct pbuf *b)
{
    unsigned long l[3];
    struct sched_stats ss;
    struct cpu_times t;
    int max_pid;
    loadavg_get(l);
    sched_get_stats(&ss);
    cpu_times_walk(&t, &max_pid);
    for (int i = 0; i < 3; i++)
        l[i] += FIXED_1 / 200;          /* round to the nearest hundredth, as Linux prints it */
    pb_printf(b, "%lu.%02lu %lu.%02lu %lu.%02lu %u/%lu %d\n", LOAD_INT(l[0]), LOAD_FRAC(l[0]), LOAD_INT(l[1]),
              LOAD_FRAC(l[1]), LOAD_INT(l[2]), LOAD_FRAC(l[2]), sched_nr_running(), ss.tasks, max_pid);
    return 0;
}

static int gen_stat(struct pbuf *b)
{
    struct cpu_times t;
    struct sched_stats ss;
    int max_pid;
    cpu_times_walk(&t, &max_pid);
    sched_get_stats(&ss);
    /* One CPU: the total line and cpu0 are the same. iowait, irq, softirq, steal, guest: not measured. */
    pb_printf(b, "cpu  %lu %lu %lu %lu 0 0 0 0 0 0\n", t.user, t.nice, t.system, t.idle);
    pb_printf(b, "cpu0 %lu %lu %lu %lu 0 0 0 0 0 0\n", t.user, t.nice, t.system, t.idle);
    pb_printf(b, "intr %lu\n", jiffies());     /* the timer interrupts; others are not counted */
    pb_printf(b, "ctxt %lu\n", ss.switches);
    pb_printf(b, "btime %lu\n", (unsigned long)(wallclock_boot_ns() / NSEC_PER_SEC));
    pb_printf(b, "processes %d\n", max_pid);
    pb_printf(b, "procs_running %u\n", sched_nr_running());
    pb_printf(b, "procs_blocked 0\n");
    pb_printf(b, "softirq 0 0 0 0 0 0 0 0 0 0 0\n");
    return 0;
}

/* CPUID feature bits shown in /proc/cpuinfo's flags line, in Linux's names and order. */
struct cpu_flag {
    uint8_t word, bit;                  /* word: 0 = 1.EDX, 1 = 1.ECX, 2 = 0x80000001.EDX, 3 = 0x80000001.ECX, 4 = 7.EBX */
    const char *name;
};
static const struct cpu_flag cpu_flags[] = {
    { 0, 0, "fpu" },      { 0, 1, "vme" },         { 0, 2, "de" },        { 0, 3, "pse" },
    { 0, 4, "tsc" },      { 0, 5, "msr" },         { 0, 6, "pae" },       { 0, 7, "mce" },
    { 0, 8, "cx8" },      { 0, 9, "apic" },        { 0, 11, "sep" },      { 0, 12, "mtrr" },
    { 0, 13, "pge" },     { 0, 14, "mca" },        { 0, 15, "cmov" },     { 0, 16, "pat" },
    { 0, 17, "pse36" },   { 0, 19, "clflush" },    { 0, 23, "mmx" },      { 0, 24, "fxsr" },
    { 0, 25, "sse" },     { 0, 26, "sse2" },       { 0, 27, "ss" },       { 0, 28, "ht" },
    { 2, 11, "syscall" }, { 2, 20, "nx" },         { 2, 26, "pdpe1gb" },  { 2, 27, "rdtscp" },
    { 2, 29, "lm" },      { 1, 0, "pni" },         { 1, 1, "pclmulqdq" }, { 1, 9, "ssse3" },
    { 1, 12, "fma" },     { 1, 13, "cx16" },       { 1, 19, "sse4_1" },   { 1, 20, "sse4_2" },
    { 1, 21, "x2apic" },  { 1, 22, "movbe" },      { 1, 23, "popcnt" },   { 1, 25, "aes" },
    { 1, 26, "xsave" },   { 1, 28, "avx" },        { 1, 29, "f16c" },     { 1, 30, "rdrand" },
    { 1, 31, "hypervisor" }, { 3, 0, "lahf_lm" },  { 3, 5, "abm" },       { 4, 0, "fsgsbase" },
    { 4, 3, "bmi1" },     { 4, 5, "avx2" },        { 4, 7, "smep" },      { 4, 8, "bmi2" },
    { 4, 9, "erms" },     { 4, 18, "rdseed" },     { 4, 19, "adx" },      { 4, 20, "smap" },
};

static int gen_cpuinfo(struct pbuf *b)
{
    uint32_t r[4], words[5] = { 0 };
    char vendor[13], brand[49] = "";
    cpuid(0, 0, r);
    uint32_t max_leaf = r[0];
    memcpy(vendor, &r[1], 4);
    memcpy(vendor + 4, &r[3], 4);
    memcpy(vendor + 8, &r[2], 4);
    vendor[12] = 0;
    cpuid(1, 0, r);
    uint32_t sig = r[0], misc = r[1];
    words[0] = r[3];
    words[1] = r[2];
    unsigned family = (sig >> 8) & 0xf, model = (sig >> 4) & 0xf, stepping = sig & 0xf;
    if (family == 0xf)
        family += (sig >> 20) & 0xff;
    if (family == 6 || family >= 0xf)
        model |= ((sig >> 16) & 0xf) << 4;
    if (max_leaf >= 7) {
        cpuid(7, 0, r);
        words[4] = r[1];
    }
    cpuid(0x80000000u, 0, r);
    uint32_t max_ext = r[0];
    unsigned phys_bits = 36, virt_bits = 48;
    if (max_ext >= 0x80000001u) {
        cpuid(0x80000001u, 0, r);
        words[2] = r[3];
        words[3] = r[2];
    }
    if (max_ext >= 0x80000004u) {
        for (uint32_t i = 0; i < 3; i++) {
            cpuid(0x80000002u + i, 0, r);
            memcpy(brand + 16 * i, r, 16);
        }
        brand[48] = 0;
    }
    if (max_ext >= 0x80000008u) {
        cpuid(0x80000008u, 0, r);
        phys_bits = r[0] & 0xff;
        virt_bits = (r[0] >> 8) & 0xff;
    }
    const char *name = brand;
    while (*name == ' ')
        name++;
    uint64_t khz = tsc_hz() / 1000;
    unsigned clflush = ((misc >> 8) & 0xff) * 8;

    pb_printf(b, "processor\t: 0\n");
    pb_printf(b, "vendor_id\t: %s\n", vendor);
    pb_printf(b, "cpu family\t: %u\n", family);
    pb_printf(b, "model\t\t: %u\n", model);
    pb_printf(b, "model name\t: %s\n", *name ? name : "unknown");
    pb_printf(b, "stepping\t: %u\n", stepping);
    pb_printf(b, "cpu MHz\t\t: %lu.%03lu\n", khz / 1000, khz % 1000);
    pb_printf(b, "physical id\t: 0\nsiblings\t: 1\ncore id\t\t: 0\ncpu cores\t: 1\n");
    pb_printf(b, "apicid\t\t: %u\ninitial apicid\t: %u\n", misc >> 24, misc >> 24);
    pb_printf(b, "fpu\t\t: yes\nfpu_exception\t: yes\n");
    pb_printf(b, "cpuid level\t: %u\n", max_leaf);
    pb_printf(b, "wp\t\t: yes\n");
    pb_printf(b, "flags\t\t:");
    for (size_t i = 0; i < sizeof cpu_flags / sizeof cpu_flags[0]; i++)
        if (words[cpu_flags[i].word] & (1u << cpu_flags[i].bit))
            pb_printf(b, " %s", cpu_flags[i].name);
    pb_printf(b, "\n");
    pb_printf(b, "bogomips\t: %lu.%02lu\n", 2 * khz / 1000, 2 * khz % 1000 / 10);
    pb_printf(b, "clflush size\t: %u\ncache_alignment\t: %u\n", clflush, clflush);
    pb_printf(b, "address sizes\t: %u bits physical, %u bits virtual\n", phys_bits, virt_bits);
    pb_printf(b, "power management:\n\n");
    return 0;
}

static bool mount_visit(const struct vfs_mount_info *m, void *ctx)
{
    pb_printf(ctx, "%s %s %s rw 0 0\n", m->source, m->target, m->fstype);
    return true;
}

static int gen_mounts(struct pbuf *b)
{
    vfs_for_each_mount(mount_visit, b);
    return 0;
}

static int gen_version(struct pbuf *b)
{
    pb_printf(b, "Linux version 6.1.0-shoal (shoal@shoal) (gcc version " __VERSION__ ") #1 SMP Shoal\n");
    return 0;
}

static int gen_cmdline(struct pbuf *b)
{
    pb_printf(b, "%s\n", kernel_cmdline);
    return 0;
}

static int gen_filesystems(struct pbuf *b)
{
    pb_printf(b, "nodev\tramfs\nnodev\ttmpfs\nnodev\tdevtmpfs\nnodev\tproc\n");
    return 0;
}

/* ---- per-process files; generated with interrupts off, which keeps the process table still ---- */


/* The terminal of a process; one that runs here away from home has the one its home told it. */
static uint32_t p_tty_nr(struct process *p)
{
    return p->kind == PROC_REMOTE ? deputy_remote_tty_nr(p) : tty_devnum(p->tty);
}

static int p_tpgid(struct process *p)
{
    return p->kind == PROC_REMOTE ? deputy_remote_tpgid(p) : tty_fg_pgrp(p->tty);
}

static void signal_masks(struct process *p, uint64_t *ignored, uint64_t *caught)
{
    *ignored = *caught = 0;
    for (int i = 0; i < NSIG; i++) {
        if (p->sigactions[i].handler == 1)
            *ignored |= 1ull << i;
        else if (p->sigactions[i].handler > 1)
            *caught |= 1ull << i;
    }
}

static int gen_pid_stat(struct pbuf *b, struct process *p)
{
    uint64_t ign, cgt;
    signal_masks(p, &ign, &cgt);
    bool zombie = p->state == PROC_ZOMBIE;
    uint64_t vsize = zombie ? 0 : proc_vsize(p), rss = zombie ? 0 : proc_rss_pages(p);
    char comm[17];
    memcpy(comm, p->comm, 16);
    comm[16] = 0;
    pb_printf(b, "%d (%s) %c %d %d %d %d %d %u ", p->pid, comm, proc_state_char(p), proc_ppid(p), p->pgid, p->sid,
              (int)p_tty_nr(p), p_tpgid(p), 0u);
    /* minflt cminflt majflt cmajflt utime stime cutime cstime priority nice num_threads itrealvalue */
    pb_printf(b, "%lu 0 %lu 0 %lu %lu %lu %lu %d %d 1 0 ", p->min_flt, p->maj_flt, p->utime_ticks, p->stime_ticks,
              p->cutime_ticks, p->cstime_ticks, 20 + p->nice, p->nice);
    /* starttime vsize rss rsslim startcode endcode startstack kstkesp kstkeip */
    pb_printf(b, "%lu %lu %lu %lu 0 0 0 0 0 ", (unsigned long)(p->start_ns / (NSEC_PER_SEC / HZ)), vsize, rss, ~0ul);
    /* signal blocked sigignore sigcatch wchan nswap cnswap exit_signal processor rt_priority policy */
    pb_printf(b, "%lu %lu %lu %lu 0 0 0 %d 0 0 0 ", p->sig_pending, p->sig_blocked, ign, cgt, SIGCHLD);
    /* delayacct_blkio_ticks guest_time cguest_time start_data end_data start_brk arg_start arg_end
     * env_start env_end exit_code */
    pb_printf(b, "0 0 0 0 0 0 0 0 0 0 %d\n", zombie ? p->exit_status : 0);
    return 0;
}

static const char *state_name(char c)
{
    switch (c) {
    case 'R':
        return "R (running)";
    case 'S':
        return "S (sleeping)";
    case 'D':
        return "D (disk sleep)";
    case 'T':
        return "T (stopped)";
    case 'Z':
        return "Z (zombie)";
    default:
        return "X (dead)";
    }
}

static int gen_pid_status(struct pbuf *b, struct process *p)
{
    uint64_t ign, cgt;
    signal_masks(p, &ign, &cgt);
    char comm[17];
    memcpy(comm, p->comm, 16);
    comm[16] = 0;
    int ppid = proc_ppid(p);
    pb_printf(b, "Name:\t%s\n", comm);
    pb_printf(b, "Umask:\t%04o\n", p->fs ? p->fs->umask : 022);
    pb_printf(b, "State:\t%s\n", state_name(proc_state_char(p)));
    pb_printf(b, "Tgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nTracerPid:\t0\n", p->pid, p->pid, ppid);
    /* real, effective, saved, file-system IDs; Shoal keeps no saved ID, it reads as the effective one */
    pb_printf(b, "Uid:\t%u\t%u\t%u\t%u\n", p->uid, p->euid, p->euid, p->euid);
    pb_printf(b, "Gid:\t%u\t%u\t%u\t%u\n", p->gid, p->egid, p->egid, p->egid);
    pb_printf(b, "FDSize:\t%d\nGroups:\t\n", FD_MAX);
    pb_printf(b, "NStgid:\t%d\nNSpid:\t%d\nNSpgid:\t%d\nNSsid:\t%d\n", p->pid, p->pid, p->pgid, p->sid);
    if (p->state != PROC_ZOMBIE) {
        uint64_t vm = proc_vsize(p) / 1024, rss = proc_rss_pages(p) * 4;
        pb_printf(b, "VmPeak:\t%8lu kB\nVmSize:\t%8lu kB\nVmLck:\t%8u kB\nVmPin:\t%8u kB\n", vm, vm, 0u, 0u);
        pb_printf(b, "VmHWM:\t%8lu kB\nVmRSS:\t%8lu kB\n", rss, rss);
        pb_printf(b, "RssAnon:\t%8lu kB\nRssFile:\t%8u kB\nRssShmem:\t%8u kB\n", rss, 0u, 0u);
        pb_printf(b, "VmData:\t%8u kB\nVmStk:\t%8u kB\nVmExe:\t%8u kB\nVmLib:\t%8u kB\n", 0u, 0u, 0u, 0u);
        pb_printf(b, "VmPTE:\t%8u kB\nVmSwap:\t%8u kB\n", 0u, 0u);
    }
    pb_printf(b, "Threads:\t1\n");
    int queued = 0;
    for (uint64_t m = p->sig_pending; m; m &= m - 1)
        queued++;
    pb_printf(b, "SigQ:\t%d/%lu\n", queued, 4096ul);
    pb_printf(b, "SigPnd:\t%016lx\nShdPnd:\t%016lx\n", 0ul, p->sig_pending);
    pb_printf(b, "SigBlk:\t%016lx\nSigIgn:\t%016lx\nSigCgt:\t%016lx\n", p->sig_blocked, ign, cgt);
    uint64_t caps = p->euid == 0 ? 0x1fffffffffful : 0;
    pb_printf(b, "CapInh:\t%016lx\nCapPrm:\t%016lx\nCapEff:\t%016lx\nCapBnd:\t%016lx\nCapAmb:\t%016lx\n", 0ul, caps,
              caps, 0x1fffffffffful, 0ul);
    pb_printf(b, "NoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n");
    pb_printf(b, "Cpus_allowed:\t1\nCpus_allowed_list:\t0\nMems_allowed:\t1\nMems_allowed_list:\t0\n");
    pb_printf(b, "voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n");
    return 0;
}

static int gen_pid_cmdline(struct pbuf *b, struct process *p)
{
    if (p->cmdline && p->cmdline_len && p->state != PROC_ZOMBIE)    /* as Linux: a zombie has no memory */
        pb_write(b, p->cmdline, p->cmdline_len);
    return 0;
}

static int gen_pid_comm(struct pbuf *b, struct process *p)
{
    char comm[17];
    memcpy(comm, p->comm, 16);
    comm[16] = 0;
    pb_printf(b, "%s\n", comm);
    return 0;
}

/* ---- per-process files of another node's process, from its record (kernel/ssi.h), in the same
 * formats; what the record does not carry (signal masks, faults, children's times) reads as 0 ---- */

static void gen_remote_stat(struct pbuf *b, const struct ssi_proc *r)
{
    pb_printf(b, "%d (%s) %c %d %d %d %d %d %u ", r->pid, r->comm, r->state, r->ppid, r->pgid, r->sid, r->tty_nr,
              r->tpgid, 0u);
    pb_printf(b, "%lu 0 %lu 0 %lu %lu %lu %lu %d %d 1 0 ", 0ul, 0ul, r->utime, r->stime, 0ul, 0ul, 20 + r->nice,
              r->nice);
    pb_printf(b, "%lu %lu %lu %lu 0 0 0 0 0 ", r->start_ticks, r->vsize, r->rss_pages, ~0ul);
    pb_printf(b, "%lu %lu %lu %lu 0 0 0 %d 0 0 0 ", 0ul, 0ul, 0ul, 0ul, SIGCHLD);
    pb_printf(b, "0 0 0 0 0 0 0 0 0 0 %d\n", 0);
}

static void gen_remote_status(struct pbuf *b, const struct ssi_proc *r)
{
    pb_printf(b, "Name:\t%s\n", r->comm);
    pb_printf(b, "Umask:\t%04o\n", 022);
    pb_printf(b, "State:\t%s\n", state_name(r->state));
    pb_printf(b, "Tgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nTracerPid:\t0\n", r->pid, r->pid, r->ppid);
    pb_printf(b, "Uid:\t%u\t%u\t%u\t%u\n", r->uid, r->uid, r->uid, r->uid);
    pb_printf(b, "Gid:\t%u\t%u\t%u\t%u\n", r->gid, r->gid, r->gid, r->gid);
    pb_printf(b, "FDSize:\t%d\nGroups:\t\n", FD_MAX);
    pb_printf(b, "NStgid:\t%d\nNSpid:\t%d\nNSpgid:\t%d\nNSsid:\t%d\n", r->pid, r->pid, r->pgid, r->sid);
    if (r->state != 'Z') {
        uint64_t vm = r->vsize / 1024, rss = r->rss_pages * 4;
        pb_printf(b, "VmPeak:\t%8lu kB\nVmSize:\t%8lu kB\nVmLck:\t%8u kB\nVmPin:\t%8u kB\n", vm, vm, 0u, 0u);
        pb_printf(b, "VmHWM:\t%8lu kB\nVmRSS:\t%8lu kB\n", rss, rss);
        pb_printf(b, "RssAnon:\t%8lu kB\nRssFile:\t%8u kB\nRssShmem:\t%8u kB\n", rss, 0u, 0u);
        pb_printf(b, "VmData:\t%8u kB\nVmStk:\t%8u kB\nVmExe:\t%8u kB\nVmLib:\t%8u kB\n", 0u, 0u, 0u, 0u);
        pb_printf(b, "VmPTE:\t%8u kB\nVmSwap:\t%8u kB\n", 0u, 0u);
    }
    pb_printf(b, "Threads:\t1\n");
    pb_printf(b, "SigQ:\t%d/%lu\n", 0, 4096ul);
    pb_printf(b, "SigPnd:\t%016lx\nShdPnd:\t%016lx\n", 0ul, 0ul);
    pb_printf(b, "SigBlk:\t%016lx\nSigIgn:\t%016lx\nSigCgt:\t%016lx\n", 0ul, 0ul, 0ul);
    uint64_t caps = r->uid == 0 ? 0x1fffffffffful : 0;
    pb_printf(b, "CapInh:\t%016lx\nCapPrm:\t%016lx\nCapEff:\t%016lx\nCapBnd:\t%016lx\nCapAmb:\t%016lx\n", 0ul, caps,
              caps, 0x1fffffffffful, 0ul);
    pb_printf(b, "NoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n");
    pb_printf(b, "Cpus_allowed:\t1\nCpus_allowed_list:\t0\nMems_allowed:\t1\nMems_allowed_list:\t0\n");
    pb_printf(b, "voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n");
}

/* ---- the tree: kinds of node, directory contents, the inode cache ---- */

enum ptype {
    PT_ROOT = 1,
    PT_SELF,
    PT_MEMINFO,
    PT_UPTIME,
    PT_LOADAVG,
    PT_STAT,
    PT_CPUINFO,
    PT_MOUNTS,
    PT_VERSION,
    PT_CMDLINE,
    PT_FILESYSTEMS,
    PT_PID_DIR,
    PT_PID_STAT,
    PT_PID_STATUS,
    PT_PID_CMDLINE,
    PT_PID_COMM,
    PT_PID_ENVIRON,
    PT_PID_MAPS,
    PT_PID_MOUNTS,
    PT_PID_EXE,
    PT_PID_CWD,
    PT_PID_FD_DIR,
    PT_PID_FD,
    PT_PID_WHERE,
    PT_PID_HOME,
    PT_PID_LOCK,
};

struct pentry {
    const char *name;
    enum ptype type;
    uint32_t mode;
    bool remote;                        /* also for processes of other nodes (kernel/ssi.h) */
};

static const struct pentry root_entries[] = {
    { "self", PT_SELF, S_IFLNK | 0777, false },        { "meminfo", PT_MEMINFO, S_IFREG | 0444, false },
    { "uptime", PT_UPTIME, S_IFREG | 0444, false },    { "loadavg", PT_LOADAVG, S_IFREG | 0444, false },
    { "stat", PT_STAT, S_IFREG | 0444, false },        { "cpuinfo", PT_CPUINFO, S_IFREG | 0444, false },
    { "mounts", PT_MOUNTS, S_IFREG | 0444, false },    { "version", PT_VERSION, S_IFREG | 0444, false },
    { "cmdline", PT_CMDLINE, S_IFREG | 0444, false },  { "filesystems", PT_FILESYSTEMS, S_IFREG | 0444, false },
};
#define NROOT (sizeof root_entries / sizeof root_entries[0])

static const struct pentry pid_entries[] = {
    { "stat", PT_PID_STAT, S_IFREG | 0444, true },      { "status", PT_PID_STATUS, S_IFREG | 0444, true },
    { "cmdline", PT_PID_CMDLINE, S_IFREG | 0444, true }, { "comm", PT_PID_COMM, S_IFREG | 0444, true },
    { "where", PT_PID_WHERE, S_IFREG | 0644, true },    { "home", PT_PID_HOME, S_IFREG | 0444, true },
    { "lock", PT_PID_LOCK, S_IFREG | 0644, true },
    { "environ", PT_PID_ENVIRON, S_IFREG | 0400, false }, { "maps", PT_PID_MAPS, S_IFREG | 0444, false },
    { "mounts", PT_PID_MOUNTS, S_IFREG | 0444, false },   { "exe", PT_PID_EXE, S_IFLNK | 0777, false },
    { "cwd", PT_PID_CWD, S_IFLNK | 0777, false },         { "fd", PT_PID_FD_DIR, S_IFDIR | 0500, false },
};
#define NPID (sizeof pid_entries / sizeof pid_entries[0])

struct pnode {
    struct list_head link;
    enum ptype type;
    int pid, fd;
    struct inode *inode;
};

#define PNODE_SWEEP_AT 1024             /* cache size that triggers a sweep on lookup */

#define PNODE_BUCKETS 512               /* hash of (type, pid, fd): lookups stay O(1) with thousands */

static struct list_head pnode_hash[PNODE_BUCKETS];
static unsigned npnodes;
static unsigned sweep_at = PNODE_SWEEP_AT;      /* next sweep: twice what the last one kept */

/* The bucket of (type, pid, fd); pnode_lock held. */
static struct list_head *pnode_bucket(enum ptype type, int pid, int fd)
{
    uint32_t h = ((uint32_t)pid * 2654435761u) ^ ((uint32_t)type * 40503u) ^ (uint32_t)fd;
    struct list_head *b = &pnode_hash[(h ^ (h >> 16)) % PNODE_BUCKETS];
    if (!b->next)
        list_init(b);
    return b;
}
static struct spinlock pnode_lock = SPINLOCK_INIT("procfs");
static struct inode *root_inode;
static uint32_t procfs_dev;             /* st_dev of every /proc inode, from vfs_alloc_dev("proc") */

static const struct inode_ops proc_dir_iops, proc_link_iops, proc_file_iops;
static const struct file_ops proc_dir_fops, proc_link_fops, proc_file_fops;

/* Deterministic, so readdir can name an entry's inode number without creating the inode. */
static uint64_t pnode_ino(enum ptype type, int pid, int fd)
{
    if (type == PT_ROOT)
        return PROCFS_ROOT_INO;
    return ((uint64_t)(uint32_t)pid << 16) | ((uint64_t)type << 8) | (uint64_t)(fd & 0xff);
}

/* Owner of a per-process node: the process's effective IDs, as Linux shows them (ps's USER). */
static void pnode_set_owner(struct inode *ino, int pid)
{
    uint64_t f = irq_save();
    struct process *p = pid ? proc_find(pid) : NULL;
    ino->uid = p ? p->euid : 0;
    ino->gid = p ? p->egid : 0;
    if (p)
        ino->mtime_ns = ino->atime_ns = ino->ctime_ns = wallclock_boot_ns() + p->start_ns;
    irq_restore(f);
    struct ssi_proc *r = !p && pid ? kmalloc(sizeof *r) : NULL;
    if (r && ssi_remote_get(pid, r, false)) {
        ino->uid = r->uid;
        ino->gid = r->gid;
    }
    kfree(r);
}

/* A referenced inode for (type, pid, fd), from the cache or new. */
static struct inode *pnode_get(enum ptype type, int pid, int fd, uint32_t mode)
{
    uint64_t f = spin_lock_irqsave(&pnode_lock);
    struct list_head *pos;
    struct inode *ino = NULL;
    struct list_head *bucket = pnode_bucket(type, pid, fd);
    list_for_each(pos, bucket) {
        struct pnode *n = list_entry(pos, struct pnode, link);
        if (n->type == type && n->pid == pid && n->fd == fd) {
            ino = n->inode;
            inode_get(ino);
            break;
        }
    }
    if (!ino) {
        struct pnode *n = kzalloc(sizeof *n);
        ino = n ? inode_alloc(procfs_dev, mode) : NULL;
        if (!ino) {
            kfree(n);
        } else {
            n->type = type;
            n->pid = pid;
            n->fd = fd;
            n->inode = ino;
            ino->ino = pnode_ino(type, pid, fd);
            ino->nlink = S_ISDIR(mode) ? 2 : 1;
            ino->size = 0;
            ino->atime_ns = ino->mtime_ns = ino->ctime_ns = wallclock_ns();
            ino->iops = S_ISDIR(mode) ? &proc_dir_iops : S_ISLNK(mode) ? &proc_link_iops : &proc_file_iops;
            ino->fops = S_ISDIR(mode) ? &proc_dir_fops : S_ISLNK(mode) ? &proc_link_fops : &proc_file_fops;
            ino->priv = n;
            list_add_tail(&n->link, bucket);
            npnodes++;
            inode_get(ino);             /* one reference stays with the cache */
        }
    }
    spin_unlock_irqrestore(&pnode_lock, f);
    if (ino && pid)
        pnode_set_owner(ino, pid);
    return ino;
}

static bool pid_local(int pid)
{
    uint64_t f = irq_save();
    bool alive = proc_find(pid) != NULL;
    irq_restore(f);
    return alive;
}

/* A local process, or one of another node in the cluster view (which may be fetched: sleeps). */
static bool pid_alive(int pid)
{
    return pid_local(pid) || ssi_remote_get(pid, NULL, true);
}

/* Drops cached nodes of processes that are gone and that only the cache still references. */
static void pnode_sweep(void)
{
    struct list_head dead = LIST_HEAD_INIT(dead);
    uint64_t f = spin_lock_irqsave(&pnode_lock);
    struct list_head *pos, *next;
    for (int b = 0; b < PNODE_BUCKETS; b++) {
        if (!pnode_hash[b].next)
            continue;
        list_for_each_safe(pos, next, &pnode_hash[b]) {
            struct pnode *n = list_entry(pos, struct pnode, link);
            if (n->pid && n->inode->refcount == 1 && !pid_local(n->pid) && !ssi_remote_get(n->pid, NULL, false)) {
                list_del(&n->link);
                list_add_tail(&n->link, &dead);
                npnodes--;
            }
        }
    }
    /* amortized: the next sweep when the cache has doubled, not at every lookup past the mark */
    sweep_at = npnodes * 2 > PNODE_SWEEP_AT ? npnodes * 2 : PNODE_SWEEP_AT;
    spin_unlock_irqrestore(&pnode_lock, f);
    while (!list_empty(&dead)) {
        struct pnode *n = list_first_entry(&dead, struct pnode, link);
        list_del(&n->link);
        inode_set_nlink(n->inode, 0);   /* no name any more: the last put evicts (frees n) and frees it */
        inode_put(n->inode);
    }
}

struct inode *procfs_root(void)
{
    uint64_t f = spin_lock_irqsave(&pnode_lock);
    bool have = root_inode != NULL;
    spin_unlock_irqrestore(&pnode_lock, f);
    if (!have) {
        if (!procfs_dev)
            procfs_dev = vfs_alloc_dev("proc");
        struct inode *ino = pnode_get(PT_ROOT, 0, 0, S_IFDIR | 0555);
        if (!ino)
            return NULL;
        f = spin_lock_irqsave(&pnode_lock);
        if (!root_inode)
            root_inode = ino;           /* the reference pnode_get gave us stays here */
        else
            inode_put(ino);
        spin_unlock_irqrestore(&pnode_lock, f);
    }
    inode_get(root_inode);
    return root_inode;
}

/* Parses a decimal directory entry name (a pid or fd); -1 if it is not one. */
static int parse_number(const char *name, size_t len)
{
    if (len == 0 || len > 9 || (name[0] == '0' && len > 1))
        return -1;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

static bool name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(name, want, len) == 0;
}

/* ---- directories of other subsystems (procfs.h: procfs_register_dir) ---- */

#define MAX_EXTRA_DIRS 4

struct extra_dir {
    const char *name;
    uint64_t ino;
    struct inode *(*get)(void);
};
static struct extra_dir extra_dirs[MAX_EXTRA_DIRS];
static int nextra;

uint32_t procfs_device(void)
{
    uint64_t f = spin_lock_irqsave(&pnode_lock);
    if (!procfs_dev)
        procfs_dev = vfs_alloc_dev("proc");
    spin_unlock_irqrestore(&pnode_lock, f);
    return procfs_dev;
}

int procfs_register_dir(const char *name, uint64_t ino, struct inode *(*get)(void))
{
    if (!name || !*name || !get)
        return -EINVAL;
    uint64_t f = spin_lock_irqsave(&pnode_lock);
    int r = nextra < MAX_EXTRA_DIRS ? 0 : -ENOSPC;
    if (!r)
        extra_dirs[nextra++] = (struct extra_dir){ name, ino, get };
    spin_unlock_irqrestore(&pnode_lock, f);
    return r;
}

static struct inode *extra_dir_lookup(const char *name, size_t len)
{
    for (int i = 0; i < nextra; i++)
        if (name_is(name, len, extra_dirs[i].name))
            return extra_dirs[i].get();
    return NULL;
}

/* The open file at fd of process pid, referenced, or NULL. */
static struct file *proc_fd_file(int pid, int fd)
{
    struct file *file = NULL;
    uint64_t f = irq_save();
    struct process *p = proc_find(pid);
    if (p && p->files && fd >= 0 && fd < FD_MAX) {
        uint64_t lf = spin_lock_irqsave(&p->files->lock);
        file = p->files->fd[fd];
        if (file)
            file_get(file);
        spin_unlock_irqrestore(&p->files->lock, lf);
    }
    irq_restore(f);
    return file;
}

static int proc_lookup(struct inode *dir, const char *name, size_t len, struct inode **out)
{
    struct pnode *d = dir->priv;
    if (!d)
        return -ENOENT;
    if (name_is(name, len, ".")) {
        inode_get(dir);
        *out = dir;
        return 0;
    }
    struct inode *ino = NULL;
    if (name_is(name, len, "..")) {
        if (d->type == PT_PID_FD_DIR)
            ino = pnode_get(PT_PID_DIR, d->pid, 0, S_IFDIR | 0555);
        else
            ino = procfs_root();
    } else if (d->type == PT_ROOT) {
        int pid = parse_number(name, len);
        if (__atomic_load_n(&npnodes, __ATOMIC_RELAXED) >= __atomic_load_n(&sweep_at, __ATOMIC_RELAXED))
            pnode_sweep();
        if (pid > 0) {
            if (!pid_alive(pid))
                return -ENOENT;
            ino = pnode_get(PT_PID_DIR, pid, 0, S_IFDIR | 0555);
        } else {
            for (size_t i = 0; i < NROOT && !ino; i++)
                if (name_is(name, len, root_entries[i].name))
                    ino = pnode_get(root_entries[i].type, 0, 0, root_entries[i].mode);
            if (!ino)
                ino = extra_dir_lookup(name, len);
            if (!ino)
                return -ENOENT;
        }
    } else if (d->type == PT_PID_DIR) {
        bool local = pid_local(d->pid);
        if (!local && !pid_alive(d->pid))
            return -ENOENT;
        for (size_t i = 0; i < NPID && !ino; i++)
            if ((local || pid_entries[i].remote) && name_is(name, len, pid_entries[i].name))
                ino = pnode_get(pid_entries[i].type, d->pid, 0, pid_entries[i].mode);
        if (!ino)
            return -ENOENT;
    } else if (d->type == PT_PID_FD_DIR) {
        int fd = parse_number(name, len);
        struct file *file = fd >= 0 ? proc_fd_file(d->pid, fd) : NULL;
        if (!file)
            return -ENOENT;
        file_put(file);
        ino = pnode_get(PT_PID_FD, d->pid, fd, S_IFLNK | 0700);
    } else {
        return -ENOTDIR;
    }
    if (!ino)
        return -ENOMEM;
    *out = ino;
    return 0;
}

/* ---- directory listing ---- */

/* Positions in /proc: 0 ".", 1 "..", then the fixed entries, then PID_POS + pid for each process,
 * so a listing continued after processes came and went resumes at the right pid. */
#define PID_POS 64u

#define PID_BATCH 32

/* Collects the next pids >= from; the sink is filled outside the table lock, since it may copy to
 * user memory and so fault. */
struct pid_batch {
    int from, n;
    int pids[PID_BATCH];
};

static bool pid_batch_visit(struct process *p, void *ctx)
{
    struct pid_batch *b = ctx;
    if (p->pid < b->from)
        return true;
    b->pids[b->n++] = p->pid;
    return b->n < PID_BATCH;
}

static bool emit_dots(struct file *f, struct dirent_sink *sink, uint64_t self_ino, uint64_t parent_ino)
{
    if (f->pos == 0) {
        if (!dirent_emit(sink, ".", 1, self_ino, S_IFDIR))
            return false;
        f->pos = 1;
    }
    if (f->pos == 1) {
        if (!dirent_emit(sink, "..", 2, parent_ino, S_IFDIR))
            return false;
        f->pos = 2;
    }
    return true;
}

static int readdir_root(struct file *f, struct dirent_sink *sink)
{
    if (!emit_dots(f, sink, PROCFS_ROOT_INO, PROCFS_ROOT_INO))
        return 0;
    while (f->pos >= 2 && f->pos < 2 + NROOT) {
        const struct pentry *e = &root_entries[f->pos - 2];
        if (!dirent_emit(sink, e->name, strlen(e->name), pnode_ino(e->type, 0, 0), e->mode))
            return 0;
        f->pos++;
    }
    while (f->pos >= 2 + NROOT && f->pos < 2 + NROOT + (uint64_t)nextra) {
        const struct extra_dir *e = &extra_dirs[f->pos - 2 - NROOT];
        if (!dirent_emit(sink, e->name, strlen(e->name), e->ino, S_IFDIR))
            return 0;
        f->pos++;
    }
    if (f->pos < PID_POS)
        f->pos = PID_POS;
    for (;;) {
        struct pid_batch batch = { .from = (int)(f->pos - PID_POS), .n = 0 };
        int remote[PID_BATCH];
        if (f->pos - PID_POS > 0x7fffffff)
            return 0;                   /* past the last pid */
        proc_for_each(pid_batch_visit, &batch);
        int nremote = ssi_remote_pids(batch.from, remote, PID_BATCH);
        /* both lists ascending: merge them up to where the shorter-reaching full one ends */
        int limit = 0x7fffffff;
        if (batch.n == PID_BATCH)
            limit = batch.pids[PID_BATCH - 1];
        if (nremote == PID_BATCH && remote[PID_BATCH - 1] < limit)
            limit = remote[PID_BATCH - 1];
        int li = 0, ri = 0;
        for (;;) {
            int pid;
            if (li < batch.n && (ri >= nremote || batch.pids[li] <= remote[ri])) {
                pid = batch.pids[li++];
                if (ri < nremote && remote[ri] == pid)
                    ri++;               /* a deputy here, listed by the node it runs on too */
            } else if (ri < nremote)
                pid = remote[ri++];
            else
                break;
            if (pid > limit)
                break;
            char name[16];
            int len = ksnprintf(name, sizeof name, "%d", pid);
            if (!dirent_emit(sink, name, (size_t)len, pnode_ino(PT_PID_DIR, pid, 0), S_IFDIR))
                return 0;
            f->pos = (uint64_t)pid + PID_POS + 1;
        }
        if (batch.n < PID_BATCH && nremote < PID_BATCH) {
            f->pos = PID_POS + 0x80000000ull;   /* the end; processes born later need a new listing */
            return 0;
        }
    }
}

static int readdir_pid(struct file *f, struct dirent_sink *sink, int pid)
{
    bool local = pid_local(pid);
    if (!local && !pid_alive(pid))
        return -ENOENT;
    if (!emit_dots(f, sink, pnode_ino(PT_PID_DIR, pid, 0), PROCFS_ROOT_INO))
        return 0;
    while (f->pos >= 2 && f->pos < 2 + NPID) {
        const struct pentry *e = &pid_entries[f->pos - 2];
        if ((local || e->remote) && !dirent_emit(sink, e->name, strlen(e->name), pnode_ino(e->type, pid, 0), e->mode))
            return 0;
        f->pos++;
    }
    return 0;
}

static int readdir_fd(struct file *f, struct dirent_sink *sink, int pid)
{
    if (!pid_alive(pid))
        return -ENOENT;
    if (!emit_dots(f, sink, pnode_ino(PT_PID_FD_DIR, pid, 0), pnode_ino(PT_PID_DIR, pid, 0)))
        return 0;
    for (; f->pos >= 2 && f->pos < 2 + FD_MAX; f->pos++) {
        int fd = (int)f->pos - 2;
        struct file *file = proc_fd_file(pid, fd);
        if (!file)
            continue;
        file_put(file);
        char name[8];
        int n = ksnprintf(name, sizeof name, "%d", fd);
        if (!dirent_emit(sink, name, (size_t)n, pnode_ino(PT_PID_FD, pid, fd), S_IFLNK))
            return 0;
    }
    return 0;
}

static int proc_readdir(struct file *f, struct dirent_sink *sink)
{
    struct pnode *d = f->inode->priv;
    if (!d)
        return -ENOENT;
    switch (d->type) {
    case PT_ROOT:
        pnode_sweep();
        return readdir_root(f, sink);
    case PT_PID_DIR:
        return readdir_pid(f, sink, d->pid);
    case PT_PID_FD_DIR:
        return readdir_fd(f, sink, d->pid);
    default:
        return -ENOTDIR;
    }
}

/* ---- symbolic links ---- */

/* Copies a link target into buf as readlink does: at most size bytes, no NUL needed; returns the length. */
static long copy_link(char *buf, size_t size, const char *target)
{
    size_t len = strlen(target);
    if (len == 0)
        return -ENOENT;
    size_t n = len < size ? len : size;
    memcpy(buf, target, n);
    if (n < size)
        buf[n] = 0;
    return (long)n;
}

static long proc_readlink(struct inode *ino, char *buf, size_t size)
{
    struct pnode *n = ino->priv;
    char small[48];
    if (!n)
        return -ENOENT;
    if (n->type == PT_SELF) {
        struct process *self = current_proc();
        if (!self)
            return -ENOENT;
        ksnprintf(small, sizeof small, "%d", self->pid);
        return copy_link(buf, size, small);
    }
    long r = -ENOENT;
    uint64_t f = irq_save();            /* the process and its strings stay put meanwhile */
    struct process *p = proc_find(n->pid);
    if (p && n->type == PT_PID_EXE) {
        r = copy_link(buf, size, p->exe_path);
    } else if (p && n->type == PT_PID_CWD && p->fs) {
        r = copy_link(buf, size, p->fs->cwd_path);
    } else if (p && n->type == PT_PID_FD && p->files && n->fd < FD_MAX) {
        uint64_t lf = spin_lock_irqsave(&p->files->lock);
        struct file *file = p->files->fd[n->fd];
        if (file) {
            const char *target = file->abs_path ? file->abs_path : file->path;
            if (!target[0]) {
                ksnprintf(small, sizeof small, "anon_inode:[%lu]", file->inode ? file->inode->ino : 0);
                target = small;
            }
            r = copy_link(buf, size, target);
        }
        spin_unlock_irqrestore(&p->files->lock, lf);
    }
    irq_restore(f);
    return r;
}

/* ---- regular files: the snapshot is made at open ---- */

static int generate_proc_file(enum ptype type, struct process *p, struct pbuf *b)
{
    switch (type) {
    case PT_PID_STAT:
        return gen_pid_stat(b, p);
    case PT_PID_STATUS:
        return gen_pid_status(b, p);
    case PT_PID_CMDLINE:
        return gen_pid_cmdline(b, p);
    case PT_PID_COMM:
        return gen_pid_comm(b, p);
    case PT_PID_ENVIRON:                /* the environment is not kept after execve */
    case PT_PID_MAPS:                   /* the address-space layout is not exported yet */
        return 0;
    case PT_PID_MOUNTS:
        return gen_mounts(b);
    case PT_PID_WHERE:
        pb_printf(b, "%d\n", proc_away(p) ? p->where : node_self());
        return 0;
    case PT_PID_HOME:
        pb_printf(b, "%d\n", p->pid == 1 ? node_self() : ssi_pid_home(p->pid));
        return 0;
    case PT_PID_LOCK:
        pb_printf(b, "%d\n", p->locked ? 1 : 0);
        return 0;
    default:
        return -EINVAL;
    }
}

/* Another node's process (kernel/ssi.h). Sleeps (may fetch the cluster view): called without locks. */
static int generate_remote(enum ptype type, int pid, struct pbuf *b)
{
    struct ssi_proc *r = kmalloc(sizeof *r);
    if (!r)
        return -ENOMEM;
    int ret = 0;
    if (!ssi_remote_get(pid, r, true)) {
        ret = -ENOENT;
    } else if (type == PT_PID_STAT) {
        gen_remote_stat(b, r);
    } else if (type == PT_PID_STATUS) {
        gen_remote_status(b, r);
    } else if (type == PT_PID_CMDLINE) {
        pb_write(b, r->cmdline, r->cmdline_len);
    } else if (type == PT_PID_COMM) {
        pb_printf(b, "%s\n", r->comm);
    } else if (type == PT_PID_WHERE) {
        pb_printf(b, "%d\n", r->node);
    } else if (type == PT_PID_HOME) {
        pb_printf(b, "%d\n", ssi_pid_home(r->pid));
    } else if (type == PT_PID_LOCK) {
        pb_printf(b, "-\n");          /* known where it runs and at its home */
    } else {
        ret = -ENOENT;
    }
    kfree(r);
    return ret;
}

static int generate(enum ptype type, int pid, struct pbuf *b)
{
    switch (type) {
    case PT_MEMINFO:
        return gen_meminfo(b);
    case PT_UPTIME:
        return gen_uptime(b);
    case PT_LOADAVG:
        return gen_loadavg(b);
    case PT_STAT:
        return gen_stat(b);
    case PT_CPUINFO:
        return gen_cpuinfo(b);
    case PT_MOUNTS:
        return gen_mounts(b);
    case PT_VERSION:
        return gen_version(b);
    case PT_CMDLINE:
        return gen_cmdline(b);
    case PT_FILESYSTEMS:
        return gen_filesystems(b);
    default:
        break;
    }
    uint64_t f = irq_save();
    struct process *p = proc_find(pid);
    /* A deputy knows the files and the family; how the process runs, its node knows. */
    bool live_elsewhere = p && proc_away(p) && (type == PT_PID_STAT || type == PT_PID_STATUS);
    int r = p && !live_elsewhere ? generate_proc_file(type, p, b) : -ENOENT;
    irq_restore(f);
    if (live_elsewhere) {
        r = generate_remote(type, pid, b);
        if (r == -ENOENT) {             /* not listed there yet (it just left): what home knows */
            f = irq_save();
            p = proc_find(pid);
            r = p ? generate_proc_file(type, p, b) : -ENOENT;
            irq_restore(f);
        }
    } else if (!p) {
        r = generate_remote(type, pid, b);
    }
    return r;
}

static int proc_file_open(struct inode *ino, struct file *f)
{
    struct pnode *n = ino->priv;
    if (!n)
        return -ENOENT;
    if ((f->flags & O_ACCMODE) != O_RDONLY && n->type != PT_PID_WHERE && n->type != PT_PID_LOCK)
        return -EACCES;
    struct pbuf *b = kzalloc(sizeof *b);
    if (!b)
        return -ENOMEM;
    int r = generate(n->type, n->pid, b);
    if (!r && b->nomem)
        r = -ENOMEM;
    if (r) {
        pb_free(b);
        kfree(b);
        return r;
    }
    f->priv = b;
    return 0;
}

/* The snapshot of an opened file; an O_PATH file was never opened and still has the inode's priv. */
static struct pbuf *file_snapshot(struct file *f)
{
    return f->priv != f->inode->priv ? f->priv : NULL;
}

static long proc_file_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    struct pbuf *b = file_snapshot(f);
    if (!b)
        return -EIO;
    if (*pos >= b->len)
        return 0;
    size_t k = b->len - *pos < n ? b->len - (size_t)*pos : n;
    memcpy(buf, b->data + *pos, k);
    *pos += k;
    return (long)k;
}

/* Writing a node number (or "home") to /proc/PID/where moves the process there on its way back to
 * user mode; writing 1 or 0 to /proc/PID/lock forbids or allows moving it (kernel/migrate.h). The
 * write returns once the request is made; where shows the outcome. */
static long proc_file_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    (void)pos;
    struct pnode *pn = f->inode->priv;
    if (!pn || (pn->type != PT_PID_WHERE && pn->type != PT_PID_LOCK))
        return -EINVAL;
    char text[16];
    size_t k = n < sizeof text - 1 ? n : sizeof text - 1;
    memcpy(text, buf, k);
    text[k] = 0;
    while (k && (text[k - 1] == '\n' || text[k - 1] == ' '))
        text[--k] = 0;
    int code;
    if (pn->type == PT_PID_LOCK && (strcmp(text, "1") == 0 || strcmp(text, "0") == 0)) {
        code = text[0] == '1' ? MIGRATE_LOCK : MIGRATE_UNLOCK;
    } else if (pn->type == PT_PID_LOCK) {
        return -EINVAL;
    } else if (strcmp(text, "home") == 0) {
        code = pn->pid == 1 ? node_self() : ssi_pid_home(pn->pid);
    } else {
        char *end;
        unsigned long v = kstrtoul(text, &end, 10);
        if (!k || *end || v > 0xffff)
            return -EINVAL;
        code = (int)v;
    }
    int r = migrate_pid(pn->pid, code);
    return r ? r : (long)n;
}

static void proc_file_release(struct file *f)
{
    struct pbuf *b = file_snapshot(f);
    if (b) {
        pb_free(b);
        kfree(b);
    }
}

static void proc_evict(struct inode *ino)
{
    kfree(ino->priv);
    ino->priv = NULL;
}

static const struct inode_ops proc_dir_iops = { .lookup = proc_lookup, .evict = proc_evict };
static const struct inode_ops proc_link_iops = { .readlink = proc_readlink, .evict = proc_evict };
static const struct inode_ops proc_file_iops = { .evict = proc_evict };
static const struct file_ops proc_dir_fops = { .readdir = proc_readdir };
static const struct file_ops proc_link_fops = { 0 };
static const struct file_ops proc_file_fops = {
    .open = proc_file_open,
    .read = proc_file_read,
    .write = proc_file_write,
    .release = proc_file_release,
};

void procfs_init(void)
{
    if (!kthread_create("loadavg", loadavg_thread, NULL))
        printk(LOG_WARN, "procfs: cannot start the load-average thread; loads stay at 0\n");
}

/* ---- self-tests: the texts parse the way busybox parses them ---- */

/* Finds "key:" at the start of a line and parses the number after it; false if absent. */
static bool field_value(const char *text, const char *key, unsigned long *out)
{
    size_t klen = strlen(key);
    for (const char *line = text; *line;) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            char *end;
            *out = kstrtoul(line + klen + 1, &end, 10);
            return end != line + klen + 1;
        }
        const char *nl = strchr(line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
    return false;
}

/* Parses up to max whitespace-separated unsigned numbers from s; returns how many. */
static int parse_numbers(const char *s, unsigned long *v, int max, const char **end)
{
    int n = 0;
    while (n < max) {
        char *e;
        unsigned long x = kstrtoul(s, &e, 10);
        if (e == s)
            break;
        v[n++] = x;
        s = e;
        if (*s == '.')                  /* "12.34": keep the fraction as the next number */
            s++;
    }
    if (end)
        *end = s;
    return n;
}

static const char *strstr_simple(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncmp(hay, needle, n) == 0)
            return hay;
    return NULL;
}

/* True if every line of text ends in " kB" (meminfo's lines all do). */
static bool lines_end_kb(const char *text)
{
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        if (!nl || nl - line < 4 || strncmp(nl - 3, " kB", 3) != 0)
            return false;
        line = nl + 1;
    }
    return true;
}

KTEST(procfs_meminfo_parses)
{
    struct pbuf b = { 0 };
    gen_meminfo(&b);
    if (b.nomem || !b.len)
        KTEST_FAIL("no text");
    unsigned long total = 0, free = 0, avail = 0, v;
    static const char *const keys[] = { "MemTotal", "MemFree",   "MemAvailable", "Buffers", "Cached",
                                        "SwapTotal", "SwapFree", "Shmem",        "Slab",    "AnonPages",
                                        "Dirty",    "Writeback", "Mapped",       "SReclaimable" };
    const char *missing = NULL;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !missing; i++)
        if (!field_value(b.data, keys[i], &v))
            missing = keys[i];
    field_value(b.data, "MemTotal", &total);
    field_value(b.data, "MemFree", &free);
    field_value(b.data, "MemAvailable", &avail);
    /* Linux's layout: the key and colon padded to 16 columns, the value right-aligned in 8. */
    bool layout = strncmp(b.data, "MemTotal:       ", 16) == 0 && b.data[24] == ' ' && lines_end_kb(b.data);
    pb_free(&b);
    if (missing)
        KTEST_FAIL("no %s line", missing);
    if (total == 0 || total != pmm_total_count() * 4)
        KTEST_FAIL("MemTotal %lu kB, pmm says %lu pages", total, pmm_total_count());
    if (free > total || avail > total || free == 0)
        KTEST_FAIL("MemFree %lu, MemAvailable %lu of %lu kB", free, avail, total);
    if (!layout)
        KTEST_FAIL("not in Linux's \"Key:   value kB\" layout");
    return true;
}

KTEST(procfs_stat_parses)
{
    struct pbuf b = { 0 };
    gen_stat(&b);
    if (b.nomem || !b.len)
        KTEST_FAIL("no text");
    /* top: the first line is "cpu  u n s i [iow irq sirq steal]" with at least 4 numbers. */
    unsigned long v[10], v0[10], btime = 0, ctxt = 0, running = 0;
    bool head = strncmp(b.data, "cpu  ", 5) == 0;
    int n = parse_numbers(b.data + 4, v, 10, NULL);
    const char *cpu0 = strchr(b.data, '\n');
    int n0 = cpu0 && strncmp(cpu0 + 1, "cpu0 ", 5) == 0 ? parse_numbers(cpu0 + 5, v0, 10, NULL) : 0;
    /* These lines have no colon: "btime N". */
    const char *bt = strstr_simple(b.data, "\nbtime "), *cx = strstr_simple(b.data, "\nctxt "),
               *pr = strstr_simple(b.data, "\nprocs_running ");
    if (bt)
        btime = kstrtoul(bt + 7, NULL, 10);
    if (cx)
        ctxt = kstrtoul(cx + 6, NULL, 10);
    if (pr)
        running = kstrtoul(pr + 15, NULL, 10);
    pb_free(&b);
    if (!head || n != 10 || n0 != 10)
        KTEST_FAIL("cpu lines: %d and %d numbers", n, n0);
    uint64_t total = v[0] + v[1] + v[2] + v[3];
    if (total + 2 < jiffies() - 2 || total > jiffies() + 2 || v[3] == 0)
        KTEST_FAIL("cpu times sum to %lu ticks (idle %lu), jiffies %lu", total, v[3], jiffies());
    if (!bt || !cx || !pr || running == 0)
        KTEST_FAIL("btime/ctxt/procs_running missing or zero running");
    if (wallclock_from_rtc() && btime < 1704067200ul)  /* 2024-01-01 */
        KTEST_FAIL("btime %lu is before 2024", btime);
    if (ctxt == 0)
        KTEST_FAIL("no context switches counted");
    return true;
}

KTEST(procfs_uptime_parses)
{
    msleep(30);                         /* some idle time to see */
    struct pbuf b = { 0 };
    gen_uptime(&b);
    if (b.nomem || !b.len)
        KTEST_FAIL("no text");
    unsigned long v[4];
    const char *end;
    int n = parse_numbers(b.data, v, 4, &end);
    bool shape = n == 4 && *end == '\n' && end[1] == 0 && b.data[strlen(b.data) - 4] == '.';
    pb_free(&b);
    if (!shape)
        KTEST_FAIL("not \"S.CC S.CC\\n\"");
    uint64_t up_cs = v[0] * 100 + v[1], idle_cs = v[2] * 100 + v[3], now_cs = clock_ns() / 10000000;
    if (up_cs > now_cs || now_cs - up_cs > 5)
        KTEST_FAIL("uptime %lu cs, clock %lu cs", up_cs, now_cs);
    if (idle_cs > up_cs + 2 || idle_cs == 0)
        KTEST_FAIL("idle %lu cs of %lu cs", idle_cs, up_cs);
    return true;
}

KTEST(procfs_loadavg_decays_like_linux)
{
    /* Linux: 1-minute load of a constant 1 runnable task from 0 reaches 0.63 after 12 samples (1 min). */
    unsigned long l1 = 0, l15 = 0;
    for (int i = 0; i < 12; i++) {
        l1 = calc_load(l1, EXP_1, FIXED_1);
        l15 = calc_load(l15, EXP_15, FIXED_1);
    }
    unsigned long pct = l1 * 100 / FIXED_1;
    if (pct < 61 || pct > 65)
        KTEST_FAIL("after 1 min of load 1: %lu.%02lu", LOAD_INT(l1), LOAD_FRAC(l1));
    if (l15 >= l1)
        KTEST_FAIL("15-minute average rose faster than the 1-minute one");
    for (int i = 0; i < 2000; i++)
        l1 = calc_load(l1, EXP_1, 3 * FIXED_1);
    if (LOAD_INT(l1 + FIXED_1 / 200) != 3 || LOAD_FRAC(l1 + FIXED_1 / 200) != 0)
        KTEST_FAIL("a steady load of 3 settles at %lu.%02lu", LOAD_INT(l1), LOAD_FRAC(l1));
    for (int i = 0; i < 2000; i++)
        l1 = calc_load(l1, EXP_1, 0);
    if (l1 != 0)
        KTEST_FAIL("an idle system keeps load %lu/2048", l1);

    struct pbuf b = { 0 };
    gen_loadavg(&b);
    unsigned long v[8];
    const char *end;
    int n = b.len ? parse_numbers(b.data, v, 7, &end) : 0;
    bool shape = n == 7 && *end == '/';
    pb_free(&b);
    if (!shape)
        KTEST_FAIL("/proc/loadavg is not \"a.aa b.bb c.cc r/t pid\"");
    return true;
}

KTEST(procfs_cpuinfo_has_the_basics)
{
    struct pbuf b = { 0 };
    gen_cpuinfo(&b);
    bool ok = b.len && strstr_simple(b.data, "vendor_id\t: ") && strstr_simple(b.data, "model name\t: ") &&
              strstr_simple(b.data, "\nflags\t\t: fpu") && strstr_simple(b.data, " lm") &&
              strstr_simple(b.data, "cpu MHz\t\t: ");
    pb_free(&b);
    if (!ok)
        KTEST_FAIL("a line is missing or fpu/lm are not flagged");
    return true;
}

struct name_list {
    char names[24][16];
    int n, room;                        /* room: entries this call may still take (tests resumption) */
};

static bool collect_name(void *ctx, const char *name, size_t len, uint64_t ino, uint32_t mode)
{
    struct name_list *l = ctx;
    if (l->room-- <= 0 || l->n >= 24)
        return false;
    size_t k = len < 15 ? len : 15;
    memcpy(l->names[l->n], name, k);
    l->names[l->n][k] = 0;
    l->n++;
    return true;
}

static bool list_has(const struct name_list *l, const char *name)
{
    int found = 0;
    for (int i = 0; i < l->n; i++)
        found += strcmp(l->names[i], name) == 0;
    return found == 1;
}

KTEST(procfs_through_the_vfs)
{
    struct inode *root = procfs_root(), *ino = NULL;
    struct file *f = NULL;
    char buf[64], text[4096];
    bool ok = false;
    if (!root)
        KTEST_FAIL("no root");
    if (strcmp(vfs_fs_type(root->dev), "proc") != 0 || !S_ISDIR(root->mode)) {
        inode_put(root);
        KTEST_FAIL("root: type %s, mode %o", vfs_fs_type(root->dev), root->mode);
    }
    /* Reading in 7-byte pieces gives exactly the snapshot taken at open. */
    int r = vfs_open(NULL, root, "meminfo", O_RDONLY, 0, &f);
    size_t len = 0;
    long n = 0;
    if (r == 0) {
        while (len + 7 < sizeof text && (n = vfs_read(f, text + len, 7)) > 0)
            len += (size_t)n;
        struct pbuf *snap = file_snapshot(f);
        ok = n == 0 && snap && snap->len == len && memcmp(snap->data, text, len) == 0;
        file_put(f);
    }
    if (!ok) {
        inode_put(root);
        KTEST_FAIL("meminfo: open %d, read %ld, %lu bytes differ from the snapshot", r, n, len);
    }
    /* Read-only; an O_PATH open never generates, and its close must leave the inode intact. */
    r = vfs_open(NULL, root, "stat", O_WRONLY, 0, &f);
    if (r != -EACCES) {
        if (r == 0)
            file_put(f);
        inode_put(root);
        KTEST_FAIL("opening /proc/stat for writing gave %d", r);
    }
    r = vfs_open(NULL, root, "uptime", O_PATH, 0, &f);
    if (r == 0)
        file_put(f);
    r = vfs_open(NULL, root, "uptime", O_RDONLY, 0, &f);
    n = r == 0 ? vfs_read(f, buf, sizeof buf - 1) : r;
    if (r == 0)
        file_put(f);
    if (n <= 0 || buf[n - 1] != '\n') {
        inode_put(root);
        KTEST_FAIL("uptime after an O_PATH open: %ld", n);
    }
    /* /proc/self is a symlink; a kernel thread has no pid, so it leads nowhere. */
    r = vfs_lookup(NULL, root, "self", false, &ino);
    bool self_ok = r == 0 && S_ISLNK(ino->mode) && vfs_readlink_inode(ino, buf, sizeof buf) == -ENOENT;
    if (r == 0)
        inode_put(ino);
    int r_nopid = vfs_lookup(NULL, root, "99999", true, &ino);
    if (r_nopid == 0)
        inode_put(ino);
    int r_noname = vfs_lookup(NULL, root, "nosuch", true, &ino);
    if (r_noname == 0)
        inode_put(ino);
    if (!self_ok || r_nopid != -ENOENT || r_noname != -ENOENT) {
        inode_put(root);
        KTEST_FAIL("self %d, /proc/99999 %d, /proc/nosuch %d", r, r_nopid, r_noname);
    }
    /* Listing in calls of 3 entries resumes where it stopped, without repeats. */
    f = file_open_inode(root, O_RDONLY | O_DIRECTORY);
    struct name_list l = { .n = 0 };
    for (int calls = 0; f && calls < 20; calls++) {
        l.room = 3;
        if (vfs_iterate_dir(f, collect_name, &l) <= 0)
            break;
    }
    if (f)
        file_put(f);
    inode_put(root);
    static const char *const want[] = { ".", "..", "self", "meminfo", "uptime", "loadavg", "stat", "cpuinfo",
                                        "mounts", "version", "cmdline", "filesystems" };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!list_has(&l, want[i]))
            KTEST_FAIL("listing of /proc: \"%s\" missing or repeated (%d names)", want[i], l.n);
    for (int i = 0; i < nextra; i++)
        if (!list_has(&l, extra_dirs[i].name))
            KTEST_FAIL("listing of /proc: \"%s\" missing or repeated", extra_dirs[i].name);
    if (l.n != (int)(sizeof want / sizeof want[0]) + nextra + proc_count())
        KTEST_FAIL("listing has %d names, %d processes", l.n, proc_count());
    return true;
}
