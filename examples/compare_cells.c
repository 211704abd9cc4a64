/*
 * compare_cells: the seed's comparison of RNN, LSTM and GRU, measured.
 *
 * The seed's table says the RNN is simple, fast, light and poor at
 * long-term dependencies, the LSTM complex, slow, heavy and excellent, the
 * GRU in between. This program builds the three cells with the same number
 * of hidden units and measures each claim: parameters, training time per
 * step, peak memory of a training step, and how well each learns the adding
 * problem (Hochreiter and Schmidhuber 1997) at several sequence lengths,
 * against the 0.167 of always answering 1.
 *
 *     compare_cells [--quick] [--steps N] [--lengths 25,50,100] [--hidden H] [--lr LR]
 *                   [--lstm-default-init] [--out DIR] [--save PATH] [--load PATH [--eval]]
 *
 * Writes to DIR: compare_cells_history.csv (each cell's training loss at
 * each length per step, test MSE every few steps) and compare_cells_curves.png
 * (one panel per length: the three cells' test MSE). With --load and --eval
 * nothing is trained: the table measures the loaded cells (parameters,
 * memory, test MSE) and nothing is written.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "adding_problem.h"
#include "notebook.h"

static const char PROGRAM[] = "compare_cells";

enum { CELLS = 3, MAX_LENGTHS = 6, TEST = 512 };

/* The three built-in cells, and the seed's words for each. */
typedef struct cell_kind {
    const char *name, *label;
    tg_rnn *(*make)(tg_model *model, const char *prefix, tg_rnn_config config);
    const char *gates, *complexity, *speed, *memory, *resources;
} cell_kind;

static const cell_kind KINDS[CELLS] = {
    { "rnn", "RNN", tg_rnn_new, "No gates", "Simple", "Faster", "Poor", "Low" },
    { "lstm", "LSTM", tg_lstm_new, "Input, forget, output", "Complex", "Slower", "Excellent", "High" },
    { "gru", "GRU", tg_gru_new, "Update, reset", "Moderate", "Faster than LSTM", "Good", "Moderate" },
};

/* ---- One contestant: a cell at one length ------------------------------------------ */

typedef struct contestant {
    const cell_kind *kind;
    tg_rnn *layer;
    tg_linear *head;  /* reads the last state */
    int64_t parameters;
    double *seconds;  /* forward and backward time of each training step */
    size_t graph_bytes;
} contestant;

/* The mean squared error of the prediction read from the last state. */
static tg_tensor *contestant_loss(const contestant *c, tg_tensor *x, tg_tensor *y)
{
    tg_rnn_result run = tg_rnn_forward(c->layer, x, NULL);
    return run.output ? tg_mse_loss(tg_linear_forward(c->head, run.h[run.steps - 1]), y, TG_REDUCTION_MEAN)
                      : NULL;
}

/* ---- The experiment -------------------------------------------------------------------- */

typedef struct settings {
    int lengths[MAX_LENGTHS], n_lengths, hidden, batch, steps, eval_every;
    float lr;
    bool lstm_default_init;
} settings;

typedef struct length_run {
    int length;
    contestant c[CELLS];
    tg_tensor *x, *y;           /* owned: the training batch, refilled every step */
    tg_tensor *test_x, *test_y; /* owned: the test batch */
} length_run;

typedef struct experiment {
    settings s;
    const nb_common *common;
    tg_model *model; /* every cell at every length: they share no parameter */
    tg_optimizer *opt;
    tg_rng data_rng;
    tg_checkpoint ck;
    length_run runs[MAX_LENGTHS];
    tg_history *history;
} experiment;

