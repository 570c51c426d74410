/* drivers/serial.c: the COM1 16550 UART: line setup, polled transmit, receive IRQ and ring. */
#include "drivers/serial.h"
#include "arch/x86/io.h"
#include "arch/x86/irq.h"
#include "kernel/printk.h"
#include "kernel/sched.h"

#include <stdbool.h>

#define COM1 0x3f8
#define COM1_IRQ 4

/* Register offsets from the base port. */
#define UART_DATA 0   /* RBR on read, THR on write; divisor low byte when DLAB=1 */
#define UART_IER 1    /* interrupt enable; divisor high byte when DLAB=1 */
#define UART_IIR 2    /* interrupt identification on read, FIFO control (FCR) on write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5

#define LCR_8N1 0x03
#define LCR_DLAB 0x80
#define FCR_ENABLE_CLEAR_14 0xc7   /* enable FIFOs, clear both, RX trigger at 14 bytes */
#define MCR_DTR_RTS_OUT2 0x0b      /* OUT2 gates the UART's interrupt line on PC hardware */
#define MCR_LOOPBACK 0x1e
#define IER_RX_AVAIL 0x01
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20

/* At 115200 baud a byte takes ~87 us and an inb ~1 us: this is ~100 ms of slack. */
#define TX_SPIN_LIMIT 100000
/* A missing UART reads 0xff everywhere, so "data ready" would never clear. */
#define RX_DRAIN_LIMIT 4096

#define RX_RING_SIZE 4096   /* power of two: indices run free and are masked */

static bool uart_ok;   /* false: no UART found, or it stopped transmitting; writes are dropped */

static uint8_t rx_ring[RX_RING_SIZE];
static uint32_t rx_head;   /* written only by the IRQ handler */
static uint32_t rx_tail;   /* written only by serial_rx_pop, with interrupts off */
static uint64_t rx_dropped;
static void (*rx_callback)(char c, void *ctx);
static void *rx_callback_ctx;

static uint8_t uart_in(int reg) { return inb(COM1 + reg); }
static void uart_out(int reg, uint8_t v) { outb(COM1 + reg, v); }

/* In loopback mode whatever we transmit comes straight back: a cheap presence test. */
static bool uart_probe(void)
{
    uart_out(UART_MCR, MCR_LOOPBACK);
    uart_out(UART_DATA, 0xae);
    for (int i = 0; i < TX_SPIN_LIMIT; i++)
        if (uart_in(UART_LSR) & LSR_DATA_READY)
            return uart_in(UART_DATA) == 0xae;
    return false;
}

void serial_init_early(void)
{
    uart_out(UART_IER, 0);                /* polled until serial_init_irq */
    uart_out(UART_LCR, LCR_DLAB);
    uart_out(UART_DATA, 1);               /* divisor 1: 115200 baud */
    uart_out(UART_IER, 0);
    uart_out(UART_LCR, LCR_8N1);
    uart_out(UART_IIR, FCR_ENABLE_CLEAR_14);
    uart_ok = uart_probe();
    uart_out(UART_MCR, MCR_DTR_RTS_OUT2);
}

/*
 * Transmit. Before interrupts are on (and in a panic) bytes go out polled, with a bounded wait.
 * Afterwards they go into a ring drained by the transmitter-empty interrupt, so a writer never
 * spins while the far end (QEMU's socket, a slow terminal) is not reading: the TTY sleeps in
 * serial_tx_wait_room() until there is room, and nothing it wrote is lost. Kernel messages that
 * find the ring full are dropped and counted, never waited for.
 */
#define TX_RING_SIZE 16384          /* power of two */
#define UART_FIFO 16
#define IER_THR_EMPTY 0x02

static uint8_t tx_ring[TX_RING_SIZE];
static uint32_t tx_head, tx_tail;   /* free-running, masked on use */
static bool tx_irq_mode, tx_stalled;
static uint64_t tx_dropped;
static struct waitqueue tx_wq;

static uint32_t tx_used(void) { return tx_head - tx_tail; }

static void uart_tx_polled(uint8_t c)
{
    int limit = tx_stalled ? 1 : TX_SPIN_LIMIT;
    for (int i = 0; i < limit; i++) {
        if (uart_in(UART_LSR) & LSR_THR_EMPTY) {
            uart_out(UART_DATA, c);
            tx_stalled = false;
            return;
        }
    }
    tx_stalled = true;              /* stop paying the wait until the line moves again */
    tx_dropped++;
}

