/* drivers/pci.c: PCI config mechanism #1 (ports 0xcf8/0xcfc), bus scan, BAR decoding and sizing. */
#include "drivers/pci.h"
#include "arch/x86/io.h"
#include "arch/x86/irq.h"
#include "kernel/printk.h"

#include <stddef.h>

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc

/* Configuration header offsets. */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_PROG_IF 0x09
#define PCI_SUBCLASS 0x0a
#define PCI_CLASS 0x0b
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_IRQ_LINE 0x3c
#define PCI_IRQ_PIN 0x3d

#define CMD_IO 0x1
#define CMD_MEMORY 0x2
#define CMD_BUS_MASTER 0x4

#define HEADER_MULTIFUNCTION 0x80
#define BAR_IO 0x1
#define BAR_MEM_TYPE_64 0x4   /* bits 2:1 == 2 */

#define MAX_DEVICES 64

static struct pci_dev devices[MAX_DEVICES];
static int ndevices;

static const char *const class_names[] = {
    "unclassified", "storage", "network", "display", "multimedia", "memory", "bridge",
    "communication", "system", "input", "docking", "processor", "serial bus", "wireless",
    "intelligent i/o", "satellite", "encryption", "signal processing", "accelerator",
};

static const char *class_name(uint8_t class)
{
    if (class < sizeof(class_names) / sizeof(class_names[0]))
        return class_names[class];
    return "other";
}

/* The address/data port pair is one shared register: interrupts off so a handler cannot interleave. */
static uint64_t config_select(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off)
{
    uint64_t flags = irq_save();
    outl(PCI_CONFIG_ADDRESS, 0x80000000u | (uint32_t)bus << 16 | (uint32_t)(dev & 31) << 11 |
                                 (uint32_t)(fn & 7) << 8 | (off & 0xfc));
    return flags;
}

uint32_t pci_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off)
{
    uint64_t flags = config_select(bus, dev, fn, off);
    uint32_t v = inl(PCI_CONFIG_DATA);
    irq_restore(flags);
    return v;
}

uint16_t pci_read16(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off)
{
    uint64_t flags = config_select(bus, dev, fn, off);
    uint16_t v = inw(PCI_CONFIG_DATA + (off & 2));
    irq_restore(flags);
    return v;
}

uint8_t pci_read8(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off)
{
    uint64_t flags = config_select(bus, dev, fn, off);
    uint8_t v = inb(PCI_CONFIG_DATA + (off & 3));
    irq_restore(flags);
    return v;
}

void pci_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off, uint32_t v)
{
    uint64_t flags = config_select(bus, dev, fn, off);
    outl(PCI_CONFIG_DATA, v);
    irq_restore(flags);
}

/* 16-bit so that touching the command register never writes the status register's write-1-to-clear bits. */
void pci_write16(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off, uint16_t v)
{
    uint64_t flags = config_select(bus, dev, fn, off);
    outw(PCI_CONFIG_DATA + (off & 2), v);
    irq_restore(flags);
}

/* Write all-ones, read back which address bits stick, restore. Returns the read-back value. */
static uint32_t bar_probe(struct pci_dev *d, uint8_t off)
{
    uint32_t orig = pci_read32(d->bus, d->dev, d->fn, off);
    pci_write32(d->bus, d->dev, d->fn, off, 0xffffffffu);
    uint32_t mask = pci_read32(d->bus, d->dev, d->fn, off);
    pci_write32(d->bus, d->dev, d->fn, off, orig);
    return mask;
}

