/*
 * training_loop: a training loop of your own, with every training utility.
 *
 * Fits y = x sin(3x) from noisy samples with a small network, and shows
 * what a loop needs besides the forward pass: an optimizer (AdamW), gradient
 * clipping, a learning-rate schedule (linear warm-up, then cosine), a
 * progress bar, a history of named values written as CSV, one call to plot
 * it, and a checkpoint to resume from.
 *
 *     training_loop [--steps N] [--seed S] [--out DIR] [--checkpoint-every N]
 *                   [--load CKPT] [--dist]
 *
 * Writes DIR/training_loop_history.csv, DIR/training_loop_loss.png and
 * DIR/training_loop.ckpt (DIR must exist; default "."). The default 2000
 * steps take about a second. --checkpoint-every N also saves the
 * checkpoint every N steps; --load CKPT resumes from one, to the same
 * final parameters as a run that never stopped.
 *
 * --dist trains data-parallel under mpirun (dist/dist.h):
 *
 *     mpirun -np 2 training_loop --dist
 *
 * Every rank builds the model (rank 0's values are broadcast) and draws
 * the same batches from the shared seed; rank r trains on its 32/N rows
 * of each batch, and gradients are averaged over the ranks before each
 * step, so N ranks take the steps one process takes. Rank 0 alone prints
 * and writes files; the loss shown is the mean over the ranks.
 */
#define _POSIX_C_SOURCE 200809L /* freopen of stdout for the other ranks */
#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tapegrad.h>

enum { SAMPLES = 256, TRAIN = 200, HIDDEN = 64, BATCH = 32, EVAL_EVERY = 25 };

typedef struct options {
    int steps, checkpoint_every;
    uint64_t seed;
    const char *out, *load;
    bool dist;
} options;

static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){ .steps = 2000, .seed = 1, .out = "." };
    for (int i = 1; i < argc; i += 2) {
        if (strcmp(argv[i], "--dist") == 0) {
            o->dist = true;
            i--;
            continue;
        }
        if (i + 1 >= argc)
            return -1;
        const char *flag = argv[i], *value = argv[i + 1];
        char *end;
        if (strcmp(flag, "--out") == 0 || strcmp(flag, "--load") == 0) {
            *(flag[2] == 'o' ? &o->out : &o->load) = value;
            continue;
        }
        /* Digits only: strtoull would take "-1" as 2^64 - 1, and " 5" or "+5". */
        if (value[0] < '0' || value[0] > '9')
            return -1;
        errno = 0;
        unsigned long long number = strtoull(value, &end, 10);
        if (end == value || *end || errno == ERANGE)
            return -1;
        if (strcmp(flag, "--steps") == 0 && number > 100 && number < 10000000)
            o->steps = (int)number;
        else if (strcmp(flag, "--seed") == 0)
            o->seed = number;
        else if (strcmp(flag, "--checkpoint-every") == 0 && number > 0 && number < 10000000)
            o->checkpoint_every = (int)number;
        else
            return -1;
    }
    return 0;
}

/* Under --dist: starts dist and finds this rank's rows of each batch
 * (*first, *count); without it, refuses to run as one of several
 * processes of mpirun. 0, or -1 with the message printed. */
static int start_dist(const options *o, int *argc, char ***argv, int64_t *first, int64_t *count)
{
    int launched = tg_dist_launcher_size();
    *first = 0;
    *count = BATCH;
    if (!o->dist) {
        if (launched <= 1)
            return 0;
        fprintf(stderr, "training_loop: started by mpirun as one of %d processes without --dist: "
                "each would train alone and write the same files; add --dist\n", launched);
        return -1;
    }
    if (launched == 0) {
        fprintf(stderr, "training_loop: --dist needs mpirun: mpirun -np N training_loop --dist\n");
        return -1;
    }
    if (tg_dist_init(argc, argv) != 0 || tg_dist_split(BATCH, first, count) != 0) {
        fprintf(stderr, "training_loop: %s\n", tg_error_message());
        return -1;
    }
    if (tg_dist_world_size() == 1) {
        fprintf(stderr, "training_loop: --dist with one rank: run it without --dist, or under "
                "mpirun -np N with N >= 2\n");
        return -1;
    }
    /* Rank 0 alone prints. */
    if (!tg_dist_is_main() && !freopen("/dev/null", "w", stdout)) {
        fprintf(stderr, "training_loop: rank %d: cannot silence its output\n", tg_dist_rank());
        return -1;
    }
    return 0;
}

/* The training rows in epoch's order: a shuffle from the seed and the
 * epoch alone, the same on every rank and after a resume. */
static void epoch_order(int64_t *order, uint64_t seed, int64_t epoch)
{
    tg_rng rng = tg_rng_new(seed * 1000003u + (uint64_t)epoch);
    for (int64_t i = 0; i < TRAIN; i++)
        order[i] = i;
    tg_rng_shuffle(&rng, order, TRAIN);
}

