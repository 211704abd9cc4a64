/*
 * examples/adding_problem.h: the adding problem (Hochreiter and Schmidhuber
 * 1997), the task compare_cells, vanishing_gradient and custom_layer train
 * their recurrent cells on.
 *
 * Each sequence has T steps of two inputs: a value from U(0, 1), and a
 * marker that is 1 at one step of the first half and one of the second and
 * 0 elsewhere. The target, read from the last state, is the sum of the two
 * marked values. Always answering 1 scores a mean squared error of
 * Var(a + b) = 2/12 = 0.167; doing better means carrying the first marked
 * value across half the sequence or more.
 */
#ifndef ADDING_PROBLEM_H
#define ADDING_PROBLEM_H

#include "notebook.h"

/* Fills x [T, B, 2] and y [B, 1] (contiguous) with a batch of B sequences
 * drawn from rng: channel 0 of x holds the values, channel 1 the markers. */
void adding_problem_batch(tg_rng *rng, tg_tensor *x, tg_tensor *y);

/* The mean squared error of always answering 1 on the targets y. */
double adding_problem_answer_one_mse(const tg_tensor *y);

/* The examples make their own sequences: --data and --epochs mean nothing
 * to them. Returns 0, or 2 after saying which was given. */
int adding_problem_check_flags(const char *program, const nb_common *common);

#endif
