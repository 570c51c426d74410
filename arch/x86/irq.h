/* arch/x86/irq.h: device interrupt registration (IOAPIC routing, vectors, dispatch). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

typedef void (*irq_handler_t)(void *ctx);

/* Route legacy ISA interrupt `isa_irq` (0..15, after ACPI overrides) to `h`; edge triggered. */
int irq_register_isa(unsigned isa_irq, irq_handler_t h, void *ctx);
/* Route global system interrupt `gsi` (e.g. a PCI INTx line) to `h`. */
int irq_register_gsi(unsigned gsi, bool level, bool active_low, irq_handler_t h, void *ctx);

void irq_init(void);          /* IOAPIC + LAPIC setup, legacy PIC masked */

static inline void irq_enable(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void irq_disable(void) { __asm__ volatile("cli" ::: "memory"); }

static inline uint64_t irq_save(void)
{
    uint64_t flags;
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory");
    return flags;
}

static inline void irq_restore(uint64_t flags)
{
    if (flags & (1u << 9))
        __asm__ volatile("sti" ::: "memory");
}