static int make_contestant(experiment *e, length_run *run, int k)
{
    char prefix[32], head[40];
    snprintf(prefix, sizeof prefix, "T%d.%s", run->length, KINDS[k].name);
    snprintf(head, sizeof head, "%s_head", prefix);
    tg_rnn_config config = { .input = 2, .hidden = e->s.hidden, .forget_bias_one = !e->s.lstm_default_init };
    int64_t before = tg_model_numel(e->model);
    contestant *c = &run->c[k];
    *c = (contestant){ .kind = &KINDS[k], .layer = KINDS[k].make(e->model, prefix, config),
                       .head = tg_linear_new(e->model, head, (tg_linear_config){ .input = e->s.hidden, .output = 1 }),
                       .seconds = calloc((size_t)e->s.steps, sizeof(double)) };
    c->parameters = tg_model_numel(e->model) - before;
    return c->layer && c->head && c->seconds ? 0 : -1;
}

static int make_lengths(experiment *e)
{
    for (int l = 0; l < e->s.n_lengths; l++) {
        length_run *run = &e->runs[l];
        int T = e->s.lengths[l];
        run->length = T;
        run->x = tg_tensor_zeros(TG_SHAPE(T, e->s.batch, 2));
        run->y = tg_tensor_zeros(TG_SHAPE(e->s.batch, 1));
        run->test_x = tg_tensor_zeros(TG_SHAPE(T, TEST, 2));
        run->test_y = tg_tensor_zeros(TG_SHAPE(TEST, 1));
        if (!run->x || !run->y || !run->test_x || !run->test_y)
            return -1;
        /* The test batch of each length from its own generator. */
        tg_rng test_rng = tg_rng_new(e->common->seed + 1 + (uint64_t)T);
        adding_problem_batch(&test_rng, run->test_x, run->test_y);
        for (int k = 0; k < CELLS; k++)
            if (make_contestant(e, run, k) != 0)
                return -1;
    }
    return 0;
}

static double test_mse(const length_run *run, int k)
{
    tg_no_grad_begin();
    tg_tensor *loss = contestant_loss(&run->c[k], run->test_x, run->test_y);
    double value = loss ? tg_tensor_item(loss) : NAN;
    tg_no_grad_end();
    tg_graph_reset();
    return value;
}

static void record(experiment *e, const length_run *run, int k, const char *what, double value)
{
    char column[48];
    snprintf(column, sizeof column, "%s_T%d_%s", KINDS[k].name, run->length, what);
    tg_history_add(e->history, e->ck.step, column, value);
}

/* One step: at every length a fresh batch, each cell's forward and backward
 * on it (timed), then one Adam step for all. */
static int train_step(experiment *e, int i, bool evaluate)
{
    for (int l = 0; l < e->s.n_lengths; l++) {
        length_run *run = &e->runs[l];
        adding_problem_batch(&e->data_rng, run->x, run->y);
        for (int k = 0; k < CELLS; k++) {
            double started = nb_seconds();
            tg_tensor *loss = contestant_loss(&run->c[k], run->x, run->y);
            if (!loss || tg_backward(loss) != 0)
                return -1;
            run->c[k].seconds[i] = nb_seconds() - started;
            record(e, run, k, "loss", tg_tensor_item(loss));
            tg_graph_reset();
        }
    }
    if (tg_optimizer_step(e->opt) != 0)
        return -1;
    tg_optimizer_zero_grad(e->opt);
    for (int l = 0; evaluate && l < e->s.n_lengths; l++)
        for (int k = 0; k < CELLS; k++)
            record(e, &e->runs[l], k, "test", test_mse(&e->runs[l], k));
    e->ck.step++;
    return 0;
}

static int train(experiment *e)
{
    tg_progress *bar = tg_progress_new((tg_progress_config){ .total = e->s.steps, .out = stdout });
    if (!bar)
        return -1;
    int status = 0;
    for (int i = 0; i < e->s.steps && status == 0; i++) {
        status = train_step(e, i, i % e->s.eval_every == 0 || i == e->s.steps - 1);
        char longest[48];
        snprintf(longest, sizeof longest, "lstm_T%d_loss", e->runs[e->s.n_lengths - 1].length);
        tg_progress_update(bar, i + 1, tg_history_last(e->history, longest));
    }
    tg_progress_finish(bar);
    tg_progress_free(bar);
    return status;
}

/* ---- Measurements ---------------------------------------------------------------------- */

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median time of a training step, in milliseconds: the median, not the
 * mean, so that a moment when other programs take the cores weighs little. */
