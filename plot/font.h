/*
 * plot/font.h: the built-in bitmap fonts that plot/ draws its text with.
 *
 * Two fixed-width 7x14 fonts (regular and bold) covering printable ASCII,
 * generated into plot/font_data.c from the public-domain X11 "fixed" fonts
 * by plot/tools/bdf_to_c.py. Internal to plot/.
 */
#ifndef TG_PLOT_FONT_H
#define TG_PLOT_FONT_H

#define TG_PLOT_FONT_FIRST 32 /* ' ' */
#define TG_PLOT_FONT_LAST 126 /* '~' */
#define TG_PLOT_FONT_WIDTH 7
#define TG_PLOT_FONT_HEIGHT 14
#define TG_PLOT_FONT_ASCENT 12 /* rows above the baseline */

/* One row of bits per glyph row, the leftmost pixel in the top bit. */
typedef unsigned char tg_plot_font[TG_PLOT_FONT_LAST - TG_PLOT_FONT_FIRST + 1][TG_PLOT_FONT_HEIGHT];

extern const tg_plot_font tg_plot_font_regular;
extern const tg_plot_font tg_plot_font_bold;

#endif
