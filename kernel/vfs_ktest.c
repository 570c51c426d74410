/*
 * kernel/vfs_ktest.c: in-kernel tests of the VFS, ramfs, devfs, the initrd unpacker and descriptor
 * tables, through the same kernel entry points the system calls use (vfs_open, vfs_rename...),
 * with a kernel fs_context. Each test works below /tmp/ktest-vfs and removes what it made.
 */
#include "kernel/errno.h"
#include "kernel/format.h"
#include "kernel/heap.h"
#include "kernel/kmalloc.h"
#include "kernel/ktest.h"
#include "kernel/pmm.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/vfs.h"

#define BASE "/tmp/ktest-vfs"

static struct fs_context *setup(void)
{
    if (!vfs_root())
        vfs_init();
    struct fs_context *c = fs_context_new();
    if (c)
        vfs_mkdir(c, NULL, BASE, 0755);
    return c;
}

/* ---- helpers ---- */

struct names {
    char list[32][32];
    int n, max_per_call, this_call;
};

static bool collect(void *ctx, const char *name, size_t len, uint64_t ino, uint32_t mode)
{
    struct names *nm = ctx;
    if (nm->max_per_call && nm->this_call >= nm->max_per_call)
        return false;
    if (nm->n >= 32 || len >= 32)
        return false;
    memcpy(nm->list[nm->n], name, len);
    nm->list[nm->n][len] = '\0';
    nm->n++;
    nm->this_call++;
    return true;
}

static int count_name(struct names *nm, const char *name)
{
    int c = 0;
    for (int i = 0; i < nm->n; i++)
        c += strcmp(nm->list[i], name) == 0;
    return c;
}

/* Removes path and everything below it. */
static bool rm_child(void *ctx, const char *name, size_t len, uint64_t ino, uint32_t mode);

struct rm_ctx {
    char names[16][NAME_MAX + 1];
    int n;
};

static bool rm_child(void *ctx, const char *name, size_t len, uint64_t ino, uint32_t mode)
{
    struct rm_ctx *r = ctx;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return true;
    if (r->n >= 16)
        return false;
    memcpy(r->names[r->n], name, len);
    r->names[r->n][len] = '\0';
    r->n++;
    return true;
}

static void rm_rf(struct fs_context *c, const char *path)
{
    struct inode *ino;
    if (vfs_lookup(c, NULL, path, false, &ino) < 0)
        return;
    bool dir = S_ISDIR(ino->mode);
    inode_put(ino);
    if (!dir) {
        vfs_unlink(c, NULL, path);
        return;
    }
    char *child = kmalloc(PATH_MAX);
    struct rm_ctx *r = kmalloc(sizeof *r);
    for (;;) {
        struct file *f;
        if (!child || !r || vfs_open(c, NULL, path, O_RDONLY | O_DIRECTORY, 0, &f) < 0)
            break;
        r->n = 0;
        vfs_iterate_dir(f, rm_child, r);
        file_put(f);
        if (r->n == 0)
            break;
        for (int i = 0; i < r->n; i++) {
            ksnprintf(child, PATH_MAX, "%s/%s", path, r->names[i]);
            rm_rf(c, child);
        }
    }
    kfree(child);
    kfree(r);
    vfs_rmdir(c, NULL, path);
}

static int write_file(struct fs_context *c, const char *path, const char *data)
{
    struct file *f;
    int r = vfs_open(c, NULL, path, O_WRONLY | O_CREAT | O_TRUNC, 0644, &f);
    if (r < 0)
        return r;
    long n = vfs_write(f, data, strlen(data));
    file_put(f);
    return n == (long)strlen(data) ? 0 : -EIO;
}

