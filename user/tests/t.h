/* user/tests/t.h: tiny harness shared by Shoal's userland test programs.
 *
 * Each program checks things with CHECK(), prints one "FAIL name: why" line per failed check and, at
 * the end, exactly one verdict line "PASS name" or "FAIL name (N of M checks failed)", and exits 0
 * only when everything passed.  The programs are ordinary static Linux binaries: they must pass on
 * the host too, so they test Shoal against Linux's behaviour, not against Shoal's. */
#pragma once

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *t_name = "?";
static int t_checks, t_failed;

static inline void t_start(const char *name)
{
    t_name = name;
    setvbuf(stdout, NULL, _IONBF, 0);   /* no output lost or duplicated across fork and crashes */
}

__attribute__((format(printf, 3, 4)))
static inline int t_check(int ok, int line, const char *fmt, ...)
{
    t_checks++;
    if (ok)
        return 1;
    t_failed++;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    printf("FAIL %s: line %d: %s\n", t_name, line, msg);
    return 0;
}

/* CHECK(cond, "what was expected", ...): counts the check, reports it when cond is false.
 * Evaluates to cond so that a test can stop early: if (!CHECK(...)) return t_done(); */
#define CHECK(cond, ...) t_check(!!(cond), __LINE__, __VA_ARGS__)

/* Checks that a call returning -1/errno failed with the expected errno. */
#define CHECK_ERR(ret, err, what) \
    CHECK((ret) == -1 && errno == (err), "%s: expected -1 with %s, got %ld (errno %d: %s)", \
          what, #err, (long)(ret), errno, strerror(errno))

static inline int t_done(void)
{
    if (t_failed) {
        printf("FAIL %s (%d of %d checks failed)\n", t_name, t_failed, t_checks);
        return 1;
    }
    printf("PASS %s (%d checks)\n", t_name, t_checks);
    return 0;
}

/* A wait status as text, for messages: "exit 3", "signal 11", "signal 11 (core)", "stopped 19". */
static inline const char *t_status(int st)
{
    static char buf[64];
    if (WIFEXITED(st))
        snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "signal %d%s", WTERMSIG(st), WCOREDUMP(st) ? " (core)" : "");
    else if (WIFSTOPPED(st))
        snprintf(buf, sizeof buf, "stopped %d", WSTOPSIG(st));
    else
        snprintf(buf, sizeof buf, "status 0x%x", st);
    return buf;
}

/* Runs fn(arg) in a child and returns its wait status (or -1 if fork or wait failed). */
static inline int t_in_child(void (*fn)(void *), void *arg)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        fn(arg);
        _exit(0);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return st;
}

static inline int t_killed_by(int st, int sig)
{
    return st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == sig;
}
