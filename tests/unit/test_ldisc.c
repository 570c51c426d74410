/* tests/unit/test_ldisc.c: host tests for the terminal line discipline (kernel/ldisc.c). */
#include "kernel/ldisc.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>

/* What the line discipline did to the outside world. */
static struct {
    char out[65536];
    size_t out_len;
    int sigs[16];
    int nsigs;
    int wakeups;
} world;

static void cb_output(void *ctx, const char *buf, size_t n)
{
    (void)ctx;
    if (world.out_len + n < sizeof world.out) {
        memcpy(world.out + world.out_len, buf, n);
        world.out_len += n;
        world.out[world.out_len] = '\0';
    }
}

static void cb_signal(void *ctx, int sig)
{
    (void)ctx;
    if (world.nsigs < 16)
        world.sigs[world.nsigs++] = sig;
}

static void cb_wakeup(void *ctx)
{
    (void)ctx;
    world.wakeups++;
}

static const struct ldisc_ops ops = { cb_output, cb_signal, cb_wakeup };

/* The ldisc is large (input queue): static, reinitialised per case. */
static struct ldisc ld;

static void setup(void)
{
    memset(&world, 0, sizeof world);
    ldisc_init(&ld, &ops, NULL);
}

static void clear_output(void)
{
    world.out_len = 0;
    world.out[0] = '\0';
}

static void type(const char *s) { ldisc_receive_buf(&ld, s, strlen(s)); }

/* Reads once into a NUL-terminated buffer; returns ldisc_read's value. */
static long rd(char *buf, size_t cap)
{
    long n = ldisc_read(&ld, buf, cap - 1);
    buf[n > 0 ? n : 0] = '\0';
    return n;
}

#define CHECK_OUT(expect)                                                                       \
    CHECKF(world.out_len == strlen(expect) && !memcmp(world.out, expect, world.out_len),      \
           "output \"%s\", expected \"%s\"", world.out, expect)

#define CHECK_READ(expect)                                                                      \
    do {                                                                                        \
        char b_[256];                                                                           \
        long n_ = rd(b_, sizeof b_);                                                            \
        CHECKF(n_ == (long)strlen(expect) && !strcmp(b_, expect), "read %ld \"%s\", expected \"%s\"", \
               n_, b_, expect);                                                                 \
    } while (0)

static void set_raw(int vmin, int vtime)
{
    struct termios t;
    ldisc_get_termios(&ld, &t);
    t.c_lflag &= ~(ISIG | ICANON | ECHO);
    t.c_cc[VMIN] = vmin;
    t.c_cc[VTIME] = vtime;
    ldisc_set_termios(&ld, &t);
}

static void test_defaults(void)
{
    struct termios t;

    setup();
    CHECK(sizeof(struct termios) == 36);
    ldisc_get_termios(&ld, &t);
    CHECK(t.c_iflag == (ICRNL | IXON));
    CHECK(t.c_oflag == (OPOST | ONLCR));
    CHECK(t.c_cflag == (B38400 | CS8 | CREAD | HUPCL));
    CHECK(t.c_lflag == (ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN));
    CHECK(t.c_cc[VINTR] == 3 && t.c_cc[VQUIT] == 034 && t.c_cc[VERASE] == 0177 && t.c_cc[VKILL] == 025);
    CHECK(t.c_cc[VEOF] == 4 && t.c_cc[VTIME] == 0 && t.c_cc[VMIN] == 1);
    CHECK(t.c_cc[VSTART] == 021 && t.c_cc[VSTOP] == 023 && t.c_cc[VSUSP] == 032);
    CHECK(t.c_cc[VEOL] == 0 && t.c_cc[VWERASE] == 027 && t.c_cc[VLNEXT] == 026);
    CHECK(t.c_line == 0);
}

