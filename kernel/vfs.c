/*
 * kernel/vfs.c: the virtual file system core: inode and file lifetimes, path lookup (symlinks,
 * ".", "..", mount points), open, read/write/seek, the name-space operations with their Linux
 * error semantics, mounts, descriptor tables, file-system contexts and the root at boot.
 *
 * Locking: a spinlock guards inode reference counts together with nlink (so exactly one
 * inode_put() sees "no references, no names"), another the mount links and the mount list, one
 * per descriptor table its slots. File systems lock their own data (ramfs: one sleeping lock).
 * Nothing here holds a spinlock while calling into a file system.
 */
#include "kernel/vfs.h"
#include "kernel/errno.h"
#include "kernel/kmalloc.h"
#include "kernel/mm.h"
#include "kernel/list.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "kernel/time.h"

uint64_t vfs_boot_epoch_ns;
struct waitqueue poll_waiters = { LIST_HEAD_INIT(poll_waiters.waiters) };

static struct spinlock inode_lock = SPINLOCK_INIT("inode");
static struct spinlock mount_lock = SPINLOCK_INIT("mount");
static uint64_t next_ino = 1;
static struct inode *root_inode;

uint64_t vfs_now_ns(void) { return vfs_boot_epoch_ns + clock_ns(); }

void poll_notify(void) { wake_up(&poll_waiters); }

/* ---- File system instances ---------------------------------------------------------------- */

#define MAX_DEVS 64
static struct {
    uint32_t dev;
    const char *type;
} devs[MAX_DEVS];
static int ndevs;
static uint32_t next_dev = 1;

uint32_t vfs_alloc_dev(const char *fstype)
{
    uint64_t f = spin_lock_irqsave(&mount_lock);
    uint32_t dev = next_dev++;
    if (ndevs < MAX_DEVS) {
        devs[ndevs].dev = dev;
        devs[ndevs].type = fstype;
        ndevs++;
    }
    spin_unlock_irqrestore(&mount_lock, f);
    return dev;
}

const char *vfs_fs_type(uint32_t dev)
{
    const char *type = "none";
    uint64_t f = spin_lock_irqsave(&mount_lock);
    for (int i = 0; i < ndevs; i++)
        if (devs[i].dev == dev)
            type = devs[i].type;
    spin_unlock_irqrestore(&mount_lock, f);
    return type;
}

uint64_t vfs_fs_magic(uint32_t dev)
{
    const char *t = vfs_fs_type(dev);
    if (strcmp(t, "proc") == 0)
        return 0x9fa0;                  /* PROC_SUPER_MAGIC */
    if (strcmp(t, "tmpfs") == 0 || strcmp(t, "devtmpfs") == 0)
        return 0x01021994;              /* TMPFS_MAGIC */
    return 0x858458f6;                  /* RAMFS_MAGIC (rootfs is a ramfs) */
}

/* ---- Inodes -------------------------------------------------------------------------------- */

struct inode *inode_alloc(uint32_t dev, uint32_t mode)
{
    struct inode *ino = kzalloc(sizeof *ino);
    if (!ino)
        return NULL;
    uint64_t f = spin_lock_irqsave(&inode_lock);
    ino->ino = next_ino++;
    spin_unlock_irqrestore(&inode_lock, f);
    ino->mode = mode;
    ino->dev = dev;
    ino->refcount = 1;
    ino->atime_ns = ino->mtime_ns = ino->ctime_ns = vfs_now_ns();
    return ino;
}

void inode_get(struct inode *ino)
{
    uint64_t f = spin_lock_irqsave(&inode_lock);
    ino->refcount++;
    spin_unlock_irqrestore(&inode_lock, f);
}

void inode_put(struct inode *ino)
{
    if (!ino)
        return;
    uint64_t f = spin_lock_irqsave(&inode_lock);
    bool last = --ino->refcount == 0 && ino->nlink == 0;
    if (ino->refcount < 0)
        printk(LOG_ERR, "vfs: inode %lu refcount below zero\n", ino->ino);
    spin_unlock_irqrestore(&inode_lock, f);
    if (!last)
        return;
    if (ino->iops && ino->iops->evict)
        ino->iops->evict(ino);
    kfree(ino);
}

void inode_set_nlink(struct inode *ino, uint32_t nlink)
{
    uint64_t f = spin_lock_irqsave(&inode_lock);
    ino->nlink = nlink;
    spin_unlock_irqrestore(&inode_lock, f);
}

void inode_touch(struct inode *ino, bool mtime, bool ctime)
{
    uint64_t now = vfs_now_ns();
    if (mtime)
        ino->mtime_ns = now;
    if (ctime)
        ino->ctime_ns = now;
}

/* ---- Files --------------------------------------------------------------------------------- */

static const struct file_ops no_fops;

struct file *file_open_inode(struct inode *ino, uint32_t flags)
{
    struct file *f = kzalloc(sizeof *f);
    if (!f)
        return NULL;
    inode_get(ino);
    f->inode = ino;
    f->ops = ino->fops ? ino->fops : &no_fops;
    f->flags = flags & ~(uint32_t)(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC);
    f->refcount = 1;
    f->priv = ino->priv;
    return f;
}

void file_get(struct file *f) { __atomic_add_fetch(&f->refcount, 1, __ATOMIC_ACQ_REL); }

