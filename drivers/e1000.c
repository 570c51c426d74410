/*
 * drivers/e1000.c: the Intel 82540EM, modelled on Linux's e1000_main.c.
 *
 * Rings: 256 legacy descriptors each way, next_to_use/next_to_clean with one slot always empty, one
 * DMA buffer of 2 KiB per descriptor (from the page allocator, seen through the direct map).
 * Receive: the interrupt reads ICR (which clears it and drops the level-triggered line), masks the
 * card (IMC) and wakes the polling thread; the thread reclaims sent descriptors, hands up to
 * RX_BUDGET frames to the receiver straight from their DMA buffers (a jumbo frame spanning several
 * buffers is gathered first), gives buffers back 16 at a time with one RDT write, and unmasks (IMS)
 * only once the ring is empty. ITR throttles interrupts, adapting to how many frames each poll found.
 * Transmit: copy into the descriptors' buffers, IFCS|RS (EOP on a frame's last), and one TDT write
 * per burst.
 *
 * Descriptors are shared with the card: they are only touched through volatile pointers, and every
 * doorbell (TDT/RDT) write follows a write barrier so the card never sees a descriptor before its
 * contents (without it, -O2 hung waiting for TX completion: ../shared/notes/qemu-and-netboot.md).
 */
#include "drivers/e1000.h"
#include "arch/x86/acpi.h"
#include "arch/x86/io.h"
#include "arch/x86/irq.h"
#include "drivers/pci.h"
#include "kernel/errno.h"
#include "kernel/format.h"
#include "kernel/kmalloc.h"
#include "kernel/ktest.h"
#include "kernel/mm.h"
#include "kernel/pmm.h"
#include "kernel/printk.h"
#include "kernel/sched.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "kernel/time.h"

#define E1000_VENDOR 0x8086
#define E1000_DEV_82540EM 0x100e

/* Registers (82540EM Software Developer's Manual, section 13.4). */
#define REG_CTRL 0x0000
#define REG_STATUS 0x0008
#define REG_EERD 0x0014
#define REG_ICR 0x00c0
#define REG_ITR 0x00c4
#define REG_ICS 0x00c8                  /* writing sets causes: raises the interrupt on purpose */
#define REG_IMS 0x00d0
#define REG_IMC 0x00d8
#define REG_RCTL 0x0100
#define REG_TCTL 0x0400
#define REG_TIPG 0x0410
#define REG_RDBAL 0x2800
#define REG_RDBAH 0x2804
#define REG_RDLEN 0x2808
#define REG_RDH 0x2810
#define REG_RDT 0x2818
#define REG_RDTR 0x2820
#define REG_RADV 0x282c
#define REG_TDBAL 0x3800
#define REG_TDBAH 0x3804
#define REG_TDLEN 0x3808
#define REG_TDH 0x3810
#define REG_TDT 0x3818
#define REG_TIDV 0x3820
#define REG_TADV 0x382c
#define REG_MPC 0x4010                  /* missed packets: no descriptor was free (clear on read) */
#define REG_MTA 0x5200                  /* multicast table, 128 words */
#define REG_RAL0 0x5400
#define REG_RAH0 0x5404

#define CTRL_LRST (1u << 3)
#define CTRL_ASDE (1u << 5)
#define CTRL_SLU (1u << 6)
#define CTRL_ILOS (1u << 7)
#define CTRL_RST (1u << 26)
#define CTRL_VME (1u << 30)
#define CTRL_PHY_RST (1u << 31)
#define STATUS_LU (1u << 1)
#define EERD_START (1u << 0)
#define EERD_DONE (1u << 4)
#define RAH_AV (1u << 31)               /* address valid */

/* Interrupt causes (ICR, IMS, IMC). */
#define ICR_TXDW (1u << 0)
#define ICR_LSC (1u << 2)
#define ICR_RXSEQ (1u << 3)
#define ICR_RXDMT0 (1u << 4)
#define ICR_RXO (1u << 6)
#define ICR_RXT0 (1u << 7)
#define IMS_ENABLE (ICR_RXT0 | ICR_RXO | ICR_RXDMT0 | ICR_RXSEQ | ICR_LSC)

#define RCTL_EN (1u << 1)
#define RCTL_LPE (1u << 5)              /* long packets: jumbo frames */
#define RCTL_BAM (1u << 15)             /* accept broadcast: HELLOs are broadcast */
#define RCTL_BSIZE_2048 (0u << 16)
#define RCTL_BSIZE_16384 ((1u << 16) | (1u << 25))   /* with BSEX: the size times 16 */
#define RCTL_SECRC (1u << 26)           /* strip the FCS */
#define TCTL_EN (1u << 1)
#define TCTL_PSP (1u << 3)
#define TCTL_CT (0x0fu << 4)
#define TCTL_COLD (0x40u << 12)         /* full duplex */
#define TCTL_RTLC (1u << 24)
#define TIPG_COPPER (8u | 8u << 10 | 6u << 20)   /* IPGT, IPGR1, IPGR2 as Linux sets them */

