/*
 * kernel/ldisc.c: the terminal line discipline, after Linux's drivers/tty/n_tty.c: input processing,
 * canonical line editing and its echo, the input queue, output processing. Portable (host-tested):
 * every effect on the outside world goes through struct ldisc_ops, and the caller serialises calls.
 *
 * Deliberate differences from Linux, kept small:
 * - In canonical mode both DEL and ^H erase when VERASE is either of them (serial terminals send
 *   one or the other and users should not need stty).
 * - A c_cc entry of 0 disables that character, as POSIX's _POSIX_VDISABLE.
 * - Only bytes below 0x20 and DEL count as control characters (ECHOCTL "^X", column counting);
 *   Linux also counts 0x80-0x9f, which garbles echoed UTF-8.
 * - ECHOPRT, PARMRK, IUCLC/XCASE and VDISCARD are not implemented. A full queue drops input (a
 *   console has nobody to throttle) and counts it in ld->dropped.
 */
#include "kernel/ldisc.h"
#include "kernel/string.h"

#define MASK(i) ((i) & (LDISC_BUF_SIZE - 1))

/* Echo and output are batched so the device sees one call per burst, not one per byte. */
struct obuf {
    struct ldisc *ld;
    size_t n;
    char b[128];
};

static void ob_flush(struct obuf *o)
{
    if (o->n) {
        o->ld->ops->output(o->ld->ctx, o->b, o->n);
        o->n = 0;
    }
}

static void ob_put(struct obuf *o, char c)
{
    if (o->n == sizeof o->b)
        ob_flush(o);
    o->b[o->n++] = c;
}

static bool lflag(const struct ldisc *ld, uint32_t f) { return ld->termios.c_lflag & f; }
static bool iflag(const struct ldisc *ld, uint32_t f) { return ld->termios.c_iflag & f; }
static bool oflag(const struct ldisc *ld, uint32_t f) { return ld->termios.c_oflag & f; }

/* True if c is the (enabled) special character cc[idx]. */
static bool is_cc(const struct ldisc *ld, int idx, unsigned char c)
{
    return ld->termios.c_cc[idx] != LDISC_VDISABLE && ld->termios.c_cc[idx] == c;
}

static bool is_erase(const struct ldisc *ld, unsigned char c)
{
    unsigned char e = ld->termios.c_cc[VERASE];
    return is_cc(ld, VERASE, c) || ((c == 0x7f || c == '\b') && (e == 0x7f || e == '\b'));
}

static bool is_ctl(unsigned char c) { return c < 0x20 || c == 0x7f; }
static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static bool is_continuation(const struct ldisc *ld, unsigned char c)
{
    return iflag(ld, IUTF8) && (c & 0xc0) == 0x80;
}

static bool test_bit(const uint64_t *map, uint32_t i) { return map[MASK(i) / 64] >> (MASK(i) % 64) & 1; }
static void set_bit(uint64_t *map, uint32_t i, bool v)
{
    uint64_t m = 1ull << (MASK(i) % 64);
    if (v)
        map[MASK(i) / 64] |= m;
    else
        map[MASK(i) / 64] &= ~m;
}

void ldisc_default_termios(struct termios *t)
{
    static const uint8_t cc[NCCS] = {
        [VINTR] = 003, [VQUIT] = 034, [VERASE] = 0177, [VKILL] = 025, [VEOF] = 004, [VTIME] = 0,
        [VMIN] = 1, [VSTART] = 021, [VSTOP] = 023, [VSUSP] = 032, [VREPRINT] = 022,
        [VDISCARD] = 017, [VWERASE] = 027, [VLNEXT] = 026,
    };
    memset(t, 0, sizeof *t);
    t->c_iflag = ICRNL | IXON;
    t->c_oflag = OPOST | ONLCR;
    t->c_cflag = B38400 | CS8 | CREAD | HUPCL;
    t->c_lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN;
    memcpy(t->c_cc, cc, sizeof cc);
}

