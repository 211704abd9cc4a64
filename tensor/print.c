#include <math.h>
#include <string.h>

#include "tensor/tensor.h"

/* Axes longer than this print their first and last PRINT_EDGE entries. */
#define PRINT_MAX_AXIS 8
#define PRINT_EDGE 3

typedef struct print_format {
    int width;
    int precision;
    bool integers;
} print_format;

static void for_each_shown(const tg_tensor *t, int d, int64_t offset, void (*visit)(float, void *),
                           void *ctx)
{
    if (d == t->ndim) {
        visit(t->data[offset], ctx);
        return;
    }
    int64_t n = t->shape[d];
    for (int64_t i = 0; i < n; i++) {
        if (n > PRINT_MAX_AXIS && i == PRINT_EDGE)
            i = n - PRINT_EDGE;
        for_each_shown(t, d + 1, offset + i * t->stride[d], visit, ctx);
    }
}

static void measure(float v, void *ctx)
{
    print_format *f = ctx;
    if (isfinite(v) && v != floorf(v))
        f->integers = false;
    char buf[64];
    int len = f->integers && isfinite(v) ? snprintf(buf, sizeof buf, "%.0f", v)
                                         : snprintf(buf, sizeof buf, "%.*f", f->precision, v);
    if (len > f->width)
        f->width = len;
}

static void print_value(FILE *out, float v, const print_format *f)
{
    if (f->integers || !isfinite(v))
        fprintf(out, "%*.0f", f->width, v);
    else
        fprintf(out, "%*.*f", f->width, f->precision, v);
}

static void print_axis(FILE *out, const tg_tensor *t, int d, int64_t offset, const print_format *f,
                       int indent)
{
    if (d == t->ndim) {
        print_value(out, t->data[offset], f);
        return;
    }
    fputc('[', out);
    int64_t n = t->shape[d];
    for (int64_t i = 0; i < n; i++) {
        if (i > 0) {
            fputc(',', out);
            if (d == t->ndim - 1)
                fputc(' ', out);
            else {
                for (int k = d; k < t->ndim - 1; k++)
                    fputc('\n', out);
                fprintf(out, "%*s", indent + 1, "");
            }
        }
        if (n > PRINT_MAX_AXIS && i == PRINT_EDGE) {
            fputs(d == t->ndim - 1 ? "..." : "...,", out);
            if (d != t->ndim - 1)
                fprintf(out, "\n%*s", indent + 1, "");
            else
                fputs(", ", out);
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
    fprintf(out, "%s%stensor %s\n", name ? name : "", name ? ": " : "",
            tg_shape_format(shape, sizeof shape, t));
    if (!t)
        return;
    if (t->numel == 0) {
        fputs("[]\n", out);
        return;
    }
    print_format f = { .width = 1, .precision = 4, .integers = true };
    for_each_shown(t, 0, 0, measure, &f);
    f.width = 1;
    for_each_shown(t, 0, 0, measure, &f); /* widths under the final integer/decimal choice */
    print_axis(out, t, 0, 0, &f, 0);
    fputc('\n', out);
}

void tg_tensor_print(const tg_tensor *t, const char *name) { tg_tensor_fprint(stdout, t, name); }
