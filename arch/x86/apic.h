/* arch/x86/apic.h: the local APIC (timer, EOI) and the IOAPIC. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

void lapic_init(uint64_t phys);
void lapic_eoi(void);
uint32_t lapic_id(void);
void lapic_timer_periodic(uint8_t vector, uint32_t count);    /* divide by 16 */
void lapic_timer_oneshot_max(void);                           /* counts down from 0xffffffff, masked */
uint32_t lapic_timer_current(void);
void lapic_timer_stop(void);

void ioapic_init(uint64_t phys, uint32_t gsi_base);
void ioapic_route(uint32_t gsi, uint8_t vector, bool level, bool active_low);
void ioapic_mask(uint32_t gsi, bool masked);
uint32_t ioapic_pins(void);

void pic_disable(void);
