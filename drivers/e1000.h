/* drivers/e1000.h: Intel 82540EM (QEMU -device e1000). For now: find it and read its MAC address. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* Finds the first e1000 on PCI and reads the MAC the card was programmed with. */
bool e1000_read_mac(uint8_t mac[6]);
