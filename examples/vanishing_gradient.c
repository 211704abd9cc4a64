/*
 * vanishing_gradient: the seed's vanishing-gradient problem, measured.
 *
 * An RNN, an LSTM and a GRU of the same size read the sequences of the
 * adding problem (Hochreiter and Schmidhuber 1997), where the loss looks at
 * the last step only. The tape keeps dLoss/dh_t for every step t
 * (tg_retain_grad on the layer's h[t] before tg_backward, then tg_grad), so
 * how much gradient reaches each step back in time is read off directly,
 * before and after training.
 *
 *     vanishing_gradient [--quick] [--steps N] [--length T] [--hidden H] [--lr LR] [--out DIR]
 *                        [--save PATH] [--load PATH [--eval]]
 *
 * Writes to DIR: vanishing_gradient_norms.csv and .png (the norms over t,
 * six curves on a log scale), vanishing_gradient_history.csv and
 * vanishing_gradient_loss.png (the training losses). The default run
 * (T = 50, 64 units, 2000 steps of batches of 32) takes about 25 s of CPU
 * time; --quick (T = 16, 16 units, 150 steps) about a second. With --load
 * and --eval nothing is trained: the loaded cells' gradients and probe MSE
 * are measured, and nothing is written.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adding_problem.h"
#include "notebook.h"

static const char PROGRAM[] = "vanishing_gradient";

enum { CELLS = 3, PROBE = 256, COLUMNS = 5 };

/* The three built-in cells: one layer type, a constructor and a forward each. */
typedef struct cell_kind {
    const char *name;
    tg_rnn *(*make)(tg_model *model, const char *prefix, tg_rnn_config config);
    tg_rnn_result (*forward)(tg_rnn *layer, tg_tensor *x, const tg_rnn_options *options);
} cell_kind;

static const cell_kind KINDS[CELLS] = {
    { "rnn", tg_rnn_new, tg_rnn_forward },
    { "lstm", tg_lstm_new, tg_lstm_forward },
    { "gru", tg_gru_new, tg_gru_forward },
};

static const char *const WHEN[2] = { "before", "after" };

/* ---- A cell, its loss, its gradients over time ---------------------------------- */

/* A recurrent layer and the linear head that reads its last state. */
typedef struct net {
    const cell_kind *kind;
    tg_rnn *layer;
    tg_linear *head;
} net;

static int make_net(tg_model *model, const cell_kind *kind, tg_rnn_config config, net *out)
{
    char head[TG_NAME_MAX];
    snprintf(head, sizeof head, "%s_head", kind->name);
    *out = (net){ kind, kind->make(model, kind->name, config),
                  tg_linear_new(model, head, (tg_linear_config){ .input = config.hidden, .output = 1 }) };
    return out->layer && out->head ? 0 : -1;
}

/* Mean squared error of the prediction read from the last state; *run
 * receives the layer's result (its states h[t]). */
static tg_tensor *net_loss(const net *n, tg_tensor *x, tg_tensor *y, tg_rnn_result *run)
{
    *run = n->kind->forward(n->layer, x, NULL);
    if (!run->output)
        return NULL;
    return tg_mse_loss(tg_linear_forward(n->head, run->h[run->steps - 1]), y, TG_REDUCTION_MEAN);
}

/* norms[t] = ||dLoss/dh_t|| over the whole batch for t in [0, T), from the
 * gradients the tape retains. Returns the loss, or NaN on error. */
static double gradient_norms(tg_model *model, const net *n, tg_tensor *x, tg_tensor *y, double *norms)
{
    tg_rnn_result run;
    tg_tensor *loss = net_loss(n, x, y, &run);
    for (int64_t t = 0; loss && t < run.steps; t++)
        tg_retain_grad(run.h[t]);
    double value = NAN;
    if (loss && tg_backward(loss) == 0) {
        value = tg_tensor_item(loss);
        tg_no_grad_begin();
        for (int64_t t = 0; t < run.steps; t++) {
            tg_tensor *grad = tg_grad(run.h[t]); /* NULL: no gradient reached h_t */
            norms[t] = grad ? tg_tensor_item(tg_norm(grad, 2.0f, TG_ALL_AXES, false)) : 0.0;
        }
        tg_no_grad_end();
    }
    tg_model_zero_grad(model);
    tg_graph_reset();
    return value;
}

