/*
 * kernel/elf.c: reads an ELF64 header and its program headers, checking every field before use:
 * an executable is user input. Produces the list of PT_LOAD segments the loader maps, relocated
 * to ELF_PIE_BASE for static-pie (ET_DYN) files.
 */
#include "kernel/elf.h"
#ifdef HOST_TEST
#include <string.h>
#else
#include "kernel/string.h"
#endif

#define ENOEXEC_ 8
#define ET_EXEC 2
#define ET_DYN 3
#define EM_X86_64 62
#define PT_LOAD 1
#define PT_INTERP 3
#define PT_PHDR 6
#define PF_X 1
#define PF_W 2
#define PF_R 4

struct elf64_ehdr {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct elf64_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

static bool header_ok(const struct elf64_ehdr *eh, size_t hdr_len)
{
    static const uint8_t magic[4] = { 0x7f, 'E', 'L', 'F' };
    if (hdr_len < sizeof *eh || memcmp(eh->ident, magic, 4) != 0)
        return false;
    if (eh->ident[4] != 2 || eh->ident[5] != 1 || eh->ident[6] != 1)   /* 64-bit, little endian, v1 */
        return false;
    if ((eh->type != ET_EXEC && eh->type != ET_DYN) || eh->machine != EM_X86_64)
        return false;
    if (eh->phentsize != sizeof(struct elf64_phdr) || eh->phnum == 0 || eh->phnum > 64)
        return false;
    if (eh->phoff & 7)                         /* program headers are 8-byte aligned in any real file */
        return false;
    return eh->phoff < hdr_len && eh->phnum * sizeof(struct elf64_phdr) <= hdr_len - eh->phoff;
}

static bool add_segment(struct elf_image *img, const struct elf64_phdr *ph, uint64_t bias, uint64_t file_size,
                        uint64_t user_top)
{
    uint64_t va = ph->vaddr + bias;
    if (ph->filesz > ph->memsz || ph->offset > file_size || ph->filesz > file_size - ph->offset)
        return false;
    if (va < bias || va + ph->memsz < va || va + ph->memsz > user_top || ph->memsz == 0)
        return false;
    if ((va & 0xfff) != (ph->offset & 0xfff) || img->nseg == ELF_MAX_SEGMENTS)
        return false;
    struct elf_segment *s = &img->seg[img->nseg++];
    s->vaddr = va;
    s->memsz = ph->memsz;
    s->filesz = ph->filesz;
    s->offset = ph->offset;
    s->prot = ((ph->flags & PF_R) ? 1 : 0) | ((ph->flags & PF_W) ? 2 : 0) | ((ph->flags & PF_X) ? 4 : 0);
    if (va < img->lo)
        img->lo = va;
    if (va + ph->memsz > img->hi)
        img->hi = va + ph->memsz;
    return true;
}

int elf_parse(const void *hdr, size_t hdr_len, uint64_t file_size, uint64_t user_top, struct elf_image *out)
{
    const struct elf64_ehdr *eh = hdr;
    memset(out, 0, sizeof *out);
    if (!header_ok(eh, hdr_len))
        return -ENOEXEC_;
    uint64_t bias = eh->type == ET_DYN ? ELF_PIE_BASE : 0;
    const struct elf64_phdr *ph = (const struct elf64_phdr *)((const uint8_t *)hdr + eh->phoff);
    uint64_t phdr_va = 0;
    out->lo = UINT64_MAX;
    for (int i = 0; i < eh->phnum; i++) {
        if (ph[i].type == PT_INTERP)
            out->has_interp = true;
        if (ph[i].type == PT_PHDR)
            phdr_va = ph[i].vaddr + bias;
        if (ph[i].type != PT_LOAD)
            continue;
        if (!add_segment(out, &ph[i], bias, file_size, user_top))
            return -ENOEXEC_;
        if (!phdr_va && ph[i].offset <= eh->phoff && eh->phoff - ph[i].offset < ph[i].filesz)
            phdr_va = ph[i].vaddr + bias + (eh->phoff - ph[i].offset);
    }
    if (out->nseg == 0)
        return -ENOEXEC_;
    out->entry = eh->entry + bias;
    if (out->entry < out->lo || out->entry >= out->hi)
        return -ENOEXEC_;
    out->phdr_vaddr = phdr_va;
    out->phnum = eh->phnum;
    out->phentsize = eh->phentsize;
    return 0;
}
