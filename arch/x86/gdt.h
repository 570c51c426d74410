/* arch/x86/gdt.h: segment descriptors and the task state segment. */
#pragma once
#include <stdint.h>

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_DS 0x1b                /* ring 3 selectors: data before code, as sysret wants */
#define USER_CS 0x23
#define TSS_SEL 0x28

#define IST_DOUBLE_FAULT 1
#define IST_NMI 2

void gdt_init(void);
void tss_set_rsp0(uint64_t rsp0);   /* kernel stack used when an interrupt arrives from ring 3 */
