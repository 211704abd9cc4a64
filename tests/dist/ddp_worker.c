/*
 * tests/dist/ddp_worker.c: the training run that tests/dist/test_dist.c
 * compares across rank counts (run under mpirun, or alone).
 *
 *     ddp_worker --out PREFIX [--dist] [--accumulate] [--mismatch]
 *     ddp_worker --compare PREFIX_A PREFIX_B
 *
 * For each of RNN, LSTM and GRU: a one-layer recurrent net with a linear
 * head, K = 3 steps of Adam on a mean squared error, each step on a new
 * global batch of GLOBAL sequences drawn from one seed. Alone (no --dist)
 * it trains on the whole global batch; with --dist each rank trains on its
 * share through tg_dist_ddp, with small buckets so that every net has
 * several. --accumulate splits each rank's share into two micro-batches,
 * the first with synchronisation off (no_sync). Rank 0 (or the lone
 * process) writes PREFIX<cell>.safetensors with the final parameters.
 * --mismatch gives rank 1 a wider hidden state (start-up check).
 * --compare prints the largest difference between the parameters of two
 * such runs, relative to each parameter's largest magnitude, and fails
 * when it is above 1e-6 (for tests/dist/netns.sh).
 * Exit status 0, or 1 with the error on stderr.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <tapegrad.h>

enum { GLOBAL = 6, STEPS_T = 5, INPUT = 4, HIDDEN = 8, OUTPUT = 3, K = 3 };

typedef struct options {
    const char *out;
    bool dist, accumulate, mismatch;
} options;

typedef enum cell { RNN, LSTM, GRU } cell;
static const char *const cell_names[] = { "rnn", "lstm", "gru" };

typedef struct net {
    tg_model *model;
    tg_rnn *rnn;
    tg_linear *head;
    cell kind;
} net;

static net net_new(cell kind, int64_t hidden)
{
    net n = { .model = tg_model_new(7), .kind = kind };
    tg_rnn_config config = { .input = INPUT, .hidden = hidden };
    n.rnn = kind == RNN    ? tg_rnn_new(n.model, "rnn", config)
            : kind == LSTM ? tg_lstm_new(n.model, "rnn", config)
                           : tg_gru_new(n.model, "rnn", config);
    n.head = tg_linear_new(n.model, "head", (tg_linear_config){ .input = hidden, .output = OUTPUT });
    return n;
}

/* Mean squared error over rows [first, first + count) of the batch. */
static tg_tensor *loss_of(const net *n, tg_tensor *x, tg_tensor *y, int64_t first, int64_t count)
{
    tg_tensor *xs = tg_narrow(x, 1, first, count), *ys = tg_narrow(y, 1, first, count);
    tg_rnn_result r = n->kind == RNN    ? tg_rnn_forward(n->rnn, xs, NULL)
                      : n->kind == LSTM ? tg_lstm_forward(n->rnn, xs, NULL)
                                        : tg_gru_forward(n->rnn, xs, NULL);
    return tg_mse_loss(tg_linear_forward(n->head, r.output), ys, TG_REDUCTION_MEAN);
}