/* Reads up to size-1 bytes of path into buf, NUL-terminated; returns the length or -errno. */
static long read_file(struct fs_context *c, const char *path, char *buf, size_t size)
{
    struct file *f;
    int r = vfs_open(c, NULL, path, O_RDONLY, 0, &f);
    if (r < 0)
        return r;
    long n = vfs_read(f, buf, size - 1);
    file_put(f);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

static int lookup_err(struct fs_context *c, const char *path, bool follow)
{
    struct inode *ino;
    int r = vfs_lookup(c, NULL, path, follow, &ino);
    if (r == 0)
        inode_put(ino);
    return r;
}

static struct inode *lookup(struct fs_context *c, const char *path)
{
    struct inode *ino = NULL;
    vfs_lookup(c, NULL, path, true, &ino);
    return ino;
}

/* ---- tests ---- */

KTEST(vfs_file_create_rw_seek_truncate)
{
    struct fs_context *c = setup();
    if (!c)
        KTEST_FAIL("no fs_context");
    const char *p = BASE "/rw";
    struct file *f;
    int r = vfs_open(c, NULL, p, O_RDWR | O_CREAT | O_EXCL, 0666, &f);
    if (r < 0)
        KTEST_FAIL("create: %d", r);
    if ((f->inode->mode & 07777) != 0644 || !S_ISREG(f->inode->mode))
        KTEST_FAIL("mode %o, umask 022 not applied", f->inode->mode);
    if (!f->abs_path || strcmp(f->abs_path, p) != 0)
        KTEST_FAIL("abs_path %s", f->abs_path ? f->abs_path : "(null)");
    char buf[64];
    if (vfs_write(f, "hello, world", 12) != 12 || f->pos != 12 || f->inode->size != 12)
        KTEST_FAIL("write");
    if (vfs_llseek(f, 7, SEEK_SET) != 7 || vfs_read(f, buf, sizeof buf) != 5 || memcmp(buf, "world", 5) != 0)
        KTEST_FAIL("seek+read");
    if (vfs_read(f, buf, sizeof buf) != 0)
        KTEST_FAIL("read at EOF not 0");
    if (vfs_llseek(f, -5, SEEK_END) != 7 || vfs_llseek(f, -8, SEEK_CUR) != -EINVAL || vfs_llseek(f, 0, 9) != -EINVAL)
        KTEST_FAIL("SEEK_END/CUR/bad whence");
    if (vfs_pread(f, buf, 5, 0) != 5 || memcmp(buf, "hello", 5) != 0 || f->pos != 7)
        KTEST_FAIL("pread moved pos or wrong data");
    /* Sparse write beyond the end: the gap reads as zeros. */
    if (vfs_pwrite(f, "X", 1, 10000) != 1 || f->inode->size != 10001)
        KTEST_FAIL("pwrite past end: size %lu", f->inode->size);
    if (vfs_pread(f, buf, 4, 9000) != 4 || buf[0] || buf[1] || buf[2] || buf[3])
        KTEST_FAIL("hole not zero");
    if ((r = vfs_truncate_inode(f->inode, 5)) < 0 || f->inode->size != 5)
        KTEST_FAIL("truncate down: %d", r);
    if ((r = vfs_truncate_inode(f->inode, 8192)) < 0 || vfs_pread(f, buf, 8, 3) != 8)
        KTEST_FAIL("truncate up: %d", r);
    if (memcmp(buf, "lo\0\0\0\0\0\0", 8) != 0)
        KTEST_FAIL("truncated tail not zero after growing again");
    file_put(f);

    /* O_EXCL on an existing file, O_TRUNC, O_APPEND, access modes. */
    if ((r = vfs_open(c, NULL, p, O_RDWR | O_CREAT | O_EXCL, 0666, &f)) != -EEXIST)
        KTEST_FAIL("O_EXCL: %d", r);
    if ((r = vfs_open(c, NULL, p, O_WRONLY | O_TRUNC, 0, &f)) < 0 || f->inode->size != 0)
        KTEST_FAIL("O_TRUNC: %d", r);
    if (vfs_read(f, buf, 1) != -EBADF)
        KTEST_FAIL("read on O_WRONLY");
    vfs_write(f, "abc", 3);
    file_put(f);
    if ((r = vfs_open(c, NULL, p, O_WRONLY | O_APPEND, 0, &f)) < 0)
        KTEST_FAIL("O_APPEND open: %d", r);
    vfs_llseek(f, 0, SEEK_SET);
    vfs_write(f, "def", 3);
    file_put(f);
    if (read_file(c, p, buf, sizeof buf) != 6 || strcmp(buf, "abcdef") != 0)
        KTEST_FAIL("O_APPEND wrote \"%s\"", buf);
    if ((r = vfs_open(c, NULL, p, O_RDONLY, 0, &f)) < 0)
        KTEST_FAIL("reopen: %d", r);
    if (vfs_write(f, "x", 1) != -EBADF)
        KTEST_FAIL("write on O_RDONLY");
    file_put(f);
    if ((r = vfs_open(c, NULL, BASE, O_RDWR, 0, &f)) != -EISDIR)
        KTEST_FAIL("directory opened for writing: %d", r);
    if ((r = vfs_open(c, NULL, p, O_RDONLY | O_DIRECTORY, 0, &f)) != -ENOTDIR)
        KTEST_FAIL("O_DIRECTORY on a file: %d", r);
    if ((r = vfs_open(c, NULL, BASE "/nonexistent", O_RDONLY, 0, &f)) != -ENOENT)
        KTEST_FAIL("missing file: %d", r);
    if ((r = vfs_open(c, NULL, BASE "/rw/x", O_RDONLY, 0, &f)) != -ENOTDIR)
        KTEST_FAIL("file used as a directory: %d", r);
    rm_rf(c, BASE "/rw");
    fs_context_put(c);
    return true;
}

KTEST(vfs_directories_and_listing)
{
    struct fs_context *c = setup();
    const char *d = BASE "/dir";
    int r = vfs_mkdir(c, NULL, d, 0755);
    if (r < 0)
        KTEST_FAIL("mkdir: %d", r);
    if ((r = vfs_mkdir(c, NULL, d, 0755)) != -EEXIST)
        KTEST_FAIL("mkdir twice: %d", r);
    static const char *names[] = { "a", "b", "c", "d", "e" };
    char path[128];
    for (int i = 0; i < 5; i++) {
        ksnprintf(path, sizeof path, "%s/%s", d, names[i]);
        if ((r = write_file(c, path, names[i])) < 0)
            KTEST_FAIL("create %s: %d", path, r);
    }
    if ((r = vfs_mkdir(c, NULL, BASE "/dir/sub/", 0700)) < 0)
        KTEST_FAIL("mkdir with trailing slash: %d", r);
    struct inode *di = lookup(c, d);
    if (!di || di->nlink != 3)
        KTEST_FAIL("directory nlink %u, expected 3", di ? di->nlink : 0);
    inode_put(di);

    /* A listing in calls of two entries, removing entries already listed as it goes: each name
     * comes exactly once, "." and ".." included. */
    struct file *f;
    if ((r = vfs_open(c, NULL, d, O_RDONLY | O_DIRECTORY, 0, &f)) < 0)
        KTEST_FAIL("open dir: %d", r);
    static struct names nm;
    memset(&nm, 0, sizeof nm);
    nm.max_per_call = 2;
    for (int calls = 0; calls < 20; calls++) {
        nm.this_call = 0;
        int got = vfs_iterate_dir(f, collect, &nm);
        if (got < 0)
            KTEST_FAIL("iterate: %d", got);
        if (got == 0)
            break;
        if (calls == 1) {
            ksnprintf(path, sizeof path, "%s/%s", d, nm.list[2]);
            if ((r = vfs_unlink(c, NULL, path)) < 0)
                KTEST_FAIL("unlink %s during listing: %d", path, r);
        }
    }
    file_put(f);
    if (nm.n != 8 || count_name(&nm, ".") != 1 || count_name(&nm, "..") != 1 || count_name(&nm, "sub") != 1)
        KTEST_FAIL("listed %d entries", nm.n);
    for (int i = 0; i < 5; i++)
        if (count_name(&nm, names[i]) != 1)
            KTEST_FAIL("%s listed %d times", names[i], count_name(&nm, names[i]));

    /* A fresh listing no longer has the removed entry; rewinding with lseek starts over. */
    if ((r = vfs_open(c, NULL, d, O_RDONLY, 0, &f)) < 0)
        KTEST_FAIL("reopen dir: %d", r);
    memset(&nm, 0, sizeof nm);
    vfs_iterate_dir(f, collect, &nm);
    if (nm.n != 7)
        KTEST_FAIL("after unlink: %d entries", nm.n);
    if (vfs_llseek(f, 0, SEEK_SET) != 0)
        KTEST_FAIL("rewinddir");
    memset(&nm, 0, sizeof nm);
    vfs_iterate_dir(f, collect, &nm);
    if (nm.n != 7)
        KTEST_FAIL("after rewind: %d entries", nm.n);
    char buf[4];
    if (vfs_read(f, buf, 4) != -EISDIR)
        KTEST_FAIL("read on a directory");
    file_put(f);
    rm_rf(c, d);
    if (lookup_err(c, d, true) != -ENOENT)
        KTEST_FAIL("directory still there");
    fs_context_put(c);
    return true;
}

KTEST(vfs_rename_unlink_rmdir_semantics)
{
    struct fs_context *c = setup();
    vfs_mkdir(c, NULL, BASE "/ns", 0755);
    vfs_mkdir(c, NULL, BASE "/ns/d1", 0755);
    vfs_mkdir(c, NULL, BASE "/ns/d2", 0755);
    vfs_mkdir(c, NULL, BASE "/ns/d1/inner", 0755);
    write_file(c, BASE "/ns/f1", "one");
    write_file(c, BASE "/ns/f2", "two");
    write_file(c, BASE "/ns/d2/x", "x");
    struct { const char *what; int got, want; } cases[] = {
        { "rmdir non-empty", vfs_rmdir(c, NULL, BASE "/ns/d2"), -ENOTEMPTY },
        { "unlink a directory", vfs_unlink(c, NULL, BASE "/ns/d1"), -EISDIR },
        { "rmdir a file", vfs_rmdir(c, NULL, BASE "/ns/f1"), -ENOTDIR },
        { "rmdir .", vfs_rmdir(c, NULL, BASE "/ns/d1/."), -EINVAL },
        { "rmdir ..", vfs_rmdir(c, NULL, BASE "/ns/d1/.."), -ENOTEMPTY },
        { "rmdir /", vfs_rmdir(c, NULL, "/"), -EBUSY },
        { "rmdir a mount point", vfs_rmdir(c, NULL, "/dev"), -EBUSY },
        { "unlink missing", vfs_unlink(c, NULL, BASE "/ns/nope"), -ENOENT },
        { "unlink file/", vfs_unlink(c, NULL, BASE "/ns/f1/"), -ENOTDIR },
        { "mkdir existing file", vfs_mkdir(c, NULL, BASE "/ns/f1", 0755), -EEXIST },
        { "mkdir under a file", vfs_mkdir(c, NULL, BASE "/ns/f1/x", 0755), -ENOTDIR },
        { "mkdir missing parent", vfs_mkdir(c, NULL, BASE "/ns/no/x", 0755), -ENOENT },
        { "rename file over dir", vfs_rename(c, NULL, BASE "/ns/f1", NULL, BASE "/ns/d1", 0), -EISDIR },
        { "rename dir over file", vfs_rename(c, NULL, BASE "/ns/d1", NULL, BASE "/ns/f1", 0), -ENOTDIR },
        { "rename dir over non-empty dir", vfs_rename(c, NULL, BASE "/ns/d1", NULL, BASE "/ns/d2", 0), -ENOTEMPTY },
        { "rename dir below itself", vfs_rename(c, NULL, BASE "/ns/d1", NULL, BASE "/ns/d1/inner/z", 0), -EINVAL },
        { "rename missing", vfs_rename(c, NULL, BASE "/ns/nope", NULL, BASE "/ns/z", 0), -ENOENT },
        { "rename across file systems", vfs_rename(c, NULL, BASE "/ns/f1", NULL, "/dev/f1", 0), -EXDEV },
        { "rename noreplace", vfs_rename(c, NULL, BASE "/ns/f1", NULL, BASE "/ns/f2", RENAME_NOREPLACE), -EEXIST },
        { "rename .", vfs_rename(c, NULL, BASE "/ns/d1/.", NULL, BASE "/ns/z", 0), -EBUSY },
        { "link a directory", vfs_link(c, NULL, BASE "/ns/d1", NULL, BASE "/ns/dl", false), -EPERM },
        { "link over existing", vfs_link(c, NULL, BASE "/ns/f1", NULL, BASE "/ns/f2", false), -EEXIST },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (cases[i].got != cases[i].want)
            KTEST_FAIL("%s: %d, expected %d", cases[i].what, cases[i].got, cases[i].want);

    /* Replacing a file that is open: the open file keeps its data until closed. */
    struct file *f;
    char buf[16];
    if (vfs_open(c, NULL, BASE "/ns/f2", O_RDONLY, 0, &f) < 0)
        KTEST_FAIL("open f2");
    uint64_t before;
    int r = vfs_rename(c, NULL, BASE "/ns/f1", NULL, BASE "/ns/f2", 0);
    if (r < 0)
        KTEST_FAIL("rename over file: %d", r);
    if (lookup_err(c, BASE "/ns/f1", true) != -ENOENT || read_file(c, BASE "/ns/f2", buf, sizeof buf) != 3 ||
        strcmp(buf, "one") != 0)
        KTEST_FAIL("after rename: f2 = \"%s\"", buf);
    if (f->inode->nlink != 0 || vfs_pread(f, buf, sizeof buf, 0) != 3 || memcmp(buf, "two", 3) != 0)
        KTEST_FAIL("replaced file lost its data while open (nlink %u)", f->inode->nlink);
    before = pmm_free_count();
    file_put(f);
    if (pmm_free_count() < before + 1)
        KTEST_FAIL("replaced file's page not freed at last close (%lu -> %lu)", before, pmm_free_count());

    /* Unlinking an open file. */
    if (vfs_open(c, NULL, BASE "/ns/f2", O_RDWR, 0, &f) < 0 || vfs_unlink(c, NULL, BASE "/ns/f2") < 0)
        KTEST_FAIL("open+unlink");
    if (vfs_write(f, "more", 4) != 4 || vfs_pread(f, buf, sizeof buf, 0) != 4 || memcmp(buf, "more", 4) != 0)
        KTEST_FAIL("unlinked open file not usable");
    file_put(f);

    /* Hard links share the inode; rename between two names of it does nothing. */
    write_file(c, BASE "/ns/h1", "hard");
    if ((r = vfs_link(c, NULL, BASE "/ns/h1", NULL, BASE "/ns/h2", false)) < 0)
        KTEST_FAIL("link: %d", r);
    struct inode *h1 = lookup(c, BASE "/ns/h1"), *h2 = lookup(c, BASE "/ns/h2");
    if (!h1 || h1 != h2 || h1->nlink != 2)
        KTEST_FAIL("hard link: different inodes or nlink %u", h1 ? h1->nlink : 0);
    if (vfs_rename(c, NULL, BASE "/ns/h1", NULL, BASE "/ns/h2", 0) != 0 || lookup_err(c, BASE "/ns/h1", true) != 0)
        KTEST_FAIL("rename between links of one inode changed something");
    vfs_unlink(c, NULL, BASE "/ns/h1");
    if (h2->nlink != 1)
        KTEST_FAIL("nlink after unlinking one name: %u", h2->nlink);
    inode_put(h1);
    inode_put(h2);

    /* Directory renames: into another directory, over an empty one; nlink follows. */
    vfs_unlink(c, NULL, BASE "/ns/d2/x");
    if ((r = vfs_rename(c, NULL, BASE "/ns/d1", NULL, BASE "/ns/d2", 0)) < 0)
        KTEST_FAIL("rename dir over empty dir: %d", r);
    if (lookup_err(c, BASE "/ns/d2/inner", true) != 0 || lookup_err(c, BASE "/ns/d1", true) != -ENOENT)
        KTEST_FAIL("directory not moved");
    vfs_mkdir(c, NULL, BASE "/ns/d3", 0755);
    if ((r = vfs_rename(c, NULL, BASE "/ns/d2/inner", NULL, BASE "/ns/d3/moved", 0)) < 0)
        KTEST_FAIL("move dir: %d", r);
    struct inode *d2 = lookup(c, BASE "/ns/d2"), *d3 = lookup(c, BASE "/ns/d3");
    struct inode *up = lookup(c, BASE "/ns/d3/moved/..");
    if (!d2 || !d3 || d2->nlink != 2 || d3->nlink != 3 || up != d3)
        KTEST_FAIL("nlink or .. wrong after a move (%u %u)", d2 ? d2->nlink : 0, d3 ? d3->nlink : 0);
    inode_put(d2);
    inode_put(d3);
    inode_put(up);
    rm_rf(c, BASE "/ns");
    fs_context_put(c);
    return true;
}

KTEST(vfs_symlinks_and_eloop)
{
    struct fs_context *c = setup();
    vfs_mkdir(c, NULL, BASE "/sl", 0755);
    vfs_mkdir(c, NULL, BASE "/sl/real", 0755);
    write_file(c, BASE "/sl/real/file", "data");
    int r;
    if ((r = vfs_symlink(c, "real", NULL, BASE "/sl/rel")) < 0 ||
        (r = vfs_symlink(c, BASE "/sl/real/file", NULL, BASE "/sl/abs")) < 0 ||
        (r = vfs_symlink(c, "rel/file", NULL, BASE "/sl/chain")) < 0 ||
        (r = vfs_symlink(c, "../sl/rel/../real/./file", NULL, BASE "/sl/dots")) < 0)
        KTEST_FAIL("symlink: %d", r);
    char buf[64];
    static const char *via[] = { BASE "/sl/rel/file", BASE "/sl/abs", BASE "/sl/chain", BASE "/sl/dots",
                                 BASE "/sl/rel/../rel/file" };
    for (size_t i = 0; i < sizeof via / sizeof via[0]; i++)
        if (read_file(c, via[i], buf, sizeof buf) != 4 || strcmp(buf, "data") != 0)
            KTEST_FAIL("read through %s", via[i]);
    struct inode *l;
    if (vfs_lookup(c, NULL, BASE "/sl/abs", false, &l) < 0 || !S_ISLNK(l->mode))
        KTEST_FAIL("lookup without following");
    if (vfs_readlink_inode(l, buf, sizeof buf) != (long)strlen(BASE "/sl/real/file"))
        KTEST_FAIL("readlink length");
    inode_put(l);
    struct file *f;
    if ((r = vfs_open(c, NULL, BASE "/sl/abs", O_RDONLY | O_NOFOLLOW, 0, &f)) != -ELOOP)
        KTEST_FAIL("O_NOFOLLOW: %d", r);
    if ((r = vfs_open(c, NULL, BASE "/sl/abs", O_PATH | O_NOFOLLOW, 0, &f)) < 0 || !S_ISLNK(f->inode->mode))
        KTEST_FAIL("O_PATH|O_NOFOLLOW: %d", r);
    file_put(f);

    /* Open with O_CREAT through a dangling symlink creates its target. */
    vfs_symlink(c, "created", NULL, BASE "/sl/dangling");
    if ((r = vfs_open(c, NULL, BASE "/sl/dangling", O_WRONLY | O_CREAT, 0644, &f)) < 0)
        KTEST_FAIL("O_CREAT through dangling link: %d", r);
    file_put(f);
    if (lookup_err(c, BASE "/sl/created", false) != 0)
        KTEST_FAIL("target not created");
    if ((r = vfs_open(c, NULL, BASE "/sl/dangling", O_WRONLY | O_CREAT | O_EXCL, 0644, &f)) != -EEXIST)
        KTEST_FAIL("O_EXCL on a symlink: %d", r);

    /* Loops, and the limit of 40 links per lookup. */
    vfs_symlink(c, "loop2", NULL, BASE "/sl/loop1");
    vfs_symlink(c, "loop1", NULL, BASE "/sl/loop2");
    if ((r = lookup_err(c, BASE "/sl/loop1", true)) != -ELOOP)
        KTEST_FAIL("loop: %d", r);
    if ((r = lookup_err(c, BASE "/sl/loop1/x", true)) != -ELOOP)
        KTEST_FAIL("loop in the middle: %d", r);
    if ((r = vfs_open(c, NULL, BASE "/sl/loop1", O_RDONLY, 0, &f)) != -ELOOP)
        KTEST_FAIL("open loop: %d", r);
    if (lookup_err(c, BASE "/sl/loop1", false) != 0)
        KTEST_FAIL("a looping link itself must be found without following");
    char name[64], target[64];
    for (int i = 1; i <= 41; i++) {
        ksnprintf(name, sizeof name, BASE "/sl/n%d", i);
        ksnprintf(target, sizeof target, i == 1 ? "real" : "n%d", i - 1);
        vfs_symlink(c, target, NULL, name);
    }
    if ((r = lookup_err(c, BASE "/sl/n40/file", true)) != 0)
        KTEST_FAIL("chain of 40 links: %d", r);
    if ((r = lookup_err(c, BASE "/sl/n41/file", true)) != -ELOOP)
        KTEST_FAIL("chain of 41 links: %d", r);
    rm_rf(c, BASE "/sl");
    fs_context_put(c);
    return true;
}

KTEST(vfs_dotdot_cwd_and_mounts)
{
    struct fs_context *c = setup();
    struct inode *root = lookup(c, "/"), *devroot = lookup(c, "/dev");
    struct inode *a = lookup(c, "/dev/.."), *b = lookup(c, "/.."), *d = lookup(c, "/dev/null/../..");
    bool ok = root && devroot && a == root && b == root && devroot == devfs_root() && d == NULL;
    inode_put(a);
    inode_put(b);
    inode_put(d);
    if (!ok)
        KTEST_FAIL(".. across the /dev mount or of / is wrong");
    if (devroot->dev == root->dev)
        KTEST_FAIL("/dev has the root's st_dev");
    int r = vfs_chdir(c, "/dev");
    struct inode *up = lookup(c, "..");
    if (r < 0 || strcmp(c->cwd_path, "/dev") != 0 || up != root)
        KTEST_FAIL("chdir /dev: %d, cwd %s", r, c->cwd_path);
    inode_put(up);
    inode_put(devroot);

    /* The working directory's path is canonical: dots and symlinks resolved. */
    vfs_mkdir(c, NULL, BASE "/cw", 0755);
    vfs_mkdir(c, NULL, BASE "/cw/deep", 0755);
    vfs_symlink(c, "cw/deep", NULL, BASE "/link");
    if ((r = vfs_chdir(c, BASE "/cw/../cw/./deep/")) < 0 || strcmp(c->cwd_path, BASE "/cw/deep") != 0)
        KTEST_FAIL("chdir with dots: %d, cwd %s", r, c->cwd_path);
    if ((r = vfs_chdir(c, "/tmp/../" "tmp/ktest-vfs/link")) < 0 || strcmp(c->cwd_path, BASE "/cw/deep") != 0)
        KTEST_FAIL("chdir through a symlink: %d, cwd %s", r, c->cwd_path);
    if ((r = vfs_chdir(c, "../..")) < 0 || strcmp(c->cwd_path, BASE) != 0)
        KTEST_FAIL("chdir ../..: %d, cwd %s", r, c->cwd_path);
    if ((r = vfs_chdir(c, "cw")) < 0 || strcmp(c->cwd_path, BASE "/cw") != 0)
        KTEST_FAIL("relative chdir: %d, cwd %s", r, c->cwd_path);
    if (vfs_chdir(c, BASE "/nope") != -ENOENT || vfs_chdir(c, "/dev/null") != -ENOTDIR)
        KTEST_FAIL("chdir errors");
    struct file *f;
    if ((r = vfs_open(c, NULL, "deep", O_RDONLY | O_DIRECTORY, 0, &f)) < 0 || !f->abs_path ||
        strcmp(f->abs_path, BASE "/cw/deep") != 0)
        KTEST_FAIL("relative open abs_path %s", r < 0 ? "-" : f->abs_path);
    vfs_chdir(c, "/");
    if ((r = vfs_chdir_file(c, f)) < 0 || strcmp(c->cwd_path, BASE "/cw/deep") != 0)
        KTEST_FAIL("fchdir: %d, cwd %s", r, c->cwd_path);
    file_put(f);
    vfs_chdir(c, "/");

    /* A tmpfs on a directory: its own st_dev, ".." back to the covering tree, busy, umount. */
    vfs_mkdir(c, NULL, BASE "/mnt", 0755);
    write_file(c, BASE "/mnt/under", "hidden");
    if ((r = vfs_mount_fs(c, "none", BASE "/mnt", "tmpfs")) < 0)
        KTEST_FAIL("mount tmpfs: %d", r);
    if (lookup_err(c, BASE "/mnt/under", true) != -ENOENT)
        KTEST_FAIL("mounted tmpfs not empty");
    write_file(c, BASE "/mnt/over", "on tmpfs");
    struct inode *m = lookup(c, BASE "/mnt"), *base = lookup(c, BASE), *mup = lookup(c, BASE "/mnt/..");
    ok = m && base && m->dev != base->dev && mup == base && (m->mode & 07777) == 01777;
    inode_put(m);
    inode_put(base);
    inode_put(mup);
    if (!ok)
        KTEST_FAIL("tmpfs root wrong (dev, .., or mode)");
    if (vfs_rmdir(c, NULL, BASE "/mnt") != -EBUSY)
        KTEST_FAIL("rmdir of a mount point");
    if (vfs_rename(c, NULL, BASE "/mnt/over", NULL, BASE "/over", 0) != -EXDEV)
        KTEST_FAIL("rename out of a mount");
    if (vfs_mount_fs(c, "none", BASE "/mnt", "sysfs") != -ENODEV)
        KTEST_FAIL("sysfs must be ENODEV");
    if ((r = vfs_umount(c, BASE "/mnt")) < 0)
        KTEST_FAIL("umount: %d", r);
    char buf[16];
    if (read_file(c, BASE "/mnt/under", buf, sizeof buf) != 6 || lookup_err(c, BASE "/mnt/over", true) != -ENOENT)
        KTEST_FAIL("the covered directory did not come back");
    if (vfs_umount(c, BASE "/mnt") != -EINVAL)
        KTEST_FAIL("umount of a plain directory");
    inode_put(root);
    rm_rf(c, BASE "/cw");
    rm_rf(c, BASE "/mnt");
    vfs_unlink(c, NULL, BASE "/link");
    fs_context_put(c);
    return true;
}

KTEST(vfs_devfs_memory_devices)
{
    struct fs_context *c = setup();
    struct file *f;
    char buf[64];
    int r;
    if ((r = vfs_open(c, NULL, "/dev/null", O_RDWR, 0, &f)) < 0)
        KTEST_FAIL("open /dev/null: %d", r);
    if (!S_ISCHR(f->inode->mode) || f->inode->rdev != MKDEV(1, 3))
        KTEST_FAIL("/dev/null is not char 1,3");
    if (vfs_read(f, buf, sizeof buf) != 0 || vfs_write(f, buf, sizeof buf) != (long)sizeof buf ||
        vfs_llseek(f, 100, SEEK_SET) != 0)
        KTEST_FAIL("/dev/null behaviour");
    file_put(f);
    if ((r = vfs_open(c, NULL, "/dev/zero", O_RDONLY, 0, &f)) < 0)
        KTEST_FAIL("open /dev/zero: %d", r);
    memset(buf, 0x55, sizeof buf);
    if (vfs_read(f, buf, sizeof buf) != (long)sizeof buf || buf[0] || buf[63])
        KTEST_FAIL("/dev/zero");
    file_put(f);
    if ((r = vfs_open(c, NULL, "/dev/full", O_WRONLY, 0, &f)) < 0 || vfs_write(f, "x", 1) != -ENOSPC)
        KTEST_FAIL("/dev/full: %d", r);
    file_put(f);
    uint64_t v1 = 0, v2 = 0;
    if ((r = vfs_open(c, NULL, "/dev/urandom", O_RDONLY, 0, &f)) < 0 || vfs_read(f, &v1, 8) != 8 ||
        vfs_read(f, &v2, 8) != 8 || v1 == v2)
        KTEST_FAIL("/dev/urandom: %d", r);
    file_put(f);
    if (lookup_err(c, "/dev/random", true) != 0 || lookup_err(c, "/dev/fd", false) != 0)
        KTEST_FAIL("/dev/random or /dev/fd missing");
    /* A device node made elsewhere reaches the same driver. */
    if ((r = vfs_mknod(c, NULL, BASE "/mynull", S_IFCHR | 0666, MKDEV(1, 3))) < 0 ||
        (r = vfs_open(c, NULL, BASE "/mynull", O_WRONLY, 0, &f)) < 0 || vfs_write(f, "abc", 3) != 3)
        KTEST_FAIL("mknod'ed /dev/null: %d", r);
    file_put(f);
    if ((r = vfs_mknod(c, NULL, BASE "/nodriver", S_IFCHR | 0666, MKDEV(200, 1))) < 0 ||
        vfs_open(c, NULL, BASE "/nodriver", O_RDONLY, 0, &f) != -ENXIO)
        KTEST_FAIL("node without a driver must give ENXIO (%d)", r);
    vfs_unlink(c, NULL, BASE "/mynull");
    vfs_unlink(c, NULL, BASE "/nodriver");
    fs_context_put(c);
    return true;
}

/* ---- cpio ---- */

struct cpio_writer {
    char *buf;
    size_t len, cap;
};

static void cw_pad(struct cpio_writer *w)
{
    while (w->len & 3)
        w->buf[w->len++] = 0;
}

static void cw_add(struct cpio_writer *w, const char *name, uint32_t ino, uint32_t mode, uint32_t nlink,
                   const char *data, size_t size)
{
    size_t nl = strlen(name) + 1;
    if (w->len + 110 + nl + size + 8 > w->cap)
        return;
    ksnprintf(w->buf + w->len, 111, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino, mode, 1000u,
              100u, nlink, 1234567890u, (unsigned)size, 0u, 0u, 0u, 0u, (unsigned)nl, 0u);
    w->len += 110;
    memcpy(w->buf + w->len, name, nl);
    w->len += nl;
    cw_pad(w);
    memcpy(w->buf + w->len, data, size);
    w->len += size;
    cw_pad(w);
}

KTEST(vfs_initrd_unpack)
{
    struct fs_context *c = setup();
    struct cpio_writer w = { kmalloc(8192), 0, 8192 };
    if (!w.buf)
        KTEST_FAIL("no memory");
    cw_add(&w, ".", 1, 040755, 2, "", 0);
    cw_add(&w, "tmp/ktest-vfs/ird", 2, 040750, 2, "", 0);
    cw_add(&w, "./tmp/ktest-vfs/ird/bin/prog", 3, 0100755, 1, "#!/bin/sh\necho hi\n", 18);
    cw_add(&w, "tmp/ktest-vfs/ird/sh", 4, 0120777, 1, "bin/prog", 8);
    cw_add(&w, "tmp/ktest-vfs/ird/deep/er/file", 5, 0100600, 1, "x", 1);
    cw_add(&w, "tmp/ktest-vfs/ird/h1", 6, 0100644, 2, "", 0);
    cw_add(&w, "tmp/ktest-vfs/ird/h2", 6, 0100644, 2, "shared", 6);
    cw_add(&w, "tmp/ktest-vfs/ird/../escape", 7, 0100644, 1, "no", 2);
    cw_add(&w, "TRAILER!!!", 0, 0, 1, "", 0);
    int r = initrd_unpack(w.buf, w.len);
    if (r < 0)
        KTEST_FAIL("unpack: %d", r);
    char buf[64];
    struct inode *d = lookup(c, BASE "/ird"), *prog = lookup(c, BASE "/ird/sh"), *h1 = lookup(c, BASE "/ird/h1");
    struct inode *h2 = lookup(c, BASE "/ird/h2");
    bool ok = d && prog && h1 && (d->mode & 07777) == 0750 && (prog->mode & 07777) == 0755 && S_ISREG(prog->mode) &&
              prog->uid == 1000 && prog->gid == 100 && prog->mtime_ns == 1234567890ull * NSEC_PER_SEC &&
              h1 == h2 && h1->nlink == 2 && h1->size == 6;
    inode_put(d);
    inode_put(prog);
    inode_put(h1);
    inode_put(h2);
    if (!ok)
        KTEST_FAIL("unpacked attributes, symlink or hard link wrong");
    if (read_file(c, BASE "/ird/bin/prog", buf, sizeof buf) != 18 || memcmp(buf, "#!/bin/sh", 9) != 0)
        KTEST_FAIL("file content");
    if (read_file(c, BASE "/ird/deep/er/file", buf, sizeof buf) != 1 || lookup_err(c, BASE "/escape", true) != -ENOENT)
        KTEST_FAIL("missing parents not made, or .. accepted");

    /* A second archive overlays the first; a truncated one is refused part-way. */
    w.len = 0;
    cw_add(&w, "tmp/ktest-vfs/ird/bin/prog", 3, 0100700, 1, "new", 3);
    cw_add(&w, "TRAILER!!!", 0, 0, 1, "", 0);
    if ((r = initrd_unpack(w.buf, w.len)) < 0 || read_file(c, BASE "/ird/bin/prog", buf, sizeof buf) != 3)
        KTEST_FAIL("overlay: %d", r);
    if (initrd_unpack(w.buf, w.len - 20) != -EINVAL)
        KTEST_FAIL("truncated archive accepted");
    kfree(w.buf);
    rm_rf(c, BASE "/ird");
    fs_context_put(c);
    return true;
}

KTEST(vfs_fdtable_dup_cloexec_clone)
{
    struct fs_context *c = setup();
    struct fdtable *t = fdtable_new();
    struct file *f;
    if (!t || vfs_open(c, NULL, "/dev/null", O_RDWR, 0, &f) < 0)
        KTEST_FAIL("setup");
    int fd0 = fd_install(t, f, 0, false);
    int fd1 = fd_dup(t, fd0, 0, true);
    int fd5 = fd_dup2(t, fd0, 5, false);
    int fd3 = fd_dup(t, fd0, 3, false);
    if (fd0 != 0 || fd1 != 1 || fd5 != 5 || fd3 != 3 || f->refcount != 4)
        KTEST_FAIL("fds %d %d %d %d, refcount %d", fd0, fd1, fd5, fd3, f->refcount);
    if (fd_get_cloexec(t, 1) != 1 || fd_get_cloexec(t, 0) != 0 || fd_get_cloexec(t, 2) != -EBADF)
        KTEST_FAIL("cloexec flags");
    if (fd_dup(t, 7, 0, false) != -EBADF || fd_close(t, 7) != -EBADF || fd_dup2(t, 0, FD_MAX, false) != -EBADF)
        KTEST_FAIL("bad descriptors accepted");
    struct fdtable *child = fdtable_clone(t);
    if (!child || f->refcount != 8 || fd_get_cloexec(child, 1) != 1)
        KTEST_FAIL("clone: refcount %d", f->refcount);
    fdtable_close_on_exec(child);
    struct file *g = fd_get(child, 1);
    if (g || f->refcount != 7)
        KTEST_FAIL("close-on-exec left fd 1 (refcount %d)", f->refcount);
    /* dup2 onto an open descriptor closes the old file. */
    struct file *z;
    if (vfs_open(c, NULL, "/dev/zero", O_RDONLY, 0, &z) < 0)
        KTEST_FAIL("open zero");
    int zfd = fd_install(child, z, 0, false);
    if (zfd != 1 || fd_dup2(child, 0, zfd, false) != 1 || f->refcount != 8)
        KTEST_FAIL("dup2 over an open fd");
    fdtable_put(child);
    if (f->refcount != 4)
        KTEST_FAIL("child table put: refcount %d", f->refcount);
    /* A full table: EMFILE. */
    int n = 0;
    while (fd_dup(t, 0, 0, false) >= 0)
        n++;
    if (n != FD_MAX - 4 || fd_dup(t, 0, 0, false) != -EMFILE)
        KTEST_FAIL("filled %d slots", n);
    fdtable_put(t);
    fs_context_put(c);
    return true;
}

KTEST(vfs_large_file_8mib)
{
    struct fs_context *c = setup();
    const size_t total = 8u << 20, piece = 4096;
    uint64_t free_before = pmm_free_count();
    uint32_t *chunk = kmalloc(piece);
    struct file *f;
    int r;
    if (!chunk || (r = vfs_open(c, NULL, BASE "/big", O_RDWR | O_CREAT | O_TRUNC, 0644, &f)) < 0)
        KTEST_FAIL("setup");
    uint64_t sum_w = 0, sum_r = 0, t0 = clock_ns();
    for (size_t off = 0; off < total; off += piece) {
        for (size_t i = 0; i < piece / 4; i++) {
            chunk[i] = (uint32_t)((off / 4 + i) * 2654435761u);
            sum_w = sum_w * 31 + chunk[i];
        }
        if (vfs_write(f, chunk, piece) != (long)piece)
            KTEST_FAIL("write at %zu", off);
    }
    uint64_t t1 = clock_ns();
    if (f->inode->size != total || vfs_llseek(f, 0, SEEK_SET) != 0)
        KTEST_FAIL("size %lu", f->inode->size);
    for (size_t off = 0; off < total; off += piece) {
        if (vfs_read(f, chunk, piece) != (long)piece)
            KTEST_FAIL("read at %zu", off);
        for (size_t i = 0; i < piece / 4; i++)
            sum_r = sum_r * 31 + chunk[i];
    }
    uint64_t t2 = clock_ns();
    if (sum_r != sum_w)
        KTEST_FAIL("checksum mismatch");
    /* Copying 8 MiB takes milliseconds; a cost quadratic in the size would take minutes. */
    uint64_t wms = (t1 - t0) / NSEC_PER_MSEC, rms = (t2 - t1) / NSEC_PER_MSEC;
    if (wms > 5000 || rms > 5000)
        KTEST_FAIL("too slow: write %lu ms, read %lu ms", (unsigned long)wms, (unsigned long)rms);
    file_put(f);
    kfree(chunk);
    vfs_unlink(c, NULL, BASE "/big");
    if (pmm_free_count() + 4 < free_before)
        KTEST_FAIL("pages not returned: %lu before, %lu after", free_before, pmm_free_count());
    fs_context_put(c);
    return true;
}

KTEST(vfs_no_leaks_in_a_loop)
{
    struct fs_context *c = setup();
    struct heap_stats h0, h1;
    /* One warm-up round, so caches (slabs, directory arrays) exist before measuring. */
    uint64_t free0 = 0;
    for (int round = 0; round < 101; round++) {
        if (round == 1) {
            kmalloc_stats(&h0);
            free0 = pmm_free_count();
        }
        vfs_mkdir(c, NULL, BASE "/leak", 0755);
        write_file(c, BASE "/leak/a", "some data that takes a page");
        vfs_symlink(c, "a", NULL, BASE "/leak/l");
        vfs_link(c, NULL, BASE "/leak/a", NULL, BASE "/leak/b", false);
        vfs_rename(c, NULL, BASE "/leak/b", NULL, BASE "/leak/c", 0);
        struct file *f;
        if (vfs_open(c, NULL, BASE "/leak/l", O_RDONLY, 0, &f) == 0)
            file_put(f);
        vfs_unlink(c, NULL, BASE "/leak/a");
        vfs_unlink(c, NULL, BASE "/leak/c");
        vfs_unlink(c, NULL, BASE "/leak/l");
        /* A tmpfs mounted, filled, and unmounted with a file still open. */
        vfs_mount_fs(c, "none", BASE "/leak", "tmpfs");
        vfs_mkdir(c, NULL, BASE "/leak/d", 0755);
        write_file(c, BASE "/leak/d/f", "on the tmpfs");
        f = NULL;
        vfs_open(c, NULL, BASE "/leak/d/f", O_RDONLY, 0, &f);
        vfs_umount(c, BASE "/leak");
        char buf[16];
        if (!f || vfs_read(f, buf, sizeof buf) != 12)
            KTEST_FAIL("a file open on an unmounted tmpfs cannot be read");
        file_put(f);
        vfs_rmdir(c, NULL, BASE "/leak");
    }
    kmalloc_stats(&h1);
    /* Other threads allocate meanwhile: allow a little noise, far below 100 rounds of a leak. */
    int64_t heap_diff = (int64_t)h1.bytes_in_use - (int64_t)h0.bytes_in_use;
    int64_t page_diff = (int64_t)free0 - (int64_t)pmm_free_count();
    if (heap_diff > 512 || page_diff > 8)
        KTEST_FAIL("heap %zu -> %zu bytes, free pages %lu -> %lu", h0.bytes_in_use, h1.bytes_in_use, free0,
                   pmm_free_count());
    fs_context_put(c);
    return true;
}
