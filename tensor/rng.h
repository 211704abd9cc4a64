/*
 * tensor/rng.h: a seedable random number generator (xoshiro256**).
 *
 * Who it is for: every user (tapegrad.h includes it).
 *
 * Same seed, same numbers, on every machine and thread count: tensors are
 * filled in row-major order by one thread. Normal variates use Box-Muller in
 * double precision.
 *
 * Generators are explicit values; each thread also has a default one,
 * seeded with tg_manual_seed (like torch.manual_seed), for code that does not
 * pass its own.
 *
 * A NULL generator (or a NULL array with n > 0) records an error naming the
 * function and does nothing: the number functions then return 0.
 */
#ifndef TG_RNG_H
#define TG_RNG_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_rng {
    uint64_t s[4];
} tg_rng;

tg_rng tg_rng_new(uint64_t seed);
void tg_rng_seed(tg_rng *rng, uint64_t seed);
uint64_t tg_rng_next_u64(tg_rng *rng);
/* False for NULL and for the all-zero state, which xoshiro never leaves
 * (it would return 0 forever); tg_rng_seed never makes it. */
bool tg_rng_state_valid(const tg_rng *rng);
/* Uniform in [0, 1). */
double tg_rng_uniform(tg_rng *rng);
/* Standard normal. */
double tg_rng_normal(tg_rng *rng);
/* Uniform integer in [0, n); 0 when n <= 0. Unbiased. */
int64_t tg_rng_below(tg_rng *rng, int64_t n);
/* Fisher-Yates shuffle of n indices. */
void tg_rng_shuffle(tg_rng *rng, int64_t *values, int64_t n);

void tg_rng_fill_uniform(tg_rng *rng, float *out, int64_t n, float low, float high);
void tg_rng_fill_normal(tg_rng *rng, float *out, int64_t n, float mean, float std);
void tg_rng_fill_bernoulli(tg_rng *rng, float *out, int64_t n, float p);

/* This thread's default generator (seed 0 until tg_manual_seed). */
tg_rng *tg_rng_default(void);
void tg_manual_seed(uint64_t seed);

#ifdef __cplusplus
}
#endif

#endif