static int train(cell kind, const options *o)
{
    int rank = o->dist ? tg_dist_rank() : 0;
    net n = net_new(kind, o->mismatch && rank == 1 ? HIDDEN + 1 : HIDDEN);
    tg_optimizer *opt = tg_adam_new(n.model, (tg_adam_config){ .lr = 1e-2 });
    tg_dist_ddp *ddp = NULL;
    int64_t first = 0, count = GLOBAL;
    int status = -1;
    if (!n.rnn || !n.head || !opt)
        goto done;
    if (o->dist && (tg_dist_broadcast_model(n.model) != 0 || tg_dist_split(GLOBAL, &first, &count) != 0 ||
                    !(ddp = tg_dist_ddp_new(n.model, (tg_dist_ddp_config){ .bucket_bytes = 512 }))))
        goto done;
    tg_rng data = tg_rng_new(11); /* the same global batches on every rank */
    for (int step = 0; step < K; step++) {
        tg_tensor *x = tg_randn(TG_SHAPE(STEPS_T, GLOBAL, INPUT), &data);
        tg_tensor *y = tg_randn(TG_SHAPE(STEPS_T, GLOBAL, OUTPUT), &data);
        if (!ddp) {
            if (tg_backward(loss_of(&n, x, y, first, count)) != 0)
                goto done;
        } else if (o->accumulate) {
            /* Two micro-batches, each mean loss weighted by its share of
             * the rows: the sum of their gradients is the gradient of the
             * rank's whole share. */
            int64_t half = count / 2;
            float w1 = (float)half / (float)count, w2 = (float)(count - half) / (float)count;
            tg_dist_ddp_set_sync(ddp, false);
            if (tg_dist_ddp_backward(ddp, tg_mul_scalar(loss_of(&n, x, y, first, half), w1)) != 0)
                goto done;
            tg_dist_ddp_set_sync(ddp, true);
            if (tg_dist_ddp_backward(ddp, tg_mul_scalar(loss_of(&n, x, y, first + half, count - half), w2)) != 0 ||
                tg_dist_ddp_wait(ddp) != 0)
                goto done;
        } else if (tg_dist_ddp_backward(ddp, loss_of(&n, x, y, first, count)) != 0 ||
                   tg_dist_ddp_wait(ddp) != 0) {
            goto done;
        }
        if (tg_optimizer_step(opt) != 0)
            goto done;
        tg_optimizer_zero_grad(opt);
        tg_graph_reset();
    }
    char path[512];
    snprintf(path, sizeof path, "%s%s.safetensors", o->out, cell_names[kind]);
    status = tg_dist_is_main() && tg_model_save(n.model, path) != 0 ? -1 : 0;
done:
    tg_graph_reset();
    tg_dist_ddp_free(ddp);
    tg_optimizer_free(opt);
    tg_model_free(n.model);
    return status;
}

static int compare(const char *a, const char *b)
{
    double worst = 0;
    for (int kind = RNN; kind <= GRU; kind++) {
        char pa[512], pb[512];
        snprintf(pa, sizeof pa, "%s%s.safetensors", a, cell_names[kind]);
        snprintf(pb, sizeof pb, "%s%s.safetensors", b, cell_names[kind]);
        tg_safetensors *fa = tg_safetensors_load(pa), *fb = tg_safetensors_load(pb);
        for (int i = 0; fa && fb && i < tg_safetensors_count(fa); i++) {
            const tg_tensor *ta = tg_safetensors_tensor(fa, i);
            const tg_tensor *tb = tg_safetensors_get(fb, tg_safetensors_name(fa, i));
            if (!tb || tb->numel != ta->numel) {
                tg_error_set("%s: %s differs in shape", pb, tg_safetensors_name(fa, i));
                worst = 1;
                break;
            }
            double diff = 0, scale = 0;
            for (int64_t k = 0; k < ta->numel; k++) {
                diff = fmax(diff, fabs((double)ta->data[k] - tb->data[k]));
                scale = fmax(scale, fabs((double)tb->data[k]));
            }
            worst = fmax(worst, diff == 0 ? 0 : diff / scale);
        }
        bool loaded = fa && fb;
        tg_safetensors_free(fa);
        tg_safetensors_free(fb);
        if (!loaded) {
            fprintf(stderr, "ddp_worker: %s\n", tg_error_message());
            return 1;
        }
    }
    printf("largest relative difference %.3g (limit 1e-6)\n", worst);
    return worst <= 1e-6 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--compare") == 0)
        return compare(argv[2], argv[3]);
    options o = { 0 };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            o.out = argv[++i];
        else if (strcmp(argv[i], "--dist") == 0)
            o.dist = true;
        else if (strcmp(argv[i], "--accumulate") == 0)
            o.accumulate = true;
        else if (strcmp(argv[i], "--mismatch") == 0)
            o.mismatch = true;
        else
            o.out = NULL;
    }
    if (!o.out) {
        fprintf(stderr, "usage: ddp_worker --out PREFIX [--dist] [--accumulate] [--mismatch]\n");
        return 2;
    }
    tg_set_num_threads(1);
    if (o.dist && tg_dist_init(&argc, &argv) != 0) {
        fprintf(stderr, "ddp_worker: %s\n", tg_error_message());
        return 1;
    }
    int status = 0;
    for (int kind = RNN; kind <= GRU && status == 0; kind++)
        if (train((cell)kind, &o) != 0) {
            fprintf(stderr, "ddp_worker: rank %d: %s: %s\n", o.dist ? tg_dist_rank() : 0,
                    cell_names[kind], tg_error_message());
            status = 1;
        }
    if (o.dist)
        tg_dist_finalize();
    tg_graph_release();
    return status;
}
