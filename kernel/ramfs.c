/*
 * kernel/ramfs.c: the writable in-memory file system (the root, tmpfs, and devfs underneath):
 * directories, regular files, symlinks, hard links, device nodes, rename with replacement.
 *
 * A regular file's data is an array of 4 KiB pages (NULL = a hole, reads as zeros) that doubles
 * as the file grows, so reads and writes cost O(bytes), whatever the file size. A directory is a
 * list of entries; each gets a "cookie" (increasing) that is its getdents position, so entries
 * removed or added during a listing never make it skip the others. Directory entries do not hold
 * references: an inode lives while it has names (nlink) or references (see kernel/vfs.h).
 * A directory's parent pointer is valid while it has a name; rmdir clears it.
 *
 * One sleeping lock serialises every ramfs instance (simple; the data copies under it are
 * bounded by the system-call layer's chunks). Nothing here calls inode_put() with it held,
 * because that may free an inode.
 */
#include "kernel/errno.h"
#include "kernel/kmalloc.h"
#include "kernel/list.h"
#include "kernel/mm.h"
#include "kernel/pmm.h"
#include "kernel/sched.h"
#include "kernel/string.h"
#include "kernel/vfs.h"

#define RAMFS_MAX_FILE (1ull << 40)     /* 1 TiB: keeps page indexes and sizes far from overflow */
#define FIRST_COOKIE 2                  /* 0 and 1 are "." and ".." */

struct ramfs_dirent {
    struct list_head link;
    struct inode *inode;
    uint64_t cookie;
    size_t len;
    char name[];
};

struct ramfs_node {
    union {
        struct {
            struct list_head entries;
            uint64_t next_cookie;
            struct inode *parent;       /* NULL for a root and after rmdir */
            size_t count;
        } dir;
        struct {
            uint8_t **pages;
            size_t slots;
        } reg;
        struct {
            char *target;
        } lnk;
    };
};

static const struct inode_ops ramfs_dir_iops, ramfs_file_iops, ramfs_link_iops, ramfs_special_iops;
static const struct file_ops ramfs_dir_fops, ramfs_file_fops;

/* ---- The lock ------------------------------------------------------------------------------ */

static struct waitqueue lock_wq = { LIST_HEAD_INIT(lock_wq.waiters) };
static bool locked;

/* Called with interrupts off (wait_event's condition), so test-and-set is atomic on our CPU. */
static bool try_lock(void)
{
    if (locked)
        return false;
    locked = true;
    return true;
}

static void ramfs_lock(void) { wait_event(lock_wq, try_lock()); }

static void ramfs_unlock(void)
{
    uint64_t f = irq_save();
    locked = false;
    wake_up(&lock_wq);
    irq_restore(f);
}

/* ---- Nodes --------------------------------------------------------------------------------- */

static struct ramfs_node *node(struct inode *ino) { return ino->priv; }

/* A new inode of the given type on dir's instance; refcount 1, nlink 0 (the caller names it). */
static struct inode *new_inode(uint32_t dev, uint32_t mode)
{
    struct inode *ino = inode_alloc(dev, mode);
    if (!ino)
        return NULL;
    if (S_ISDIR(mode) || S_ISREG(mode) || S_ISLNK(mode)) {
        struct ramfs_node *n = kzalloc(sizeof *n);
        if (!n) {
            kfree(ino);
            return NULL;
        }
        ino->priv = n;
    }
    switch (mode & S_IFMT) {
    case S_IFDIR:
        list_init(&node(ino)->dir.entries);
        node(ino)->dir.next_cookie = FIRST_COOKIE;
        ino->iops = &ramfs_dir_iops;
        ino->fops = &ramfs_dir_fops;
        break;
    case S_IFREG:
        ino->iops = &ramfs_file_iops;
        ino->fops = &ramfs_file_fops;
        break;
    case S_IFLNK:
        ino->iops = &ramfs_link_iops;
        break;
    default:
        ino->iops = &ramfs_special_iops;
        break;
    }
    return ino;
}

struct inode *ramfs_new(const char *fstype)
{
    struct inode *root = new_inode(vfs_alloc_dev(fstype), S_IFDIR | 0755);
    if (root)
        root->nlink = 2;
    return root;
}

static void free_pages_from(struct ramfs_node *n, size_t first)
{
    for (size_t i = first; i < n->reg.slots; i++) {
        if (n->reg.pages[i]) {
            page_put(V2P(n->reg.pages[i]));     /* mappings may still hold it */
            n->reg.pages[i] = NULL;
        }
    }
}