#define RXD_DD (1u << 0)
#define RXD_EOP (1u << 1)
#define TXD_CMD_EOP (1u << 0)
#define TXD_CMD_IFCS (1u << 1)
#define TXD_CMD_RS (1u << 3)
#define TXD_DD (1u << 0)

/* Legacy descriptors (manual 3.2.3 and 3.3.3). */
struct rx_desc {
    uint64_t addr;
    uint16_t length, csum;
    uint8_t status, errors;
    uint16_t special;
} __attribute__((packed));

struct tx_desc {
    uint64_t addr;
    uint16_t length;
    uint8_t cso, cmd, status, css;
    uint16_t special;
} __attribute__((packed));

_Static_assert(sizeof(struct rx_desc) == 16, "rx descriptor layout");
_Static_assert(sizeof(struct tx_desc) == 16, "tx descriptor layout");

#define NDESC 256                       /* a power of two: ring_next masks */
#define BUF_SIZE 2048                   /* TX DMA buffers; a longer frame takes several */
#define BUFS_ORDER 7                    /* NDESC * BUF_SIZE = 512 KiB = 2^7 pages */
/*
 * RX DMA buffers. 2 KiB holds any standard frame; a jumbo frame then spans five descriptors and is
 * gathered. But QEMU drops a frame that needs more descriptors than are free at that instant
 * (6817 missed frames in one 16 MiB transfer at MTU 9000), so a cluster that uses jumbo frames
 * wants 16 KiB buffers: RX_BUF_SIZE 16384, RX_BUFS_ORDER 10 (4 MiB of RAM).
 */
#define RX_BUF_SIZE 2048
#define RX_BUFS_ORDER 7
#define RCTL_BSIZE (RX_BUF_SIZE == 16384 ? RCTL_BSIZE_16384 : RCTL_BSIZE_2048)
_Static_assert(RX_BUF_SIZE == 2048 || RX_BUF_SIZE == 16384, "a buffer size RCTL can express");
_Static_assert((4096ul << RX_BUFS_ORDER) == NDESC * RX_BUF_SIZE, "RX buffer block size");
#define RX_BUDGET 64                    /* frames per poll before letting other threads run */
#define RX_RETURN_BATCH 16              /* buffers given back per RDT write */

/* Interrupt throttling, in ITR units of 256 ns (Linux's three classes). */
#define ITR_LOWEST_LATENCY (1000000000u / (70000u * 256u))
#define ITR_LOW_LATENCY (1000000000u / (20000u * 256u))
#define ITR_BULK (1000000000u / (4000u * 256u))

static struct {
    volatile uint8_t *regs;
    uint8_t mac[6];
    bool present;
    bool link;

    volatile struct rx_desc *rx;
    uint8_t *rx_bufs;                   /* NDESC * RX_BUF_SIZE, direct-mapped */
    unsigned rx_clean;                  /* next descriptor the card may have filled */
    unsigned rx_returned;               /* cleaned since the last RDT write */
    uint8_t *rx_gather;                 /* a frame spanning several buffers, gathered */
    size_t rx_gather_len;
    bool rx_gathering, rx_gather_bad;

    volatile struct tx_desc *tx;
    uint8_t *tx_bufs;
    unsigned tx_use, tx_clean;          /* next to fill, next to reclaim */
    unsigned tx_flushed;                /* TDT as last written */
    struct spinlock tx_lock;

    struct waitqueue poll_wq;
    volatile bool poll_wanted;
    volatile uint32_t icr_pending;      /* causes seen by the interrupt, not yet handled */
    uint32_t itr;

    e1000_rx_fn rx_fn;
    void (*batch_done)(void *ctx);
    void *rx_ctx;

    struct spinlock stats_lock;
    struct e1000_stats st;
} nic = {
    .tx_lock = SPINLOCK_INIT("e1000-tx"),
    .stats_lock = SPINLOCK_INIT("e1000-stats"),
};

static uint32_t rd(uint32_t reg) { return mmio_read32(nic.regs + reg); }
static void wr(uint32_t reg, uint32_t v) { mmio_write32(nic.regs + reg, v); }

/* Orders descriptor and buffer writes before the doorbell that hands them to the card. */
static inline void wmb(void) { __asm__ volatile("sfence" ::: "memory"); }

static unsigned ring_next(unsigned i) { return (i + 1) & (NDESC - 1); }
static unsigned ring_used(unsigned use, unsigned clean) { return (use - clean) & (NDESC - 1); }

