/*
 * custom_layer: extending tapegrad with an op and a recurrent cell of your own.
 *
 * Defines a new differentiable op, the scaled tanh a tanh(b x): a forward
 * kernel of its own (tensor/kernel.h, the op author's header) and a
 * backward rule written with ops (autograd/autograd.h), so that it has
 * second derivatives too; checks both with the gradient checkers. Then composes a new recurrent
 * cell from ops, the minimal gated unit (MGU, Zhou et al. 2016) with the
 * scaled tanh as its candidate's nonlinearity and its parameters registered
 * under PyTorch-style names, checks its gradients too, and trains it on the
 * adding problem (Hochreiter and Schmidhuber 1997) next to the built-in
 * LSTM and GRU of the same size.
 *
 *     custom_layer [--quick] [--steps N] [--length T] [--hidden H] [--lr LR] [--out DIR]
 *                  [--save PATH] [--load PATH [--eval]]
 *
 * Writes to DIR: custom_layer_history.csv (training loss of each cell per
 * step, test MSE every few steps) and custom_layer_loss.png (the learning
 * curves of test MSE). The default run (T = 50, 64 units, 2000 steps of
 * batches of 32) takes about 30 s of CPU time; --quick about a second.
 * With --load and --eval nothing is trained: the loaded cells are measured
 * on the test sequences and nothing is written.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tensor/kernel.h>

#include "adding_problem.h"
#include "notebook.h"

static const char PROGRAM[] = "custom_layer";

/* ---- A new op: scaled_tanh(x) = a tanh(b x) ------------------------------------ *
 * With a = 1.7159 and b = 2/3 it is LeCun's tanh (1998): f(1) = 1, and its
 * slope at 0, a b = 1.14, is steeper than tanh's.
 *
 * The forward is a raw kernel (tensor/kernel.h): tg_map runs a row
 * function over any strides, `a` the input's element and p the parameters
 * {a, b}. */
TG_MAP_ROW_1(row_scaled_tanh, p[0] * tanhf(p[1] * a))

/* The backward rule, written with ops as autograd/autograd.h ("Defining a
 * new op") says: dx = grad * a b (1 - tanh^2(b x)), added to x's gradient
 * by tg_grad_accumulate (which also sums over broadcast axes). Because it is
 * made of ops, a backward with .create_graph records it and the gradient
 * can be differentiated again. The node carries a and b in fparam; a larger
 * context would go in memory from tg_node_save. `slope` is the factor in
 * front of (1 - tanh^2): a b for the rule. */
static int backward_with(float slope, tg_node *node, tg_tensor *grad)
{
    tg_tensor *x = node->in[0];
    tg_tensor *t = tg_tanh(tg_mul_scalar(x, node->fparam[1]));
    return tg_grad_accumulate(x, tg_mul(grad, tg_mul_scalar(tg_scalar_sub(1.0f, tg_square(t)), slope)));
}

static int scaled_tanh_backward(tg_node *node, tg_tensor *grad)
{
    return backward_with(node->fparam[0] * node->fparam[1], node, grad);
}

/* For contrast, a slip that hand derivations make: the chain rule's inner
 * factor b left out. */
static int scaled_tanh_backward_slip(tg_node *node, tg_tensor *grad)
{
    return backward_with(node->fparam[0], node, grad);
}

/* An op is its name and its backward rule; .unread says the rule never
 * reads the output's values (only x's). */
static const tg_op scaled_tanh_op = { .name = "scaled_tanh", .backward = scaled_tanh_backward,
                                      .unread = TG_OP_OUTPUT_UNREAD };
static const tg_op scaled_tanh_slip_op = { .name = "scaled_tanh_slip", .backward = scaled_tanh_backward_slip,
                                           .unread = TG_OP_OUTPUT_UNREAD };

/* The forward: a new graph tensor computed by tg_map, then a node of `op`
 * on the tape (tg_record adds none when no input needs a gradient). */