static void ramfs_evict(struct inode *ino)
{
    struct ramfs_node *n = node(ino);
    if (!n)
        return;
    if (S_ISREG(ino->mode)) {
        free_pages_from(n, 0);
        kfree(n->reg.pages);
    } else if (S_ISLNK(ino->mode)) {
        kfree(n->lnk.target);
    }
    /* A directory is empty by now: rmdir refuses otherwise, and its parent pointer is cleared. */
    kfree(n);
    ino->priv = NULL;
}

/* ---- Directories --------------------------------------------------------------------------- */

static struct ramfs_dirent *find(struct inode *dir, const char *name, size_t len)
{
    struct list_head *pos;
    list_for_each(pos, &node(dir)->dir.entries) {
        struct ramfs_dirent *d = list_entry(pos, struct ramfs_dirent, link);
        if (d->len == len && memcmp(d->name, name, len) == 0)
            return d;
    }
    return NULL;
}

static int add_entry(struct inode *dir, const char *name, size_t len, struct inode *ino)
{
    struct ramfs_dirent *d = kmalloc(sizeof *d + len + 1);
    if (!d)
        return -ENOMEM;
    d->inode = ino;
    d->len = len;
    memcpy(d->name, name, len);
    d->name[len] = '\0';
    d->cookie = node(dir)->dir.next_cookie++;
    list_add_tail(&d->link, &node(dir)->dir.entries);
    node(dir)->dir.count++;
    dir->size = node(dir)->dir.count;
    inode_touch(dir, true, true);
    return 0;
}

static void remove_entry(struct inode *dir, struct ramfs_dirent *d)
{
    list_del(&d->link);
    kfree(d);
    node(dir)->dir.count--;
    dir->size = node(dir)->dir.count;
    inode_touch(dir, true, true);
}

/* A directory that was removed (rmdir) accepts no new names and finds nothing. */
static bool dir_dead(struct inode *dir) { return dir->nlink == 0; }

static int ramfs_lookup(struct inode *dir, const char *name, size_t len, struct inode **out)
{
    int r = 0;
    ramfs_lock();
    if (len == 2 && name[0] == '.' && name[1] == '.') {
        struct inode *p = node(dir)->dir.parent;
        if (dir_dead(dir) && !p)
            r = -ENOENT;
        else
            *out = p ? p : dir;
    } else if (dir_dead(dir)) {
        r = -ENOENT;
    } else {
        struct ramfs_dirent *d = find(dir, name, len);
        if (d)
            *out = d->inode;
        else
            r = -ENOENT;
    }
    if (r == 0)
        inode_get(*out);
    ramfs_unlock();
    return r;
}

/* Creates and names a new inode; *out gets a reference if out is given. */
static int make_node(struct inode *dir, const char *name, size_t len, uint32_t mode, uint64_t rdev,
                     const char *target, struct inode **out)
{
    struct inode *ino = new_inode(dir->dev, mode);
    if (!ino)
        return -ENOSPC;
    if (target) {
        size_t tl = strlen(target);
        node(ino)->lnk.target = kmalloc(tl + 1);
        if (!node(ino)->lnk.target) {
            inode_put(ino);
            return -ENOSPC;
        }
        memcpy(node(ino)->lnk.target, target, tl + 1);
        ino->size = tl;
    }
    ino->rdev = rdev;
    if (S_ISCHR(mode)) {
        void *priv = NULL;
        ino->fops = devfs_find(rdev, &priv);
        ino->priv = priv;
    }
    int r;
    ramfs_lock();
    if (dir_dead(dir))
        r = -ENOENT;
    else if (find(dir, name, len))
        r = -EEXIST;
    else
        r = add_entry(dir, name, len, ino);
    if (r == 0) {
        if (S_ISDIR(mode)) {
            ino->nlink = 2;
            node(ino)->dir.parent = dir;
            dir->nlink++;
        } else {
            ino->nlink = 1;
        }
    }
    ramfs_unlock();
    if (r == 0 && out)
        *out = ino;
    else
        inode_put(ino);             /* frees it unless it was named */
    return r;
}

static int ramfs_create(struct inode *dir, const char *name, size_t len, uint32_t mode, struct inode **out)
{
    return make_node(dir, name, len, S_IFREG | (mode & 07777), 0, NULL, out);
}

static int ramfs_mkdir(struct inode *dir, const char *name, size_t len, uint32_t mode)
{
    return make_node(dir, name, len, S_IFDIR | (mode & 07777), 0, NULL, NULL);
}

