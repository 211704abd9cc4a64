/*
 * tensor/error.h: how tapegrad reports bad input.
 *
 * A function given bad input returns NULL (or -1) and records a message that
 * names the operation and the shapes, e.g.
 *     matmul: [32,64] x [128,256]: inner dimensions 64 and 128 differ
 * Only the first message is kept until tg_error_clear(), so a single check
 * after a whole forward pass is enough: a function given NULL returns NULL
 * without adding a message of its own. Nothing in tapegrad calls abort() or
 * exit() on bad input.
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
 * so callers can `return tg_error_set(...)`. For library and extension code. */
int tg_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Debug mode: abort with the message on the first error. */
void tg_error_set_abort(bool abort_on_error);

#ifdef __cplusplus
}
#endif

#endif
