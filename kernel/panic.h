/* kernel/panic.h: fatal errors, symbol lookup and backtraces. */
#pragma once
#include <stdint.h>

__attribute__((noreturn, format(printf, 1, 2))) void panic(const char *fmt, ...);

/* Name of the function containing addr (and the offset into it), or NULL. */
const char *ksym_lookup(uint64_t addr, uint64_t *offset);
/* Prints " <func+0xoff>" style frames by walking the frame-pointer chain from rbp. */
void backtrace_print(uint64_t rip, uint64_t rbp);

#define BUG_ON(cond) do { if (cond) panic("BUG_ON(%s) at %s:%d", #cond, __FILE__, __LINE__); } while (0)
