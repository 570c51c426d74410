/*
 * kernel/uaccess.h: access to user memory from system calls. Every user pointer goes through these:
 * the range is checked (with wrap-around) against the user half, pages not yet present are faulted
 * in as the process itself would, and an address the process may not touch gives -EFAULT, never a
 * kernel fault.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool user_range_ok(uint64_t addr, uint64_t n);
long copy_from_user(void *dst, const void *usrc, size_t n);     /* 0 or -EFAULT */
long copy_to_user(void *udst, const void *src, size_t n);       /* 0 or -EFAULT */
/* Copies a NUL-terminated string of at most max-1 characters; returns its length,
 * -EFAULT, or -ENAMETOOLONG when no NUL is found in max bytes. */
long strncpy_from_user(char *dst, const char *usrc, size_t max);
long clear_user(void *udst, size_t n);

/* Typed helpers for single values. */
#define get_user(kval, uptr) copy_from_user(&(kval), (uptr), sizeof(kval))
#define put_user(kval, uptr) copy_to_user((uptr), &(kval), sizeof(kval))
