#include "dist/dist.h"

#include <inttypes.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_impl.h"
#include "optim/optimizer.h"
#include "tensor/error.h"
#include "tensor/kernel.h"

static bool started, we_started;
static int my_rank, n_ranks;

int tg_dist_mpi_error(const char *call, int rc)
{
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(rc, text, &length) != MPI_SUCCESS)
        snprintf(text, sizeof text, "error %d", rc);
    return tg_error_set("dist: %s failed: %s", call, text);
}

int tg_dist_need_started(const char *call)
{
    return started ? 0 : tg_error_set("dist: %s before tg_dist_init", call);
}

int tg_dist_init(int *argc, char ***argv)
{
    if (started)
        return 0;
    int initialised, finalised;
    MPI_Initialized(&initialised);
    MPI_Finalized(&finalised);
    if (finalised)
        return tg_error_set("dist: init: MPI was already finalised in this process");
    if (!initialised) {
        int provided, rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS)
            return tg_dist_mpi_error("MPI_Init_thread", rc);
        we_started = true;
    }
    /* Errors come back as codes (and so as tapegrad errors) instead of
     * aborting the job. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n_ranks);
    started = true;
    return 0;
}

int tg_dist_finalize(void)
{
    if (!started)
        return 0;
    started = false;
    if (!we_started)
        return 0;
    we_started = false;
    int rc = MPI_Finalize();
    return rc == MPI_SUCCESS ? 0 : tg_dist_mpi_error("MPI_Finalize", rc);
}

int tg_dist_rank(void) { return tg_dist_need_started("rank") == 0 ? my_rank : -1; }
int tg_dist_world_size(void) { return tg_dist_need_started("world_size") == 0 ? n_ranks : -1; }
bool tg_dist_is_main(void) { return !started || my_rank == 0; }

int tg_dist_launcher_size(void)
{
    /* Open MPI's mpirun, then PMIx and PMI launchers (srun, MPICH's). */
    const char *names[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *value = getenv(names[i]);
        if (value && *value)
            return atoi(value);
    }
    return 0;
}

int tg_dist_barrier(void)
{
    if (tg_dist_need_started("barrier") != 0)
        return -1;
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : tg_dist_mpi_error("MPI_Barrier", rc);
}

int tg_dist_abort(int status)
{
    if (tg_dist_need_started("abort") != 0)
        return -1;
    MPI_Abort(MPI_COMM_WORLD, status);
    return tg_error_set("dist: MPI_Abort returned");
}

/* ---- Same model everywhere ---------------------------------------------------------- */

/* FNV-1a over the bytes. */
static uint64_t hash_bytes(uint64_t h, const void *bytes, size_t n)
{
    const unsigned char *p = bytes;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211u;
    return h;
}

static uint64_t model_hash(const tg_model *model)
{
    uint64_t h = 14695981039346656037u;
    for (int i = 0; i < tg_model_parameter_count(model); i++) {
        const char *name = tg_model_parameter_name(model, i);
        const tg_tensor *p = tg_model_parameter(model, i);
        h = hash_bytes(h, name, strlen(name) + 1);
        h = hash_bytes(h, &p->ndim, sizeof p->ndim);
        h = hash_bytes(h, p->shape, sizeof p->shape[0] * (size_t)p->ndim);
    }
    return h;
}

int tg_dist_check_model(const tg_model *model)
{
    if (tg_dist_need_started("check_model") != 0)
        return -1;
    if (!model)
        return tg_error_set("dist: check_model: the model is NULL");
    uint64_t mine[2] = { model_hash(model), (uint64_t)tg_model_parameter_count(model) };
    uint64_t *all = malloc(sizeof mine * (size_t)n_ranks);
    if (!all)
        return tg_error_set("dist: check_model: out of memory");
    int rc = MPI_Allgather(mine, 2, MPI_UINT64_T, all, 2, MPI_UINT64_T, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) {
        free(all);
        return tg_dist_mpi_error("MPI_Allgather", rc);
    }
    int status = 0;
    for (int r = 1; r < n_ranks && status == 0; r++)
        if (all[2 * r] != all[0] || all[2 * r + 1] != all[1])
            status = tg_error_set("dist: rank %d's model differs from rank 0's (%" PRIu64
                                  " parameters, hash %016" PRIx64 "; rank 0: %" PRIu64
                                  " parameters, hash %016" PRIx64 "): parameter names or shapes "
                                  "differ; build the same model on every rank",
                                  r, all[2 * r + 1], all[2 * r], all[1], all[0]);
    free(all);
    return status;
}

