/*
 * drivers/e1000.c: the Intel 82540EM. The firmware (or QEMU) loads the MAC address from the EEPROM
 * into receive-address register 0 (RAL0/RAH0), so reading it needs only memory decoding on BAR0.
 */
#include "drivers/e1000.h"
#include "arch/x86/io.h"
#include "drivers/pci.h"
#include "kernel/mm.h"
#include "kernel/printk.h"

#define E1000_VENDOR 0x8086
#define E1000_DEV_82540EM 0x100e
#define E1000_RAL0 0x5400
#define E1000_RAH0 0x5404
#define E1000_RAH_AV (1u << 31)        /* address valid */

bool e1000_read_mac(uint8_t mac[6])
{
    const struct pci_dev *d = pci_find(E1000_VENDOR, E1000_DEV_82540EM);
    if (!d)
        return false;
    if (d->bar_is_io[0] || d->bar[0] == 0 || d->bar[0] >= 0x100000000ull) {
        printk(LOG_WARN, "e1000: BAR0 %#lx unusable (not assigned by the firmware?)\n", d->bar[0]);
        return false;
    }
    pci_enable(d, true, false, false);
    volatile uint8_t *regs = P2V(d->bar[0]);
    uint32_t lo = mmio_read32(regs + E1000_RAL0), hi = mmio_read32(regs + E1000_RAH0);
    if (!(hi & E1000_RAH_AV))
        return false;
    for (int i = 0; i < 4; i++)
        mac[i] = lo >> (8 * i);
    mac[4] = hi;
    mac[5] = hi >> 8;
    return true;
}
