/*
 * kernel/ktest.c: the in-kernel self-test runner and the tests of the core: page allocator, heap,
 * page tables, fault fixups, scheduler, sleeps and the timer. Each test checks real behaviour
 * against an independent measure (free counts, patterns written and read back, the TSC).
 */
#include "kernel/ktest.h"
#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "arch/x86/io.h"
#include "arch/x86/trap.h"
#include "kernel/format.h"
#include "kernel/heap.h"
#include "kernel/kmalloc.h"
#include "kernel/mm.h"
#include "kernel/panic.h"
#include "kernel/pmm.h"
#include "kernel/printk.h"
#include "kernel/sched.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/vm.h"

extern const struct ktest __ktest_start[], __ktest_end[];
long copy_safe(void *dst, const void *src, uint64_t n);

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

void qemu_exit(unsigned code)
{
    outl(0xf4, code);
    /* Not under QEMU (or no isa-debug-exit): stay halted so the result stays on screen. */
    printk(LOG_INFO, "ktest: isa-debug-exit absent, halting\n");
    cpu_halt_forever();
}

void ktest_run_all(void)
{
    int passed = 0, failed = 0;
    for (const struct ktest *t = __ktest_start; t < __ktest_end; t++) {
        char why[160] = "";
        uint64_t t0 = clock_ns();
        bool ok = t->fn(why, sizeof why);
        uint64_t ms = (clock_ns() - t0) / NSEC_PER_MSEC;
        if (ok)
            printk(LOG_EMERG, "ktest: %s: ok (%lu ms)\n", t->name, ms);
        else
            printk(LOG_EMERG, "ktest: %s: FAIL %s\n", t->name, why);
        ok ? passed++ : failed++;
    }
    printk(LOG_EMERG, "ktest: summary: %d passed, %d failed\n", passed, failed);
    qemu_exit(failed ? QEMU_EXIT_FAIL : QEMU_EXIT_PASS);
}

/* Page allocator: take every free page, check the count, give them back, check all coalesced. */
KTEST(pmm_exhaust_and_reuse)
{
    uint64_t before = pmm_free_count(), n = 0, head = 0;
    for (uint64_t pa; (pa = pmm_alloc_pages(0)) != 0; n++) {
        *(uint64_t *)P2V(pa) = head;            /* chain the pages through themselves */
        head = pa;
    }
    if (n != before)
        KTEST_FAIL("allocated %lu pages, %lu were free", n, before);
    if (pmm_alloc_pages(0) != 0 || pmm_free_count() != 0)
        KTEST_FAIL("allocator not exhausted after taking every page");
    while (head) {
        uint64_t next = *(uint64_t *)P2V(head);
        pmm_free_pages(head, 0);
        head = next;
    }
    if (pmm_free_count() != before)
        KTEST_FAIL("free count %lu after freeing all, expected %lu", pmm_free_count(), before);
    uint64_t big = pmm_alloc_pages(8);          /* 1 MiB: only possible if buddies merged again */
    if (!big || (big & ((PAGE_SIZE << 8) - 1)))
        KTEST_FAIL("no aligned order-8 block after reuse (%#lx)", big);
    pmm_free_pages(big, 8);
    return true;
}

/* Heap: random sizes filled with a per-block pattern, verified before freeing in random order. */
KTEST(heap_stress)
{
    enum { N = 600 };
    static uint8_t *blocks[N];
    static size_t sizes[N];
    struct heap_stats s0, s1;
    kmalloc_stats(&s0);
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i++) {
            sizes[i] = 1 + rng() % (i % 10 == 0 ? 20000 : 600);
            blocks[i] = kmalloc(sizes[i]);
            if (!blocks[i])
                KTEST_FAIL("kmalloc(%zu) failed", sizes[i]);
            if ((uint64_t)blocks[i] & 15)
                KTEST_FAIL("kmalloc(%zu) not 16-byte aligned: %p", sizes[i], blocks[i]);
            memset(blocks[i], (uint8_t)(i * 7 + round), sizes[i]);
        }
        for (int k = 0; k < N; k++) {
            int i = rng() % N;
            while (!blocks[i])
                i = (i + 1) % N;
            for (size_t j = 0; j < sizes[i]; j++)
                if (blocks[i][j] != (uint8_t)(i * 7 + round))
                    KTEST_FAIL("block %d (%zu bytes) corrupted at %zu", i, sizes[i], j);
            kfree(blocks[i]);
            blocks[i] = NULL;
        }
    }
    kmalloc_stats(&s1);
    if (s1.bytes_in_use != s0.bytes_in_use || s1.errors != s0.errors)
        KTEST_FAIL("heap in use %zu -> %zu bytes, errors %zu -> %zu", s0.bytes_in_use, s1.bytes_in_use,
                   s0.errors, s1.errors);
    return true;
}