static uint8_t *tx_buf(unsigned i) { return nic.tx_bufs + (size_t)i * BUF_SIZE; }
static uint8_t *rx_buf(unsigned i) { return nic.rx_bufs + (size_t)i * RX_BUF_SIZE; }

/* Copies frames 8 bytes at a time. kernel/string.c's memcpy is `rep movsb`, which QEMU's TCG
 * runs one byte per iteration: 2.5 us per 1514-byte frame against 0.35 us for this (measured). */
static void copy_frame(uint8_t *dst, const uint8_t *src, size_t len)
{
    size_t words = len / 8;
    for (size_t i = 0; i < words; i++) {
        uint64_t w;
        __builtin_memcpy(&w, src + 8 * i, 8);
        __builtin_memcpy(dst + 8 * i, &w, 8);
    }
    for (size_t i = words * 8; i < len; i++)
        dst[i] = src[i];
}

/* ---- finding the card, reading its MAC ---- */

static const struct pci_dev *find_card(void)
{
    const struct pci_dev *d = pci_find(E1000_VENDOR, E1000_DEV_82540EM);
    if (!d)
        return NULL;
    if (d->bar_is_io[0] || d->bar[0] == 0 || d->bar[0] >= 0x100000000ull) {
        printk(LOG_WARN, "e1000: BAR0 %#lx unusable (not assigned by the firmware?)\n", d->bar[0]);
        return NULL;
    }
    return d;
}

static bool mac_from_ral(volatile uint8_t *regs, uint8_t mac[6])
{
    uint32_t lo = mmio_read32(regs + REG_RAL0), hi = mmio_read32(regs + REG_RAH0);
    if (!(hi & RAH_AV))
        return false;
    for (int i = 0; i < 4; i++)
        mac[i] = lo >> (8 * i);
    mac[4] = hi;
    mac[5] = hi >> 8;
    return true;
}

/* One EEPROM word through EERD. The read takes microseconds on hardware and is immediate in QEMU;
 * the loop is bounded so a card that never answers cannot hang the boot. */
static bool eeprom_read(volatile uint8_t *regs, unsigned word, uint16_t *out)
{
    mmio_write32(regs + REG_EERD, (word << 8) | EERD_START);
    for (int i = 0; i < 10000; i++) {
        uint32_t v = mmio_read32(regs + REG_EERD);
        if (v & EERD_DONE) {
            *out = v >> 16;
            return true;
        }
    }
    return false;
}

static bool mac_from_eeprom(volatile uint8_t *regs, uint8_t mac[6])
{
    for (unsigned w = 0; w < 3; w++) {
        uint16_t v;
        if (!eeprom_read(regs, w, &v))
            return false;
        mac[2 * w] = v;
        mac[2 * w + 1] = v >> 8;
    }
    return (mac[0] & 1) == 0 && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) != 0;
}

/* The firmware (or QEMU) loads RAL0/RAH0 from the EEPROM, so reading needs only memory decoding. */
bool e1000_read_mac(uint8_t mac[6])
{
    const struct pci_dev *d = find_card();
    if (!d)
        return false;
    pci_enable(d, true, false, false);
    volatile uint8_t *regs = P2V(d->bar[0]);
    return mac_from_ral(regs, mac) || mac_from_eeprom(regs, mac);
}

/* ---- statistics ---- */

#define STAT_ADD(field, n)                                  \
    do {                                                    \
        uint64_t __f = spin_lock_irqsave(&nic.stats_lock);  \
        nic.st.field += (n);                                \
        spin_unlock_irqrestore(&nic.stats_lock, __f);       \
    } while (0)

void e1000_get_stats(struct e1000_stats *out)
{
    if (nic.present) {
        uint32_t missed = rd(REG_MPC);  /* clear on read: accumulate */
        if (missed)
            STAT_ADD(rx_missed, missed);
    }
    uint64_t f = spin_lock_irqsave(&nic.stats_lock);
    *out = nic.st;
    spin_unlock_irqrestore(&nic.stats_lock, f);
}

/* ---- transmit ---- */

/* Gives back descriptors the card has sent. Called with tx_lock held. */
static void tx_reclaim_locked(void)
{
    while (nic.tx_clean != nic.tx_use && (nic.tx[nic.tx_clean].status & TXD_DD)) {
        nic.tx[nic.tx_clean].status = 0;
        nic.tx_clean = ring_next(nic.tx_clean);
    }
}

static void tx_flush_locked(void)
{
    if (nic.tx_flushed == nic.tx_use)
        return;
    wmb();
    wr(REG_TDT, nic.tx_use);
    nic.tx_flushed = nic.tx_use;
    nic.st.tdt_writes++;                /* under tx_lock; read racily by get_stats, that is fine */
}

