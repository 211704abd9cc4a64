#include <math.h>
#include <string.h>

#include "tensor/tensor.h"

/* Axes longer than this print their first and last PRINT_EDGE entries. */
#define PRINT_MAX_AXIS 8
#define PRINT_EDGE 3
#define PRINT_DIGITS 4

/* How the shown values are written, chosen from all of them as NumPy and
 * PyTorch do: whole numbers without decimals, scientific notation when the
 * magnitudes span too wide a range, fixed decimals otherwise. */
typedef enum print_mode { PRINT_INTEGER, PRINT_FIXED, PRINT_SCIENTIFIC } print_mode;

typedef struct print_format {
    print_mode mode;
    int width;
    /* statistics of the finite values shown */
    bool integers;
    float max_abs, min_abs; /* min_abs over non-zero values */
} print_format;

/* Calls visit on every element that will be shown, in row-major order. */
static void for_each_shown(const tg_tensor *t, int d, int64_t offset,
                           void (*visit)(const tg_tensor *, int64_t, print_format *), print_format *f)
{
    if (d == t->ndim) {
        visit(t, offset, f);
        return;
    }
    int64_t n = t->shape[d];
    for (int64_t i = 0; i < n; i++) {
        if (n > PRINT_MAX_AXIS && i == PRINT_EDGE)
            i = n - PRINT_EDGE;
        for_each_shown(t, d + 1, offset + i * t->stride[d], visit, f);
    }
}

static void collect(const tg_tensor *t, int64_t offset, print_format *f)
{
    float v = t->data[offset];
    if (!isfinite(v))
        return;
    float a = fabsf(v);
    if (v != floorf(v))
        f->integers = false;
    if (a > f->max_abs)
        f->max_abs = a;
    if (a > 0.0f && a < f->min_abs)
        f->min_abs = a;
}

static int format_value(char *buf, size_t size, const tg_tensor *t, int64_t offset,
                        const print_format *f)
{
    if (t->dtype == TG_INT64)
        return snprintf(buf, size, "%lld", (long long)t->i64[offset]);
    float v = t->data[offset];
    if (!isfinite(v))
        return snprintf(buf, size, "%s", isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf"));
    switch (f->mode) {
    case PRINT_INTEGER:
        return snprintf(buf, size, "%.0f", v);
    case PRINT_SCIENTIFIC:
        return snprintf(buf, size, "%.*e", PRINT_DIGITS, v);
    default:
        return snprintf(buf, size, "%.*f", PRINT_DIGITS, v);
    }
}

static void measure(const tg_tensor *t, int64_t offset, print_format *f)
{
    char buf[64];
    int len = format_value(buf, sizeof buf, t, offset, f);
    if (len > f->width)
        f->width = len;
}

static void choose_mode(print_format *f)
{
    bool wide = f->max_abs >= 1e8f || (f->min_abs <= f->max_abs &&
                                       (f->min_abs < 1e-4f || f->max_abs / f->min_abs > 1e3f));
    if (f->integers && f->max_abs < 1e8f)
        f->mode = PRINT_INTEGER;
    else
        f->mode = wide ? PRINT_SCIENTIFIC : PRINT_FIXED;
}

/* What follows the comma between two entries of axis d: a space on the
 * last axis; else a newline, plus one blank line per extra dimension below,
 * and the indentation of the next bracket. */
static void print_separator(FILE *out, const tg_tensor *t, int d, int indent)
{
    if (d == t->ndim - 1) {
        fputc(' ', out);
        return;
    }
    for (int k = d; k < t->ndim - 1; k++)
        fputc('\n', out);
    fprintf(out, "%*s", indent + 1, "");
}

static void print_axis(FILE *out, const tg_tensor *t, int d, int64_t offset, const print_format *f,
                       int indent)
{
    if (d == t->ndim) {
        char buf[64];
        format_value(buf, sizeof buf, t, offset, f);
        fprintf(out, "%*s", f->width, buf);
        return;
    }
    fputc('[', out);
    int64_t n = t->shape[d];
    for (int64_t i = 0; i < n; i++) {
        if (i > 0) {
            fputc(',', out);
            print_separator(out, t, d, indent);
        }
        if (n > PRINT_MAX_AXIS && i == PRINT_EDGE) {
            fputs("...,", out);
            print_separator(out, t, d, indent);
            i = n - PRINT_EDGE;
        }
        print_axis(out, t, d + 1, offset + i * t->stride[d], f, indent + 1);
    }
    fputc(']', out);
}

void tg_tensor_fprint(FILE *out, const tg_tensor *t, const char *name)
{
    if (!out)
        return;
    char shape[TG_SHAPE_STR_MAX];
    fprintf(out, "%s%stensor %s%s\n", name ? name : "", name ? ": " : "",
            tg_shape_format(shape, sizeof shape, t), t && t->dtype == TG_INT64 ? " int64" : "");
    if (!t)
        return;
    if (t->numel == 0) {
        fputs("[]\n", out);
        return;
    }
    print_format f = { .integers = true, .max_abs = 0.0f, .min_abs = INFINITY, .width = 1 };
    if (t->dtype == TG_FLOAT32) { /* int64 elements print whole */
        for_each_shown(t, 0, 0, collect, &f);
        choose_mode(&f);
    }
    for_each_shown(t, 0, 0, measure, &f);
    print_axis(out, t, 0, 0, &f, 0);
    fputc('\n', out);
}

void tg_tensor_print(const tg_tensor *t, const char *name) { tg_tensor_fprint(stdout, t, name); }