/* Decode BAR i; returns how many BAR slots it occupies (2 for a 64-bit memory BAR). */
static int bar_decode(struct pci_dev *d, int i, int nbars)
{
    uint8_t off = PCI_BAR0 + 4 * i;
    uint64_t lo = pci_read32(d->bus, d->dev, d->fn, off);
    uint64_t addr, mask;
    int used = 1;

    if (lo & BAR_IO) {
        addr = lo & ~3ull;
        mask = bar_probe(d, off) & ~3u;
        mask &= 0xffff;   /* x86 I/O space is 16 bits; some devices leave the upper half zero */
    } else {
        addr = lo & ~0xfull;
        mask = bar_probe(d, off) & ~0xfu;
        if ((lo & 6) == BAR_MEM_TYPE_64 && i + 1 < nbars) {
            addr |= (uint64_t)pci_read32(d->bus, d->dev, d->fn, off + 4) << 32;
            mask |= (uint64_t)bar_probe(d, off + 4) << 32;
            used = 2;
        }
    }
    d->bar[i] = addr;
    d->bar_is_io[i] = lo & BAR_IO;
    d->bar_size[i] = mask & -mask;   /* the lowest writable address bit is the size */
    return used;
}

static void read_bars(struct pci_dev *d)
{
    uint8_t type = pci_read8(d->bus, d->dev, d->fn, PCI_HEADER_TYPE) & 0x7f;
    int nbars = type == 0 ? 6 : type == 1 ? 2 : 0;   /* general device, PCI-PCI bridge, CardBus */

    /*
     * Sizing moves the BAR to all-ones for a moment: decoding must be off so no access lands there.
     * Except on host bridges, where on some chipsets that would also cut off RAM (Linux does the same).
     */
    bool host_bridge = d->class == 0x06 && d->subclass == 0x00;
    uint64_t flags = irq_save();
    uint16_t cmd = pci_read16(d->bus, d->dev, d->fn, PCI_COMMAND);
    if (!host_bridge)
        pci_write16(d->bus, d->dev, d->fn, PCI_COMMAND, cmd & ~(CMD_IO | CMD_MEMORY));
    for (int i = 0; i < nbars;)
        i += bar_decode(d, i, nbars);
    if (!host_bridge)
        pci_write16(d->bus, d->dev, d->fn, PCI_COMMAND, cmd);
    irq_restore(flags);
}

static void add_device(uint8_t bus, uint8_t dev, uint8_t fn)
{
    if (ndevices == MAX_DEVICES) {
        pr_warn("pci: %02x:%02x.%u: table full, ignored\n", bus, dev, fn);
        return;
    }
    struct pci_dev *d = &devices[ndevices++];
    d->bus = bus, d->dev = dev, d->fn = fn;
    d->vendor = pci_read16(bus, dev, fn, PCI_VENDOR_ID);
    d->device = pci_read16(bus, dev, fn, PCI_DEVICE_ID);
    d->class = pci_read8(bus, dev, fn, PCI_CLASS);
    d->subclass = pci_read8(bus, dev, fn, PCI_SUBCLASS);
    d->progif = pci_read8(bus, dev, fn, PCI_PROG_IF);
    d->irq_line = pci_read8(bus, dev, fn, PCI_IRQ_LINE);
    d->irq_pin = pci_read8(bus, dev, fn, PCI_IRQ_PIN);
    read_bars(d);

    if (d->irq_pin)
        pr_info("pci: %02x:%02x.%u %04x:%04x class %02x.%02x (%s) irq %u\n", bus, dev, fn, d->vendor,
                d->device, d->class, d->subclass, class_name(d->class), d->irq_line);
    else
        pr_info("pci: %02x:%02x.%u %04x:%04x class %02x.%02x (%s)\n", bus, dev, fn, d->vendor,
                d->device, d->class, d->subclass, class_name(d->class));
}

static bool present(uint8_t bus, uint8_t dev, uint8_t fn)
{
    return pci_read16(bus, dev, fn, PCI_VENDOR_ID) != 0xffff;
}

/* Brute force: every bus/device, and functions 1-7 only when function 0 says it is multi-function. */
/*
 * Minimal firmware (qboot, used for the fastest QEMU boot) leaves BARs unassigned. Give such BARs
 * addresses in the PCI hole below 4 GiB (and the upper I/O ports), above anything already assigned,
 * each aligned to its size, as Linux does with pci=assign-busses style reallocation.
 */