static void test_canonical_line(void)
{
    char b[64];

    setup();
    type("hello");
    CHECK(!ldisc_readable(&ld, 1));
    CHECK(rd(b, sizeof b) == LDISC_EMPTY);
    CHECK(world.wakeups == 0);
    type("\r");                               /* Enter: CR, turned into NL by ICRNL */
    CHECK(ldisc_readable(&ld, 1));
    CHECK(world.wakeups == 1);
    CHECK_OUT("hello\r\n");
    CHECK(ldisc_inq(&ld) == 6);
    CHECK_READ("hello\n");
    CHECK(rd(b, sizeof b) == LDISC_EMPTY);
}

static void test_one_line_per_read(void)
{
    setup();
    type("one\ntwo\nthr");
    CHECK(ldisc_inq(&ld) == 8);
    CHECK_READ("one\n");
    CHECK_READ("two\n");
    CHECK(!ldisc_readable(&ld, 1));
    type("ee\n");
    CHECK_READ("three\n");
}

static void test_partial_reads(void)
{
    char b[8];

    setup();
    type("abcdef\n");
    CHECK(ldisc_read(&ld, b, 4) == 4 && !memcmp(b, "abcd", 4));
    CHECK(ldisc_readable(&ld, 1));
    CHECK(ldisc_read(&ld, b, 4) == 3 && !memcmp(b, "ef\n", 3));
    CHECK(!ldisc_readable(&ld, 1));
    CHECK(ldisc_read(&ld, b, 0) == 0);
}

static void test_erase(void)
{
    setup();
    type("abc\x7f");
    CHECK_OUT("abc\b \b");
    type("\b");                               /* ^H erases too */
    CHECK_OUT("abc\b \b\b \b");
    type("x\n");
    CHECK_READ("ax\n");
}

static void test_erase_at_line_start(void)
{
    setup();
    type("\x7f\x7f");
    CHECK_OUT("");
    type("ab\n\x7f");                         /* cannot erase into a finished line */
    CHECK_OUT("ab\r\n");
    CHECK_READ("ab\n");
    type("\x15");                             /* kill on an empty line: nothing */
    CHECK_OUT("ab\r\n");
}

static void test_erase_control_char(void)
{
    setup();
    type("a\x01");
    CHECK_OUT("a^A");
    type("\x7f");                             /* "^A" is two columns: two rubouts */
    CHECK_OUT("a^A\b \b\b \b");
    type("\n");
    CHECK_READ("a\n");
}

static void test_erase_tab(void)
{
    setup();
    type("ab\t");
    CHECK(ld.column == 8);
    clear_output();
    type("\x7f");
    CHECK_OUT("\b\b\b\b\b\b");                /* back from column 8 to column 2 */
    CHECK(ld.column == 2);
    type("\n");
    CHECK_READ("ab\n");
}

static void test_erase_noechoe(void)
{
    struct termios t;

    setup();
    ldisc_get_termios(&ld, &t);
    t.c_lflag &= ~ECHOE;
    ldisc_set_termios(&ld, &t);
    type("ab\x7f");
    CHECK_OUT("ab^?");
}

static void test_erase_utf8(void)
{
    struct termios t;

    setup();
    ldisc_get_termios(&ld, &t);
    t.c_iflag |= IUTF8;
    ldisc_set_termios(&ld, &t);
    type("a\xc3\xa9");                        /* "aé" */
    CHECK(ld.column == 2);
    type("\x7f\n");
    CHECK_READ("a\n");
}

static void test_kill(void)
{
    setup();
    type("abc\x15");                          /* ECHOKE: erased character by character */
    CHECK_OUT("abc\b \b\b \b\b \b");
    type("xy\n");
    CHECK_READ("xy\n");
}

static void test_kill_echok(void)
{
    struct termios t;

    setup();
    ldisc_get_termios(&ld, &t);
    t.c_lflag &= ~ECHOKE;
    ldisc_set_termios(&ld, &t);
    type("abc\x15");
    CHECK_OUT("abc^U\r\n");
    type("d\n");
    CHECK_READ("d\n");
}