/* ---- Reading the norms ---------------------------------------------------------- */

static double first_over_last(const double *norms, int T) { return norms[0] / norms[T - 1]; }

/* The mean factor by which one step back multiplies the gradient, from the
 * first step whose norm has not underflowed to 0 to the last. */
static double per_step(const double *norms, int T)
{
    int t = 0;
    while (t < T - 1 && norms[t] == 0.0)
        t++;
    return t < T - 1 ? pow(norms[t] / norms[T - 1], 1.0 / (T - 1 - t)) : NAN;
}

static void print_table_header(int T)
{
    printf("    %-5s %-7s", "cell", "when");
    for (int i = 0; i < COLUMNS; i++) {
        char label[16];
        snprintf(label, sizeof label, "t=%d", i * (T - 1) / (COLUMNS - 1));
        printf(" %9s", label);
    }
    printf("  %10s %8s\n", "first/last", "per step");
}

/* The norms at t = 0, T/4, T/2, 3T/4, T-1, their ratio first/last and the
 * factor per step. */
static void print_table_row(const char *cell, const char *when, const double *norms, int T)
{
    printf("    %-5s %-7s", cell, when);
    for (int i = 0; i < COLUMNS; i++)
        printf(" %9.2e", norms[i * (T - 1) / (COLUMNS - 1)]);
    printf("  %10.2e %8.3f\n", first_over_last(norms, T), per_step(norms, T));
}

/* What a ratio first/last says, in words. */
static const char *verdict(double ratio)
{
    if (ratio == 0.0)
        return "vanishes completely (it underflows to 0 in float32)";
    if (ratio < 1e-3)
        return "vanishes";
    if (ratio < 0.1)
        return "fades but reaches the first step";
    return "reaches the first step";
}

/* ---- The experiment ------------------------------------------------------------ */

typedef struct settings {
    int length, hidden, batch, steps;
    float lr;
} settings;

typedef struct experiment {
    settings s;
    const nb_common *common;
    tg_model *model;
    net nets[CELLS];
    tg_optimizer *opt;
    tg_checkpoint ck;             /* the model, Adam, the data generator, the step */
    tg_rng data_rng;              /* the training batches */
    tg_tensor *probe_x, *probe_y; /* owned: the batch the gradients are measured on */
    double *norms[2][CELLS];      /* [before, after][cell][t] */
    double probe_loss[2][CELLS];
    double *lstm_bias[2];         /* fresh LSTMs: forget-gate bias 0 and 1 */
    tg_history *history;
} experiment;

static int measure(experiment *e, int when)
{
    for (int k = 0; k < CELLS; k++) {
        e->probe_loss[when][k] =
            gradient_norms(e->model, &e->nets[k], e->probe_x, e->probe_y, e->norms[when][k]);
        if (isnan(e->probe_loss[when][k]))
            return -1;
    }
    return 0;
}

/* One step of Adam on the three cells at once: their losses are summed, and
 * as they share no parameter each receives the gradient of its own loss. */
static int train_step(experiment *e)
{
    tg_tensor *x = tg_zeros(TG_SHAPE(e->s.length, e->s.batch, 2));
    tg_tensor *y = tg_zeros(TG_SHAPE(e->s.batch, 1));
    if (!x || !y)
        return -1;
    adding_problem_batch(&e->data_rng, x, y);
    tg_tensor *loss[CELLS], *total = NULL;
    for (int k = 0; k < CELLS; k++) {
        tg_rnn_result run;
        loss[k] = net_loss(&e->nets[k], x, y, &run);
        total = k == 0 ? loss[k] : tg_add(total, loss[k]);
    }
    if (!total || tg_backward(total) != 0 || tg_optimizer_step(e->opt) != 0)
        return -1;
    tg_optimizer_zero_grad(e->opt);
    for (int k = 0; k < CELLS; k++) {
        char column[32];
        snprintf(column, sizeof column, "%s_loss", KINDS[k].name);
        tg_history_add(e->history, e->ck.step, column, tg_tensor_item(loss[k]));
    }
    tg_graph_reset();
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
        status = train_step(e);
        tg_progress_update(bar, i + 1, tg_history_last(e->history, "lstm_loss"));
    }
    tg_progress_finish(bar);
    tg_progress_free(bar);
    return status;
}

