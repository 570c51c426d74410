/* kernel/kmalloc.h: the kernel heap (kernel/heap.c's allocator over pages from the buddy allocator). */
#pragma once
#include <stddef.h>
#include <stdint.h>

void kmalloc_init(void);
void *kmalloc(size_t size);
void *kzalloc(size_t size);
void kfree(void *p);
struct heap_stats;
void kmalloc_stats(struct heap_stats *out);
