/*
 * kernel/tty.c: the console terminal: the glue between the line discipline (kernel/ldisc.c), the
 * devices (COM1 in; COM1 and VGA out), the device files, and job control (session, foreground
 * process group, SIGTTIN/SIGTTOU), after Linux's tty_io.c and tty_jobctrl.c.
 *
 * Locking: t->lock (interrupts off) serialises every call into the line discipline, from the
 * serial interrupt and from system calls. Signals the line discipline raises are collected under the
 * lock and sent after it is dropped. Output is emitted under the lock, in small chunks, so echo and
 * writes never interleave inside a chunk and the column the line discipline tracks stays true.
 *
 * The serial rule for line ends: the line discipline produces Linux's byte stream (with OPOST|ONLCR
 * a newline is "\r\n"); serial_write turns every "\n" into "\r\n" by itself, so each "\r\n" of the
 * stream goes to it as "\n". The wire sees exactly "\r\n", as from Linux. (Without ONLCR a bare
 * "\n" still reaches the wire as "\r\n": drivers/serial.h has no raw write.) VGA gets the stream.
 */
#include "kernel/tty.h"
#include "drivers/serial.h"
#include "drivers/vga.h"
#include "kernel/errno.h"
#include "kernel/format.h"
#include "kernel/ktest.h"
#include "kernel/ldisc.h"
#include "kernel/printk.h"
#include "kernel/proc.h"
#include "kernel/sched.h"
#include "kernel/signal.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "kernel/uaccess.h"
#include "kernel/vfs.h"

/* ioctl numbers (Linux x86-64). */
#define TCGETS 0x5401
#define TCSETS 0x5402
#define TCSETSW 0x5403
#define TCSETSF 0x5404
#define TCSBRK 0x5409
#define TCXONC 0x540A
#define TCFLSH 0x540B
#define TIOCSCTTY 0x540E
#define TIOCGPGRP 0x540F
#define TIOCSPGRP 0x5410
#define TIOCOUTQ 0x5411
#define TIOCGWINSZ 0x5413
#define TIOCSWINSZ 0x5414
#define FIONREAD 0x541B             /* also TIOCINQ */
#define TIOCNOTTY 0x5422
#define TCSBRKP 0x5425
#define TIOCGSID 0x5429

#define TCOOFF 0
#define TCOON 1
#define TCIOFF 2
#define TCION 3
#define TCIFLUSH 0
#define TCOFLUSH 1
#define TCIOFLUSH 2

#define WRITE_CHUNK 64              /* bytes processed per lock hold: bounds interrupt latency */

struct winsize {
    uint16_t ws_row, ws_col, ws_xpixel, ws_ypixel;
};

struct tty {
    struct spinlock lock;
    struct ldisc ld;
    struct waitqueue wq;            /* readers, and writers waiting for stopped output */
    struct winsize ws;
    int sid, pgrp;                  /* session and foreground process group; 0 = none */
    uint32_t raised;                /* signals raised by the line discipline, sent after unlocking */
    uint32_t devnum;                /* Linux encoding, for /proc/PID/stat */
    /* Self-tests capture output here instead of sending it to the devices. */
    char *capture;
    size_t capture_len, capture_cap;
};

static struct tty console;

/* Linux's new_encode_dev. */
static uint32_t encode_dev(uint32_t major, uint32_t minor)
{
    return (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}

/* ---- line discipline callbacks (called with t->lock held, maybe in interrupt context) ---- */

static void serial_out(const char *buf, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n') {
            serial_write(buf + start, i - start);
            start = i + 1;          /* the '\n'; serial_write puts the '\r' back */
        }
    }
    serial_write(buf + start, n - start);
}

static void tty_output(void *ctx, const char *buf, size_t n)
{
    struct tty *t = ctx;
    if (t->capture) {
        size_t k = t->capture_cap - t->capture_len;
        k = n < k ? n : k;
        memcpy(t->capture + t->capture_len, buf, k);
        t->capture_len += k;
        return;
    }
    serial_out(buf, n);
    vga_write(buf, n);
}

