/*
 * kernel/fs_syscalls.c: the file system calls (Linux x86-64 semantics). This layer only turns
 * user arguments into kernel ones: it copies paths in, resolves descriptors and *at() directories,
 * moves data through bounded kernel buffers (at most 64 KiB at a time, so a large read or write
 * costs no more memory than a small one), and copies results out; the semantics live in
 * kernel/vfs.c. Every user pointer goes through kernel/uaccess.h, so a bad one gives -EFAULT.
 */
#include "kernel/errno.h"
#include "kernel/kmalloc.h"
#include "kernel/mm.h"
#include "kernel/pmm.h"
#include "kernel/proc.h"
#include "kernel/string.h"
#include "kernel/syscall.h"
#include "kernel/uaccess.h"
#include "kernel/vfs.h"

#define IO_CHUNK 65536                  /* the largest kernel buffer one call uses */
#define MAX_RW_COUNT 0x7ffff000ul       /* Linux caps one transfer at this */
#define IOV_MAX 1024
#define SMALL_BUF 2048

static struct fdtable *files(void) { return current_proc()->files; }
static struct fs_context *fsctx(void) { return current_proc()->fs; }

/* ---- Arguments ----------------------------------------------------------------------------- */

/* Copies a user path into a new kernel buffer (kfree it). Empty paths are ENOENT unless allowed. */
static long get_path(long upath, char **out, bool allow_empty)
{
    char *buf = kmalloc(PATH_MAX);
    if (!buf)
        return -ENOMEM;
    long n = strncpy_from_user(buf, (const char *)upath, PATH_MAX);
    if (n == 0 && !allow_empty)
        n = -ENOENT;
    if (n < 0) {
        kfree(buf);
        return n;
    }
    *out = buf;
    return 0;
}

/* Where an *at() call starts: NULL (the cwd) for AT_FDCWD and absolute paths, else dirfd's directory. */
struct at_start {
    struct file *file;
    struct inode *dir;
    const char *dir_path;
};

static long get_start(long dirfd, const char *path, struct at_start *s)
{
    s->file = NULL;
    s->dir = NULL;
    s->dir_path = NULL;
    if (path[0] == '/' || (int)dirfd == AT_FDCWD)
        return 0;
    struct file *f = fd_get(files(), (int)dirfd);
    if (!f)
        return -EBADF;
    if (!S_ISDIR(f->inode->mode)) {
        file_put(f);
        return -ENOTDIR;
    }
    s->file = f;
    s->dir = f->inode;
    s->dir_path = f->abs_path;
    return 0;
}

static void put_start(struct at_start *s) { file_put(s->file); }

/* The inode an *at() call names: path from dirfd, or with AT_EMPTY_PATH and "" dirfd itself. */
static long resolve_at(long dirfd, long upath, int flags, bool follow, struct inode **out)
{
    char *path;
    long r = get_path(upath, &path, flags & AT_EMPTY_PATH);
    if (r < 0)
        return r;
    if (!path[0]) {
        if ((int)dirfd == AT_FDCWD) {
            *out = fsctx()->cwd;
            inode_get(*out);
        } else {
            struct file *f = fd_get(files(), (int)dirfd);
            if (f) {
                *out = f->inode;
                inode_get(*out);
                file_put(f);
            } else {
                r = -EBADF;
            }
        }
    } else {
        struct at_start s;
        if ((r = get_start(dirfd, path, &s)) == 0) {
            r = vfs_lookup(fsctx(), s.dir, path, follow, out);
            put_start(&s);
        }
    }
    kfree(path);
    return r;
}

/* ---- Kernel bounce buffers ----------------------------------------------------------------- */

struct iobuf {
    void *p;
    size_t size;
    int order;                      /* page order, or -1 for a small kmalloc */
};

static bool iobuf_get(struct iobuf *b, size_t want)
{
    if (want == 0)
        want = 1;
    if (want <= SMALL_BUF) {
        b->order = -1;
        b->size = want;
        b->p = kmalloc(want);
        return b->p != NULL;
    }
    int order = 0;
    while ((PAGE_SIZE << order) < want && (PAGE_SIZE << order) < IO_CHUNK)
        order++;
    for (; order >= 0; order--) {
        uint64_t pa = pmm_alloc_pages(order);
        if (pa) {
            b->order = order;
            b->size = PAGE_SIZE << order;
            b->p = P2V(pa);
            return true;
        }
    }
    return false;
}

static void iobuf_put(struct iobuf *b)
{
    if (b->order < 0)
        kfree(b->p);
    else
        pmm_free_pages(V2P(b->p), b->order);
}

/* ---- Data transfer through an iovec -------------------------------------------------------- */

struct uiovec {
    uint64_t base, len;
};

/* A position inside a list of user segments. */
struct cursor {
    const struct uiovec *iov;
    int cnt, i;
    uint64_t in;                    /* offset inside iov[i] */
};

/* Copies n bytes between kbuf and the user segments at the cursor, advancing it.
 * Returns the bytes copied (less than n only on a bad pointer: then -EFAULT if none). */
static long cursor_copy(struct cursor *c, void *kbuf, size_t n, bool to_user)
{
    size_t done = 0;
    while (done < n && c->i < c->cnt) {
        const struct uiovec *v = &c->iov[c->i];
        size_t k = v->len - c->in < n - done ? v->len - c->in : n - done;
        if (k) {
            void *u = (void *)(v->base + c->in);
            long r = to_user ? copy_to_user(u, (char *)kbuf + done, k) : copy_from_user((char *)kbuf + done, u, k);
            if (r < 0)
                return done ? (long)done : -EFAULT;
            done += k;
            c->in += k;
        }
        if (c->in == v->len) {
            c->i++;
            c->in = 0;
        }
    }
    return (long)done;
}

