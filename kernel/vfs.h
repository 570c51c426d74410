/*
 * kernel/vfs.h: the virtual file system: inodes, open files, path lookup, mounts, descriptor tables.
 *
 * File operations work on KERNEL buffers: the system-call layer copies from and to user memory.
 * That keeps every file system free of user pointers, and lets a node's deputy (later: migration)
 * serve a forwarded call with a buffer that arrived over the network.
 * Blocking operations sleep interruptibly and return -EINTR when a signal arrives.
 *
 * Lifetimes: an inode lives while it has references (refcount: open files, lookups in progress,
 * mounts, working directories) or names (nlink: directory entries). Code that changes nlink holds
 * a reference while doing so; the last inode_put() of an inode without names calls iops->evict and
 * frees it. A file lives while descriptors (or the kernel) hold references; the last file_put()
 * calls fops->release and drops the inode.
 */
#pragma once
#include "kernel/sched.h"
#include "kernel/spinlock.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Linux mode bits and open flags (the ABI). */
#define S_IFMT 0170000
#define S_IFSOCK 0140000
#define S_IFLNK 0120000
#define S_IFREG 0100000
#define S_IFBLK 0060000
#define S_IFDIR 0040000
#define S_IFCHR 0020000
#define S_IFIFO 0010000
#define S_ISDIR(m) (((m) & S_IFMT) == S_IFDIR)
#define S_ISREG(m) (((m) & S_IFMT) == S_IFREG)
#define S_ISLNK(m) (((m) & S_IFMT) == S_IFLNK)
#define S_ISCHR(m) (((m) & S_IFMT) == S_IFCHR)
#define S_ISBLK(m) (((m) & S_IFMT) == S_IFBLK)
#define S_ISFIFO(m) (((m) & S_IFMT) == S_IFIFO)
#define S_ISSOCK(m) (((m) & S_IFMT) == S_IFSOCK)
#define S_ISUID 04000
#define S_ISGID 02000
#define S_ISVTX 01000

#define O_ACCMODE 03

/* fcntl commands */
#define F_DUPFD 0
#define F_GETFD 1
#define F_SETFD 2
#define F_GETFL 3
#define F_SETFL 4
#define F_DUPFD_CLOEXEC 1030
#define FD_CLOEXEC 1

/* The Linux x86-64 struct stat, as stat/fstat/lstat/newfstatat return it. */
struct linux_stat {
    uint64_t st_dev, st_ino, st_nlink;
    uint32_t st_mode, st_uid, st_gid, pad0;
    uint64_t st_rdev;
    int64_t st_size, st_blksize, st_blocks;
    int64_t st_atime, st_atime_nsec, st_mtime, st_mtime_nsec, st_ctime, st_ctime_nsec;
    int64_t unused[3];
};
_Static_assert(sizeof(struct linux_stat) == 144, "struct stat is 144 bytes on x86-64");
#define O_RDONLY 00
#define O_WRONLY 01
#define O_RDWR 02
#define O_CREAT 0100
#define O_EXCL 0200
#define O_NOCTTY 0400
#define O_TRUNC 01000
#define O_APPEND 02000
#define O_NONBLOCK 04000
#define O_DSYNC 010000
#define O_ASYNC 020000
#define O_DIRECT 040000
#define O_LARGEFILE 0100000
#define O_DIRECTORY 0200000
#define O_NOFOLLOW 0400000
#define O_NOATIME 01000000
#define O_CLOEXEC 02000000
#define O_SYNC 04010000
#define O_PATH 010000000
#define O_TMPFILE 020200000

#define AT_FDCWD (-100)
#define AT_SYMLINK_NOFOLLOW 0x100
#define AT_EACCESS 0x200
#define AT_REMOVEDIR 0x200
#define AT_SYMLINK_FOLLOW 0x400
#define AT_NO_AUTOMOUNT 0x800
#define AT_EMPTY_PATH 0x1000
#define AT_STATX_SYNC_TYPE 0x6000

#define SEEK_SET 0
#define SEEK_CUR 1
#define SEEK_END 2