void file_put(struct file *f)
{
    if (!f || __atomic_sub_fetch(&f->refcount, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    if (f->ops && f->ops->release)
        f->ops->release(f);
    inode_put(f->inode);
    kfree(f->abs_path);
    kfree(f);
}

/* ---- Mounts -------------------------------------------------------------------------------- */

struct mount {
    struct list_head link;
    struct inode *root, *covered;   /* covered is NULL for "/" */
    char *source, *target, *fstype;
};
static struct list_head mounts = LIST_HEAD_INIT(mounts);

/* Follows mount points down to the top-most mounted root; consumes and returns a reference. */
static struct inode *cross_mounts(struct inode *ino)
{
    for (;;) {
        uint64_t f = spin_lock_irqsave(&mount_lock);
        struct inode *top = ino->mounted;
        if (top)
            inode_get(top);
        spin_unlock_irqrestore(&mount_lock, f);
        if (!top)
            return ino;
        inode_put(ino);
        ino = top;
    }
}

/* For a mounted root, the directory it covers (referenced), else NULL. */
static struct inode *covered_dir(struct inode *ino)
{
    uint64_t f = spin_lock_irqsave(&mount_lock);
    struct inode *c = ino->covered;
    if (c)
        inode_get(c);
    spin_unlock_irqrestore(&mount_lock, f);
    return c;
}

/* ---- Path lookup --------------------------------------------------------------------------- */

struct nameidata {
    struct inode *root;             /* the context's root, referenced */
    struct inode *cur;              /* where the walk is, referenced */
    char *path;                     /* canonical path of cur (PATH_MAX buffer) or NULL: not tracked */
    size_t pathlen;
    int links;                      /* symlinks followed so far */
};

static int nd_init(struct nameidata *nd, struct fs_context *ctx, struct inode *start, const char *start_path,
                   bool track)
{
    /* Before vfs_init (devfs registering its nodes) the kernel's view is rooted at start. */
    struct inode *root = ctx ? ctx->root : root_inode ? root_inode : start;
    struct inode *cwd = start ? start : ctx ? ctx->cwd : root_inode;
    if (!root || !cwd)
        return -ENOENT;
    memset(nd, 0, sizeof *nd);
    inode_get(root);
    inode_get(cwd);
    nd->root = root;
    nd->cur = cwd;
    if (!start)
        start_path = ctx ? ctx->cwd_path : "/";
    if (track && start_path) {
        size_t n = strlen(start_path);
        nd->path = kmalloc(PATH_MAX);
        if (nd->path && n < PATH_MAX) {
            memcpy(nd->path, start_path, n + 1);
            nd->pathlen = n;
        } else {
            kfree(nd->path);
            nd->path = NULL;
        }
    }
    return 0;
}

static void nd_release(struct nameidata *nd)
{
    inode_put(nd->cur);
    inode_put(nd->root);
    kfree(nd->path);
    nd->cur = nd->root = NULL;
    nd->path = NULL;
}

/* Moves the walk to ino, consuming the caller's reference. */
static void nd_set(struct nameidata *nd, struct inode *ino)
{
    inode_put(nd->cur);
    nd->cur = ino;
}

static void path_reset(struct nameidata *nd)
{
    if (nd->path) {
        nd->path[0] = '/';
        nd->path[1] = '\0';
        nd->pathlen = 1;
    }
}

static void path_push(struct nameidata *nd, const char *name, size_t len)
{
    if (!nd->path)
        return;
    size_t need = nd->pathlen + (nd->pathlen > 1) + len;
    if (need >= PATH_MAX) {
        kfree(nd->path);            /* too deep to name: the path becomes unknown */
        nd->path = NULL;
        return;
    }
    if (nd->pathlen > 1)
        nd->path[nd->pathlen++] = '/';
    memcpy(nd->path + nd->pathlen, name, len);
    nd->pathlen += len;
    nd->path[nd->pathlen] = '\0';
}

static void path_pop(struct nameidata *nd)
{
    if (!nd->path)
        return;
    while (nd->pathlen > 1 && nd->path[nd->pathlen - 1] != '/')
        nd->pathlen--;
    if (nd->pathlen > 1)
        nd->pathlen--;              /* the slash before the last component */
    nd->path[nd->pathlen] = '\0';
}

static void nd_to_root(struct nameidata *nd)
{
    inode_get(nd->root);
    nd_set(nd, cross_mounts(nd->root));
    path_reset(nd);
}

/* "..": never above the context's root; from a mounted root, up from the directory it covers. */
static int step_dotdot(struct nameidata *nd)
{
    if (!S_ISDIR(nd->cur->mode))
        return -ENOTDIR;
    for (;;) {
        if (nd->cur == nd->root) {
            inode_get(nd->cur);     /* something may be mounted on the root */
            nd_set(nd, cross_mounts(nd->cur));
            return 0;
        }
        struct inode *c = covered_dir(nd->cur);
        if (!c)
            break;
        nd_set(nd, c);
    }
    if (nd->cur == nd->root)
        return 0;
    if (!nd->cur->iops || !nd->cur->iops->lookup)
        return -ENOTDIR;
    struct inode *parent;
    int r = nd->cur->iops->lookup(nd->cur, "..", 2, &parent);
    if (r < 0)
        return r;
    nd_set(nd, parent);
    path_pop(nd);
    return 0;
}

/* Looks name up in the current directory; returns the child (referenced, mounts crossed). */
static int lookup_child(struct inode *dir, const char *name, size_t len, struct inode **out)
{
    if (!S_ISDIR(dir->mode))
        return -ENOTDIR;
    if (len > NAME_MAX)
        return -ENAMETOOLONG;
    if (!dir->iops || !dir->iops->lookup)
        return -ENOENT;
    struct inode *child;
    int r = dir->iops->lookup(dir, name, len, &child);
    if (r < 0)
        return r;
    *out = cross_mounts(child);
    return 0;
}

/* Replaces the walk's remaining path with link's target followed by rest (which keeps its
 * leading slash if any). The result goes into a new buffer *buf (the old one is freed). */
static int splice_link(struct nameidata *nd, struct inode *link, const char *rest, char **buf)
{
    if (++nd->links > SYMLOOP_MAX)
        return -ELOOP;
    char *nb = kmalloc(PATH_MAX);
    if (!nb)
        return -ENOMEM;
    long n = vfs_readlink_inode(link, nb, PATH_MAX);
    size_t restlen = strlen(rest);
    if (n >= 0 && (size_t)n + restlen >= PATH_MAX)
        n = -ENAMETOOLONG;
    if (n == 0)
        n = -ENOENT;
    if (n < 0) {
        kfree(nb);
        return (int)n;
    }
    memcpy(nb + n, rest, restlen + 1);
    kfree(*buf);
    *buf = nb;
    return 0;
}

/*
 * Walks path from nd->cur. Symlinks met along the way are spliced into the remaining path, so
 * the walk is a loop, not a recursion, whatever the nesting. follow_last: follow a final symlink
 * (a trailing slash always does, and then requires a directory).
 */
static int walk(struct nameidata *nd, const char *path, bool follow_last)
{
    char *buf = NULL;               /* owns the spliced path once a symlink was met */
    const char *p = path;
    int r = 0;
    if (*p == '/')
        nd_to_root(nd);
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *name = p;
        while (*p && *p != '/')
            p++;
        size_t len = p - name;
        const char *q = p;
        while (*q == '/')
            q++;
        bool last = *q == '\0';
        bool slash = last && *p == '/';
        if (len == 1 && name[0] == '.') {
            if (!S_ISDIR(nd->cur->mode)) {
                r = -ENOTDIR;
                break;
            }
            continue;
        }
        if (len == 2 && name[0] == '.' && name[1] == '.') {
            if ((r = step_dotdot(nd)) < 0)
                break;
            continue;
        }
        struct inode *child;
        if ((r = lookup_child(nd->cur, name, len, &child)) < 0)
            break;
        if (S_ISLNK(child->mode) && (!last || follow_last || slash)) {
            r = splice_link(nd, child, p, &buf);
            inode_put(child);
            if (r < 0)
                break;
            p = buf;
            if (*p == '/')
                nd_to_root(nd);
            continue;
        }
        nd_set(nd, child);
        path_push(nd, name, len);
        if (slash && !S_ISDIR(child->mode)) {
            r = -ENOTDIR;
            break;
        }
    }
    kfree(buf);
    return r;
}

/* The last component of path: its start and length, and whether slashes follow it. */
static void split_last(const char *path, const char **last, size_t *lastlen, bool *slash)
{
    size_t end = strlen(path);
    size_t e = end;
    while (e > 0 && path[e - 1] == '/')
        e--;
    size_t s = e;
    while (s > 0 && path[s - 1] != '/')
        s--;
    *last = path + s;
    *lastlen = e - s;
    *slash = e < end && e > 0;
}

/* Walks everything but the last component; nd->cur is then its directory. */
static int walk_parent(struct nameidata *nd, const char *path, const char **last, size_t *lastlen, bool *slash)
{
    split_last(path, last, lastlen, slash);
    size_t prefix = *last - path;
    if (*lastlen == 0) {            /* "/" or "///": the root itself */
        nd_to_root(nd);
        return 0;
    }
    if (prefix == 0)
        return S_ISDIR(nd->cur->mode) ? 0 : -ENOTDIR;
    char *pre = kmalloc(prefix + 1);
    if (!pre)
        return -ENOMEM;
    memcpy(pre, path, prefix);
    pre[prefix] = '\0';
    int r = walk(nd, pre, true);
    kfree(pre);
    if (r == 0 && !S_ISDIR(nd->cur->mode))
        r = -ENOTDIR;
    return r;
}

static bool is_dot(const char *n, size_t len) { return len == 1 && n[0] == '.'; }
static bool is_dotdot(const char *n, size_t len) { return len == 2 && n[0] == '.' && n[1] == '.'; }

int vfs_lookup(struct fs_context *ctx, struct inode *start, const char *path, bool follow, struct inode **out)
{
    if (!path || !*path)
        return -ENOENT;
    if (strnlen(path, PATH_MAX) >= PATH_MAX)
        return -ENAMETOOLONG;
    struct nameidata nd;
    int r = nd_init(&nd, ctx, start, NULL, false);
    if (r < 0)
        return r;
    r = walk(&nd, path, follow);
    if (r == 0) {
        *out = nd.cur;
        nd.cur = NULL;
    }
    nd_release(&nd);
    return r;
}

int vfs_lookup_parent(struct fs_context *ctx, struct inode *start, const char *path, struct inode **dir,
                      const char **last, size_t *lastlen)
{
    if (!path || !*path)
        return -ENOENT;
    if (strnlen(path, PATH_MAX) >= PATH_MAX)
        return -ENAMETOOLONG;
    struct nameidata nd;
    int r = nd_init(&nd, ctx, start, NULL, false);
    if (r < 0)
        return r;
    bool slash;
    r = walk_parent(&nd, path, last, lastlen, &slash);
    if (r == 0) {
        *dir = nd.cur;
        nd.cur = NULL;
    }
    nd_release(&nd);
    return r;
}

/* ---- Open ---------------------------------------------------------------------------------- */

static uint32_t ctx_umask(struct fs_context *ctx) { return ctx ? ctx->umask : 0; }

static int may_open(struct inode *ino, uint32_t flags)
{
    uint32_t acc = flags & O_ACCMODE;
    if (flags & O_PATH)
        return (flags & O_DIRECTORY) && !S_ISDIR(ino->mode) ? -ENOTDIR : 0;
    if (S_ISLNK(ino->mode))
        return -ELOOP;              /* O_NOFOLLOW met a symlink */
    if ((flags & O_DIRECTORY) && !S_ISDIR(ino->mode))
        return -ENOTDIR;
    if (S_ISDIR(ino->mode) && (acc != O_RDONLY || (flags & (O_TRUNC | O_CREAT))))
        return -EISDIR;
    if (acc == 3)
        return -EINVAL;
    if (S_ISSOCK(ino->mode))
        return -ENXIO;
    if ((S_ISCHR(ino->mode) || S_ISBLK(ino->mode) || S_ISFIFO(ino->mode)) && !ino->fops)
        return -ENXIO;              /* no driver behind this node */
    return 0;
}

int vfs_open_path(struct fs_context *ctx, struct inode *start, const char *start_path, const char *path,
                  uint32_t flags, uint32_t mode, struct file **out)
{
    if (!path || !*path)
        return -ENOENT;
    if (strnlen(path, PATH_MAX) >= PATH_MAX)
        return -ENAMETOOLONG;
    if ((flags & O_TMPFILE) == O_TMPFILE)
        return -EOPNOTSUPP;
    if (flags & O_PATH)
        flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    struct nameidata nd;
    int r = nd_init(&nd, ctx, start, start_path, true);
    if (r < 0)
        return r;
    char *buf = NULL;               /* the path after a final symlink was followed */
    const char *p = path;
    struct inode *ino = NULL;
    bool created = false;
    for (;;) {
        const char *last;
        size_t len;
        bool slash;
        if ((r = walk_parent(&nd, p, &last, &len, &slash)) < 0)
            break;
        if (len == 0 || is_dot(last, len) || is_dotdot(last, len)) {
            if (len && is_dotdot(last, len) && (r = step_dotdot(&nd)) < 0)
                break;
            if (flags & O_CREAT) {
                r = -EISDIR;
                break;
            }
            ino = nd.cur;
            inode_get(ino);
            break;
        }
        r = lookup_child(nd.cur, last, len, &ino);
        if (r == -ENOENT && (flags & O_CREAT)) {
            struct inode *dir = nd.cur;
            if (slash) {
                r = -EISDIR;
                break;
            }
            if (!dir->iops || !dir->iops->create) {
                r = -EACCES;
                break;
            }
            r = dir->iops->create(dir, last, len, S_IFREG | (mode & 07777 & ~ctx_umask(ctx)), &ino);
            if (r == 0) {
                created = true;
                path_push(&nd, last, len);
                break;
            }
            if (r == -EEXIST && !(flags & O_EXCL))      /* lost a race with another creator */
                r = lookup_child(nd.cur, last, len, &ino);
        }
        if (r < 0)
            break;
        if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) {
            inode_put(ino);
            ino = NULL;
            r = -EEXIST;
            break;
        }
        if (S_ISLNK(ino->mode) && (slash || !(flags & O_NOFOLLOW))) {
            r = splice_link(&nd, ino, slash ? "/" : "", &buf);
            inode_put(ino);
            ino = NULL;
            if (r < 0)
                break;
            p = buf;
            if (*p == '/')
                nd_to_root(&nd);
            continue;
        }
        path_push(&nd, last, len);
        if (slash && !S_ISDIR(ino->mode))
            r = -ENOTDIR;
        break;
    }
    kfree(buf);
    if (r == 0)
        r = may_open(ino, flags);
    if (r == 0 && (flags & O_TRUNC) && !(flags & O_PATH) && (flags & O_ACCMODE) != O_RDONLY &&
        S_ISREG(ino->mode) && !created && ino->size)
        r = vfs_truncate_inode(ino, 0);
    struct file *f = NULL;
    if (r == 0 && !(f = file_open_inode(ino, flags)))
        r = -ENOMEM;
    if (r == 0) {
        if (flags & O_PATH)
            f->ops = &no_fops;
        if (nd.path) {
            f->abs_path = kmalloc(nd.pathlen + 1);
            if (f->abs_path)
                memcpy(f->abs_path, nd.path, nd.pathlen + 1);
        }
        strlcpy(f->path, f->abs_path ? f->abs_path : path, sizeof f->path);
        if (!(flags & O_PATH) && f->ops->open && (r = f->ops->open(ino, f)) < 0) {
            f->ops = &no_fops;      /* never opened: no release */
            file_put(f);
            f = NULL;
        }
    }
    inode_put(ino);
    nd_release(&nd);
    if (r == 0)
        *out = f;
    return r;
}

