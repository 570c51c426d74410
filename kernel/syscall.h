/*
 * kernel/syscall.h: how a system call is defined. Each subsystem defines its calls next to the code
 * they use, with SYSCALL(number, name); the dispatcher finds them all through a linker section, so
 * adding a call touches one file. Unknown numbers return -ENOSYS (logged once per number).
 * Numbers are Linux x86-64's (kernel/syscall_nr.h). Arguments arrive as longs; cast them.
 */
#pragma once
#include "kernel/errno.h"
#include "kernel/syscall_nr.h"
#include <stdint.h>

typedef long (*syscall_fn)(long a0, long a1, long a2, long a3, long a4, long a5);

/* Aligned to its (padded) size: the compiler places each descriptor on such a boundary anyway,
 * and the dispatcher walks the section as an array. */
struct syscall_desc {
    int nr;
    const char *name;
    syscall_fn fn;
} __attribute__((aligned(32)));

#define SYSCALL(nr_, name_)                                                                          \
    static long sys_##name_(long a0, long a1, long a2, long a3, long a4, long a5);                  \
    static const struct syscall_desc sysdesc_##name_ __attribute__((used, section(".syscalls"))) = \
        { nr_, #name_, sys_##name_ };                                                                \
    static long sys_##name_(long a0, long a1, long a2, long a3, long a4, long a5)

struct trap_frame;
void syscall_init(void);
/* The user register frame of the current system call (fork, execve, sigreturn need it). */
struct trap_frame *syscall_frame(void);
/* Runs system call nr of the current process with these arguments (the deputy serves calls so). */
long syscall_invoke(long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5);
