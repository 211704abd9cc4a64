/*
 * hessian_free: the seed's plain tanh RNN trained with Hessian-free
 * optimisation (Martens and Sutskever, ICML 2011) on the adding problem,
 * beside Adam given the same starting weights and the same wall time.
 *
 * Hessian-free is truncated Newton: at each iteration, conjugate gradient
 * minimises the local quadratic model of the loss, using only products of
 * the curvature matrix with vectors. Here they are Gauss-Newton products
 * G v = J^T (2/B) J v, where J = dPrediction/dParameters, computed with
 * tapegrad's double backward (the R-operator trick, below): no matrix is
 * ever formed.
 *
 *     hessian_free [--quick] [--seed N] [--threads N] [--steps N] [--out DIR]
 *                  [--length T] [--hidden H] [--seconds S] [--batch B] [--lr LR]
 *
 * Writes to DIR: hessian_free_hf.csv and hessian_free_adam.csv (train and
 * test MSE against training seconds) and hessian_free_loss.png (the four
 * curves). The default run (T = 100, 32 units) trains Hessian-free until its
 * test MSE is below 0.005 or --seconds 600 have passed, then Adam for the
 * time Hessian-free used; --quick (T = 10, 8 units, 6 iterations) takes
 * about a second. --save, --load and --eval are refused: the comparison is
 * one run from one start.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adding_problem.h"
#include "notebook.h"

static const char PROGRAM[] = "hessian_free";

enum { MAX_PARAMS = 8, MAX_SAVED = 32 };

/* Hessian-free stops once its test MSE is below this, half the target of 0.01. */
static const double SOLVED_MSE = 0.005;

typedef struct settings {
    int length, hidden;
    int batch, curvature_batch, test_batch;
    int max_iterations, max_cg;
    double seconds; /* Hessian-free's training budget */
    float lr;       /* Adam's */
    int adam_batch, adam_eval_every;
} settings;

/* ---- The model: the seed's RNN and a linear head on its last state ------------- */

typedef struct net {
    tg_model *model;
    tg_rnn *rnn;
    tg_linear *head;
    int n_params;
    tg_tensor *params[MAX_PARAMS];
    int64_t size; /* parameters in all */
} net;

/* Two nets made from the same seed start from the same weights. */
static int net_new(net *n, uint64_t seed, int hidden)
{
    *n = (net){ .model = tg_model_new(seed) };
    if (!n->model)
        return -1;
    n->rnn = tg_rnn_new(n->model, "rnn", (tg_rnn_config){ .input = 2, .hidden = hidden });
    n->head = tg_linear_new(n->model, "head", (tg_linear_config){ .input = hidden, .output = 1 });
    if (!n->rnn || !n->head || tg_model_parameter_count(n->model) > MAX_PARAMS)
        return -1;
    n->n_params = tg_model_parameter_count(n->model);
    for (int k = 0; k < n->n_params; k++) {
        n->params[k] = tg_model_parameter(n->model, k);
        n->size += n->params[k]->numel;
    }
    return 0;
}

/* y_hat = W_hy h_{T-1} + b_y, h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h): [B, 1]. */
static tg_tensor *predict(const net *n, tg_tensor *x)
{
    tg_rnn_result run = tg_rnn_forward(n->rnn, x, NULL);
    return run.output ? tg_linear_forward(n->head, run.h[run.steps - 1]) : NULL;
}

/* The MSE of the net on (x, y), nothing recorded; NaN on error. */
static double evaluate(const net *n, tg_tensor *x, tg_tensor *y)
{
    tg_no_grad_begin();
    tg_tensor *loss = tg_mse_loss(predict(n, x), y, TG_REDUCTION_MEAN);
    double value = loss ? tg_tensor_item(loss) : NAN;
    tg_no_grad_end();
    tg_graph_reset();
    return value;
}

/* ---- Parameters as one flat vector ------------------------------------------------ */