static int ramfs_mknod(struct inode *dir, const char *name, size_t len, uint32_t mode, uint64_t rdev,
                       struct inode **out)
{
    uint32_t type = mode & S_IFMT;
    if (type != S_IFCHR && type != S_IFBLK && type != S_IFIFO && type != S_IFSOCK)
        return -EINVAL;
    return make_node(dir, name, len, mode & (S_IFMT | 07777), rdev, NULL, out);
}

static int ramfs_symlink(struct inode *dir, const char *name, size_t len, const char *target)
{
    return make_node(dir, name, len, S_IFLNK | 0777, 0, target, NULL);
}

static int ramfs_link(struct inode *dir, const char *name, size_t len, struct inode *target)
{
    if (S_ISDIR(target->mode))
        return -EPERM;
    int r;
    ramfs_lock();
    if (dir_dead(dir) || target->nlink == 0)
        r = -ENOENT;
    else if (find(dir, name, len))
        r = -EEXIST;
    else
        r = add_entry(dir, name, len, target);
    if (r == 0) {
        inode_set_nlink(target, target->nlink + 1);
        inode_touch(target, false, true);
    }
    ramfs_unlock();
    return r;
}

/* Drops one name of ino (which the caller has taken a reference on). */
static void drop_name(struct inode *ino)
{
    if (S_ISDIR(ino->mode)) {
        node(ino)->dir.parent = NULL;
        inode_set_nlink(ino, 0);
    } else {
        inode_set_nlink(ino, ino->nlink - 1);
    }
    inode_touch(ino, false, true);
}

static int ramfs_unlink(struct inode *dir, const char *name, size_t len)
{
    struct inode *victim = NULL;
    int r = 0;
    ramfs_lock();
    struct ramfs_dirent *d = dir_dead(dir) ? NULL : find(dir, name, len);
    if (!d) {
        r = -ENOENT;
    } else if (S_ISDIR(d->inode->mode)) {
        r = -EISDIR;
    } else {
        victim = d->inode;
        inode_get(victim);
        remove_entry(dir, d);
        drop_name(victim);
    }
    ramfs_unlock();
    inode_put(victim);              /* the last name and no one has it open: freed here */
    return r;
}

static int ramfs_rmdir(struct inode *dir, const char *name, size_t len)
{
    struct inode *victim = NULL;
    int r = 0;
    ramfs_lock();
    struct ramfs_dirent *d = dir_dead(dir) ? NULL : find(dir, name, len);
    if (!d) {
        r = -ENOENT;
    } else if (!S_ISDIR(d->inode->mode)) {
        r = -ENOTDIR;
    } else if (node(d->inode)->dir.count) {
        r = -ENOTEMPTY;
    } else if (d->inode->mounted) {
        r = -EBUSY;
    } else {
        victim = d->inode;
        inode_get(victim);
        remove_entry(dir, d);
        drop_name(victim);
        dir->nlink--;
    }
    ramfs_unlock();
    inode_put(victim);
    return r;
}

/* True if dir is ino or lies below it (walking parent pointers up to the root). */
static bool is_within(struct inode *dir, struct inode *ino)
{
    for (struct inode *p = dir; p; p = node(p)->dir.parent)
        if (p == ino)
            return true;
    return false;
}

static int ramfs_rename(struct inode *odir, const char *oname, size_t olen, struct inode *ndir,
                        const char *nname, size_t nlen)
{
    struct inode *victim = NULL;
    int r = 0;
    /* The new entry is allocated first, so nothing can fail after the old one is unlinked. */
    struct ramfs_dirent *nd = kmalloc(sizeof *nd + nlen + 1);
    if (!nd)
        return -ENOMEM;
    memcpy(nd->name, nname, nlen);
    nd->name[nlen] = '\0';
    nd->len = nlen;
    ramfs_lock();
    struct ramfs_dirent *od = dir_dead(odir) ? NULL : find(odir, oname, olen);
    struct ramfs_dirent *td = dir_dead(ndir) ? NULL : find(ndir, nname, nlen);
    struct inode *src = od ? od->inode : NULL, *dst = td ? td->inode : NULL;
    if (!od || dir_dead(ndir))
        r = -ENOENT;
    else if (odir->dev != ndir->dev)
        r = -EXDEV;
    else if (dst == src)
        r = 1;                      /* two names of one inode (or the same name): nothing to do */
    else if (S_ISDIR(src->mode) && is_within(ndir, src))
        r = -EINVAL;                /* a directory cannot move below itself */
    else if (dst && S_ISDIR(src->mode) && !S_ISDIR(dst->mode))
        r = -ENOTDIR;
    else if (dst && !S_ISDIR(src->mode) && S_ISDIR(dst->mode))
        r = -EISDIR;
    else if (dst && S_ISDIR(dst->mode) && (node(dst)->dir.count || dst->mounted))
        r = node(dst)->dir.count ? -ENOTEMPTY : -EBUSY;
    if (r == 0) {
        if (dst) {
            victim = dst;
            inode_get(victim);
            remove_entry(ndir, td);
            drop_name(victim);
            if (S_ISDIR(victim->mode))
                ndir->nlink--;
        }
        remove_entry(odir, od);
        nd->inode = src;
        nd->cookie = node(ndir)->dir.next_cookie++;
        list_add_tail(&nd->link, &node(ndir)->dir.entries);
        node(ndir)->dir.count++;
        ndir->size = node(ndir)->dir.count;
        inode_touch(ndir, true, true);
        inode_touch(src, false, true);
        if (S_ISDIR(src->mode) && odir != ndir) {
            node(src)->dir.parent = ndir;
            odir->nlink--;
            ndir->nlink++;
        }
        nd = NULL;
    }
    ramfs_unlock();
    kfree(nd);
    inode_put(victim);
    return r > 0 ? 0 : r;
}

