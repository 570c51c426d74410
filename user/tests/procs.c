/* procs: process identity and life cycle.  getpid/getppid; exit statuses 0..255 come back
 * through wait4; WNOHANG; ECHILD; process groups and sessions (setpgid, getpgid, getpgrp, setsid,
 * EPERM cases); an orphan is re-parented (getppid changes away from the dead parent); execve
 * passes argv and envp; the auxiliary vector (AT_PAGESZ, AT_RANDOM, AT_PHDR/AT_PHNUM, AT_ENTRY,
 * AT_EXECFN, AT_UID...); uname; vfork shares memory until exec/exit. */
#include <sys/auxv.h>
#include <sys/utsname.h>
#include <elf.h>
#include "t.h"

extern char **environ;

static int child_mode(int argc, char **argv)
{
    /* procs exec-child A B: checks what the parent's execve passed */
    const char *v = getenv("PROCS_TEST");
    int ok = argc == 4 && !strcmp(argv[2], "A B") && !strcmp(argv[3], "") && v && !strcmp(v, "x=y");
    return ok ? 42 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "exec-child"))
        return child_mode(argc, argv);
    t_start("procs");
    pid_t me = getpid(), parent = getppid();
    CHECK(me > 0 && parent >= 0 && me != parent, "getpid %d getppid %d", me, parent);

    for (int code = 0; code < 256; code += 51) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(code);
        int st = -1;
        CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == code,
              "exit(%d) came back as %s", code, t_status(st));
    }
    CHECK_ERR(waitpid(-1, NULL, WNOHANG), ECHILD, "wait with no children");

    int p[2];
    (void)!pipe(p);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        (void)!read(p[0], &c, 1);
        _exit(getppid() == me ? 0 : 1);
    }
    CHECK(waitpid(pid, NULL, WNOHANG) == 0, "WNOHANG on a running child should return 0");
    (void)!write(p[1], "g", 1);
    int st = -1;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "the child saw another parent: %s", t_status(st));
    close(p[0]);
    close(p[1]);

    /* Process groups and sessions */
    pid_t pgrp = getpgrp();
    CHECK(getpgid(0) == pgrp && pgrp > 0, "getpgrp %d, getpgid(0) %d", pgrp, getpgid(0));
    (void)!pipe(p);
    pid = fork();
    if (pid == 0) {
        int bad = 0;
        bad |= (setpgid(0, 0) != 0 || getpgrp() != getpid()) << 0;
        bad |= (setsid() != -1 || errno != EPERM) << 1;     /* a group leader cannot setsid */
        pid_t g = fork();
        if (g == 0) {
            pid_t s = setsid();
            _exit(s == getpid() && getpgrp() == s ? 0 : 1);
        }
        int gst = -1;
        waitpid(g, &gst, 0);
        bad |= !(WIFEXITED(gst) && WEXITSTATUS(gst) == 0) << 2;
        _exit(bad);
    }
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "setpgid/setsid in children: %s (bits: 1 setpgid, 2 setsid of a leader, 4 setsid)",
          t_status(st));
    CHECK_ERR(setpgid(999999, 0), ESRCH, "setpgid of a missing process");
    CHECK_ERR(getpgid(999999), ESRCH, "getpgid of a missing process");
    close(p[0]);
    close(p[1]);

    /* An orphan is re-parented. */
    (void)!pipe(p);
    pid = fork();
    if (pid == 0) {
        pid_t mid = getpid();
        pid_t g = fork();
        if (g == 0) {
            for (int i = 0; i < 500 && getppid() == mid; i++)
                usleep(10000);
            pid_t np = getppid();
            (void)!write(p[1], &np, sizeof np);
            _exit(0);
        }
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    pid_t newparent = 0;
    CHECK(read(p[0], &newparent, sizeof newparent) == sizeof newparent, "no word from the orphan");
    CHECK(newparent != pid && newparent > 0, "the orphan's parent is %d (its dead parent was %d)",
          newparent, pid);
    close(p[0]);
    close(p[1]);

    /* execve passes argv and envp */
    pid = fork();
    if (pid == 0) {
        char *av[] = {argv[0], "exec-child", "A B", "", NULL};
        char *ev[] = {"PROCS_TEST=x=y", NULL};
        execve(argv[0], av, ev);
        _exit(127);
    }
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 42,
          "execve(%s exec-child ...): %s (127: exec failed, 1: wrong argv/envp)", argv[0], t_status(st));

    /* The auxiliary vector */
    CHECK(getauxval(AT_PAGESZ) == 4096, "AT_PAGESZ %lu", getauxval(AT_PAGESZ));
    unsigned char *rnd = (unsigned char *)getauxval(AT_RANDOM);
    int nonzero = 0;
    for (int i = 0; rnd && i < 16; i++)
        nonzero |= rnd[i];
    CHECK(rnd && nonzero, "AT_RANDOM missing or all zero");
    Elf64_Phdr *ph = (Elf64_Phdr *)getauxval(AT_PHDR);
    CHECK(ph && getauxval(AT_PHNUM) > 0 && getauxval(AT_PHENT) == sizeof(Elf64_Phdr),
          "AT_PHDR %p AT_PHNUM %lu AT_PHENT %lu", (void *)ph, getauxval(AT_PHNUM), getauxval(AT_PHENT));
    int has_load = 0;
    for (unsigned long i = 0; ph && i < getauxval(AT_PHNUM); i++)
        has_load |= ph[i].p_type == PT_LOAD;
    CHECK(has_load, "no PT_LOAD among the program headers at AT_PHDR");
    extern char _start[];
    CHECK(getauxval(AT_ENTRY) == (unsigned long)_start, "AT_ENTRY %#lx, _start %p",
          getauxval(AT_ENTRY), (void *)_start);
    const char *execfn = (const char *)getauxval(AT_EXECFN);
    CHECK(execfn && !strcmp(execfn, argv[0]), "AT_EXECFN \"%s\", argv[0] \"%s\"", execfn ? execfn : "(none)",
          argv[0]);
    CHECK(getauxval(AT_UID) == getuid() && getauxval(AT_EUID) == geteuid() &&
          getauxval(AT_GID) == getgid() && getauxval(AT_EGID) == getegid(), "AT_UID/EUID/GID/EGID");

    struct utsname u;
    CHECK(uname(&u) == 0 && !strcmp(u.machine, "x86_64") && u.nodename[0] && u.release[0],
          "uname: %s %s %s %s", u.sysname, u.nodename, u.release, u.machine);

    /* vfork: the child runs in our memory until it exits */
    static volatile int shared_word;
    pid = vfork();
    if (pid == 0) {
        shared_word = 7;
        _exit(0);
    }
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid, "vfork: %s", strerror(errno));
    CHECK(shared_word == 7, "vfork child's write not seen by the parent");
    return t_done();
}