static void tty_raise(void *ctx, int sig)
{
    struct tty *t = ctx;
    t->raised |= 1u << sig;
}

static void tty_wakeup(void *ctx)
{
    struct tty *t = ctx;
    wake_up(&t->wq);
    poll_notify();
}

static const struct ldisc_ops tty_ldisc_ops = { tty_output, tty_raise, tty_wakeup };

static uint64_t tty_lock(struct tty *t) { return spin_lock_irqsave(&t->lock); }

/* Drops the lock, then sends what the line discipline raised to the foreground group. */
static void tty_unlock(struct tty *t, uint64_t flags)
{
    uint32_t sigs = t->raised;
    int pgrp = t->pgrp;
    t->raised = 0;
    spin_unlock_irqrestore(&t->lock, flags);
    for (int sig = 1; sigs; sig++) {
        if (!(sigs & (1u << sig)))
            continue;
        sigs &= ~(1u << sig);
        if (pgrp > 0)
            signal_send_pgrp(pgrp, sig);
    }
}

/* ---- input ---- */

void tty_receive(struct tty *t, const char *s, size_t n)
{
    uint64_t f = tty_lock(t);
    ldisc_receive_buf(&t->ld, s, n);
    tty_unlock(t, f);
}

static void tty_serial_rx(char c, void *ctx) { tty_receive(ctx, &c, 1); }

/* How much input makes a reader (or poll) ready: Linux's input_available_p. */
static size_t ready_amount(const struct ldisc *ld)
{
    const struct termios *tio = &ld->termios;
    if (!(tio->c_lflag & ICANON) && tio->c_cc[VMIN] && !tio->c_cc[VTIME])
        return tio->c_cc[VMIN];
    return 1;
}

static bool tty_readable(struct tty *t, size_t min)
{
    uint64_t f = tty_lock(t);
    bool r = ldisc_readable(&t->ld, min);
    tty_unlock(t, f);
    return r;
}

static bool tty_output_stopped(struct tty *t)
{
    uint64_t f = tty_lock(t);
    bool r = ldisc_output_stopped(&t->ld);
    tty_unlock(t, f);
    return r;
}

/* ---- job control (Linux's tty_jobctrl.c) ---- */

struct pgrp_query {
    int pgid;
    int sid;                        /* out: session of the group, -1 if no such group */
    bool orphaned;                  /* out: no member has a parent in another group of the session */
};

static bool pgrp_scan(struct process *p, void *arg)
{
    struct pgrp_query *q = arg;
    if (p->pgid != q->pgid)
        return true;
    q->sid = p->sid;
    struct process *parent = p->parent;
    if (p->state != PROC_ZOMBIE && parent && parent->pid != 1 && parent->pgid != q->pgid &&
        parent->sid == p->sid)
        q->orphaned = false;
    return true;
}

static struct pgrp_query query_pgrp(int pgid)
{
    struct pgrp_query q = { pgid, -1, true };
    proc_for_each(pgrp_scan, &q);
    return q;
}

static bool is_ctty(struct tty *t)
{
    struct process *p = current_proc();
    return p && p->tty == t;
}

/* A process touching its controlling terminal from a background group: sig (SIGTTIN for reads,
 * SIGTTOU for writes with TOSTOP and for changes) goes to its group and the call restarts once it
 * is continued. Ignoring or blocking the signal lets it through, except SIGTTIN (-EIO). */
static int job_control(struct tty *t, int sig)
{
    struct process *p = current_proc();
    if (!p || p->tty != t)
        return 0;
    int fg = t->pgrp;
    if (fg <= 0 || p->pgid == fg)
        return 0;
    if (signal_ignored_or_blocked(p, sig))
        return sig == SIGTTIN ? -EIO : 0;
    if (query_pgrp(p->pgid).orphaned)
        return -EIO;                /* nobody would ever continue it */
    signal_send_pgrp(p->pgid, sig);
    return -ERESTARTSYS;
}

struct session_clear {
    int sid;
};

static bool clear_one(struct process *p, void *arg)
{
    struct session_clear *c = arg;
    if (p->sid == c->sid && p->tty == &console)
        p->tty = NULL;
    return true;
}

