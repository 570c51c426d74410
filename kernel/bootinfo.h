/* kernel/bootinfo.h: what the boot loader told us (multiboot1 or multiboot2), copied into one place. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define BOOT_MAX_REGIONS 64
#define BOOT_MAX_MODULES 8

struct mem_region {
    uint64_t base, len;
    uint32_t type;                  /* 1 = usable RAM */
};

struct boot_module {
    uint64_t start, end;            /* physical */
    char name[64];
};

struct bootinfo {
    const char *loader;
    char cmdline[1024];
    struct mem_region mem[BOOT_MAX_REGIONS];
    int nmem;
    struct boot_module mods[BOOT_MAX_MODULES];
    int nmods;
    uint8_t rsdp[36];
    bool has_rsdp;
    uint64_t info_start, info_end;  /* the loader's structure, reserved until parsed */
};

/* Returns false if the magic is unknown (not booted by a multiboot loader). */
bool bootinfo_parse(uint32_t magic, uint64_t info_phys, struct bootinfo *bi);