int vfs_open(struct fs_context *ctx, struct inode *start, const char *path, uint32_t flags, uint32_t mode,
             struct file **out)
{
    return vfs_open_path(ctx, start, NULL, path, flags, mode, out);
}

struct file *vfs_open_kernel(const char *path, uint32_t flags)
{
    struct file *f;
    return vfs_open(NULL, NULL, path, flags, 0, &f) == 0 ? f : NULL;
}

/* ---- Reading, writing, seeking ------------------------------------------------------------- */

static bool can_read(struct file *f)
{
    return !(f->flags & O_PATH) && (f->flags & O_ACCMODE) != O_WRONLY;
}

static bool can_write(struct file *f)
{
    uint32_t acc = f->flags & O_ACCMODE;
    return !(f->flags & O_PATH) && (acc == O_WRONLY || acc == O_RDWR);
}

static long read_at(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    if (!can_read(f))
        return -EBADF;
    if (!f->ops->read)
        return S_ISDIR(f->inode->mode) ? -EISDIR : -EINVAL;
    if (n == 0)
        return 0;
    return f->ops->read(f, buf, n, pos);
}

static long write_at(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    if (!can_write(f))
        return -EBADF;
    if (!f->ops->write)
        return -EINVAL;
    if (n == 0)
        return 0;
    return f->ops->write(f, buf, n, pos);
}