static unsigned tx_free_locked(void) { return NDESC - 1 - ring_used(nic.tx_use, nic.tx_clean); }

/* One descriptor per 2 KiB piece; RS on each (so each is reclaimed on its own), EOP on the last. */
static void tx_fill_locked(const uint8_t *frame, size_t len)
{
    for (size_t off = 0; off < len;) {
        unsigned i = nic.tx_use;
        size_t part = len - off < BUF_SIZE ? len - off : BUF_SIZE;
        copy_frame(tx_buf(i), frame + off, part);
        off += part;
        volatile struct tx_desc *d = &nic.tx[i];
        d->addr = V2P(tx_buf(i));
        d->length = (uint16_t)part;
        d->cso = 0;
        d->css = 0;
        d->special = 0;
        d->status = 0;
        d->cmd = TXD_CMD_IFCS | TXD_CMD_RS | (off == len ? TXD_CMD_EOP : 0);
        nic.tx_use = ring_next(i);
    }
}

static int xmit(const void *frame, size_t len, bool flush)
{
    if (!nic.present)
        return -ENODEV;
    if (len < 14 || len > E1000_MAX_FRAME) {
        STAT_ADD(tx_too_big, 1);
        return -EMSGSIZE;
    }
    unsigned need = (unsigned)((len + BUF_SIZE - 1) / BUF_SIZE);
    uint64_t f = spin_lock_irqsave(&nic.tx_lock);
    if (tx_free_locked() < need)
        tx_reclaim_locked();
    if (tx_free_locked() < need) {
        if (flush)
            tx_flush_locked();
        spin_unlock_irqrestore(&nic.tx_lock, f);
        STAT_ADD(tx_ring_full, 1);
        return -EAGAIN;
    }
    tx_fill_locked(frame, len);
    if (flush)
        tx_flush_locked();
    spin_unlock_irqrestore(&nic.tx_lock, f);
    uint64_t sf = spin_lock_irqsave(&nic.stats_lock);
    nic.st.tx_frames++;
    nic.st.tx_bytes += len;
    spin_unlock_irqrestore(&nic.stats_lock, sf);
    return 0;
}

int e1000_xmit(const void *frame, size_t len) { return xmit(frame, len, true); }
int e1000_xmit_more(const void *frame, size_t len) { return xmit(frame, len, false); }

void e1000_tx_flush(void)
{
    if (!nic.present)
        return;
    uint64_t f = spin_lock_irqsave(&nic.tx_lock);
    tx_flush_locked();
    spin_unlock_irqrestore(&nic.tx_lock, f);
}

unsigned e1000_tx_pending(void)
{
    if (!nic.present)
        return 0;
    uint64_t f = spin_lock_irqsave(&nic.tx_lock);
    tx_reclaim_locked();
    unsigned n = ring_used(nic.tx_use, nic.tx_clean);
    spin_unlock_irqrestore(&nic.tx_lock, f);
    return n;
}

static void tx_clean(void)
{
    uint64_t f = spin_lock_irqsave(&nic.tx_lock);
    tx_reclaim_locked();
    spin_unlock_irqrestore(&nic.tx_lock, f);
}

/* ---- receive ---- */

void e1000_set_receiver(e1000_rx_fn fn, void (*batch_done)(void *ctx), void *ctx)
{
    uint64_t f = irq_save();
    nic.rx_fn = fn;
    nic.batch_done = batch_done;
    nic.rx_ctx = ctx;
    irq_restore(f);
}

/* Hands the cleaned descriptors back: RDT names the last one, which stays the one empty slot. */
static void rx_return(void)
{
    if (!nic.rx_returned)
        return;
    wmb();
    wr(REG_RDT, (nic.rx_clean - 1) & (NDESC - 1));
    nic.rx_returned = 0;
    STAT_ADD(rdt_writes, 1);
}

static bool rx_ready(void) { return (nic.rx[nic.rx_clean].status & RXD_DD) != 0; }

/* A piece of a frame that spans buffers. Returns true when the frame is complete and good. */
static bool rx_gather(const uint8_t *buf, size_t len, bool errors, bool eop)
{
    if (!nic.rx_gathering) {
        nic.rx_gathering = true;
        nic.rx_gather_len = 0;
        nic.rx_gather_bad = false;
    }
    if (errors || len > E1000_MAX_FRAME - nic.rx_gather_len) {
        nic.rx_gather_bad = true;
    } else {
        copy_frame(nic.rx_gather + nic.rx_gather_len, buf, len);
        nic.rx_gather_len += len;
    }
    if (!eop)
        return false;
    nic.rx_gathering = false;
    return !nic.rx_gather_bad;
}