static void test_werase(void)
{
    setup();
    type("echo foo_bar.. \x17");              /* trailing non-word characters, then the word */
    type("x\n");
    CHECK_READ("echo x\n");
    type("one two\x17\x17\x17z\n");
    CHECK_READ("z\n");
}

static void test_eof_empty_line(void)
{
    char b[16];

    setup();
    type("\x04");
    CHECK(ldisc_readable(&ld, 1));
    CHECK(world.wakeups == 1);
    CHECK_OUT("");                            /* VEOF is not echoed */
    CHECK(ldisc_inq(&ld) == 0);
    CHECK(rd(b, sizeof b) == 0);              /* end of file */
    CHECK(rd(b, sizeof b) == LDISC_EMPTY);    /* once */
}

static void test_eof_nonempty_line(void)
{
    char b[16];

    setup();
    type("abc\x04");
    CHECK(ldisc_inq(&ld) == 3);
    CHECK_READ("abc");                        /* no newline, and not an EOF */
    CHECK(rd(b, sizeof b) == LDISC_EMPTY);
    type("abc\x04\x04");                      /* cat: "abc" then EOF */
    CHECK_READ("abc");
    CHECK(rd(b, sizeof b) == 0);
    /* An EOF mark right after a partially read line's data is consumed with it. */
    type("xyz\x04");
    CHECK(ldisc_read(&ld, b, 2) == 2);
    CHECK(ldisc_read(&ld, b, 2) == 1 && b[0] == 'z');
    CHECK(rd(b, sizeof b) == LDISC_EMPTY);
}

static void test_intr(void)
{
    char b[16];

    setup();
    type("abc\x03");
    CHECK(world.nsigs == 1 && world.sigs[0] == LDISC_SIGINT);
    CHECK_OUT("abc^C");
    CHECK(!ldisc_readable(&ld, 1));
    type("\n");
    CHECK_READ("\n");                         /* "abc" was flushed */
    type("x\n\x1c");                          /* ^\: SIGQUIT, finished lines flushed too */
    CHECK(world.nsigs == 2 && world.sigs[1] == LDISC_SIGQUIT);
    CHECK(rd(b, sizeof b) == LDISC_EMPTY);
    type("\x1a");
    CHECK(world.nsigs == 3 && world.sigs[2] == LDISC_SIGTSTP);
}

static void test_intr_noflsh_noecho(void)
{
    struct termios t;

    setup();
    ldisc_get_termios(&ld, &t);
    t.c_lflag |= NOFLSH;
    t.c_lflag &= ~ECHO;
    ldisc_set_termios(&ld, &t);
    type("ab\n\x03");
    CHECK(world.nsigs == 1);
    CHECK_OUT("");
    CHECK_READ("ab\n");
}

static void test_no_isig(void)
{
    setup();
    set_raw(1, 0);
    type("\x03\x1a");
    CHECK(world.nsigs == 0);
    CHECK_READ("\x03\x1a");
}

static void test_lnext(void)
{
    setup();
    type("a\x16\x03");                        /* ^V^C: a literal ^C, no signal */
    CHECK(world.nsigs == 0);
    CHECK_OUT("a^\b^C");
    type("\x16\x7f\n");                       /* and a literal DEL */
    CHECK_READ("a\x03\x7f\n");
}

static void test_reprint(void)
{
    setup();
    type("ab\x12");
    CHECK_OUT("ab^R\r\nab");
}

static void test_raw_vmin1(void)
{
    char b[16];

    setup();
    set_raw(1, 0);
    CHECK(rd(b, sizeof b) == LDISC_EMPTY);
    type("a");
    CHECK(world.wakeups == 1);
    CHECK(ldisc_readable(&ld, 1));
    CHECK_OUT("");                            /* ECHO is off */
    type("b\r");                              /* ICRNL still applies */
    CHECK_READ("ab\n");
    type("xyz");
    CHECK(ldisc_read(&ld, b, 1) == 1 && b[0] == 'x');
    CHECK(ldisc_inq(&ld) == 2);
    CHECK_READ("yz");
    type("\x7f\x15\x04");                     /* no editing characters in raw mode */
    CHECK_READ("\x7f\x15\x04");
}