long vfs_read(struct file *f, void *buf, size_t n) { return read_at(f, buf, n, &f->pos); }
long vfs_write(struct file *f, const void *buf, size_t n) { return write_at(f, buf, n, &f->pos); }

bool vfs_file_seekable(struct file *f)
{
    if (f->ops->llseek)
        return true;
    uint32_t m = f->inode->mode;
    return S_ISREG(m) || S_ISDIR(m) || S_ISBLK(m);
}

long vfs_pread(struct file *f, void *buf, size_t n, uint64_t off)
{
    if (!vfs_file_seekable(f))
        return -ESPIPE;
    if ((int64_t)off < 0)
        return -EINVAL;
    return read_at(f, buf, n, &off);
}

int vfs_lend_page(struct file *f, uint64_t off, uint64_t *pa)
{
    if (!f->ops || !f->ops->lend_page || (off & (PAGE_SIZE - 1)))
        return -EOPNOTSUPP;
    return f->ops->lend_page(f, off, pa);
}

long vfs_pwrite(struct file *f, const void *buf, size_t n, uint64_t off)
{
    if (!vfs_file_seekable(f))
        return -ESPIPE;
    if ((int64_t)off < 0)
        return -EINVAL;
    return write_at(f, buf, n, &off);
}

int64_t generic_file_llseek(struct file *f, int64_t off, int whence)
{
    int64_t base, size = (int64_t)f->inode->size;
    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)f->pos; break;
    case SEEK_END: base = size; break;
    case 3:                         /* SEEK_DATA: all of a ramfs file is data */
        if (off < 0 || off >= size)
            return -ENXIO;
        f->pos = off;
        return off;
    case 4:                         /* SEEK_HOLE: the only hole is at the end */
        if (off < 0 || off >= size)
            return -ENXIO;
        f->pos = size;
        return size;
    default: return -EINVAL;
    }
    int64_t np;
    if (__builtin_add_overflow(base, off, &np) || np < 0)
        return -EINVAL;
    f->pos = (uint64_t)np;
    return np;
}

int64_t vfs_llseek(struct file *f, int64_t off, int whence)
{
    if (f->flags & O_PATH)
        return -EBADF;
    if (f->ops->llseek)
        return f->ops->llseek(f, off, whence);
    if (!vfs_file_seekable(f))
        return -ESPIPE;
    return generic_file_llseek(f, off, whence);
}

int vfs_truncate_inode(struct inode *ino, uint64_t size)
{
    if (S_ISDIR(ino->mode))
        return -EISDIR;
    if (!S_ISREG(ino->mode))
        return -EINVAL;
    if ((int64_t)size < 0)
        return -EINVAL;
    if (!ino->iops || !ino->iops->truncate)
        return -EPERM;
    return ino->iops->truncate(ino, size);
}