/* After a full chunk from a file that is not regular: may the read go on without blocking?
 * Devices without a poll operation never block (/dev/zero); the others say so through poll. */
static bool more_to_read(struct file *f)
{
    return !f->ops->poll || (f->ops->poll(f) & POLLIN);
}

/*
 * Reads or writes the segments, at *off (pread/pwrite: f->pos untouched) or at f->pos, one
 * bounded chunk at a time. A read from a pipe or terminal goes on past a chunk only while more
 * data is ready, so it never blocks once some data came, however many segments were given.
 */
static long rw_iov(struct file *f, const struct uiovec *iov, int cnt, bool write, const uint64_t *off)
{
    size_t total = 0;
    for (int i = 0; i < cnt; i++) {
        if ((int64_t)iov[i].len < 0)
            return -EINVAL;
        if (!user_range_ok(iov[i].base, iov[i].len))
            return -EFAULT;
        total += iov[i].len < MAX_RW_COUNT - total ? iov[i].len : MAX_RW_COUNT - total;
    }
    struct iobuf b;
    if (!iobuf_get(&b, total < IO_CHUNK ? total : IO_CHUNK))
        return -ENOMEM;
    struct cursor cur = { iov, cnt, 0, 0 };
    bool regular = S_ISREG(f->inode->mode);
    size_t done = 0;
    long r = 0;
    do {
        size_t c = total - done < b.size ? total - done : b.size;
        if (write) {
            long got = cursor_copy(&cur, b.p, c, false);
            if (got < 0) {
                r = got;
                break;
            }
            c = (size_t)got;
            r = off ? vfs_pwrite(f, b.p, c, *off + done) : vfs_write(f, b.p, c);
        } else {
            r = off ? vfs_pread(f, b.p, c, *off + done) : vfs_read(f, b.p, c);
            if (r > 0) {
                long put = cursor_copy(&cur, b.p, (size_t)r, true);
                if (put < r) {      /* a bad pointer past the first bytes */
                    if (put > 0)
                        done += (size_t)put;
                    r = -EFAULT;
                    break;
                }
            }
        }
        if (r < 0)
            break;
        done += r;
        if ((size_t)r < c || (!write && !regular && !more_to_read(f)))
            break;
    } while (done < total);
    iobuf_put(&b);
    return done ? (long)done : r;
}

static long rw_one(long fd, long ubuf, long n, bool write, const uint64_t *off)
{
    struct file *f = fd_get(files(), (int)fd);
    if (!f)
        return -EBADF;
    struct uiovec v = { (uint64_t)ubuf, (uint64_t)n };
    long r = rw_iov(f, &v, 1, write, off);
    file_put(f);
    return r;
}

static long rw_vec(long fd, long uiov, long cnt, bool write, const uint64_t *off)
{
    if (cnt < 0 || cnt > IOV_MAX)
        return -EINVAL;
    struct file *f = fd_get(files(), (int)fd);
    if (!f)
        return -EBADF;
    struct uiovec *iov = kmalloc(cnt ? cnt * sizeof *iov : 1);
    long r = iov ? copy_from_user(iov, (const void *)uiov, cnt * sizeof *iov) : -ENOMEM;
    if (r == 0)
        r = rw_iov(f, iov, (int)cnt, write, off);
    kfree(iov);
    file_put(f);
    return r;
}

SYSCALL(NR_read, read) { return rw_one(a0, a1, a2, false, NULL); }
SYSCALL(NR_write, write) { return rw_one(a0, a1, a2, true, NULL); }
SYSCALL(NR_readv, readv) { return rw_vec(a0, a1, a2, false, NULL); }
SYSCALL(NR_writev, writev) { return rw_vec(a0, a1, a2, true, NULL); }

SYSCALL(NR_pread64, pread64)
{
    if (a3 < 0)
        return -EINVAL;
    uint64_t off = (uint64_t)a3;
    return rw_one(a0, a1, a2, false, &off);
}

SYSCALL(NR_pwrite64, pwrite64)
{
    if (a3 < 0)
        return -EINVAL;
    uint64_t off = (uint64_t)a3;
    return rw_one(a0, a1, a2, true, &off);
}

SYSCALL(NR_preadv, preadv)
{
    if (a3 < 0)
        return -EINVAL;
    uint64_t off = (uint64_t)a3;
    return rw_vec(a0, a1, a2, false, &off);
}

SYSCALL(NR_pwritev, pwritev)
{
    if (a3 < 0)
        return -EINVAL;
    uint64_t off = (uint64_t)a3;
    return rw_vec(a0, a1, a2, true, &off);
}

/* sendfile from a regular file (what busybox cat tries first; it falls back on EINVAL). */
SYSCALL(NR_sendfile, sendfile)
{
    struct file *out = fd_get(files(), (int)a0), *in = fd_get(files(), (int)a1);
    uint64_t off = 0, *offp = NULL;
    long r = 0;
    size_t count = (size_t)a3 < MAX_RW_COUNT ? (size_t)a3 : MAX_RW_COUNT, done = 0;
    struct iobuf b = { 0 };
    if (!out || !in)
        r = -EBADF;
    else if (!S_ISREG(in->inode->mode) || (in->flags & O_ACCMODE) == O_WRONLY || (out->flags & O_APPEND))
        r = -EINVAL;
    else if (a2 && (r = get_user(off, (uint64_t *)a2)) == 0) {
        if ((int64_t)off < 0)
            r = -EINVAL;
        offp = &off;
    }
    if (r == 0 && count && !iobuf_get(&b, count < IO_CHUNK ? count : IO_CHUNK))
        r = -ENOMEM;
    while (r == 0 && done < count) {
        size_t c = count - done < b.size ? count - done : b.size;
        long n = offp ? vfs_pread(in, b.p, c, *offp) : vfs_read(in, b.p, c);
        if (n <= 0) {
            r = n;
            break;
        }
        long w = vfs_write(out, b.p, (size_t)n);
        if (w < 0) {
            r = w;
            /* what was read but not written goes back, as if never read */
            if (!offp)
                in->pos -= n;
            break;
        }
        if (offp)
            *offp += w;
        else if (w < n)
            in->pos -= n - w;
        done += w;
        if (w < n || (size_t)n < c)
            break;
    }
    if (b.p)
        iobuf_put(&b);
    if (offp && (done || r == 0) && put_user(off, (uint64_t *)a2) < 0 && !done)
        r = -EFAULT;
    file_put(out);
    file_put(in);
    return done ? (long)done : r;
}

