/* arch/x86/acpi.h: what we need from the ACPI tables: the IOAPIC and the ISA interrupt overrides. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct isa_override {
    uint32_t gsi;
    bool level, active_low;
};

struct acpi_info {
    bool found_madt;
    uint64_t lapic_phys;
    uint64_t ioapic_phys;
    uint32_t ioapic_gsi_base;
    struct isa_override isa[16];     /* identity (edge, active high) unless the MADT says otherwise */
    int cpus;
};

/* rsdp: a copy of the RSDP given by the boot loader, or NULL (then we search the BIOS areas). */
void acpi_init(const void *rsdp);
const struct acpi_info *acpi_get(void);