/* Page tables: a fresh address space, a page mapped, written through its user address, read
 * through the direct map, unmapped; then the address must fault, and every page comes back. */
KTEST(vm_map_unmap)
{
    struct heap_stats h0, h1;
    kmalloc_stats(&h0);
    uint64_t free0 = pmm_free_count();
    struct vm_space *s = vm_space_create();
    uint64_t pa = pmm_alloc_page(), va = 0x400000, got;
    if (!s || !pa)
        KTEST_FAIL("out of memory");
    if (vm_map(s, va, pa, VM_WRITE | VM_USER) != 0)
        KTEST_FAIL("vm_map failed");
    vm_activate(s);
    *(volatile uint64_t *)va = 0x5ea1c0de;
    bool seen = *(volatile uint64_t *)P2V(pa) == 0x5ea1c0de;
    bool translated = vm_translate(s, va + 8, &got, NULL) && got == pa + 8;
    bool unmapped = vm_unmap(s, va, &got) && got == pa;
    uint64_t probe;
    long r = copy_safe(&probe, (void *)va, sizeof probe);
    vm_activate(vm_kernel_space());
    vm_space_destroy(s, NULL);
    pmm_free_page(pa);
    if (!seen || !translated || !unmapped)
        KTEST_FAIL("write seen %d, translate %d, unmap %d", seen, translated, unmapped);
    if (r != -14)
        KTEST_FAIL("read of an unmapped page returned %ld, not -EFAULT", r);
    kmalloc_stats(&h1);
    long leaked = (long)(free0 - pmm_free_count()) - (long)(h1.pages_in_use - h0.pages_in_use);
    if (leaked != 0)
        KTEST_FAIL("leaked %ld pages", leaked);
    return true;
}

/* A deliberate page fault, caught by the exception-table fixture instead of killing the node. */
KTEST(page_fault_fixture)
{
    uint64_t faults = trap_fault_count(VEC_PAGE_FAULT), v = 0;
    uint64_t bad = 0x1000;                      /* the boot identity map is gone: unmapped */
    long r = copy_safe(&v, (void *)bad, sizeof v);
    if (r != -14)
        KTEST_FAIL("copy_safe from %#lx returned %ld", bad, r);
    if (trap_fault_count(VEC_PAGE_FAULT) != faults + 1)
        KTEST_FAIL("fault not counted");
    if (trap_last_cr2() != bad)
        KTEST_FAIL("CR2 %#lx, expected %#lx", trap_last_cr2(), bad);
    r = copy_safe(&v, (void *)0x8000000000000000ull, sizeof v);   /* non-canonical: #GP */
    if (r != -14)
        KTEST_FAIL("non-canonical address gave %ld", r);
    return true;
}

/* Symbols: fault reports must name functions. */
KTEST(symbol_lookup)
{
    uint64_t off;
    const char *name = ksym_lookup((uint64_t)ktest_run_all + 3, &off);
    if (!name || strcmp(name, "ktest_run_all") != 0 || off != 3)
        KTEST_FAIL("lookup gave %s+%lu", name ? name : "(none)", off);
    return true;
}

struct spinner {
    volatile bool stop;
    volatile uint64_t count[3];
    volatile int done;
    struct waitqueue finished;
};

static void spin_thread(void *arg)
{
    struct spinner *sp = arg;
    static int next;
    int me = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED) % 3;
    while (!sp->stop)
        sp->count[me]++;
    uint64_t f = irq_save();
    sp->done++;
    wake_up(&sp->finished);
    irq_restore(f);
}

/* Preemptive round robin: three CPU-bound threads that never yield get similar shares. */
KTEST(sched_fairness)
{
    static struct spinner sp;
    memset((void *)&sp, 0, sizeof sp);
    wq_init(&sp.finished);
    for (int i = 0; i < 3; i++)
        if (!kthread_create("spinner", spin_thread, &sp))
            KTEST_FAIL("kthread_create failed");
    msleep(100);                        /* all three running: measure the steady state, not the start */
    uint64_t base[3] = { sp.count[0], sp.count[1], sp.count[2] };
    msleep(600);
    uint64_t share[3] = { sp.count[0] - base[0], sp.count[1] - base[1], sp.count[2] - base[2] };
    sp.stop = true;
    wait_event(sp.finished, sp.done == 3);
    uint64_t lo = share[0], hi = share[0];
    for (int i = 1; i < 3; i++) {
        lo = share[i] < lo ? share[i] : lo;
        hi = share[i] > hi ? share[i] : hi;
    }
    if (lo == 0 || hi > 2 * lo)
        KTEST_FAIL("unfair shares: %lu %lu %lu", share[0], share[1], share[2]);
    return true;
}