/* access() modes, also the mask of vfs_permission(). */
#define F_OK 0
#define X_OK 1
#define W_OK 2
#define R_OK 4

#define RENAME_NOREPLACE 1

#define POLLIN 0x001
#define POLLPRI 0x002
#define POLLOUT 0x004
#define POLLERR 0x008
#define POLLHUP 0x010
#define POLLNVAL 0x020

#define NAME_MAX 255
#define PATH_MAX 4096
#define SYMLOOP_MAX 40                  /* symlinks followed in one lookup before ELOOP */

/* Linux dev_t encoding (glibc's makedev for the values we use). */
#define MKDEV(ma, mi) ((((uint64_t)(mi)) & 0xff) | ((((uint64_t)(ma)) & 0xfff) << 8) | \
                       ((((uint64_t)(mi)) & ~0xffull) << 12) | ((((uint64_t)(ma)) & ~0xfffull) << 32))
#define DEV_MAJOR(d) ((uint32_t)((((d) >> 8) & 0xfff) | (((d) >> 32) & ~0xfffu)))
#define DEV_MINOR(d) ((uint32_t)(((d) & 0xff) | (((d) >> 12) & ~0xffu)))

struct inode;
struct file;
struct dirent_sink;

struct inode_ops {
    /* Directory operations; each returns 0 or -errno. Names are not NUL-terminated (name, len),
     * never empty, never "." or "..", except: lookup must answer ".." with the parent directory
     * (a file system's root answers itself; the VFS handles mount points). */
    int (*lookup)(struct inode *dir, const char *name, size_t len, struct inode **out);
    int (*create)(struct inode *dir, const char *name, size_t len, uint32_t mode, struct inode **out);
    int (*mkdir)(struct inode *dir, const char *name, size_t len, uint32_t mode);
    int (*unlink)(struct inode *dir, const char *name, size_t len);   /* not for directories */
    int (*rmdir)(struct inode *dir, const char *name, size_t len);
    /* Linux rename semantics: replaces an existing target (a directory only by an empty one);
     * both directories belong to this instance (the VFS checks EXDEV). */
    int (*rename)(struct inode *olddir, const char *oldname, size_t oldlen, struct inode *newdir,
                  const char *newname, size_t newlen);
    int (*symlink)(struct inode *dir, const char *name, size_t len, const char *target);
    int (*link)(struct inode *dir, const char *name, size_t len, struct inode *target);
    /* Device, fifo or socket node; rdev in Linux encoding. */
    int (*mknod)(struct inode *dir, const char *name, size_t len, uint32_t mode, uint64_t rdev,
                 struct inode **out);
    /* The target, not NUL-terminated, truncated to size; returns its length or -errno. */
    long (*readlink)(struct inode *ino, char *buf, size_t size);
    int (*truncate)(struct inode *ino, uint64_t size);
    /* Called once, when the last reference to an inode without names goes: free ino->priv
     * (the VFS frees the inode itself). Optional. */
    void (*evict)(struct inode *ino);
};

struct file_ops {
    int (*open)(struct inode *ino, struct file *f);                     /* optional */
    long (*read)(struct file *f, void *buf, size_t n, uint64_t *pos);   /* bytes or -errno */
    long (*write)(struct file *f, const void *buf, size_t n, uint64_t *pos);
    /* Optional: new position or -errno. Without it, regular files and directories seek with
     * generic_file_llseek and everything else (ttys, pipes, sockets) gives -ESPIPE. */
    int64_t (*llseek)(struct file *f, int64_t off, int whence);
    /* Directory listing: calls dirent_emit() for each entry from f->pos on, advancing f->pos
     * past each entry it emitted. Returns 0 or -errno. dirent_emit_dots() does "." and "..". */
    int (*readdir)(struct file *f, struct dirent_sink *sink);
    /* ioctl runs in the calling process; arg is a user pointer (use kernel/uaccess.h). */
    long (*ioctl)(struct file *f, unsigned long cmd, unsigned long arg);
    /* Readiness now (POLLIN...). Files whose readiness changes call poll_notify().
     * NULL: always ready for reading and writing (regular files). */
    unsigned (*poll)(struct file *f);
    void (*release)(struct file *f);                                    /* last close */
    /* Optional: the physical page holding byte off (page aligned) of a regular file, with a
     * reference for the caller (page_put), so that mappings of the file share it instead of
     * copying it; 0 or -errno (-ENOENT: a hole, or past the end). */
    int (*lend_page)(struct file *f, uint64_t off, uint64_t *pa);
};

