/*
 * kernel/ldisc.h: the terminal line discipline (Linux's n_tty, the parts busybox uses): termios,
 * input processing (CR/NL mapping, signal characters, canonical line editing with echo), the
 * non-canonical byte queue and output processing (OPOST). Portable: it knows no kernel, device or
 * process; the glue (kernel/tty.c) supplies callbacks, does the locking, and implements blocking and
 * the VMIN/VTIME timer. Host-tested in tests/unit/test_ldisc.c.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Linux's kernel struct termios, as TCGETS/TCSETS copy it (36 bytes). */
#define NCCS 19
struct termios {
    uint32_t c_iflag, c_oflag, c_cflag, c_lflag;
    uint8_t c_line;
    uint8_t c_cc[NCCS];
};

/* c_cc indices. */
#define VINTR 0
#define VQUIT 1
#define VERASE 2
#define VKILL 3
#define VEOF 4
#define VTIME 5
#define VMIN 6
#define VSWTC 7
#define VSTART 8
#define VSTOP 9
#define VSUSP 10
#define VEOL 11
#define VREPRINT 12
#define VDISCARD 13
#define VWERASE 14
#define VLNEXT 15
#define VEOL2 16

/* c_iflag */
#define IGNBRK 0000001
#define BRKINT 0000002
#define IGNPAR 0000004
#define PARMRK 0000010
#define INPCK 0000020
#define ISTRIP 0000040
#define INLCR 0000100
#define IGNCR 0000200
#define ICRNL 0000400
#define IUCLC 0001000
#define IXON 0002000
#define IXANY 0004000
#define IXOFF 0010000
#define IMAXBEL 0020000
#define IUTF8 0040000

/* c_oflag */
#define OPOST 0000001
#define OLCUC 0000002
#define ONLCR 0000004
#define OCRNL 0000010
#define ONOCR 0000020
#define ONLRET 0000040
#define TABDLY 0014000
#define XTABS 0014000

/* c_cflag */
#define CBAUD 0010017
#define B9600 0000015
#define B38400 0000017
#define CSIZE 0000060
#define CS8 0000060
#define CSTOPB 0000100
#define CREAD 0000200
#define PARENB 0000400
#define HUPCL 0002000
#define CLOCAL 0004000

/* c_lflag */
#define ISIG 0000001
#define ICANON 0000002
#define ECHO 0000010
#define ECHOE 0000020
#define ECHOK 0000040
#define ECHONL 0000100
#define NOFLSH 0000200
#define TOSTOP 0000400
#define ECHOCTL 0001000
#define ECHOPRT 0002000
#define ECHOKE 0004000
#define IEXTEN 0100000

/* A c_cc entry of 0 disables that character (Linux's _POSIX_VDISABLE). */
#define LDISC_VDISABLE 0

/* Signals the line discipline raises, Linux numbering (kernel/signal.h has the same values). */
#define LDISC_SIGINT 2
#define LDISC_SIGQUIT 3
#define LDISC_SIGTSTP 20

#define LDISC_BUF_SIZE 4096         /* input queue; a power of two */
#define LDISC_EMPTY (-1)            /* ldisc_read: nothing to read now (not EOF) */

/* What the line discipline needs from its device. All are called with the glue's lock held
 * (possibly in interrupt context): they must not block or call back into the line discipline. */
struct ldisc_ops {
    void (*output)(void *ctx, const char *buf, size_t n);   /* processed bytes (echo and writes) */
    void (*signal)(void *ctx, int sig);                     /* ISIG: for the foreground process group */
    void (*wakeup)(void *ctx);                              /* input became readable */
};

struct ldisc {
    struct termios termios;
    const struct ldisc_ops *ops;
    void *ctx;
    /* Input queue. Counters run free (masked on use): read_tail <= canon_head <= read_head.
     * Canonical mode: [read_tail, canon_head) holds finished lines, [canon_head, read_head) the line
     * being edited. Non-canonical mode: canon_head == read_head and everything is readable. */
    unsigned char buf[LDISC_BUF_SIZE];
    uint64_t eol[LDISC_BUF_SIZE / 64];      /* positions that end a line */
    uint64_t eof[LDISC_BUF_SIZE / 64];      /* ...with VEOF: the byte there is not data */
    uint32_t read_tail, canon_head, read_head;
    uint32_t column;                /* output column (tabs, erase echo) */
    uint32_t canon_column;          /* column where the edited line started */
    bool lnext;                     /* the next byte is literal (VLNEXT) */
    bool stopped;                   /* output stopped by VSTOP or TCOOFF */
    uint64_t dropped;               /* input bytes lost to a full queue */
};

/* Linux's default termios (tty_std_termios). */
void ldisc_default_termios(struct termios *t);
void ldisc_init(struct ldisc *ld, const struct ldisc_ops *ops, void *ctx);

/* One received byte; never blocks. May call output (echo), signal and wakeup. */
void ldisc_receive(struct ldisc *ld, char c);
void ldisc_receive_buf(struct ldisc *ld, const char *s, size_t n);

/* Copies what one read(2) may return now: canonical mode at most one line (0 = an end-of-file
 * mark was consumed); non-canonical mode whatever is queued, up to n. LDISC_EMPTY if nothing. */
long ldisc_read(struct ldisc *ld, char *buf, size_t n);
/* True when read would return something: a finished line (canonical) or at least min bytes. */
bool ldisc_readable(const struct ldisc *ld, size_t min);
/* FIONREAD: bytes a reader could take now (canonical: in finished lines, end-of-file marks excluded). */
size_t ldisc_inq(const struct ldisc *ld);
void ldisc_flush_input(struct ldisc *ld);

void ldisc_get_termios(const struct ldisc *ld, struct termios *t);
/* Switching ICANON on makes pending input one line; switching it off makes every byte readable. */
void ldisc_set_termios(struct ldisc *ld, const struct termios *t);

/* Output processing of buf (OPOST: ONLCR, OCRNL, ONOCR, ONLRET, XTABS, OLCUC), sent to output. */
void ldisc_write(struct ldisc *ld, const char *buf, size_t n);
bool ldisc_output_stopped(const struct ldisc *ld);
void ldisc_set_stopped(struct ldisc *ld, bool stopped);