void ldisc_init(struct ldisc *ld, const struct ldisc_ops *ops, void *ctx)
{
    memset(ld, 0, sizeof *ld);
    ldisc_default_termios(&ld->termios);
    ld->ops = ops;
    ld->ctx = ctx;
}

/* ---- Output processing ---- */

/* One byte through OPOST, keeping the column (Linux's do_output_char). */
static void out_char(struct ldisc *ld, struct obuf *o, unsigned char c)
{
    if (!oflag(ld, OPOST)) {
        ob_put(o, c);
        return;
    }
    switch (c) {
    case '\n':
        if (oflag(ld, ONLRET))
            ld->column = 0;
        if (oflag(ld, ONLCR)) {
            ld->canon_column = ld->column = 0;
            if (o->n + 2 > sizeof o->b)
                ob_flush(o);        /* keep "\r\n" in one device call (see kernel/tty.c) */
            ob_put(o, '\r');
            ob_put(o, '\n');
            return;
        }
        ld->canon_column = ld->column;
        break;
    case '\r':
        if (oflag(ld, ONOCR) && ld->column == 0)
            return;
        if (oflag(ld, OCRNL)) {
            c = '\n';
            if (oflag(ld, ONLRET))
                ld->canon_column = ld->column = 0;
            break;
        }
        ld->canon_column = ld->column = 0;
        break;
    case '\t': {
        unsigned spaces = 8 - (ld->column & 7);
        ld->column += spaces;
        if ((ld->termios.c_oflag & TABDLY) == XTABS) {
            while (spaces--)
                ob_put(o, ' ');
            return;
        }
        break;
    }
    case '\b':
        if (ld->column > 0)
            ld->column--;
        break;
    default:
        if (!is_ctl(c)) {
            if (oflag(ld, OLCUC) && c >= 'a' && c <= 'z')
                c -= 'a' - 'A';
            if (!is_continuation(ld, c))
                ld->column++;
        }
        break;
    }
    ob_put(o, c);
}

void ldisc_write(struct ldisc *ld, const char *buf, size_t n)
{
    struct obuf o = { .ld = ld };
    for (size_t i = 0; i < n; i++)
        out_char(ld, &o, (unsigned char)buf[i]);
    ob_flush(&o);
}

bool ldisc_output_stopped(const struct ldisc *ld) { return ld->stopped; }

void ldisc_set_stopped(struct ldisc *ld, bool stopped)
{
    bool restarted = ld->stopped && !stopped;
    ld->stopped = stopped;
    if (restarted)
        ld->ops->wakeup(ld->ctx);
}

/* ---- Echo ---- */

/* A control character shows as ^X with ECHOCTL (not processed: it is two visible columns). */
static void echo_char(struct ldisc *ld, struct obuf *o, unsigned char c)
{
    if (lflag(ld, ECHOCTL) && is_ctl(c) && c != '\t') {
        ob_put(o, '^');
        ob_put(o, (char)(c ^ 0100));
        ld->column += 2;
    } else {
        out_char(ld, o, c);
    }
}

static void rubout(struct ldisc *ld, struct obuf *o)
{
    out_char(ld, o, '\b');
    out_char(ld, o, ' ');
    out_char(ld, o, '\b');
}

/* Backs over an erased tab: as many columns as the tab took, found by measuring what precedes it
 * back to the previous tab or the line start (whose column was recorded when it was echoed). */
static void erase_tab(struct ldisc *ld, struct obuf *o)
{
    unsigned cols = 0;
    bool after_tab = false;
    for (uint32_t tail = ld->read_head; tail != ld->canon_head;) {
        unsigned char c = ld->buf[MASK(--tail)];
        if (c == '\t') {
            after_tab = true;
            break;
        }
        if (is_ctl(c)) {
            if (lflag(ld, ECHOCTL))
                cols += 2;
        } else if (!is_continuation(ld, c)) {
            cols++;
        }
    }
    if (!after_tab)
        cols += ld->canon_column;
    unsigned bs = 8 - (cols & 7);
    if (bs > ld->column)
        bs = ld->column;
    while (bs--) {
        ob_put(o, '\b');
        ld->column--;
    }
}