static void session_clear_tty(int sid)
{
    struct session_clear c = { sid };
    proc_for_each(clear_one, &c);
}

/* The terminal stops being sid's: the foreground group is told (SIGHUP, SIGCONT) and forgets it. */
static void disassociate(struct tty *t, int sid)
{
    uint64_t f = tty_lock(t);
    int pgrp = 0;
    if (t->sid == sid) {
        pgrp = t->pgrp;
        t->sid = t->pgrp = 0;
    }
    tty_unlock(t, f);
    if (pgrp > 0) {
        signal_send_pgrp(pgrp, SIGHUP);
        signal_send_pgrp(pgrp, SIGCONT);
    }
    session_clear_tty(sid);
}

void tty_set_session(struct tty *t, int sid, int fg_pgid)
{
    uint64_t f = tty_lock(t);
    t->sid = sid;
    t->pgrp = fg_pgid;
    tty_unlock(t, f);
}

void tty_session_exit(int sid) { disassociate(&console, sid); }

struct tty *tty_console(void) { return &console; }
uint32_t tty_devnum(struct tty *t) { return t ? t->devnum : 0; }
int tty_fg_pgrp(struct tty *t) { return t && t->pgrp > 0 ? t->pgrp : -1; }

/* ---- file operations ---- */

static struct tty *file_tty(struct file *f)
{
    if (f->priv)
        return f->priv;
    struct process *p = current_proc();
    return p && p->tty ? p->tty : &console;
}

/* Opening a terminal makes it the controlling terminal of a session leader that has none, if no
 * session has it and O_NOCTTY was not given (Linux; except /dev/console, which never does). */
static void maybe_acquire(struct tty *t, uint32_t flags)
{
    struct process *p = current_proc();
    if ((flags & O_NOCTTY) || !p || p->sid != p->pid || p->tty)
        return;
    uint64_t f = tty_lock(t);
    if (!t->sid) {
        t->sid = p->sid;
        t->pgrp = p->pgid;
        p->tty = t;
    }
    tty_unlock(t, f);
}

static int console_open(struct inode *ino, struct file *f)
{
    f->priv = &console;
    return 0;
}

static int ttyS0_open(struct inode *ino, struct file *f)
{
    f->priv = &console;
    maybe_acquire(&console, f->flags);
    return 0;
}

/* /dev/tty: whatever terminal controls the caller. */
static int ctty_open(struct inode *ino, struct file *f)
{
    struct process *p = current_proc();
    if (!p || !p->tty)
        return -ENXIO;
    f->priv = p->tty;
    return 0;
}

/* Linux's n_tty_read: canonical reads return one line; otherwise VMIN/VTIME decide (VTIME in
 * tenths of a second: with VMIN it is the gap allowed between bytes once one came, without it the
 * whole wait). */
static long tty_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    struct tty *t = file_tty(f);
    int r = job_control(t, SIGTTIN);
    if (r)
        return r;
    if (n == 0)
        return 0;

    uint64_t fl = tty_lock(t);
    struct termios tio = t->ld.termios;
    tty_unlock(t, fl);
    bool canon = tio.c_lflag & ICANON;
    size_t minimum = 0;
    uint64_t timeout_ns = 0, gap_ns = 0;        /* 0: wait for ever */
    bool no_wait = false;
    if (!canon) {
        uint64_t vtime_ns = tio.c_cc[VTIME] * 100 * NSEC_PER_MSEC;
        minimum = tio.c_cc[VMIN];
        if (minimum) {
            gap_ns = vtime_ns;
        } else {
            minimum = 1;
            timeout_ns = vtime_ns;
            no_wait = vtime_ns == 0;
        }
    }

    size_t got = 0;
    for (;;) {
        fl = tty_lock(t);
        long k = ldisc_read(&t->ld, (char *)buf + got, n - got);
        tty_unlock(t, fl);
        if (k >= 0) {
            if (canon)
                return k;           /* a line, or 0 at end of file */
            got += k;
            if (got >= minimum || got == n)
                return got;
            if (gap_ns)
                timeout_ns = gap_ns;
            continue;
        }
        if (no_wait)
            return got;
        if (f->flags & O_NONBLOCK)
            return got ? (long)got : -EAGAIN;
        r = wait_event_interruptible_timeout(t->wq, tty_readable(t, 1), timeout_ns);
        if (r == -EINTR)
            return got ? (long)got : -EINTR;
        if (r == -ETIMEDOUT)
            return got;
    }
}

