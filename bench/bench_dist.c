/*
 * bench_dist: training throughput of bench_rnn's step, data-parallel over
 * MPI ranks (dist/dist.h), one thread per rank. Run under mpirun:
 *
 *     mpirun -np 2 bench_dist [--cell rnn|lstm|gru] [--config L|XL] [--steps N]
 *
 * Each rank trains on its own batch of the config's size (weak scaling, as
 * PyTorch DDP is usually run), so tokens/s = ranks x T x B / step time.
 * The step is run twice: with the allreduces started during backward
 * (tg_dist_ddp's default) and with every allreduce started after backward
 * (no_overlap), whose wait is the whole communication time; the share of
 * it the first run hides is 1 - wait(overlap) / wait(no overlap). Rank 0
 * prints one line of JSON. bench/bench_dist.sh runs it beside PyTorch DDP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnn_step.h"

typedef struct measured {
    double ms;      /* median step time */
    double wait_ms; /* per step, in tg_dist_ddp_wait */
} measured;

static int ddp_step(rnn_bench *b, tg_dist_ddp *ddp)
{
    tg_model_zero_grad(b->model);
    tg_rnn_result r = b->forward(b->layer, b->x, NULL);
    tg_tensor *loss = tg_cross_entropy(tg_linear_forward(b->head, r.output), b->targets, NULL);
    int rc = loss && tg_dist_ddp_backward(ddp, loss) == 0 && tg_dist_ddp_wait(ddp) == 0 &&
                     tg_optimizer_step(b->adam) == 0
                 ? 0
                 : -1;
    tg_graph_reset();
    return rc;
}

static int run(rnn_bench *b, bool no_overlap, int steps, measured *out)
{
    tg_dist_ddp *ddp = tg_dist_ddp_new(b->model, (tg_dist_ddp_config){ .no_overlap = no_overlap });
    if (!ddp)
        return -1;
    enum { WARM = 2, MAX = 100 };
    double times[MAX];
    if (steps > MAX)
        steps = MAX;
    for (int i = 0; i < WARM; i++)
        if (ddp_step(b, ddp) != 0)
            return -1;
    tg_dist_ddp_stats before = tg_dist_ddp_get_stats(ddp);
    for (int i = 0; i < steps; i++) {
        tg_dist_barrier();
        double t = bench_now();
        if (ddp_step(b, ddp) != 0)
            return -1;
        times[i] = bench_now() - t;
    }
    tg_dist_ddp_stats after = tg_dist_ddp_get_stats(ddp);
    double v[2] = { bench_median(times, steps) * 1e3,
                    (after.wait_seconds - before.wait_seconds) / steps * 1e3 };
    tg_dist_ddp_free(ddp);
    if (tg_dist_average(v, 2) != 0)
        return -1;
    *out = (measured){ v[0], v[1] };
    return 0;
}

int main(int argc, char **argv)
{
    const char *cell = "rnn", *config = "L";
    int steps = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--cell") == 0)
            cell = argv[i + 1];
        else if (strcmp(argv[i], "--config") == 0)
            config = argv[i + 1];
        else if (strcmp(argv[i], "--steps") == 0)
            steps = atoi(argv[i + 1]);
    }
    rnn_shape shape;
    if (strcmp(config, "L") == 0)
        shape = (rnn_shape){ 100, 16, 512, 512 };
    else if (strcmp(config, "XL") == 0)
        shape = (rnn_shape){ 64, 64, 1024, 1024 };
    else {
        fprintf(stderr, "usage: bench_dist [--cell rnn|lstm|gru] [--config L|XL] [--steps N]\n");
        return 2;
    }
    tg_set_num_threads(1);
    if (tg_dist_init(&argc, &argv) != 0) {
        fprintf(stderr, "bench_dist: %s\n", tg_error_message());
        return 1;
    }
    rnn_bench b;
    measured overlap, plain;
    if (rnn_bench_build(&b, cell, shape) != 0 || tg_dist_broadcast_model(b.model) != 0 ||
        run(&b, false, steps, &overlap) != 0 || run(&b, true, steps, &plain) != 0) {
        fprintf(stderr, "bench_dist: rank %d: %s\n", tg_dist_rank(), tg_error_message());
        tg_dist_abort(1);
        return 1;
    }
    int ranks = tg_dist_world_size();
    if (tg_dist_is_main()) {
        double tokens = (double)ranks * (double)shape.steps * (double)shape.batch;
        double hidden = plain.wait_ms > 0 ? 1 - overlap.wait_ms / plain.wait_ms : 0;
        printf("{\"cell\": \"%s\", \"config\": \"%s\", \"ranks\": %d, \"grad_mb\": %.1f, "
               "\"step_ms\": %.1f, \"tokens_per_s\": %.0f, \"wait_ms\": %.2f, "
               "\"no_overlap_step_ms\": %.1f, \"no_overlap_wait_ms\": %.2f, \"hidden\": %.2f}\n",
               cell, config, ranks, 4.0 * (double)tg_model_numel(b.model) / 1e6, overlap.ms,
               tokens / (overlap.ms / 1e3), overlap.wait_ms, plain.ms, plain.wait_ms, hidden);
    }
    rnn_bench_free(&b);
    tg_graph_release();
    tg_dist_finalize();
    return 0;
}