static void test_raw_vmin_threshold(void)
{
    setup();
    set_raw(3, 0);
    type("ab");
    CHECK(ldisc_readable(&ld, 1));
    CHECK(!ldisc_readable(&ld, 3));
    type("c");
    CHECK(ldisc_readable(&ld, 3));
}

static void test_raw_echo(void)
{
    struct termios t;

    setup();
    ldisc_get_termios(&ld, &t);
    t.c_lflag &= ~ICANON;
    ldisc_set_termios(&ld, &t);
    type("a\x01\r");
    CHECK_OUT("a^A\r\n");
    CHECK_READ("a\x01\n");
}

static void test_mode_switch(void)
{
    char b[16];

    setup();
    type("ls -l\n");                          /* typed ahead while a command ran */
    type("pw");
    set_raw(1, 0);                            /* ash's prompt: everything is readable now */
    CHECK_READ("ls -l\npw");
    type("d");
    struct termios t;
    ldisc_get_termios(&ld, &t);
    t.c_lflag |= ICANON | ECHO | ISIG;
    ldisc_set_termios(&ld, &t);               /* back to canonical: pending bytes are one line */
    CHECK(ldisc_readable(&ld, 1));
    CHECK_READ("d");
    CHECK(rd(b, sizeof b) == LDISC_EMPTY);
    type("x\x04");                            /* an EOF mark does not become data when leaving */
    set_raw(1, 0);
    CHECK_READ("x");
}

static void test_crnl_flags(void)
{
    struct termios t;

    setup();
    ldisc_get_termios(&ld, &t);
    t.c_iflag = IGNCR;
    ldisc_set_termios(&ld, &t);
    type("a\rb\n");
    CHECK_READ("ab\n");
    t.c_iflag = INLCR;
    t.c_lflag &= ~ICANON;
    ldisc_set_termios(&ld, &t);
    type("\n\r");
    CHECK_READ("\r\r");
    t.c_iflag = 0;
    ldisc_set_termios(&ld, &t);
    type("\r");
    CHECK_READ("\r");
}

static void test_output(void)
{
    struct termios t;

    setup();
    ldisc_write(&ld, "a\nb\tc\n", 6);
    CHECK_OUT("a\r\nb\tc\r\n");
    clear_output();
    ldisc_get_termios(&ld, &t);
    t.c_oflag = OPOST | ONLCR | XTABS;
    ldisc_set_termios(&ld, &t);
    ldisc_write(&ld, "ab\tc", 4);
    CHECK_OUT("ab      c");
    CHECK(ld.column == 9);
    ldisc_write(&ld, "\n", 1);
    clear_output();
    t.c_oflag = OPOST | ONOCR;
    ldisc_set_termios(&ld, &t);
    ldisc_write(&ld, "\rx\r", 3);            /* a CR at column 0 is dropped */
    CHECK_OUT("x\r");
    clear_output();
    t.c_oflag = OPOST | OCRNL;
    ldisc_set_termios(&ld, &t);
    ldisc_write(&ld, "a\r", 2);
    CHECK_OUT("a\n");
    clear_output();
    t.c_oflag = ONLCR;                        /* without OPOST nothing is processed */
    ldisc_set_termios(&ld, &t);
    ldisc_write(&ld, "a\nb", 3);
    CHECK_OUT("a\nb");
}