/* The network: x [B, 1] -> tanh(Linear 64) -> tanh(Linear 64) -> Linear 1. */
typedef struct net {
    tg_linear *l1, *l2, *l3;
} net;

static tg_tensor *forward(const net *n, tg_tensor *x)
{
    tg_tensor *h = tg_tanh(tg_linear_forward(n->l1, x));
    h = tg_tanh(tg_linear_forward(n->l2, h));
    return tg_linear_forward(n->l3, h);
}

/* Mean squared error of the network on rows [first, first + count). */
static float evaluate(const net *n, tg_tensor *x, tg_tensor *y, int64_t first, int64_t count)
{
    tg_graph_mark mark = tg_graph_get_mark();
    tg_no_grad_begin();
    tg_tensor *loss = tg_mse_loss(forward(n, tg_narrow(x, 0, first, count)),
                                  tg_narrow(y, 0, first, count), TG_REDUCTION_MEAN);
    float value = tg_tensor_item(loss);
    tg_no_grad_end();
    tg_graph_rewind(mark);
    return value;
}

static void path_in(char *path, size_t size, const char *dir, const char *name)
{
    snprintf(path, size, "%s/%s", dir, name);
}

int main(int argc, char **argv)
{
    options o;
    if (parse_options(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: training_loop [--steps N > 100] [--seed S] [--out DIR] "
                        "[--checkpoint-every N] [--load CKPT] [--dist]\n");
        return 2;
    }
    int64_t first, count;
    if (start_dist(&o, &argc, &argv, &first, &count) != 0) {
        if (o.dist)
            tg_dist_abort(2);
        return 2;
    }

    printf("## 1. The data\n\n"
           "%d points x in [-2, 2], y = x sin(3x) + noise (sd 0.05), shuffled; the first %d\n"
           "train the network, the other %d measure it (validation).\n\n",
           SAMPLES, TRAIN, SAMPLES - TRAIN);
    tg_rng data_rng = tg_rng_new(o.seed);
    float xs[SAMPLES], ys[SAMPLES];
    for (int i = 0; i < SAMPLES; i++) {
        xs[i] = (float)(4 * tg_rng_uniform(&data_rng) - 2);
        ys[i] = xs[i] * sinf(3 * xs[i]) + 0.05f * (float)tg_rng_normal(&data_rng);
    }
    tg_tensor *x = tg_tensor_from_array(TG_SHAPE(SAMPLES, 1), xs);
    tg_tensor *y = tg_tensor_from_array(TG_SHAPE(SAMPLES, 1), ys);

    printf("## 2. The model\n\n");
    tg_model *model = tg_model_new(o.seed);
    net n = {
        tg_linear_new(model, "l1", (tg_linear_config){ .input = 1, .output = HIDDEN }),
        tg_linear_new(model, "l2", (tg_linear_config){ .input = HIDDEN, .output = HIDDEN }),
        tg_linear_new(model, "l3", (tg_linear_config){ .input = HIDDEN, .output = 1 }),
    };
    for (int i = 0; i < tg_model_parameter_count(model); i++) {
        char shape[TG_SHAPE_STR_MAX];
        printf("    %-10s %s\n", tg_model_parameter_name(model, i),
               tg_shape_format(shape, sizeof shape, tg_model_parameter(model, i)));
    }
    printf("    %lld parameters\n\n", (long long)tg_model_numel(model));

    printf("## 3. Optimizer, clipping, schedule\n\n"
           "AdamW (lr 1e-2, weight decay 1e-4), gradients clipped to norm 1, and the\n"
           "learning rate warmed up linearly over 100 steps, then annealed along a\n"
           "cosine to 1e-4.\n\n");
    tg_optimizer *opt = tg_adamw_new(model, (tg_adam_config){ .lr = 1e-2, .weight_decay = 1e-4 });
    tg_schedule *sched = tg_schedule_new(opt, (tg_schedule_config){
        .kind = TG_SCHEDULE_COSINE, .warmup_steps = 100, .t_max = o.steps - 100, .eta_min = 1e-4 });

    printf("## 4. Training\n\n");
    char csv[512], png[512], ckpt[512];
    path_in(csv, sizeof csv, o.out, "training_loop_history.csv");
    path_in(png, sizeof png, o.out, "training_loop_loss.png");
    path_in(ckpt, sizeof ckpt, o.out, "training_loop.ckpt");
    tg_checkpoint ck = { .model = model, .optimizer = opt, .schedule = sched };
    tg_history *history = tg_history_new("step");
    tg_progress *bar = tg_progress_new((tg_progress_config){ .total = o.steps, .out = stdout });
    tg_dist_ddp *ddp = NULL;
    int status = 1;
    if (!n.l1 || !n.l2 || !n.l3 || !opt || !sched || !history || !bar ||
        (o.load && tg_checkpoint_load(o.load, &ck) != 0) ||
        (o.dist && (tg_dist_broadcast_model(model) != 0 ||
                    !(ddp = tg_dist_ddp_new(model, (tg_dist_ddp_config){ 0 }))))) {
        fprintf(stderr, "training_loop: %s\n", tg_error_message());
        goto done;
    }
    if (o.load)
        printf("    resumed from %s at step %lld\n", o.load, (long long)ck.step);
    int64_t order[TRAIN];
    const int64_t per_epoch = TRAIN / BATCH;
    for (int step = (int)ck.step; step < o.steps; step++) {
        /* This rank's rows of the next batch of shuffled training rows; a
         * new order each epoch. */
        if (step == ck.step || step % per_epoch == 0)
            epoch_order(order, o.seed, step / per_epoch);
        float rows[BATCH];
        for (int64_t i = 0; i < count; i++)
            rows[i] = (float)order[step % per_epoch * BATCH + first + i];
        tg_tensor *index = tg_from_array(TG_SHAPE(count), rows);
        tg_tensor *loss = tg_mse_loss(forward(&n, tg_index_select(x, 0, index)),
                                      tg_index_select(y, 0, index), TG_REDUCTION_MEAN);
        if (!loss || (ddp ? tg_dist_ddp_backward(ddp, loss) != 0 || tg_dist_ddp_wait(ddp) != 0
                          : tg_backward(loss) != 0)) {
            fprintf(stderr, "training_loop: step %d: %s\n", step, tg_error_message());
            goto done;
        }
        float grad_norm = tg_clip_grad_norm(model, 1.0f);
        double lr = tg_optimizer_lr(opt);
        tg_optimizer_step(opt);
        tg_optimizer_zero_grad(opt);
        tg_schedule_step(sched);

        double train_loss = tg_tensor_item(loss);
        if (ddp && tg_dist_average(&train_loss, 1) != 0) {
            fprintf(stderr, "training_loop: step %d: %s\n", step, tg_error_message());
            goto done;
        }
        ck.step = step + 1;
        if (o.checkpoint_every && ck.step % o.checkpoint_every == 0 && tg_dist_is_main() &&
            tg_checkpoint_save(ckpt, &ck) != 0) {
            fprintf(stderr, "training_loop: %s\n", tg_error_message());
            goto done;
        }
        tg_history_add(history, step, "train_loss", train_loss);
        tg_history_add(history, step, "lr", lr);
        tg_history_add(history, step, "grad_norm", grad_norm);
        if (step % EVAL_EVERY == 0 || step == o.steps - 1)
            tg_history_add(history, step, "val_loss", evaluate(&n, x, y, TRAIN, SAMPLES - TRAIN));
        tg_progress_update(bar, step + 1, train_loss);
        tg_graph_reset();
    }
    tg_progress_finish(bar);

    printf("\n## 5. Results\n\n");
    printf("    mean squared error   train %.5f   validation %.5f   (noise floor 0.0025)\n",
           evaluate(&n, x, y, 0, TRAIN), evaluate(&n, x, y, TRAIN, SAMPLES - TRAIN));
    printf("    first logged loss %.4f, last learning rate %.2g\n\n",
           tg_history_value(history, 0, "train_loss"), tg_history_last(history, "lr"));
    printf("        x      y   predicted\n");
    for (int i = TRAIN; i < TRAIN + 5; i++) {
        tg_tensor *p = forward(&n, tg_narrow(x, 0, i, 1));
        printf("    %5.2f  %5.2f  %9.2f\n", xs[i], ys[i], tg_tensor_item(p));
    }
    tg_graph_reset();

    printf("\n## 6. History, plot, checkpoint\n\n");
    if (!tg_dist_is_main()) { /* rank 0 alone writes files */
        status = 0;
        goto done;
    }
    if (tg_history_write_csv(history, csv) != 0 ||
        tg_history_plot(history, png, (const char *[]){ "train_loss", "val_loss" }, 2,
                        &(tg_plot_options){ .title = "training_loop: loss", .ylabel = "MSE",
                                            .log_y = true }) < 0 ||
        tg_checkpoint_save(ckpt, &ck) != 0) {
        fprintf(stderr, "training_loop: %s\n", tg_error_message());
        goto done;
    }
    printf("    %s: one row per step: train_loss, lr, grad_norm, val_loss\n", csv);
    printf("    %s: train and validation loss on a log scale, falling from\n"
           "        about %.2f to about %.3f\n", png, tg_history_value(history, 0, "val_loss"),
           tg_history_last(history, "val_loss"));
    printf("    %s: model, optimizer state, schedule and step, to resume\n", ckpt);
    status = 0;

done:
    tg_dist_ddp_free(ddp);
    tg_progress_free(bar);
    tg_history_free(history);
    tg_schedule_free(sched);
    tg_optimizer_free(opt);
    tg_model_free(model);
    tg_tensor_free(x);
    tg_tensor_free(y);
    tg_graph_release();
    /* A rank that failed ends the others rather than leave them waiting. */
    if (o.dist && status != 0)
        tg_dist_abort(status);
    if (o.dist)
        tg_dist_finalize();
    return status;
}
