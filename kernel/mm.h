/* kernel/mm.h: the kernel's memory layout and physical/virtual address conversion. */
#pragma once
#include <stdint.h>

#define PAGE_SIZE 4096ul
#define PAGE_SHIFT 12
#define KERNEL_VMA 0xffffffff80000000ul   /* kernel image: physical address + KERNEL_VMA */
#define DIRECT_MAP 0xffff800000000000ul   /* all physical memory: physical address + DIRECT_MAP */

#define P2V(pa) ((void *)((uint64_t)(pa) + DIRECT_MAP))
#define V2P(va) ((uint64_t)(va) - DIRECT_MAP)
#define KIMG_V2P(va) ((uint64_t)(va) - KERNEL_VMA)
#define PAGE_ALIGN_UP(x) (((x) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
#define PAGE_ALIGN_DOWN(x) ((x) & ~(PAGE_SIZE - 1))