static tg_tensor *scaled_tanh_as(const tg_op *op, tg_tensor *x, float a, float b)
{
    if (tg_check_inputs(op->name, 1, &x) != 0)
        return NULL;
    const float ab[2] = { a, b };
    tg_tensor *out = tg_empty(tg_tensor_shape(x));
    tg_node *node;
    if (!out || tg_map(op->name, out, 1, (const tg_tensor *[]){ x }, row_scaled_tanh, ab, false) != 0 ||
        tg_record(op, out, &x, 1, &node) != 0)
        return NULL;
    if (node) {
        node->fparam[0] = a;
        node->fparam[1] = b;
    }
    return out;
}

static tg_tensor *scaled_tanh(tg_tensor *x, float a, float b)
{
    return scaled_tanh_as(&scaled_tanh_op, x, a, b);
}

static const float LECUN_A = 1.7159f, LECUN_B = 2.0f / 3.0f;

/* ---- A new cell: the minimal gated unit ------------------------------------------ *
 * One gate f does the work of the GRU's two (σ is the sigmoid, * the
 * elementwise product):
 *   f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
 *   n_t = scaled_tanh(W_in x_t + b_in + W_hn (f_t * h_{t-1}) + b_hn)
 *   h_t = (1 - f_t) * h_{t-1} + f_t * n_t
 * Parameters in the layout of torch.nn.GRUCell, rows f then n:
 *   prefix.weight_ih [2H, input], prefix.weight_hh [2H, H],
 *   prefix.bias_ih [2H], prefix.bias_hh [2H]. */

typedef struct mgu {
    int64_t input, hidden;
    tg_tensor *weight_ih, *weight_hh, *bias_ih, *bias_hh; /* owned by the model */
} mgu;

/* Registers the cell's parameters in the model and draws them from
 * U(-1/sqrt(H), 1/sqrt(H)), PyTorch's initialisation for its cells; the
 * model owns the cell too. NULL with an error. */
static mgu *mgu_new(tg_model *model, const char *prefix, int64_t input, int64_t hidden)
{
    mgu *cell = calloc(1, sizeof *cell);
    if (!cell || tg_model_own(model, cell, free) != 0) {
        free(cell);
        return NULL;
    }
    *cell = (mgu){ .input = input, .hidden = hidden };
    const char *names[4] = { "weight_ih", "weight_hh", "bias_ih", "bias_hh" };
    const tg_shape shapes[4] = { TG_SHAPE(2 * hidden, input), TG_SHAPE(2 * hidden, hidden),
                                 TG_SHAPE(2 * hidden), TG_SHAPE(2 * hidden) };
    tg_tensor **slots[4] = { &cell->weight_ih, &cell->weight_hh, &cell->bias_ih, &cell->bias_hh };
    float bound = 1.0f / sqrtf((float)hidden);
    for (int i = 0; i < 4; i++) {
        char name[TG_NAME_MAX];
        if (tg_model_join_name(name, prefix, names[i]) != 0 ||
            !(*slots[i] = tg_model_add_parameter(model, name, shapes[i])) ||
            tg_tensor_uniform_(*slots[i], -bound, bound, tg_model_rng(model)) != 0)
            return NULL;
    }
    return cell;
}

/* Runs the cell over x [T, B, input] from h = 0 and returns the last state
 * h_{T-1} [B, H]. Only ops: the tape records every step, so backpropagation
 * through time needs nothing more. */
static tg_tensor *mgu_forward(const mgu *cell, tg_tensor *x)
{
    if (!x)
        return NULL;
    if (x->ndim != 3 || x->shape[2] != cell->input) {
        char shape[TG_SHAPE_STR_MAX];
        tg_error_set("mgu: x %s: expected [T, B, %lld]", tg_shape_format(shape, sizeof shape, x),
                     (long long)cell->input);
        return NULL;
    }
    int64_t H = cell->hidden;
    /* Every step's input projection in one product, both biases folded in:
     * [T, B, 2H]. */
    tg_tensor *projected = tg_affine(x, cell->weight_ih, tg_add(cell->bias_ih, cell->bias_hh));
    tg_tensor *w_hf = tg_narrow(cell->weight_hh, 0, 0, H), *w_hn = tg_narrow(cell->weight_hh, 0, H, H);
    tg_tensor *h = tg_zeros(TG_SHAPE(x->shape[1], H));
    for (int64_t t = 0; t < x->shape[0]; t++) {
        tg_tensor *p = tg_select(projected, 0, t);
        tg_tensor *f = tg_sigmoid(tg_affine(h, w_hf, tg_narrow(p, 1, 0, H)));
        tg_tensor *n = scaled_tanh(tg_affine(tg_mul(f, h), w_hn, tg_narrow(p, 1, H, H)), LECUN_A, LECUN_B);
        h = tg_add(h, tg_mul(f, tg_sub(n, h))); /* (1 - f) h + f n */
    }
    return h;
}

