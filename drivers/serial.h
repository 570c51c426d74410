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
uint64_t serial_tx_dropped(void);   /* kernel-message bytes dropped while the far end did not read */
size_t serial_tx_room(void);        /* free bytes in the transmit ring */
/* Sleeps until the transmit ring has room for n bytes (capped at half the ring); 0 or -EINTR. */
int serial_tx_wait_room(size_t n);
void serial_flush_polled(void);     /* panics: drain the ring synchronously */