/* An LSTM at initialisation, with or without forget_bias_one, in a model of
 * its own from the run's seed: the two draw the same weights and differ
 * only in the forget gate's bias. */
static int measure_fresh_lstm(const experiment *e, bool forget_bias_one, double *norms)
{
    tg_model *model = tg_model_new(e->common->seed);
    tg_rnn_config config = { .input = 2, .hidden = e->s.hidden, .forget_bias_one = forget_bias_one };
    net n;
    double loss = model && make_net(model, &KINDS[1], config, &n) == 0
                      ? gradient_norms(model, &n, e->probe_x, e->probe_y, norms)
                      : NAN;
    tg_model_free(model);
    return isnan(loss) ? -1 : 0;
}

/* ---- Outputs ------------------------------------------------------------------- */

/* One row per step t: t, the six curves, the two fresh LSTMs. */
static int write_norms_csv(const experiment *e, const char *path)
{
    enum { N = 1 + 2 * CELLS + 2 };
    char names[N][40];
    const char *columns[N] = { "t" };
    const double *curves[N] = { NULL };
    for (int w = 0; w < 2; w++)
        for (int k = 0; k < CELLS; k++) {
            int c = 1 + w * CELLS + k;
            snprintf(names[c], sizeof names[c], "%s_%s", KINDS[k].name, WHEN[w]);
            columns[c] = names[c];
            curves[c] = e->norms[w][k];
        }
    for (int i = 0; i < 2; i++) {
        snprintf(names[N - 2 + i], sizeof names[0], "fresh_lstm_forget_bias_%d", i);
        columns[N - 2 + i] = names[N - 2 + i];
        curves[N - 2 + i] = e->lstm_bias[i];
    }
    int T = e->s.length;
    double *values = malloc(sizeof(double) * (size_t)T * N);
    if (!values)
        return -1;
    for (int t = 0; t < T; t++)
        for (int c = 0; c < N; c++)
            values[t * N + c] = c == 0 ? t : curves[c][t];
    int status = tg_csv_write(path, columns, N, values, T);
    free(values);
    return status;
}

/* The six curves on a log scale: one colour per cell, dashed before
 * training, solid after. Returns the number of points left out (norms that
 * underflowed to 0), or -1. */
static int plot_norms(const experiment *e, const char *path)
{
    tg_plot_series series[2 * CELLS];
    char names[2 * CELLS][48];
    for (int w = 0; w < 2; w++)
        for (int k = 0; k < CELLS; k++) {
            int i = w * CELLS + k;
            snprintf(names[i], sizeof names[i], "%s %s training", KINDS[k].name, WHEN[w]);
            series[i] = (tg_plot_series){ .name = names[i], .yd = e->norms[w][k], .count = e->s.length,
                                          .style = w == 0 ? TG_PLOT_DASHED : TG_PLOT_LINE,
                                          .color = k + 1 };
        }
    char title[96];
    snprintf(title, sizeof title, "||dLoss/dh_t|| at each step t of a sequence of %d", e->s.length);
    return tg_plot_lines(path, series, 2 * CELLS, &(tg_plot_options){
        .title = title, .xlabel = "step t", .ylabel = "gradient norm", .log_y = true });
}

static int write_history(const experiment *e, const char *csv, const char *png)
{
    const char *columns[CELLS] = { "rnn_loss", "lstm_loss", "gru_loss" };
    if (tg_history_write_csv(e->history, csv) != 0)
        return -1;
    return tg_history_plot(e->history, png, columns, CELLS, &(tg_plot_options){
        .title = "Adding problem: training loss", .ylabel = "MSE", .log_y = true, .smooth = 25 }) < 0
               ? -1 : 0;
}

/* ---- The notebook ----------------------------------------------------------------- */

static int fail(const char *message) { return nb_fail(PROGRAM, message); }