/* ---- Gradient checks --------------------------------------------------------------- */

/* user is the op whose rule is checked. */
static tg_tensor *apply_scaled_tanh(tg_tensor *const *in, void *user)
{
    /* On a transposed view: tg_map handles any strides. */
    return scaled_tanh_as(user, tg_transpose(in[0], 0, 1), LECUN_A, LECUN_B);
}

/* in[0] is x; in[1..4] are the cell's own parameters, passed so that the
 * checker perturbs them too. */
static tg_tensor *apply_mgu(tg_tensor *const *in, void *user)
{
    return mgu_forward(user, in[0]);
}

/* tg_gradcheck or tg_gradgradcheck: both take the same arguments. */
typedef int (*checker)(tg_gradcheck_fn fn, void *user, tg_tensor *const *inputs, int n,
                       const tg_gradcheck_config *config, tg_gradcheck_result *result);

/* Runs a checker and prints what it found; -1 when it could not run. */
static int report_check(checker check, const char *what, tg_gradcheck_fn fn, void *user, tg_tensor *const *in,
                        int n, tg_gradcheck_result *result)
{
    if (check(fn, user, in, n, NULL, result) != 0)
        return -1;
    printf("    %s: largest |analytic - numeric| %.2e over %lld elements\n      %s\n", what,
           result->max_abs_error, (long long)result->checked, result->message);
    return 0;
}

/* The rule, its second derivatives, then the slip, on a [4, 6] input from
 * U(-3, 3). 0 when the rule passes both checks and the slip fails, as they
 * should. */
static int check_op(void)
{
    tg_rng rng = tg_rng_new(7);
    tg_tensor *x = tg_empty(TG_SHAPE(4, 6));
    if (!x || tg_set_requires_grad(x, true) != 0)
        return -1;
    tg_rng_fill_uniform(&rng, x->data, x->numel, -3.0f, 3.0f);
    tg_gradcheck_result rule, second, slip;
    void *op = (void *)&scaled_tanh_op, *slip_op = (void *)&scaled_tanh_slip_op;
    if (report_check(tg_gradcheck, "scaled_tanh", apply_scaled_tanh, op, &x, 1, &rule) != 0 ||
        report_check(tg_gradgradcheck, "scaled_tanh, second derivatives", apply_scaled_tanh, op, &x, 1,
                     &second) != 0 ||
        report_check(tg_gradcheck, "scaled_tanh_slip", apply_scaled_tanh, slip_op, &x, 1, &slip) != 0)
        return -1;
    return rule.passed && second.passed && !slip.passed ? 0 : -1;
}

/* A small MGU (2 inputs, 3 units) over 5 steps of a batch of 2. */
static int check_cell(uint64_t seed)
{
    tg_model *model = tg_model_new(seed);
    mgu *cell = model ? mgu_new(model, "mgu", 2, 3) : NULL;
    tg_rng rng = tg_rng_new(seed);
    tg_tensor *x = tg_randn(TG_SHAPE(5, 2, 2), &rng);
    int status = -1;
    if (cell && x && tg_set_requires_grad(x, true) == 0) {
        tg_tensor *in[5] = { x, cell->weight_ih, cell->weight_hh, cell->bias_ih, cell->bias_hh };
        tg_gradcheck_result first, second;
        if (report_check(tg_gradcheck, "mgu", apply_mgu, cell, in, 5, &first) == 0 &&
            report_check(tg_gradgradcheck, "mgu, second derivatives", apply_mgu, cell, in, 5, &second) == 0 &&
            first.passed && second.passed)
            status = 0;
    }
    tg_model_free(model);
    return status;
}

/* ---- Three cells on the adding problem ----------------------------------------------- */

enum { CELLS = 3, TEST = 512 };

