/*
 * tapegrad.h: the whole public API of tapegrad in one include.
 *
 * Who it is for: every user. People writing new ops also include the op
 * author's headers, tensor/kernel.h (views without gradients, raw kernels)
 * and autograd/kernel.h (backward rules written with kernels).
 *
 *   tensor/    tensors, the arena, the RNG, threads, the reference mode
 *   autograd/  the tape, differentiable ops (views included), defining new
 *              ops with ops, the gradient checker
 *   layers/    models (named parameters), layers, sampling from logits
 *   optim/     optimizers, clipping, schedules, checkpoints, early stopping, training utilities
 *   io/        safetensors checkpoints, CSV files, text corpora
 *   plot/      charts written to PNG
 */
#ifndef TAPEGRAD_H
#define TAPEGRAD_H

#include "tensor/arena.h"
#include "tensor/error.h"
#include "tensor/quantize.h"
#include "tensor/reference.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"
#include "tensor/threads.h"

#include "autograd/autograd.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"

#include "layers/attention.h"
#include "layers/conv.h"
#include "layers/dropout.h"
#include "layers/embedding.h"
#include "layers/layernorm.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "layers/model.h"
#include "layers/model_io.h"
#include "layers/rnn.h"
#include "layers/sample.h"

#include "optim/checkpoint.h"
#include "optim/clip.h"
#include "optim/early_stop.h"
#include "optim/finite.h"
#include "optim/history.h"
#include "optim/optimizer.h"
#include "optim/progress.h"
#include "optim/schedule.h"
#include "dist/dist.h"

#include "io/csv.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "io/text.h"
#include "io/vocab.h"

#include "plot/plot.h"

#endif