static void section_problem(void)
{
    nb_section(1, "Why gradients vanish",
               "An RNN computes h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h), the seed's equation, so "
               "a loss computed from the last state reaches h_t only through h_{t+1}, ..., h_{T-1}: "
               "dLoss/dh_t = dLoss/dh_{t+1} dh_{t+1}/dh_t, a product of T-1-t Jacobians. When "
               "they shrink what they multiply, the product shrinks geometrically with the "
               "distance: the gradient vanishes, and the early steps hear nothing from the loss. "
               "(When they stretch it, it explodes.) The LSTM's cell state "
               "c_t = f_t * c_{t-1} + i_t * C~_t and the GRU's h_t = (1 - z_t) * h_{t-1} + z_t * h~_t "
               "add a path whose Jacobian is a gate (f_t, or 1 - z_t): a cell that learns to hold "
               "that gate near 1 keeps the product from shrinking.\n\n"
               "The tape computes exactly this product in its reverse walk. tg_retain_grad on each "
               "state run.h[t] of a layer before tg_backward keeps dLoss/dh_t, and tg_grad reads "
               "it: this program measures its norm at every step.");
}

static void section_task(experiment *e)
{
    nb_section(2, "The task: the adding problem",
               "Each sequence has T steps of two inputs: a value from U(0, 1), and a marker that "
               "is 1 at two steps, one in each half, and 0 elsewhere. The target, read from the "
               "last state only, is the sum of the two marked values (Hochreiter and Schmidhuber "
               "1997). Always answering 1 gives a mean squared error of Var(a + b) = 2/12 = 0.167; "
               "doing better means remembering the first marked value across half the sequence "
               "or more, so the gradient has to travel that far back. The gradients are measured "
               "on one probe batch of 256 sequences, the same before and after training.");
    tg_rng probe_rng = tg_rng_new(e->common->seed + 1);
    adding_problem_batch(&probe_rng, e->probe_x, e->probe_y);
    printf("    sequence 0 of the probe batch (T = %d): marked steps", e->s.length);
    for (int t = 0; t < e->s.length; t++)
        if (e->probe_x->data[t * PROBE * 2 + 1] == 1.0f)
            printf(" %d (value %.3f)", t, e->probe_x->data[t * PROBE * 2]);
    printf(", target %.3f\n", e->probe_y->data[0]);
}

static int section_cells(experiment *e)
{
    nb_section(3, "Three cells, PyTorch's initialisation",
               "An RNN (tanh), an LSTM and a GRU (the seed's equations), each with the same "
               "number of hidden units and a linear head that reads h_{T-1}. Every parameter "
               "starts from U(-1/sqrt(H), 1/sqrt(H)), PyTorch's default; the LSTM's forget gate "
               "gets no special bias here (section 7 measures that option).");
    tg_rnn_config config = { .input = 2, .hidden = e->s.hidden };
    for (int k = 0; k < CELLS; k++) {
        int64_t before = tg_model_numel(e->model);
        if (make_net(e->model, &KINDS[k], config, &e->nets[k]) != 0)
            return fail("cannot make the cells");
        printf("    %-5s %d hidden units, %lld parameters with its head\n", KINDS[k].name,
               e->s.hidden, (long long)(tg_model_numel(e->model) - before));
    }
    e->opt = tg_adam_new(e->model, (tg_adam_config){ .lr = e->s.lr });
    if (!e->opt)
        return fail("cannot make the optimizer");
    e->ck = (tg_checkpoint){ .model = e->model, .optimizer = e->opt, .rngs = { { "data", &e->data_rng } } };
    if (e->common->load) {
        if (tg_checkpoint_load(e->common->load, &e->ck) != 0) {
            fprintf(stderr, "%s: --load: %s\n", PROGRAM, tg_error_message());
            return 2;
        }
        printf("    loaded %s, trained for %lld steps: \"before\" means before this run's training\n",
               e->common->load, (long long)e->ck.step);
    }
    return 0;
}

