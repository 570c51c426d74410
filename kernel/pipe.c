/*
 * kernel/pipe.c: anonymous pipes and the pipe/pipe2 system calls. A pipe is an inode (S_IFIFO, on
 * its own "pipefs" instance) with a 64 KiB ring and two open files, the read end and the write end.
 * Readers take whatever is there (or wait, or see end of file once every write end is closed);
 * writers of at most PIPE_BUF bytes put them in all at once, bigger writes as space frees; a write
 * with no read end left gets EPIPE and SIGPIPE. Every change of state wakes the other side and
 * pollers (poll_notify). The ring lives in whole pages straight from the page allocator.
 */
#include "kernel/pipe.h"
#include "kernel/errno.h"
#include "kernel/format.h"
#include "kernel/kmalloc.h"
#include "kernel/ktest.h"
#include "kernel/mm.h"
#include "kernel/pmm.h"
#include "kernel/printk.h"
#include "kernel/proc.h"
#include "kernel/sched.h"
#include "kernel/signal.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "kernel/syscall.h"
#include "kernel/uaccess.h"
#include "kernel/vfs.h"

#define FIONREAD 0x541B
#define PIPE_ORDER 4                /* 16 pages = PIPE_SIZE */

struct pipe {
    struct spinlock lock;
    char *buf;
    uint32_t head, tail;            /* run free; head - tail bytes are queued */
    int readers, writers;           /* open read ends and write ends */
    struct waitqueue rwait, wwait;
};

static uint32_t pipe_dev;

static uint32_t queued(const struct pipe *p) { return p->head - p->tail; }
static uint32_t space(const struct pipe *p) { return PIPE_SIZE - queued(p); }
static bool is_reader(const struct file *f) { return (f->flags & O_ACCMODE) == O_RDONLY; }

/* Ring copies: at most two memcpy each (before and after the wrap). */
static void ring_put(struct pipe *p, const char *src, size_t n)
{
    uint32_t at = p->head % PIPE_SIZE;
    size_t first = PIPE_SIZE - at < n ? PIPE_SIZE - at : n;
    memcpy(p->buf + at, src, first);
    memcpy(p->buf, src + first, n - first);
    p->head += n;
}

static void ring_take(struct pipe *p, char *dst, size_t n)
{
    uint32_t at = p->tail % PIPE_SIZE;
    size_t first = PIPE_SIZE - at < n ? PIPE_SIZE - at : n;
    memcpy(dst, p->buf + at, first);
    memcpy(dst + first, p->buf, n - first);
    p->tail += n;
}

static long pipe_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    struct pipe *p = f->priv;
    if (n == 0)
        return 0;
    for (;;) {
        uint64_t fl = spin_lock_irqsave(&p->lock);
        size_t k = queued(p) < n ? queued(p) : n;
        ring_take(p, buf, k);
        bool eof = p->writers == 0;
        spin_unlock_irqrestore(&p->lock, fl);
        if (k) {
            wake_up(&p->wwait);
            poll_notify();
            return k;
        }
        if (eof)
            return 0;
        if (f->flags & O_NONBLOCK)
            return -EAGAIN;
        if (wait_event_interruptible(p->rwait, queued(p) || p->writers == 0))
            return -EINTR;
    }
}

static long pipe_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    struct pipe *p = f->priv;
    bool atomic = n <= PIPE_BUF;
    size_t done = 0;
    if (n == 0)
        return 0;
    for (;;) {
        uint64_t fl = spin_lock_irqsave(&p->lock);
        if (!p->readers) {
            spin_unlock_irqrestore(&p->lock, fl);
            if (current_proc())
                signal_send(current_proc(), SIGPIPE);
            return done ? (long)done : -EPIPE;
        }
        size_t want = n - done, k = 0;
        if (space(p) >= want || (!atomic && space(p) > 0)) {
            k = space(p) < want ? space(p) : want;
            ring_put(p, (const char *)buf + done, k);
            done += k;
        }
        spin_unlock_irqrestore(&p->lock, fl);
        if (k) {
            wake_up(&p->rwait);
            poll_notify();
        }
        if (done == n)
            return n;
        if (f->flags & O_NONBLOCK)
            return done ? (long)done : -EAGAIN;
        /* Wait for room worth waking for: the whole atomic write, or a PIPE_BUF piece. */
        size_t need = atomic ? n : (n - done < PIPE_BUF ? n - done : PIPE_BUF);
        if (wait_event_interruptible(p->wwait, space(p) >= need || p->readers == 0))
            return done ? (long)done : -EINTR;
    }
}

