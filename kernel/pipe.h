/* kernel/pipe.h: anonymous pipes (kernel/pipe.c): a 64 KiB ring between a read end and a write end. */
#pragma once

struct file;

#define PIPE_SIZE 65536             /* capacity, Linux's default */
#define PIPE_BUF 4096               /* writes up to this size are atomic (POSIX) */

/* A new pipe: *rd is open O_RDONLY, *wr O_WRONLY, each holding one reference. 0 or -ENOMEM. */
int pipe_create(struct file **rd, struct file **wr);