SYSCALL(NR_lseek, lseek)
{
    struct file *f = fd_get(files(), (int)a0);
    if (!f)
        return -EBADF;
    int64_t r = vfs_llseek(f, a1, (int)a2);
    file_put(f);
    return r;
}

/* ---- Opening and closing ------------------------------------------------------------------- */

static long do_openat(long dirfd, long upath, long flags, long mode)
{
    char *path;
    long r = get_path(upath, &path, false);
    if (r < 0)
        return r;
    struct at_start s;
    struct file *f = NULL;
    if ((r = get_start(dirfd, path, &s)) == 0) {
        r = vfs_open_path(fsctx(), s.dir, s.dir_path, path, (uint32_t)flags, (uint32_t)mode, &f);
        put_start(&s);
    }
    kfree(path);
    if (r < 0)
        return r;
    int fd = fd_install(files(), f, 0, flags & O_CLOEXEC);
    if (fd < 0)
        file_put(f);
    return fd;
}

SYSCALL(NR_open, open) { return do_openat(AT_FDCWD, a0, a1, a2); }
SYSCALL(NR_openat, openat) { return do_openat(a0, a1, a2, a3); }
SYSCALL(NR_creat, creat) { return do_openat(AT_FDCWD, a0, O_CREAT | O_WRONLY | O_TRUNC, a1); }
SYSCALL(NR_close, close) { return fd_close(files(), (int)a0); }

SYSCALL(NR_dup, dup) { return fd_dup(files(), (int)a0, 0, false); }

SYSCALL(NR_dup2, dup2)
{
    if (a0 == a1) {
        struct file *f = fd_get(files(), (int)a0);
        file_put(f);
        return f ? a1 : -EBADF;
    }
    return fd_dup2(files(), (int)a0, (int)a1, false);
}

SYSCALL(NR_dup3, dup3)
{
    if (a2 & ~(long)O_CLOEXEC)
        return -EINVAL;
    if (a0 == a1)
        return -EINVAL;
    return fd_dup2(files(), (int)a0, (int)a1, a2 & O_CLOEXEC);
}

#define SETFL_MASK (O_APPEND | O_NONBLOCK)

SYSCALL(NR_fcntl, fcntl)
{
    int fd = (int)a0;
    struct file *f = fd_get(files(), fd);
    if (!f)
        return -EBADF;
    long r;
    switch ((int)a1) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
        r = a2 < 0 || a2 >= FD_MAX ? -EINVAL : fd_dup(files(), fd, (int)a2, (int)a1 == F_DUPFD_CLOEXEC);
        break;
    case F_GETFD:
        r = fd_get_cloexec(files(), fd) > 0 ? FD_CLOEXEC : 0;
        break;
    case F_SETFD:
        r = fd_set_cloexec(files(), fd, a2 & FD_CLOEXEC);
        break;
    case F_GETFL:
        r = (f->flags & ~(uint32_t)(O_NOCTTY | O_NOFOLLOW | O_DIRECTORY)) | O_LARGEFILE;
        break;
    case F_SETFL:
        f->flags = (f->flags & ~(uint32_t)SETFL_MASK) | ((uint32_t)a2 & SETFL_MASK);
        r = 0;
        break;
    default:
        r = -EINVAL;                /* locks, owners, leases: not supported */
        break;
    }
    file_put(f);
    return r;
}

#define FIONREAD 0x541b
#define FIONBIO 0x5421
#define FIONCLEX 0x5450
#define FIOCLEX 0x5451

SYSCALL(NR_ioctl, ioctl)
{
    int fd = (int)a0;
    unsigned long cmd = (unsigned long)a1 & 0xffffffffu;
    struct file *f = fd_get(files(), fd);
    if (!f)
        return -EBADF;
    long r;
    if (f->flags & O_PATH) {
        r = -EBADF;
    } else if (cmd == FIOCLEX || cmd == FIONCLEX) {
        r = fd_set_cloexec(files(), fd, cmd == FIOCLEX);
    } else if (cmd == FIONBIO) {
        int on;
        if ((r = get_user(on, (int *)a2)) == 0) {
            if (on)
                f->flags |= O_NONBLOCK;
            else
                f->flags &= ~(uint32_t)O_NONBLOCK;
        }
    } else if (cmd == FIONREAD && S_ISREG(f->inode->mode)) {
        uint64_t size = f->inode->size;
        int avail = size > f->pos ? (size - f->pos > 0x7fffffff ? 0x7fffffff : (int)(size - f->pos)) : 0;
        r = put_user(avail, (int *)a2);
    } else if (f->ops->ioctl) {
        r = f->ops->ioctl(f, cmd, (unsigned long)a2);
    } else {
        r = -ENOTTY;
    }
    file_put(f);
    return r;
}

/* ---- Status -------------------------------------------------------------------------------- */