#define PCI_MEM_WINDOW_START 0xc0000000ull
#define PCI_MEM_WINDOW_END 0xfec00000ull
#define PCI_IO_WINDOW_START 0xc000ull
#define PCI_IO_WINDOW_END 0x10000ull

static uint64_t window_next(bool io)
{
    uint64_t next = io ? PCI_IO_WINDOW_START : PCI_MEM_WINDOW_START;
    uint64_t end = io ? PCI_IO_WINDOW_END : PCI_MEM_WINDOW_END;
    for (int i = 0; i < ndevices; i++)
        for (int b = 0; b < 6; b++) {
            const struct pci_dev *d = &devices[i];
            uint64_t top = d->bar[b] + d->bar_size[b];
            if (d->bar[b] && d->bar_is_io[b] == io && d->bar[b] >= next && top <= end)
                next = top;
        }
    return next;
}

static void assign_bar(struct pci_dev *d, int b, uint64_t *next, uint64_t end)
{
    uint64_t size = d->bar_size[b];
    uint64_t addr = (*next + size - 1) & ~(size - 1);
    if (addr + size > end) {
        pr_warn("pci: %02x:%02x.%x BAR%d: no room for %#lx bytes\n", d->bus, d->dev, d->fn, b, size);
        return;
    }
    uint8_t off = PCI_BAR0 + 4 * b;
    uint32_t low_bits = pci_read32(d->bus, d->dev, d->fn, off) & (d->bar_is_io[b] ? 3u : 0xfu);
    pci_write32(d->bus, d->dev, d->fn, off, (uint32_t)addr | low_bits);
    if (!d->bar_is_io[b] && (low_bits & 6) == BAR_MEM_TYPE_64)
        pci_write32(d->bus, d->dev, d->fn, off + 4, (uint32_t)(addr >> 32));
    d->bar[b] = addr;
    *next = addr + size;
}

static void assign_unassigned_bars(void)
{
    uint64_t next_mem = window_next(false), next_io = window_next(true);
    for (int i = 0; i < ndevices; i++) {
        struct pci_dev *d = &devices[i];
        if (d->class == 0x06)            /* bridges: their windows are the firmware's business */
            continue;
        for (int b = 0; b < 6; b++) {
            if (d->bar[b] || d->bar_size[b] == 0)
                continue;
            if (d->bar_is_io[b])
                assign_bar(d, b, &next_io, PCI_IO_WINDOW_END);
            else
                assign_bar(d, b, &next_mem, PCI_MEM_WINDOW_END);
        }
    }
}

void pci_init(void)
{
    ndevices = 0;
    for (unsigned bus = 0; bus < 256; bus++) {
        for (uint8_t dev = 0; dev < 32; dev++) {
            if (!present(bus, dev, 0))
                continue;
            uint8_t hdr = pci_read8(bus, dev, 0, PCI_HEADER_TYPE);
            uint8_t nfn = (hdr & HEADER_MULTIFUNCTION) ? 8 : 1;
            for (uint8_t fn = 0; fn < nfn; fn++)
                if (present(bus, dev, fn))
                    add_device(bus, dev, fn);
        }
    }
    assign_unassigned_bars();
    pr_info("pci: %d devices\n", ndevices);
}

int pci_count(void) { return ndevices; }

const struct pci_dev *pci_get(int i)
{
    return i >= 0 && i < ndevices ? &devices[i] : NULL;
}

const struct pci_dev *pci_find(uint16_t vendor, uint16_t device)
{
    for (int i = 0; i < ndevices; i++)
        if (devices[i].vendor == vendor && devices[i].device == device)
            return &devices[i];
    return NULL;
}

void pci_enable(const struct pci_dev *d, bool mmio, bool io, bool bus_master)
{
    uint16_t cmd = pci_read16(d->bus, d->dev, d->fn, PCI_COMMAND);
    cmd |= (mmio ? CMD_MEMORY : 0) | (io ? CMD_IO : 0) | (bus_master ? CMD_BUS_MASTER : 0);
    pci_write16(d->bus, d->dev, d->fn, PCI_COMMAND, cmd);
}
