/*
 * kernel/initrd.c: unpacks a cpio newc archive (a boot module) into the root file system:
 * directories, regular files, symlinks, hard links and device nodes, with the archive's modes,
 * owners and modification times. Missing parent directories are made; an entry replaces a file
 * already there, so later modules overlay earlier ones. A malformed archive stops the unpacking
 * at the bad entry (what came before stays).
 */
#include "kernel/cpio.h"
#include "kernel/errno.h"
#include "kernel/kmalloc.h"
#include "kernel/printk.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/vfs.h"

/* Files with several names: newc stores the data with the last name; the others come empty. */
struct hardlink {
    uint32_t ino, major, minor;
    char *path;
};

struct unpack {
    struct hardlink *links;
    size_t nlinks, cap;
    int files, dirs, symlinks, nodes, errors;
};

/* "./a//b/" -> "/a/b"; false for names with a ".." component or too long. */
static bool clean_name(const char *name, char *out, size_t size)
{
    size_t o = 0;
    const char *p = name;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *c = p;
        while (*p && *p != '/')
            p++;
        size_t len = p - c;
        if (len == 1 && c[0] == '.')
            continue;
        if (len == 2 && c[0] == '.' && c[1] == '.')
            return false;
        if (o + 1 + len >= size)
            return false;
        out[o++] = '/';
        memcpy(out + o, c, len);
        o += len;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    return true;
}

static void make_parents(char *path)
{
    for (char *s = path + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            vfs_mkdir(NULL, NULL, path, 0755);      /* EEXIST is fine */
            *s = '/';
        }
    }
}

static int write_data(const char *path, const struct cpio_entry *e, uint32_t flags)
{
    struct file *f;
    int r = vfs_open(NULL, NULL, path, O_WRONLY | flags, e->mode & 07777, &f);
    if (r < 0)
        return r;
    size_t done = 0;
    while (done < e->size) {
        long n = vfs_write(f, e->data + done, e->size - done);
        if (n <= 0) {
            r = n < 0 ? (int)n : -EIO;
            break;
        }
        done += n;
    }
    file_put(f);
    return r;
}

static struct hardlink *find_link(struct unpack *u, const struct cpio_entry *e)
{
    for (size_t i = 0; i < u->nlinks; i++)
        if (u->links[i].ino == e->ino && u->links[i].major == e->devmajor && u->links[i].minor == e->devminor)
            return &u->links[i];
    return NULL;
}

static void remember_link(struct unpack *u, const struct cpio_entry *e, const char *path)
{
    if (u->nlinks == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 16;
        struct hardlink *n = kmalloc(cap * sizeof *n);
        if (!n)
            return;
        if (u->nlinks)
            memcpy(n, u->links, u->nlinks * sizeof *n);
        kfree(u->links);
        u->links = n;
        u->cap = cap;
    }
    size_t len = strlen(path) + 1;
    char *copy = kmalloc(len);
    if (!copy)
        return;
    memcpy(copy, path, len);
    u->links[u->nlinks++] = (struct hardlink){ e->ino, e->devmajor, e->devminor, copy };
}

static int unpack_file(struct unpack *u, const struct cpio_entry *e, const char *path)
{
    int r = vfs_unlink(NULL, NULL, path);   /* replace what an earlier module put there */
    if (r < 0 && r != -ENOENT)
        return r;
    struct hardlink *hl = e->nlink > 1 ? find_link(u, e) : NULL;
    if (hl) {
        if ((r = vfs_link(NULL, NULL, hl->path, NULL, path, false)) < 0)
            return r;
        return e->size ? write_data(path, e, O_TRUNC) : 0;
    }
    if ((r = write_data(path, e, O_CREAT | O_EXCL)) < 0)
        return r;
    if (e->nlink > 1)
        remember_link(u, e, path);
    u->files++;
    return 0;
}

static int unpack_symlink(struct unpack *u, const struct cpio_entry *e, const char *path)
{
    char *target = kmalloc(e->size + 1);
    if (!target)
        return -ENOMEM;
    memcpy(target, e->data, e->size);
    target[e->size] = '\0';
    int r = vfs_unlink(NULL, NULL, path);
    if (r == 0 || r == -ENOENT)
        r = vfs_symlink(NULL, target, NULL, path);
    kfree(target);
    if (r == 0)
        u->symlinks++;
    return r;
}

/* The archive's owner, permissions and time, on what now has this name. */
static void set_attrs(const struct cpio_entry *e, const char *path)
{
    struct inode *ino;
    if (vfs_lookup(NULL, NULL, path, false, &ino) < 0)
        return;
    if (!ino->covered) {            /* leave mounted roots (devfs on /dev) alone */
        if (!S_ISLNK(ino->mode))
            ino->mode = (ino->mode & S_IFMT) | (e->mode & 07777);
        ino->uid = e->uid;
        ino->gid = e->gid;
        ino->mtime_ns = ino->atime_ns = (uint64_t)e->mtime * NSEC_PER_SEC;
    }
    inode_put(ino);
}

static int unpack_entry(struct unpack *u, const struct cpio_entry *e, char *path)
{
    int r;
    make_parents(path);
    switch (e->mode & S_IFMT) {
    case S_IFDIR:
        r = vfs_mkdir(NULL, NULL, path, e->mode & 07777);
        if (r == 0)
            u->dirs++;
        if (r == -EEXIST) {
            struct inode *ino;
            if (vfs_lookup(NULL, NULL, path, true, &ino) == 0) {
                r = S_ISDIR(ino->mode) ? 0 : -EEXIST;
                inode_put(ino);
            }
        }
        break;
    case S_IFREG:
        r = unpack_file(u, e, path);
        break;
    case S_IFLNK:
        r = unpack_symlink(u, e, path);
        break;
    default:                        /* device nodes, fifos, sockets */
        r = vfs_mknod(NULL, NULL, path, e->mode, MKDEV(e->rdevmajor, e->rdevminor));
        if (r == -EEXIST)
            return 0;               /* keep the node already there (devfs made it) */
        if (r == 0)
            u->nodes++;
        break;
    }
    if (r == 0)
        set_attrs(e, path);
    return r;
}

int initrd_unpack(const void *data, size_t len)
{
    if (!vfs_root())
        return -ENOENT;
    char *path = kmalloc(PATH_MAX);
    if (!path)
        return -ENOMEM;
    struct unpack u = { 0 };
    struct cpio_iter it;
    struct cpio_entry e;
    int r;
    cpio_iter_init(&it, data, len);
    while ((r = cpio_next(&it, &e)) == 1) {
        if (!clean_name(e.name, path, PATH_MAX)) {
            printk(LOG_WARN, "initrd: skipping \"%.64s\"\n", e.name);
            u.errors++;
            continue;
        }
        if (strcmp(path, "/") == 0)
            continue;               /* the archive's "." */
        int er = unpack_entry(&u, &e, path);
        if (er < 0) {
            printk(LOG_WARN, "initrd: %.200s: error %d\n", path, er);
            u.errors++;
        }
    }
    if (r < 0)
        printk(LOG_ERR, "initrd: malformed archive at byte %zu, unpacking stopped\n", it.off);
    printk(LOG_INFO, "initrd: %d files, %d directories, %d symlinks, %d nodes, %d errors\n", u.files, u.dirs,
           u.symlinks, u.nodes, u.errors);
    for (size_t i = 0; i < u.nlinks; i++)
        kfree(u.links[i].path);
    kfree(u.links);
    kfree(path);
    return r < 0 ? r : 0;
}