/*
 * Removes every name below root (an unmounted instance), depth first without recursion: what is
 * still open lives on, unnamed, until closed, like any unlinked file.
 */
void ramfs_clear(struct inode *root)
{
    struct inode *cur = root;
    for (;;) {
        struct inode *victim = NULL, *next = cur;
        ramfs_lock();
        struct list_head *entries = &node(cur)->dir.entries;
        if (!list_empty(entries)) {
            struct ramfs_dirent *d = list_first_entry(entries, struct ramfs_dirent, link);
            if (S_ISDIR(d->inode->mode) && node(d->inode)->dir.count) {
                next = d->inode;            /* empty it first */
            } else {
                victim = d->inode;
                inode_get(victim);
                if (S_ISDIR(victim->mode))
                    cur->nlink--;
                remove_entry(cur, d);
                drop_name(victim);
            }
        } else if (cur != root) {
            next = node(cur)->dir.parent;   /* cur is empty now: its parent removes it next */
        }
        ramfs_unlock();
        inode_put(victim);
        if (next == cur && !victim)
            break;                          /* the root is empty */
        cur = next;
    }
    inode_set_nlink(root, 0);               /* dead: its last reference frees it */
}

static int ramfs_readdir(struct file *f, struct dirent_sink *sink)
{
    if (!dirent_emit_dots(f, sink))
        return 0;
    struct inode *dir = f->inode;
    ramfs_lock();
    if (!dir_dead(dir)) {
        struct list_head *pos;
        list_for_each(pos, &node(dir)->dir.entries) {
            struct ramfs_dirent *d = list_entry(pos, struct ramfs_dirent, link);
            if (d->cookie < f->pos)
                continue;
            if (!dirent_emit(sink, d->name, d->len, d->inode->ino, d->inode->mode))
                break;
            f->pos = d->cookie + 1;
        }
    }
    ramfs_unlock();
    return 0;
}

/* ---- Symlinks ------------------------------------------------------------------------------ */

static long ramfs_readlink(struct inode *ino, char *buf, size_t size)
{
    ramfs_lock();
    size_t n = ino->size < size ? ino->size : size;
    memcpy(buf, node(ino)->lnk.target, n);
    ramfs_unlock();
    return (long)n;
}

/* ---- Regular files ------------------------------------------------------------------------- */

/* Makes room for page indexes below slots (doubling), or returns -ENOSPC. */
static int reserve_slots(struct ramfs_node *n, size_t slots)
{
    if (slots <= n->reg.slots)
        return 0;
    size_t want = n->reg.slots ? n->reg.slots : 16;
    while (want < slots)
        want *= 2;
    uint8_t **pages = kzalloc(want * sizeof *pages);
    if (!pages)
        return -ENOSPC;
    if (n->reg.slots)
        memcpy(pages, n->reg.pages, n->reg.slots * sizeof *pages);
    kfree(n->reg.pages);
    n->reg.pages = pages;
    n->reg.slots = want;
    return 0;
}

static long ramfs_read(struct file *f, void *buf, size_t len, uint64_t *pos)
{
    struct inode *ino = f->inode;
    struct ramfs_node *n = node(ino);
    ramfs_lock();
    uint64_t p = *pos, size = ino->size;
    size_t done = 0;
    if (p < size) {
        if (len > size - p)
            len = size - p;
        while (done < len) {
            size_t idx = p / PAGE_SIZE, in = p % PAGE_SIZE;
            size_t c = PAGE_SIZE - in < len - done ? PAGE_SIZE - in : len - done;
            uint8_t *page = idx < n->reg.slots ? n->reg.pages[idx] : NULL;
            if (page)
                memcpy((uint8_t *)buf + done, page + in, c);
            else
                memset((uint8_t *)buf + done, 0, c);
            done += c;
            p += c;
        }
        *pos = p;
    }
    ramfs_unlock();
    return (long)done;
}

