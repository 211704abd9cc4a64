#include "tensor/rng.h"

#include <math.h>

#include "tensor/error.h"

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void tg_rng_seed(tg_rng *rng, uint64_t seed)
{
    if (!rng) {
        tg_error_null_input("rng_seed");
        return;
    }
    uint64_t state = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&state);
}

tg_rng tg_rng_new(uint64_t seed)
{
    tg_rng rng;
    tg_rng_seed(&rng, seed);
    return rng;
}

bool tg_rng_state_valid(const tg_rng *rng)
{
    return rng && (rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) != 0;
}

uint64_t tg_rng_next_u64(tg_rng *rng)
{
    if (!rng) {
        tg_error_null_input("rng_next_u64");
        return 0;
    }
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double tg_rng_uniform(tg_rng *rng)
{
    return (double)(tg_rng_next_u64(rng) >> 11) * 0x1.0p-53;
}

/* One Box-Muller pair. u1 is kept away from 0 so log() stays finite. */
static void normal_pair(tg_rng *rng, double *a, double *b)
{
    double u1 = 1.0 - tg_rng_uniform(rng); /* (0, 1] */
    double u2 = tg_rng_uniform(rng);
    double r = sqrt(-2.0 * log(u1));
    double theta = 6.283185307179586477 * u2; /* 2 pi */
    *a = r * cos(theta);
    *b = r * sin(theta);
}

double tg_rng_normal(tg_rng *rng)
{
    if (!rng) {
        tg_error_null_input("rng_normal");
        return 0;
    }
    double a, b;
    normal_pair(rng, &a, &b);
    return a;
}

int64_t tg_rng_below(tg_rng *rng, int64_t n)
{
    if (!rng) {
        tg_error_null_input("rng_below");
        return 0;
    }
    if (n <= 0)
        return 0;
    uint64_t range = (uint64_t)n;
    uint64_t limit = UINT64_MAX - UINT64_MAX % range; /* reject the biased tail */
    uint64_t x;
    do
        x = tg_rng_next_u64(rng);
    while (x >= limit);
    return (int64_t)(x % range);
}

void tg_rng_shuffle(tg_rng *rng, int64_t *values, int64_t n)
{
    if (!rng || (!values && n > 0)) {
        tg_error_null_input("rng_shuffle");
        return;
    }
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = tg_rng_below(rng, i + 1);
        int64_t t = values[i];
        values[i] = values[j];
        values[j] = t;
    }
}

void tg_rng_fill_uniform(tg_rng *rng, float *out, int64_t n, float low, float high)
{
    if (!rng || (!out && n > 0)) {
        tg_error_null_input("rng_fill_uniform");
        return;
    }
    double width = (double)high - (double)low;
    for (int64_t i = 0; i < n; i++)
        out[i] = (float)(low + width * tg_rng_uniform(rng));
}

void tg_rng_fill_normal(tg_rng *rng, float *out, int64_t n, float mean, float std)
{
    if (!rng || (!out && n > 0)) {
        tg_error_null_input("rng_fill_normal");
        return;
    }
    for (int64_t i = 0; i < n; i += 2) {
        double a, b;
        normal_pair(rng, &a, &b);
        out[i] = (float)(mean + std * a);
        if (i + 1 < n)
            out[i + 1] = (float)(mean + std * b);
    }
}

void tg_rng_fill_bernoulli(tg_rng *rng, float *out, int64_t n, float p)
{
    if (!rng || (!out && n > 0)) {
        tg_error_null_input("rng_fill_bernoulli");
        return;
    }
    for (int64_t i = 0; i < n; i++)
        out[i] = tg_rng_uniform(rng) < (double)p ? 1.0f : 0.0f;
}

static _Thread_local tg_rng default_rng;
static _Thread_local int default_rng_seeded;

tg_rng *tg_rng_default(void)
{
    if (!default_rng_seeded) {
        tg_rng_seed(&default_rng, 0);
        default_rng_seeded = 1;
    }
    return &default_rng;
}

void tg_manual_seed(uint64_t seed)
{
    tg_rng_seed(&default_rng, seed);
    default_rng_seeded = 1;
}