/* A cell, behind one signature, and the linear head that reads its last state. */
typedef struct contestant {
    const char *name;
    void *cell;
    tg_tensor *(*last_state)(void *cell, tg_tensor *x);
    tg_linear *head;
    double seconds; /* forward and backward, over all training steps */
} contestant;

static tg_tensor *mgu_last(void *cell, tg_tensor *x) { return mgu_forward(cell, x); }

static tg_tensor *lstm_last(void *cell, tg_tensor *x)
{
    tg_rnn_result run = tg_lstm_forward(cell, x, NULL);
    return run.output ? run.h[run.steps - 1] : NULL;
}

static tg_tensor *gru_last(void *cell, tg_tensor *x)
{
    tg_rnn_result run = tg_gru_forward(cell, x, NULL);
    return run.output ? run.h[run.steps - 1] : NULL;
}

static tg_tensor *contestant_loss(const contestant *c, tg_tensor *x, tg_tensor *y)
{
    return tg_mse_loss(tg_linear_forward(c->head, c->last_state(c->cell, x)), y, TG_REDUCTION_MEAN);
}

typedef struct settings {
    int length, hidden, batch, steps, eval_every;
    float lr;
} settings;

typedef struct race {
    settings s;
    tg_model *model;
    contestant c[CELLS];
    tg_optimizer *opt;
    tg_rng data_rng;
    tg_tensor *x, *y;           /* owned: the training batch, refilled every step */
    tg_tensor *test_x, *test_y; /* owned: the test batch */
    tg_history *history;
    tg_checkpoint ck;           /* the model, Adam, the data generator, the step */
} race;

static int make_contestants(race *r)
{
    tg_rnn_config config = { .input = 2, .hidden = r->s.hidden };
    r->c[0] = (contestant){ .name = "mgu", .cell = mgu_new(r->model, "mgu", 2, r->s.hidden), .last_state = mgu_last };
    r->c[1] = (contestant){ .name = "lstm", .cell = tg_lstm_new(r->model, "lstm", config), .last_state = lstm_last };
    r->c[2] = (contestant){ .name = "gru", .cell = tg_gru_new(r->model, "gru", config), .last_state = gru_last };
    for (int k = 0; k < CELLS; k++) {
        char head[TG_NAME_MAX];
        snprintf(head, sizeof head, "%s_head", r->c[k].name);
        r->c[k].head = tg_linear_new(r->model, head, (tg_linear_config){ .input = r->s.hidden, .output = 1 });
        if (!r->c[k].cell || !r->c[k].head)
            return -1;
    }
    return 0;
}

static double test_mse(const race *r, int k)
{
    tg_no_grad_begin();
    tg_tensor *loss = contestant_loss(&r->c[k], r->test_x, r->test_y);
    double value = loss ? tg_tensor_item(loss) : NAN;
    tg_no_grad_end();
    tg_graph_reset();
    return value;
}

static void record(race *r, int k, const char *what, double value)
{
    char column[32];
    snprintf(column, sizeof column, "%s_%s", r->c[k].name, what);
    tg_history_add(r->history, r->ck.step, column, value);
}

/* One batch: each cell's forward and backward (timed), then one Adam step
 * for all three, which share no parameter. */
static int train_step(race *r, bool evaluate)
{
    adding_problem_batch(&r->data_rng, r->x, r->y);
    for (int k = 0; k < CELLS; k++) {
        double started = nb_seconds();
        tg_tensor *loss = contestant_loss(&r->c[k], r->x, r->y);
        if (!loss || tg_backward(loss) != 0)
            return -1;
        r->c[k].seconds += nb_seconds() - started;
        record(r, k, "loss", tg_tensor_item(loss));
        tg_graph_reset();
    }
    if (tg_optimizer_step(r->opt) != 0)
        return -1;
    tg_optimizer_zero_grad(r->opt);
    for (int k = 0; evaluate && k < CELLS; k++)
        record(r, k, "test", test_mse(r, k));
    r->ck.step++;
    return 0;
}