/* One filled descriptor. A frame in one buffer goes up straight from it; a longer one is gathered
 * first and goes up at its last piece. Returns true if a frame was delivered. */
static bool rx_one(volatile struct rx_desc *d, unsigned i)
{
    uint8_t status = d->status, errors = d->errors;
    size_t len = d->length;
    barrier();                          /* read the descriptor before the buffer it describes */
    const uint8_t *frame = rx_buf(i);
    bool eop = status & RXD_EOP;
    bool bad = errors != 0;
    if (!eop || nic.rx_gathering) {
        if (!rx_gather(frame, len, errors, eop)) {
            if (eop)
                STAT_ADD(rx_errors, 1); /* counted once, at the frame's end */
            return false;
        }
        frame = nic.rx_gather;
        len = nic.rx_gather_len;
        bad = false;
    }
    if (bad || len < 14) {
        STAT_ADD(rx_errors, 1);
        return false;
    }
    uint64_t f = spin_lock_irqsave(&nic.stats_lock);
    nic.st.rx_frames++;
    nic.st.rx_bytes += len;
    spin_unlock_irqrestore(&nic.stats_lock, f);
    if (!nic.rx_fn) {
        STAT_ADD(rx_no_receiver, 1);
        return false;
    }
    nic.rx_fn(frame, len, nic.rx_ctx);
    return true;
}

/* Processes up to budget frames; returns how many descriptors were consumed. */
static int rx_poll(int budget)
{
    int done = 0, delivered = 0;
    while (done < budget && rx_ready()) {
        unsigned i = nic.rx_clean;
        volatile struct rx_desc *d = &nic.rx[i];
        delivered += rx_one(d, i);
        d->status = 0;
        d->errors = 0;
        nic.rx_clean = ring_next(i);
        if (++nic.rx_returned >= RX_RETURN_BATCH)
            rx_return();
        done++;
    }
    rx_return();
    if (delivered && nic.batch_done)
        nic.batch_done(nic.rx_ctx);
    return done;
}

/* ---- interrupt, link, the polling thread ---- */

static void e1000_irq(void *ctx)
{
    uint32_t icr = rd(REG_ICR);         /* reading clears the causes and lowers the line */
    if (!icr)
        return;                         /* not ours (a shared line) */
    wr(REG_IMC, ~0u);
    nic.icr_pending |= icr;
    nic.st.interrupts++;                /* interrupts are off, as under stats_lock (one CPU) */
    nic.poll_wanted = true;
    wake_up(&nic.poll_wq);
}

static void link_check(bool log)
{
    bool up = (rd(REG_STATUS) & STATUS_LU) != 0;
    if (up != nic.link || log) {
        if (!log)
            STAT_ADD(link_changes, 1);
        printk(LOG_INFO, "e1000: link %s\n", up ? "up" : "down");
    }
    nic.link = up;
}

/* Busy polls mean a stream: throttle harder so each interrupt brings a batch. */
static void itr_adapt(int frames)
{
    uint32_t itr = frames >= 32 ? ITR_BULK : frames >= 4 ? ITR_LOW_LATENCY : ITR_LOWEST_LATENCY;
    if (itr != nic.itr) {
        nic.itr = itr;
        wr(REG_ITR, itr);
    }
}

static uint32_t take_causes(void)
{
    uint64_t f = irq_save();
    uint32_t icr = nic.icr_pending;
    nic.icr_pending = 0;
    irq_restore(f);
    return icr;
}

static void handle_causes(uint32_t icr)
{
    if (icr & ICR_LSC)
        link_check(false);
    if (icr & (ICR_RXO | ICR_RXDMT0)) {
        uint32_t missed = rd(REG_MPC);
        if (missed)
            STAT_ADD(rx_missed, missed);
    }
}

static void poll_thread(void *arg)
{
    int frames = 0;                     /* since the interrupt that started this busy period */
    for (;;) {
        wait_event(nic.poll_wq, nic.poll_wanted);
        nic.poll_wanted = false;
        STAT_ADD(polls, 1);
        handle_causes(take_causes());
        tx_clean();
        int n = rx_poll(RX_BUDGET);
        frames += n;
        if (n >= RX_BUDGET) {
            /* More is waiting: come back through the interrupt (ICS raises it, ITR paces it)
             * rather than by yield(), so the scheduler ranks this thread as an interrupt's. */
            STAT_ADD(rx_budget_exhausted, 1);
            itr_adapt(frames);
            frames = 0;
            wr(REG_ICS, ICR_RXT0);
            wr(REG_IMS, IMS_ENABLE);
            continue;
        }
        /* Clear causes for frames already handled, then look once more: a frame that arrives after
         * this check sets a cause again, and unmasking raises the interrupt for it. */
        handle_causes(rd(REG_ICR));
        if (rx_ready()) {
            nic.poll_wanted = true;
            continue;
        }
        itr_adapt(frames);
        frames = 0;
        wr(REG_IMS, IMS_ENABLE);
    }
}