static double median_ms(const contestant *c, int steps)
{
    qsort(c->seconds, (size_t)steps, sizeof(double), compare_doubles);
    return 1e3 * (steps % 2 ? c->seconds[steps / 2] : (c->seconds[steps / 2 - 1] + c->seconds[steps / 2]) / 2);
}

/* The graph memory of one training step: everything the forward and the
 * backward put in the arena (states, gates, gradients), measured right
 * before the reset that frees it. The gradients it leaves are forgotten. */
static int measure_graph_bytes(experiment *e, length_run *run, int k)
{
    tg_graph_reset();
    tg_tensor *loss = contestant_loss(&run->c[k], run->x, run->y);
    if (!loss || tg_backward(loss) != 0)
        return -1;
    run->c[k].graph_bytes = tg_arena_used(tg_arena_thread());
    tg_optimizer_zero_grad(e->opt);
    tg_graph_reset();
    return 0;
}

/* Parameters, their gradients and Adam's two moments: four floats each. */
static double state_bytes(const contestant *c) { return 16.0 * (double)c->parameters; }

static double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

/* ---- Outputs ---------------------------------------------------------------------------- */

/* The test MSE of cell k at one length, at the steps where it was
 * measured: fills steps and mse, returns how many. */
static int test_curve(const experiment *e, const length_run *run, int k, double *steps, double *mse)
{
    char column[48];
    snprintf(column, sizeof column, "%s_T%d_test", KINDS[k].name, run->length);
    int n = 0;
    for (int r = 0; r < tg_history_rows(e->history); r++) {
        double value = tg_history_value(e->history, r, column);
        if (!isnan(value)) {
            steps[n] = (double)tg_history_x(e->history, r);
            mse[n++] = value;
        }
    }
    return n;
}

/* One panel per length: the three cells' test MSE, and always answering 1. */
static int plot_curves(const experiment *e, const char *path)
{
    tg_plot_figure *figure = tg_plot_figure_new((tg_plot_figure_config){
        .cols = e->s.n_lengths, .title = "Adding problem: test MSE of the RNN, LSTM and GRU (log scale)" });
    size_t rows = (size_t)tg_history_rows(e->history);
    double *steps = malloc(sizeof(double) * rows * CELLS), *mse = malloc(sizeof(double) * rows * CELLS);
    int status = figure && steps && mse ? 0 : -1;
    for (int l = 0; status == 0 && l < e->s.n_lengths; l++) {
        const length_run *run = &e->runs[l];
        tg_plot_series series[CELLS + 1];
        for (int k = 0; k < CELLS; k++) {
            int n = test_curve(e, run, k, steps + k * rows, mse + k * rows);
            series[k] = (tg_plot_series){ .name = KINDS[k].label, .xd = steps + k * rows, .yd = mse + k * rows,
                                          .count = n };
        }
        double ends[2] = { (double)tg_history_x(e->history, 0), (double)tg_history_x(e->history, (int)rows - 1) };
        double answer_one = adding_problem_answer_one_mse(run->test_y), one[2] = { answer_one, answer_one };
        series[CELLS] = (tg_plot_series){ .name = "answer 1", .xd = ends, .yd = one, .count = 2,
                                          .style = TG_PLOT_DASHED, .color = 7 };
        char title[48];
        snprintf(title, sizeof title, "T = %d", run->length);
        status = tg_plot_figure_lines(figure, l, series, CELLS + 1, &(tg_plot_options){
            .title = title, .xlabel = "step", .ylabel = "test MSE", .log_y = true }) < 0 ? -1 : 0;
    }
    status = status == 0 ? tg_plot_figure_save(figure, path) : -1;
    free(steps);
    free(mse);
    tg_plot_figure_free(figure);
    return status;
}

/* ---- The notebook ------------------------------------------------------------------------ */

static int fail(const char *message) { return nb_fail(PROGRAM, message); }