static void fill_stat(struct inode *ino, struct linux_stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_dev = MKDEV(0, ino->dev);
    st->st_ino = ino->ino;
    st->st_nlink = ino->nlink;
    st->st_mode = ino->mode;
    st->st_uid = ino->uid;
    st->st_gid = ino->gid;
    st->st_rdev = ino->rdev;
    st->st_size = (int64_t)ino->size;
    st->st_blksize = PAGE_SIZE;
    st->st_blocks = S_ISREG(ino->mode) ? (int64_t)((ino->size + PAGE_SIZE - 1) / PAGE_SIZE * (PAGE_SIZE / 512)) : 0;
    st->st_atime = (int64_t)(ino->atime_ns / NSEC_PER_SEC);
    st->st_atime_nsec = (int64_t)(ino->atime_ns % NSEC_PER_SEC);
    st->st_mtime = (int64_t)(ino->mtime_ns / NSEC_PER_SEC);
    st->st_mtime_nsec = (int64_t)(ino->mtime_ns % NSEC_PER_SEC);
    st->st_ctime = (int64_t)(ino->ctime_ns / NSEC_PER_SEC);
    st->st_ctime_nsec = (int64_t)(ino->ctime_ns % NSEC_PER_SEC);
}

static long put_stat(struct inode *ino, long ubuf)
{
    struct linux_stat st;
    fill_stat(ino, &st);
    return copy_to_user((void *)ubuf, &st, sizeof st);
}

static long stat_at(long dirfd, long upath, long ubuf, int flags)
{
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT))
        return -EINVAL;
    struct inode *ino;
    long r = resolve_at(dirfd, upath, flags, !(flags & AT_SYMLINK_NOFOLLOW), &ino);
    if (r < 0)
        return r;
    r = put_stat(ino, ubuf);
    inode_put(ino);
    return r;
}

SYSCALL(NR_stat, stat) { return stat_at(AT_FDCWD, a0, a1, 0); }
SYSCALL(NR_lstat, lstat) { return stat_at(AT_FDCWD, a0, a1, AT_SYMLINK_NOFOLLOW); }
SYSCALL(NR_newfstatat, newfstatat) { return stat_at(a0, a1, a2, (int)a3); }

SYSCALL(NR_fstat, fstat)
{
    struct file *f = fd_get(files(), (int)a0);
    if (!f)
        return -EBADF;
    long r = put_stat(f->inode, a1);
    file_put(f);
    return r;
}

struct statx_timestamp {
    int64_t tv_sec;
    uint32_t tv_nsec;
    int32_t reserved;
};

struct linux_statx {
    uint32_t stx_mask, stx_blksize;
    uint64_t stx_attributes;
    uint32_t stx_nlink, stx_uid, stx_gid;
    uint16_t stx_mode, spare0;
    uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
    struct statx_timestamp stx_atime, stx_btime, stx_ctime, stx_mtime;
    uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
    uint64_t stx_mnt_id;
    uint32_t stx_dio_mem_align, stx_dio_offset_align;
    uint64_t spare3[12];
};
_Static_assert(sizeof(struct linux_statx) == 256, "struct statx is 256 bytes");

#define STATX_BASIC_STATS 0x7ffu

static struct statx_timestamp stx_time(uint64_t ns)
{
    return (struct statx_timestamp){ (int64_t)(ns / NSEC_PER_SEC), (uint32_t)(ns % NSEC_PER_SEC), 0 };
}

SYSCALL(NR_statx, statx)
{
    int flags = (int)a2;
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE))
        return -EINVAL;
    if ((flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE)
        return -EINVAL;
    struct inode *ino;
    long r;
    if (a1 == 0 && (flags & AT_EMPTY_PATH)) {       /* Linux 6.11: NULL means "" */
        struct file *f = (int)a0 == AT_FDCWD ? NULL : fd_get(files(), (int)a0);
        if ((int)a0 != AT_FDCWD && !f)
            return -EBADF;
        ino = f ? f->inode : fsctx()->cwd;
        inode_get(ino);
        file_put(f);
    } else if ((r = resolve_at(a0, a1, flags, !(flags & AT_SYMLINK_NOFOLLOW), &ino)) < 0) {
        return r;
    }
    struct linux_statx sx;
    memset(&sx, 0, sizeof sx);
    struct linux_stat st;
    fill_stat(ino, &st);
    sx.stx_mask = STATX_BASIC_STATS;
    sx.stx_blksize = (uint32_t)st.st_blksize;
    sx.stx_nlink = ino->nlink;
    sx.stx_uid = ino->uid;
    sx.stx_gid = ino->gid;
    sx.stx_mode = (uint16_t)ino->mode;
    sx.stx_ino = ino->ino;
    sx.stx_size = ino->size;
    sx.stx_blocks = (uint64_t)st.st_blocks;
    sx.stx_atime = stx_time(ino->atime_ns);
    sx.stx_ctime = stx_time(ino->ctime_ns);
    sx.stx_mtime = stx_time(ino->mtime_ns);
    sx.stx_rdev_major = DEV_MAJOR(ino->rdev);
    sx.stx_rdev_minor = DEV_MINOR(ino->rdev);
    sx.stx_dev_major = 0;
    sx.stx_dev_minor = ino->dev;
    inode_put(ino);
    return copy_to_user((void *)a4, &sx, sizeof sx);
}

struct linux_statfs {
    int64_t f_type, f_bsize;
    uint64_t f_blocks, f_bfree, f_bavail, f_files, f_ffree;
    int32_t f_fsid[2];
    int64_t f_namelen, f_frsize, f_flags, f_spare[4];
};
_Static_assert(sizeof(struct linux_statfs) == 120, "struct statfs is 120 bytes on x86-64");

