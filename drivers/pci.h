/* drivers/pci.h: PCI configuration space access (mechanism #1) and the boot-time device list. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct pci_dev {
    uint8_t bus, dev, fn;
    uint16_t vendor, device;
    uint8_t class, subclass, progif, irq_line, irq_pin;   /* irq_pin 0: no INTx pin */
    uint64_t bar[6];        /* base address, flag bits stripped; a 64-bit BAR uses slot i, slot i+1 stays 0 */
    bool bar_is_io[6];
    uint64_t bar_size[6];   /* 0: BAR not implemented */
};

void pci_init(void);   /* scan every bus, remember up to 64 functions, log one line each */
int pci_count(void);
const struct pci_dev *pci_get(int i);                               /* NULL if out of range */
const struct pci_dev *pci_find(uint16_t vendor, uint16_t device);   /* first match, NULL if absent */

uint32_t pci_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off);
uint16_t pci_read16(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off);
uint8_t pci_read8(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off);
void pci_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off, uint32_t v);
void pci_write16(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off, uint16_t v);

/* Set (never clears) the command register's memory-space, I/O-space and bus-master bits. */
void pci_enable(const struct pci_dev *d, bool mmio, bool io, bool bus_master);
