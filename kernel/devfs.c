/*
 * kernel/devfs.c: /dev. A ramfs instance whose character-device nodes get their file operations
 * from a registry of drivers (major, minor -> fops, priv), so a node made anywhere with mknod, or
 * unpacked from the initrd, reaches the same driver. Also the memory devices: null, zero, full,
 * random, urandom.
 */
#include "kernel/errno.h"
#include "kernel/printk.h"
#include "kernel/random.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "kernel/vfs.h"

#define MAX_DEVICES 64

static struct device {
    uint64_t rdev;
    const struct file_ops *fops;
    void *priv;
} devices[MAX_DEVICES];
static int ndevices;
static struct spinlock devices_lock = SPINLOCK_INIT("devfs");
static struct inode *root;

const struct file_ops *devfs_find(uint64_t rdev, void **priv)
{
    const struct file_ops *fops = NULL;
    uint64_t f = spin_lock_irqsave(&devices_lock);
    for (int i = 0; i < ndevices; i++) {
        if (devices[i].rdev == rdev) {
            fops = devices[i].fops;
            *priv = devices[i].priv;
        }
    }
    spin_unlock_irqrestore(&devices_lock, f);
    return fops;
}

static int add_device(uint64_t rdev, const struct file_ops *fops, void *priv)
{
    int r = -ENOSPC;
    uint64_t f = spin_lock_irqsave(&devices_lock);
    for (int i = 0; i < ndevices; i++)
        if (devices[i].rdev == rdev)
            r = -EBUSY;
    if (r != -EBUSY && ndevices < MAX_DEVICES) {
        devices[ndevices++] = (struct device){ rdev, fops, priv };
        r = 0;
    }
    spin_unlock_irqrestore(&devices_lock, f);
    return r;
}

/* Makes the directories leading to name (as in "pts/0") inside /dev. */
static void make_parents(const char *name)
{
    char path[128];
    for (size_t i = 0; name[i] && i < sizeof path - 1; i++) {
        if (name[i] == '/' && i > 0) {
            memcpy(path, name, i);
            path[i] = '\0';
            vfs_mkdir(NULL, root, path, 0755);      /* EEXIST is fine */
        }
    }
}

int devfs_register(const char *name, uint32_t mode, uint32_t major, uint32_t minor, const struct file_ops *fops,
                   void *priv)
{
    devfs_init();
    if (!root)
        return -ENOMEM;
    if (!name || !*name || name[0] == '/' || strlen(name) >= 128)
        return -EINVAL;
    uint64_t rdev = MKDEV(major, minor);
    int r = add_device(rdev, fops, priv);
    if (r < 0)
        return r;
    make_parents(name);
    r = vfs_mknod(NULL, root, name, S_IFCHR | (mode & 07777), rdev);
    if (r < 0)
        printk(LOG_ERR, "devfs: /dev/%s: %d\n", name, r);
    return r;
}

struct inode *devfs_root(void) { return root; }

/* ---- Memory devices ------------------------------------------------------------------------ */

static long null_read(struct file *f, void *buf, size_t n, uint64_t *pos) { return 0; }
static long sink_write(struct file *f, const void *buf, size_t n, uint64_t *pos) { return (long)n; }
static long full_write(struct file *f, const void *buf, size_t n, uint64_t *pos) { return -ENOSPC; }

static long zero_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    memset(buf, 0, n);
    return (long)n;
}

static long random_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    random_bytes(buf, n);
    return (long)n;
}

/* Linux: seeking null, zero and full always lands at 0; random devices accept any position. */
static int64_t seek_to_zero(struct file *f, int64_t off, int whence)
{
    f->pos = 0;
    return 0;
}

static int64_t seek_noop(struct file *f, int64_t off, int whence) { return (int64_t)f->pos; }

static const struct file_ops null_fops = { .read = null_read, .write = sink_write, .llseek = seek_to_zero };
static const struct file_ops zero_fops = { .read = zero_read, .write = sink_write, .llseek = seek_to_zero };
static const struct file_ops full_fops = { .read = zero_read, .write = full_write, .llseek = seek_to_zero };
static const struct file_ops random_fops = { .read = random_read, .write = sink_write, .llseek = seek_noop };

void devfs_init(void)
{
    if (root)
        return;
    root = ramfs_new("devtmpfs");
    if (!root) {
        printk(LOG_ERR, "devfs: no memory\n");
        return;
    }
    devfs_register("null", 0666, 1, 3, &null_fops, NULL);
    devfs_register("zero", 0666, 1, 5, &zero_fops, NULL);
    devfs_register("full", 0666, 1, 7, &full_fops, NULL);
    devfs_register("random", 0666, 1, 8, &random_fops, NULL);
    devfs_register("urandom", 0666, 1, 9, &random_fops, NULL);
    /* What shells and scripts expect next to the devices (resolved through procfs). */
    vfs_symlink(NULL, "/proc/self/fd", root, "fd");
    vfs_symlink(NULL, "/proc/self/fd/0", root, "stdin");
    vfs_symlink(NULL, "/proc/self/fd/1", root, "stdout");
    vfs_symlink(NULL, "/proc/self/fd/2", root, "stderr");
}