static long put_statfs(struct inode *ino, long ubuf)
{
    struct linux_statfs s;
    memset(&s, 0, sizeof s);
    s.f_type = (int64_t)vfs_fs_magic(ino->dev);
    s.f_bsize = PAGE_SIZE;
    s.f_frsize = PAGE_SIZE;
    s.f_namelen = NAME_MAX;
    s.f_fsid[0] = (int32_t)ino->dev;
    if (s.f_type != 0x9fa0) {       /* memory-backed: free memory is the free space */
        s.f_blocks = pmm_total_count();
        s.f_bfree = s.f_bavail = pmm_free_count();
        s.f_files = pmm_total_count();
        s.f_ffree = pmm_free_count();
    }
    return copy_to_user((void *)ubuf, &s, sizeof s);
}

SYSCALL(NR_statfs, statfs)
{
    struct inode *ino;
    long r = resolve_at(AT_FDCWD, a0, 0, true, &ino);
    if (r < 0)
        return r;
    r = put_statfs(ino, a1);
    inode_put(ino);
    return r;
}

SYSCALL(NR_fstatfs, fstatfs)
{
    struct file *f = fd_get(files(), (int)a0);
    if (!f)
        return -EBADF;
    long r = put_statfs(f->inode, a1);
    file_put(f);
    return r;
}

/* ---- Directories --------------------------------------------------------------------------- */

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    uint16_t d_reclen;
    uint8_t d_type;
    char d_name[];
} __attribute__((packed));

struct getdents_ctx {
    uint8_t *buf;
    size_t size, used;
    struct linux_dirent64 *last;
    struct file *f;
    bool full;
};

static bool getdents_actor(void *ctx, const char *name, size_t len, uint64_t ino, uint32_t mode)
{
    struct getdents_ctx *g = ctx;
    size_t reclen = (offsetof(struct linux_dirent64, d_name) + len + 1 + 7) & ~(size_t)7;
    if (g->used + reclen > g->size) {
        g->full = true;
        return false;
    }
    /* d_off is the position after an entry: what f->pos is when the next one comes. */
    if (g->last)
        g->last->d_off = (int64_t)g->f->pos;
    struct linux_dirent64 *d = (struct linux_dirent64 *)(g->buf + g->used);
    memset(d, 0, reclen);
    d->d_ino = ino;
    d->d_off = (int64_t)g->f->pos + 1;
    d->d_reclen = (uint16_t)reclen;
    d->d_type = (uint8_t)((mode & S_IFMT) >> 12);
    memcpy(d->d_name, name, len);
    g->last = d;
    g->used += reclen;
    return true;
}

SYSCALL(NR_getdents64, getdents64)
{
    struct file *f = fd_get(files(), (int)a0);
    if (!f)
        return -EBADF;
    size_t count = (size_t)(a2 < 0 ? 0 : a2);
    if (count > IO_CHUNK)
        count = IO_CHUNK;
    struct iobuf b;
    long r;
    if (!user_range_ok((uint64_t)a1, count)) {
        r = -EFAULT;
    } else if (!iobuf_get(&b, count)) {
        r = -ENOMEM;
    } else {
        struct getdents_ctx g = { b.p, count, 0, NULL, f, false };
        r = vfs_iterate_dir(f, getdents_actor, &g);
        if (g.last)
            g.last->d_off = (int64_t)f->pos;
        if (r == 0 && g.full)
            r = -EINVAL;            /* not even one entry fits */
        else if (r >= 0)
            r = copy_to_user((void *)a1, b.p, g.used) < 0 ? -EFAULT : (long)g.used;
        iobuf_put(&b);
    }
    file_put(f);
    return r;
}

SYSCALL(NR_mkdir, mkdir)
{
    char *path;
    long r = get_path(a0, &path, false);
    if (r < 0)
        return r;
    r = vfs_mkdir(fsctx(), NULL, path, (uint32_t)a1);
    kfree(path);
    return r;
}

SYSCALL(NR_mkdirat, mkdirat)
{
    char *path;
    long r = get_path(a1, &path, false);
    if (r < 0)
        return r;
    struct at_start s;
    if ((r = get_start(a0, path, &s)) == 0) {
        r = vfs_mkdir(fsctx(), s.dir, path, (uint32_t)a2);
        put_start(&s);
    }
    kfree(path);
    return r;
}

static long mknod_at(long dirfd, long upath, long mode, long dev)
{
    uint32_t type = (uint32_t)mode & S_IFMT;
    if (type == S_IFIFO || type == S_IFSOCK)
        return -EPERM;              /* no named pipes or sockets on this file system yet */
    if (type == S_IFDIR || type == S_IFLNK || (type && type != S_IFREG && type != S_IFCHR && type != S_IFBLK))
        return -EINVAL;
    char *path;
    long r = get_path(upath, &path, false);
    if (r < 0)
        return r;
    struct at_start s;
    if ((r = get_start(dirfd, path, &s)) == 0) {
        uint32_t ma = (uint32_t)(((uint64_t)dev >> 8) & 0xfff) | (uint32_t)(((uint64_t)dev >> 32) & ~0xfffu);
        uint32_t mi = (uint32_t)((uint64_t)dev & 0xff) | (uint32_t)(((uint64_t)dev >> 12) & ~0xffu);
        r = vfs_mknod(fsctx(), s.dir, path, (uint32_t)mode, MKDEV(ma, mi));
        put_start(&s);
    }
    kfree(path);
    return r;
}

SYSCALL(NR_mknod, mknod) { return mknod_at(AT_FDCWD, a0, a1, a2); }
SYSCALL(NR_mknodat, mknodat) { return mknod_at(a0, a1, a2, a3); }

