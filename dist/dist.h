/*
 * dist/dist.h: data-parallel training over MPI (optional).
 *
 * N copies of one program (ranks), started by mpirun, each on its own
 * core or machine, train one model together: every rank holds the whole
 * model, computes the gradient of its own part of each batch, and the
 * gradients are averaged over the ranks before every optimizer step, so
 * all ranks take the same step and stay identical. This is PyTorch's
 * DistributedDataParallel, in C:
 *
 *     if (tg_dist_init(&argc, &argv) != 0) { ...error... }   // MPI starts
 *     tg_model *model = ...;                       // the same model on every rank
 *     tg_optimizer *opt = tg_adam_new(model, ...);
 *     tg_dist_broadcast_model(model);              // rank 0's parameters everywhere
 *     tg_dist_ddp *ddp = tg_dist_ddp_new(model, (tg_dist_ddp_config){ 0 });
 *     int64_t first, count;
 *     tg_dist_split(global_batch, &first, &count); // this rank's rows of a batch
 *     for (step ...) {
 *         ...draw the global batch from a seed shared by all ranks, keep
 *            rows [first, first + count), forward...
 *         tg_dist_ddp_backward(ddp, loss);         // allreduces start during backward
 *         tg_dist_ddp_wait(ddp);                   // gradients are now averaged
 *         tg_optimizer_step(opt);
 *         tg_optimizer_zero_grad(opt);
 *         double shown = loss_value;
 *         tg_dist_average(&shown, 1);              // the loss over all ranks
 *         if (tg_dist_is_main()) ...print, save checkpoints...
 *         tg_graph_reset();
 *     }
 *     tg_dist_ddp_free(ddp);
 *     tg_dist_finalize();
 *
 * With equal rows per rank and a mean loss, the average of the ranks'
 * gradients is the gradient of the whole batch: N ranks with B rows each
 * take the step one process takes with N*B rows (equal up to rounding),
 * and one rank takes exactly the step of the plain loop.
 *
 * How the averaging overlaps backward: the parameters' gradients are
 * packed into buckets of about `bucket_bytes` each, in the order backward
 * finishes them (autograd's tg_set_grad_ready_notice). As soon as every
 * gradient of a bucket is final, its sum over the ranks starts with a
 * non-blocking MPI_Iallreduce while backward goes on with the rest;
 * tg_dist_ddp_wait waits for them all and divides by N. The first step
 * packs in reverse registration order (what backward usually finishes
 * first) and records the order backward really finished them; from the
 * second step on the buckets follow rank 0's recorded order. Buckets start
 * in bucket order on every rank, as MPI requires of collectives.
 *
 * MPI is optional. tapegrad builds without it (CMake's TAPEGRAD_MPI is ON
 * when MPI is found); in such a build every tg_dist_ call fails with
 * "dist: tapegrad was built without MPI", except tg_dist_is_main (true)
 * and tg_dist_launcher_size, which need no MPI.
 *
 * Errors: -1 (or NULL) with a message naming the call, as everywhere in
 * tapegrad. A rank that dies ends the whole job: mpirun reports which one
 * and stops the others (no rank waits for it forever).
 *
 * Threads: MPI is started with MPI_THREAD_FUNNELED; make every tg_dist_
 * call from the thread that called tg_dist_init.
 */
#ifndef TG_DIST_H
#define TG_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layers/model.h"
#include "optim/checkpoint.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Start, stop, who am I --------------------------------------------------- */

/* Starts MPI (MPI_Init_thread, MPI_THREAD_FUNNELED), or adopts it when the
 * program already started it (then tg_dist_finalize leaves it running).
 * argc and argv may be NULL. Calling it again does nothing. 0, or -1. */
int tg_dist_init(int *argc, char ***argv);
/* Stops MPI if tg_dist_init started it. 0, or -1. */
int tg_dist_finalize(void);
/* This process's rank in [0, world size), or -1 with an error before
 * tg_dist_init. */
int tg_dist_rank(void);
/* Number of ranks, or -1 with an error before tg_dist_init. */
int tg_dist_world_size(void);
/* True on rank 0, and in a process that did not start dist (or a build
 * without MPI): the one process that prints and writes files. */
bool tg_dist_is_main(void);
/* The number of processes the launcher (mpirun, srun) started, read from
 * its environment before MPI starts; 0 when the program was not started
 * by one. For telling "mpirun without --dist" and "--dist without mpirun"
 * apart from a real run. Works without MPI. */
int tg_dist_launcher_size(void);
/* Waits until every rank calls it. 0, or -1. */
int tg_dist_barrier(void);
/* Ends every rank of the job at once with exit status `status`
 * (MPI_Abort), for an error after which this rank cannot go on: a rank
 * that just returned would leave the others waiting for it in their next
 * collective call. Does not return once dist has started; -1 with an
 * error before tg_dist_init. */