static double dot(const double *a, const double *b, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void gather(const net *n, tg_tensor *const *tensors, double *flat)
{
    for (int k = 0; k < n->n_params; k++) {
        for (int64_t i = 0; i < tensors[k]->numel; i++)
            flat[i] = tensors[k]->data[i];
        flat += tensors[k]->numel;
    }
}

/* Parameters = base + alpha * d, written with tg_tensor_copy_ so that the
 * library sees the parameters change. */
static int set_params(const net *n, const double *base, double alpha, const double *d)
{
    for (int k = 0; k < n->n_params; k++) {
        tg_tensor *p = n->params[k], *value = tg_zeros_like(p);
        if (!value)
            return -1;
        for (int64_t i = 0; i < p->numel; i++)
            value->data[i] = (float)(base[i] + (d ? alpha * d[i] : 0.0));
        if (tg_tensor_copy_(p, value) != 0)
            return -1;
        base += p->numel;
        if (d)
            d += p->numel;
    }
    tg_graph_reset();
    return 0;
}

/* ---- The gradient and the Gauss-Newton product ---------------------------------- */

/* The loss on (x, y) and its gradient, flat. NaN on error. */
static double loss_and_gradient(const net *n, tg_tensor *x, tg_tensor *y, double *grad)
{
    tg_tensor *loss = tg_mse_loss(predict(n, x), y, TG_REDUCTION_MEAN);
    tg_tensor *g[MAX_PARAMS];
    double value = NAN;
    if (loss && tg_autograd_grad(&loss, 1, n->params, n->n_params, g, (tg_grad_config){ 0 }) == 0) {
        value = tg_tensor_item(loss);
        gather(n, g, grad);
    }
    tg_graph_reset();
    return value;
}

/* The graph the Gauss-Newton products reuse, recorded once per iteration on
 * the curvature batch: the prediction p, a dummy u shaped like p, and
 * J^T u = d(p . u)/dParameters recorded with .create_graph, so that it can
 * be differentiated again with respect to u. */
typedef struct curvature {
    const net *n;
    tg_tensor *pred, *u;
    tg_tensor *jtu[MAX_PARAMS];
    int batch;
} curvature;

static int curvature_record(curvature *c, const net *n, tg_tensor *x)
{
    *c = (curvature){ .n = n, .pred = predict(n, x), .batch = (int)x->shape[1] };
    if (!c->pred || !(c->u = tg_zeros_like(c->pred)) || tg_set_requires_grad(c->u, true) != 0)
        return -1;
    return tg_autograd_grad(&c->pred, 1, n->params, n->n_params, c->jtu,
                            (tg_grad_config){ .grad_outputs = &c->u, .retain_graph = true,
                                              .create_graph = true });
}

/* out = (G + lambda I) v. J^T u is linear in u, so d(J^T u . v)/du = J v
 * (the R-operator, by double backward); then J^T ((2/B) J v) is an ordinary
 * backward with (2/B) J v as the prediction's gradient. 2/B is the MSE's
 * second derivative. */
static int curvature_product(const curvature *c, const double *v, double lambda, double *out)
{
    const net *n = c->n;
    tg_tensor *s = NULL;
    const double *vk = v;
    for (int k = 0; k < n->n_params; k++) {
        tg_tensor *vt = tg_zeros_like(n->params[k]);
        if (!vt)
            return -1;
        for (int64_t i = 0; i < vt->numel; i++)
            vt->data[i] = (float)vk[i];
        vk += vt->numel;
        tg_tensor *term = tg_sum_all(tg_mul(c->jtu[k], vt));
        s = s ? tg_add(s, term) : term;
    }
    tg_tensor *jv, *gv[MAX_PARAMS];
    if (!s || tg_autograd_grad(&s, 1, &c->u, 1, &jv, (tg_grad_config){ .retain_graph = true }) != 0)
        return -1;
    tg_tensor *scaled = tg_mul_scalar(jv, 2.0f / (float)c->batch);
    if (!scaled || tg_autograd_grad(&c->pred, 1, n->params, n->n_params, gv,
                                    (tg_grad_config){ .grad_outputs = &scaled, .retain_graph = true }) != 0)
        return -1;
    gather(n, gv, out);
    for (int64_t i = 0; i < n->size; i++)
        out[i] += lambda * v[i];
    return 0;
}

/* ---- Conjugate gradient, as Martens (2010) runs it ------------------------------- */

/* Minimises phi(x) = 1/2 x.(G + lambda I)x + g.x from x (the previous
 * solution, decayed), with no preconditioner. Keeps the iterates at
 * iterations ceil(1.3^j) and the last for backtracking; stops when phi
 * has improved by less than a relative 5e-4 per iteration over the last
 * max(10, i/10) iterations, or after max_iterations. */
typedef struct cg_result {
    int iterations, saved;
    double *iterate[MAX_SAVED]; /* owned by the caller's workspace */
    double phi[MAX_SAVED];
} cg_result;

typedef struct workspace {
    int64_t n;
    double *theta, *grad, *x, *r, *p, *ap, *phi_history;
    double *saved[MAX_SAVED];
} workspace;

static int cg_solve(const curvature *c, workspace *w, double lambda, int max_iterations, cg_result *out)
{
    int64_t n = w->n;
    *out = (cg_result){ 0 };
    if (curvature_product(c, w->x, lambda, w->ap) != 0)
        return -1;
    for (int64_t i = 0; i < n; i++)
        w->p[i] = w->r[i] = -w->grad[i] - w->ap[i];
    double rr = dot(w->r, w->r, n);
    int next_save = 1;
    double step = 1.0;
    for (int i = 1; i <= max_iterations; i++) {
        if (curvature_product(c, w->p, lambda, w->ap) != 0)
            return -1;
        double pap = dot(w->p, w->ap, n);
        if (!(pap > 0.0))
            break;
        double alpha = rr / pap;
        for (int64_t j = 0; j < n; j++) {
            w->x[j] += alpha * w->p[j];
            w->r[j] -= alpha * w->ap[j];
        }
        /* A x = -g - r, so phi(x) = 1/2 x.(g - r) with no extra product. */
        double phi = 0.0;
        for (int64_t j = 0; j < n; j++)
            phi += 0.5 * w->x[j] * (w->grad[j] - w->r[j]);
        w->phi_history[i] = phi;
        out->iterations = i;
        int k = i / 10 > 10 ? i / 10 : 10;
        bool stop = i == max_iterations ||
                    (i > k && phi < 0.0 && (phi - w->phi_history[i - k]) / phi < k * 5e-4);
        if ((i >= next_save || stop) && out->saved < MAX_SAVED) {
            memcpy(w->saved[out->saved], w->x, sizeof(double) * (size_t)n);
            out->iterate[out->saved] = w->saved[out->saved];
            out->phi[out->saved++] = phi;
            while (next_save <= i) {
                step *= 1.3;
                next_save = (int)ceil(step);
            }
        }
        if (stop)
            break;
        double rr_new = dot(w->r, w->r, n);
        for (int64_t j = 0; j < n; j++)
            w->p[j] = w->r[j] + rr_new / rr * w->p[j];
        rr = rr_new;
    }
    return 0;
}

/* ---- One Hessian-free iteration ----------------------------------------------------- */

typedef struct hf_state {
    double lambda;
    int cg_iterations, backtracked;
    double rho, alpha, loss_before, loss_after;
} hf_state;

/* The loss on the gradient batch at theta + alpha * d. */
static double loss_at(const net *n, const workspace *w, double alpha, const double *d, tg_tensor *x,
                      tg_tensor *y)
{
    return set_params(n, w->theta, alpha, d) == 0 ? evaluate(n, x, y) : NAN;
}

/* Copies the first columns of x [T, B, 2] into xc [T, Bc, 2]. */
static void first_columns(const tg_tensor *x, tg_tensor *xc)
{
    int64_t T = x->shape[0], B = x->shape[1], Bc = xc->shape[1];
    for (int64_t t = 0; t < T; t++)
        memcpy(xc->data + t * Bc * 2, x->data + t * B * 2, sizeof(float) * (size_t)(Bc * 2));
}

static int hf_iteration(const net *n, workspace *w, hf_state *s, const settings *set, tg_tensor *x,
                        tg_tensor *y, tg_tensor *xc)
{
    gather(n, n->params, w->theta);
    s->loss_before = loss_and_gradient(n, x, y, w->grad);
    if (isnan(s->loss_before))
        return -1;
    /* CG starts from the last solution, decayed (Martens 2010). */
    for (int64_t i = 0; i < w->n; i++)
        w->x[i] *= 0.95;
    first_columns(x, xc);
    curvature c;
    cg_result cg;
    int status = curvature_record(&c, n, xc) == 0 ? cg_solve(&c, w, s->lambda, set->max_cg, &cg) : -1;
    tg_graph_reset();
    if (status != 0 || cg.saved == 0)
        return -1;
    s->cg_iterations = cg.iterations;
    /* Backtracking: from the last kept iterate, go back while an earlier
     * one gives a lower loss. */
    int best = cg.saved - 1;
    double best_loss = loss_at(n, w, 1.0, cg.iterate[best], x, y);
    while (best > 0) {
        double earlier = loss_at(n, w, 1.0, cg.iterate[best - 1], x, y);
        if (!(earlier < best_loss))
            break;
        best_loss = earlier;
        best--;
    }
    s->backtracked = cg.saved - 1 - best;
    const double *d = cg.iterate[best];
    /* Levenberg-Marquardt: compare the reduction to the model's. */
    s->rho = (best_loss - s->loss_before) / cg.phi[best];
    if (s->rho < 0.25 || isnan(s->rho))
        s->lambda *= 1.5;
    else if (s->rho > 0.75)
        s->lambda *= 2.0 / 3.0;
    /* Backtracking line search (Armijo, c = 1e-2) along d. */
    double gd = dot(w->grad, d, w->n);
    s->alpha = 1.0;
    s->loss_after = best_loss;
    while (!(s->loss_after <= s->loss_before + 1e-2 * s->alpha * gd) && s->alpha > 0.1) {
        s->alpha *= 0.8;
        s->loss_after = loss_at(n, w, s->alpha, d, x, y);
    }
    if (!(s->loss_after <= s->loss_before + 1e-2 * s->alpha * gd)) {
        s->alpha = 0.0; /* no step: the damping has grown, the next CG run is shorter */
        s->loss_after = s->loss_before;
    }
    return set_params(n, w->theta, s->alpha, d);
}

/* ---- The experiment --------------------------------------------------------------- */

typedef struct run_result {
    const char *name;
    int iterations;
    double seconds, train_mse, test_mse;
    tg_history *history; /* x: iteration or step; seconds, train_mse, test_mse */
} run_result;

typedef struct experiment {
    settings s;
    const nb_common *common;
    tg_tensor *test_x, *test_y;
    double baseline; /* always answering 1, on the test set */
    int64_t n_params;
    run_result hf, adam;
} experiment;

static int fail(const char *message) { return nb_fail(PROGRAM, message); }

static void record(run_result *r, int64_t x, double seconds, double train, double test)
{
    tg_history_add(r->history, x, "seconds", seconds);
    tg_history_add(r->history, x, "train_mse", train);
    if (!isnan(test))
        tg_history_add(r->history, x, "test_mse", test);
}

static void section_task(experiment *e)
{
    nb_section(1, "The task: the adding problem",
               "Each sequence has T steps of two inputs: a value from U(0, 1) and a marker that is "
               "1 at one step of each half. The target, read from the last state only, is the sum "
               "of the two marked values. Always answering 1 scores Var(a + b) = 0.167; doing "
               "better means carrying the first marked value across half the sequence or more, "
               "which is where a plain RNN's gradient vanishes (see vanishing_gradient). Training "
               "draws fresh sequences; the test set is fixed.");
    tg_rng rng = tg_rng_new(e->common->seed + 1);
    adding_problem_batch(&rng, e->test_x, e->test_y);
    e->baseline = adding_problem_answer_one_mse(e->test_y);
    printf("    T = %d, %d test sequences; always answering 1 scores a test MSE of %.4f\n", e->s.length,
           e->s.test_batch, e->baseline);
}

static int section_model(experiment *e)
{
    nb_section(2, "The model: the seed's tanh RNN",
               "h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h) and y = W_hy h_{T-1} + b_y, PyTorch's "
               "initialisation. Both optimisers start from these same weights (two models made "
               "from the same seed).");
    net n;
    if (net_new(&n, e->common->seed, e->s.hidden) != 0)
        return fail("cannot make the model");
    nb_print_parameters(n.model, 16);
    e->n_params = n.size;
    printf("    %lld parameters\n", (long long)n.size);
    tg_model_free(n.model);
    return 0;
}

/* The predictions on x at theta + eps * v, into out (B values). */
static int predict_at(const net *n, const double *theta, double eps, const double *v, tg_tensor *x,
                      double *out)
{
    if (set_params(n, theta, eps, v) != 0)
        return -1;
    tg_no_grad_begin();
    tg_tensor *p = predict(n, x);
    tg_no_grad_end();
    for (int64_t b = 0; p && b < p->numel; b++)
        out[b] = p->data[b];
    tg_graph_reset();
    return p ? 0 : -1;
}

/* v.Gv for a random v two ways: by the double-backward product, and as
 * (2/B) |J v|^2 with J v from central differences of the predictions. */
static int check_product(const experiment *e, double *by_product, double *by_differences)
{
    net n;
    int B = 64, status = -1;
    tg_tensor *x = tg_tensor_zeros(TG_SHAPE(e->s.length, B, 2)), *y = tg_tensor_zeros(TG_SHAPE(B, 1));
    double *theta = NULL, *v = NULL, *gv = NULL, *plus = malloc(sizeof(double) * B),
           *minus = malloc(sizeof(double) * B);
    if (net_new(&n, e->common->seed, e->s.hidden) == 0 && x && y && plus && minus &&
        (theta = malloc(sizeof(double) * (size_t)n.size)) && (v = malloc(sizeof(double) * (size_t)n.size)) &&
        (gv = malloc(sizeof(double) * (size_t)n.size))) {
        tg_rng rng = tg_rng_new(e->common->seed + 2);
        adding_problem_batch(&rng, x, y);
        for (int64_t i = 0; i < n.size; i++)
            v[i] = tg_rng_normal(&rng);
        gather(&n, n.params, theta);
        curvature c;
        status = curvature_record(&c, &n, x) == 0 && curvature_product(&c, v, 0.0, gv) == 0 ? 0 : -1;
        tg_graph_reset();
        *by_product = dot(v, gv, n.size);
        const double eps = 1e-2;
        if (status == 0 && predict_at(&n, theta, eps, v, x, plus) == 0 && predict_at(&n, theta, -eps, v, x, minus) == 0) {
            double sum = 0.0;
            for (int b = 0; b < B; b++)
                sum += (plus[b] - minus[b]) / (2 * eps) * (plus[b] - minus[b]) / (2 * eps);
            *by_differences = 2.0 / B * sum;
        } else {
            status = -1;
        }
    }
    free(theta);
    free(v);
    free(gv);
    free(plus);
    free(minus);
    tg_tensor_free(x);
    tg_tensor_free(y);
    tg_model_free(n.model);
    return status;
}

static int section_method(const experiment *e)
{
    nb_section(3, "Hessian-free optimisation",
               "Each iteration draws a batch, computes the loss and its gradient g, and minimises "
               "the local quadratic model q(d) = g.d + 1/2 d.(G + lambda I)d with conjugate "
               "gradient, where G is the Gauss-Newton matrix J^T (2/B) J of the prediction's "
               "Jacobian J. CG needs only products G v, and tapegrad's double backward gives them "
               "without forming J: tg_autograd_grad with .create_graph records J^T u for a dummy "
               "u, a second tg_autograd_grad of (J^T u).v with respect to u gives J v, and a plain "
               "backward of J v gives J^T J v. The recorded graph is reused by every CG "
               "iteration.\n\n"
               "As in Martens and Sutskever (2011): G is sampled on a quarter of the batch; CG "
               "starts from the previous solution times 0.95 and stops when its objective stops "
               "improving; of the iterates kept at iterations ceil(1.3^j) the last is tried "
               "first and earlier ones while they lower the loss (CG backtracking); lambda grows "
               "by 3/2 when the loss falls by less than a quarter of what the model promised and "
               "shrinks by 2/3 when by more than three quarters (Levenberg-Marquardt); a "
               "backtracking line search guards the step. Structural damping is not used.\n\n"
               "A check of the product on 64 sequences and a random direction v: v.Gv from the "
               "double backward, and (2/B)|J v|^2 with J v from central differences of the "
               "predictions (step 1e-2 along v).");
    double by_product = NAN, by_differences = NAN;
    if (check_product(e, &by_product, &by_differences) != 0)
        return fail("cannot check the Gauss-Newton product");
    printf("    v.Gv by double backward %.6g, by finite differences %.6g (relative difference %.1e)\n",
           by_product, by_differences, fabs(by_product - by_differences) / fabs(by_differences));
    return 0;
}

static int section_hf(experiment *e)
{
    char text[400];
    snprintf(text, sizeof text,
             "Batches of %d sequences, curvature on %d of them, at most %d CG iterations, "
             "lambda from 1; until the test MSE is below %g, %.0f s of training have passed or "
             "%d iterations. Evaluation on the test set is not counted in the time.",
             e->s.batch, e->s.curvature_batch, e->s.max_cg, SOLVED_MSE, e->s.seconds, e->s.max_iterations);
    nb_section(4, "Training with Hessian-free", text);
    net n;
    workspace w = { .n = e->n_params };
    int T = e->s.length;
    tg_tensor *x = tg_tensor_zeros(TG_SHAPE(T, e->s.batch, 2)), *y = tg_tensor_zeros(TG_SHAPE(e->s.batch, 1));
    tg_tensor *xc = tg_tensor_zeros(TG_SHAPE(T, e->s.curvature_batch, 2));
    double **buffers[] = { &w.theta, &w.grad, &w.x, &w.r, &w.p, &w.ap };
    bool ok = net_new(&n, e->common->seed, e->s.hidden) == 0 && x && y && xc &&
              (w.phi_history = calloc((size_t)e->s.max_cg + 1, sizeof(double)));
    for (size_t b = 0; b < sizeof buffers / sizeof *buffers; b++)
        ok = ok && (*buffers[b] = calloc((size_t)w.n, sizeof(double)));
    for (int k = 0; k < MAX_SAVED; k++)
        ok = ok && (w.saved[k] = calloc((size_t)w.n, sizeof(double)));
    int status = ok ? 0 : fail("out of memory");
    hf_state s = { .lambda = 1.0 };
    tg_rng rng = tg_rng_new(e->common->seed);
    double trained = 0.0;
    int it = 0;
    if (status == 0)
        printf("    %4s %8s %10s %10s %9s %4s %4s %7s %6s\n", "iter", "seconds", "train MSE", "test MSE",
               "lambda", "CG", "back", "rho", "alpha");
    double test = INFINITY;
    while (status == 0 && it < e->s.max_iterations && trained < e->s.seconds && test >= SOLVED_MSE) {
        adding_problem_batch(&rng, x, y);
        double started = nb_seconds();
        if (hf_iteration(&n, &w, &s, &e->s, x, y, xc) != 0) {
            status = fail("a Hessian-free iteration failed");
            break;
        }
        trained += nb_seconds() - started;
        it++;
        test = evaluate(&n, e->test_x, e->test_y);
        record(&e->hf, it, trained, s.loss_before, test);
        printf("    %4d %8.1f %10.5f %10.5f %9.3g %4d %4d %7.3f %6.3f\n", it, trained, s.loss_before, test,
               s.lambda, s.cg_iterations, s.backtracked, s.rho, s.alpha);
        e->hf.train_mse = s.loss_after;
        e->hf.test_mse = test;
    }
    e->hf.iterations = it;
    e->hf.seconds = trained;
    for (size_t b = 0; b < sizeof buffers / sizeof *buffers; b++)
        free(*buffers[b]);
    for (int k = 0; k < MAX_SAVED; k++)
        free(w.saved[k]);
    free(w.phi_history);
    tg_tensor_free(x);
    tg_tensor_free(y);
    tg_tensor_free(xc);
    tg_model_free(n.model);
    return status;
}

static int section_adam(experiment *e)
{
    char text[300];
    snprintf(text, sizeof text,
             "The same starting weights, Adam (lr %g) on batches of %d fresh sequences, for the "
             "%.1f s of training Hessian-free took. The test MSE is measured every %d steps.",
             e->s.lr, e->s.adam_batch, e->hf.seconds, e->s.adam_eval_every);
    nb_section(5, "Training with Adam, for the same time", text);
    net n;
    int T = e->s.length;
    tg_tensor *x = tg_tensor_zeros(TG_SHAPE(T, e->s.adam_batch, 2));
    tg_tensor *y = tg_tensor_zeros(TG_SHAPE(e->s.adam_batch, 1));
    tg_optimizer *opt = NULL;
    int status = net_new(&n, e->common->seed, e->s.hidden) == 0 && x && y &&
                         (opt = tg_adam_new(n.model, (tg_adam_config){ .lr = e->s.lr }))
                     ? 0 : fail("cannot make the model or Adam");
    tg_rng rng = tg_rng_new(e->common->seed);
    double trained = 0.0, sum = 0.0;
    int step = 0, since = 0;
    while (status == 0 && trained < e->hf.seconds) {
        adding_problem_batch(&rng, x, y);
        double started = nb_seconds();
        tg_tensor *loss = tg_mse_loss(predict(&n, x), y, TG_REDUCTION_MEAN);
        if (!loss || tg_backward(loss) != 0 || tg_optimizer_step(opt) != 0) {
            status = fail("an Adam step failed");
            break;
        }
        sum += tg_tensor_item(loss);
        since++;
        tg_optimizer_zero_grad(opt);
        tg_graph_reset();
        trained += nb_seconds() - started;
        step++;
        if (step % e->s.adam_eval_every == 0 || trained >= e->hf.seconds) {
            double test = evaluate(&n, e->test_x, e->test_y);
            record(&e->adam, step, trained, sum / since, test);
            e->adam.train_mse = sum / since;
            e->adam.test_mse = test;
            sum = 0.0;
            since = 0;
        }
    }
    e->adam.iterations = step;
    e->adam.seconds = trained;
    if (status == 0)
        printf("    %d steps in %.1f s; last train MSE %.5f (mean of the last steps), test MSE %.5f\n", step,
               trained, e->adam.train_mse, e->adam.test_mse);
    tg_optimizer_free(opt);
    tg_tensor_free(x);
    tg_tensor_free(y);
    tg_model_free(n.model);
    return status;
}

static void section_comparison(const experiment *e)
{
    nb_section(6, "Hessian-free against Adam", "");
    printf("    %-13s %4s %9s %11s %11s %11s\n", "optimiser", "T", "seconds", "train MSE", "test MSE",
           "iterations");
    const run_result *runs[2] = { &e->hf, &e->adam };
    for (int r = 0; r < 2; r++)
        printf("    %-13s %4d %9.1f %11.5f %11.5f %11d\n", runs[r]->name, e->s.length, runs[r]->seconds,
               runs[r]->train_mse, runs[r]->test_mse, runs[r]->iterations);
    printf("    %-13s %4d %9s %11s %11.5f\n", "answer 1", e->s.length, "", "", e->baseline);
    char text[600];
    bool hf_solved = e->hf.test_mse < 0.01;
    const char *adam = e->adam.test_mse < 0.01  ? "reaches it too"
                       : e->adam.test_mse > 0.1 ? "stays near the baseline"
                                                : "moves away from the baseline without reaching it";
    snprintf(text, sizeof text,
             "The target is a test MSE below 0.01 at T >= 50. Hessian-free %s (%.4f at T = %d); "
             "Adam, in the same time, %s (%.4f, against %.4f for always answering 1).",
             hf_solved ? "reaches it" : "does not reach it", e->hf.test_mse, e->s.length,
             adam, e->adam.test_mse,
             e->baseline);
    nb_text(text);
}

/* Columns of a history as arrays, for the plot. */
static int column(const tg_history *h, const char *name, double *out)
{
    int n = 0;
    for (int row = 0; row < tg_history_rows(h); row++)
        out[n++] = tg_history_value(h, row, name);
    return n;
}

static int section_files(const experiment *e)
{
    nb_section(7, "Files", "");
    char path[1024];
    const run_result *runs[2] = { &e->hf, &e->adam };
    const char *files[2] = { "hessian_free_hf.csv", "hessian_free_adam.csv" };
    for (int r = 0; r < 2; r++) {
        if (tg_history_write_csv(runs[r]->history, nb_out_path(e->common, files[r], path, sizeof path)) != 0)
            return fail("cannot write the history");
        nb_wrote(path, r == 0 ? "Hessian-free: train and test MSE per iteration"
                              : "Adam: train and test MSE every few steps");
    }
    double *data[2][3];
    tg_plot_series series[4];
    bool ok = true;
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 3; c++)
            ok = (data[r][c] = calloc((size_t)tg_history_rows(runs[r]->history) + 1, sizeof(double))) && ok;
    int status = ok ? 0 : -1;
    if (ok) {
        const char *names[4] = { "Hessian-free train", "Hessian-free test", "Adam train", "Adam test" };
        for (int r = 0; r < 2; r++) {
            int count = column(runs[r]->history, "seconds", data[r][0]);
            column(runs[r]->history, "train_mse", data[r][1]);
            column(runs[r]->history, "test_mse", data[r][2]);
            for (int c = 0; c < 2; c++)
                series[r * 2 + c] = (tg_plot_series){ .name = names[r * 2 + c], .xd = data[r][0],
                                                      .yd = data[r][1 + c], .count = count,
                                                      .style = c == 0 ? TG_PLOT_DASHED : TG_PLOT_LINE,
                                                      .color = r == 0 ? 1 : 2 };
        }
        char title[96];
        snprintf(title, sizeof title, "Adding problem, T = %d: tanh RNN", e->s.length);
        status = tg_plot_lines(nb_out_path(e->common, "hessian_free_loss.png", path, sizeof path), series, 4,
                               &(tg_plot_options){ .title = title, .xlabel = "training seconds",
                                                   .ylabel = "MSE", .log_y = true }) < 0 ? -1 : 0;
    }
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 3; c++)
            free(data[r][c]);
    if (status != 0)
        return fail("cannot plot the losses");
    nb_wrote(path, "train and test MSE of both against training time");
    return 0;
}

