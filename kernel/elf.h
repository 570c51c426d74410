/* kernel/elf.h: validation and layout of static ELF64 x86-64 executables (portable, host-tested). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_SEGMENTS 16
#define ELF_PIE_BASE 0x400000ul        /* where a static-pie (ET_DYN) is placed */

struct elf_segment {
    uint64_t vaddr, memsz, filesz, offset;
    uint32_t prot;                      /* PROT_READ/WRITE/EXEC bits (1/2/4) */
};

struct elf_image {
    uint64_t entry;
    uint64_t phdr_vaddr;                /* where the program headers are in memory (AT_PHDR), 0 if not loaded */
    uint16_t phnum, phentsize;
    uint64_t lo, hi;                    /* lowest and highest address of the loaded image */
    int nseg;
    struct elf_segment seg[ELF_MAX_SEGMENTS];
    bool has_interp;                    /* dynamically linked: needs an interpreter we do not have */
};

/* hdr: the first hdr_len bytes of the file (the ELF header and program headers must lie within);
 * file_size: the file's size. user_top: exclusive upper bound for addresses.
 * Returns 0, or -ENOEXEC (-8) for anything that is not a loadable static x86-64 executable. */
int elf_parse(const void *hdr, size_t hdr_len, uint64_t file_size, uint64_t user_top, struct elf_image *out);
