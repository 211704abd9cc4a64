/*
 * tensor/error.h: how tapegrad reports bad input.
 *
 * Who it is for: every user (tapegrad.h includes it), and op authors, who
 * report errors the same way.
 *
 * A function given bad input returns NULL (or -1) and records a message that
 * names the operation and the shapes, e.g.
 *     matmul: [32,64] x [128,256]: inner dimensions 64 and 128 differ
 * Only the first message is kept until tg_error_clear(), so a single check
 * after a whole forward pass is enough: a function given NULL returns NULL
 * (or -1), and records a message of its own only when none is recorded yet.
 * That message names the function and says an input was NULL with no error
 * before it, which points at a NULL that meant "nothing" rather than a
 * failure (tg_grad of a tensor no gradient has reached, for one). Nothing in
 * tapegrad calls abort() or exit() on bad input.
 *
 * Text that comes from a file (tensor names, tokens, fields) is quoted in
 * messages through tg_escape, so control characters cannot reach a terminal
 * or a log raw: "a\nb" is shown as a\nb, ESC as \x1b.
 *
 * For debugging, tg_error_set_abort(true) (or the environment variable
 * TG_ABORT_ON_ERROR=1) prints each message and aborts at once, so a debugger
 * stops where the error happened.
 *
 * The state is per thread.
 */
#ifndef TG_ERROR_H
#define TG_ERROR_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TG_ERROR_MAX 512

/* True if an error was recorded on this thread since the last clear. */
bool tg_error_occurred(void);
/* The first recorded message, or "" when there is none. */
const char *tg_error_message(void);
void tg_error_clear(void);
/* Records a printf-style message unless one is already recorded. Returns -1
 * so callers can `return tg_error_set(...)`. For library and extension code.
 * A NULL fmt records "error_set: a NULL message". */
int tg_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Records "<op>: an input is NULL, and no error was recorded before it (...)"
 * unless a message is already recorded; returns -1. What every function
 * given a NULL input calls (op NULL reads as "?"). */
int tg_error_null_input(const char *op);
/* The same, returning NULL: `if (!x) return tg_null_input("sum");` */
void *tg_null_input(const char *op);
/* Writes text into out (size bytes, at least 1) with every byte below 0x20,
 * DEL, the backslash, the double quote and the C1 controls (UTF-8 U+0080 to
 * U+009F) escaped as \n, \t, \r, \\, \" or \xHH, cut with "..." when it
 * does not fit. Returns out; NULL text gives "(null)". For quoting text
 * read from files in messages. */
char *tg_escape(char *out, size_t size, const char *text);
/* A size for tg_escape's buffers that keeps a message under TG_ERROR_MAX. */
#define TG_ESCAPE_MAX 160
/* tg_escape into one of four buffers of this thread (TG_ESCAPE_MAX bytes),
 * used in turn: valid until the fourth call after, which is enough for the
 * arguments of one message: tg_error_set("... \"%s\"", tg_quoted(name)). */
const char *tg_quoted(const char *text);
/* Settings: every config struct of tapegrad (layers, optimizers, schedules,
 * the gradient checker, readers, plots) follows one rule.
 *   - A field left at 0 takes its documented default, so a designated
 *     initialiser names only what differs: (tg_adam_config){ .lr = 3e-3 }.
 *   - Where the default is not zero and zero is meaningful, TG_ZERO asks for
 *     zero: (tg_adam_config){ .weight_decay = TG_ZERO } for AdamW without
 *     decay, since 0 there means AdamW's default of 0.01.
 *   - A negative or NaN setting (a rate, size, count, probability or
 *     tolerance) is refused with an error naming the function and the
 *     field, e.g. "adam_new: lr = -1: must be a finite value >= 0". Only
 *     fields documented as indices (padding_idx, ignore_index) may be
 *     negative, and enum fields must hold one of their enum's values.
 * TG_ZERO is a negative number no one would type, so every other negative
 * value stays an error. */
#define TG_ZERO (-0x1p62)

/* A setting resolved by the rule above: 0 gives `fallback`, TG_ZERO gives
 * 0, anything else (negative and NaN included, for the caller to refuse)
 * is itself. */
static inline double tg_setting(double value, double fallback)
{
    return value == 0 ? fallback : value == TG_ZERO ? 0 : value;
}

/* Debug mode: abort with the message on the first error. */
void tg_error_set_abort(bool abort_on_error);

#ifdef __cplusplus
}
#endif

#endif
