/*
 * autograd/split.h: the part of a batch split running on this thread
 * (internal; the split itself is public, autograd/autograd.h).
 *
 * While a part runs, tg_meta (tape.c) gives, for an owned leaf that
 * requires a gradient, the part's own metadata for it instead of the one
 * the tensor carries: backward writes the part's gradient buffers, and the
 * metadata shared by all parts is only read.
 */
#ifndef TG_SPLIT_H
#define TG_SPLIT_H

#include "autograd/meta.h"

struct tg_part;

/* The part running on this thread; NULL outside a split. */
extern _Thread_local struct tg_part *tg_running_part;

/* The running part's metadata for `leaf` (an owned leaf that requires a
 * gradient), made on the leaf's first use in the part. */
tg_autograd_meta *tg_part_leaf_meta(const tg_tensor *leaf);

/* 0 unless a part is running and t is a graph tensor that requires a
 * gradient from outside the part's graph (the caller's, or another
 * part's): then an error naming op and `what`, and -1. Its backward
 * would run nodes the part does not own, and only when the part happens
 * to run on the thread that recorded them. */
int tg_part_check_own(const tg_tensor *t, const char *op, const char *what);

#endif
