/*
 * arch/x86/apic.c: interrupt controllers. The legacy 8259 PICs are remapped away from the exception
 * vectors and masked; the local APIC gives the timer and EOI; the IOAPIC routes device lines.
 */
#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "arch/x86/io.h"
#include "arch/x86/trap.h"
#include "kernel/mm.h"

#define LAPIC_ID 0x020
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_TPR 0x080
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0
#define LVT_MASKED (1u << 16)
#define LVT_PERIODIC (1u << 17)

static volatile uint8_t *lapic;
static volatile uint32_t *ioapic;
static uint32_t ioapic_base_gsi, ioapic_npins;

static uint32_t lapic_read(uint32_t reg) { return mmio_read32(lapic + reg); }
static void lapic_write(uint32_t reg, uint32_t v) { mmio_write32(lapic + reg, v); }

void pic_disable(void)
{
    /* ICW1..ICW4: vectors 0x20..0x2f, then mask everything; spurious PIC IRQs land on harmless vectors. */
    outb(0x20, 0x11); io_wait();
    outb(0xa0, 0x11); io_wait();
    outb(0x21, 0x20); io_wait();
    outb(0xa1, 0x28); io_wait();
    outb(0x21, 4); io_wait();
    outb(0xa1, 2); io_wait();
    outb(0x21, 1); io_wait();
    outb(0xa1, 1); io_wait();
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

void lapic_init(uint64_t phys)
{
    wrmsr(MSR_APIC_BASE, (rdmsr(MSR_APIC_BASE) & ~0xfffull) | (phys & ~0xfffull) | (1u << 11));
    lapic = P2V(phys);
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS);
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
}

void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }
uint32_t lapic_id(void) { return lapic_read(LAPIC_ID) >> 24; }

void lapic_timer_periodic(uint8_t vector, uint32_t count)
{
    lapic_write(LAPIC_TIMER_DIV, 0x3);
    lapic_write(LAPIC_LVT_TIMER, vector | LVT_PERIODIC);
    lapic_write(LAPIC_TIMER_INIT, count);
}

void lapic_timer_oneshot_max(void)
{
    lapic_write(LAPIC_TIMER_DIV, 0x3);
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
    lapic_write(LAPIC_TIMER_INIT, 0xffffffff);
}

uint32_t lapic_timer_current(void) { return lapic_read(LAPIC_TIMER_CUR); }
void lapic_timer_stop(void) { lapic_write(LAPIC_TIMER_INIT, 0); }

static uint32_t ioapic_read(uint32_t reg)
{
    ioapic[0] = reg;
    return ioapic[4];
}

static void ioapic_write(uint32_t reg, uint32_t v)
{
    ioapic[0] = reg;
    ioapic[4] = v;
}

void ioapic_init(uint64_t phys, uint32_t gsi_base)
{
    ioapic = P2V(phys);
    ioapic_base_gsi = gsi_base;
    ioapic_npins = ((ioapic_read(1) >> 16) & 0xff) + 1;
    for (uint32_t pin = 0; pin < ioapic_npins; pin++)
        ioapic_write(0x10 + 2 * pin, LVT_MASKED);
}

uint32_t ioapic_pins(void) { return ioapic_npins; }

void ioapic_route(uint32_t gsi, uint8_t vector, bool level, bool active_low)
{
    uint32_t pin = gsi - ioapic_base_gsi;
    if (gsi < ioapic_base_gsi || pin >= ioapic_npins)
        return;
    uint32_t lo = vector | (active_low ? 1u << 13 : 0) | (level ? 1u << 15 : 0);
    ioapic_write(0x10 + 2 * pin + 1, lapic_id() << 24);
    ioapic_write(0x10 + 2 * pin, lo);
}

void ioapic_mask(uint32_t gsi, bool masked)
{
    uint32_t pin = gsi - ioapic_base_gsi;
    if (gsi < ioapic_base_gsi || pin >= ioapic_npins)
        return;
    uint32_t lo = ioapic_read(0x10 + 2 * pin);
    ioapic_write(0x10 + 2 * pin, masked ? lo | LVT_MASKED : lo & ~LVT_MASKED);
}
