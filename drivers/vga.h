/* drivers/vga.h: the 80x25 VGA text-mode console. */
#pragma once
#include <stddef.h>

void vga_init(void);   /* needs the direct map (P2V); clears the screen, shows the cursor */
/* Handles \n \r \b \t, scrolling, and ANSI CSI: m (SGR), J, K, H/f, A-D; other sequences are swallowed. */
void vga_write(const char *s, size_t n);