static void section_claims(void)
{
    nb_section(1, "The seed's claims",
               "The seed compares the three cells in a table: gates, complexity, training speed, "
               "long-term dependency, computational resources. Its words are qualitative; each "
               "has a number behind it that can be measured. Complexity is the parameter count; "
               "training speed, the time of one training step; resources, the memory a training "
               "step needs; long-term dependency, how well a cell learns a task whose answer "
               "depends on inputs far back. Every cell gets the same number of hidden units, the "
               "same data, the same optimizer and the same number of steps.");
}

static int section_cells(experiment *e)
{
    char text[1100];
    snprintf(text, sizeof text,
             "For each sequence length, an RNN (tanh), an LSTM and a GRU (the seed's equations), "
             "%d hidden units each, with a linear head that reads the last state. Their "
             "parameters follow from the gates: per gate block, a [H, 2] input weight, an [H, H] "
             "recurrent weight and two biases, one block for the RNN, four for the LSTM (i, f, "
             "g, o), three for the GRU (r, z, n).\n\n"
             "Initialisation: PyTorch's U(-1/sqrt(H), 1/sqrt(H)) for every parameter%s",
             e->s.hidden,
             e->s.lstm_default_init
                 ? ", the LSTM's forget gate included (--lstm-default-init). Expect the LSTM to "
                   "stay on the plateau of 0.167 at long lengths: its forget gate starts at "
                   "sigmoid(0) = 0.5, halving the memory, and the gradient along it, at every step."
                 : ", except the LSTM's forget-gate bias, which starts at 1 "
                   "(tg_rnn_config.forget_bias_one; Gers et al. 2000, Jozefowicz et al. 2015). "
                   "With PyTorch's default the forget gate starts at sigmoid(0) = 0.5, so the cell "
                   "state and its gradient halve at every step; in PyTorch an LSTM of 128 units "
                   "initialised that way is still on the 0.167 plateau of length 100 after 2,300 "
                   "steps, and one with the bias at 1 solves it in about 3,000. Within this "
                   "program's budget only the second can show what the LSTM is capable of; the "
                   "option --lstm-default-init runs the first.");
    nb_section(2, "Three cells of the same size", text);
    e->model = tg_model_new(e->common->seed);
    e->history = tg_history_new("step");
    if (!e->model || !e->history || make_lengths(e) != 0)
        return fail("cannot make the cells");
    printf("    %-5s %12s\n", "cell", "parameters");
    for (int k = 0; k < CELLS; k++)
        printf("    %-5s %12lld   (with its head of %d weights and a bias)\n", KINDS[k].label,
               (long long)e->runs[0].c[k].parameters, e->s.hidden);
    return 0;
}

static int section_training(experiment *e)
{
    char text[900], lengths[64] = "";
    for (int l = 0; l < e->s.n_lengths; l++)
        snprintf(lengths + strlen(lengths), sizeof lengths - strlen(lengths), "%s%d", l ? ", " : "",
                 e->s.lengths[l]);
    snprintf(text, sizeof text,
             "The adding problem: each sequence has T steps of two inputs, a value from U(0, 1) "
             "and a marker that is 1 at one step in each half. The target, read from the last "
             "state, is the sum of the two marked values. Always answering 1 scores an MSE of "
             "Var(a + b) = 2/12 = 0.167; to do better a cell must carry the first marked value "
             "across half the sequence or more. Lengths T = %s. Every step, each length gets a "
             "fresh batch of %d sequences, which its three cells all train on; Adam (lr %g) "
             "updates all of them at once; every %d steps each cell's MSE on %d test sequences "
             "of its length is recorded. The progress line shows the LSTM's loss at the longest "
             "length.",
             lengths, e->s.batch, e->s.lr, e->s.eval_every, TEST);
    if (e->common->eval)
        snprintf(text, sizeof text,
                 "--eval: the cells come from --load, and nothing is trained. The table below "
                 "measures them on the test sequences of each length (T = %s); a time per step "
                 "needs training, so the table has none.", lengths);
    nb_section(3, e->common->eval ? "Evaluation only" : "Training on the adding problem", text);
    e->opt = tg_adam_new(e->model, (tg_adam_config){ .lr = e->s.lr });
    if (!e->opt)
        return fail("cannot make the optimizer");
    e->ck = (tg_checkpoint){ .model = e->model, .optimizer = e->opt, .rngs = { { "data", &e->data_rng } } };
    if (e->common->load) {
        if (tg_checkpoint_load(e->common->load, &e->ck) != 0) {
            fprintf(stderr, "%s: --load: %s\n", PROGRAM, tg_error_message());
            return 2;
        }
        printf("    loaded %s: %lld steps of training so far\n", e->common->load, (long long)e->ck.step);
    }
    if (e->common->eval)
        return 0;
    double started = nb_seconds();
    if (train(e) != 0)
        return fail("training failed");
    printf("    %d steps in %.1f s\n", e->s.steps, nb_seconds() - started);
    return 0;
}