/* ---- Input queue ---- */

static uint32_t queued(const struct ldisc *ld) { return ld->read_head - ld->read_tail; }

/* In canonical mode the last slot is kept for a line terminator, so a full line can still end. */
static bool room_for(const struct ldisc *ld, bool terminator)
{
    uint32_t limit = lflag(ld, ICANON) && !terminator ? LDISC_BUF_SIZE - 1 : LDISC_BUF_SIZE;
    return queued(ld) < limit;
}

static void put(struct ldisc *ld, unsigned char c, bool eol, bool eof)
{
    uint32_t i = ld->read_head++;
    ld->buf[MASK(i)] = c;
    set_bit(ld->eol, i, eol);
    set_bit(ld->eof, i, eof);
}

/* Ends the edited line with terminator c (stored; for VEOF it is not data) and wakes readers. */
static void commit_line(struct ldisc *ld, unsigned char c, bool eof)
{
    put(ld, c, true, eof);
    ld->canon_head = ld->read_head;
    ld->ops->wakeup(ld->ctx);
}

void ldisc_flush_input(struct ldisc *ld)
{
    ld->read_tail = ld->canon_head = ld->read_head = 0;
    memset(ld->eol, 0, sizeof ld->eol);
    memset(ld->eof, 0, sizeof ld->eof);
    ld->lnext = false;
}

/* ---- Input processing ---- */

enum erase_kind { ERASE, WERASE, KILL };

/* VERASE, VWERASE, VKILL on the edited line, with Linux's echo (eraser()). */
static void eraser(struct ldisc *ld, struct obuf *o, enum erase_kind kind, unsigned char c)
{
    if (ld->read_head == ld->canon_head)
        return;                     /* nothing to erase: no echo either */
    if (kind == KILL) {
        if (!lflag(ld, ECHO)) {
            ld->read_head = ld->canon_head;
            return;
        }
        if (!lflag(ld, ECHOK) || !lflag(ld, ECHOKE) || !lflag(ld, ECHOE)) {
            ld->read_head = ld->canon_head;
            echo_char(ld, o, c);
            if (lflag(ld, ECHOK))
                out_char(ld, o, '\n');
            return;
        }
    }
    int seen_alnums = 0;
    while (ld->read_head != ld->canon_head) {
        /* One character, which with IUTF8 may be several bytes; never half of one. */
        uint32_t head = ld->read_head;
        unsigned char ch;
        do
            ch = ld->buf[MASK(--head)];
        while (is_continuation(ld, ch) && head != ld->canon_head);
        if (is_continuation(ld, ch))
            break;
        if (kind == WERASE) {
            /* BSD's ALTWERASE: trailing non-word characters, then the word. */
            if (is_alnum(ch) || ch == '_')
                seen_alnums++;
            else if (seen_alnums)
                break;
        }
        ld->read_head = head;
        if (lflag(ld, ECHO)) {
            if (kind == ERASE && !lflag(ld, ECHOE)) {
                echo_char(ld, o, c);
            } else if (ch == '\t') {
                erase_tab(ld, o);
            } else {
                if (is_ctl(ch) && lflag(ld, ECHOCTL))
                    rubout(ld, o);          /* the '^' of "^X" */
                if (!is_ctl(ch) || lflag(ld, ECHOCTL))
                    rubout(ld, o);
            }
        }
        if (kind == ERASE)
            break;
    }
}

/* An ordinary byte: echo it and queue it (non-canonical: it is readable at once). */
static void receive_plain(struct ldisc *ld, struct obuf *o, unsigned char c)
{
    if (!room_for(ld, false)) {
        ld->dropped++;
        return;
    }
    if (lflag(ld, ECHO)) {
        if (c == '\n') {
            out_char(ld, o, '\n');
        } else {
            if (ld->canon_head == ld->read_head)
                ld->canon_column = ld->column;
            echo_char(ld, o, c);
        }
    }
    put(ld, c, false, false);
    if (!lflag(ld, ICANON)) {
        ld->canon_head = ld->read_head;
        ld->ops->wakeup(ld->ctx);
    }
}

