/* arch/x86/percpu.c: the per-CPU block (GS base) and the MSRs of the syscall instruction. */
#include "arch/x86/percpu.h"
#include "arch/x86/cpu.h"
#include "arch/x86/gdt.h"

static struct percpu cpu0;

void percpu_init(void)
{
    wrmsr(MSR_GS_BASE, (uint64_t)&cpu0);
    wrmsr(MSR_KERNEL_GS_BASE, 0);
}

void percpu_set_kernel_stack(uint64_t top)
{
    cpu0.kernel_rsp = top;
    tss_set_rsp0(top);
}

void syscall_entry(void);

void syscall_arch_init(void)
{
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1);                          /* SCE: syscall enabled */
    wrmsr(MSR_STAR, ((uint64_t)0x10 << 48) | ((uint64_t)KERNEL_CS << 32));
    wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
    /* Entry with IF, TF, DF, AC and NT clear: no interrupt before the stack switch, sane flags. */
    wrmsr(MSR_SFMASK, (1u << 9) | (1u << 8) | (1u << 10) | (1u << 18) | (1u << 14));
}