static int section_before(experiment *e)
{
    nb_section(4, "Gradients before training",
               "For each cell: one forward pass over the probe batch, tg_retain_grad(run.h[t]) for "
               "every t, one tg_backward, then the norm of tg_grad(run.h[t]) over the whole batch. "
               "first/last is the norm at t = 0 over the norm at t = T-1; per step is the factor "
               "by which one step back multiplies the gradient, on average.");
    if (measure(e, 0) != 0)
        return fail("cannot measure the gradients");
    print_table_header(e->s.length);
    for (int k = 0; k < CELLS; k++)
        print_table_row(KINDS[k].name, WHEN[0], e->norms[0][k], e->s.length);
    return 0;
}

/* --eval in place of sections 4 to 9: the loaded cells measured as they are. */
static int section_loaded(experiment *e)
{
    nb_section(4, "Gradients of the loaded cells",
               "--eval: the cells come from --load, and nothing is trained. The measurement of "
               "section 6 of a training run, on the same probe batch: for each cell one forward "
               "pass, tg_retain_grad(run.h[t]) for every t, one tg_backward, then the norm of "
               "tg_grad(run.h[t]).");
    if (measure(e, 1) != 0)
        return fail("cannot measure the gradients");
    print_table_header(e->s.length);
    for (int k = 0; k < CELLS; k++)
        print_table_row(KINDS[k].name, "loaded", e->norms[1][k], e->s.length);
    printf("\n");
    for (int k = 0; k < CELLS; k++)
        printf("    %-5s probe MSE %.4f   (always answering 1: 0.167)\n", KINDS[k].name,
               e->probe_loss[1][k]);
    return 0;
}

static int section_training(experiment *e)
{
    char text[400];
    snprintf(text, sizeof text,
             "Adam (lr %g) on batches of %d fresh sequences for %d steps; the three cells see the "
             "same batches. Their losses are summed into one backward pass: they share no "
             "parameter, so each cell receives the gradient of its own loss. The progress line "
             "shows the LSTM's loss.",
             e->s.lr, e->s.batch, e->s.steps);
    nb_section(5, "Training", text);
    double started = nb_seconds();
    if (train(e) != 0)
        return fail("training failed");
    double seconds = nb_seconds() - started;
    printf("    %d steps in %.1f s (%.1f ms per step for the three cells)\n", e->s.steps, seconds,
           1e3 * seconds / e->s.steps);
    return 0;
}

static int section_after(experiment *e)
{
    nb_section(6, "Gradients after training",
               "The same measurement on the same probe batch, and the MSE there.");
    if (measure(e, 1) != 0)
        return fail("cannot measure the gradients");
    print_table_header(e->s.length);
    for (int k = 0; k < CELLS; k++)
        for (int w = 0; w < 2; w++)
            print_table_row(KINDS[k].name, WHEN[w], e->norms[w][k], e->s.length);
    printf("\n");
    for (int k = 0; k < CELLS; k++)
        printf("    %-5s probe MSE %.4f before, %.4f after   (always answering 1: 0.167)\n",
               KINDS[k].name, e->probe_loss[0][k], e->probe_loss[1][k]);
    return 0;
}

static int section_forget_bias(experiment *e)
{
    nb_section(7, "The LSTM's forget-gate bias",
               "With PyTorch's default the forget gate's total bias starts near 0, so "
               "f = sigmoid(0) = 0.5 at first: the cell state, and the gradient along it, halves "
               "at every step. Starting the bias at 1 (Jozefowicz et al. 2015; "
               "tg_rnn_config.forget_bias_one) gives f = 0.73. Two fresh LSTMs from the same "
               "seed, identical but for that bias, measured on the probe batch:");
    if (measure_fresh_lstm(e, false, e->lstm_bias[0]) != 0 || measure_fresh_lstm(e, true, e->lstm_bias[1]) != 0)
        return fail("cannot measure the fresh LSTMs");
    print_table_header(e->s.length);
    print_table_row("lstm", "bias 0", e->lstm_bias[0], e->s.length);
    print_table_row("lstm", "bias 1", e->lstm_bias[1], e->s.length);
    return 0;
}

/* Appends name to a comma-separated list. */
static void list_add(char *list, size_t size, const char *name)
{
    size_t used = strlen(list);
    snprintf(list + used, size - used, "%s%s", used ? ", " : "", name);
}