static void receive_signal(struct ldisc *ld, struct obuf *o, int sig, unsigned char c)
{
    ld->ops->signal(ld->ctx, sig);
    if (!lflag(ld, NOFLSH))
        ldisc_flush_input(ld);
    if (iflag(ld, IXON))
        ldisc_set_stopped(ld, false);
    if (lflag(ld, ECHO))
        echo_char(ld, o, c);
}

/* Canonical-mode special characters; false if c is ordinary. */
static bool receive_canon(struct ldisc *ld, struct obuf *o, unsigned char c)
{
    bool iexten = lflag(ld, IEXTEN);
    if (is_erase(ld, c)) {
        eraser(ld, o, ERASE, c);
    } else if (is_cc(ld, VKILL, c)) {
        eraser(ld, o, KILL, c);
    } else if (iexten && is_cc(ld, VWERASE, c)) {
        eraser(ld, o, WERASE, c);
    } else if (iexten && is_cc(ld, VLNEXT, c)) {
        ld->lnext = true;
        if (lflag(ld, ECHO) && lflag(ld, ECHOCTL)) {
            out_char(ld, o, '^');   /* shown until the literal character overwrites it */
            out_char(ld, o, '\b');
        }
    } else if (iexten && lflag(ld, ECHO) && is_cc(ld, VREPRINT, c)) {
        echo_char(ld, o, c);
        out_char(ld, o, '\n');
        for (uint32_t i = ld->canon_head; i != ld->read_head; i++)
            echo_char(ld, o, ld->buf[MASK(i)]);
    } else if (c == '\n') {
        if (!room_for(ld, true)) {
            ld->dropped++;
        } else {
            if (lflag(ld, ECHO) || lflag(ld, ECHONL))
                out_char(ld, o, '\n');
            commit_line(ld, c, false);
        }
    } else if (is_cc(ld, VEOF, c)) {
        if (!room_for(ld, true))
            ld->dropped++;
        else
            commit_line(ld, c, true);   /* not echoed */
    } else if (is_cc(ld, VEOL, c) || (iexten && is_cc(ld, VEOL2, c))) {
        if (!room_for(ld, true)) {
            ld->dropped++;
        } else {
            if (lflag(ld, ECHO)) {
                if (ld->canon_head == ld->read_head)
                    ld->canon_column = ld->column;
                echo_char(ld, o, c);
            }
            commit_line(ld, c, false);
        }
    } else {
        return false;
    }
    return true;
}

/* The order of the checks is Linux's (n_tty_receive_char_special). */
static void receive_one(struct ldisc *ld, struct obuf *o, unsigned char c)
{
    if (iflag(ld, ISTRIP))
        c &= 0x7f;
    if (ld->lnext) {
        ld->lnext = false;
        receive_plain(ld, o, c);
        return;
    }
    if (iflag(ld, IXON)) {
        if (is_cc(ld, VSTART, c)) {
            ldisc_set_stopped(ld, false);
            return;
        }
        if (is_cc(ld, VSTOP, c)) {
            ld->stopped = true;
            return;
        }
    }
    if (lflag(ld, ISIG)) {
        int sig = is_cc(ld, VINTR, c)   ? LDISC_SIGINT
                  : is_cc(ld, VQUIT, c) ? LDISC_SIGQUIT
                  : is_cc(ld, VSUSP, c) ? LDISC_SIGTSTP
                                        : 0;
        if (sig) {
            receive_signal(ld, o, sig, c);
            return;
        }
    }
    if (ld->stopped && iflag(ld, IXON) && iflag(ld, IXANY))
        ldisc_set_stopped(ld, false);
    if (c == '\r') {
        if (iflag(ld, IGNCR))
            return;
        if (iflag(ld, ICRNL))
            c = '\n';
    } else if (c == '\n' && iflag(ld, INLCR)) {
        c = '\r';
    }
    if (lflag(ld, ICANON) && receive_canon(ld, o, c))
        return;
    receive_plain(ld, o, c);
}

