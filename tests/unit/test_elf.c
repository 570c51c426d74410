/* tests/unit/test_elf.c: host tests of the ELF validator (kernel/elf.c): good static and static-pie
 * images, every header field out of range, and random corruption under ASan. */
#include "kernel/elf.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>

#define USER_TOP 0x00007ffffffff000ull

struct ehdr {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

struct image {
    struct ehdr eh;
    struct phdr ph[4];
};

/* A typical static executable: text at 0x401000 (file 0x1000), data at 0x403000 with bss. */
static void make_exec(struct image *im)
{
    memset(im, 0, sizeof *im);
    memcpy(im->eh.ident, "\x7f" "ELF\x02\x01\x01", 7);
    im->eh.type = 2;
    im->eh.machine = 62;
    im->eh.version = 1;
    im->eh.entry = 0x401010;
    im->eh.phoff = sizeof im->eh;
    im->eh.phentsize = sizeof(struct phdr);
    im->eh.phnum = 3;
    im->ph[0] = (struct phdr){ 1, 4, 0, 0x400000, 0x400000, 0x200, 0x200, 0x1000 };
    im->ph[1] = (struct phdr){ 1, 5, 0x1000, 0x401000, 0x401000, 0x800, 0x800, 0x1000 };
    im->ph[2] = (struct phdr){ 1, 6, 0x2000, 0x403000, 0x403000, 0x100, 0x5000, 0x1000 };
}

static void test_static_exec(void)
{
    struct image im;
    struct elf_image out;
    make_exec(&im);
    CHECK(elf_parse(&im, sizeof im, 0x3000, USER_TOP, &out) == 0);
    CHECK(out.nseg == 3);
    CHECK(out.entry == 0x401010);
    CHECK(out.lo == 0x400000 && out.hi == 0x408000);
    CHECK(out.phdr_vaddr == 0x400000 + sizeof im.eh);
    CHECK(out.seg[1].prot == 5 && out.seg[2].prot == 3);
    CHECK(!out.has_interp);
}

static void test_static_pie(void)
{
    struct image im;
    struct elf_image out;
    make_exec(&im);
    im.eh.type = 3;
    for (int i = 0; i < 3; i++)
        im.ph[i].vaddr -= 0x400000;
    im.eh.entry = 0x1010;
    CHECK(elf_parse(&im, sizeof im, 0x3000, USER_TOP, &out) == 0);
    CHECK(out.entry == ELF_PIE_BASE + 0x1010);
    CHECK(out.seg[0].vaddr == ELF_PIE_BASE);
}

static void test_bad_headers(void)
{
    struct image im;
    struct elf_image out;
    make_exec(&im);
    im.eh.ident[0] = 0;
    CHECK(elf_parse(&im, sizeof im, 0x3000, USER_TOP, &out) == -8);
    make_exec(&im);
    im.eh.ident[4] = 1;                                 /* 32-bit */
    CHECK(elf_parse(&im, sizeof im, 0x3000, USER_TOP, &out) == -8);
    make_exec(&im);
    im.eh.machine = 3;
    CHECK(elf_parse(&im, sizeof im, 0x3000, USER_TOP, &out) == -8);
    make_exec(&im);
    im.eh.phnum = 1000;
    CHECK(elf_parse(&im, sizeof im, 0x3000, USER_TOP, &out) == -8);
    make_exec(&im);
    im.eh.phoff = 0xffffffffffffff00ull;                /* offset + size wraps */
    CHECK(elf_parse(&im, sizeof im, 0x3000, USER_TOP, &out) == -8);
    make_exec(&im);
    CHECK(elf_parse(&im, 10, 0x3000, USER_TOP, &out) == -8);   /* truncated header */
    make_exec(&im);
    im.eh.entry = 0x900000;                             /* outside every segment */
    CHECK(elf_parse(&im, sizeof im, 0x3000, USER_TOP, &out) == -8);
}

static void test_bad_segments(void)
{
    struct image im;
    struct elf_image out;
    make_exec(&im);
    im.ph[2].filesz = 0x6000;                           /* filesz > memsz */
    CHECK(elf_parse(&im, sizeof im, 0x10000, USER_TOP, &out) == -8);
    make_exec(&im);
    CHECK(elf_parse(&im, sizeof im, 0x2080, USER_TOP, &out) == -8);   /* data beyond end of file */
    make_exec(&im);
    im.ph[1].vaddr = 0xfffffffffffff000ull;             /* wraps */
    CHECK(elf_parse(&im, sizeof im, 0x3000, USER_TOP, &out) == -8);
    make_exec(&im);
    im.ph[1].vaddr = USER_TOP - 0x100;                  /* into the kernel half */
    CHECK(elf_parse(&im, sizeof im, 0x3000, USER_TOP, &out) == -8);
    make_exec(&im);
    im.ph[1].vaddr = 0x401200;                          /* vaddr and offset not congruent mod 4096 */
    CHECK(elf_parse(&im, sizeof im, 0x3000, USER_TOP, &out) == -8);
    make_exec(&im);
    im.ph[0].type = 3;                                  /* PT_INTERP: dynamic */
    CHECK(elf_parse(&im, sizeof im, 0x3000, USER_TOP, &out) == 0 && out.has_interp);
}

static void test_own_binary(void)
{
    /* The host's own test binary is a real ELF: dynamically linked, so it must say so. */
    FILE *f = fopen("/proc/self/exe", "rb");
    CHECK(f != NULL);
    if (!f)
        return;
    static uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    struct elf_image out;
    CHECK(elf_parse(buf, n, size, USER_TOP, &out) == 0);
    CHECK(out.has_interp);
}

static void test_fuzz(void)
{
    uint64_t seed = 12345;
    struct image base;
    make_exec(&base);
    for (int i = 0; i < 200000; i++) {
        size_t len = sizeof base;
        uint8_t *buf = malloc(len);
        memcpy(buf, &base, len);
        int flips = 1 + rng_next(&seed) % 8;
        for (int k = 0; k < flips; k++)
            buf[rng_next(&seed) % len] = rng_next(&seed);
        size_t cut = rng_next(&seed) % (len + 1);
        struct elf_image out;
        int r = elf_parse(buf, cut, rng_next(&seed) % 0x10000, USER_TOP, &out);
        if (r == 0) {
            for (int s = 0; s < out.nseg; s++) {
                CHECK(out.seg[s].filesz <= out.seg[s].memsz);
                CHECK(out.seg[s].vaddr + out.seg[s].memsz <= USER_TOP);
            }
            CHECK(out.entry >= out.lo && out.entry < out.hi);
        }
        free(buf);
    }
}

int main(void)
{
    RUN(test_static_exec);
    RUN(test_static_pie);
    RUN(test_bad_headers);
    RUN(test_bad_segments);
    RUN(test_own_binary);
    RUN(test_fuzz);
    return check_done();
}
