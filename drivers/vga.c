/* drivers/vga.c: the VGA text console: character cells at 0xb8000, scrolling, a small ANSI parser, the cursor. */
#include "drivers/vga.h"
#include "arch/x86/io.h"
#include "arch/x86/irq.h"
#include "kernel/mm.h"
#include "kernel/printk.h"
#include "kernel/string.h"

#include <stdbool.h>
#include <stdint.h>

#define VGA_TEXT_PA 0xb8000
#define COLS 80
#define ROWS 25

#define CRTC_INDEX 0x3d4
#define CRTC_DATA 0x3d5
#define CRTC_CURSOR_START 0x0a   /* bit 5 hides the cursor; bits 0-4 first scanline */
#define CRTC_CURSOR_END 0x0b
#define CRTC_CURSOR_HIGH 0x0e
#define CRTC_CURSOR_LOW 0x0f

#define MAX_PARAMS 8
#define PARAM_MAX 9999   /* keeps a long digit run from overflowing */

enum esc_state { ST_NORMAL, ST_ESC, ST_CSI };

static volatile uint16_t *cells;   /* NULL until vga_init: early printk output is simply not shown */
static int row, col;               /* col == COLS: the line is full, wrap before the next glyph */
static uint8_t fg = 7, bg = 0;     /* VGA colour numbers */
static bool bold;
static enum esc_state state;
static int params[MAX_PARAMS];
static int param_idx;              /* index of the parameter being parsed; may run past MAX_PARAMS */

/* ANSI numbers colours with red as bit 0, VGA with blue as bit 0. */
static const uint8_t ansi_to_vga[8] = { 0, 4, 2, 6, 1, 5, 3, 7 };

static int min(int a, int b) { return a < b ? a : b; }
static int max(int a, int b) { return a > b ? a : b; }

static uint16_t blank(void) { return (uint16_t)((bg << 4 | fg) << 8 | ' '); }

/* The cell under the cursor; a pending wrap still points at the last column. */
static int cursor_cell(void) { return row * COLS + min(col, COLS - 1); }

static void clear_cells(int from, int to)
{
    for (int i = from; i < to; i++)
        cells[i] = blank();
}

static void newline(void)
{
    col = 0;
    if (++row < ROWS)
        return;
    row = ROWS - 1;
    memmove((void *)cells, (void *)(cells + COLS), (ROWS - 1) * COLS * sizeof(cells[0]));
    clear_cells((ROWS - 1) * COLS, ROWS * COLS);
}

static void put_glyph(char c)
{
    if (col == COLS)
        newline();
    uint8_t attr = (uint8_t)(bg << 4 | fg | (bold ? 8 : 0));
    cells[row * COLS + col++] = (uint16_t)(attr << 8 | (uint8_t)c);
}

static void move_hw_cursor(void)
{
    int pos = cursor_cell();
    outb(CRTC_INDEX, CRTC_CURSOR_LOW);
    outb(CRTC_DATA, (uint8_t)pos);
    outb(CRTC_INDEX, CRTC_CURSOR_HIGH);
    outb(CRTC_DATA, (uint8_t)(pos >> 8));
}

static void sgr(int p)
{
    if (p == 0) {
        fg = 7, bg = 0, bold = false;
    } else if (p == 1) {
        bold = true;
    } else if (p == 22) {
        bold = false;
    } else if (p >= 30 && p <= 37) {
        fg = ansi_to_vga[p - 30];
    } else if (p == 39) {
        fg = 7;
    } else if (p >= 40 && p <= 47) {
        bg = ansi_to_vga[p - 40];
    } else if (p == 49) {
        bg = 0;
    }
}

/* Mode 0: cursor to end; 1: start to cursor; 2 (or 3): everything in [start, end). */
static void erase(int mode, int start, int end)
{
    if (mode == 0)
        clear_cells(cursor_cell(), end);
    else if (mode == 1)
        clear_cells(start, cursor_cell() + 1);
    else
        clear_cells(start, end);
}

