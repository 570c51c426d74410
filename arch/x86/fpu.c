/*
 * arch/x86/fpu.c: FPU and SSE state (fxsave format). Saved and restored eagerly at each switch
 * between tasks of user processes; cheap next to a TCG context switch and never wrong.
 */
#include "kernel/fpu.h"
#include "arch/x86/cpu.h"
#include "kernel/sched.h"
#include "kernel/string.h"

static uint8_t initial_state[512] __attribute__((aligned(16)));
static uint32_t mxcsr_mask = 0xffbf;

void fpu_init(void)
{
    uint64_t cr0, cr4;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    cr0 &= ~((1ull << 2) | (1ull << 3));        /* no emulation, not task-switched */
    cr0 |= (1ull << 1) | (1ull << 5);           /* monitor coprocessor, native FPU errors */
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    cr4 |= (1ull << 9) | (1ull << 10);          /* OSFXSR, OSXMMEXCPT */
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
    uint32_t mxcsr = 0x1f80;
    __asm__ volatile("fninit; ldmxcsr %0" : : "m"(mxcsr));
    __asm__ volatile("fxsave %0" : "=m"(initial_state));
    uint32_t mask;
    memcpy(&mask, initial_state + 28, 4);
    if (mask)
        mxcsr_mask = mask;
}

void fpu_save(struct task *t) { __asm__ volatile("fxsave %0" : "=m"(t->fpu_state)); }
void fpu_restore(struct task *t) { __asm__ volatile("fxrstor %0" : : "m"(t->fpu_state)); }
void fpu_init_state(struct task *t) { memcpy(t->fpu_state, initial_state, sizeof initial_state); }

void fpu_reset_current(void)
{
    struct task *t = current_task();
    fpu_init_state(t);
    fpu_restore(t);
}

uint32_t fpu_mxcsr_mask(void) { return mxcsr_mask; }
