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
