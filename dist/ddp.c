#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autograd/autograd.h"
#include "autograd/kernel.h"
#include "dist/dist.h"
#include "dist/dist_impl.h"
#include "tensor/error.h"

typedef struct bucket {
    float *data;   /* the gradients of its parameters, packed */
    int64_t numel;
    int params;    /* parameters it holds */
    int ready;     /* of which final this backward */
    MPI_Request request;
} bucket;

typedef struct param {
    tg_tensor *t;
    int bucket;
    int64_t offset; /* in the bucket's data */
    bool ready;
} param;

struct tg_dist_ddp {
    tg_model *model;
    tg_dist_ddp_config config;
    int n_params, n_buckets, ranks;
    param *params;   /* registration order */
    bucket *buckets;
    float *storage;  /* every bucket's data */
    int next_start;  /* the first bucket whose allreduce has not started */
    bool sync, synced; /* the setting; whether the last backward synchronised */
    bool ordered;    /* buckets follow the order backward finished the gradients */
    int *finished;   /* parameter indices in the order of the last backward */
    int n_finished;
    int failed;      /* an MPI error inside the notice (reported by backward) */
    tg_dist_ddp_stats stats;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Packs the parameters into buckets in the order `order` lists them. */
static int pack(tg_dist_ddp *ddp, const int *order)
{
    size_t cap = ddp->config.bucket_bytes / sizeof(float);
    free(ddp->buckets);
    ddp->buckets = calloc((size_t)ddp->n_params, sizeof *ddp->buckets);
    if (!ddp->buckets)
        return tg_error_set("dist: ddp: out of memory");
    int b = -1;
    int64_t offset = 0;
    for (int k = 0; k < ddp->n_params; k++) {
        param *p = &ddp->params[order[k]];
        if (b < 0 || (ddp->buckets[b].numel > 0 && (size_t)(ddp->buckets[b].numel + p->t->numel) > cap))
            ddp->buckets[++b].data = ddp->storage + offset;
        p->bucket = b;
        p->offset = ddp->buckets[b].numel;
        ddp->buckets[b].numel += p->t->numel;
        ddp->buckets[b].params++;
        offset += p->t->numel;
    }
    ddp->n_buckets = b + 1;
    for (int i = 0; i < ddp->n_buckets; i++)
        ddp->buckets[i].request = MPI_REQUEST_NULL;
    return 0;
}

tg_dist_ddp *tg_dist_ddp_new(tg_model *model, tg_dist_ddp_config config)
{
    if (tg_dist_need_started("ddp_new") != 0 || tg_dist_check_model(model) != 0)
        return NULL;
    if (config.bucket_bytes == 0)
        config.bucket_bytes = (size_t)25 << 20;
    tg_dist_ddp *ddp = calloc(1, sizeof *ddp);
    int n = tg_model_parameter_count(model);
    if (!ddp || n == 0) {
        free(ddp);
        tg_error_set(n == 0 ? "dist: ddp: the model has no parameters" : "dist: ddp: out of memory");
        return NULL;
    }
    *ddp = (tg_dist_ddp){ .model = model, .config = config, .n_params = n, .sync = true,
                          .ranks = tg_dist_world_size() };
    ddp->params = calloc((size_t)n, sizeof *ddp->params);
    ddp->finished = calloc((size_t)n, sizeof *ddp->finished);
    int64_t total = tg_model_numel(model);
    ddp->storage = malloc(sizeof(float) * (size_t)total);
    int *order = malloc(sizeof *order * (size_t)n);
    if (!ddp->params || !ddp->finished || !ddp->storage || !order) {
        free(order);
        tg_dist_ddp_free(ddp);
        tg_error_set("dist: ddp: out of memory for %lld gradients", (long long)total);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        ddp->params[i].t = tg_model_parameter(model, i);
        order[i] = n - 1 - i; /* the last registered is usually finished first */
    }
    int rc = pack(ddp, order);
    free(order);
    if (rc != 0) {
        tg_dist_ddp_free(ddp);
        return NULL;
    }
    ddp->stats.buckets = ddp->n_buckets;
    ddp->stats.bytes = (double)sizeof(float) * (double)total;
    return ddp;
}

void tg_dist_ddp_free(tg_dist_ddp *ddp)
{
    if (!ddp)
        return;
    for (int i = 0; i < ddp->n_buckets; i++)
        if (ddp->buckets[i].request != MPI_REQUEST_NULL)
            MPI_Wait(&ddp->buckets[i].request, MPI_STATUS_IGNORE);
    free(ddp->buckets);
    free(ddp->params);
    free(ddp->finished);
    free(ddp->storage);
    free(ddp);
}

void tg_dist_ddp_set_sync(tg_dist_ddp *ddp, bool sync)
{
    if (ddp)
        ddp->sync = sync;
}

tg_dist_ddp_stats tg_dist_ddp_get_stats(const tg_dist_ddp *ddp)
{
    return ddp ? ddp->stats : (tg_dist_ddp_stats){ 0 };
}

/* Starts the allreduces of the complete buckets that come next in bucket
 * order (every rank starts them in the same order), then lets MPI move the
 * running ones on: Open MPI progresses non-blocking collectives only
 * inside MPI calls. */
static void start_ready_buckets(tg_dist_ddp *ddp)
{
    while (!ddp->failed && ddp->next_start < ddp->n_buckets) {
        bucket *b = &ddp->buckets[ddp->next_start];
        if (b->ready < b->params)
            break;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, b->data, (int)b->numel, MPI_FLOAT, MPI_SUM,
                                MPI_COMM_WORLD, &b->request);
        if (rc != MPI_SUCCESS)
            ddp->failed = rc;
        ddp->next_start++;
    }
    int flag;
    for (int i = 0; i < ddp->next_start && !ddp->failed; i++)
        if (ddp->buckets[i].request != MPI_REQUEST_NULL)
            MPI_Test(&ddp->buckets[i].request, &flag, MPI_STATUS_IGNORE);
}

