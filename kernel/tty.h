/*
 * kernel/tty.h: the console terminal (serial COM1 in, serial + VGA out) with its line discipline
 * (kernel/ldisc.h), its session and foreground process group (job control), and its device files
 * /dev/console (5,1), /dev/ttyS0 (4,64) and /dev/tty (5,0: the caller's controlling terminal).
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct tty;

/* Once, after vfs_init (devfs must exist): sets up the console and takes over serial input. */
void tty_init(void);
struct tty *tty_console(void);

/* Makes sid the session whose controlling terminal t is, with fg_pgid in the foreground (the lead
 * gives init the console this way; the caller also sets process->tty). */
void tty_set_session(struct tty *t, int sid, int fg_pgid);
/* The leader of session sid died: the foreground group gets SIGHUP and SIGCONT, the terminal
 * forgets the session, and every process of the session loses it as controlling terminal. */
void tty_session_exit(int sid);

/* For /proc/PID/stat: the device number (Linux encoding, as tty_nr) and foreground group (tpgid,
 * -1 if none). t may be NULL (no terminal): 0 and -1. */
uint32_t tty_devnum(struct tty *t);
int tty_fg_pgrp(struct tty *t);

/* Feeds bytes to t as if they had been received (what the serial interrupt does; tests). */
void tty_receive(struct tty *t, const char *s, size_t n);