long vfs_read_whole(const char *path, void **bufp, size_t *lenp)
{
    struct file *f = vfs_open_kernel(path, O_RDONLY);
    if (!f)
        return -ENOENT;
    long r = 0;
    size_t size = f->inode->size, done = 0;
    char *buf = NULL;
    if (!S_ISREG(f->inode->mode))
        r = S_ISDIR(f->inode->mode) ? -EISDIR : -EINVAL;
    else if (!(buf = kmalloc(size ? size : 1)))
        r = -ENOMEM;
    while (r == 0 && done < size) {
        long n = vfs_pread(f, buf + done, size - done, done);
        if (n < 0)
            r = n;
        else if (n == 0)
            break;                  /* shrank meanwhile */
        else
            done += n;
    }
    file_put(f);
    if (r < 0) {
        kfree(buf);
        return r;
    }
    *bufp = buf;
    *lenp = done;
    return 0;
}

/* ---- Directory listing --------------------------------------------------------------------- */

bool dirent_emit(struct dirent_sink *sink, const char *name, size_t len, uint64_t ino, uint32_t mode)
{
    if (!sink->actor(sink->ctx, name, len, ino, mode))
        return false;
    sink->emitted++;
    return true;
}

bool dirent_emit_dots(struct file *f, struct dirent_sink *sink)
{
    struct inode *dir = f->inode;
    if (f->pos == 0) {
        if (!dirent_emit(sink, ".", 1, dir->ino, S_IFDIR))
            return false;
        f->pos = 1;
    }
    if (f->pos == 1) {
        uint64_t pino = dir->ino;
        struct inode *parent;
        if (dir->iops && dir->iops->lookup && dir->iops->lookup(dir, "..", 2, &parent) == 0) {
            pino = parent->ino;
            inode_put(parent);
        }
        if (!dirent_emit(sink, "..", 2, pino, S_IFDIR))
            return false;
        f->pos = 2;
    }
    return true;
}

int vfs_iterate_dir(struct file *f, dirent_actor actor, void *ctx)
{
    if (f->flags & O_PATH)
        return -EBADF;
    if (!S_ISDIR(f->inode->mode))
        return -ENOTDIR;
    if (!f->ops->readdir)
        return -ENOTDIR;
    struct dirent_sink sink = { actor, ctx, f, 0 };
    int r = f->ops->readdir(f, &sink);
    return r < 0 ? r : sink.emitted;
}

/* ---- Name-space operations ----------------------------------------------------------------- */

/* Resolves the parent of path for an operation on its last component. */
struct parent {
    struct nameidata nd;
    const char *last;
    size_t len;
    bool slash;
};

static int get_parent(struct parent *pp, struct fs_context *ctx, struct inode *start, const char *path)
{
    if (!path || !*path)
        return -ENOENT;
    if (strnlen(path, PATH_MAX) >= PATH_MAX)
        return -ENAMETOOLONG;
    int r = nd_init(&pp->nd, ctx, start, NULL, false);
    if (r < 0)
        return r;
    r = walk_parent(&pp->nd, path, &pp->last, &pp->len, &pp->slash);
    if (r == 0 && pp->len > NAME_MAX)
        r = -ENAMETOOLONG;
    if (r < 0)
        nd_release(&pp->nd);
    return r;
}

static bool last_is_special(struct parent *pp)
{
    return pp->len == 0 || is_dot(pp->last, pp->len) || is_dotdot(pp->last, pp->len);
}

/* The last component itself, not following a symlink and not crossing a mount (so mount points
 * can be recognised). */
static int lookup_last_raw(struct parent *pp, struct inode **out)
{
    struct inode *dir = pp->nd.cur;
    if (!dir->iops || !dir->iops->lookup)
        return -ENOENT;
    return dir->iops->lookup(dir, pp->last, pp->len, out);
}

static bool is_mountpoint(struct inode *ino)
{
    uint64_t f = spin_lock_irqsave(&mount_lock);
    bool m = ino->mounted != NULL || ino->covered != NULL;
    spin_unlock_irqrestore(&mount_lock, f);
    return m;
}

int vfs_mkdir(struct fs_context *ctx, struct inode *start, const char *path, uint32_t mode)
{
    struct parent pp;
    int r = get_parent(&pp, ctx, start, path);
    if (r < 0)
        return r;
    struct inode *dir = pp.nd.cur;
    if (last_is_special(&pp))
        r = -EEXIST;
    else if (!dir->iops || !dir->iops->mkdir)
        r = -EPERM;
    else
        r = dir->iops->mkdir(dir, pp.last, pp.len, mode & 07777 & ~ctx_umask(ctx));
    nd_release(&pp.nd);
    return r;
}

int vfs_mknod(struct fs_context *ctx, struct inode *start, const char *path, uint32_t mode, uint64_t rdev)
{
    uint32_t type = mode & S_IFMT;
    if (type == 0)
        type = S_IFREG;
    if (type == S_IFDIR || type == S_IFLNK)
        return -EINVAL;
    struct parent pp;
    int r = get_parent(&pp, ctx, start, path);
    if (r < 0)
        return r;
    struct inode *dir = pp.nd.cur, *ino = NULL;
    uint32_t perm = mode & 07777 & ~ctx_umask(ctx);
    if (last_is_special(&pp))
        r = -EEXIST;
    else if (pp.slash)
        r = -ENOENT;
    else if (type == S_IFREG)
        r = dir->iops && dir->iops->create ? dir->iops->create(dir, pp.last, pp.len, S_IFREG | perm, &ino)
                                           : -EPERM;
    else
        r = dir->iops && dir->iops->mknod ? dir->iops->mknod(dir, pp.last, pp.len, type | perm, rdev, &ino)
                                          : -EPERM;
    inode_put(ino);
    nd_release(&pp.nd);
    return r;
}

int vfs_unlink(struct fs_context *ctx, struct inode *start, const char *path)
{
    struct parent pp;
    int r = get_parent(&pp, ctx, start, path);
    if (r < 0)
        return r;
    struct inode *dir = pp.nd.cur, *victim = NULL;
    if (last_is_special(&pp))
        r = -EISDIR;
    else if ((r = lookup_last_raw(&pp, &victim)) == 0) {
        if (S_ISDIR(victim->mode))
            r = -EISDIR;
        else if (pp.slash)
            r = -ENOTDIR;
        else if (!dir->iops->unlink)
            r = -EPERM;
        else
            r = dir->iops->unlink(dir, pp.last, pp.len);
    }
    inode_put(victim);
    nd_release(&pp.nd);
    return r;
}