static long tty_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    struct tty *t = file_tty(f);
    if (t->ld.termios.c_lflag & TOSTOP) {
        int r = job_control(t, SIGTTOU);
        if (r)
            return r;
    }
    size_t done = 0;
    while (done < n) {
        if (tty_output_stopped(t)) {            /* ^S: wait for ^Q */
            if (f->flags & O_NONBLOCK)
                return done ? (long)done : -EAGAIN;
            if (wait_event_interruptible(t->wq, !tty_output_stopped(t)) == -EINTR)
                return done ? (long)done : -EINTR;
        }
        size_t k = n - done < WRITE_CHUNK ? n - done : WRITE_CHUNK;
        /* Room for the worst case (every byte doubled by ONLCR) before taking the lock, so the
         * serial line's backpressure puts us to sleep instead of losing output. */
        if (serial_tx_room() < 2 * k + 16) {
            if (f->flags & O_NONBLOCK)
                return done ? (long)done : -EAGAIN;
            if (serial_tx_wait_room(2 * k + 16) == -EINTR)
                return done ? (long)done : -EINTR;
        }
        uint64_t fl = tty_lock(t);
        ldisc_write(&t->ld, (const char *)buf + done, k);
        tty_unlock(t, fl);
        done += k;
    }
    return n;
}

static unsigned tty_poll(struct file *f)
{
    struct tty *t = file_tty(f);
    uint64_t fl = tty_lock(t);
    bool readable = ldisc_readable(&t->ld, ready_amount(&t->ld));
    tty_unlock(t, fl);
    return (readable ? POLLIN : 0) | POLLOUT;
}

static long put_int(int v, unsigned long arg) { return put_user(v, (int *)arg); }

static long tiocspgrp(struct tty *t, unsigned long arg)
{
    struct process *p = current_proc();
    int r = job_control(t, SIGTTOU);
    if (r == -EIO)
        return -ENOTTY;
    if (r)
        return r;
    if (!p || p->tty != t || t->sid != p->sid)
        return -ENOTTY;
    int pgrp;
    if (get_user(pgrp, (int *)arg))
        return -EFAULT;
    if (pgrp < 0)
        return -EINVAL;
    struct pgrp_query q = query_pgrp(pgrp);
    if (q.sid < 0)
        return -ESRCH;
    if (q.sid != p->sid)
        return -EPERM;
    uint64_t fl = tty_lock(t);
    t->pgrp = pgrp;
    tty_unlock(t, fl);
    return 0;
}

/* TIOCSCTTY: a session leader without a terminal takes this one; arg 1 lets root take it from
 * another session. */
static long tiocsctty(struct tty *t, unsigned long arg)
{
    struct process *p = current_proc();
    if (!p)
        return -EPERM;
    if (p->sid == p->pid && p->tty == t && t->sid == p->sid)
        return 0;
    if (p->sid != p->pid || p->tty)
        return -EPERM;
    int old = t->sid;
    if (old) {
        if (arg != 1 || p->euid != 0)
            return -EPERM;
        session_clear_tty(old);
    }
    uint64_t fl = tty_lock(t);
    t->sid = p->sid;
    t->pgrp = p->pgid;
    p->tty = t;
    tty_unlock(t, fl);
    return 0;
}

static long tiocnotty(struct tty *t)
{
    struct process *p = current_proc();
    if (!p || p->tty != t)
        return -ENOTTY;
    if (p->sid == p->pid)
        disassociate(t, p->sid);
    p->tty = NULL;
    return 0;
}