/* How far apart the three cells start: the largest ratio first/last over
 * the smallest, before training. */
static double spread_before(const experiment *e)
{
    double low = INFINITY, high = 0.0;
    for (int k = 0; k < CELLS; k++) {
        double r = first_over_last(e->norms[0][k], e->s.length);
        low = fmin(low, r);
        high = fmax(high, r);
    }
    return high / low;
}

/* Which cells learned the task and which carry gradient to the first step
 * after training, and what the two lists say together. */
static void conclude_learning(const experiment *e)
{
    char text[900], learned[32] = "", reached[32] = "";
    for (int k = 0; k < CELLS; k++) {
        if (e->probe_loss[1][k] < 0.05)
            list_add(learned, sizeof learned, KINDS[k].name);
        if (first_over_last(e->norms[1][k], e->s.length) >= 1e-3)
            list_add(reached, sizeof reached, KINDS[k].name);
    }
    const char *reading =
        !learned[0] ? "No cell learned the task in this run: give it more --steps or a shorter --length."
        : strcmp(learned, reached) != 0
            ? "The two lists differ in this run: a small gradient can still teach a cell (Adam "
              "rescales it), and a large one does not mean the cell has used it yet."
        : spread_before(e) < 100.0
            ? "The two lists agree, and since the cells started alike, what separates them is "
              "what training did to the path back. A gated cell first learns from the second "
              "marked value, close to the end; holding a value in its state means setting a gate "
              "so that the state is kept (f near 1, z near 0), and that same setting carries the "
              "gradient further back, to the first marked value. The RNN has no such path: its "
              "gradient passes through W_hh and tanh' at every step."
            : "The two lists agree: the cells that learned to keep the first marked value are "
              "the ones whose gradient reaches it.";
    snprintf(text, sizeof text,
             "Learned the task (probe MSE below 0.05, against 0.167 for always answering 1): %s. "
             "Gradient reaching the first step after training (first/last above 1e-3): %s. %s",
             learned[0] ? learned : "none", reached[0] ? reached : "none", reading);
    nb_text(text);
}

static void section_conclusion(const experiment *e)
{
    nb_section(8, "What the numbers say", "");
    int T = e->s.length;
    char text[640];
    for (int k = 0; k < CELLS; k++) {
        double before = first_over_last(e->norms[0][k], T), after = first_over_last(e->norms[1][k], T);
        snprintf(text, sizeof text,
                 "- %s: before training the gradient %s (first/last %.1e, %.2f per step back); "
                 "after training it %s (first/last %.1e, %.2f per step back).",
                 KINDS[k].name, verdict(before), before, per_step(e->norms[0][k], T), verdict(after),
                 after, per_step(e->norms[1][k], T));
        nb_text(text);
    }
    snprintf(text, sizeof text, "Before training the three ratios are within a factor of %.3g of each other%s",
             spread_before(e), spread_before(e) < 100.0 ? ": the cells start alike." : ".");
    nb_text(text);
    conclude_learning(e);
    double plain = per_step(e->lstm_bias[0], T), biased = per_step(e->lstm_bias[1], T);
    snprintf(text, sizeof text,
             "The forget-gate bias: at initialisation one step back multiplies the LSTM's gradient "
             "by %.2f with PyTorch's default and by %.2f with the bias at 1, so the first of %d "
             "steps receives %.1e times as much gradient. This run keeps PyTorch's default for "
             "all three cells, so that they start on equal terms.",
             plain, biased, T, first_over_last(e->lstm_bias[1], T) / first_over_last(e->lstm_bias[0], T));
    nb_text(text);
}

