/*
 * first_steps: the smallest complete training loop.
 *
 * Fits y = sin(x) on [-3, 3] with a two-layer network written directly in
 * tensors and differentiable ops, and plain gradient descent. Every step:
 * forward (records the tape), backward (fills the parameters' gradients),
 * update, and tg_graph_reset (frees the step's tensors). The loss printed
 * every 200 steps falls from about 0.15 to below 0.005. The learning rate
 * is 0.03: gradient descent on this loss diverges above about 0.04.
 */
#include <stdio.h>
#include <string.h>

#include <tapegrad.h>

/* w -= lr * dL/dw, outside the graph: the new value computed by ops in
 * no-grad mode, then copied into w. */
static void sgd_update(tg_tensor *w, float lr)
{
    tg_tensor *g = tg_grad(w);
    if (g) {
        tg_no_grad_begin();
        tg_tensor_copy_(w, tg_sub(w, tg_mul_scalar(g, lr)));
        tg_no_grad_end();
    }
    tg_zero_grad(w);
}

int main(int argc, char **argv)
{
    /* Everything is fixed here, to keep the loop the only thing to read:
     * say so rather than ignore what was asked. */
    if (argc > 1) {
        bool help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
        fprintf(help ? stdout : stderr, "%sfirst_steps takes no options: it fits sin(x) with fixed "
                "settings (see training_loop for flags)\n",
                help ? "" : "first_steps: unknown option; ");
        return help ? 0 : 2;
    }
    tg_rng rng = tg_rng_new(42);
    const int n = 256, hidden = 32;

    /* Data: 256 points of sin(x). */
    tg_tensor *x = tg_tensor_linspace(-3.0f, 3.0f, n);
    tg_tensor *inputs = tg_tensor_clone(tg_reshape(x, TG_SHAPE(n, 1)));
    tg_tensor *targets = tg_tensor_clone(tg_sin(inputs));

    /* Parameters: owned tensors that require gradients. */
    tg_tensor *w1 = tg_tensor_normal(TG_SHAPE(hidden, 1), 0.0f, 1.0f, &rng);
    tg_tensor *b1 = tg_tensor_zeros(TG_SHAPE(hidden));
    tg_tensor *w2 = tg_tensor_normal(TG_SHAPE(1, hidden), 0.0f, 0.2f, &rng);
    tg_tensor *b2 = tg_tensor_zeros(TG_SHAPE(1));
    tg_tensor *params[] = { w1, b1, w2, b2 };
    for (int i = 0; i < 4; i++)
        tg_set_requires_grad(params[i], true);

    for (int step = 0; step <= 2000; step++) {
        tg_tensor *h = tg_tanh(tg_affine(inputs, w1, b1));
        tg_tensor *y = tg_affine(h, w2, b2);
        tg_tensor *loss = tg_mean_all(tg_square(tg_sub(y, targets)));
        if (!loss || tg_backward(loss) != 0) {
            fprintf(stderr, "first_steps: %s\n", tg_error_message());
            return 1;
        }
        if (step % 200 == 0)
            printf("step %4d  loss %.5f\n", step, tg_tensor_item(loss));
        for (int i = 0; i < 4; i++)
            sgd_update(params[i], 0.03f);
        tg_graph_reset();
    }

    for (int i = 0; i < 4; i++)
        tg_tensor_free(params[i]);
    tg_tensor_free(x);
    tg_tensor_free(inputs);
    tg_tensor_free(targets);
    tg_graph_release();
    return 0;
}
