/* kernel/ktest.h: in-kernel self-tests, run when the kernel is booted with `ktest`. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct ktest {
    const char *name;
    /* Returns true on success; on failure writes a reason into why. */
    bool (*fn)(char *why, size_t why_len);
};

/* Defines and registers a test: KTEST(name) { ... return true; } */
#define KTEST(tname)                                                                    \
    static bool ktest_##tname(char *why, size_t why_len);                              \
    static const struct ktest ktest_desc_##tname __attribute__((used, section(".ktest." #tname))) = \
        { #tname, ktest_##tname };                                                      \
    static bool ktest_##tname(char *why, size_t why_len)

#define KTEST_FAIL(...)                                                                 \
    do {                                                                                \
        ksnprintf(why, why_len, __VA_ARGS__);                                           \
        return false;                                                                   \
    } while (0)

/* Runs every registered test, prints one line each and a summary, then leaves QEMU through
 * isa-debug-exit (exit status 33 when all passed, 35 otherwise). Does not return. */
__attribute__((noreturn)) void ktest_run_all(void);

/* Deliberate faults for the tests of the fault report (crash=pagefault|panic). */
void ktest_crash(const char *what);

#define QEMU_EXIT_PASS 0x10             /* QEMU exits with (value << 1) | 1 = 33 */
#define QEMU_EXIT_FAIL 0x11             /* 35 */
__attribute__((noreturn)) void qemu_exit(unsigned code);