static int train(race *r)
{
    tg_progress *bar = tg_progress_new((tg_progress_config){ .total = r->s.steps, .out = stdout });
    if (!bar)
        return -1;
    int status = 0;
    for (int i = 0; i < r->s.steps && status == 0; i++) {
        status = train_step(r, i % r->s.eval_every == 0 || i == r->s.steps - 1);
        tg_progress_update(bar, i + 1, tg_history_last(r->history, "mgu_loss"));
    }
    tg_progress_finish(bar);
    tg_progress_free(bar);
    return status;
}

static int write_history(const race *r, const char *csv, const char *png)
{
    const char *columns[CELLS] = { "mgu_test", "lstm_test", "gru_test" };
    if (tg_history_write_csv(r->history, csv) != 0)
        return -1;
    return tg_history_plot(r->history, png, columns, CELLS, &(tg_plot_options){
        .title = "Adding problem: test MSE of the MGU (custom), the LSTM and the GRU",
        .ylabel = "MSE", .log_y = true }) < 0 ? -1 : 0;
}

/* ---- The notebook -------------------------------------------------------------------- */

static int fail(const char *message) { return nb_fail(PROGRAM, message); }

static void section_overview(void)
{
    nb_section(1, "What you write, and what you get",
               "A new op takes three pieces: a forward that computes the output (here a raw "
               "kernel: tg_map runs a row function written in one line with TG_MAP_ROW_1, over any "
               "strides), a backward rule that adds each input's gradient given the output's, "
               "written with ops and tg_grad_accumulate, and a tg_op, the op's name and rule, which "
               "tg_record puts on the tape with each use. Because the rule is made of ops, a "
               "backward with .create_graph records it, so the op has second derivatives too "
               "(Hessian-vector products, gradient penalties). A "
               "new layer takes less: parameters registered in the model by name "
               "(tg_model_add_parameter) and a forward made of ops. It has no backward of its "
               "own.\n\n"
               "The rest comes free: backpropagation through time is the tape's reverse walk over "
               "your ops and the built-in ones alike; optimizers and gradient clipping find your "
               "parameters in the model; checkpoints save and load them by name, so a PyTorch "
               "module with the same names reads them; tg_gradcheck and tg_gradgradcheck check a "
               "rule and its derivative against finite differences; anomaly mode names your op if "
               "it makes a NaN.");
}

static int section_op(void)
{
    nb_section(2, "A new op: the scaled tanh",
               "scaled_tanh(x) = a tanh(b x); with a = 1.7159 and b = 2/3 it is LeCun's tanh, "
               "which maps 1 to 1 and has slope a b = 1.14 at 0. Its rule: "
               "dx = grad * a b (1 - tanh^2(b x)). tg_gradcheck back-propagates a random weighting "
               "of the output and compares the gradient of every input element with the central "
               "difference (f(x + eps) - f(x - eps)) / 2 eps, here on a transposed view of a "
               "[4, 6] input from U(-3, 3). tg_gradgradcheck does the same one order up: it "
               "differentiates the recorded rule and compares with central differences of "
               "first-order gradients. Then the first check of a rule with a slip in it (the "
               "chain rule's inner factor b left out), which it must catch:");
    int status = check_op() == 0 ? 0 : fail("the scaled tanh's gradient checks went wrong");
    tg_graph_reset();
    return status;
}

static void print_parameters(const tg_model *model, const char *prefix)
{
    for (int i = 0; i < tg_model_parameter_count(model); i++) {
        const char *name = tg_model_parameter_name(model, i);
        char shape[TG_SHAPE_STR_MAX];
        if (strncmp(name, prefix, strlen(prefix)) == 0)
            printf("    %-16s %s\n", name, tg_shape_format(shape, sizeof shape, tg_model_parameter(model, i)));
    }
}

static int section_cell(race *r, const nb_common *common)
{
    nb_section(3, "A new cell: the minimal gated unit",
               "The MGU (Zhou et al. 2016) is a GRU with one gate: f_t = sigmoid(W_if x_t + b_if + "
               "W_hf h_{t-1} + b_hf) decides both how much of the state to replace and how much "
               "of it the candidate sees, n_t = scaled_tanh(W_in x_t + b_in + W_hn (f_t * h_{t-1}) "
               "+ b_hn), and h_t = (1 - f_t) * h_{t-1} + f_t * n_t. mgu_new registers four "
               "parameters in the layout of torch.nn.GRUCell and draws them as PyTorch would; "
               "mgu_forward projects every step's input with one product, then makes two "
               "recurrent products and a few elementwise ops per step. The checks cover its "
               "first and second derivatives through the scaled tanh and 5 steps, to the input "
               "and to every parameter:");
    int status = check_cell(common->seed);
    tg_graph_reset();
    if (status != 0)
        return fail("the MGU's gradient check failed");
    if (make_contestants(r) != 0)
        return fail("cannot make the cells");
    printf("\n    the MGU's parameters, as the model names them:\n");
    print_parameters(r->model, "mgu.");
    return 0;
}