static unsigned pipe_poll(struct file *f)
{
    struct pipe *p = f->priv;
    unsigned mask = 0;
    uint64_t fl = spin_lock_irqsave(&p->lock);
    if (is_reader(f)) {
        if (queued(p))
            mask |= POLLIN;
        if (!p->writers)
            mask |= POLLHUP;
    } else {
        if (space(p) >= PIPE_BUF)
            mask |= POLLOUT;
        if (!p->readers)
            mask |= POLLERR;
    }
    spin_unlock_irqrestore(&p->lock, fl);
    return mask;
}

static long pipe_ioctl(struct file *f, unsigned long cmd, unsigned long arg)
{
    struct pipe *p = f->priv;
    if (cmd != FIONREAD)
        return -ENOTTY;
    int n = (int)queued(p);
    return put_user(n, (int *)arg);
}

static void pipe_release(struct file *f)
{
    struct pipe *p = f->priv;
    uint64_t fl = spin_lock_irqsave(&p->lock);
    if (is_reader(f))
        p->readers--;
    else
        p->writers--;
    spin_unlock_irqrestore(&p->lock, fl);
    wake_up(&p->rwait);
    wake_up(&p->wwait);
    poll_notify();
}

/* The inode goes after both ends are closed. */
static void pipe_evict(struct inode *ino)
{
    struct pipe *p = ino->priv;
    if (!p)
        return;
    pmm_free_pages(V2P(p->buf), PIPE_ORDER);
    kfree(p);
    ino->priv = NULL;
}

static const struct file_ops pipe_fops = {
    .read = pipe_read, .write = pipe_write, .ioctl = pipe_ioctl, .poll = pipe_poll, .release = pipe_release,
};
static const struct inode_ops pipe_iops = { .evict = pipe_evict };

static struct file *open_end(struct inode *ino, uint32_t flags)
{
    struct file *f = file_open_inode(ino, flags);
    if (f)
        ksnprintf(f->path, sizeof f->path, "pipe:[%lu]", ino->ino);
    return f;
}

int pipe_create(struct file **rd, struct file **wr)
{
    uint64_t fl = irq_save();
    if (!pipe_dev)
        pipe_dev = vfs_alloc_dev("pipefs");
    irq_restore(fl);

    struct pipe *p = kzalloc(sizeof *p);
    uint64_t pa = p ? pmm_alloc_pages(PIPE_ORDER) : 0;
    if (!pa) {
        kfree(p);
        return -ENOMEM;
    }
    p->lock = (struct spinlock)SPINLOCK_INIT("pipe");
    p->buf = P2V(pa);
    wq_init(&p->rwait);
    wq_init(&p->wwait);
    p->readers = p->writers = 1;

    struct inode *ino = inode_alloc(pipe_dev, S_IFIFO | 0600);
    if (!ino) {
        pmm_free_pages(pa, PIPE_ORDER);
        kfree(p);
        return -ENOMEM;
    }
    ino->iops = &pipe_iops;
    ino->fops = &pipe_fops;
    ino->priv = p;
    struct process *me = current_proc();
    if (me) {
        ino->uid = me->euid;
        ino->gid = me->egid;
    }
    *rd = open_end(ino, O_RDONLY);
    *wr = *rd ? open_end(ino, O_WRONLY) : NULL;
    if (!*wr) {
        /* Never opened as a pipe: no release, the inode's last put frees everything. */
        if (*rd) {
            (*rd)->ops = NULL;
            file_put(*rd);
        }
        inode_put(ino);
        return -ENOMEM;
    }
    inode_put(ino);                 /* the two files hold it now */
    return 0;
}

