/* Every optimizer converges: on an ill-conditioned quadratic, and on the
 * Rosenbrock function (1 - x)^2 + 100 (y - x^2)^2 from (-1.5, 2), whose
 * minimum is (1, 1). Learning rates and step counts are the ones that work
 * in PyTorch for the same problems. */
#include "optim_support.h"

#include <criterion/parameterized.h>

TestSuite(optim_converge, .init = tg_test_setup, .fini = optim_fini);

/* ---- Quadratic: 0.5 sum a_i (w_i - c_i)^2, curvatures 0.5 to 20 -------- */

static optim_case quadratic_cases[] = {
    { "sgd", SGD, .sgd = { .lr = 0.05 } },
    { "sgd_momentum", SGD, .sgd = { .lr = 0.02, .momentum = 0.9 } },
    { "sgd_nesterov", SGD, .sgd = { .lr = 0.02, .momentum = 0.9, .nesterov = true } },
    { "adam", ADAM, .adam = { .lr = 0.05 } },
    { "amsgrad", ADAM, .adam = { .lr = 0.05, .amsgrad = true } },
    { "adamw", ADAMW, .adam = { .lr = 0.05, .weight_decay = TG_ZERO } },
    { "rmsprop", RMSPROP, .rmsprop = { .lr = 0.01 } },
    { "rmsprop_centered", RMSPROP, .rmsprop = { .lr = 0.005, .momentum = 0.5, .centered = true } },
    { "adagrad", ADAGRAD, .adagrad = { .lr = 0.5 } },
};

ParameterizedTestParameters(optim_converge, quadratic)
{
    return cr_make_param_array(optim_case, quadratic_cases,
                               sizeof quadratic_cases / sizeof quadratic_cases[0]);
}

ParameterizedTest(optim_case *c, optim_converge, quadratic)
{
    static const float curvature[4] = { 0.5f, 2, 8, 20 }, centre[4] = { 1, -2, 3, 0.5f };
    tg_model *model = tg_model_new(0);
    tg_tensor *w = tg_model_add_parameter(model, "w", TG_SHAPE(4));
    tg_optimizer *opt = optim_make(c, model);
    cr_assert_not_null(opt, "%s", tg_error_message());
    tg_tensor *a = tg_tensor_from_array(TG_SHAPE(4), curvature);
    tg_tensor *target = tg_tensor_from_array(TG_SHAPE(4), centre);
    for (int step = 0; step < 1500; step++) {
        tg_tensor *d = tg_sub(w, target);
        tg_tensor *loss = tg_mul_scalar(tg_sum_all(tg_mul(a, tg_square(d))), 0.5f);
        cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
        cr_assert_eq(tg_optimizer_step(opt), 0);
        tg_optimizer_zero_grad(opt);
        tg_graph_reset();
    }
    tg_assert_values(w, centre, 4, 2e-3);
    tg_tensor_free(a);
    tg_tensor_free(target);
    tg_optimizer_free(opt);
    tg_model_free(model);
}

/* ---- Rosenbrock ------------------------------------------------------- */

typedef struct rosenbrock_case {
    optim_case optimizer;
    int steps;
    float tolerance; /* on |x - 1| and |y - 1| */
} rosenbrock_case;

static rosenbrock_case rosenbrock_cases[] = {
    { { "sgd_momentum", SGD, .sgd = { .lr = 1e-3, .momentum = 0.9 } }, 2000, 1e-3f },
    { { "sgd_nesterov", SGD, .sgd = { .lr = 1e-3, .momentum = 0.9, .nesterov = true } }, 2000,
      1e-3f },
    { { "adam", ADAM, .adam = { .lr = 0.02 } }, 3000, 1e-3f },
    { { "amsgrad", ADAM, .adam = { .lr = 0.05, .amsgrad = true } }, 2000, 5e-3f },
    { { "adamw", ADAMW, .adam = { .lr = 0.02, .weight_decay = TG_ZERO } }, 3000, 1e-3f },
    { { "rmsprop", RMSPROP, .rmsprop = { .lr = 1e-3, .momentum = 0.9 } }, 2000, 5e-3f },
    { { "rmsprop_centered", RMSPROP,
        .rmsprop = { .lr = 5e-4, .momentum = 0.9, .centered = true } },
      2000, 5e-3f },
    /* Adagrad's shrinking steps crawl along the valley: from a loss of 12.5,
     * PyTorch is at (0.86, 0.74), loss 0.019, after 3000 steps. */
    { { "adagrad", ADAGRAD, .adagrad = { .lr = 1.0 } }, 3000, 0.3f },
};

ParameterizedTestParameters(optim_converge, rosenbrock)
{
    return cr_make_param_array(rosenbrock_case, rosenbrock_cases,
                               sizeof rosenbrock_cases / sizeof rosenbrock_cases[0]);
}

ParameterizedTest(rosenbrock_case *c, optim_converge, rosenbrock)
{
    tg_model *model = tg_model_new(0);
    tg_tensor *p = tg_model_add_parameter(model, "p", TG_SHAPE(2));
    tg_tensor_copy_(p, tg_from_array(TG_SHAPE(2), (float[]){ -1.5f, 2.0f }));
    tg_optimizer *opt = optim_make(&c->optimizer, model);
    cr_assert_not_null(opt, "%s", tg_error_message());
    float loss_value = 0;
    for (int step = 0; step < c->steps; step++) {
        tg_tensor *x = tg_select(p, 0, 0), *y = tg_select(p, 0, 1);
        tg_tensor *loss = tg_add(tg_square(tg_scalar_sub(1.0f, x)),
                                 tg_mul_scalar(tg_square(tg_sub(y, tg_square(x))), 100.0f));
        cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
        loss_value = tg_tensor_item(loss);
        tg_optimizer_step(opt);
        tg_optimizer_zero_grad(opt);
        tg_graph_reset();
    }
    cr_assert_lt(loss_value, 0.05f, "%s: loss %g", c->optimizer.name, loss_value);
    tg_assert_values(p, ((float[]){ 1, 1 }), 2, c->tolerance);
    tg_optimizer_free(opt);
    tg_model_free(model);
}
