/* arch/x86/io.h: port I/O and memory-mapped register access. */
#pragma once
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* A write to an unused port takes about a microsecond: old PIC/PIT hardware wants that pause. */
static inline void io_wait(void) { outb(0x80, 0); }

static inline uint32_t mmio_read32(volatile void *addr) { return *(volatile uint32_t *)addr; }
static inline void mmio_write32(volatile void *addr, uint32_t v) { *(volatile uint32_t *)addr = v; }

#define barrier() __asm__ volatile("" ::: "memory")