static long unlink_at(long dirfd, long upath, long flags)
{
    if (flags & ~(long)AT_REMOVEDIR)
        return -EINVAL;
    char *path;
    long r = get_path(upath, &path, false);
    if (r < 0)
        return r;
    struct at_start s;
    if ((r = get_start(dirfd, path, &s)) == 0) {
        r = (flags & AT_REMOVEDIR) ? vfs_rmdir(fsctx(), s.dir, path) : vfs_unlink(fsctx(), s.dir, path);
        put_start(&s);
    }
    kfree(path);
    return r;
}

SYSCALL(NR_unlink, unlink) { return unlink_at(AT_FDCWD, a0, 0); }
SYSCALL(NR_unlinkat, unlinkat) { return unlink_at(a0, a1, a2); }
SYSCALL(NR_rmdir, rmdir) { return unlink_at(AT_FDCWD, a0, AT_REMOVEDIR); }

static long rename_at(long olddirfd, long uold, long newdirfd, long unew, long flags)
{
    if (flags & ~(long)RENAME_NOREPLACE)
        return -EINVAL;
    char *oldp, *newp;
    long r = get_path(uold, &oldp, false);
    if (r < 0)
        return r;
    if ((r = get_path(unew, &newp, false)) < 0) {
        kfree(oldp);
        return r;
    }
    struct at_start os, ns;
    if ((r = get_start(olddirfd, oldp, &os)) == 0) {
        if ((r = get_start(newdirfd, newp, &ns)) == 0) {
            r = vfs_rename(fsctx(), os.dir, oldp, ns.dir, newp, (unsigned)flags);
            put_start(&ns);
        }
        put_start(&os);
    }
    kfree(oldp);
    kfree(newp);
    return r;
}

SYSCALL(NR_rename, rename) { return rename_at(AT_FDCWD, a0, AT_FDCWD, a1, 0); }
SYSCALL(NR_renameat, renameat) { return rename_at(a0, a1, a2, a3, 0); }
SYSCALL(NR_renameat2, renameat2) { return rename_at(a0, a1, a2, a3, a4); }