/* Timed sleeps never end early. The upper bound only catches gross errors (a lost wakeup, a
 * deadline in the wrong unit): on a loaded host an emulated CPU may lose the CPU for a while. */
KTEST(sleep_accuracy)
{
    static const uint64_t ms[] = { 15, 50, 120 };
    for (unsigned i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        uint64_t t0 = clock_ns();
        msleep(ms[i]);
        uint64_t took = (clock_ns() - t0) / 1000;
        if (took < ms[i] * 1000)
            KTEST_FAIL("msleep(%lu) returned after %lu us", ms[i], took);
        if (took > ms[i] * 1000 + 1000000)
            KTEST_FAIL("msleep(%lu) took %lu us", ms[i], took);
    }
    return true;
}

/* LAPIC timer ticks counted against the TSC over 0.5 ms, interrupts off: both run from the same
 * clock under emulation too, so the ratio is the calibration, whatever the host load. */
static bool lapic_matches_tsc(char *why, size_t why_len)
{
    uint32_t init = lapic_timer_hz() / HZ;
    uint64_t f = irq_save();
    uint32_t c0 = lapic_timer_current();
    uint64_t t0 = rdtsc();
    while (rdtsc() - t0 < tsc_hz() / 2000)
        cpu_relax();
    uint32_t c1 = lapic_timer_current();
    uint64_t t1 = rdtsc();
    irq_restore(f);
    uint64_t counted = c1 <= c0 ? c0 - c1 : c0 + init - c1;
    uint64_t expected = (t1 - t0) * lapic_timer_hz() / tsc_hz();
    if (counted * 100 < expected * 90 || counted * 100 > expected * 110 + 100) {
        ksnprintf(why, why_len, "LAPIC counted %lu in %lu TSC cycles, expected %lu", counted, t1 - t0, expected);
        return false;
    }
    return true;
}

/* The LAPIC timer, calibrated against the PIT, agrees with the TSC; and the tick arrives. */
KTEST(timer_calibration)
{
    if (tsc_hz() < 1000000 || lapic_timer_hz() < 10000)
        KTEST_FAIL("implausible frequencies: TSC %lu Hz, LAPIC %lu Hz", tsc_hz(), lapic_timer_hz());
    int good = 0;
    for (int i = 0; i < 5; i++)
        good += lapic_matches_tsc(why, why_len);
    if (good < 3)
        return false;
    uint64_t j0 = jiffies(), t0 = clock_ns();
    msleep(300);
    uint64_t ticks = jiffies() - j0, expect = (clock_ns() - t0) * HZ / NSEC_PER_SEC;
    if (ticks * 2 < expect || ticks > expect + 3)
        KTEST_FAIL("%lu ticks where about %lu were due", ticks, expect);
    return true;
}

struct mailbox {
    struct waitqueue wq;
    volatile int full;
    volatile uint64_t value;
    volatile bool bad;
};

static void consumer_thread(void *arg)
{
    struct mailbox *m = arg;
    for (uint64_t expect = 1; expect <= 500; expect++) {
        wait_event(m->wq, m->full);
        if (m->value != expect)
            m->bad = true;
        uint64_t f = irq_save();
        m->full = 0;
        wake_up(&m->wq);
        irq_restore(f);
    }
}

/* Wait queues: 500 hand-offs between two threads, in order, none lost. */
KTEST(waitqueue_handoff)
{
    static struct mailbox m;
    memset((void *)&m, 0, sizeof m);
    wq_init(&m.wq);
    if (!kthread_create("consumer", consumer_thread, &m))
        KTEST_FAIL("kthread_create failed");
    for (uint64_t v = 1; v <= 500; v++) {
        wait_event(m.wq, !m.full);
        uint64_t f = irq_save();
        m.value = v;
        m.full = 1;
        wake_up(&m.wq);
        irq_restore(f);
    }
    wait_event(m.wq, !m.full);
    if (m.bad)
        KTEST_FAIL("values arrived out of order");
    return true;
}

/* A variable, so the compiler cannot prove the address bad and refuse to emit the store. */
static volatile uint64_t *volatile crash_target = (volatile uint64_t *)0x10;

__attribute__((noinline)) void ktest_crash_pagefault(void)
{
    printk(LOG_EMERG, "ktest: crash=pagefault: writing to an unmapped address\n");
    *crash_target = 1;
}

__attribute__((noinline)) void ktest_crash_panic(void)
{
    panic("deliberate panic (crash=panic)");
}

void ktest_crash(const char *what)
{
    if (strcmp(what, "pagefault") == 0)
        ktest_crash_pagefault();
    else if (strcmp(what, "panic") == 0)
        ktest_crash_panic();
    else
        printk(LOG_WARN, "ktest: unknown crash=%s ignored\n", what);
}