void ldisc_receive(struct ldisc *ld, char c)
{
    struct obuf o = { .ld = ld };
    receive_one(ld, &o, (unsigned char)c);
    ob_flush(&o);
}

void ldisc_receive_buf(struct ldisc *ld, const char *s, size_t n)
{
    struct obuf o = { .ld = ld };
    for (size_t i = 0; i < n; i++)
        receive_one(ld, &o, (unsigned char)s[i]);
    ob_flush(&o);
}

/* ---- Reading ---- */

static void copy_out(struct ldisc *ld, char *buf, size_t k)
{
    uint32_t t = MASK(ld->read_tail);
    size_t first = LDISC_BUF_SIZE - t < k ? LDISC_BUF_SIZE - t : k;
    memcpy(buf, ld->buf + t, first);
    memcpy(buf + first, ld->buf, k - first);
    ld->read_tail += k;
}

long ldisc_read(struct ldisc *ld, char *buf, size_t n)
{
    if (n == 0)
        return 0;
    if (!lflag(ld, ICANON)) {
        size_t avail = queued(ld);
        if (!avail)
            return LDISC_EMPTY;
        size_t k = avail < n ? avail : n;
        copy_out(ld, buf, k);
        ld->canon_head = ld->read_head;
        return (long)k;
    }
    if (ld->canon_head == ld->read_tail)
        return LDISC_EMPTY;
    /* Finished input always ends with a line end: committed lines, or a pushed partial line. */
    uint32_t end = ld->read_tail;
    while (end != ld->canon_head - 1 && !test_bit(ld->eol, end))
        end++;
    bool eof = test_bit(ld->eof, end);
    size_t len = end - ld->read_tail + (eof ? 0 : 1);
    size_t k = len < n ? len : n;
    copy_out(ld, buf, k);
    /* An end-of-file mark after data only ends the read (Linux pushes it); alone it reads as 0. */
    if (eof && ld->read_tail == end)
        ld->read_tail++;
    return (long)k;
}

bool ldisc_readable(const struct ldisc *ld, size_t min)
{
    if (lflag(ld, ICANON))
        return ld->canon_head != ld->read_tail;
    return queued(ld) >= (min ? min : 1);
}

size_t ldisc_inq(const struct ldisc *ld)
{
    if (!lflag(ld, ICANON))
        return queued(ld);
    size_t n = 0;
    for (uint32_t i = ld->read_tail; i != ld->canon_head; i++)
        if (!test_bit(ld->eof, i))
            n++;
    return n;
}

/* ---- termios ---- */

void ldisc_get_termios(const struct ldisc *ld, struct termios *t) { *t = ld->termios; }

/* Leaving canonical mode: end-of-file marks are not data, so squeeze them out of the queue. */
static void drop_eof_marks(struct ldisc *ld)
{
    uint32_t out = ld->read_tail;
    for (uint32_t in = ld->read_tail; in != ld->read_head; in++)
        if (!test_bit(ld->eof, in))
            ld->buf[MASK(out++)] = ld->buf[MASK(in)];
    ld->read_head = ld->canon_head = out;
    memset(ld->eol, 0, sizeof ld->eol);
    memset(ld->eof, 0, sizeof ld->eof);
}

void ldisc_set_termios(struct ldisc *ld, const struct termios *t)
{
    bool was_canon = lflag(ld, ICANON);
    ld->termios = *t;
    bool canon = lflag(ld, ICANON);
    if (was_canon == canon)
        return;
    if (!canon) {
        drop_eof_marks(ld);
    } else {
        memset(ld->eol, 0, sizeof ld->eol);
        memset(ld->eof, 0, sizeof ld->eof);
        if (queued(ld))
            set_bit(ld->eol, ld->read_head - 1, true);   /* pending bytes become one line */
        ld->canon_head = ld->read_head;
    }
    if (ldisc_readable(ld, 1))
        ld->ops->wakeup(ld->ctx);
}
