/*
 * optim/checkpoint.h: training checkpoints that resume bit-identically.
 *
 * A checkpoint is one safetensors file (layers/model_io.h, io/safetensors.h)
 * holding everything a run needs to continue as if it had never stopped:
 *   - the model's parameters under their own names (a PyTorch module loads
 *     them with load_state_dict after dropping the "optim." entries);
 *   - the optimizer's state tensors, as "optim.<state name>", e.g.
 *     "optim.exp_avg.head.weight" (see optim/optimizer.h);
 *   - as text metadata: "step", "epoch", the optimizer's kind, lr and step
 *     count ("optimizer", "optimizer.lr", "optimizer.steps"), the schedule's
 *     state ("schedule.<name>", see optim/schedule.h), random generators as
 *     four hexadecimal words ("rng.model": the model's generator,
 *     "rng.default": this thread's default one, "rng.<name>": yours), and
 *     your own key-values as "user.<key>".
 * Numbers are written so that they read back exactly (%.17g, integers,
 * hexadecimal), so a run resumed from a checkpoint with the same seed and
 * thread count ends with bit-identical parameters. They are read back
 * strictly: a count (step, epoch, optimizer.steps) is decimal digits only,
 * at most TG_CHECKPOINT_MAX_COUNT (2^53, so a step is also exact as a
 * double in a history), with no sign, exponent or "0x"; a generator is four
 * words of exactly 16 hexadecimal digits, not all zero (xoshiro's one
 * forbidden state); lr and schedule values are decimal numbers, not NaN.
 * Anything else is refused with an error quoting the value (control
 * characters escaped). The model is checked against the file before the
 * metadata, so another model's checkpoint is reported as such.
 *
 *     tg_rng data_rng = tg_rng_new(seed);               // batch order
 *     tg_checkpoint ck = { .model = model, .optimizer = opt, .schedule = sched,
 *                          .rngs = { { "data", &data_rng } } };
 *     if (resuming && tg_checkpoint_load("run.ckpt", &ck) != 0) { ...error... }
 *     for (int64_t step = ck.step; step < steps; step++) {
 *         ...train one step...
 *         ck.step = step + 1;
 *         if (ck.step % 100 == 0) tg_checkpoint_save("run.ckpt", &ck);
 *     }
 *
 * Saving is atomic (a crash never leaves a half-written checkpoint in place
 * of the previous one). Loading checks the whole file first, then that it
 * has everything the tg_checkpoint asks for (each parameter with its shape,
 * the same optimizer kind with every state tensor, the schedule's state,
 * each generator); only then does it change anything, so on any error the
 * model, optimizer, schedule and generators are left as they were.
 */
#ifndef TG_CHECKPOINT_H
#define TG_CHECKPOINT_H

#include <stdint.h>

#include "io/safetensors.h"
#include "layers/model.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TG_CHECKPOINT_MAX_RNGS 8
/* The largest step or epoch a checkpoint holds: 2^53. */
#define TG_CHECKPOINT_MAX_COUNT 9007199254740992LL

/* A generator saved under "rng.<name>". */
typedef struct tg_checkpoint_rng {
    const char *name;
    tg_rng *rng;
} tg_checkpoint_rng;

/* What a checkpoint saves and restores. Only model is required. */
typedef struct tg_checkpoint {
    tg_model *model;
    tg_optimizer *optimizer;             /* NULL: none */
    tg_schedule *schedule;               /* NULL: none */
    int64_t step, epoch;                 /* saved; set by a load */
    tg_checkpoint_rng rngs[TG_CHECKPOINT_MAX_RNGS]; /* yours; the list ends at the
                                                      first NULL name */
    const tg_string_pair *user;          /* your key-values (saved only) */
    int n_user;
} tg_checkpoint;

/* Writes the checkpoint to path atomically. 0, or -1 with an error naming
 * the file and the reason (bad input fails before anything is written). */
int tg_checkpoint_save(const char *path, const tg_checkpoint *ck);

/* Reads path and restores into ck's model, optimizer, schedule and
 * generators, the model's and this thread's default generator, and sets
 * ck->step and ck->epoch. 0, or -1 with an error; then nothing changed. */
int tg_checkpoint_load(const char *path, tg_checkpoint *ck);

/* The same from a file already loaded with tg_safetensors_load, which also
 * gives your key-values: tg_checkpoint_user(file, "best_loss"). */
int tg_checkpoint_restore(const tg_safetensors *file, tg_checkpoint *ck);
/* The value saved for your key, or NULL when absent (owned by file). */
const char *tg_checkpoint_user(const tg_safetensors *file, const char *key);

#ifdef __cplusplus
}
#endif

#endif
