/* kernel/spinlock.h: spinlocks that also disable interrupts, so a handler can never spin on a lock
 * its own CPU holds. Shoal runs one CPU per node today; the atomic exchange keeps them honest for SMP. */
#pragma once
#include "arch/x86/irq.h"
#include <stdint.h>

struct spinlock {
    volatile uint32_t locked;
    const char *name;
};

#define SPINLOCK_INIT(n) { 0, n }

static inline uint64_t spin_lock_irqsave(struct spinlock *l)
{
    uint64_t flags = irq_save();
    while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
        __asm__ volatile("pause");
    return flags;
}

static inline void spin_unlock_irqrestore(struct spinlock *l, uint64_t flags)
{
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
    irq_restore(flags);
}
