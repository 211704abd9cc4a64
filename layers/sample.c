/* Top-k and temperature sampling from logits. */
#include "layers/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/error.h"

static int descending(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* exp((logit - best) / temperature) for the logits the top-k cut keeps, 0
 * for the others: softmax's numerators, shifted for safety from overflow. */
static double weight(float logit, float best, float threshold, float temperature)
{
    return logit >= threshold ? exp((logit - best) / temperature) : 0.0;
}

int64_t tg_sample_logits(const float *logits, int64_t n, float temperature, int top_k, tg_rng *rng)
{
    if (!logits || !rng || n < 1 || !(temperature >= 0.0f) || isinf(temperature) || top_k < 0)
        return tg_error_set("sample_logits: %lld logits, temperature %g, top_k %d: needs logits, a "
                            "generator, n >= 1, a finite temperature >= 0 and top_k >= 0",
                            (long long)n, (double)temperature, top_k);
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        best = logits[i] > logits[best] ? i : best;
    if (temperature == 0.0f)
        return best;
    int64_t kept = top_k > 0 && top_k < n ? top_k : n;
    float threshold;
    if (kept == n) {
        threshold = -INFINITY;
    } else {
        float *sorted = malloc(sizeof(float) * (size_t)n);
        if (!sorted)
            return tg_error_set("sample_logits: out of memory for %lld logits", (long long)n);
        memcpy(sorted, logits, sizeof(float) * (size_t)n);
        qsort(sorted, (size_t)n, sizeof(float), descending);
        threshold = sorted[kept - 1];
        free(sorted);
    }
    double total = 0.0;
    for (int64_t i = 0; i < n; i++)
        total += weight(logits[i], logits[best], threshold, temperature);
    double u = tg_rng_uniform(rng) * total;
    for (int64_t i = 0; i < n; i++) {
        u -= weight(logits[i], logits[best], threshold, temperature);
        if (u < 0.0)
            return i;
    }
    return best; /* rounding left u at 0 */
}