struct inode {
    uint64_t ino;
    uint32_t mode;                  /* S_IF* | permissions */
    uint32_t nlink, uid, gid;
    uint64_t size;
    uint64_t rdev;                  /* device number for S_IFCHR, Linux encoding (MKDEV) */
    uint64_t atime_ns, mtime_ns, ctime_ns;   /* wall-clock nanoseconds */
    uint32_t dev;                   /* which file system instance (vfs_alloc_dev) */
    int refcount;
    const struct inode_ops *iops;
    const struct file_ops *fops;
    void *priv;                     /* the file system's data; for a devfs device, its priv */
    struct inode *mounted;          /* root of a file system mounted on this directory, or NULL */
    struct inode *covered;          /* for a mounted root: the directory it covers */
};

struct file {
    struct inode *inode;
    const struct file_ops *ops;     /* inode->fops; ->open may switch it */
    uint64_t pos;
    uint32_t flags;                 /* O_* given to open, minus O_CREAT/O_EXCL/O_TRUNC/O_CLOEXEC */
    int refcount;
    void *priv;                     /* starts as inode->priv (a device's priv); ->open may change it */
    char path[64];                  /* for /proc/PID/fd and messages: the name it was opened by (truncated) */
    char *abs_path;                 /* canonical absolute path (kmalloc'ed), or NULL when unknown */
};

/* The per-process file-system context: root, working directory (with its path), umask. */
struct fs_context {
    struct inode *root, *cwd;
    char cwd_path[PATH_MAX];        /* canonical: symlinks resolved, no "." or ".." */
    uint32_t umask;
    int refcount;
};

#define FD_MAX 256
struct fdtable {
    struct file *fd[FD_MAX];
    uint8_t cloexec[FD_MAX];
    int refcount;
    struct spinlock lock;
};

/* Time stamps: the wall clock is clock_ns() plus this, set once by whoever knows the date (an RTC
 * driver, the cluster's time sync). 0 = 1970 until then. */
extern uint64_t vfs_boot_epoch_ns;
uint64_t vfs_now_ns(void);

/* Inodes and files. */
struct inode *inode_alloc(uint32_t dev, uint32_t mode);     /* refcount 1, nlink 0, times now, ino from a counter */
void inode_get(struct inode *ino);
void inode_put(struct inode *ino);                          /* evicts and frees when 0 and nlink 0 */
/* Changes nlink under the lock inode_put() checks (the caller holds a reference). */
void inode_set_nlink(struct inode *ino, uint32_t nlink);
void inode_touch(struct inode *ino, bool mtime, bool ctime); /* set times to now */
uint32_t vfs_alloc_dev(const char *fstype);                 /* a new file system instance number */
struct file *file_open_inode(struct inode *ino, uint32_t flags);   /* takes a reference on ino; NULL: no memory */
void file_get(struct file *f);
void file_put(struct file *f);

/* Path lookup from ctx (absolute or relative to ctx->cwd, or to start when given); ctx NULL means
 * the kernel's view (root and cwd "/"). follow: follow a final symlink. Returns 0 with a referenced
 * inode, or -errno (ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG...). */
int vfs_lookup(struct fs_context *ctx, struct inode *start, const char *path, bool follow, struct inode **out);
/* Parent directory (referenced) and last component of path (last points into path; lastlen excludes
 * slashes; "/" gives the root and lastlen 0; last may be "." or ".."). */
int vfs_lookup_parent(struct fs_context *ctx, struct inode *start, const char *path, struct inode **dir,
                      const char **last, size_t *lastlen);