/* Moves bytes from the ring into the UART's FIFO; interrupts off. */
static void tx_fill_fifo(void)
{
    if (uart_in(UART_LSR) & LSR_THR_EMPTY)
        for (int i = 0; i < UART_FIFO && tx_used(); i++)
            uart_out(UART_DATA, tx_ring[tx_tail++ % TX_RING_SIZE]);
    /* While bytes wait, the THR-empty interrupt brings us back; (re)enabling it when the THR is
     * already empty raises it at once, so nothing can be left waiting. */
    uart_out(UART_IER, IER_RX_AVAIL | (tx_used() ? IER_THR_EMPTY : 0));
    if (TX_RING_SIZE - tx_used() >= TX_RING_SIZE / 2)
        wake_up(&tx_wq);
}

static void tx_put(uint8_t c)
{
    if (!tx_irq_mode) {
        uart_tx_polled(c);
    } else if (tx_used() == TX_RING_SIZE) {
        tx_dropped++;
    } else {
        tx_ring[tx_head++ % TX_RING_SIZE] = c;
    }
}

/* Interrupts off per call so an interrupt handler's printk cannot interleave inside a write. */
void serial_putc(char c)
{
    serial_write(&c, 1);
}

void serial_write(const char *s, size_t n)
{
    if (!uart_ok)
        return;
    uint64_t flags = irq_save();
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            tx_put('\r');
        tx_put((uint8_t)s[i]);
    }
    if (tx_irq_mode)
        tx_fill_fifo();
    irq_restore(flags);
}

size_t serial_tx_room(void)
{
    if (!uart_ok || !tx_irq_mode)
        return TX_RING_SIZE;
    uint64_t flags = irq_save();
    size_t room = TX_RING_SIZE - tx_used();
    irq_restore(flags);
    return room;
}

int serial_tx_wait_room(size_t n)
{
    if (n > TX_RING_SIZE / 2)
        n = TX_RING_SIZE / 2;
    if (!uart_ok || !tx_irq_mode)
        return 0;
    return wait_event_interruptible(tx_wq, TX_RING_SIZE - tx_used() >= n);
}

/* A panic must reach the wire: drain the ring by polling, interrupts no longer matter. */
void serial_flush_polled(void)
{
    uint64_t flags = irq_save();
    tx_irq_mode = false;
    while (uart_ok && tx_used())
        uart_tx_polled(tx_ring[tx_tail++ % TX_RING_SIZE]);
    tx_tail = tx_head;
    irq_restore(flags);
}

uint64_t serial_tx_dropped(void) { return tx_dropped; }

static void rx_deliver(uint8_t c)
{
    if (rx_callback) {
        rx_callback((char)c, rx_callback_ctx);
    } else if (rx_head - rx_tail == RX_RING_SIZE) {
        rx_dropped++;
    } else {
        rx_ring[rx_head % RX_RING_SIZE] = c;
        rx_head++;
    }
}

/* Runs with IF=0. Reading IIR acknowledges the interrupt; draining RBR empties the FIFO so the line drops. */
static void serial_irq(void *ctx)
{
    (void)ctx;
    (void)uart_in(UART_IIR);
    for (int i = 0; i < RX_DRAIN_LIMIT && (uart_in(UART_LSR) & LSR_DATA_READY); i++)
        rx_deliver(uart_in(UART_DATA));
    if (tx_irq_mode)
        tx_fill_fifo();
}

void serial_init_irq(void)
{
    if (!uart_ok) {
        pr_info("serial: no UART at COM1, receive disabled\n");
        return;
    }
    if (irq_register_isa(COM1_IRQ, serial_irq, NULL) < 0) {
        pr_err("serial: cannot register IRQ %d\n", COM1_IRQ);
        return;
    }
    uint64_t flags = irq_save();
    wq_init(&tx_wq);
    serial_irq(NULL);   /* bytes that arrived before now would never raise a fresh edge */
    uart_out(UART_IER, IER_RX_AVAIL);
    tx_irq_mode = true;
    irq_restore(flags);
    pr_info("serial: COM1 115200 8N1, rx on IRQ %d\n", COM1_IRQ);
}

int serial_rx_pop(void)
{
    int c = -1;
    uint64_t flags = irq_save();
    if (rx_tail != rx_head) {
        c = rx_ring[rx_tail % RX_RING_SIZE];
        rx_tail++;
    }
    irq_restore(flags);
    return c;
}

void serial_set_rx_callback(void (*fn)(char c, void *ctx), void *ctx)
{
    uint64_t flags = irq_save();
    rx_callback = fn;
    rx_callback_ctx = ctx;
    irq_restore(flags);
}

uint64_t serial_rx_dropped(void)
{
    uint64_t flags = irq_save();
    uint64_t n = rx_dropped;
    irq_restore(flags);
    return n;
}