static long link_at(long olddirfd, long uold, long newdirfd, long unew, long flags)
{
    if (flags & ~(long)(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    struct inode *target;
    long r = resolve_at(olddirfd, uold, (int)flags, flags & AT_SYMLINK_FOLLOW, &target);
    if (r < 0)
        return r;
    char *newp;
    if ((r = get_path(unew, &newp, false)) == 0) {
        struct at_start s;
        if ((r = get_start(newdirfd, newp, &s)) == 0) {
            r = vfs_link_inode(fsctx(), target, s.dir, newp);
            put_start(&s);
        }
        kfree(newp);
    }
    inode_put(target);
    return r;
}

SYSCALL(NR_link, link) { return link_at(AT_FDCWD, a0, AT_FDCWD, a1, 0); }
SYSCALL(NR_linkat, linkat) { return link_at(a0, a1, a2, a3, a4); }

static long symlink_at(long utarget, long newdirfd, long upath)
{
    char *target, *path;
    long r = get_path(utarget, &target, false);
    if (r < 0)
        return r;
    if ((r = get_path(upath, &path, false)) == 0) {
        struct at_start s;
        if ((r = get_start(newdirfd, path, &s)) == 0) {
            r = vfs_symlink(fsctx(), target, s.dir, path);
            put_start(&s);
        }
        kfree(path);
    }
    kfree(target);
    return r;
}

SYSCALL(NR_symlink, symlink) { return symlink_at(a0, AT_FDCWD, a1); }
SYSCALL(NR_symlinkat, symlinkat) { return symlink_at(a0, a1, a2); }

static long readlink_at(long dirfd, long upath, long ubuf, long size)
{
    if (size <= 0)
        return -EINVAL;
    struct inode *ino;
    long r = resolve_at(dirfd, upath, AT_EMPTY_PATH, false, &ino);
    if (r < 0)
        return r;
    size_t n = (size_t)size < PATH_MAX ? (size_t)size : PATH_MAX;
    char *buf = kmalloc(n);
    if (!buf)
        r = -ENOMEM;
    else if ((r = vfs_readlink_inode(ino, buf, n)) > 0 && copy_to_user((void *)ubuf, buf, (size_t)r) < 0)
        r = -EFAULT;
    kfree(buf);
    inode_put(ino);
    return r;
}

SYSCALL(NR_readlink, readlink)
{
    /* An empty path is ENOENT here (readlinkat's "" means dirfd itself). */
    char c;
    if (get_user(c, (const char *)a0) < 0)
        return -EFAULT;
    if (!c)
        return -ENOENT;
    return readlink_at(AT_FDCWD, a0, a1, a2);
}

SYSCALL(NR_readlinkat, readlinkat) { return readlink_at(a0, a1, a2, a3); }

SYSCALL(NR_chdir, chdir)
{
    char *path;
    long r = get_path(a0, &path, false);
    if (r < 0)
        return r;
    r = vfs_chdir(fsctx(), path);
    kfree(path);
    return r;
}

SYSCALL(NR_fchdir, fchdir)
{
    struct file *f = fd_get(files(), (int)a0);
    if (!f)
        return -EBADF;
    long r = vfs_chdir_file(fsctx(), f);
    file_put(f);
    return r;
}

SYSCALL(NR_getcwd, getcwd)
{
    const char *cwd = fsctx()->cwd_path;
    size_t len = strlen(cwd) + 1;
    if ((size_t)a1 < len)
        return -ERANGE;
    if (copy_to_user((void *)a0, cwd, len) < 0)
        return -EFAULT;
    return (long)len;
}

/* ---- Attributes ---------------------------------------------------------------------------- */

SYSCALL(NR_umask, umask)
{
    struct fs_context *c = fsctx();
    uint32_t old = c->umask;
    c->umask = (uint32_t)a0 & 0777;
    return old;
}

static long access_at(long dirfd, long upath, long mode, long flags)
{
    if (mode & ~(long)(R_OK | W_OK | X_OK))
        return -EINVAL;
    if (flags & ~(long)(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    struct inode *ino;
    long r = resolve_at(dirfd, upath, (int)flags, !(flags & AT_SYMLINK_NOFOLLOW), &ino);
    if (r < 0)
        return r;
    struct process *p = current_proc();
    bool eff = flags & AT_EACCESS;
    if (mode != F_OK)
        r = vfs_permission(ino, (int)mode, eff ? p->euid : p->uid, eff ? p->egid : p->gid);
    inode_put(ino);
    return r;
}

SYSCALL(NR_access, access) { return access_at(AT_FDCWD, a0, a1, 0); }
SYSCALL(NR_faccessat, faccessat) { return access_at(a0, a1, a2, 0); }
SYSCALL(NR_faccessat2, faccessat2) { return access_at(a0, a1, a2, a3); }

/* Only the owner (or root) changes modes and times; only root changes owners. */
static bool owner_or_root(struct inode *ino)
{
    struct process *p = current_proc();
    return p->euid == 0 || p->euid == ino->uid;
}

static long set_mode(struct inode *ino, long mode)
{
    if (!owner_or_root(ino))
        return -EPERM;
    ino->mode = (ino->mode & S_IFMT) | ((uint32_t)mode & 07777);
    inode_touch(ino, false, true);
    return 0;
}

static long chmod_at(long dirfd, long upath, long mode, int flags)
{
    struct inode *ino;
    long r = resolve_at(dirfd, upath, flags, true, &ino);
    if (r < 0)
        return r;
    r = set_mode(ino, mode);
    inode_put(ino);
    return r;
}

SYSCALL(NR_chmod, chmod) { return chmod_at(AT_FDCWD, a0, a1, 0); }
SYSCALL(NR_fchmodat, fchmodat) { return chmod_at(a0, a1, a2, 0); }

SYSCALL(NR_fchmod, fchmod)
{
    struct file *f = fd_get(files(), (int)a0);
    if (!f)
        return -EBADF;
    long r = set_mode(f->inode, a1);
    file_put(f);
    return r;
}

static long set_owner(struct inode *ino, long uid, long gid)
{
    uint32_t u = (uint32_t)uid, g = (uint32_t)gid;
    if (current_proc()->euid != 0)
        return -EPERM;
    if (u != 0xffffffffu)
        ino->uid = u;
    if (g != 0xffffffffu)
        ino->gid = g;
    /* Linux: a change of owner drops set-user-ID (and set-group-ID if group-executable). */
    if (!S_ISDIR(ino->mode) && (u != 0xffffffffu || g != 0xffffffffu)) {
        ino->mode &= ~(uint32_t)S_ISUID;
        if (ino->mode & 010)
            ino->mode &= ~(uint32_t)S_ISGID;
    }
    inode_touch(ino, false, true);
    return 0;
}

static long chown_at(long dirfd, long upath, long uid, long gid, long flags)
{
    if (flags & ~(long)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    struct inode *ino;
    long r = resolve_at(dirfd, upath, (int)flags, !(flags & AT_SYMLINK_NOFOLLOW), &ino);
    if (r < 0)
        return r;
    r = set_owner(ino, uid, gid);
    inode_put(ino);
    return r;
}

SYSCALL(NR_chown, chown) { return chown_at(AT_FDCWD, a0, a1, a2, 0); }
SYSCALL(NR_lchown, lchown) { return chown_at(AT_FDCWD, a0, a1, a2, AT_SYMLINK_NOFOLLOW); }
SYSCALL(NR_fchownat, fchownat) { return chown_at(a0, a1, a2, a3, a4); }

SYSCALL(NR_fchown, fchown)
{
    struct file *f = fd_get(files(), (int)a0);
    if (!f)
        return -EBADF;
    long r = set_owner(f->inode, a1, a2);
    file_put(f);
    return r;
}

#define UTIME_NOW ((1l << 30) - 1)
#define UTIME_OMIT ((1l << 30) - 2)

struct ktimespec {
    int64_t sec, nsec;
};

/* times[0] is the access time, times[1] the modification time; NULL means now for both. */
static long set_times(struct inode *ino, const struct ktimespec *times)
{
    uint64_t now = vfs_now_ns();
    if (!times) {
        ino->atime_ns = ino->mtime_ns = now;
    } else {
        for (int i = 0; i < 2; i++) {
            if (times[i].nsec == UTIME_OMIT)
                continue;
            if (times[i].nsec != UTIME_NOW && (times[i].nsec < 0 || times[i].nsec >= (int64_t)NSEC_PER_SEC))
                return -EINVAL;
        }
        if (!owner_or_root(ino))
            return -EPERM;
        for (int i = 0; i < 2; i++) {
            if (times[i].nsec == UTIME_OMIT)
                continue;
            uint64_t t = times[i].nsec == UTIME_NOW ? now
                       : times[i].sec < 0 ? 0 : (uint64_t)times[i].sec * NSEC_PER_SEC + (uint64_t)times[i].nsec;
            if (i == 0)
                ino->atime_ns = t;
            else
                ino->mtime_ns = t;
        }
    }
    ino->ctime_ns = now;
    return 0;
}

SYSCALL(NR_utimensat, utimensat)
{
    int flags = (int)a3;
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    struct ktimespec ts[2];
    if (a2 && copy_from_user(ts, (const void *)a2, sizeof ts) < 0)
        return -EFAULT;
    struct inode *ino;
    long r;
    if (a1 == 0) {                  /* futimens: the descriptor itself */
        if ((int)a0 == AT_FDCWD)
            return -EFAULT;
        struct file *f = fd_get(files(), (int)a0);
        if (!f)
            return -EBADF;
        ino = f->inode;
        inode_get(ino);
        file_put(f);
    } else if ((r = resolve_at(a0, a1, flags, !(flags & AT_SYMLINK_NOFOLLOW), &ino)) < 0) {
        return r;
    }
    r = set_times(ino, a2 ? ts : NULL);
    inode_put(ino);
    return r;
}

SYSCALL(NR_utimes, utimes)
{
    struct ktimespec ts[2];
    if (a1) {
        int64_t tv[4];              /* two struct timeval: seconds, microseconds */
        if (copy_from_user(tv, (const void *)a1, sizeof tv) < 0)
            return -EFAULT;
        for (int i = 0; i < 2; i++) {
            if (tv[2 * i + 1] < 0 || tv[2 * i + 1] >= 1000000)
                return -EINVAL;
            ts[i].sec = tv[2 * i];
            ts[i].nsec = tv[2 * i + 1] * 1000;
        }
    }
    struct inode *ino;
    long r = resolve_at(AT_FDCWD, a0, 0, true, &ino);
    if (r < 0)
        return r;
    r = set_times(ino, a1 ? ts : NULL);
    inode_put(ino);
    return r;
}

SYSCALL(NR_utime, utime)
{
    struct ktimespec ts[2];
    if (a1) {
        int64_t tb[2];              /* struct utimbuf: actime, modtime */
        if (copy_from_user(tb, (const void *)a1, sizeof tb) < 0)
            return -EFAULT;
        ts[0] = (struct ktimespec){ tb[0], 0 };
        ts[1] = (struct ktimespec){ tb[1], 0 };
    }
    struct inode *ino;
    long r = resolve_at(AT_FDCWD, a0, 0, true, &ino);
    if (r < 0)
        return r;
    r = set_times(ino, a1 ? ts : NULL);
    inode_put(ino);
    return r;
}

SYSCALL(NR_truncate, truncate)
{
    if (a1 < 0)
        return -EINVAL;
    struct inode *ino;
    long r = resolve_at(AT_FDCWD, a0, 0, true, &ino);
    if (r < 0)
        return r;
    r = vfs_truncate_inode(ino, (uint64_t)a1);
    inode_put(ino);
    return r;
}

SYSCALL(NR_ftruncate, ftruncate)
{
    if (a1 < 0)
        return -EINVAL;
    struct file *f = fd_get(files(), (int)a0);
    if (!f)
        return -EBADF;
    long r;
    uint32_t acc = f->flags & O_ACCMODE;
    if ((f->flags & O_PATH) || (acc != O_WRONLY && acc != O_RDWR) || !S_ISREG(f->inode->mode))
        r = -EINVAL;
    else
        r = vfs_truncate_inode(f->inode, (uint64_t)a1);
    file_put(f);
    return r;
}

/* A ramfs keeps everything in memory: there is nothing to write back. */
SYSCALL(NR_sync, sync) { return 0; }

static long fsync_fd(long fd)
{
    struct file *f = fd_get(files(), (int)fd);
    if (!f)
        return -EBADF;
    file_put(f);
    return 0;
}

SYSCALL(NR_fsync, fsync) { return fsync_fd(a0); }
SYSCALL(NR_fdatasync, fdatasync) { return fsync_fd(a0); }

/* ---- Mounts -------------------------------------------------------------------------------- */

#define MS_RDONLY 1
#define MS_REMOUNT 32
#define MS_BIND 4096
#define MS_MOVE 8192
#define MNT_FORCE 1
#define MNT_DETACH 2
#define MNT_EXPIRE 4
#define UMOUNT_NOFOLLOW 8

SYSCALL(NR_mount, mount)
{
    if (current_proc()->euid != 0)
        return -EPERM;
    unsigned long flags = (unsigned long)a3;
    char *target;
    long r = get_path(a1, &target, false);
    if (r < 0)
        return r;
    char source[64] = "none", fstype[32] = "";
    if (a0 && (r = strncpy_from_user(source, (const char *)a0, sizeof source)) < 0)
        goto out;
    if (flags & MS_REMOUNT) {
        /* We keep no mount options: a read-write remount of a mount point has nothing to change. */
        struct inode *ino;
        if ((r = vfs_lookup(fsctx(), NULL, target, true, &ino)) == 0) {
            r = !ino->covered && ino != vfs_root() ? -EINVAL : (flags & MS_RDONLY) ? -EINVAL : 0;
            inode_put(ino);
        }
        goto out;
    }
    if (flags & (MS_BIND | MS_MOVE)) {
        r = -EINVAL;
        goto out;
    }
    if (!a2) {
        r = -EINVAL;
        goto out;
    }
    if ((r = strncpy_from_user(fstype, (const char *)a2, sizeof fstype)) < 0) {
        if (r == -ENAMETOOLONG)
            r = -ENODEV;            /* no file system type has such a long name */
        goto out;
    }
    r = vfs_mount_fs(fsctx(), source, target, fstype);
out:
    kfree(target);
    return r;
}

SYSCALL(NR_umount2, umount2)
{
    if (current_proc()->euid != 0)
        return -EPERM;
    if (a1 & ~(long)(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW))
        return -EINVAL;
    char *target;
    long r = get_path(a0, &target, false);
    if (r < 0)
        return r;
    r = vfs_umount(fsctx(), target);
    kfree(target);
    return r;
}