/* Opens path (Linux open(2) flags and semantics; mode is masked with ctx's umask). */
int vfs_open(struct fs_context *ctx, struct inode *start, const char *path, uint32_t flags, uint32_t mode,
             struct file **out);
/* Same, with start's canonical path (or NULL if unknown) so f->abs_path can be computed. */
int vfs_open_path(struct fs_context *ctx, struct inode *start, const char *start_path, const char *path,
                  uint32_t flags, uint32_t mode, struct file **out);
long vfs_read(struct file *f, void *buf, size_t n);         /* at and advancing f->pos */
long vfs_write(struct file *f, const void *buf, size_t n);
long vfs_pread(struct file *f, void *buf, size_t n, uint64_t off);   /* f->pos untouched; ESPIPE if not seekable */
int vfs_lend_page(struct file *f, uint64_t off, uint64_t *pa);         /* file_ops.lend_page, or -EOPNOTSUPP */
long vfs_pwrite(struct file *f, const void *buf, size_t n, uint64_t off);
int64_t vfs_llseek(struct file *f, int64_t off, int whence);
int64_t generic_file_llseek(struct file *f, int64_t off, int whence);   /* SEEK_END uses inode->size */
bool vfs_file_seekable(struct file *f);
int vfs_truncate_inode(struct inode *ino, uint64_t size);   /* EISDIR, EINVAL for non-regular files */
int vfs_mount(struct fs_context *ctx, const char *path, struct inode *root);

/* Name-space operations with Linux semantics (start: directory for relative paths, NULL = cwd). */
int vfs_mkdir(struct fs_context *ctx, struct inode *start, const char *path, uint32_t mode);
int vfs_mknod(struct fs_context *ctx, struct inode *start, const char *path, uint32_t mode, uint64_t rdev);
int vfs_unlink(struct fs_context *ctx, struct inode *start, const char *path);
int vfs_rmdir(struct fs_context *ctx, struct inode *start, const char *path);
int vfs_rename(struct fs_context *ctx, struct inode *oldstart, const char *oldpath, struct inode *newstart,
               const char *newpath, unsigned flags);
int vfs_symlink(struct fs_context *ctx, const char *target, struct inode *start, const char *path);
int vfs_link(struct fs_context *ctx, struct inode *oldstart, const char *oldpath, struct inode *newstart,
             const char *newpath, bool follow);
int vfs_link_inode(struct fs_context *ctx, struct inode *target, struct inode *start, const char *path);
long vfs_readlink_inode(struct inode *ino, char *buf, size_t size);   /* EINVAL if not a symlink */
/* Changes the working directory; the directory's canonical path becomes ctx->cwd_path. */
int vfs_chdir(struct fs_context *ctx, const char *path);
int vfs_chdir_file(struct fs_context *ctx, struct file *f);  /* fchdir */
/* Permission check for the given credentials (root: only X on non-directories needs an x bit). */
int vfs_permission(struct inode *ino, int mask, uint32_t uid, uint32_t gid);

/* Kernel conveniences (exec, boot): the kernel's view of the name space. */
struct file *vfs_open_kernel(const char *path, uint32_t flags);   /* NULL on any error */
/* Reads a whole regular file into a kmalloc'ed buffer (*buf, *len); returns 0 or -errno. */
long vfs_read_whole(const char *path, void **buf, size_t *len);

/* Directory listing. The sink is the VFS's; file systems only call dirent_emit*. Actors may be
 * called with a file system's lock held: they must not sleep or call back into the VFS. */
typedef bool (*dirent_actor)(void *ctx, const char *name, size_t len, uint64_t ino, uint32_t mode);
struct dirent_sink {
    dirent_actor actor;
    void *ctx;
    struct file *file;
    int emitted;
};
/* Returns false when the caller's buffer is full (stop, do not advance f->pos). mode: S_IF* bits. */
bool dirent_emit(struct dirent_sink *sink, const char *name, size_t len, uint64_t ino, uint32_t mode);
/* Emits "." at position 0 and ".." at position 1, advancing f->pos; false if the sink is full. */
bool dirent_emit_dots(struct file *f, struct dirent_sink *sink);
/* Lists a directory from f->pos on through actor (which returns false to stop). Returns the number
 * of entries emitted or -errno (ENOTDIR). */