int vfs_rmdir(struct fs_context *ctx, struct inode *start, const char *path)
{
    struct parent pp;
    int r = get_parent(&pp, ctx, start, path);
    if (r < 0)
        return r;
    struct inode *dir = pp.nd.cur, *victim = NULL;
    if (pp.len == 0)
        r = -EBUSY;
    else if (is_dot(pp.last, pp.len))
        r = -EINVAL;
    else if (is_dotdot(pp.last, pp.len))
        r = -ENOTEMPTY;
    else if ((r = lookup_last_raw(&pp, &victim)) == 0) {
        if (!S_ISDIR(victim->mode))
            r = -ENOTDIR;
        else if (is_mountpoint(victim) || victim == pp.nd.root)
            r = -EBUSY;
        else if (!dir->iops->rmdir)
            r = -EPERM;
        else
            r = dir->iops->rmdir(dir, pp.last, pp.len);
    }
    inode_put(victim);
    nd_release(&pp.nd);
    return r;
}

int vfs_rename(struct fs_context *ctx, struct inode *oldstart, const char *oldpath, struct inode *newstart,
               const char *newpath, unsigned flags)
{
    if (flags & ~(unsigned)RENAME_NOREPLACE)
        return -EINVAL;
    struct parent op, np;
    int r = get_parent(&op, ctx, oldstart, oldpath);
    if (r < 0)
        return r;
    if ((r = get_parent(&np, ctx, newstart, newpath)) < 0) {
        nd_release(&op.nd);
        return r;
    }
    struct inode *odir = op.nd.cur, *ndir = np.nd.cur, *src = NULL, *dst = NULL;
    if (last_is_special(&op) || last_is_special(&np))
        r = -EBUSY;
    else if ((r = lookup_last_raw(&op, &src)) < 0)
        ;
    else if (odir->dev != ndir->dev)
        r = -EXDEV;
    else if ((op.slash || np.slash) && !S_ISDIR(src->mode))
        r = -ENOTDIR;
    else if (is_mountpoint(src))
        r = -EBUSY;
    else {
        int e = lookup_last_raw(&np, &dst);
        if (e == 0 && (flags & RENAME_NOREPLACE))
            r = -EEXIST;
        else if (e == 0 && dst != src && is_mountpoint(dst))
            r = -EBUSY;
        else if (e < 0 && e != -ENOENT)
            r = e;
        else if (!odir->iops->rename)
            r = -EPERM;
        else
            r = odir->iops->rename(odir, op.last, op.len, ndir, np.last, np.len);
    }
    inode_put(src);
    inode_put(dst);
    nd_release(&op.nd);
    nd_release(&np.nd);
    return r;
}

int vfs_symlink(struct fs_context *ctx, const char *target, struct inode *start, const char *path)
{
    if (!target || !*target)
        return -ENOENT;
    if (strnlen(target, PATH_MAX) >= PATH_MAX)
        return -ENAMETOOLONG;
    struct parent pp;
    int r = get_parent(&pp, ctx, start, path);
    if (r < 0)
        return r;
    struct inode *dir = pp.nd.cur;
    if (last_is_special(&pp))
        r = -EEXIST;
    else if (!dir->iops || !dir->iops->symlink)
        r = -EPERM;
    else
        r = dir->iops->symlink(dir, pp.last, pp.len, target);
    nd_release(&pp.nd);
    return r;
}

int vfs_link(struct fs_context *ctx, struct inode *oldstart, const char *oldpath, struct inode *newstart,
             const char *newpath, bool follow)
{
    struct inode *target;
    int r = vfs_lookup(ctx, oldstart, oldpath, follow, &target);
    if (r < 0)
        return r;
    r = vfs_link_inode(ctx, target, newstart, newpath);
    inode_put(target);
    return r;
}

int vfs_link_inode(struct fs_context *ctx, struct inode *target, struct inode *start, const char *path)
{
    if (S_ISDIR(target->mode))
        return -EPERM;
    struct parent pp;
    int r = get_parent(&pp, ctx, start, path);
    if (r < 0)
        return r;
    struct inode *dir = pp.nd.cur;
    if (last_is_special(&pp))
        r = -EEXIST;
    else if (dir->dev != target->dev)
        r = -EXDEV;
    else if (!dir->iops || !dir->iops->link)
        r = -EPERM;
    else
        r = dir->iops->link(dir, pp.last, pp.len, target);
    nd_release(&pp.nd);
    return r;
}

long vfs_readlink_inode(struct inode *ino, char *buf, size_t size)
{
    if (!S_ISLNK(ino->mode))
        return -EINVAL;
    if (!ino->iops || !ino->iops->readlink)
        return -EINVAL;
    return ino->iops->readlink(ino, buf, size);
}

static void set_cwd(struct fs_context *ctx, struct inode *dir, const char *path, size_t len)
{
    struct inode *old = ctx->cwd;
    ctx->cwd = dir;
    memcpy(ctx->cwd_path, path, len + 1);
    inode_put(old);
}

int vfs_chdir(struct fs_context *ctx, const char *path)
{
    if (!path || !*path)
        return -ENOENT;
    if (strnlen(path, PATH_MAX) >= PATH_MAX)
        return -ENAMETOOLONG;
    struct nameidata nd;
    int r = nd_init(&nd, ctx, NULL, NULL, true);
    if (r < 0)
        return r;
    r = walk(&nd, path, true);
    if (r == 0 && !S_ISDIR(nd.cur->mode))
        r = -ENOTDIR;
    if (r == 0 && !nd.path)
        r = -ENAMETOOLONG;
    if (r == 0) {
        set_cwd(ctx, nd.cur, nd.path, nd.pathlen);
        nd.cur = NULL;
    }
    nd_release(&nd);
    return r;
}

int vfs_chdir_file(struct fs_context *ctx, struct file *f)
{
    if (!S_ISDIR(f->inode->mode))
        return -ENOTDIR;
    if (!f->abs_path)
        return -ENAMETOOLONG;
    inode_get(f->inode);
    set_cwd(ctx, f->inode, f->abs_path, strlen(f->abs_path));
    return 0;
}

