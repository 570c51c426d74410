/* drivers/serial.h: the COM1 16550 UART: polled transmit, interrupt-driven receive. */
#pragma once
#include <stddef.h>
#include <stdint.h>

void serial_init_early(void);   /* 115200 8N1, FIFO on; polled transmit, needs no IRQs or memory management */
void serial_init_irq(void);     /* after irq_init(): receive interrupts on ISA IRQ 4 */

void serial_write(const char *s, size_t n);   /* "\n" -> "\r\n" */
void serial_putc(char c);

int serial_rx_pop(void);        /* next received byte (0..255) or -1 if none */
/* When fn is set, the IRQ handler hands each received byte to fn (in interrupt context) instead of the ring. */
void serial_set_rx_callback(void (*fn)(char c, void *ctx), void *ctx);
uint64_t serial_rx_dropped(void);   /* bytes lost because the receive ring was full */
