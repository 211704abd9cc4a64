#include "tensor/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char error_message[TG_ERROR_MAX];
static _Thread_local bool error_recorded;
/* -1: not yet read from the environment; 0 or 1 otherwise. */
static int abort_on_error = -1;

static bool should_abort(void)
{
    if (abort_on_error < 0) {
        const char *env = getenv("TG_ABORT_ON_ERROR");
        abort_on_error = env && env[0] && strcmp(env, "0") != 0;
    }
    return abort_on_error == 1;
}

bool tg_error_occurred(void) { return error_recorded; }

const char *tg_error_message(void) { return error_recorded ? error_message : ""; }

void tg_error_clear(void)
{
    error_recorded = false;
    error_message[0] = '\0';
}

int tg_error_set(const char *fmt, ...)
{
    if (error_recorded)
        return -1;
    if (!fmt)
        return tg_error_set("error_set: a NULL message");
    va_list args;
    va_start(args, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, args);
    va_end(args);
    error_recorded = true;
    if (should_abort()) {
        fprintf(stderr, "tapegrad error: %s\n", error_message);
        abort();
    }
    return -1;
}

void tg_error_set_abort(bool abort_on) { abort_on_error = abort_on ? 1 : 0; }

int tg_error_null_input(const char *op)
{
    return tg_error_set("%s: an input is NULL, and no error was recorded before it (a function "
                        "that returns NULL for \"nothing\", such as tg_grad of a tensor no "
                        "gradient has reached, gave it)", op ? op : "?");
}

void *tg_null_input(const char *op)
{
    tg_error_null_input(op);
    return NULL;
}

/* The escaped form of the character at p into buf (12 bytes); returns its
 * length, and in *used the bytes of text it stands for. */
static size_t escape_one(const unsigned char *p, char *buf, int *used)
{
    *used = 1;
    switch (*p) {
    case '\n': return (size_t)snprintf(buf, 12, "\\n");
    case '\t': return (size_t)snprintf(buf, 12, "\\t");
    case '\r': return (size_t)snprintf(buf, 12, "\\r");
    case '\\': return (size_t)snprintf(buf, 12, "\\\\");
    case '"': return (size_t)snprintf(buf, 12, "\\\"");
    default: break;
    }
    if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) { /* a C1 control in UTF-8 */
        *used = 2;
        return (size_t)snprintf(buf, 12, "\\x%02x\\x%02x", p[0], p[1]);
    }
    if (*p < 0x20 || *p == 0x7f)
        return (size_t)snprintf(buf, 12, "\\x%02x", *p);
    buf[0] = (char)*p;
    return 1;
}

char *tg_escape(char *out, size_t size, const char *text)
{
    if (!out || size == 0)
        return out;
    const unsigned char *p = (const unsigned char *)(text ? text : "(null)");
    size_t total = 0;
    char buf[12];
    int used;
    for (const unsigned char *q = p; *q; q += used)
        total += escape_one(q, buf, &used);
    /* When it does not fit, stop early enough to leave room for "...". */
    size_t limit = total < size ? total : (size > 4 ? size - 4 : 0), at = 0;
    for (; *p; p += used) {
        size_t n = escape_one(p, buf, &used);
        if (at + n > limit)
            break;
        memcpy(out + at, buf, n);
        at += n;
    }
    if (total >= size && size > 4) {
        memcpy(out + at, "...", 3);
        at += 3;
    }
    out[at] = '\0';
    return out;
}

const char *tg_quoted(const char *text)
{
    static _Thread_local char buffers[4][TG_ESCAPE_MAX];
    static _Thread_local unsigned next;
    return tg_escape(buffers[next++ % 4], TG_ESCAPE_MAX, text);
}