int vfs_permission(struct inode *ino, int mask, uint32_t uid, uint32_t gid)
{
    mask &= R_OK | W_OK | X_OK;
    uint32_t m = ino->mode;
    if (uid == 0) {
        /* root: everything, except executing a file nobody may execute */
        if ((mask & X_OK) && !S_ISDIR(m) && !(m & 0111))
            return -EACCES;
        return 0;
    }
    uint32_t bits = uid == ino->uid ? (m >> 6) & 7 : gid == ino->gid ? (m >> 3) & 7 : m & 7;
    return (bits & (uint32_t)mask) == (uint32_t)mask ? 0 : -EACCES;
}

/* ---- Mounts -------------------------------------------------------------------------------- */

static char *kstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = kmalloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static int mount_at(struct fs_context *ctx, const char *path, struct inode *root, const char *source,
                    const char *fstype)
{
    if (!path || !*path)
        return -ENOENT;
    if (strnlen(path, PATH_MAX) >= PATH_MAX)
        return -ENAMETOOLONG;
    if (!S_ISDIR(root->mode))
        return -ENOTDIR;
    struct nameidata nd;
    int r = nd_init(&nd, ctx, NULL, NULL, true);
    if (r < 0)
        return r;
    r = walk(&nd, path, true);
    struct mount *m = NULL;
    if (r == 0 && !S_ISDIR(nd.cur->mode))
        r = -ENOTDIR;
    if (r == 0 && !(m = kzalloc(sizeof *m)))
        r = -ENOMEM;
    if (r == 0) {
        m->source = kstrdup(source);
        m->fstype = kstrdup(fstype);
        m->target = kstrdup(nd.path ? nd.path : path);
        if (!m->source || !m->fstype || !m->target)
            r = -ENOMEM;
    }
    if (r == 0) {
        struct inode *top = nd.cur;
        uint64_t f = spin_lock_irqsave(&mount_lock);
        if (root->covered || root == top || top->mounted) {
            r = -EBUSY;             /* already mounted (here or elsewhere) */
        } else {
            top->mounted = root;
            root->covered = top;
            m->root = root;
            m->covered = top;
            list_add_tail(&m->link, &mounts);
        }
        spin_unlock_irqrestore(&mount_lock, f);
        if (r == 0) {
            inode_get(root);
            nd.cur = NULL;          /* the mount keeps the covered directory's reference */
        }
    }
    if (r < 0 && m) {
        kfree(m->source);
        kfree(m->fstype);
        kfree(m->target);
        kfree(m);
    }
    nd_release(&nd);
    return r;
}

int vfs_mount(struct fs_context *ctx, const char *path, struct inode *root)
{
    const char *type = vfs_fs_type(root->dev);
    return mount_at(ctx, path, root, type, type);
}

#if __has_include("kernel/procfs.h")
#include "kernel/procfs.h"
#define HAVE_PROCFS 1
#endif

int vfs_mount_fs(struct fs_context *ctx, const char *source, const char *target, const char *fstype)
{
    struct inode *root = NULL;
    if (strcmp(fstype, "proc") == 0) {
#ifdef HAVE_PROCFS
        root = procfs_root();       /* referenced for us */
#endif
    } else if (strcmp(fstype, "devtmpfs") == 0 || strcmp(fstype, "devfs") == 0) {
        devfs_init();
        root = devfs_root();
        if (root)
            inode_get(root);
    } else if (strcmp(fstype, "tmpfs") == 0 || strcmp(fstype, "ramfs") == 0) {
        root = ramfs_new(strcmp(fstype, "tmpfs") == 0 ? "tmpfs" : "ramfs");
        if (!root)
            return -ENOMEM;
        root->mode = S_IFDIR | (strcmp(fstype, "tmpfs") == 0 ? 01777 : 0755);
    }
    if (!root)
        return -ENODEV;
    int r = mount_at(ctx, target, root, source && *source ? source : fstype, fstype);
    inode_put(root);
    return r;
}

int vfs_umount(struct fs_context *ctx, const char *target)
{
    struct inode *top;
    int r = vfs_lookup(ctx, NULL, target, true, &top);
    if (r < 0)
        return r;
    struct mount *found = NULL;
    uint64_t f = spin_lock_irqsave(&mount_lock);
    if (!top->covered) {
        r = -EINVAL;                /* not a mount point */
    } else if (top->mounted) {
        r = -EBUSY;                 /* something is mounted on top of it */
    } else {
        struct list_head *pos;
        list_for_each(pos, &mounts) {
            struct mount *m = list_entry(pos, struct mount, link);
            if (m->root == top)
                found = m;
        }
        if (found) {
            top->covered->mounted = NULL;
            top->covered = NULL;
            list_del(&found->link);
        } else {
            r = -EINVAL;
        }
    }
    spin_unlock_irqrestore(&mount_lock, f);
    inode_put(top);
    if (found) {
        /* A tmpfs dies with its mount: its names go, so its memory comes back as soon as nothing
         * inside is open. (devfs and procfs are shared and stay.) */
        if (strcmp(found->fstype, "tmpfs") == 0 || strcmp(found->fstype, "ramfs") == 0)
            ramfs_clear(found->root);
        inode_put(found->root);
        inode_put(found->covered);
        kfree(found->source);
        kfree(found->fstype);
        kfree(found->target);
        kfree(found);
    }
    return r;
}

void vfs_for_each_mount(bool (*fn)(const struct vfs_mount_info *m, void *ctx), void *ctx)
{
    uint64_t f = spin_lock_irqsave(&mount_lock);
    struct list_head *pos;
    list_for_each(pos, &mounts) {
        struct mount *m = list_entry(pos, struct mount, link);
        struct vfs_mount_info info = { m->source, m->target, m->fstype, m->root->dev };
        if (!fn(&info, ctx))
            break;
    }
    spin_unlock_irqrestore(&mount_lock, f);
}

/* ---- Descriptor tables --------------------------------------------------------------------- */

struct fdtable *fdtable_new(void)
{
    struct fdtable *t = kzalloc(sizeof *t);
    if (!t)
        return NULL;
    t->refcount = 1;
    t->lock = (struct spinlock)SPINLOCK_INIT("fdtable");
    return t;
}

struct fdtable *fdtable_clone(struct fdtable *t)
{
    struct fdtable *n = fdtable_new();
    if (!n)
        return NULL;
    uint64_t f = spin_lock_irqsave(&t->lock);
    for (int i = 0; i < FD_MAX; i++) {
        if (t->fd[i]) {
            n->fd[i] = t->fd[i];
            n->cloexec[i] = t->cloexec[i];
            file_get(t->fd[i]);
        }
    }
    spin_unlock_irqrestore(&t->lock, f);
    return n;
}