/* ---- bring-up ---- */

/* Manual 14.5 and Linux's e1000_reset_hw: quiesce, reset, mask again. */
static void reset_card(void)
{
    wr(REG_IMC, ~0u);
    wr(REG_RCTL, 0);
    wr(REG_TCTL, TCTL_PSP);
    (void)rd(REG_STATUS);               /* flush the posted writes */
    msleep(10);                         /* let pending DMA finish */
    wr(REG_CTRL, rd(REG_CTRL) | CTRL_RST);
    msleep(5);                          /* the reset also reloads the EEPROM; Linux waits 5 ms */
    wr(REG_IMC, ~0u);
    (void)rd(REG_ICR);
    uint32_t ctrl = rd(REG_CTRL);
    ctrl |= CTRL_SLU | CTRL_ASDE;
    ctrl &= ~(CTRL_LRST | CTRL_PHY_RST | CTRL_ILOS | CTRL_VME);
    wr(REG_CTRL, ctrl);
}

static bool alloc_rings(void)
{
    uint64_t rx_ring = pmm_alloc_page(), tx_ring = pmm_alloc_page();
    uint64_t rx_bufs = pmm_alloc_pages(RX_BUFS_ORDER), tx_bufs = pmm_alloc_pages(BUFS_ORDER);
    if (!rx_ring || !tx_ring || !rx_bufs || !tx_bufs) {
        if (rx_ring)
            pmm_free_page(rx_ring);
        if (tx_ring)
            pmm_free_page(tx_ring);
        if (rx_bufs)
            pmm_free_pages(rx_bufs, RX_BUFS_ORDER);
        if (tx_bufs)
            pmm_free_pages(tx_bufs, BUFS_ORDER);
        return false;
    }
    nic.rx = P2V(rx_ring);              /* pmm_alloc_page zeroes: every status starts clear */
    nic.tx = P2V(tx_ring);
    nic.rx_bufs = P2V(rx_bufs);
    nic.tx_bufs = P2V(tx_bufs);
    return true;
}

static void setup_rx(void)
{
    for (unsigned i = 0; i < NDESC; i++) {
        nic.rx[i].addr = V2P(rx_buf(i));
        nic.rx[i].status = 0;
    }
    uint64_t pa = V2P((void *)nic.rx);
    wr(REG_RDBAL, (uint32_t)pa);
    wr(REG_RDBAH, (uint32_t)(pa >> 32));
    wr(REG_RDLEN, NDESC * sizeof(struct rx_desc));
    wr(REG_RDH, 0);
    wmb();
    wr(REG_RDT, NDESC - 1);             /* all but one descriptor belong to the card */
    wr(REG_RDTR, 0);                    /* no receive delay: ITR alone throttles */
    wr(REG_RADV, 0);
    nic.rx_clean = 0;
    wr(REG_RCTL, RCTL_EN | RCTL_BAM | RCTL_LPE | RCTL_BSIZE | RCTL_SECRC);
}

static void setup_tx(void)
{
    uint64_t pa = V2P((void *)nic.tx);
    wr(REG_TDBAL, (uint32_t)pa);
    wr(REG_TDBAH, (uint32_t)(pa >> 32));
    wr(REG_TDLEN, NDESC * sizeof(struct tx_desc));
    wr(REG_TDH, 0);
    wr(REG_TDT, 0);
    wr(REG_TIDV, 0);
    wr(REG_TADV, 0);
    wr(REG_TIPG, TIPG_COPPER);
    nic.tx_use = nic.tx_clean = nic.tx_flushed = 0;
    wr(REG_TCTL, TCTL_EN | TCTL_PSP | TCTL_CT | TCTL_COLD | TCTL_RTLC);
}

/*
 * On QEMU's i440fx, INTx goes through the PIIX3's PIRQ router: the device in slot S raising pin P
 * (1 = INTA#) drives PIRQ (S - 1 + P - 1) mod 4, and the router's config byte 0x60 + PIRQ names its
 * ISA IRQ (bit 7: disabled). qboot writes interrupt-line registers that disagree with this (it
 * rotates by one slot less: the e1000 in slot 2 is told 11 but raises 10), so when the router is
 * there, ask it. Returns the IRQ or -1.
 */
