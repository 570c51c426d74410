/*
 * kernel/panic.c: the end of the road. Prints a report a human can act on (what, where by function
 * name, how we got there) on every console, then halts this node; other nodes carry on.
 */
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "arch/x86/cpu.h"
#include "arch/x86/irq.h"
#include <stddef.h>

extern const uint64_t ksyms_count;
extern const uint64_t ksyms_addr[];
extern const uint32_t ksyms_off[];
extern const char ksyms_names[];
extern char __text_start[], __text_end[];

long copy_safe(void *dst, const void *src, uint64_t n);

const char *ksym_lookup(uint64_t addr, uint64_t *offset)
{
    if (ksyms_count == 0 || addr < ksyms_addr[0] || addr >= (uint64_t)__text_end)
        return NULL;
    uint64_t lo = 0, hi = ksyms_count;   /* the last symbol whose address is <= addr */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (ksyms_addr[mid] <= addr)
            lo = mid;
        else
            hi = mid;
    }
    *offset = addr - ksyms_addr[lo];
    return &ksyms_names[ksyms_off[lo]];
}

static void print_frame(uint64_t addr)
{
    uint64_t off;
    const char *name = ksym_lookup(addr, &off);
    if (name)
        printk(LOG_EMERG, "  [<%016lx>] %s+0x%lx\n", addr, name, off);
    else
        printk(LOG_EMERG, "  [<%016lx>] ?\n", addr);
}

/* Frames are read with copy_safe: a corrupt chain must not fault inside the fault report. */
void backtrace_print(uint64_t rip, uint64_t rbp)
{
    printk(LOG_EMERG, "Backtrace:\n");
    if (rip)
        print_frame(rip);
    for (int depth = 0; depth < 32 && rbp != 0 && (rbp & 7) == 0; depth++) {
        uint64_t frame[2];
        if (rbp < 0xffff800000000000ul || copy_safe(frame, (void *)rbp, sizeof frame) != 0)
            break;
        if (frame[1] == 0)
            break;
        print_frame(frame[1]);
        if (frame[0] <= rbp)    /* stacks grow down: the chain must go up */
            break;
        rbp = frame[0];
    }
}

void cpu_halt_forever(void)
{
    for (;;) {
        irq_disable();
        hlt();
    }
}

void panic(const char *fmt, ...)
{
    irq_disable();
    printk_panic_mode();
    va_list ap;
    va_start(ap, fmt);
    printk(LOG_EMERG, "\nKERNEL PANIC: ");
    vprintk(LOG_EMERG, fmt, ap);
    printk(LOG_EMERG, "\n");
    va_end(ap);
    uint64_t rbp;
    __asm__ volatile("mov %%rbp, %0" : "=r"(rbp));
    backtrace_print(0, rbp);
    printk(LOG_EMERG, "System halted.\n");
    cpu_halt_forever();
}
