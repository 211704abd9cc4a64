/*
 * tests/support.h: helpers shared by the Criterion tests.
 */
#ifndef TG_TEST_SUPPORT_H
#define TG_TEST_SUPPORT_H

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include <tapegrad.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#include <stdlib.h>
#endif

/* Every test starts with no error and ends with its graph freed. */
static inline void tg_test_setup(void) { tg_error_clear(); }
static inline void tg_test_teardown(void)
{
    tg_graph_release();
#if defined(__SANITIZE_ADDRESS__)
    /* Criterion passes a test whose process reports a leak at exit; a
     * crash in teardown fails the program instead. */
    if (__lsan_do_recoverable_leak_check())
        abort();
#endif
}

/* The committed fixture tests/fixtures/<relative>, e.g. "hvp/rnn.safetensors"
 * (the test fails when it cannot be read). */
static inline tg_safetensors *tg_test_load_fixture(const char *relative)
{
    char path[1024];
    const char *here = __FILE__; /* .../tests/support.h */
    const char *slash = strrchr(here, '/');
    snprintf(path, sizeof path, "%.*s/fixtures/%s", slash ? (int)(slash - here) : 1, slash ? here : ".",
             relative);
    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_not_null(file, "%s", tg_error_message());
    return file;
}

/* An owned tensor holding values (row-major) that requires a gradient. */
static inline tg_tensor *tg_test_owned_leaf(tg_shape shape, const float *values)
{
    tg_tensor *t = tg_tensor_from_array(shape, values);
    cr_assert_not_null(t, "%s", tg_error_message());
    cr_assert_eq(tg_set_requires_grad(t, true), 0, "%s", tg_error_message());
    return t;
}

/* Asserts that t (any layout) holds `expected` (row-major) within tol,
 * relative to max(1, |expected|). */
#define tg_assert_values(t, expected, n, tol)                                                  \
    do {                                                                                       \
        const tg_tensor *t_ = (t);                                                             \
        cr_assert_not_null(t_, "tensor is NULL: %s", tg_error_message());                     \
        cr_assert_eq(t_->numel, (int64_t)(n), "numel %lld, expected %lld",                    \
                     (long long)t_->numel, (long long)(n));                                    \
        float got_[t_->numel > 0 ? t_->numel : 1];                                              \
        tg_tensor_to_array(t_, got_);                                                           \
        for (int64_t i_ = 0; i_ < t_->numel; i_++) {                                           \
            float e_ = (expected)[i_];                                                         \
            float scale_ = fabsf(e_) > 1.0f ? fabsf(e_) : 1.0f;                               \
            cr_assert(got_[i_] == e_ || (isfinite(e_) && fabsf(got_[i_] - e_) <= (tol) * scale_) || \
                          (isnan(e_) && isnan(got_[i_])),                                      \
                      "element %lld: got %.7g, expected %.7g", (long long)i_, got_[i_], e_);   \
        }                                                                                      \
    } while (0)

/* An int64 tensor's elements, exactly, in row-major order. */
#define tg_assert_int64_values(t, expected, n)                                                 \
    do {                                                                                       \
        const tg_tensor *t_ = (t);                                                             \
        cr_assert_not_null(t_, "tensor is NULL: %s", tg_error_message());                     \
        cr_assert_eq(t_->dtype, TG_INT64, "dtype %s, expected int64", tg_dtype_name(t_->dtype)); \
        cr_assert_eq(t_->numel, (int64_t)(n), "numel %lld, expected %lld",                    \
                     (long long)t_->numel, (long long)(n));                                    \
        int64_t got_[t_->numel > 0 ? t_->numel : 1];                                            \
        cr_assert_eq(tg_tensor_to_int64_array(t_, got_), 0, "%s", tg_error_message());         \
        for (int64_t i_ = 0; i_ < t_->numel; i_++)                                             \
            cr_assert_eq(got_[i_], (int64_t)(expected)[i_], "element %lld: got %lld, expected %lld", \
                         (long long)i_, (long long)got_[i_], (long long)(expected)[i_]);       \
    } while (0)

#define tg_assert_shape(t, ...)                                                                 \
    do {                                                                                       \
        tg_shape s_ = TG_SHAPE(__VA_ARGS__);                                                   \
        char b_[TG_SHAPE_STR_MAX];                                                             \
        cr_assert(tg_shape_equal(tg_tensor_shape(t), s_), "shape %s",                        \
                  tg_shape_format(b_, sizeof b_, (t)));                                        \
    } while (0)

/* Asserts that the recorded error message contains `fragment`. */
#define tg_assert_error(fragment)                                                              \
    do {                                                                                       \
        cr_assert(tg_error_occurred(), "expected an error containing \"%s\"", (fragment));    \
        cr_assert(strstr(tg_error_message(), (fragment)) != NULL,                             \
                  "error \"%s\" does not contain \"%s\"", tg_error_message(), (fragment));     \
    } while (0)

#endif