/* Mappings of a file share its pages (private ones copy a page when they first write it): every
 * process running busybox maps the same text pages, which saves the copy, the memory and, under
 * emulation, translating the same code again for each process. */
static int ramfs_lend_page(struct file *f, uint64_t off, uint64_t *pa)
{
    struct ramfs_node *n = node(f->inode);
    ramfs_lock();
    size_t idx = off / PAGE_SIZE;
    uint8_t *page = off < f->inode->size && idx < n->reg.slots ? n->reg.pages[idx] : NULL;
    if (page) {
        *pa = V2P(page);
        page_get(*pa);
    }
    ramfs_unlock();
    return page ? 0 : -ENOENT;
}

static long ramfs_write(struct file *f, const void *buf, size_t len, uint64_t *pos)
{
    struct inode *ino = f->inode;
    struct ramfs_node *n = node(ino);
    long r = 0;
    ramfs_lock();
    uint64_t p = (f->flags & O_APPEND) ? ino->size : *pos;
    if (p >= RAMFS_MAX_FILE)
        r = -EFBIG;
    else if (len > RAMFS_MAX_FILE - p)
        len = RAMFS_MAX_FILE - p;
    if (r == 0)
        r = reserve_slots(n, (p + len + PAGE_SIZE - 1) / PAGE_SIZE);
    size_t done = 0;
    while (r == 0 && done < len) {
        size_t idx = p / PAGE_SIZE, in = p % PAGE_SIZE;
        size_t c = PAGE_SIZE - in < len - done ? PAGE_SIZE - in : len - done;
        if (!n->reg.pages[idx]) {
            uint64_t pa = page_alloc_user();    /* zeroed, counted: mappings share it */
            if (!pa) {
                r = -ENOSPC;
                break;
            }
            n->reg.pages[idx] = P2V(pa);
        }
        memcpy(n->reg.pages[idx] + in, (const uint8_t *)buf + done, c);
        done += c;
        p += c;
    }
    if (done) {
        if (p > ino->size)
            ino->size = p;
        inode_touch(ino, true, true);
        *pos = p;
    }
    ramfs_unlock();
    return done ? (long)done : r;
}

static int ramfs_truncate(struct inode *ino, uint64_t size)
{
    if (size > RAMFS_MAX_FILE)
        return -EFBIG;
    struct ramfs_node *n = node(ino);
    ramfs_lock();
    if (size < ino->size) {
        size_t keep = (size + PAGE_SIZE - 1) / PAGE_SIZE;
        free_pages_from(n, keep);
        /* The rest of a partial last page must read as zeros if the file grows again. */
        if (size % PAGE_SIZE && keep - 1 < n->reg.slots && n->reg.pages[keep - 1])
            memset(n->reg.pages[keep - 1] + size % PAGE_SIZE, 0, PAGE_SIZE - size % PAGE_SIZE);
    }
    ino->size = size;
    inode_touch(ino, true, true);
    ramfs_unlock();
    return 0;
}

/* ---- Operation tables ---------------------------------------------------------------------- */

static const struct inode_ops ramfs_dir_iops = {
    .lookup = ramfs_lookup,
    .create = ramfs_create,
    .mkdir = ramfs_mkdir,
    .unlink = ramfs_unlink,
    .rmdir = ramfs_rmdir,
    .rename = ramfs_rename,
    .symlink = ramfs_symlink,
    .link = ramfs_link,
    .mknod = ramfs_mknod,
    .evict = ramfs_evict,
};

static const struct inode_ops ramfs_file_iops = {
    .truncate = ramfs_truncate,
    .evict = ramfs_evict,
};

static const struct inode_ops ramfs_link_iops = {
    .readlink = ramfs_readlink,
    .evict = ramfs_evict,
};

static const struct inode_ops ramfs_special_iops = {
    .evict = NULL,                  /* device nodes: priv belongs to the driver */
};

static const struct file_ops ramfs_dir_fops = {
    .readdir = ramfs_readdir,
};

static const struct file_ops ramfs_file_fops = {
    .read = ramfs_read,
    .write = ramfs_write,
    .lend_page = ramfs_lend_page,
};
