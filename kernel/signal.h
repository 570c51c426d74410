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

struct process;

/* Sends sig to a process / every process of a process group; safe from interrupt handlers.
 * Return 0 or -ESRCH. */
int signal_send(struct process *p, int sig);
int signal_send_pgrp(int pgid, int sig);
/* kill(pid, sig) of a local process on behalf of another node: 0, -ESRCH, -EINVAL. */
int signal_kill_local(int pid, int sig, int from_pid);
/* True when the current process has a signal that would interrupt a blocking system call. */
bool signal_pending(void);
/* True if sig is ignored or blocked by p (the TTY uses this for SIGTTIN/SIGTTOU). */
bool signal_ignored_or_blocked(struct process *p, int sig);
