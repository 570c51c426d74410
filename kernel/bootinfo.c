/*
 * kernel/bootinfo.c: reads the multiboot1 (QEMU -kernel) or multiboot2 (GRUB) information into a
 * struct bootinfo, so nothing after boot depends on which loader ran. The loader's structure is
 * read through the boot direct map (first 4 GiB) and never trusted beyond its declared size.
 */
#include "kernel/bootinfo.h"
#include "kernel/mm.h"
#include "kernel/string.h"

#define MB1_BOOT_MAGIC 0x2badb002
#define MB2_BOOT_MAGIC 0x36d76289

static void add_region(struct bootinfo *bi, uint64_t base, uint64_t len, uint32_t type)
{
    if (bi->nmem < BOOT_MAX_REGIONS && len)
        bi->mem[bi->nmem++] = (struct mem_region){ base, len, type };
}

static void add_module(struct bootinfo *bi, uint64_t start, uint64_t end, const char *name)
{
    if (bi->nmods >= BOOT_MAX_MODULES || end < start)
        return;
    struct boot_module *m = &bi->mods[bi->nmods++];
    m->start = start;
    m->end = end;
    strlcpy(m->name, name ? name : "", sizeof m->name);
}

static void parse_mb1(uint64_t pa, struct bootinfo *bi)
{
    const uint32_t *mbi = P2V(pa);
    uint32_t flags = mbi[0];
    bi->loader = "multiboot1";
    bi->info_start = pa;
    bi->info_end = pa + 88;
    if (flags & (1u << 2))
        strlcpy(bi->cmdline, P2V(mbi[4]), sizeof bi->cmdline);
    if (flags & (1u << 3)) {
        const uint32_t *mod = P2V(mbi[6]);
        for (uint32_t i = 0; i < mbi[5] && i < BOOT_MAX_MODULES; i++, mod += 4)
            add_module(bi, mod[0], mod[1], mod[2] ? P2V(mod[2]) : NULL);
    }
    if (flags & (1u << 6)) {
        uint64_t p = mbi[12], end = p + mbi[11];
        while (p + 24 <= end) {
            const uint8_t *e = P2V(p);
            uint32_t size = *(const uint32_t *)e;
            add_region(bi, *(const uint64_t *)(e + 4), *(const uint64_t *)(e + 12), *(const uint32_t *)(e + 20));
            p += size + 4;
        }
    } else if (flags & 1) {
        add_region(bi, 0, (uint64_t)mbi[1] * 1024, 1);
        add_region(bi, 0x100000, (uint64_t)mbi[2] * 1024, 1);
    }
}

static void parse_mb2_tag(const uint8_t *tag, uint32_t type, uint32_t size, struct bootinfo *bi)
{
    if (type == 1 && size > 8) {
        uint32_t n = size - 8 < sizeof bi->cmdline ? size - 8 : sizeof bi->cmdline;
        strlcpy(bi->cmdline, (const char *)tag + 8, n);
    } else if (type == 3 && size >= 16) {
        add_module(bi, *(const uint32_t *)(tag + 8), *(const uint32_t *)(tag + 12),
                   size > 16 ? (const char *)tag + 16 : NULL);
    } else if (type == 6 && size >= 16) {
        uint32_t esize = *(const uint32_t *)(tag + 8);
        for (uint32_t off = 16; esize >= 24 && off + esize <= size; off += esize)
            add_region(bi, *(const uint64_t *)(tag + off), *(const uint64_t *)(tag + off + 8),
                       *(const uint32_t *)(tag + off + 16));
    } else if ((type == 14 || type == 15) && size >= 8 + 20 && !bi->has_rsdp) {
        uint32_t n = size - 8 < sizeof bi->rsdp ? size - 8 : sizeof bi->rsdp;
        memcpy(bi->rsdp, tag + 8, n);
        bi->has_rsdp = true;
    }
}

static void parse_mb2(uint64_t pa, struct bootinfo *bi)
{
    const uint8_t *base = P2V(pa);
    uint32_t total = *(const uint32_t *)base;
    bi->loader = "multiboot2";
    bi->info_start = pa;
    bi->info_end = pa + total;
    for (uint32_t off = 8; off + 8 <= total;) {
        uint32_t type = *(const uint32_t *)(base + off);
        uint32_t size = *(const uint32_t *)(base + off + 4);
        if (type == 0 || size < 8 || off + size > total)
            break;
        parse_mb2_tag(base + off, type, size, bi);
        off += (size + 7) & ~7u;
    }
}

bool bootinfo_parse(uint32_t magic, uint64_t info_phys, struct bootinfo *bi)
{
    memset(bi, 0, sizeof *bi);
    if (magic == MB1_BOOT_MAGIC)
        parse_mb1(info_phys, bi);
    else if (magic == MB2_BOOT_MAGIC)
        parse_mb2(info_phys, bi);
    else
        return false;
    return true;
}
