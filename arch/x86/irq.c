/*
 * arch/x86/irq.c: device interrupt registration. IOAPIC pin N raises vector VEC_IRQ_BASE + N;
 * the common handler calls the registered driver handler, then acknowledges the LAPIC.
 */
#include "arch/x86/irq.h"
#include "arch/x86/acpi.h"
#include "arch/x86/apic.h"
#include "arch/x86/trap.h"
#include "kernel/printk.h"

#define MAX_GSI 24

struct irq_slot {
    irq_handler_t fn;
    void *ctx;
    uint64_t count;
};

static struct irq_slot slots[MAX_GSI];

static void irq_entry(struct trap_frame *tf)
{
    struct irq_slot *s = &slots[tf->vector - VEC_IRQ_BASE];
    s->count++;
    if (s->fn)
        s->fn(s->ctx);
    lapic_eoi();
}

void irq_init(void)
{
    const struct acpi_info *a = acpi_get();
    pic_disable();
    lapic_init(a->lapic_phys);
    ioapic_init(a->ioapic_phys, a->ioapic_gsi_base);
    for (int i = 0; i < MAX_GSI; i++)
        idt_set_handler(VEC_IRQ_BASE + i, irq_entry);
}

int irq_register_gsi(unsigned gsi, bool level, bool active_low, irq_handler_t h, void *ctx)
{
    if (gsi >= MAX_GSI || slots[gsi].fn) {
        printk(LOG_ERR, "irq: cannot register GSI %u\n", gsi);
        return -1;
    }
    uint64_t f = irq_save();
    slots[gsi].fn = h;
    slots[gsi].ctx = ctx;
    ioapic_route(gsi, VEC_IRQ_BASE + gsi, level, active_low);
    irq_restore(f);
    return 0;
}

int irq_register_isa(unsigned isa_irq, irq_handler_t h, void *ctx)
{
    if (isa_irq >= 16)
        return -1;
    const struct isa_override *o = &acpi_get()->isa[isa_irq];
    return irq_register_gsi(o->gsi, o->level, o->active_low, h, ctx);
}
