/* kernel/fpu.h: user FPU/SSE state. The kernel itself never touches these registers
 * (-mgeneral-regs-only), so a task's user state stays live in the CPU until the next switch. */
#pragma once
#include <stdint.h>

struct task;

void fpu_init(void);                        /* enable SSE, record the power-on state */
void fpu_save(struct task *t);              /* fxsave into t->fpu_state */
void fpu_restore(struct task *t);           /* fxrstor from t->fpu_state */
void fpu_init_state(struct task *t);        /* t gets the clean initial state */
void fpu_reset_current(void);               /* execve: the current task starts clean */
uint32_t fpu_mxcsr_mask(void);
