/*
 * kernel/ssi.h: the single system image's process table (docs/SSI.md). Pids say their home node;
 * every node serves its local processes as compact records (RPC "list") and delivers signals to
 * them (RPC "signal"); procfs and kill use the cluster view through this interface.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SSI_PIDS_PER_NODE 10000         /* node N: N*10000+2 .. N*10000+9999; node 0: 2..9999 */
#define SSI_PID_MAX (64 * SSI_PIDS_PER_NODE)
#define SSI_CMDLINE_MAX 200

#define RPC_SVC_SSI_LIST 16
#define RPC_SVC_SSI_SIGNAL 17

/* One process as another node sees it. */
struct ssi_proc {
    int pid, ppid, pgid, sid, tty_nr, tpgid, nice;
    uint32_t uid, gid;
    char state;                         /* R S D T Z */
    char comm[17];
    uint64_t utime, stime, start_ticks, vsize, rss_pages;
    int node;                           /* where it runs (the node that sent the record) */
    uint32_t cmdline_len;
    char cmdline[SSI_CMDLINE_MAX];
};

/* The node a pid was allocated on (pid 1 is every node's own init: this node); -1 if out of range. */
int ssi_pid_home(int pid);
/* First and last pid this node allocates. */
int ssi_pid_first(void);
int ssi_pid_last(void);

/* Wire encoding of one record: bytes written (0 if cap is too small) / consumed (0 if malformed). */
size_t ssi_encode(const struct ssi_proc *p, void *buf, size_t cap);
size_t ssi_decode(const void *buf, size_t len, struct ssi_proc *out);

/* A remote process (home not this node) by pid, from the cluster view; refresh: may fetch it
 * (sleeps, never with a lock held), else only what is cached. */
bool ssi_remote_get(int pid, struct ssi_proc *out, bool refresh);
/* Up to max remote pids >= from, ascending, from the (refreshed) view; returns how many. */
int ssi_remote_pids(int from, int *pids, int max);
/* kill(pid, sig) of a process (pid < -1: a process group) whose home is another node: 0, -ESRCH,
 * -EINVAL, -EPERM. */
int ssi_remote_kill(int pid, int sig);

/* Boot: registers the services and the peer-down hook. After rpc_init. */
void ssi_init(void);