/* Parameters of a cell and its head: those whose names start with its name. */
static int64_t count_parameters(const tg_model *model, const char *name)
{
    int64_t count = 0;
    for (int i = 0; i < tg_model_parameter_count(model); i++)
        if (strncmp(tg_model_parameter_name(model, i), name, strlen(name)) == 0)
            count += tg_model_parameter(model, i)->numel;
    return count;
}

/* The table of the three cells, then where the MGU stands, in words.
 * Without training (--eval) there is no time per step to show. */
static void print_results(const race *r, bool trained)
{
    double mse[CELLS], baseline = adding_problem_answer_one_mse(r->test_y);
    int rank = 1;
    printf("\n    %-5s %10s %12s %10s\n", "cell", "parameters", "ms per step", "test MSE");
    for (int k = 0; k < CELLS; k++) {
        mse[k] = test_mse(r, k);
        rank += mse[k] < mse[0];
        char ms[32] = "-";
        if (trained)
            snprintf(ms, sizeof ms, "%.2f", 1e3 * r->c[k].seconds / r->s.steps);
        printf("    %-5s %10lld %12s %10.4f\n", r->c[k].name, (long long)count_parameters(r->model, r->c[k].name),
               ms, mse[k]);
    }
    printf("    %-30s%10.4f\n\n", "always answering 1", baseline);
    char text[400];
    snprintf(text, sizeof text,
             "The MGU's test MSE is %.4f, %s always answering 1 (%.4f); it ranks %d of 3, with %lld "
             "parameters against the LSTM's %lld and the GRU's %lld.",
             mse[0], mse[0] < 0.5 * baseline ? "far below" : mse[0] < baseline ? "below" : "no better than",
             baseline, rank, (long long)count_parameters(r->model, "mgu"),
             (long long)count_parameters(r->model, "lstm"), (long long)count_parameters(r->model, "gru"));
    nb_text(text);
}

static int section_race(race *r, const nb_common *common)
{
    char text[640];
    snprintf(text, sizeof text,
             "Each sequence has %d steps of two inputs: a value from U(0, 1) and a marker that is "
             "1 at one step in each half. The target, read from the last state by a linear head, "
             "is the sum of the two marked values; always answering 1 scores an MSE of 2/12 = "
             "0.167. The MGU, the built-in LSTM and the built-in GRU, %d units each and all "
             "initialised as PyTorch does, train with Adam (lr %g) on the same batches of %d for "
             "%d steps, and are measured every %d steps on %d test sequences. The progress line "
             "shows the MGU's loss; ms per step is one cell's forward and backward.",
             r->s.length, r->s.hidden, r->s.lr, r->s.batch, r->s.steps, r->s.eval_every, TEST);
    nb_section(4, "Racing the built-in cells on the adding problem", text);
    r->opt = tg_adam_new(r->model, (tg_adam_config){ .lr = r->s.lr });
    if (!r->opt)
        return fail("cannot make the optimizer");
    r->ck = (tg_checkpoint){ .model = r->model, .optimizer = r->opt, .rngs = { { "data", &r->data_rng } } };
    if (common->load) {
        if (tg_checkpoint_load(common->load, &r->ck) != 0) {
            fprintf(stderr, "%s: --load: %s\n", PROGRAM, tg_error_message());
            return 2;
        }
        printf("    loaded %s: %lld steps of training so far\n", common->load, (long long)r->ck.step);
    }
    tg_rng test_rng = tg_rng_new(common->seed + 1);
    adding_problem_batch(&test_rng, r->test_x, r->test_y);
    if (common->eval)
        printf("    --eval: no training; the loaded cells are measured on the test sequences\n");
    else if (train(r) != 0)
        return fail("training failed");
    print_results(r, !common->eval);
    return 0;
}