/* A CSI sequence is complete: act on its final byte. Unknown finals (and 6n: VGA cannot answer) do nothing. */
static void csi_dispatch(char final)
{
    int n = min(param_idx + 1, MAX_PARAMS);
    int p0 = params[0], step = max(p0, 1);

    switch (final) {
    case 'm':
        for (int i = 0; i < n; i++)
            sgr(params[i]);
        break;
    case 'J':
        erase(p0, 0, ROWS * COLS);
        break;
    case 'K':
        erase(p0, row * COLS, (row + 1) * COLS);
        break;
    case 'H':
    case 'f':
        row = min(max(p0, 1), ROWS) - 1;
        col = min(max(params[1], 1), COLS) - 1;
        break;
    case 'A': row = max(row - step, 0); break;
    case 'B': row = min(row + step, ROWS - 1); break;
    case 'C': col = min(col + step, COLS - 1); break;
    case 'D': col = max(min(col, COLS - 1) - step, 0); break;
    }
}

static void csi_byte(char c)
{
    if (c >= '0' && c <= '9') {
        if (param_idx < MAX_PARAMS)
            params[param_idx] = min(params[param_idx] * 10 + (c - '0'), PARAM_MAX);
    } else if (c == ';') {
        param_idx++;
    } else if (c >= 0x40 && c <= 0x7e) {
        csi_dispatch(c);
        state = ST_NORMAL;
    }
    /* other bytes 0x20-0x3f ('?', intermediates) are accepted and ignored */
}

static void control(char c)
{
    switch (c) {
    case '\n': newline(); break;
    case '\r': col = 0; break;
    case '\b': col = max(col - 1, 0); break;
    case '\t': col = min((col / 8 + 1) * 8, COLS); break;
    case 0x1b: state = ST_ESC; break;
    }
    /* other control characters (BEL, ...) are not shown */
}

static void vga_putc(char c)
{
    uint8_t u = (uint8_t)c;

    if (state == ST_ESC) {
        if (c == '[') {
            memset(params, 0, sizeof(params));
            param_idx = 0;
            state = ST_CSI;
        } else if (u < 0x20 || u > 0x2f) {
            state = ST_NORMAL;   /* final byte of an ESC sequence we do not implement, e.g. ESC ( B */
        }
        return;                  /* 0x20-0x2f are intermediates: keep swallowing */
    }
    if (state == ST_CSI) {
        if (u >= 0x20 && u <= 0x7e) {
            csi_byte(c);
            return;
        }
        state = ST_NORMAL;   /* a malformed sequence must not eat the text after it */
    }
    if (u < 0x20 || u == 0x7f)
        control(c);
    else
        put_glyph(c);
}

void vga_write(const char *s, size_t n)
{
    if (!cells)
        return;
    uint64_t flags = irq_save();   /* printk may call us from an interrupt handler */
    for (size_t i = 0; i < n; i++)
        vga_putc(s[i]);
    move_hw_cursor();
    irq_restore(flags);
}

void vga_init(void)
{
    uint64_t flags = irq_save();
    cells = P2V(VGA_TEXT_PA);
    row = col = 0;
    fg = 7, bg = 0, bold = false;
    state = ST_NORMAL;
    clear_cells(0, ROWS * COLS);

    /* Firmware may leave the cursor hidden or oddly shaped: make it an underline (scanlines 14-15). */
    outb(CRTC_INDEX, CRTC_CURSOR_START);
    outb(CRTC_DATA, (inb(CRTC_DATA) & 0xc0) | 14);
    outb(CRTC_INDEX, CRTC_CURSOR_END);
    outb(CRTC_DATA, (inb(CRTC_DATA) & 0xe0) | 15);
    move_hw_cursor();
    irq_restore(flags);
    pr_info("vga: 80x25 text console\n");
}
