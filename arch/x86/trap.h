/* arch/x86/trap.h: the trap frame built by the interrupt entry stubs, and the IDT. */
#pragma once
#include <stdint.h>

struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;          /* pushed by the CPU */
};

#define VEC_PAGE_FAULT 14
#define VEC_TIMER 0x20
#define VEC_IRQ_BASE 0x30                       /* IOAPIC pins 0..23 -> 0x30.. */
#define VEC_SPURIOUS 0xff

void idt_init(void);
void idt_set_handler(uint8_t vector, void (*fn)(struct trap_frame *tf));
void trap_dispatch(struct trap_frame *tf);
const char *trap_name(uint64_t vector);

/* Exception-table fixups (as in Linux): a faulting instruction listed in __ex_table resumes at its
 * fixup address instead of bringing the kernel down. Used by the safe copy routines. */
struct extable_entry { uint64_t insn, fixup; };
uint64_t extable_lookup(uint64_t rip);
uint64_t trap_fault_count(uint64_t vector);     /* faults of this vector recovered through fixups */
uint64_t trap_last_cr2(void);