static void print_row(const char *factor, const char *const values[CELLS])
{
    printf("    | %-27s | %-22s | %-22s | %-22s |\n", factor, values[0], values[1], values[2]);
}

static int section_table(experiment *e)
{
    const length_run *longest = &e->runs[e->s.n_lengths - 1];
    char text[600];
    snprintf(text, sizeof text,
             "The seed's table, each row followed by its measurement (indented). Time per step is "
             "the median of the forward and backward passes of one batch of %d at T = %d, over "
             "all training steps. Memory is what a training step at T = %d needs: the graph's "
             "arena (every state, gate and gradient of the step) plus the parameters, their "
             "gradients and Adam's two moments. MSE is on the test batch after training; below "
             "0.05 counts as solved.",
             e->s.batch, longest->length, longest->length);
    nb_section(4, "The seed's table, measured", text);
    for (int k = 0; k < CELLS; k++)
        if (measure_graph_bytes(e, &e->runs[e->s.n_lengths - 1], k) != 0)
            return fail("cannot measure the memory");
    char cells[4][CELLS][64];
    for (int k = 0; k < CELLS; k++) {
        const contestant *c = &longest->c[k];
        snprintf(cells[0][k], 64, "%lld", (long long)c->parameters);
        if (e->common->eval)
            snprintf(cells[1][k], 64, "- (--eval)");
        else
            snprintf(cells[1][k], 64, "%.2f ms (%.2fx RNN)", median_ms(c, e->s.steps),
                     median_ms(c, e->s.steps) / median_ms(&longest->c[0], e->s.steps));
        snprintf(cells[2][k], 64, "%.2f MiB", mib((double)c->graph_bytes + state_bytes(c)));
        cells[3][k][0] = '\0';
        for (int l = 0; l < e->s.n_lengths; l++)
            snprintf(cells[3][k] + strlen(cells[3][k]), 64 - strlen(cells[3][k]), "%s%.3f", l ? " / " : "",
                     test_mse(&e->runs[l], k));
    }
    char mse_label[64] = "MSE at T =";
    for (int l = 0; l < e->s.n_lengths; l++)
        snprintf(mse_label + strlen(mse_label), sizeof mse_label - strlen(mse_label), "%s%d", l ? "/" : " ",
                 e->s.lengths[l]);
    print_row("Factor", (const char *[]){ "RNN", "LSTM", "GRU" });
    printf("    |-----------------------------|------------------------|------------------------|"
           "------------------------|\n");
    print_row("Gates", (const char *[]){ KINDS[0].gates, KINDS[1].gates, KINDS[2].gates });
    print_row("Complexity", (const char *[]){ KINDS[0].complexity, KINDS[1].complexity, KINDS[2].complexity });
    print_row("  parameters", (const char *[]){ cells[0][0], cells[0][1], cells[0][2] });
    print_row("Training Speed", (const char *[]){ KINDS[0].speed, KINDS[1].speed, KINDS[2].speed });
    print_row("  time per step", (const char *[]){ cells[1][0], cells[1][1], cells[1][2] });
    print_row("Long-term dependency", (const char *[]){ KINDS[0].memory, KINDS[1].memory, KINDS[2].memory });
    print_row(mse_label, (const char *[]){ cells[3][0], cells[3][1], cells[3][2] });
    print_row("Computational Resources", (const char *[]){ KINDS[0].resources, KINDS[1].resources,
                                                            KINDS[2].resources });
    print_row("  memory of a step", (const char *[]){ cells[2][0], cells[2][1], cells[2][2] });
    printf("\n    always answering 1 scores");
    for (int l = 0; l < e->s.n_lengths; l++)
        printf("%s %.3f at T = %d", l ? "," : "", adding_problem_answer_one_mse(e->runs[l].test_y), e->runs[l].length);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("\n    the whole program's peak resident memory: %.1f MiB (all %d models, data and code)\n",
           usage.ru_maxrss / 1024.0, CELLS * e->s.n_lengths);
    return 0;
}

