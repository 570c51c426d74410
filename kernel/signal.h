/* kernel/signal.h: POSIX signals as Linux numbers them, and how the kernel sends them. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define SIGHUP 1
#define SIGINT 2
#define SIGQUIT 3
#define SIGILL 4
#define SIGTRAP 5
#define SIGABRT 6
#define SIGBUS 7
#define SIGFPE 8
#define SIGKILL 9
#define SIGUSR1 10
#define SIGSEGV 11
#define SIGUSR2 12
#define SIGPIPE 13
#define SIGALRM 14
#define SIGTERM 15
#define SIGSTKFLT 16
#define SIGCHLD 17
#define SIGCONT 18
#define SIGSTOP 19
#define SIGTSTP 20
#define SIGTTIN 21
#define SIGTTOU 22
#define SIGURG 23
#define SIGXCPU 24
#define SIGXFSZ 25
#define SIGVTALRM 26
#define SIGPROF 27
#define SIGWINCH 28
#define SIGIO 29
#define SIGPWR 30
#define SIGSYS 31
#define NSIG 64

#define sigmask(sig) (1ull << ((sig) - 1))
#define UNBLOCKABLE (sigmask(SIGKILL) | sigmask(SIGSTOP))
#define STOP_SIGNALS (sigmask(SIGSTOP) | sigmask(SIGTSTP) | sigmask(SIGTTIN) | sigmask(SIGTTOU))
#define SYSCALL_VECTOR 0x100          /* trap_frame.vector of a system call */

struct process;

/* Sends sig to a process / every process of a process group; safe from interrupt handlers.
 * Return 0 or -ESRCH. */
int signal_send(struct process *p, int sig);
int signal_send_pgrp(int pgid, int sig);
/* kill(pid, sig) of a local process on behalf of another node: 0, -ESRCH, -EINVAL. */
int signal_kill_local(int pid, int sig, int from_pid);
/* True when the current process has a signal that would interrupt a blocking system call. */
bool signal_pending(void);
/* Sends sig as kill(2) from from_pid would (code: si_code), without any check; interrupts off or on. */
int signal_deliver(struct process *p, int sig, int code, int from_pid);
/* Signals p discards at once (SIG_IGN, or a default action of ignoring). */
uint64_t signal_ignored_mask(struct process *p);
/* A deputy's process stopped or continued where it runs: the same for its parent here. */
void signal_mirror_stop(struct process *p, int sig);
void signal_mirror_continue(struct process *p);
/* ITIMER_REAL: what is left and the interval (0 if not armed); arming it on a process. */
void signal_alarm_get(struct process *p, uint64_t *left_ns, uint64_t *interval_ns);
void signal_alarm_set(struct process *p, uint64_t left_ns, uint64_t interval_ns);
/* True if sig is ignored or blocked by p (the TTY uses this for SIGTTIN/SIGTTOU). */
bool signal_ignored_or_blocked(struct process *p, int sig);
