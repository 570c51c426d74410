/* arch/x86/percpu.h: per-CPU data reached through the GS base while in the kernel. */
#pragma once
#include <stdint.h>

struct percpu {
    uint64_t kernel_rsp;        /* offset 0: top of the current task's kernel stack (syscall entry) */
    uint64_t user_rsp;          /* offset 8: scratch for the user rsp at syscall entry */
};

void percpu_init(void);
void percpu_set_kernel_stack(uint64_t top);
void syscall_arch_init(void);
