/*
 * arch/x86/trap.c: the IDT and the dispatch of every interrupt and exception.
 * A CPU exception in the kernel is either expected (its instruction has an exception-table fixup)
 * or fatal: then a full report names the faulting function and the node halts.
 */
#include "arch/x86/trap.h"
#include "arch/x86/cpu.h"
#include "arch/x86/gdt.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/errno.h"
#include "kernel/migrate.h"
#include "kernel/proc.h"
#include "kernel/sched.h"
#include "kernel/uvm.h"
#include "kernel/vm.h"
#include <stddef.h>

struct idt_entry {
    uint16_t off_lo, sel;
    uint8_t ist, type;
    uint16_t off_mid;
    uint32_t off_hi, zero;
} __attribute__((packed));

static struct idt_entry idt[256];
static void (*handlers[256])(struct trap_frame *tf);
static uint64_t fixup_counts[32];
static uint64_t last_cr2;
extern const uint64_t isr_table[256];
extern const struct extable_entry __ex_table_start[], __ex_table_end[];

void signal_force(int sig, uint64_t addr, int code);
void signal_return_to_user(struct trap_frame *tf, long ret);

static const char *const exception_names[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range", "invalid opcode",
    "device not available", "double fault", "coprocessor overrun", "invalid TSS", "segment not present",
    "stack fault", "general protection fault", "page fault", "reserved", "x87 floating point",
    "alignment check", "machine check", "SIMD floating point", "virtualization", "control protection",
};

const char *trap_name(uint64_t vector)
{
    if (vector < 32 && exception_names[vector])
        return exception_names[vector];
    return vector < 32 ? "reserved exception" : "interrupt";
}

static void idt_set_gate(int vec, uint64_t addr, uint8_t ist, uint8_t dpl)
{
    idt[vec].off_lo = addr & 0xffff;
    idt[vec].sel = KERNEL_CS;
    idt[vec].ist = ist;
    idt[vec].type = 0x8e | (dpl << 5);      /* present, 64-bit interrupt gate */
    idt[vec].off_mid = (addr >> 16) & 0xffff;
    idt[vec].off_hi = addr >> 32;
    idt[vec].zero = 0;
}

void idt_init(void)
{
    for (int v = 0; v < 256; v++)
        idt_set_gate(v, isr_table[v], 0, 0);
    idt_set_gate(8, isr_table[8], IST_DOUBLE_FAULT, 0);
    idt_set_gate(2, isr_table[2], IST_NMI, 0);
    idt_set_gate(3, isr_table[3], 0, 3);       /* int3 allowed from user mode */
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) p = { sizeof(idt) - 1, (uint64_t)idt };
    __asm__ volatile("lidt %0" : : "m"(p));
}

void idt_set_handler(uint8_t vector, void (*fn)(struct trap_frame *tf)) { handlers[vector] = fn; }

uint64_t extable_lookup(uint64_t rip)
{
    for (const struct extable_entry *e = __ex_table_start; e < __ex_table_end; e++)
        if (e->insn == rip)
            return e->fixup;
    return 0;
}

uint64_t trap_fault_count(uint64_t vector) { return vector < 32 ? fixup_counts[vector] : 0; }
uint64_t trap_last_cr2(void) { return last_cr2; }

static void print_symbol_line(const char *what, uint64_t addr)
{
    uint64_t off;
    const char *name = ksym_lookup(addr, &off);
    if (name)
        printk(LOG_EMERG, "  %s %016lx <%s+0x%lx>\n", what, addr, name, off);
    else
        printk(LOG_EMERG, "  %s %016lx\n", what, addr);
}

static void print_page_fault_detail(uint64_t err, uint64_t cr2)
{
    printk(LOG_EMERG, "  CR2 %016lx (%s, %s, %s mode%s)\n", cr2, (err & 2) ? "write" : "read",
           (err & 1) ? "protection violation" : "page not present", (err & 4) ? "user" : "kernel",
           (err & 16) ? ", instruction fetch" : "");
}

