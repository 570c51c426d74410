/* kernel/node.h: this node's identity in the cluster. */
#pragma once
#include <stdint.h>

/* node=auto (-1): the last byte of the e1000's MAC address; otherwise the given number. */
void node_init(int requested);
int node_self(void);
const uint8_t *node_mac(void);
