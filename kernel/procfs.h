/*
 * kernel/procfs.h: /proc, a synthetic read-only file system whose files are generated when opened,
 * and the system-wide figures that /proc and the informational system calls (sysinfo, times) share:
 * the load average and the CPU time split.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct inode;

/* The root directory of /proc, referenced (the caller of vfs_mount owns the reference). */
struct inode *procfs_root(void);
/* Boot: starts the load-average sampler thread. Call once, after the scheduler is up. */
void procfs_init(void);
/* The kernel command line shown by /proc/cmdline (copied). */
void procfs_set_cmdline(const char *line);

/* Load averages over 1, 5, 15 minutes, Linux fixed point (FSHIFT fraction bits), updated every 5 s
 * from the number of runnable tasks. */
#define FSHIFT 11
#define FIXED_1 (1ul << FSHIFT)
void loadavg_get(unsigned long loads[3]);

/* CPU time since boot in clock ticks (HZ), as /proc/stat's cpu line splits it. user and system
 * sum the processes' own and reaped children's times (nice > 0 goes to nice); idle is the rest of
 * the time since boot, which includes kernel threads. Never decreases. */
struct cpu_times {
    uint64_t user, nice, system, idle;
};
void cpu_times_get(struct cpu_times *t);

/* Directories other subsystems add to /proc (net/netproc.c: /proc/cluster). get returns the
 * directory's inode, referenced; ino is its inode number for listings. The owner makes its inodes
 * on procfs_device(), so stat and statfs see /proc; its lookup answers ".." with procfs_root().
 * 0, -ENOSPC (at most 4), -EINVAL. Register before anyone lists /proc. */
int procfs_register_dir(const char *name, uint64_t ino, struct inode *(*get)(void));
uint32_t procfs_device(void);
