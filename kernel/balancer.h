/*
 * kernel/balancer.h: the load-balancing kernel thread (kernel/balancer.c, docs/BALANCER.md): every
 * node measures its load and free memory, tells a few random peers each period, and moves
 * processes to less loaded nodes (or away when memory runs short, or home when they mostly call
 * home) with kernel/migrate.h. Tunables and its log are in /proc/cluster/balancer/.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct boot_options;

void balancer_init(const struct boot_options *o);  /* boot: after migrate_init; balance=on|off */
uint32_t balancer_load(void);           /* smoothed runnable processes x 1000 / speed */
uint32_t balancer_speed(void);          /* this CPU against the reference (1000) */
/* May a process the sender's balancer chose (for reason, enum bal_reason) come here, the sender
 * being this loaded? If so it counts here at once. */
bool balancer_accepts(int reason, uint32_t sender_load, uint64_t size_bytes);
/* A process this node's balancer sent away stayed after all (the move failed). */
void balancer_stayed(uint64_t size_bytes);