static int piix_route(const struct pci_dev *d)
{
    const struct pci_dev *isa = pci_find(0x8086, 0x7000);
    if (!isa || d->bus != 0 || isa->bus != 0)
        return -1;
    unsigned pirq = (d->dev - 1u + d->irq_pin - 1u) & 3;
    uint8_t irq = pci_read8(isa->bus, isa->dev, isa->fn, 0x60 + pirq);
    return (irq & 0x80) || irq >= 16 ? -1 : irq;
}

/* The ISA IRQ reaches the IOAPIC as the GSI of the same number unless the MADT overrides it.
 * INTx is level-triggered; on QEMU's i440fx/PIIX the IOAPIC sees it active high. */
static unsigned card_gsi(const struct pci_dev *d)
{
    unsigned line = d->irq_line;
    int routed = piix_route(d);
    if (routed >= 0 && (unsigned)routed != line) {
        printk(LOG_INFO, "e1000: INTA# is routed to IRQ %d (the interrupt line register says %u)\n", routed, line);
        line = (unsigned)routed;
    }
    if (line < 16)
        return acpi_get()->isa[line].gsi;
    return line;
}

int e1000_init(void)
{
    const struct pci_dev *d = find_card();
    if (!d || nic.present)
        return -ENODEV;
    if (!d->irq_pin || ((d->irq_line == 0 || d->irq_line == 0xff) && piix_route(d) < 0)) {
        printk(LOG_WARN, "e1000: no interrupt line assigned\n");
        return -ENODEV;
    }
    pci_enable(d, true, false, true);   /* memory decoding and bus mastering (DMA) */
    nic.regs = P2V(d->bar[0]);
    reset_card();
    uint8_t mac[6];
    if (!mac_from_ral(nic.regs, mac) && !mac_from_eeprom(nic.regs, mac)) {
        printk(LOG_WARN, "e1000: no MAC address in RAL0 or the EEPROM\n");
        return -ENODEV;
    }
    memcpy(nic.mac, mac, 6);
    wr(REG_RAL0, mac[0] | mac[1] << 8 | mac[2] << 16 | (uint32_t)mac[3] << 24);
    wr(REG_RAH0, mac[4] | mac[5] << 8 | RAH_AV);
    for (unsigned i = 0; i < 128; i++)
        wr(REG_MTA + 4 * i, 0);
    nic.rx_gather = kmalloc(E1000_MAX_FRAME);
    if (!nic.rx_gather || !alloc_rings()) {
        printk(LOG_ERR, "e1000: no memory for the rings\n");
        return -ENOMEM;
    }
    wq_init(&nic.poll_wq);
    setup_tx();
    setup_rx();
    nic.itr = ITR_LOW_LATENCY;
    wr(REG_ITR, nic.itr);
    unsigned gsi = card_gsi(d);
    if (irq_register_gsi(gsi, true, false, e1000_irq, NULL) != 0)
        return -EBUSY;
    nic.present = true;
    if (!kthread_create("e1000", poll_thread, NULL)) {
        nic.present = false;
        return -ENOMEM;
    }
    link_check(true);
    (void)rd(REG_ICR);
    wr(REG_IMS, IMS_ENABLE);
    printk(LOG_INFO, "e1000: %02x:%02x:%02x:%02x:%02x:%02x, GSI %u, %u+%u descriptors\n", mac[0], mac[1],
           mac[2], mac[3], mac[4], mac[5], gsi, NDESC, NDESC);
    return 0;
}

bool e1000_present(void) { return nic.present; }
const uint8_t *e1000_mac(void) { return nic.mac; }
bool e1000_link_up(void) { return nic.present && (rd(REG_STATUS) & STATUS_LU); }

/* ---- self-tests (they pass trivially without a card: the ktest boot has -nic none) ---- */

KTEST(e1000_registers_sane)
{
    if (!nic.present)
        return true;
    uint8_t mac[6];
    if (!e1000_read_mac(mac) || memcmp(mac, nic.mac, 6) != 0)
        KTEST_FAIL("RAL0/RAH0 do not hold the MAC in use");
    if (rd(REG_RDLEN) != NDESC * 16 || rd(REG_TDLEN) != NDESC * 16)
        KTEST_FAIL("RDLEN %u TDLEN %u", rd(REG_RDLEN), rd(REG_TDLEN));
    uint64_t rx_pa = rd(REG_RDBAL) | (uint64_t)rd(REG_RDBAH) << 32;
    uint64_t tx_pa = rd(REG_TDBAL) | (uint64_t)rd(REG_TDBAH) << 32;
    if (rx_pa != V2P((void *)nic.rx) || tx_pa != V2P((void *)nic.tx))
        KTEST_FAIL("ring bases %#lx %#lx", rx_pa, tx_pa);
    if (!(rd(REG_RCTL) & RCTL_EN) || !(rd(REG_TCTL) & TCTL_EN))
        KTEST_FAIL("RCTL %#x TCTL %#x: not enabled", rd(REG_RCTL), rd(REG_TCTL));
    if (!(rd(REG_STATUS) & STATUS_LU))
        KTEST_FAIL("link down (STATUS %#x)", rd(REG_STATUS));
    if (rd(REG_RDT) >= NDESC || rd(REG_RDH) >= NDESC || rd(REG_TDH) >= NDESC)
        KTEST_FAIL("ring indices out of range");
    for (unsigned i = 0; i < NDESC; i++)
        if (nic.rx[i].addr != V2P(rx_buf(i)))
            KTEST_FAIL("rx descriptor %u points elsewhere", i);
    return true;
}

