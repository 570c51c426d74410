/* sigs: signal delivery.  A sigaction handler runs with its siginfo; sigprocmask blocks, makes the
 * signal pending and delivers it once on unblock; sa_mask holds other signals off during a handler;
 * SIGCHLD arrives when a child exits (sigsuspend waits for it); alarm() and pause(); EINTR from a
 * blocking read without SA_RESTART and a restarted read with it; default actions (SIGTERM kills,
 * SIGSTOP/SIGCONT stop and resume, seen by waitpid WUNTRACED and WNOHANG); SIGKILL cannot be caught;
 * a signal sent to another process runs that process's handler. */
#include <time.h>
#include "t.h"

static volatile sig_atomic_t usr1, usr2, chld, alrm, usr2_during_usr1;
static volatile int info_signo, info_code, info_pid;

static void on_usr1(int sig, siginfo_t *si, void *ctx)
{
    usr1++;
    info_signo = si->si_signo;
    info_code = si->si_code;
    info_pid = si->si_pid;
    if (usr1 == 1 && ctx) {
        kill(getpid(), SIGUSR2);        /* blocked by sa_mask: must wait until we return */
        usr2_during_usr1 = usr2;
    }
}
static void on_usr2(int sig) { usr2++; }
static void on_chld(int sig) { chld++; }
static void on_alrm(int sig) { alrm++; }

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void handle(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa = {.sa_handler = fn, .sa_flags = flags};
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(sig, &sa, NULL) == 0, "sigaction(%d): %s", sig, strerror(errno));
}

static void sleeper(void *arg)
{
    for (;;)
        pause();
}

int main(void)
{
    t_start("sigs");
    pid_t me = getpid();

    /* Handler with siginfo; SIGUSR2 in sa_mask. */
    struct sigaction sa = {.sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction(SIGUSR1): %s", strerror(errno));
    handle(SIGUSR2, on_usr2, 0);
    struct sigaction old;
    CHECK(sigaction(SIGUSR1, NULL, &old) == 0 && (old.sa_flags & SA_SIGINFO) &&
          old.sa_sigaction == on_usr1 && sigismember(&old.sa_mask, SIGUSR2),
          "sigaction does not read back what was set");

    kill(me, SIGUSR1);
    CHECK(usr1 == 1, "SIGUSR1 handler ran %d times, expected 1", (int)usr1);
    CHECK(info_signo == SIGUSR1 && info_code == SI_USER && info_pid == me,
          "siginfo: signo %d code %d pid %d, expected %d %d %d", info_signo, info_code, info_pid,
          SIGUSR1, SI_USER, me);
    CHECK(usr2_during_usr1 == 0, "SIGUSR2 ran inside the SIGUSR1 handler despite sa_mask");
    CHECK(usr2 == 1, "SIGUSR2 (pending during the handler) ran %d times, expected 1", (int)usr2);

    /* sigprocmask: blocked signals stay pending, standard signals do not queue. */
    sigset_t set, pending, cur;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0, "sigprocmask(SIG_BLOCK)");
    kill(me, SIGUSR2);
    kill(me, SIGUSR2);
    CHECK(usr2 == 1, "a blocked SIGUSR2 was delivered");
    sigemptyset(&pending);
    CHECK(sigpending(&pending) == 0 && sigismember(&pending, SIGUSR2), "SIGUSR2 not pending");
    sigprocmask(SIG_SETMASK, NULL, &cur);
    CHECK(sigismember(&cur, SIGUSR2), "the mask read back lacks SIGUSR2");
    CHECK(sigprocmask(SIG_UNBLOCK, &set, NULL) == 0, "sigprocmask(SIG_UNBLOCK)");
    CHECK(usr2 == 2, "after unblocking, SIGUSR2 ran %d times in all, expected 2", (int)usr2);

    /* SIGCHLD, waited for with sigsuspend. */
    handle(SIGCHLD, on_chld, 0);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(5);
    sigemptyset(&set);
    alarm(10);
    while (!chld && !alrm)
        sigsuspend(&set);
    alarm(0);
    sigprocmask(SIG_SETMASK, &set, NULL);
    CHECK(chld == 1, "SIGCHLD did not arrive");
    int st = -1;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 5,
          "child: %s", t_status(st));

    /* alarm() and pause() */
    handle(SIGALRM, on_alrm, 0);
    alrm = 0;
    double t0 = now();
    alarm(1);
    pause();
    double took = now() - t0;
    CHECK(alrm == 1, "SIGALRM did not arrive");
    CHECK(took > 0.9 && took < 3, "alarm(1) took %.2f s", took);
    CHECK(alarm(5) == 0 && alarm(0) >= 4, "alarm() does not return the remaining seconds");

    /* A blocking read is interrupted (EINTR) without SA_RESTART ... */
    int p[2];
    if (CHECK(pipe(p) == 0, "pipe")) {
        char c;
        alrm = 0;
        alarm(1);
        errno = 0;
        ssize_t r = read(p[0], &c, 1);
        CHECK_ERR(r, EINTR, "read interrupted by SIGALRM");
        /* ... and restarted with it: the data written 2 s later arrives. */
        handle(SIGALRM, on_alrm, SA_RESTART);
        alrm = 0;
        pid = fork();
        if (pid == 0) {
            sleep(2);
            (void)!write(p[1], "z", 1);
            _exit(0);
        }
        alarm(1);
        r = read(p[0], &c, 1);
        CHECK(r == 1 && c == 'z' && alrm == 1, "SA_RESTART read: %zd (%s), alarm ran %d times",
              r, strerror(errno), (int)alrm);
        waitpid(pid, NULL, 0);
        close(p[0]);
        close(p[1]);
    }

    /* Default actions. */
    pid = fork();
    if (pid == 0) {
        kill(getpid(), SIGTERM);
        _exit(0);
    }
    CHECK(waitpid(pid, &st, 0) == pid && t_killed_by(st, SIGTERM), "SIGTERM: %s", t_status(st));

    pid = fork();
    if (pid == 0)
        sleeper(NULL);
    kill(pid, SIGSTOP);
    CHECK(waitpid(pid, &st, WUNTRACED) == pid && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP,
          "SIGSTOP: %s", t_status(st));
    kill(pid, SIGCONT);
    CHECK(waitpid(pid, &st, WNOHANG) == 0, "WNOHANG on a continued child should return 0");
    kill(pid, SIGKILL);
    CHECK(waitpid(pid, &st, 0) == pid && t_killed_by(st, SIGKILL), "SIGKILL: %s", t_status(st));

    errno = 0;
    CHECK_ERR(sigaction(SIGKILL, &sa, NULL), EINVAL, "sigaction(SIGKILL)");
    CHECK_ERR(sigaction(SIGSTOP, &sa, NULL), EINVAL, "sigaction(SIGSTOP)");

    /* Another process's handler. */
    if (CHECK(pipe(p) == 0, "pipe")) {
        pid = fork();
        if (pid == 0) {
            handle(SIGUSR2, on_usr2, 0);
            usr2 = 0;
            (void)!write(p[1], "r", 1);         /* ready */
            while (!usr2)
                pause();
            (void)!write(p[1], "h", 1);
            _exit(0);
        }
        char c = 0;
        CHECK(read(p[0], &c, 1) == 1 && c == 'r', "child not ready");
        kill(pid, SIGUSR2);
        CHECK(read(p[0], &c, 1) == 1 && c == 'h', "the child's handler did not run");
        CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st), "child: %s", t_status(st));
    }
    return t_done();
}
