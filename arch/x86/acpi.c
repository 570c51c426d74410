/*
 * arch/x86/acpi.c: finds the RSDP (boot-loader tag or BIOS areas), walks RSDT/XSDT to the MADT and
 * records the IOAPIC and the ISA interrupt source overrides. Every length is checked against the
 * table it lives in: firmware tables are input like any other.
 */
#include "arch/x86/acpi.h"
#include "kernel/mm.h"
#include "kernel/printk.h"
#include "kernel/string.h"

struct sdt_header {
    char sig[4];
    uint32_t length;
    uint8_t revision, checksum;
    char oem[6], oem_table[8];
    uint32_t oem_rev, creator, creator_rev;
} __attribute__((packed));

struct rsdp {
    char sig[8];
    uint8_t checksum;
    char oem[6];
    uint8_t revision;
    uint32_t rsdt;
    uint32_t length;
    uint64_t xsdt;
    uint8_t xchecksum, reserved[3];
} __attribute__((packed));

static struct acpi_info info;

static bool checksum_ok(const void *p, uint32_t len)
{
    uint8_t sum = 0;
    for (uint32_t i = 0; i < len; i++)
        sum += ((const uint8_t *)p)[i];
    return sum == 0;
}

static const struct rsdp *scan_rsdp(uint64_t start, uint64_t len)
{
    for (uint64_t pa = start; pa + 20 <= start + len; pa += 16) {
        const struct rsdp *r = P2V(pa);
        if (memcmp(r->sig, "RSD PTR ", 8) == 0 && checksum_ok(r, 20))
            return r;
    }
    return NULL;
}

static const struct rsdp *find_rsdp(const void *hint)
{
    if (hint && memcmp(hint, "RSD PTR ", 8) == 0 && checksum_ok(hint, 20))
        return hint;
    uint64_t ebda = (uint64_t)(*(uint16_t *)P2V(0x40e)) << 4;
    const struct rsdp *r = NULL;
    if (ebda >= 0x80000 && ebda < 0xa0000)
        r = scan_rsdp(ebda, 1024);
    return r ? r : scan_rsdp(0xe0000, 0x20000);
}

static const struct sdt_header *valid_table(uint64_t pa)
{
    if (pa == 0 || pa >= 0x100000000ull)
        return NULL;
    const struct sdt_header *h = P2V(pa);
    if (h->length < sizeof *h || h->length > (1u << 20) || !checksum_ok(h, h->length))
        return NULL;
    return h;
}

static void parse_madt(const struct sdt_header *madt)
{
    const uint8_t *p = (const uint8_t *)madt + sizeof *madt + 8;   /* after LAPIC address and flags */
    const uint8_t *end = (const uint8_t *)madt + madt->length;
    info.found_madt = true;
    info.lapic_phys = *(const uint32_t *)((const uint8_t *)madt + sizeof *madt);
    while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
        if (p[0] == 0 && p[1] >= 8 && (p[4] & 1))
            info.cpus++;
        if (p[0] == 1 && p[1] >= 12 && info.ioapic_phys == 0) {
            info.ioapic_phys = *(const uint32_t *)(p + 4);
            info.ioapic_gsi_base = *(const uint32_t *)(p + 8);
        }
        if (p[0] == 2 && p[1] >= 10 && p[3] < 16) {
            uint16_t flags = *(const uint16_t *)(p + 8);
            struct isa_override *o = &info.isa[p[3]];
            o->gsi = *(const uint32_t *)(p + 4);
            o->active_low = (flags & 3) == 3;
            o->level = ((flags >> 2) & 3) == 3;
        }
        p += p[1];
    }
}

static const struct sdt_header *find_table(const struct rsdp *r, const char *sig)
{
    bool x = r->revision >= 2 && r->xsdt;
    const struct sdt_header *root = valid_table(x ? r->xsdt : r->rsdt);
    if (!root)
        return NULL;
    uint32_t entry = x ? 8 : 4;
    uint32_t n = (root->length - sizeof *root) / entry;
    const uint8_t *e = (const uint8_t *)root + sizeof *root;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t pa = x ? *(const uint64_t *)(e + i * 8) : *(const uint32_t *)(e + i * 4);
        const struct sdt_header *h = valid_table(pa);
        if (h && memcmp(h->sig, sig, 4) == 0)
            return h;
    }
    return NULL;
}

void acpi_init(const void *rsdp_hint)
{
    info.lapic_phys = 0xfee00000;
    for (int i = 0; i < 16; i++)
        info.isa[i].gsi = i;
    const struct rsdp *r = find_rsdp(rsdp_hint);
    const struct sdt_header *madt = r ? find_table(r, "APIC") : NULL;
    if (madt)
        parse_madt(madt);
    if (info.ioapic_phys == 0) {
        info.ioapic_phys = 0xfec00000;          /* the PC default */
        info.isa[0].gsi = 2;                    /* and the usual PIT override */
    }
    if (info.cpus == 0)
        info.cpus = 1;
    printk(LOG_INFO, "acpi: %s, IOAPIC at %#lx (GSI base %u), %d CPU(s)\n",
           madt ? "MADT found" : "no MADT, PC defaults", info.ioapic_phys, info.ioapic_gsi_base, info.cpus);
}

const struct acpi_info *acpi_get(void) { return &info; }