/* Copies a final gradient into its bucket (zeros when none reached the
 * parameter). */
static void param_ready(tg_dist_ddp *ddp, int index)
{
    param *p = &ddp->params[index];
    if (p->ready)
        return;
    p->ready = true;
    ddp->finished[ddp->n_finished++] = index;
    bucket *b = &ddp->buckets[p->bucket];
    const tg_tensor *g = tg_grad(p->t);
    if (g)
        tg_tensor_to_array(g, b->data + p->offset);
    else
        memset(b->data + p->offset, 0, sizeof(float) * (size_t)p->t->numel);
    b->ready++;
}

static void on_grad_ready(tg_tensor *leaf, void *ctx)
{
    tg_dist_ddp *ddp = ctx;
    for (int i = 0; i < ddp->n_params; i++)
        if (ddp->params[i].t == leaf) {
            param_ready(ddp, i);
            if (!ddp->config.no_overlap)
                start_ready_buckets(ddp);
            return;
        }
}

int tg_dist_ddp_backward(tg_dist_ddp *ddp, tg_tensor *loss)
{
    if (!ddp)
        return tg_error_set("dist: ddp_backward: no ddp");
    if (!ddp->sync) {
        ddp->synced = false;
        return tg_backward(loss);
    }
    for (int i = 0; i < ddp->n_buckets; i++)
        if (ddp->buckets[i].request != MPI_REQUEST_NULL)
            return tg_error_set("dist: ddp_backward: the previous step's allreduces were not "
                                "waited for (call tg_dist_ddp_wait before the next backward)");
    double start = now();
    for (int i = 0; i < ddp->n_params; i++)
        ddp->params[i].ready = false;
    for (int i = 0; i < ddp->n_buckets; i++)
        ddp->buckets[i].ready = 0;
    ddp->next_start = ddp->n_finished = 0;
    ddp->failed = 0;
    tg_set_grad_ready_notice(on_grad_ready, ddp);
    int rc = tg_backward(loss);
    tg_set_grad_ready_notice(NULL, NULL);
    /* Parameters backward did not reach count as zero; every bucket must
     * start on every rank, even after a failed backward, or the other
     * ranks would wait for this one forever. */
    for (int i = 0; i < ddp->n_params; i++)
        param_ready(ddp, i);
    start_ready_buckets(ddp);
    ddp->synced = true;
    ddp->stats.backward_seconds += now() - start;
    if (ddp->failed)
        return tg_dist_mpi_error("MPI_Iallreduce", ddp->failed);
    return rc;
}

/* From the second step on, the buckets follow the order in which the first
 * backward finished the gradients on rank 0 (the same on every rank). */
static int reorder(tg_dist_ddp *ddp)
{
    ddp->ordered = true;
    int rc = MPI_Bcast(ddp->finished, ddp->n_params, MPI_INT, 0, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        return tg_dist_mpi_error("MPI_Bcast", rc);
    if (pack(ddp, ddp->finished) != 0)
        return -1;
    ddp->stats.buckets = ddp->n_buckets;
    return 0;
}

int tg_dist_ddp_wait(tg_dist_ddp *ddp)
{
    if (!ddp)
        return tg_error_set("dist: ddp_wait: no ddp");
    if (!ddp->synced)
        return 0;
    double start = now();
    for (int i = 0; i < ddp->n_buckets; i++) {
        int rc = MPI_Wait(&ddp->buckets[i].request, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            return tg_dist_mpi_error("MPI_Wait", rc);
    }
    ddp->synced = false;
    /* One rank: the sum is the gradient itself, bit for bit. */
    float scale = 1.0f / (float)ddp->ranks;
    for (int i = 0; i < ddp->n_params; i++) {
        param *p = &ddp->params[i];
        const float *sum = ddp->buckets[p->bucket].data + p->offset;
        bool accumulate;
        tg_tensor *g = tg_grad_target(p->t, &accumulate);
        if (!g)
            return -1;
        for (int64_t k = 0; k < g->numel; k++)
            g->data[k] = ddp->ranks == 1 ? sum[k] : sum[k] * scale;
        tg_tensor_mark_written(g);
    }
    ddp->stats.steps++;
    ddp->stats.wait_seconds += now() - start;
    return ddp->ordered ? 0 : reorder(ddp);
}
