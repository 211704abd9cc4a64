/*
 * tests/optim/optim_support.h: fixture paths, a scratch directory and
 * model helpers for the optim tests.
 */
#ifndef TG_TEST_OPTIM_SUPPORT_H
#define TG_TEST_OPTIM_SUPPORT_H

#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700 /* nftw */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scratch.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include <optim/optimizer.h>

/* The committed fixture tests/fixtures/optim/<name>. */
static inline const char *optim_fixture(const char *name)
{
    static char path[512];
    const char *here = __FILE__; /* .../tests/optim/optim_support.h */
    const char *slash = strrchr(here, '/');
    snprintf(path, sizeof path, "%.*s/../fixtures/optim/%s", slash ? (int)(slash - here) : 1,
             slash ? here : ".", name);
    return path;
}

/* The end of every optim test: the graph freed, and no leak. Criterion
 * passes a test whose process reports a leak at exit; a crash in teardown
 * fails it instead. */
static inline void optim_fini(void)
{
    tg_test_teardown();
#if defined(__SANITIZE_ADDRESS__)
    if (__lsan_do_recoverable_leak_check())
        abort();
#endif
}

/* Each test runs in its own process; this is its scratch directory. */
static char optim_dir[64];

static inline void optim_setup(void)
{
    tg_test_setup();
    strcpy(optim_dir, "/tmp/tg_optim_test_XXXXXX");
    scratch_make(optim_dir);
}

static inline void optim_teardown(void)
{
    scratch_remove(optim_dir);
    optim_fini();
}

/* A path in the scratch directory (see scratch_path). */
static inline const char *optim_path(const char *name) { return scratch_path(optim_dir, name); }

/* Gives p the gradient g (p's shape, row-major), or none when g is NULL:
 * the gradient of sum(p * g) with respect to p is exactly g. */
static inline void optim_set_grad(tg_tensor *p, const tg_tensor *g)
{
    tg_zero_grad(p);
    if (!g)
        return;
    tg_tensor *c = tg_copy_to_graph(g);
    cr_assert_eq(tg_backward(tg_sum_all(tg_mul(p, c))), 0, "%s", tg_error_message());
    tg_graph_reset();
}

/* An optimizer and its configuration, as a test parameter. Criterion
 * hands parameters to the test process by value: no pointers inside. */
typedef enum { SGD, ADAM, ADAMW, RMSPROP, ADAGRAD } optim_kind;

typedef struct optim_case {
    char name[32];
    optim_kind kind;
    tg_sgd_config sgd;
    tg_adam_config adam;
    tg_rmsprop_config rmsprop;
    tg_adagrad_config adagrad;
} optim_case;

static inline tg_optimizer *optim_make(const optim_case *c, tg_model *model)
{
    switch (c->kind) {
    case SGD: return tg_sgd_new(model, c->sgd);
    case ADAM: return tg_adam_new(model, c->adam);
    case ADAMW: return tg_adamw_new(model, c->adam);
    case RMSPROP: return tg_rmsprop_new(model, c->rmsprop);
    default: return tg_adagrad_new(model, c->adagrad);
    }
}

#endif
