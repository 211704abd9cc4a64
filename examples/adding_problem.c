#include "adding_problem.h"

#include <stdio.h>

void adding_problem_batch(tg_rng *rng, tg_tensor *x, tg_tensor *y)
{
    int64_t T = x->shape[0], B = x->shape[1];
    for (int64_t b = 0; b < B; b++) {
        int64_t first = tg_rng_below(rng, T / 2), second = T / 2 + tg_rng_below(rng, T - T / 2);
        float sum = 0.0f;
        for (int64_t t = 0; t < T; t++) {
            float *step = x->data + (t * B + b) * 2;
            step[0] = (float)tg_rng_uniform(rng);
            step[1] = t == first || t == second ? 1.0f : 0.0f;
            sum += step[0] * step[1];
        }
        y->data[b] = sum;
    }
}

double adding_problem_answer_one_mse(const tg_tensor *y)
{
    double sum = 0.0;
    for (int64_t b = 0; b < y->numel; b++)
        sum += (y->data[b] - 1.0) * (y->data[b] - 1.0);
    return sum / (double)y->numel;
}

int adding_problem_check_flags(const char *program, const nb_common *common)
{
    if (!common->data && !common->epochs)
        return 0;
    fprintf(stderr, "%s: %s: this example makes its own sequences (the adding problem); it reads no "
                    "data file and counts training in --steps\n", program, common->data ? "--data" : "--epochs");
    return 2;
}