static long set_termios(struct tty *t, unsigned long cmd, unsigned long arg)
{
    int r = job_control(t, SIGTTOU);
    if (r)
        return r;
    struct termios tio;
    if (copy_from_user(&tio, (void *)arg, sizeof tio))
        return -EFAULT;
    uint64_t fl = tty_lock(t);
    if (cmd == TCSETSF)
        ldisc_flush_input(&t->ld);
    ldisc_set_termios(&t->ld, &tio);
    tty_unlock(t, fl);
    wake_up(&t->wq);                /* readers' conditions (mode, VMIN) changed */
    poll_notify();
    return 0;
}

static long set_winsize(struct tty *t, unsigned long arg)
{
    struct winsize ws;
    if (copy_from_user(&ws, (void *)arg, sizeof ws))
        return -EFAULT;
    uint64_t fl = tty_lock(t);
    bool changed = memcmp(&ws, &t->ws, sizeof ws) != 0;
    t->ws = ws;
    int pgrp = t->pgrp;
    tty_unlock(t, fl);
    if (changed && pgrp > 0)
        signal_send_pgrp(pgrp, SIGWINCH);
    return 0;
}

static long flow_control(struct tty *t, unsigned long arg)
{
    int r = job_control(t, SIGTTOU);
    if (r)
        return r;
    uint64_t fl = tty_lock(t);
    char c;
    switch (arg) {
    case TCOOFF:
        ldisc_set_stopped(&t->ld, true);
        break;
    case TCOON:
        ldisc_set_stopped(&t->ld, false);
        break;
    case TCIOFF:
    case TCION:                     /* ask the other end to stop or resume sending */
        c = (char)t->ld.termios.c_cc[arg == TCIOFF ? VSTOP : VSTART];
        if (c != LDISC_VDISABLE)
            tty_output(t, &c, 1);
        break;
    default:
        tty_unlock(t, fl);
        return -EINVAL;
    }
    tty_unlock(t, fl);
    return 0;
}

static long flush(struct tty *t, unsigned long arg)
{
    int r = job_control(t, SIGTTOU);
    if (r)
        return r;
    if (arg != TCIFLUSH && arg != TCOFLUSH && arg != TCIOFLUSH)
        return -EINVAL;
    if (arg != TCOFLUSH) {          /* output is never queued: nothing to flush there */
        uint64_t fl = tty_lock(t);
        ldisc_flush_input(&t->ld);
        tty_unlock(t, fl);
        poll_notify();
    }
    return 0;
}

static long tty_ioctl(struct file *f, unsigned long cmd, unsigned long arg)
{
    struct tty *t = file_tty(f);
    uint64_t fl;
    switch (cmd) {
    case TCGETS: {
        struct termios tio;
        fl = tty_lock(t);
        ldisc_get_termios(&t->ld, &tio);
        tty_unlock(t, fl);
        return put_user(tio, (struct termios *)arg);
    }
    case TCSETS:
    case TCSETSW:                   /* output is synchronous: it is always drained already */
    case TCSETSF:
        return set_termios(t, cmd, arg);
    case TIOCGWINSZ:
        return put_user(t->ws, (struct winsize *)arg);
    case TIOCSWINSZ:
        return set_winsize(t, arg);
    case TIOCGPGRP:
        if (!is_ctty(t))
            return -ENOTTY;
        return put_int(t->pgrp, arg);
    case TIOCSPGRP:
        return tiocspgrp(t, arg);
    case TIOCGSID:
        if (!is_ctty(t) || !t->sid)
            return -ENOTTY;
        return put_int(t->sid, arg);
    case TIOCSCTTY:
        return tiocsctty(t, arg);
    case TIOCNOTTY:
        return tiocnotty(t);
    case FIONREAD: {
        fl = tty_lock(t);
        int n = (int)ldisc_inq(&t->ld);
        tty_unlock(t, fl);
        return put_int(n, arg);
    }
    case TIOCOUTQ:
        return put_int(0, arg);     /* written bytes leave at once */
    case TCFLSH:
        return flush(t, arg);
    case TCXONC:
        return flow_control(t, arg);
    case TCSBRK:                    /* tcdrain: output is synchronous */
    case TCSBRKP:
        return job_control(t, SIGTTOU);
    default:
        return -ENOTTY;
    }
}