/* Frames to our own MAC with an experimental EtherType: the bridge never echoes them back. */
static void test_frame(uint8_t *f, size_t len, unsigned seq)
{
    memcpy(f, nic.mac, 6);
    memcpy(f + 6, nic.mac, 6);
    f[12] = 0x88;
    f[13] = 0xb6;                       /* IEEE 802 local experimental EtherType 2 */
    for (size_t i = 14; i < len; i++)
        f[i] = (uint8_t)(seq + i);
}

KTEST(e1000_transmit_and_reclaim)
{
    if (!nic.present)
        return true;
    static uint8_t frame[E1000_MAX_FRAME + 1];
    struct e1000_stats before, after;
    e1000_get_stats(&before);
    if (e1000_xmit(frame, 13) != -EMSGSIZE || e1000_xmit(frame, E1000_MAX_FRAME + 1) != -EMSGSIZE)
        KTEST_FAIL("bad lengths were not refused");
    /* More frames than the ring holds, in bursts of 32 with one doorbell each. */
    unsigned sent = 0, full = 0;
    for (int tries = 0; sent < 3 * NDESC && tries < 10000; tries++) {
        test_frame(frame, 60 + sent % 1400, sent);
        int r = e1000_xmit_more(frame, 60 + sent % 1400);
        if (r == -EAGAIN) {
            full++;
            e1000_tx_flush();
            msleep(1);
            continue;
        }
        if (r != 0)
            KTEST_FAIL("xmit: %d", r);
        if (++sent % 32 == 0)
            e1000_tx_flush();
    }
    e1000_tx_flush();
    int jumbo = 0;                      /* and frames spanning 5 descriptors */
    for (int tries = 0; jumbo < 40 && tries < 1000; tries++) {
        test_frame(frame, E1000_MAX_FRAME, (unsigned)jumbo);
        if (e1000_xmit(frame, E1000_MAX_FRAME) == 0)
            jumbo++;
        else
            msleep(1);
    }
    for (int i = 0; i < 100 && e1000_tx_pending(); i++)
        msleep(10);
    e1000_get_stats(&after);
    if (jumbo != 40)
        KTEST_FAIL("only %d jumbo frames queued", jumbo);
    if (sent != 3 * NDESC)
        KTEST_FAIL("only %u frames queued (%u times full)", sent, full);
    if (e1000_tx_pending())
        KTEST_FAIL("%u descriptors never completed", e1000_tx_pending());
    if (after.tx_frames - before.tx_frames < sent + 40)
        KTEST_FAIL("tx_frames moved by %lu for %u frames", after.tx_frames - before.tx_frames, sent + 40);
    if (after.tdt_writes - before.tdt_writes > sent / 8 + 40)
        KTEST_FAIL("%lu TDT writes for %u frames: not batched", after.tdt_writes - before.tdt_writes, sent);
    if (after.tx_too_big - before.tx_too_big != 2)
        KTEST_FAIL("tx_too_big moved by %lu", after.tx_too_big - before.tx_too_big);
    return true;
}

KTEST(e1000_ring_full_is_eagain)
{
    if (!nic.present)
        return true;
    static uint8_t frame[64];
    test_frame(frame, sizeof frame, 7);
    e1000_tx_flush();
    for (int i = 0; i < 100 && e1000_tx_pending(); i++)
        msleep(10);
    /* Without a doorbell nothing completes: the ring fills after at most NDESC - 1 frames. */
    unsigned queued = 0;
    int r = 0;
    uint64_t f = irq_save();            /* no other sender may ring the doorbell meanwhile */
    while (queued < NDESC && (r = e1000_xmit_more(frame, sizeof frame)) == 0)
        queued++;
    e1000_tx_flush();
    irq_restore(f);
    for (int i = 0; i < 100 && e1000_tx_pending(); i++)
        msleep(10);
    if (r != -EAGAIN || queued > NDESC - 1)
        KTEST_FAIL("queued %u frames, then %d", queued, r);
    if (e1000_tx_pending())
        KTEST_FAIL("ring did not drain after the flush");
    return true;
}