static void test_buffer_full_canonical(void)
{
    char big[LDISC_BUF_SIZE + 100];
    static char got[LDISC_BUF_SIZE + 100];

    setup();
    memset(big, 'x', sizeof big);
    ldisc_receive_buf(&ld, big, sizeof big);
    CHECK(ld.dropped == 100 + 1);             /* one slot stays free for the terminator */
    CHECK(!ldisc_readable(&ld, 1));
    type("\n");                               /* the line can still end */
    CHECK(ldisc_readable(&ld, 1));
    long n = ldisc_read(&ld, got, sizeof got);
    CHECKF(n == LDISC_BUF_SIZE, "read %ld", n);
    CHECK(got[n - 1] == '\n' && got[0] == 'x');
    type("ok\n");
    CHECK_READ("ok\n");
}

static void test_buffer_full_raw(void)
{
    char big[LDISC_BUF_SIZE + 10];
    static char got[LDISC_BUF_SIZE + 100];

    setup();
    set_raw(1, 0);
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    ldisc_receive_buf(&ld, big, sizeof big);
    CHECK(ld.dropped == 10);
    CHECK(ldisc_inq(&ld) == LDISC_BUF_SIZE);
    long n = ldisc_read(&ld, got, sizeof got);
    CHECK(n == LDISC_BUF_SIZE && !memcmp(got, big, LDISC_BUF_SIZE));
}

/* Many short lines through the ring, so positions wrap around. */
static void test_wraparound(void)
{
    char line[32], b[64];
    uint64_t rng = 42;

    setup();
    for (int i = 0; i < 3000; i++) {
        int len = (int)rng_below(&rng, 20);
        for (int j = 0; j < len; j++)
            line[j] = (char)('a' + rng_below(&rng, 26));
        line[len] = '\n';
        ldisc_receive_buf(&ld, line, len + 1);
        long n = ldisc_read(&ld, b, sizeof b);
        CHECKF(n == len + 1 && !memcmp(b, line, len + 1), "line %d: read %ld, expected %d", i, n, len + 1);
        if (check_state.case_failures)
            break;
    }
    CHECK(ld.dropped == 0);
}

static void test_ixon(void)
{
    setup();
    type("\x13");
    CHECK(ldisc_output_stopped(&ld));
    int w = world.wakeups;
    type("\x11");
    CHECK(!ldisc_output_stopped(&ld));
    CHECK(world.wakeups == w + 1);            /* writers waiting for output to restart */
    type("\n");
    CHECK_READ("\n");                         /* ^S/^Q are not input */
}

static void test_disabled_chars(void)
{
    struct termios t;

    setup();
    ldisc_get_termios(&ld, &t);
    t.c_cc[VINTR] = LDISC_VDISABLE;
    ldisc_set_termios(&ld, &t);
    ldisc_receive(&ld, '\0');                 /* NUL matches neither VINTR nor VEOL (both 0) */
    type("\x03\n");
    CHECK(world.nsigs == 0);
    char b[8];
    CHECK(ldisc_read(&ld, b, sizeof b) == 3 && b[0] == 0 && b[1] == 3 && b[2] == '\n');
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_canonical_line);
    RUN(test_one_line_per_read);
    RUN(test_partial_reads);
    RUN(test_erase);
    RUN(test_erase_at_line_start);
    RUN(test_erase_control_char);
    RUN(test_erase_tab);
    RUN(test_erase_noechoe);
    RUN(test_erase_utf8);
    RUN(test_kill);
    RUN(test_kill_echok);
    RUN(test_werase);
    RUN(test_eof_empty_line);
    RUN(test_eof_nonempty_line);
    RUN(test_intr);
    RUN(test_intr_noflsh_noecho);
    RUN(test_no_isig);
    RUN(test_lnext);
    RUN(test_reprint);
    RUN(test_raw_vmin1);
    RUN(test_raw_vmin_threshold);
    RUN(test_raw_echo);
    RUN(test_mode_switch);
    RUN(test_crnl_flags);
    RUN(test_output);
    RUN(test_buffer_full_canonical);
    RUN(test_buffer_full_raw);
    RUN(test_wraparound);
    RUN(test_ixon);
    RUN(test_disabled_chars);
    return check_done();
}