/* Rank 0's values of t on every rank (t contiguous). */
static int broadcast_tensor(tg_tensor *t)
{
    for (int64_t done = 0; done < t->numel;) {
        int n = t->numel - done > (1 << 30) ? 1 << 30 : (int)(t->numel - done);
        int rc = MPI_Bcast(t->data + done, n, MPI_FLOAT, 0, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return tg_dist_mpi_error("MPI_Bcast", rc);
        done += n;
    }
    tg_tensor_mark_written(t);
    return 0;
}

int tg_dist_broadcast_model(tg_model *model)
{
    if (tg_dist_check_model(model) != 0)
        return -1;
    for (int i = 0; i < tg_model_parameter_count(model); i++)
        if (broadcast_tensor(tg_model_parameter(model, i)) != 0)
            return -1;
    return 0;
}

static int broadcast_bytes(void *bytes, int n)
{
    int rc = MPI_Bcast(bytes, n, MPI_BYTE, 0, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : tg_dist_mpi_error("MPI_Bcast", rc);
}

/* What a checkpoint holds besides tensors, as rank 0 has it. */
typedef struct scalars {
    int64_t step, epoch, optimizer_steps;
    double lr;
    int state_count, rng_count;
} scalars;

static int count_rngs(const tg_checkpoint *ck)
{
    int n = 0;
    while (n < TG_CHECKPOINT_MAX_RNGS && ck->rngs[n].name)
        n++;
    return n;
}

int tg_dist_broadcast_checkpoint(tg_checkpoint *ck)
{
    if (tg_dist_need_started("broadcast_checkpoint") != 0)
        return -1;
    if (!ck || !ck->model)
        return tg_error_set("dist: broadcast_checkpoint: no checkpoint or no model");
    scalars mine = { ck->step, ck->epoch, ck->optimizer ? tg_optimizer_steps(ck->optimizer) : 0,
                     ck->optimizer ? tg_optimizer_lr(ck->optimizer) : 0,
                     ck->optimizer ? tg_optimizer_state_count(ck->optimizer) : -1, count_rngs(ck) };
    scalars root = mine;
    if (tg_dist_check_model(ck->model) != 0 || broadcast_bytes(&root, sizeof root) != 0)
        return -1;
    /* Every rank must agree before anything changes. */
    int differs = root.state_count != mine.state_count || root.rng_count != mine.rng_count, any;
    int rc = MPI_Allreduce(&differs, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        return tg_dist_mpi_error("MPI_Allreduce", rc);
    if (any)
        return tg_error_set("dist: broadcast_checkpoint: the ranks' checkpoints hold different "
                            "things (optimizer state tensors %d here, %d on rank 0; generators %d "
                            "here, %d on rank 0)", mine.state_count, root.state_count,
                            mine.rng_count, root.rng_count);
    if (tg_dist_broadcast_model(ck->model) != 0)
        return -1;
    for (int i = 0; ck->optimizer && i < root.state_count; i++)
        if (broadcast_tensor(tg_optimizer_state_tensor(ck->optimizer, i)) != 0)
            return -1;
    for (int i = 0; i < root.rng_count; i++)
        if (broadcast_bytes(ck->rngs[i].rng, sizeof *ck->rngs[i].rng) != 0)
            return -1;
    tg_rng *model_rng = tg_model_rng(ck->model);
    if (broadcast_bytes(model_rng, sizeof *model_rng) != 0)
        return -1;
    ck->step = root.step;
    ck->epoch = root.epoch;
    if (ck->optimizer &&
        (tg_optimizer_set_steps(ck->optimizer, root.optimizer_steps) != 0 ||
         tg_optimizer_set_lr(ck->optimizer, root.lr) != 0))
        return -1;
    return 0;
}

/* ---- Data and metrics ------------------------------------------------------------------ */

int tg_dist_split(int64_t global, int64_t *first, int64_t *count)
{
    if (tg_dist_need_started("split") != 0)
        return -1;
    if (!first || !count)
        return tg_error_set("dist: split: NULL output");
    if (global <= 0 || global % n_ranks != 0)
        return tg_error_set("dist: %d ranks do not divide a batch of %lld rows: use a batch that "
                            "is a multiple of the rank count", n_ranks, (long long)global);
    *count = global / n_ranks;
    *first = *count * my_rank;
    return 0;
}

int tg_dist_average(double *values, int n)
{
    if (tg_dist_need_started("average") != 0)
        return -1;
    if (!values || n < 0)
        return tg_error_set("dist: average: no values");
    int rc = MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        return tg_dist_mpi_error("MPI_Allreduce", rc);
    for (int i = 0; i < n; i++)
        values[i] /= n_ranks;
    return 0;
}