int tg_dist_abort(int status);

/* ---- Same model everywhere ----------------------------------------------------- */

/* Checks that every rank built the same model: a hash of the parameters'
 * names and shapes in registration order is compared over the ranks. -1
 * with an error naming the first rank that differs from rank 0, e.g.
 *   dist: rank 1's model differs from rank 0's (3 parameters, hash
 *   2f1c...; rank 0: 4 parameters, hash 9ab0...): build the same model on
 *   every rank
 * Collective: every rank must call it. */
int tg_dist_check_model(const tg_model *model);
/* tg_dist_check_model, then copies rank 0's parameter values to every
 * rank. Collective. 0, or -1 (then nothing was copied). */
int tg_dist_broadcast_model(tg_model *model);
/* Makes every rank continue from rank 0's checkpoint state: ck's model
 * (as tg_dist_broadcast_model), the optimizer's state tensors, step count
 * and learning rate, ck->step, ck->epoch and ck's generators. For a
 * checkpoint that only rank 0 could read (tg_checkpoint_load there; the
 * other ranks' files may be absent). Every rank's ck must name the same
 * kinds of things (same optimizer kind and generators). Collective. */
int tg_dist_broadcast_checkpoint(tg_checkpoint *ck);

/* ---- Data and metrics ------------------------------------------------------------ */

/* This rank's share of a global batch of `global` rows: rows
 * [*first, *first + *count), each rank `global / N` rows in rank order.
 * Every rank draws the same global batch from a seed they share; rank r
 * keeps its rows, so the N ranks together see what one process would. -1
 * with an error when N does not divide global:
 *   dist: 3 ranks do not divide a batch of 32 rows: use a batch that is a
 *   multiple of the rank count */
int tg_dist_split(int64_t global, int64_t *first, int64_t *count);
/* Replaces each of values[0..n) by its mean over the ranks (for the loss
 * and metrics rank 0 prints). Collective. 0, or -1. */
int tg_dist_average(double *values, int n);

/* ---- Data-parallel gradients (DistributedDataParallel) -------------------------- */

typedef struct tg_dist_ddp tg_dist_ddp;

typedef struct tg_dist_ddp_config {
    size_t bucket_bytes; /* gradient bytes per bucket; 0: 25 MB, as PyTorch. A
                            parameter larger than this has a bucket of its own. */
    bool no_overlap;     /* start every allreduce only after backward (the plain
                            path, for measuring what the overlap hides) */
} tg_dist_ddp_config;

/* Averages the gradients of every parameter of model over the ranks. The
 * model must be the same on every rank (checked: tg_dist_check_model).
 * Collective. NULL with an error. Free with tg_dist_ddp_free. */
tg_dist_ddp *tg_dist_ddp_new(tg_model *model, tg_dist_ddp_config config);
/* tg_backward(loss), starting each bucket's allreduce as soon as its
 * gradients are final (when synchronising, see tg_dist_ddp_set_sync). A
 * parameter that no gradient reached counts as zero. Every rank must call
 * it for the same step. 0, or -1 with an error. */
int tg_dist_ddp_backward(tg_dist_ddp *ddp, tg_tensor *loss);
/* Waits for the allreduces of the last tg_dist_ddp_backward and writes the
 * averaged gradients into the parameters' gradients (tg_grad), ready for
 * the optimizer. Does nothing when that backward did not synchronise. 0, or
 * -1 with an error. */
int tg_dist_ddp_wait(tg_dist_ddp *ddp);
/* Whether the next backward calls synchronise (default true). Off, they
 * are plain backward passes whose gradients add up locally, with no
 * communication (PyTorch's no_sync): for gradient accumulation over
 * several micro-batches, turn it off for all but the last one, whose
 * synchronised backward then averages the accumulated sums. */
void tg_dist_ddp_set_sync(tg_dist_ddp *ddp, bool sync);
void tg_dist_ddp_free(tg_dist_ddp *ddp);

/* What the synchronised steps so far cost (for benchmarks). */
typedef struct tg_dist_ddp_stats {
    int64_t steps;         /* synchronised backward passes */
    int buckets;           /* buckets per step */
    double bytes;          /* gradient bytes averaged per step */
    double backward_seconds; /* in tg_dist_ddp_backward, overlapped allreduces included */
    double wait_seconds;   /* in tg_dist_ddp_wait: the communication backward did not hide */
} tg_dist_ddp_stats;

tg_dist_ddp_stats tg_dist_ddp_get_stats(const tg_dist_ddp *ddp);

#ifdef __cplusplus
}
#endif

#endif