#define TTY_FOPS(open_fn)                                                                           \
    {                                                                                               \
        .open = open_fn, .read = tty_read, .write = tty_write, .ioctl = tty_ioctl, .poll = tty_poll \
    }
static const struct file_ops console_fops = TTY_FOPS(console_open);
static const struct file_ops ttyS0_fops = TTY_FOPS(ttyS0_open);
static const struct file_ops ctty_fops = TTY_FOPS(ctty_open);

/* ---- setup ---- */

static void tty_setup(struct tty *t, uint32_t devnum)
{
    memset(t, 0, sizeof *t);
    t->lock = (struct spinlock)SPINLOCK_INIT("tty");
    ldisc_init(&t->ld, &tty_ldisc_ops, t);
    wq_init(&t->wq);
    t->ws.ws_row = 24;
    t->ws.ws_col = 80;
    t->devnum = devnum;
}

void tty_init(void)
{
    tty_setup(&console, encode_dev(4, 64));
    if (devfs_register("console", S_IFCHR | 0600, 5, 1, &console_fops, &console) ||
        devfs_register("ttyS0", S_IFCHR | 0660, 4, 64, &ttyS0_fops, &console) ||
        devfs_register("tty", S_IFCHR | 0666, 5, 0, &ctty_fops, NULL))
        printk(LOG_ERR, "tty: cannot register the console devices\n");
    /* Bytes typed before now wait in the serial ring; take them, then take over reception. */
    uint64_t f = irq_save();
    int c;
    while ((c = serial_rx_pop()) >= 0) {
        char ch = (char)c;
        tty_receive(&console, &ch, 1);
    }
    serial_set_rx_callback(tty_serial_rx, &console);
    irq_restore(f);
}

/* ---- self-tests: a private tty, bytes injected as the serial interrupt would ---- */

static struct tty test_tty;
static char test_out[512];

static void test_tty_setup(void)
{
    tty_setup(&test_tty, 0);
    test_tty.capture = test_out;
    test_tty.capture_cap = sizeof test_out;
}

static void test_file(struct file *f, uint32_t flags)
{
    memset(f, 0, sizeof *f);
    f->ops = &console_fops;
    f->priv = &test_tty;
    f->flags = flags;
    f->refcount = 1;
}

static void test_set_raw(int vmin, int vtime)
{
    struct termios tio = test_tty.ld.termios;
    tio.c_lflag &= ~(ICANON | ECHO | ISIG);
    tio.c_cc[VMIN] = vmin;
    tio.c_cc[VTIME] = vtime;
    uint64_t fl = tty_lock(&test_tty);
    ldisc_set_termios(&test_tty.ld, &tio);
    tty_unlock(&test_tty, fl);
}

KTEST(tty_canonical_echo)
{
    struct file f;
    char buf[32];
    test_tty_setup();
    test_file(&f, O_RDWR);
    tty_receive(&test_tty, "ab\x7f", 3);
    tty_receive(&test_tty, "c\r", 2);
    long n = tty_read(&f, buf, sizeof buf, NULL);
    if (n != 3 || memcmp(buf, "ac\n", 3))
        KTEST_FAIL("read %ld", n);
    const char *echo = "ab\b \bc\r\n";
    if (test_tty.capture_len != strlen(echo) || memcmp(test_out, echo, strlen(echo)))
        KTEST_FAIL("echo of %zu bytes wrong", test_tty.capture_len);
    test_tty.capture_len = 0;
    if (tty_write(&f, "x\ny", 3, NULL) != 3 || test_tty.capture_len != 4 || memcmp(test_out, "x\r\ny", 4))
        KTEST_FAIL("write output wrong");
    tty_receive(&test_tty, "\x04", 1);
    if (tty_read(&f, buf, sizeof buf, NULL) != 0)
        KTEST_FAIL("^D on an empty line is not end of file");
    if (tty_poll(&f) != POLLOUT)
        KTEST_FAIL("poll with nothing to read: %#x", tty_poll(&f));
    tty_receive(&test_tty, "zz\x03", 3);        /* no foreground group: flushed, nobody signalled */
    if (tty_poll(&f) & POLLIN)
        KTEST_FAIL("^C did not flush");
    return true;
}

