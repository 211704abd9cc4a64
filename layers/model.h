/*
 * layers/model.h: a model is a registry of named parameters.
 *
 * Layers register their parameters here under PyTorch-style names
 * ("encoder.weight_ih_l0", "head.bias"), so optimizers find every parameter
 * and checkpoints move weights to and from PyTorch by name. A layer of your
 * own does the same: create its parameters with tg_model_add_parameter and
 * hand the layer object to tg_model_own so the model frees it.
 *
 * The model owns its parameters (owned tensors that require gradients) and
 * the objects given to tg_model_own; tg_model_free frees them all.
 *
 *     tg_model *model = tg_model_new(42);           // seed for init and dropout
 *     tg_lstm *enc = tg_lstm_new(model, "encoder", (tg_rnn_config){ ... });
 *     tg_linear *head = tg_linear_new(model, "head", (tg_linear_config){ ... });
 *     ...
 *     tg_model_free(model);
 */
#ifndef TG_MODEL_H
#define TG_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/quantize.h"
#include "tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_model tg_model;

/* A model whose random generator (initialisation, dropout) starts from seed. */
tg_model *tg_model_new(uint64_t seed);
/* Frees every parameter and owned object. NULL is ignored. */
void tg_model_free(tg_model *model);

/* A new zero-filled parameter of `shape` named `name`, requiring a
 * gradient, owned by the model. NULL with an error when the name is empty,
 * too long, or taken. */
tg_tensor *tg_model_add_parameter(tg_model *model, const char *name, tg_shape shape);
/* The model frees `object` with free_fn when it is freed (layers call this). */
int tg_model_own(tg_model *model, void *object, void (*free_fn)(void *));

/* ---- int8 inference (torch.quantization.quantize_dynamic) ----------------------
 *
 * After training, tg_quantize_dynamic turns every Linear, RNN, LSTM and GRU
 * layer of the model into an inference-only int8 layer with the same
 * forward call (see tensor/quantize.h for the arithmetic, layers/linear.h
 * and layers/rnn.h for the layers):
 *
 *     tg_model_load(model, "trained.safetensors", TG_LOAD_STRICT, NULL);
 *     tg_quantize_dynamic(model);              // weights int8, evaluation mode
 *     tg_no_grad_begin();
 *     tg_rnn_result r = tg_lstm_forward(lstm, x, NULL);  // as before
 *     tg_tensor *logits = tg_linear_forward(head, r.output);
 *     tg_no_grad_end();
 *     tg_model_save(model, "int8.safetensors");  // I8 weights + scales
 *
 * Each weight matrix W ("enc.weight_hh_l0", "head.weight") leaves the
 * parameters and becomes an int8 weight of the same name, quantised per
 * output row; biases (and embeddings, layer norms, ...) stay float
 * parameters. Quantised layers compute no gradient: their forward under
 * grad mode, with an input or bias that requires a gradient, returns NULL
 * with an error saying to use tg_no_grad_begin(), so a training step over
 * them fails at once. Quantise when training is over: an optimizer made
 * before refuses to step or zero gradients afterwards (its float weights
 * are freed), with an error saying so.
 * Checkpoints of a quantised model: layers/model_io.h. */

/* Quantises every layer that registered a quantizer, in creation order,
 * and puts the model in evaluation mode. Layers quantised already are
 * left as they are. 0, or -1 with an error (layers before the failing one
 * stay quantised). */
int tg_quantize_dynamic(tg_model *model);

/* tg_model_own, for a layer that tg_quantize_dynamic quantises by calling
 * quantize(model, object) (NULL: never). A layer of your own would call
 * tg_model_quantize_parameter for each of its weights there and switch its
 * forward to tg_affine_int8. */
int tg_model_own_quantizable(tg_model *model, void *object, void (*free_fn)(void *),
                             int (*quantize)(tg_model *, void *));

/* Replaces the float parameter `name` (a matrix) by its int8 form, packed
 * in segments of `segment` rows (0: one; see tensor/quantize.h), owned by
 * the model under the same name. The float tensor is freed. NULL with an
 * error when there is no such float parameter or it cannot be quantised
 * (the model is unchanged then). */
tg_qweight *tg_model_quantize_parameter(tg_model *model, const char *name, int64_t segment);

/* int8 weights in the order quantised; NULL out of range. */
int tg_model_quantized_count(const tg_model *model);
const char *tg_model_quantized_name(const tg_model *model, int index);
tg_qweight *tg_model_quantized(const tg_model *model, int index);
/* The int8 weight called name, or NULL (no error) when there is none. */
tg_qweight *tg_model_find_quantized(const tg_model *model, const char *name);

/* Parameters in registration order. */
int tg_model_parameter_count(const tg_model *model);
/* How many parameters have left the model (tg_quantize_dynamic turns float
 * weights into int8 ones): an optimizer made before refuses to step once
 * this has changed, since the tensors it holds are freed. */
uint64_t tg_model_parameters_removed(const tg_model *model);
const char *tg_model_parameter_name(const tg_model *model, int index);
tg_tensor *tg_model_parameter(const tg_model *model, int index);
/* The parameter called name, or NULL (no error) when there is none. */
tg_tensor *tg_model_find(const tg_model *model, const char *name);
/* Total number of scalars in all parameters. */
int64_t tg_model_numel(const tg_model *model);

/* Forgets every parameter's gradient (tg_grad gives NULL until the next
 * backward), as PyTorch's zero_grad(set_to_none=True). */
void tg_model_zero_grad(tg_model *model);

/* Training mode (default) or evaluation mode: dropout is active only in
 * training mode. */
void tg_model_set_training(tg_model *model, bool training);
bool tg_model_training(const tg_model *model);

/* The model's generator, for initialisation and dropout. */
tg_rng *tg_model_rng(tg_model *model);

/* Longest parameter name, including the terminating NUL. */
#define TG_NAME_MAX 128

/* Facts about the model that its checkpoints carry in their metadata,
 * beside the parameters (layers/model_io.h writes them and checks them on
 * load): a GRU records its formulation under "tapegrad.gru.<prefix>". A
 * key has 1 to TG_NAME_MAX + 31 characters, a value at most 31; setting a
 * key again replaces its value. 0, or -1 with an error. */
int tg_model_set_metadata(tg_model *model, const char *key, const char *value);
/* The entries in the order first set; key and value NULL out of range. */
int tg_model_metadata_count(const tg_model *model);
const char *tg_model_metadata_key(const tg_model *model, int index);
const char *tg_model_metadata_value(const tg_model *model, int index);

/* Writes "prefix.name" (or just name when prefix is empty or NULL) into
 * out; -1 with an error when it does not fit in TG_NAME_MAX, or when out or
 * name is NULL. */
int tg_model_join_name(char *out, const char *prefix, const char *name);

#ifdef __cplusplus
}
#endif

#endif