void fdtable_get(struct fdtable *t) { __atomic_add_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL); }

void fdtable_put(struct fdtable *t)
{
    if (!t || __atomic_sub_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (int i = 0; i < FD_MAX; i++)
        file_put(t->fd[i]);
    kfree(t);
}

void fdtable_close_on_exec(struct fdtable *t)
{
    for (int i = 0; i < FD_MAX; i++) {
        uint64_t f = spin_lock_irqsave(&t->lock);
        struct file *victim = NULL;
        if (t->fd[i] && t->cloexec[i]) {
            victim = t->fd[i];
            t->fd[i] = NULL;
            t->cloexec[i] = 0;
        }
        spin_unlock_irqrestore(&t->lock, f);
        file_put(victim);
    }
}

int fd_install(struct fdtable *t, struct file *f, int min_fd, bool cloexec)
{
    if (min_fd < 0)
        return -EINVAL;
    int fd = -EMFILE;
    uint64_t fl = spin_lock_irqsave(&t->lock);
    for (int i = min_fd; i < FD_MAX; i++) {
        if (!t->fd[i]) {
            t->fd[i] = f;
            t->cloexec[i] = cloexec;
            fd = i;
            break;
        }
    }
    spin_unlock_irqrestore(&t->lock, fl);
    return fd;
}

struct file *fd_get(struct fdtable *t, int fd)
{
    if (!t || fd < 0 || fd >= FD_MAX)
        return NULL;
    uint64_t fl = spin_lock_irqsave(&t->lock);
    struct file *f = t->fd[fd];
    if (f)
        file_get(f);
    spin_unlock_irqrestore(&t->lock, fl);
    return f;
}

int fd_close(struct fdtable *t, int fd)
{
    if (fd < 0 || fd >= FD_MAX)
        return -EBADF;
    uint64_t fl = spin_lock_irqsave(&t->lock);
    struct file *f = t->fd[fd];
    t->fd[fd] = NULL;
    t->cloexec[fd] = 0;
    spin_unlock_irqrestore(&t->lock, fl);
    if (!f)
        return -EBADF;
    file_put(f);
    return 0;
}

int fd_dup(struct fdtable *t, int oldfd, int min_fd, bool cloexec)
{
    if (min_fd < 0 || min_fd >= FD_MAX)
        return -EINVAL;
    struct file *f = fd_get(t, oldfd);
    if (!f)
        return -EBADF;
    int fd = fd_install(t, f, min_fd, cloexec);
    if (fd < 0)
        file_put(f);
    return fd;
}

int fd_dup2(struct fdtable *t, int oldfd, int newfd, bool cloexec)
{
    if (newfd < 0 || newfd >= FD_MAX)
        return -EBADF;
    struct file *f = fd_get(t, oldfd);
    if (!f)
        return -EBADF;
    uint64_t fl = spin_lock_irqsave(&t->lock);
    struct file *old = t->fd[newfd];
    t->fd[newfd] = f;
    t->cloexec[newfd] = cloexec;
    spin_unlock_irqrestore(&t->lock, fl);
    file_put(old);                  /* after the swap: release may sleep */
    return newfd;
}

int fd_get_cloexec(struct fdtable *t, int fd)
{
    if (fd < 0 || fd >= FD_MAX)
        return -EBADF;
    uint64_t fl = spin_lock_irqsave(&t->lock);
    int r = t->fd[fd] ? t->cloexec[fd] : -EBADF;
    spin_unlock_irqrestore(&t->lock, fl);
    return r;
}

int fd_set_cloexec(struct fdtable *t, int fd, bool on)
{
    if (fd < 0 || fd >= FD_MAX)
        return -EBADF;
    uint64_t fl = spin_lock_irqsave(&t->lock);
    int r = -EBADF;
    if (t->fd[fd]) {
        t->cloexec[fd] = on;
        r = 0;
    }
    spin_unlock_irqrestore(&t->lock, fl);
    return r;
}

/* ---- File-system contexts ------------------------------------------------------------------ */

struct fs_context *fs_context_new(void)
{
    if (!root_inode)
        return NULL;
    struct fs_context *c = kzalloc(sizeof *c);
    if (!c)
        return NULL;
    inode_get(root_inode);
    inode_get(root_inode);
    c->root = c->cwd = root_inode;
    strlcpy(c->cwd_path, "/", sizeof c->cwd_path);
    c->umask = 022;
    c->refcount = 1;
    return c;
}

struct fs_context *fs_context_clone(struct fs_context *c)
{
    struct fs_context *n = kmalloc(sizeof *n);
    if (!n)
        return NULL;
    memcpy(n, c, sizeof *n);
    inode_get(n->root);
    inode_get(n->cwd);
    n->refcount = 1;
    return n;
}

void fs_context_get(struct fs_context *c) { __atomic_add_fetch(&c->refcount, 1, __ATOMIC_ACQ_REL); }

void fs_context_put(struct fs_context *c)
{
    if (!c || __atomic_sub_fetch(&c->refcount, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    inode_put(c->cwd);
    inode_put(c->root);
    kfree(c);
}

/* ---- Boot ---------------------------------------------------------------------------------- */

struct inode *vfs_root(void) { return root_inode; }

void vfs_init(void)
{
    if (root_inode)
        return;
    struct inode *root = ramfs_new("rootfs");
    struct mount *m = kzalloc(sizeof *m);
    if (!root || !m)
        panic("vfs: no memory for the root file system");
    root->mode = S_IFDIR | 0755;
    m->root = root;
    m->source = kstrdup("rootfs");
    m->fstype = kstrdup("rootfs");
    m->target = kstrdup("/");
    list_add_tail(&m->link, &mounts);
    root_inode = root;              /* the reference from ramfs_new stays with the mount */

    static const struct { const char *path; uint32_t mode; } dirs[] = {
        { "/dev", 0755 }, { "/proc", 0555 }, { "/tmp", 01777 }, { "/root", 0700 },
    };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        int r = vfs_mkdir(NULL, NULL, dirs[i].path, dirs[i].mode);
        if (r < 0)
            printk(LOG_ERR, "vfs: mkdir %s: %d\n", dirs[i].path, r);
    }
    devfs_init();
    int r = vfs_mount_fs(NULL, "devtmpfs", "/dev", "devtmpfs");
    if (r < 0)
        printk(LOG_ERR, "vfs: mounting devfs on /dev: %d\n", r);
}