/* "RNN < GRU < LSTM" when a[0] < a[2] < a[1], the order the seed implies. */
static bool seed_order(const double a[CELLS]) { return a[0] < a[2] && a[2] < a[1]; }

/* One line of the verdict: the three values, each printed with `format`,
 * and whether they fall in the seed's order. */
static void say_order(const char *what, const char *format, const double a[CELLS])
{
    char values[CELLS][32], text[400];
    for (int k = 0; k < CELLS; k++)
        snprintf(values[k], sizeof values[k], format, a[k]);
    snprintf(text, sizeof text, "- %s: RNN %s, LSTM %s, GRU %s: %s.", what, values[0], values[1], values[2],
             seed_order(a) ? "RNN < GRU < LSTM, as the seed says" : "not in the seed's order RNN < GRU < LSTM");
    nb_text(text);
}

static void section_verdict(experiment *e)
{
    nb_section(5, "What the numbers say", "");
    const length_run *longest = &e->runs[e->s.n_lengths - 1];
    double parameters[CELLS], ms[CELLS], memory[CELLS], mse[CELLS];
    for (int k = 0; k < CELLS; k++) {
        parameters[k] = (double)longest->c[k].parameters;
        ms[k] = median_ms(&longest->c[k], e->s.steps);
        memory[k] = mib((double)longest->c[k].graph_bytes + state_bytes(&longest->c[k]));
        mse[k] = test_mse(longest, k);
    }
    say_order("Complexity", "%.0f parameters", parameters);
    say_order("Training speed", "%.2f ms per step", ms);
    nb_text("  Per step the RNN multiplies h by an [H, H] matrix and the LSTM by a [4H, H] one; the "
            "GRU makes two products, [2H, H] for r and z, then [H, H] for its candidate, which needs r "
            "first. With large matrices the time follows the arithmetic (1 : 4 : 3); with small ones "
            "the fixed cost of each op weighs more, and the GRU's two products can make it the "
            "slowest.");
    say_order("Resources", "%.2f MiB per training step", memory);
    char text[600];
    snprintf(text, sizeof text,
             "- Long-term dependency at T = %d (MSE; solved below 0.05, 0.167 for always answering "
             "1): RNN %.3f (%s), LSTM %.3f (%s), GRU %.3f (%s). The gated cells carry a value across "
             "the sequence through a path whose factor per step is a gate the cell can hold near "
             "1; the RNN's path goes through tanh and W_hh at every step, and its gradient "
             "vanishes on the way.",
             longest->length, mse[0], mse[0] < 0.05 ? "solved" : "not solved", mse[1],
             mse[1] < 0.05 ? "solved" : "not solved", mse[2], mse[2] < 0.05 ? "solved" : "not solved");
    nb_text(text);
}

static int section_files(experiment *e)
{
    nb_section(6, "Files", "");
    const nb_common *common = e->common;
    char csv[1024], png[1024];
    if (tg_history_write_csv(e->history, nb_out_path(common, "compare_cells_history.csv", csv, sizeof csv)) != 0)
        return fail("cannot write the history");
    nb_wrote(csv, "per step: <cell>_T<length>_loss; every few steps: <cell>_T<length>_test");
    if (plot_curves(e, nb_out_path(common, "compare_cells_curves.png", png, sizeof png)) != 0)
        return fail("cannot plot the learning curves");
    nb_wrote(png, "test MSE of the three cells, one panel per length");
    return nb_save_checkpoint(PROGRAM, common, &e->ck,
                              "checkpoint: every cell and head, Adam's state, the data generator, the step");
}