static void inject_later(void *arg)
{
    msleep(30);
    tty_receive(&test_tty, "h", 1);
    msleep(30);
    tty_receive(&test_tty, "i\r", 2);
}

KTEST(tty_blocking_read)
{
    struct file f;
    char buf[32];
    test_tty_setup();
    test_file(&f, O_RDWR);
    uint64_t t0 = clock_ns();
    if (!kthread_create("tty-inject", inject_later, NULL))
        KTEST_FAIL("no thread");
    long n = tty_read(&f, buf, sizeof buf, NULL);     /* canonical: waits for the whole line */
    uint64_t waited = clock_ns() - t0;
    if (n != 3 || memcmp(buf, "hi\n", 3))
        KTEST_FAIL("read %ld", n);
    if (waited < 50 * NSEC_PER_MSEC)
        KTEST_FAIL("returned after %lu ns, before the line ended", waited);

    test_set_raw(3, 0);                             /* VMIN=3: three bytes, one at a time */
    if (!kthread_create("tty-inject", inject_later, NULL))
        KTEST_FAIL("no thread");
    n = tty_read(&f, buf, sizeof buf, NULL);
    if (n != 3 || memcmp(buf, "hi\n", 3))
        KTEST_FAIL("raw read %ld", n);
    msleep(10);
    return true;
}

KTEST(tty_vmin_vtime)
{
    struct file f;
    char buf[8];
    test_tty_setup();
    test_file(&f, O_RDWR);
    test_set_raw(0, 0);                             /* a poll: never waits */
    if (tty_read(&f, buf, sizeof buf, NULL) != 0)
        KTEST_FAIL("VMIN=0 VTIME=0 did not return 0");
    test_set_raw(0, 2);                             /* 0.2 s for anything */
    uint64_t t0 = clock_ns();
    long n = tty_read(&f, buf, sizeof buf, NULL);
    uint64_t waited = clock_ns() - t0;
    if (n != 0 || waited < 180 * NSEC_PER_MSEC || waited > 1000 * NSEC_PER_MSEC)
        KTEST_FAIL("VTIME=2: %ld after %lu ms", n, (unsigned long)(waited / NSEC_PER_MSEC));
    tty_receive(&test_tty, "q", 1);
    if (tty_read(&f, buf, sizeof buf, NULL) != 1 || buf[0] != 'q')
        KTEST_FAIL("VTIME=2 with a byte queued");
    test_set_raw(5, 1);                             /* 0.1 s gap after the first byte */
    tty_receive(&test_tty, "ab", 2);
    t0 = clock_ns();
    n = tty_read(&f, buf, sizeof buf, NULL);
    if (n != 2 || clock_ns() - t0 < 80 * NSEC_PER_MSEC)
        KTEST_FAIL("VMIN=5 VTIME=1: %ld", n);
    test_set_raw(1, 0);
    test_file(&f, O_RDWR | O_NONBLOCK);
    if (tty_read(&f, buf, sizeof buf, NULL) != -EAGAIN)
        KTEST_FAIL("O_NONBLOCK without input");
    tty_receive(&test_tty, "x", 1);
    if (!(tty_poll(&f) & POLLIN) || tty_read(&f, buf, sizeof buf, NULL) != 1)
        KTEST_FAIL("O_NONBLOCK with input");
    return true;
}

KTEST(tty_output_stop)
{
    struct file f;
    test_tty_setup();
    test_file(&f, O_RDWR | O_NONBLOCK);
    tty_receive(&test_tty, "\x13", 1);              /* ^S */
    if (tty_write(&f, "a", 1, NULL) != -EAGAIN)
        KTEST_FAIL("write while stopped");
    tty_receive(&test_tty, "\x11", 1);              /* ^Q */
    if (tty_write(&f, "a", 1, NULL) != 1 || test_tty.capture_len != 1)
        KTEST_FAIL("write after restart");
    return true;
}