int vfs_iterate_dir(struct file *f, dirent_actor actor, void *ctx);

/* Descriptor tables. */
struct fdtable *fdtable_new(void);
struct fdtable *fdtable_clone(struct fdtable *t);           /* fork: same open files, new table */
void fdtable_get(struct fdtable *t);                        /* CLONE_FILES: share the table */
void fdtable_put(struct fdtable *t);
void fdtable_close_on_exec(struct fdtable *t);
int fd_install(struct fdtable *t, struct file *f, int min_fd, bool cloexec);   /* lowest free >= min_fd; takes over f's reference; -EMFILE */
struct file *fd_get(struct fdtable *t, int fd);             /* referenced file or NULL */
int fd_close(struct fdtable *t, int fd);                    /* 0 or -EBADF */
int fd_dup(struct fdtable *t, int oldfd, int min_fd, bool cloexec);        /* new fd or -EBADF/-EMFILE/-EINVAL */
int fd_dup2(struct fdtable *t, int oldfd, int newfd, bool cloexec);        /* newfd or -EBADF */
int fd_get_cloexec(struct fdtable *t, int fd);              /* 0/1 or -EBADF */
int fd_set_cloexec(struct fdtable *t, int fd, bool on);

struct fs_context *fs_context_new(void);                    /* root and cwd = "/" */
struct fs_context *fs_context_clone(struct fs_context *c);
void fs_context_get(struct fs_context *c);                  /* CLONE_FS: share the context */
void fs_context_put(struct fs_context *c);

/* Poll support: any change of readiness of any file wakes every poller, who re-check (simple,
 * correct, and cheap at our scale). */
void poll_notify(void);
extern struct waitqueue poll_waiters;

/* Mounts. fstype: "proc", "devtmpfs"/"devfs", "tmpfs"/"ramfs" ("sysfs": -ENODEV). */
int vfs_mount_fs(struct fs_context *ctx, const char *source, const char *target, const char *fstype);
int vfs_umount(struct fs_context *ctx, const char *target);
struct vfs_mount_info {
    const char *source, *target, *fstype;   /* as /proc/mounts shows them */
    uint32_t dev;
};
/* Calls fn for each mount, "/" first, in mount order, until it returns false. fn must not sleep. */
void vfs_for_each_mount(bool (*fn)(const struct vfs_mount_info *m, void *ctx), void *ctx);
/* f_type magic for statfs of an instance, and its type name. */
uint64_t vfs_fs_magic(uint32_t dev);
const char *vfs_fs_type(uint32_t dev);

/* Boot: the root ramfs filled from the cpio initrd, devfs on /dev. */
void vfs_init(void);
int initrd_unpack(const void *data, size_t len);            /* cpio newc into the root ramfs */
struct inode *vfs_root(void);                               /* borrowed */

/* ramfs: a new, empty, writable instance; returns its root (referenced). */
struct inode *ramfs_new(const char *fstype);
/* Removes every name in an instance (after its umount); open files live on until closed. */
void ramfs_clear(struct inode *root);

/* Device registration for devfs: major/minor, Linux numbering (1,3 null; 1,5 zero; 1,7 full;
 * 1,8 random; 1,9 urandom; 5,0 tty; 5,1 console; 4,64 ttyS0). mode: permissions (S_IFCHR is
 * implied). The name may contain '/' (missing directories are made). The device's file operations
 * find priv in f->priv (and inode->priv). */
int devfs_register(const char *name, uint32_t mode, uint32_t major, uint32_t minor, const struct file_ops *fops,
                   void *priv);
struct inode *devfs_root(void);                             /* borrowed */
/* The registered device with this number (Linux encoding): its fops (NULL if none) and priv. */
const struct file_ops *devfs_find(uint64_t rdev, void **priv);
void devfs_init(void);                                      /* idempotent; vfs_init calls it */
