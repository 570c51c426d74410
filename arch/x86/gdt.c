/* arch/x86/gdt.c: the GDT (kernel and user segments) and the TSS with its IST stacks. */
#include "arch/x86/gdt.h"
#include <stddef.h>

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

static struct tss tss;
static uint64_t gdt[7];
static uint8_t ist_stacks[2][8192] __attribute__((aligned(16)));

struct gdt_ptr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

static void set_tss_descriptor(void)
{
    uint64_t base = (uint64_t)&tss;
    uint64_t limit = sizeof(tss) - 1;

    gdt[5] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
             (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt[6] = base >> 32;
}

void gdt_init(void)
{
    gdt[0] = 0;
    gdt[1] = 0x00af9a000000ffff;    /* kernel code, 64-bit */
    gdt[2] = 0x00cf92000000ffff;    /* kernel data */
    gdt[3] = 0x00cff2000000ffff;    /* user data */
    gdt[4] = 0x00affa000000ffff;    /* user code, 64-bit */
    tss.iomap_base = sizeof(tss);
    tss.ist[IST_DOUBLE_FAULT - 1] = (uint64_t)&ist_stacks[0][sizeof ist_stacks[0]];
    tss.ist[IST_NMI - 1] = (uint64_t)&ist_stacks[1][sizeof ist_stacks[1]];
    set_tss_descriptor();

    struct gdt_ptr p = { sizeof(gdt) - 1, (uint64_t)gdt };
    __asm__ volatile("lgdt %0" : : "m"(p));
    /* Reload CS through a far return, then the data segments and the task register. */
    __asm__ volatile("pushq %0\n"
                     "leaq 1f(%%rip), %%rax\n"
                     "pushq %%rax\n"
                     "lretq\n"
                     "1:\n"
                     "mov %1, %%ds\n"
                     "mov %1, %%es\n"
                     "mov %1, %%ss\n"
                     : : "i"(KERNEL_CS), "r"((uint64_t)KERNEL_DS) : "rax", "memory");
    __asm__ volatile("ltr %w0" : : "r"(TSS_SEL));
}

void tss_set_rsp0(uint64_t rsp0) { tss.rsp[0] = rsp0; }