static long do_pipe2(int *ufds, long flags)
{
    if (flags & ~(long)(O_CLOEXEC | O_NONBLOCK))
        return -EINVAL;             /* O_DIRECT (packet mode) is not supported */
    struct fdtable *t = current_proc()->files;
    struct file *rd, *wr;
    int r = pipe_create(&rd, &wr);
    if (r)
        return r;
    if (flags & O_NONBLOCK) {
        rd->flags |= O_NONBLOCK;
        wr->flags |= O_NONBLOCK;
    }
    bool cloexec = flags & O_CLOEXEC;
    int fds[2];
    fds[0] = fd_install(t, rd, 0, cloexec);
    if (fds[0] < 0) {
        file_put(rd);
        file_put(wr);
        return fds[0];
    }
    fds[1] = fd_install(t, wr, 0, cloexec);
    if (fds[1] < 0) {
        fd_close(t, fds[0]);
        file_put(wr);
        return fds[1];
    }
    if (copy_to_user(ufds, fds, sizeof fds)) {
        fd_close(t, fds[0]);
        fd_close(t, fds[1]);
        return -EFAULT;
    }
    return 0;
}

SYSCALL(NR_pipe, pipe) { return do_pipe2((int *)a0, 0); }
SYSCALL(NR_pipe2, pipe2) { return do_pipe2((int *)a0, a1); }

/* ---- self-tests: two kernel threads and the file operations ---- */

#define TEST_BYTES (1 << 20)

struct pipe_test {
    struct file *f;
    uint32_t sum;                   /* Adler-style running checksum of the bytes */
    size_t bytes;
    long error;
    bool done;
    struct waitqueue wq;
};

static uint32_t checksum(uint32_t sum, const uint8_t *b, size_t n)
{
    uint32_t a = sum & 0xffff, s = sum >> 16;
    for (size_t i = 0; i < n; i++) {
        a = (a + b[i]) % 65521;
        s = (s + a) % 65521;
    }
    return s << 16 | a;
}

static void finish(struct pipe_test *t)
{
    file_put(t->f);                 /* closing the end is part of the test */
    t->done = true;
    wake_up(&t->wq);
}

/* Writes TEST_BYTES in uneven pieces (some bigger than the ring, some atomic), then closes. */
static void test_writer(void *arg)
{
    struct pipe_test *t = arg;
    static uint8_t chunk[100000];
    uint32_t x = 12345;
    t->sum = 1;
    while (t->bytes < TEST_BYTES) {
        x = x * 1103515245 + 12345;
        size_t n = (x >> 8) % sizeof chunk + 1;
        if (n > TEST_BYTES - t->bytes)
            n = TEST_BYTES - t->bytes;
        for (size_t i = 0; i < n; i++)
            chunk[i] = (uint8_t)((t->bytes + i) * 7 + (i >> 3));
        long r = pipe_write(t->f, chunk, n, NULL);
        if (r != (long)n) {
            t->error = r;
            break;
        }
        t->sum = checksum(t->sum, chunk, n);
        t->bytes += n;
    }
    finish(t);
}

static void test_reader(void *arg)
{
    struct pipe_test *t = arg;
    static uint8_t buf[7000];
    t->sum = 1;
    for (;;) {
        long r = pipe_read(t->f, buf, sizeof buf, NULL);
        if (r <= 0) {
            t->error = r;           /* 0: end of file, as expected */
            break;
        }
        t->sum = checksum(t->sum, buf, r);
        t->bytes += r;
    }
    finish(t);
}

KTEST(pipe_1mib_two_threads)
{
    static struct pipe_test w, r;
    struct file *rd, *wr;
    if (pipe_create(&rd, &wr))
        KTEST_FAIL("pipe_create");
    memset(&w, 0, sizeof w);
    memset(&r, 0, sizeof r);
    wq_init(&w.wq);
    wq_init(&r.wq);
    w.f = wr;
    r.f = rd;
    uint64_t t0 = clock_ns();
    if (!kthread_create("pipe-reader", test_reader, &r) || !kthread_create("pipe-writer", test_writer, &w))
        KTEST_FAIL("no threads");
    wait_event(w.wq, w.done);
    wait_event(r.wq, r.done);
    unsigned long ms = (clock_ns() - t0) / NSEC_PER_MSEC;
    if (w.error || r.error)
        KTEST_FAIL("writer %ld, reader %ld", w.error, r.error);
    if (w.bytes != TEST_BYTES || r.bytes != TEST_BYTES || w.sum != r.sum)
        KTEST_FAIL("wrote %zu (sum %#x), read %zu (sum %#x)", w.bytes, w.sum, r.bytes, r.sum);
    printk(LOG_INFO, "pipe: 1 MiB between two threads in %lu ms\n", ms);
    return true;
}

