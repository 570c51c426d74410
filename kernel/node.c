/*
 * kernel/node.c: who we are. Every node boots the same image with the same command line, so the
 * default identity comes from the hardware: the last byte of the NIC's MAC address, which the
 * cluster launcher (or the DHCP/PXE setup of real machines) makes unique.
 */
#include "kernel/node.h"
#include "drivers/e1000.h"
#include "kernel/printk.h"

static int self;
static uint8_t mac[6];

void node_init(int requested)
{
    bool have_mac = e1000_read_mac(mac);
    if (requested >= 0)
        self = requested;
    else if (have_mac)
        self = mac[5];
    else
        printk(LOG_WARN, "node: node=auto but no e1000 MAC to derive it from; using node 0\n");
    if (have_mac)
        printk(LOG_INFO, "node: %d, MAC %02x:%02x:%02x:%02x:%02x:%02x\n", self, mac[0], mac[1], mac[2],
               mac[3], mac[4], mac[5]);
}

int node_self(void) { return self; }
const uint8_t *node_mac(void) { return mac; }
