/*
 * drivers/e1000.h: the Intel 82540EM (QEMU -device e1000): reset, descriptor rings, interrupt-driven
 * receive with a NAPI-like polling thread, transmission with completion reclaim, statistics.
 *
 * Receive: the interrupt handler masks the card and wakes the "e1000" thread, which reclaims sent
 * frames, hands up to a budget of received frames to the receiver, then calls batch_done; it unmasks
 * the card once the ring is empty. The frame passed to the receiver is the DMA buffer itself: it is
 * valid only during the call (the buffer goes back to the card afterwards).
 * Transmit never waits: a full ring gives -EAGAIN, and the caller retries later (from its timer).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Ethernet header + a 9000-byte jumbo payload, without the FCS the card adds. Frames longer than
 * one 2 KiB DMA buffer span several descriptors both ways. */
#define E1000_MAX_FRAME 9014

struct e1000_stats {
    uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
    uint64_t rx_errors;                 /* frames the card flagged (CRC, symbol, length...) */
    uint64_t rx_missed;                 /* frames the card dropped for lack of descriptors (MPC) */
    uint64_t rx_no_receiver;            /* frames dropped because nobody registered a receiver */
    uint64_t tx_ring_full;              /* e1000_xmit calls refused with -EAGAIN */
    uint64_t tx_too_big;                /* e1000_xmit calls refused with -EMSGSIZE */
    uint64_t interrupts, polls, rx_budget_exhausted, link_changes;
    uint64_t tdt_writes, rdt_writes;    /* doorbells: fewer than frames means batching works */
};

/* Finds the first e1000 on PCI and reads the MAC the card was programmed with (no reset, no rings). */
bool e1000_read_mac(uint8_t mac[6]);

/* Resets the card, sets up the rings and the interrupt, starts the polling thread. 0, -ENODEV (no
 * card or unusable BAR), -ENOMEM, -EBUSY (interrupt line taken). Call once, from a kernel thread. */
int e1000_init(void);
bool e1000_present(void);               /* e1000_init succeeded */
const uint8_t *e1000_mac(void);         /* the MAC in use (all zero before e1000_init) */
bool e1000_link_up(void);

/* Receiver: called in the polling thread for each good frame (Ethernet header included, no FCS),
 * then batch_done (may be NULL) once per poll with at least one frame. Set before frames matter. */
typedef void (*e1000_rx_fn)(const void *frame, size_t len, void *ctx);
void e1000_set_receiver(e1000_rx_fn fn, void (*batch_done)(void *ctx), void *ctx);

/* Copies a whole frame (header included, at least 14 bytes) into the TX ring. 0, -EAGAIN (ring
 * full), -EMSGSIZE, -ENODEV. e1000_xmit rings the doorbell at once; e1000_xmit_more leaves that to
 * a later e1000_tx_flush, so a burst costs one register write. */
int e1000_xmit(const void *frame, size_t len);
int e1000_xmit_more(const void *frame, size_t len);
void e1000_tx_flush(void);
unsigned e1000_tx_pending(void);        /* descriptors handed to the card but not yet reclaimed */

void e1000_get_stats(struct e1000_stats *out);