/* ---- Setting up ------------------------------------------------------------------------- */

/* "25,50,100" into lengths; the count, or -1 when it does not parse. */
static int parse_lengths(const char *text, int *lengths)
{
    int n = 0;
    const char *p = text;
    while (*p && n < MAX_LENGTHS) {
        char *end;
        long v = strtol(p, &end, 10);
        if (*p < '0' || *p > '9' || v < 4 || v > 10000 || (*end && *end != ','))
            return -1;
        lengths[n++] = (int)v;
        p = *end ? end + 1 : end;
        if (*end && !*p)
            return -1;
    }
    return n > 0 && !*p ? n : -1;
}

static int parse(int argc, char **argv, nb_common *common, settings *s)
{
    const char *lengths = NULL;
    int hidden = 0;
    float lr = 0.0f;
    bool lstm_default_init = false;
    const nb_option own[] = {
        { "lengths", NB_STRING, &lengths, "sequence lengths, comma-separated (default 25,50,100; --quick: 8,16)" },
        { "hidden", NB_INT, &hidden, "hidden units of every cell (default 64; --quick: 16)" },
        { "lr", NB_FLOAT, &lr, "Adam's learning rate (default 3e-3; --quick: 1e-2)" },
        { "lstm-default-init", NB_FLAG, &lstm_default_init, "the LSTM's forget-gate bias as PyTorch's (not 1)" },
    };
    int parsed = nb_parse(argc, argv, PROGRAM, "the seed's comparison of RNN, LSTM and GRU, measured", common,
                          own, (int)(sizeof own / sizeof *own));
    if (parsed != 0)
        return parsed;
    if (adding_problem_check_flags(PROGRAM, common) != 0)
        return 2;
    *s = common->quick ? (settings){ .lengths = { 8, 16 }, .n_lengths = 2, .hidden = 16, .batch = 16,
                                     .steps = 150, .eval_every = 10, .lr = 1e-2f }
                       : (settings){ .lengths = { 25, 50, 100 }, .n_lengths = 3, .hidden = 64, .batch = 32,
                                     .steps = 3000, .eval_every = 50, .lr = 3e-3f };
    s->hidden = hidden ? hidden : s->hidden;
    s->steps = common->steps ? common->steps : s->steps;
    s->lr = lr > 0.0f ? lr : s->lr;
    s->lstm_default_init = lstm_default_init;
    if (lengths && (s->n_lengths = parse_lengths(lengths, s->lengths)) < 0) {
        fprintf(stderr, "%s: --lengths '%s': up to %d lengths in [4, 10000], separated by commas\n", PROGRAM,
                lengths, MAX_LENGTHS);
        return 2;
    }
    return 0;
}

static void release(experiment *e)
{
    for (int l = 0; l < MAX_LENGTHS; l++) {
        length_run *run = &e->runs[l];
        for (int k = 0; k < CELLS; k++)
            free(run->c[k].seconds);
        tg_tensor_free(run->x);
        tg_tensor_free(run->y);
        tg_tensor_free(run->test_x);
        tg_tensor_free(run->test_y);
    }
    tg_history_free(e->history);
    tg_optimizer_free(e->opt);
    tg_model_free(e->model);
    tg_graph_release();
}

int main(int argc, char **argv)
{
    nb_common common;
    experiment e = { .common = &common };
    int parsed = parse(argc, argv, &common, &e.s);
    if (parsed != 0)
        return parsed == 1 ? 0 : 2;
    e.data_rng = tg_rng_new(common.seed);
    section_claims();
    int status = section_cells(&e);
    if (status == 0)
        status = section_training(&e);
    if (status == 0)
        status = section_table(&e);
    if (status == 0 && !common.eval) { /* --eval: no times to weigh, no curves to draw */
        section_verdict(&e);
        status = section_files(&e);
    }
    release(&e);
    return status;
}