/* ---- Setting up ------------------------------------------------------------------ */

static int parse(int argc, char **argv, nb_common *common, settings *s)
{
    int length = 0, hidden = 0, batch = 0;
    float lr = 0.0f, seconds = 0.0f;
    const nb_option own[] = {
        { "length", NB_INT, &length, "sequence length T (default 100; --quick: 10)" },
        { "hidden", NB_INT, &hidden, "hidden units (default 32; --quick: 8)" },
        { "batch", NB_INT, &batch, "Hessian-free's batch; the curvature uses a quarter (default 1000)" },
        { "seconds", NB_FLOAT, &seconds, "Hessian-free's training budget in seconds (default 600)" },
        { "lr", NB_FLOAT, &lr, "Adam's learning rate (default 1e-3)" },
    };
    int parsed = nb_parse(argc, argv, PROGRAM, "a tanh RNN trained with Hessian-free optimisation and with Adam",
                          common, own, 5);
    if (parsed != 0)
        return parsed;
    if (adding_problem_check_flags(PROGRAM, common) != 0)
        return 2;
    if (common->save || common->load) {
        fprintf(stderr, "%s: --save and --load are not taken: the comparison is one run from one start\n",
                PROGRAM);
        return 2;
    }
    *s = common->quick
             ? (settings){ .length = 10, .hidden = 8, .batch = 200, .test_batch = 200, .max_iterations = 6,
                           .max_cg = 20, .seconds = 60.0, .lr = 1e-3f, .adam_batch = 32, .adam_eval_every = 20 }
             : (settings){ .length = 100, .hidden = 32, .batch = 1000, .test_batch = 1000,
                           .max_iterations = 100000, .max_cg = 150, .seconds = 600.0, .lr = 1e-3f,
                           .adam_batch = 32, .adam_eval_every = 100 };
    s->length = length ? length : s->length;
    s->hidden = hidden ? hidden : s->hidden;
    s->batch = batch ? batch : s->batch;
    s->seconds = seconds > 0.0f ? seconds : s->seconds;
    s->max_iterations = common->steps ? common->steps : s->max_iterations;
    s->lr = lr > 0.0f ? lr : s->lr;
    s->curvature_batch = s->batch / 4 > 1 ? s->batch / 4 : 1;
    if (s->length < 4 || s->length > 10000 || s->hidden < 1 || s->batch < 4) {
        fprintf(stderr, "%s: --length must be in [4, 10000], --hidden positive and --batch at least 4\n",
                PROGRAM);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    nb_common common;
    experiment e = { .common = &common, .hf.name = "Hessian-free", .adam.name = "Adam" };
    int parsed = parse(argc, argv, &common, &e.s);
    if (parsed != 0)
        return parsed == 1 ? 0 : 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    e.test_x = tg_tensor_zeros(TG_SHAPE(e.s.length, e.s.test_batch, 2));
    e.test_y = tg_tensor_zeros(TG_SHAPE(e.s.test_batch, 1));
    e.hf.history = tg_history_new("iteration");
    e.adam.history = tg_history_new("step");
    int status = e.test_x && e.test_y && e.hf.history && e.adam.history ? 0 : fail("out of memory");
    if (status == 0) {
        section_task(&e);
        status = section_model(&e);
    }
    if (status == 0) {
        status = section_method(&e);
    }
    if (status == 0) {
        status = section_hf(&e);
    }
    if (status == 0)
        status = section_adam(&e);
    if (status == 0) {
        section_comparison(&e);
        status = section_files(&e);
    }
    tg_history_free(e.hf.history);
    tg_history_free(e.adam.history);
    tg_tensor_free(e.test_x);
    tg_tensor_free(e.test_y);
    tg_graph_release();
    return status;
}
