/* notelf: execve of files that are not executables fails with the right errno and leaves the
 * caller intact: text without #! and an empty file (ENOEXEC), an ELF header cut short or for
 * another class or machine (ENOEXEC), a missing file (ENOENT), a directory or a file without x
 * permission (EACCES), a #! script whose interpreter is missing (ENOENT).  A working #! script with
 * arguments runs and its exit status comes back. */
#include <fcntl.h>
#include <sys/stat.h>
#include "t.h"

static char dir[64];

static const char *make(const char *name, const void *data, size_t len, int mode)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd) != 0)
        CHECK(0, "cannot create %s: %s", path, strerror(errno));
    chmod(path, mode);
    return path;
}

static void expect_exec_error(const char *what, const char *path, int err)
{
    char *argv[] = {(char *)path, NULL}, *envp[] = {NULL};
    errno = 0;
    int r = execve(path, argv, envp);
    CHECK(r == -1 && errno == err, "execve(%s): expected errno %d (%s), got %d (%s)", what, err,
          strerror(err), errno, strerror(errno));
}

int main(void)
{
    t_start("notelf");
    snprintf(dir, sizeof dir, "/tmp/notelf.%d", (int)getpid());
    if (!CHECK(mkdir(dir, 0755) == 0, "mkdir %s: %s", dir, strerror(errno)))
        return t_done();

    expect_exec_error("a text file", make("text", "hello world\n", 12, 0755), ENOEXEC);
    expect_exec_error("an empty file", make("empty", "", 0, 0755), ENOEXEC);
    expect_exec_error("a 4-byte ELF magic", make("magic", "\177ELF", 4, 0755), ENOEXEC);

    unsigned char ehdr[64] = {0x7f, 'E', 'L', 'F', 1 /* 32-bit */, 1, 1};
    ehdr[16] = 2;                   /* ET_EXEC */
    ehdr[18] = 3;                   /* EM_386 */
    expect_exec_error("a 32-bit ELF header", make("elf32", ehdr, sizeof ehdr, 0755), ENOEXEC);
    ehdr[4] = 2;                    /* 64-bit, but still EM_386 and no program headers */
    expect_exec_error("an ELF64 header for i386", make("elf64", ehdr, sizeof ehdr, 0755), ENOEXEC);

    char missing[96];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    expect_exec_error("a missing file", missing, ENOENT);
    expect_exec_error("a directory", dir, EACCES);
    expect_exec_error("a file without x permission", make("noexec", "#!/bin/sh\n", 10, 0644),
                      EACCES);
    expect_exec_error("a script with a missing interpreter",
                      make("badinterp", "#!/nonexistent/sh\n", 18, 0755), ENOENT);

    /* A script that works: arguments and exit status. */
    const char *script = make("ok", "#!/bin/sh\n[ \"$1 $2\" = \"one two\" ] && exit 3\nexit 1\n",
                              48, 0755);
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {(char *)script, "one", "two", NULL};
        char *envp[] = {"PATH=/bin:/usr/bin", NULL};
        execve(script, argv, envp);
        _exit(127);
    }
    int st = -1;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid, "fork/waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3, "#! script: %s, expected exit 3", t_status(st));

    const char *names[] = {"text", "empty", "magic", "elf32", "elf64", "noexec", "badinterp", "ok"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    CHECK(rmdir(dir) == 0, "rmdir %s: %s", dir, strerror(errno));
    return t_done();
}
