/*
 * layers/model_io.h: model checkpoints as safetensors files.
 *
 * A checkpoint holds every parameter of a model under its name, F32, the
 * way PyTorch's state_dict names them, so a checkpoint saved here loads
 * into the matching torch module with load_state_dict, and a state_dict
 * saved from PyTorch as safetensors loads here. Writes are atomic (see
 * tensor/file.h): a crash never leaves a half-written checkpoint in place of a
 * good one.
 *
 *     tg_model_save(model, "ckpt.safetensors");
 *     tg_load_report report;
 *     if (tg_model_load(model, "ckpt.safetensors", TG_LOAD_STRICT, &report) != 0)
 *         fprintf(stderr, "%s\n", tg_error_message());
 *
 * A quantised model (tg_quantize_dynamic, layers/model.h) saves each int8
 * weight as two tensors: "<name>" of dtype I8 [rows, cols] and
 * "<name>.scale" F32 [rows] (the per-row scales), beside its float
 * parameters (biases, embeddings) as F32. It loads back into a model built
 * the same way and quantised before the load (the int8 values and scales
 * replace its own); a file's values outside int8's range, or scales
 * negative or not finite, are an error and nothing is loaded. Loading a
 * float checkpoint into a quantised model, or an int8 one into a float
 * model, finds the weights mismatched (listed in the error or the report)
 * and says which to do first:
 *   model_load: q.ckpt: the checkpoint does not match the model: unexpected:
 *   head.weight.scale; mismatched: head.weight int64 [3,4] in the file,
 *   float32 [3,4] in the model (int8 weights: quantise the model before loading)
 *
 * Training checkpoints (optimizer state, step, RNG, user key-values) go in
 * the same file: save them as extra tensors under a prefix no parameter
 * uses, with the metadata, and read them back from the loaded file:
 *
 *     tg_model_save_with(model, path, state, n_state, meta, n_meta);   // names "optim...."
 *     tg_safetensors *file = tg_safetensors_load(path);
 *     tg_model_load_from(model, file, TG_LOAD_STRICT, "optim.", &report);
 *     const tg_tensor *m = tg_safetensors_get(file, "optim.adam.m.head.weight");
 *     const char *step = tg_safetensors_metadata(file, "step");
 *     ...
 *     tg_safetensors_free(file);
 */
#ifndef TG_MODEL_IO_H
#define TG_MODEL_IO_H

#include "io/safetensors.h"
#include "layers/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes every parameter of model, by name, and the model's metadata (each
 * GRU's formulation) to path. 0, or -1 with an error naming the file and
 * the reason. */
int tg_model_save(const tg_model *model, const char *path);

/* As tg_model_save, plus n_extra extra named tensors (their names must
 * differ from every parameter's) and n_metadata string pairs, in one file
 * beside the model's own metadata (their keys must differ from it).
 * extra and metadata may be NULL when their count is 0. */
int tg_model_save_with(const tg_model *model, const char *path, const tg_named_tensor *extra,
                       int n_extra, const tg_string_pair *metadata, int n_metadata);

/* How a checkpoint's names must match the model's parameters.
 *   TG_LOAD_STRICT: every parameter present with its shape, and no
 *                   unexpected name; anything else is an error.
 *   TG_LOAD_RELAXED: loads each parameter found with its shape; missing,
 *                    unexpected and mismatched names are counted and
 *                    listed in the report, not errors.
 * Either may be combined with | with
 *   TG_LOAD_ANY_GRU: load a GRU's weights whatever formulation the file
 *                    records (see below).
 *
 * A GRU's formulation (layers/rnn.h: TG_GRU_SEED or TG_GRU_PYTORCH) is not
 * in its weights' names or shapes, yet the same weights give other outputs
 * in the other one. So every save records each GRU's formulation in the
 * file's metadata ("tapegrad.gru.<prefix>": "seed" or "pytorch", from the
 * model's metadata, layers/model.h), and a load, in either mode, refuses
 *   - a file whose GRU has the other formulation than the model's, and
 *   - a file without the key, holding weights of a GRU that is TG_GRU_SEED
 *     in the model: torch.nn.GRU checkpoints have no key and hold
 *     PyTorch's formulation, which a TG_GRU_PYTORCH GRU loads as it is;
 * with an error naming the GRU and the .gru setting the file needs, e.g.
 *   model_load: gru.ckpt: the GRU "enc" was saved with .gru = TG_GRU_PYTORCH,
 *   but the model's has .gru = TG_GRU_SEED: create it with .gru =
 *   TG_GRU_PYTORCH (or load with TG_LOAD_ANY_GRU to take the weights as they are)
 * TG_LOAD_ANY_GRU turns these checks off, e.g. for tapegrad files written
 * before the key existed (they hold the seed's formulation). */
typedef enum tg_load_mode {
    TG_LOAD_STRICT = 0,
    TG_LOAD_RELAXED = 1,
    TG_LOAD_ANY_GRU = 2,
} tg_load_mode;

/* What a load did. details lists the names not loaded, e.g.
 * "missing: head.bias; unexpected: fc.weight; mismatched: head.weight
 * [2,4] in the file, [3,4] in the model" (cut with "..." when long). */
/* The suffix of an int8 weight's scales in a checkpoint. */
#define TG_QWEIGHT_SCALE_SUFFIX ".scale"

typedef struct tg_load_report {
    int loaded;     /* parameters (and int8 weights) given the file's values */
    int missing;    /* parameters absent from the file */
    int unexpected; /* tensors in the file that name no parameter */
    int mismatched; /* parameters whose shape (or dtype) differs in the file */
    char details[1024];
} tg_load_report;

/* Reads path and copies its tensors into the model's parameters (values
 * only: gradients are untouched). The file is checked whole first (see
 * io/safetensors.h), then the names and shapes against the model; only
 * then is anything copied, so on any error the model is left unchanged.
 * Returns 0, or -1 with an error that names the file and, in strict mode,
 * lists the missing, unexpected and mismatched names. report (may be
 * NULL) is filled in either mode, also on a name or shape error. */
int tg_model_load(tg_model *model, const char *path, tg_load_mode mode, tg_load_report *report);

/* As tg_model_load, from a file already loaded. Tensors whose names start
 * with extra_prefix (NULL or "" for none) are not the model's: they are
 * neither loaded nor counted as unexpected. */
int tg_model_load_from(tg_model *model, const tg_safetensors *file, tg_load_mode mode,
                       const char *extra_prefix, tg_load_report *report);
/* The checks of tg_model_load_from alone: 0 when the file would load, else
 * -1 with the same error; changes nothing. For callers that check several
 * things before changing any (optim/checkpoint.h checks the model first, as
 * the most useful thing to report about another model's file). */
int tg_model_check_file(const tg_model *model, const tg_safetensors *file, tg_load_mode mode,
                        const char *extra_prefix, tg_load_report *report);

/* Names in the messages are quoted with tg_escape (tensor/error.h): a name
 * holding a line break or an escape sequence is shown as \n or \x1b. */

#ifdef __cplusplus
}
#endif

#endif