static int section_files(race *r, const nb_common *common)
{
    nb_section(5, "Files", "");
    if (common->eval) {
        printf("    none: --eval trains nothing, so there are no curves to draw\n");
        return 0;
    }
    char csv[1024], png[1024];
    if (write_history(r, nb_out_path(common, "custom_layer_history.csv", csv, sizeof csv),
                      nb_out_path(common, "custom_layer_loss.png", png, sizeof png)) != 0)
        return fail("cannot write the history");
    nb_wrote(csv, "each cell's training loss per step and test MSE every few steps");
    nb_wrote(png, "the learning curves: test MSE");
    return nb_save_checkpoint(PROGRAM, common, &r->ck,
                              "checkpoint: the MGU's parameters by name, the LSTM, the GRU, Adam's state");
}

/* ---- Setting up ------------------------------------------------------------------ */

/* Parses the flags into common and s; returns as nb_parse. */
static int parse(int argc, char **argv, nb_common *common, settings *s)
{
    int length = 0, hidden = 0;
    float lr = 0.0f;
    const nb_option own[] = {
        { "length", NB_INT, &length, "sequence length T (default 50; --quick: 12)" },
        { "hidden", NB_INT, &hidden, "hidden units of every cell (default 64; --quick: 16)" },
        { "lr", NB_FLOAT, &lr, "Adam's learning rate (default 3e-3; --quick: 1e-2)" },
    };
    int parsed = nb_parse(argc, argv, PROGRAM, "a new op and a new recurrent cell, checked and trained",
                          common, own, 3);
    if (parsed != 0)
        return parsed;
    if (adding_problem_check_flags(PROGRAM, common) != 0)
        return 2;
    *s = common->quick
             ? (settings){ .length = 12, .hidden = 16, .batch = 16, .steps = 150, .eval_every = 10, .lr = 1e-2f }
             : (settings){ .length = 50, .hidden = 64, .batch = 32, .steps = 2000, .eval_every = 50, .lr = 3e-3f };
    s->length = length ? length : s->length;
    s->hidden = hidden ? hidden : s->hidden;
    s->steps = common->steps ? common->steps : s->steps;
    s->lr = lr > 0.0f ? lr : s->lr;
    if (s->length < 2 || s->length > 10000 || s->hidden < 1) {
        fprintf(stderr, "%s: --length must be in [2, 10000] and --hidden positive\n", PROGRAM);
        return 2;
    }
    return 0;
}

static int allocate(race *r, uint64_t seed)
{
    r->model = tg_model_new(seed);
    r->history = tg_history_new("step");
    r->x = tg_tensor_zeros(TG_SHAPE(r->s.length, r->s.batch, 2));
    r->y = tg_tensor_zeros(TG_SHAPE(r->s.batch, 1));
    r->test_x = tg_tensor_zeros(TG_SHAPE(r->s.length, TEST, 2));
    r->test_y = tg_tensor_zeros(TG_SHAPE(TEST, 1));
    return r->model && r->history && r->x && r->y && r->test_x && r->test_y ? 0 : -1;
}

static void release(race *r)
{
    tg_history_free(r->history);
    tg_optimizer_free(r->opt);
    tg_model_free(r->model);
    tg_tensor_free(r->x);
    tg_tensor_free(r->y);
    tg_tensor_free(r->test_x);
    tg_tensor_free(r->test_y);
    tg_graph_release();
}

int main(int argc, char **argv)
{
    nb_common common;
    race r = { 0 };
    int parsed = parse(argc, argv, &common, &r.s);
    if (parsed != 0)
        return parsed == 1 ? 0 : 2;
    r.data_rng = tg_rng_new(common.seed);

    section_overview();
    int status = section_op();
    if (status == 0)
        status = allocate(&r, common.seed) == 0 ? 0 : fail("out of memory");
    if (status == 0)
        status = section_cell(&r, &common);
    if (status == 0)
        status = section_race(&r, &common);
    if (status == 0)
        status = section_files(&r, &common);
    release(&r);
    return status;
}