KTEST(pipe_eof_epipe_nonblock)
{
    struct file *rd, *wr;
    char buf[PIPE_BUF + 1];
    if (pipe_create(&rd, &wr))
        KTEST_FAIL("pipe_create");
    if (!S_ISFIFO(rd->inode->mode) || rd->inode != wr->inode)
        KTEST_FAIL("not a fifo inode");
    rd->flags |= O_NONBLOCK;
    wr->flags |= O_NONBLOCK;
    if (pipe_read(rd, buf, 10, NULL) != -EAGAIN)
        KTEST_FAIL("empty non-blocking read");
    if (pipe_poll(rd) != 0 || pipe_poll(wr) != POLLOUT)
        KTEST_FAIL("poll empty: %#x %#x", pipe_poll(rd), pipe_poll(wr));
    if (pipe_write(wr, "hello", 5, NULL) != 5 || pipe_poll(rd) != POLLIN)
        KTEST_FAIL("write 5");
    /* Fill to one byte short of full: an atomic write that does not fit is refused whole... */
    memset(buf, 'x', sizeof buf);
    size_t filled = 5;
    while (filled + PIPE_BUF < PIPE_SIZE) {
        if (pipe_write(wr, buf, PIPE_BUF, NULL) != PIPE_BUF)
            KTEST_FAIL("fill");
        filled += PIPE_BUF;
    }
    long n = pipe_write(wr, buf, PIPE_SIZE - filled - 1, NULL);
    filled += n;
    if (filled != PIPE_SIZE - 1 || pipe_write(wr, buf, 2, NULL) != -EAGAIN)
        KTEST_FAIL("atomic write into a nearly full pipe");
    if (pipe_poll(wr) & POLLOUT)
        KTEST_FAIL("POLLOUT while full");
    /* ...a bigger one takes what fits. */
    if (pipe_write(wr, buf, PIPE_BUF + 1, NULL) != 1)
        KTEST_FAIL("partial non-atomic write");
    if (pipe_read(rd, buf, 5, NULL) != 5 || memcmp(buf, "hello", 5))
        KTEST_FAIL("read back");
    file_put(wr);
    if (!(pipe_poll(rd) & POLLHUP))
        KTEST_FAIL("no POLLHUP without writers");
    size_t drained = 0;
    while ((n = pipe_read(rd, buf, sizeof buf, NULL)) > 0)
        drained += n;
    if (n != 0 || drained != PIPE_SIZE - 5)
        KTEST_FAIL("drain: %zu then %ld (not end of file)", drained, n);
    file_put(rd);

    if (pipe_create(&rd, &wr))
        KTEST_FAIL("pipe_create 2");
    file_put(rd);
    if (pipe_write(wr, "x", 1, NULL) != -EPIPE)
        KTEST_FAIL("no EPIPE without readers");
    if (!(pipe_poll(wr) & POLLERR))
        KTEST_FAIL("no POLLERR without readers");
    file_put(wr);
    return true;
}

static void close_later(void *arg)
{
    msleep(20);
    file_put(arg);
}

KTEST(pipe_blocked_reader_sees_eof)
{
    struct file *rd, *wr;
    char c;
    if (pipe_create(&rd, &wr))
        KTEST_FAIL("pipe_create");
    if (!kthread_create("pipe-close", close_later, wr))
        KTEST_FAIL("no thread");
    long n = pipe_read(rd, &c, 1, NULL);
    file_put(rd);
    if (n != 0)
        KTEST_FAIL("read %ld", n);
    return true;
}
