/*
 * plot/axis.c: data ranges, nice ticks and tick labels, and the mapping
 * from data to pixels.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plot/chart.h"
#include "tensor/error.h"

tg_plot_range tg_plot_auto_range(double lo, double hi, bool have, bool log, double pad)
{
    if (!have)
        return log ? (tg_plot_range){ 1.0, 10.0 } : (tg_plot_range){ 0.0, 1.0 };
    if (log) {
        /* Padding on log10 of the values; a flat series gets one decade.
         * The ends stay within the exponents of a double. */
        tg_plot_range r = lo == hi ? (tg_plot_range){ log10(lo) - 0.5, log10(lo) + 0.5 }
                                   : tg_plot_auto_range(log10(lo), log10(hi), true, false, pad);
        return (tg_plot_range){ pow(10.0, fmax(r.min, -323.0)), pow(10.0, fmin(r.max, 308.0)) };
    }
    double half = lo == hi ? (lo != 0.0 ? fabs(lo) * 0.1 : 1.0) : (hi - lo) * pad;
    tg_plot_range r = { fmax(lo - half, -DBL_MAX), fmin(hi + half, DBL_MAX) };
    /* Data near the largest double: keep the range's width finite, so that
     * the mapping to pixels is too (points beyond are clipped). */
    if (!isfinite(r.max - r.min))
        r = (tg_plot_range){ r.min / 2.0, r.max / 2.0 };
    return r;
}

/* 1, 2 or 5 times a power of ten: the one nearest raw (on a log scale,
 * roughly), or with `at_least`, the smallest not below raw. */
static double nice_step(double raw, bool at_least)
{
    double magnitude = pow(10.0, floor(log10(raw)));
    double f = raw / magnitude;
    if (at_least)
        return (f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0) * magnitude;
    return (f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0) * magnitude;
}

/* Multiples of step in [lo, hi]; a relative slack of 1e-9 keeps an end
 * that is itself a multiple. */
static int multiples(double lo, double hi, double step, double ticks[TG_PLOT_MAX_TICKS])
{
    double first = ceil(lo / step - 1e-9), last = floor(hi / step + 1e-9);
    int n = 0;
    for (double k = first; k <= last && n < TG_PLOT_MAX_TICKS; k++)
        ticks[n++] = k == 0.0 ? 0.0 : k * step;
    return n;
}

static int linear_ticks(double lo, double hi, int target, double ticks[TG_PLOT_MAX_TICKS], double *step)
{
    *step = nice_step((hi - lo) / target, false);
    if (!isfinite(*step) || *step <= 0.0)
        return 0;
    return multiples(lo, hi, *step, ticks);
}

/* Powers of ten from 10^e0 to 10^e1 whose exponent is a multiple of stride. */
static int decades(int e0, int e1, int stride, double ticks[TG_PLOT_MAX_TICKS])
{
    int n = 0;
    for (int e = e0; e <= e1 && n < TG_PLOT_MAX_TICKS; e++)
        if (e % stride == 0)
            ticks[n++] = pow(10.0, e);
    return n;
}

/* Ticks at powers of ten, every `stride` decades so that at most `target`
 * fit (every decade if that leaves fewer than two); with fewer than two
 * decades in range, at 1, 2 and 5 times powers of ten; with too few or too
 * many of those, linear ticks. */
static int log_ticks(double lo, double hi, int target, double ticks[TG_PLOT_MAX_TICKS], double *step)
{
    int e0 = (int)ceil(log10(lo) - 1e-9), e1 = (int)floor(log10(hi) + 1e-9);
    *step = 0.0;
    if (e1 - e0 + 1 >= 2) {
        int n = decades(e0, e1, (int)nice_step(fmax((double)(e1 - e0 + 1) / target, 1.0), true), ticks);
        return n >= 2 ? n : decades(e0, e1, 1, ticks);
    }
    int n = 0;
    static const double mantissa[3] = { 1.0, 2.0, 5.0 };
    for (int e = e0 - 1; e <= e1 && n < TG_PLOT_MAX_TICKS; e++)
        for (int m = 0; m < 3 && n < TG_PLOT_MAX_TICKS; m++) {
            double v = mantissa[m] * pow(10.0, e);
            if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9))
                ticks[n++] = v;
        }
    if (n >= 2 && n <= target + 1)
        return n;
    return linear_ticks(lo, hi, target, ticks, step);
}

int tg_plot_ticks(double lo, double hi, bool log, int target, double ticks[TG_PLOT_MAX_TICKS], double *step)
{
    if (!(hi > lo) || !isfinite(hi - lo)) {
        *step = 0.0;
        return 0;
    }
    /* A step rounded down can give half as many ticks again as asked. */
    if (target > TG_PLOT_MAX_TICKS / 2)
        target = TG_PLOT_MAX_TICKS / 2;
    return log ? log_ticks(lo, hi, target, ticks, step) : linear_ticks(lo, hi, target, ticks, step);
}

/* Rewrites printf's "2.5e+06" or "1e-05" as "2.5e6" or "1e-5". */
static void compact_exponent(char *s)
{
    char *e = strchr(s, 'e');
    if (!e)
        return;
    char *from = e + 1, *to = e + 1;
    if (*from == '+')
        from++;
    else if (*from == '-')
        *to++ = *from++;
    while (*from == '0' && from[1])
        from++;
    memmove(to, from, strlen(from) + 1);
}

void tg_plot_tick_label(char buf[TG_PLOT_LABEL_MAX], double value, double step)
{
    double a = fabs(value);
    if (step == 0.0) {
        /* A value on a log axis: plain between 0.001 and 10000. */
        int e = (int)floor(log10(a) + 1e-9);
        if (e >= -3 && e <= 4)
            snprintf(buf, TG_PLOT_LABEL_MAX, "%.*f", e < 0 ? -e : 0, value);
        else
            snprintf(buf, TG_PLOT_LABEL_MAX, "%.0e", value);
    } else if (a == 0.0) {
        snprintf(buf, TG_PLOT_LABEL_MAX, "0");
    } else {
        /* Digits down to the step's: "0.25", "1500", or "2.5e6" when the
         * step is a million or more or below 0.0001. */
        int step_exp = (int)floor(log10(step) + 1e-9);
        int value_exp = (int)floor(log10(a) + 1e-9);
        if (step_exp >= 6 || step_exp <= -5)
            snprintf(buf, TG_PLOT_LABEL_MAX, "%.*e", value_exp > step_exp ? value_exp - step_exp : 0, value);
        else
            snprintf(buf, TG_PLOT_LABEL_MAX, "%.*f", step_exp < 0 ? -step_exp : 0, value);
    }
    compact_exponent(buf);
}

void tg_plot_value_label(char buf[TG_PLOT_LABEL_MAX], double value)
{
    snprintf(buf, TG_PLOT_LABEL_MAX, "%.4g", value);
    compact_exponent(buf);
}

void tg_plot_axes_pixel(const tg_plot_axes *axes, double x, double y, double *px, double *py)
{
    if (!axes || !px || !py) {
        tg_error_null_input("plot_axes_pixel");
        return;
    }
    const tg_plot_rect *a = &axes->area;
    *px = a->x + (x - axes->x_min) / (axes->x_max - axes->x_min) * a->width;
    double t;
    if (axes->log_y)
        t = y > 0.0 ? (log10(y) - log10(axes->y_min)) / (log10(axes->y_max) - log10(axes->y_min)) : NAN;
    else
        t = (y - axes->y_min) / (axes->y_max - axes->y_min);
    *py = a->y + a->height - t * a->height;
}