static __attribute__((noreturn)) void die(struct trap_frame *tf, uint64_t cr2)
{
    printk_panic_mode();
    printk(LOG_EMERG, "\nKERNEL PANIC: %s (vector %lu) in %s mode\n", trap_name(tf->vector),
           tf->vector, (tf->cs & 3) ? "user" : "kernel");
    printk(LOG_EMERG, "  error code %#lx\n", tf->error);
    print_symbol_line("RIP", tf->rip);
    if (tf->vector == VEC_PAGE_FAULT)
        print_page_fault_detail(tf->error, cr2);
    printk(LOG_EMERG, "  RAX %016lx RBX %016lx RCX %016lx RDX %016lx\n", tf->rax, tf->rbx, tf->rcx, tf->rdx);
    printk(LOG_EMERG, "  RSI %016lx RDI %016lx RBP %016lx RSP %016lx\n", tf->rsi, tf->rdi, tf->rbp, tf->rsp);
    printk(LOG_EMERG, "  R8  %016lx R9  %016lx R10 %016lx R11 %016lx\n", tf->r8, tf->r9, tf->r10, tf->r11);
    printk(LOG_EMERG, "  R12 %016lx R13 %016lx R14 %016lx R15 %016lx\n", tf->r12, tf->r13, tf->r14, tf->r15);
    printk(LOG_EMERG, "  RFLAGS %016lx CS %04lx SS %04lx CR3 %016lx\n", tf->rflags, tf->cs, tf->ss, read_cr3());
    struct task *t = current_task();
    if (t)
        printk(LOG_EMERG, "  task %d (%s)\n", t->tid, t->name);
    backtrace_print(tf->rip, tf->rbp);
    printk(LOG_EMERG, "System halted.\n");
    cpu_halt_forever();
}

static int exception_signal(uint64_t vector)
{
    switch (vector) {
    case 0: case 16: case 19:
        return SIGFPE;
    case 1: case 3:
        return SIGTRAP;
    case 6:
        return SIGILL;
    case 17:
        return SIGBUS;
    default:
        return SIGSEGV;
    }
}

/* A fault in user mode: demand paging and copy-on-write first, a signal if that fails. */
static void handle_user_exception(struct trap_frame *tf, uint64_t cr2)
{
    struct process *p = current_proc();
    int r = 0;
    if (tf->vector == VEC_PAGE_FAULT) {
        p->min_flt++;
        r = mm_fault(p->mm, cr2, tf->error & 2);
        if (r == 0)
            return;
        if (r == -ENOMEM) {
            printk(LOG_ERR, "mm: out of memory: killing pid %d (%s)\n", p->pid, p->comm);
            signal_send(p, SIGKILL);
            return;
        }
    }
    int code = 0;
    if (tf->vector == VEC_PAGE_FAULT)
        code = r == -EACCES || (tf->error & 1) ? 2 : 1;   /* SEGV_ACCERR : SEGV_MAPERR */
    else if (tf->vector == 13)
        code = 0x80;                                        /* SI_KERNEL, as Linux reports #GP */
    signal_force(exception_signal(tf->vector), tf->vector == VEC_PAGE_FAULT ? cr2 : tf->rip, code);
}

static void handle_exception(struct trap_frame *tf)
{
    uint64_t cr2 = tf->vector == VEC_PAGE_FAULT ? read_cr2() : 0;
    if ((tf->cs & 3) && current_proc()) {
        handle_user_exception(tf, cr2);
        return;
    }
    uint64_t fixup = extable_lookup(tf->rip);
    /* A system call touching user memory: fault it in as the process would, then retry. */
    if (fixup && tf->vector == VEC_PAGE_FAULT && cr2 < USER_TOP && current_proc() &&
        mm_fault(current_proc()->mm, cr2, tf->error & 2) == 0)
        return;

    if (fixup && (tf->vector == VEC_PAGE_FAULT || tf->vector == 13)) {
        fixup_counts[tf->vector]++;
        last_cr2 = cr2;
        tf->rip = fixup;
        return;
    }
    die(tf, cr2);
}

void trap_dispatch(struct trap_frame *tf)
{
    uint64_t v = tf->vector;
    if (handlers[v])
        handlers[v](tf);
    else if (v < 32)
        handle_exception(tf);
    else if (v != VEC_SPURIOUS)
        printk(LOG_WARN, "trap: unexpected interrupt vector %lu\n", v);
    sched_preempt_point(tf);
    if (tf->cs & 3)
        signal_return_to_user(tf, 0);
    struct process *p = (tf->cs & 3) ? current_proc() : NULL;
    if (p && p->migrate_to >= 0)
        migrate_on_return(tf);          /* a running process moves at its next interrupt */
}