static int section_files(experiment *e)
{
    nb_section(9, "Files", "");
    const nb_common *common = e->common;
    char path[1024], png[1024];
    if (write_norms_csv(e, nb_out_path(common, "vanishing_gradient_norms.csv", path, sizeof path)) != 0)
        return fail("cannot write the norms");
    nb_wrote(path, "||dLoss/dh_t|| per step t: the six curves, then the two fresh LSTMs");
    int skipped = plot_norms(e, nb_out_path(common, "vanishing_gradient_norms.png", path, sizeof path));
    if (skipped < 0)
        return fail("cannot plot the norms");
    nb_wrote(path, "the six curves on a log scale");
    if (skipped > 0)
        printf("    (%d norms underflowed to 0 and are left out of the log plot)\n", skipped);
    if (write_history(e, nb_out_path(common, "vanishing_gradient_history.csv", path, sizeof path),
                      nb_out_path(common, "vanishing_gradient_loss.png", png, sizeof png)) != 0)
        return fail("cannot write the history");
    nb_wrote(path, "training loss of each cell per step");
    nb_wrote(png, "the training losses");
    return nb_save_checkpoint(PROGRAM, common, &e->ck, "checkpoint: the three cells, their heads, Adam's state");
}

/* ---- Setting up ------------------------------------------------------------------ */

/* Parses the flags into common and s; returns as nb_parse. */
static int parse(int argc, char **argv, nb_common *common, settings *s)
{
    int length = 0, hidden = 0;
    float lr = 0.0f;
    const nb_option own[] = {
        { "length", NB_INT, &length, "sequence length T (default 50; --quick: 16)" },
        { "hidden", NB_INT, &hidden, "hidden units of every cell (default 64; --quick: 16)" },
        { "lr", NB_FLOAT, &lr, "Adam's learning rate (default 1e-2)" },
    };
    int parsed = nb_parse(argc, argv, PROGRAM, "how far back the gradient reaches in an RNN, an LSTM and a GRU",
                          common, own, 3);
    if (parsed != 0)
        return parsed;
    if (adding_problem_check_flags(PROGRAM, common) != 0)
        return 2;
    *s = common->quick ? (settings){ .length = 16, .hidden = 16, .batch = 16, .steps = 150, .lr = 1e-2f }
                       : (settings){ .length = 50, .hidden = 64, .batch = 32, .steps = 2000, .lr = 1e-2f };
    s->length = length ? length : s->length;
    s->hidden = hidden ? hidden : s->hidden;
    s->steps = common->steps ? common->steps : s->steps;
    s->lr = lr > 0.0f ? lr : s->lr;
    if (s->length < 4 || s->length > 10000 || s->hidden < 1) {
        fprintf(stderr, "%s: --length must be in [4, 10000] and --hidden positive\n", PROGRAM);
        return 2;
    }
    return 0;
}

static int allocate(experiment *e)
{
    int T = e->s.length;
    e->probe_x = tg_tensor_zeros(TG_SHAPE(T, PROBE, 2));
    e->probe_y = tg_tensor_zeros(TG_SHAPE(PROBE, 1));
    e->model = tg_model_new(e->common->seed);
    e->history = tg_history_new("step");
    bool ok = e->probe_x && e->probe_y && e->model && e->history;
    for (int w = 0; w < 2; w++) {
        for (int k = 0; k < CELLS; k++)
            ok = (e->norms[w][k] = calloc((size_t)T, sizeof(double))) && ok;
        ok = (e->lstm_bias[w] = calloc((size_t)T, sizeof(double))) && ok;
    }
    return ok ? 0 : -1;
}

static void release(experiment *e)
{
    for (int w = 0; w < 2; w++) {
        for (int k = 0; k < CELLS; k++)
            free(e->norms[w][k]);
        free(e->lstm_bias[w]);
    }
    tg_history_free(e->history);
    tg_optimizer_free(e->opt);
    tg_model_free(e->model);
    tg_tensor_free(e->probe_x);
    tg_tensor_free(e->probe_y);
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

    section_problem();
    int status = allocate(&e) == 0 ? 0 : fail("out of memory");
    if (status == 0) {
        section_task(&e);
        status = section_cells(&e);
    }
    if (status == 0 && common.eval)
        status = section_loaded(&e);
    else if (status == 0)
        status = section_before(&e);
    if (status == 0 && !common.eval)
        status = section_training(&e);
    if (status == 0 && !common.eval)
        status = section_after(&e);
    if (status == 0 && !common.eval)
        status = section_forget_bias(&e);
    if (status == 0 && !common.eval) {
        section_conclusion(&e);
        status = section_files(&e);
    }
    release(&e);
    return status;
}
