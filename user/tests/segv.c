/* segv: bad memory accesses and faulting instructions kill the process with the right signal, and
 * only that process.  `segv` checks, in forked children: NULL read and write, a write to read-only
 * text, a jump to NULL, a kernel address, ud2 (SIGILL), division by zero (SIGFPE), unbounded stack
 * recursion, and a SIGSEGV handler that sees si_addr and gets out with siglongjmp.
 * `segv crash` dereferences NULL itself: the shell must then print "Segmentation fault". */
#include <setjmp.h>
#include <stdint.h>
#include "t.h"

static volatile int sink;

static void null_read(void *arg) { sink = *(volatile int *)0; }
static void null_write(void *arg) { *(volatile int *)0 = 1; }
static void text_write(void *arg) { *(volatile unsigned char *)(uintptr_t)&null_read = 0xc3; }
static void kernel_read(void *arg) { sink = *(volatile int *)0xffffffff80100000ull; }
static void noncanonical_read(void *arg) { sink = *(volatile int *)0x0000800000000000ull; }
static void jump_null(void *arg) { ((void (*)(void))0)(); }
static void ud2(void *arg) { __asm__ volatile("ud2"); }
static void divide_by_zero(void *arg)
{
    __asm__ volatile("xor %%ecx, %%ecx; mov $1, %%eax; cltd; idivl %%ecx" ::: "eax", "ecx", "edx");
}

static volatile int depth_limit = 1 << 30;    /* volatile: the compiler cannot see the end */

static int recurse(int n)
{
    volatile char pad[1024];
    pad[0] = (char)n;
    return n < depth_limit ? recurse(n + 1) + pad[0] : 0;
}
static void stack_overflow(void *arg) { sink = recurse(0); }
static void do_abort(void *arg) { abort(); }

static sigjmp_buf env;
static void *fault_addr;
static int fault_code;

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
    fault_addr = si->si_addr;
    fault_code = si->si_code;
    siglongjmp(env, 1);
}

static void expect_signal(const char *what, void (*fn)(void *), int sig)
{
    int st = t_in_child(fn, NULL);
    CHECK(t_killed_by(st, sig), "%s: expected death by signal %d (%s), got %s", what, sig,
          strsignal(sig), st == -1 ? "fork/wait failure" : t_status(st));
}

int main(int argc, char **argv)
{
    t_start("segv");
    if (argc > 1 && !strcmp(argv[1], "crash")) {
        printf("segv: dereferencing NULL now; the shell should say \"Segmentation fault\"\n");
        null_write(NULL);
        printf("FAIL segv: still alive after writing to NULL\n");
        return 1;
    }

    expect_signal("read from NULL", null_read, SIGSEGV);
    expect_signal("write to NULL", null_write, SIGSEGV);
    expect_signal("write to read-only text", text_write, SIGSEGV);
    expect_signal("read of a kernel address", kernel_read, SIGSEGV);
    expect_signal("read of a non-canonical address", noncanonical_read, SIGSEGV);
    expect_signal("call through a NULL function pointer", jump_null, SIGSEGV);
    expect_signal("ud2", ud2, SIGILL);
    expect_signal("integer division by zero", divide_by_zero, SIGFPE);
    expect_signal("unbounded recursion", stack_overflow, SIGSEGV);
    expect_signal("abort()", do_abort, SIGABRT);

    /* A handler catches the fault, sees where it was, and the process carries on. */
    struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGSEGV, &sa, NULL) == 0, "sigaction(SIGSEGV): %s", strerror(errno));
    for (int round = 0; round < 3; round++) {   /* more than once: the mask must be restored */
        fault_addr = NULL;
        if (sigsetjmp(env, 1) == 0) {
            sink = *(volatile int *)(uintptr_t)(0x10 + round);
            CHECK(0, "round %d: reading address 0x%x did not fault", round, 0x10 + round);
        } else {
            CHECK(fault_addr == (void *)(uintptr_t)(0x10 + round),
                  "round %d: si_addr %p, expected %p", round, fault_addr,
                  (void *)(uintptr_t)(0x10 + round));
            CHECK(fault_code == SEGV_MAPERR, "round %d: si_code %d, expected SEGV_MAPERR (%d)",
                  round, fault_code, SEGV_MAPERR);
        }
    }
    if (sigsetjmp(env, 1) == 0) {
        text_write(NULL);
        CHECK(0, "writing to text did not fault");
    } else {
        CHECK(fault_code == SEGV_ACCERR, "write to text: si_code %d, expected SEGV_ACCERR (%d)",
              fault_code, SEGV_ACCERR);
    }
    return t_done();
}
