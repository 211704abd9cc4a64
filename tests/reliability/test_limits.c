/* Limits: an LSTM over 10,000 steps and a softmax over 200,000 words train
 * within the memory predicted beforehand from two short runs, and an
 * allocation that the system refuses is an error, never a crash. */
#include "reliability.h"

#include <sys/resource.h>

#include "recurrent_run.h"

/* Under AddressSanitizer a refused allocation must return NULL (as malloc
 * does) rather than end the program, for the out-of-memory test. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

TestSuite(limits, .init = rel_setup, .fini = rel_teardown, .timeout = 600);

/* ---- Memory predicted, then used --------------------------------------------------- */

/* One training step's forward and backward at size n (sequence length or
 * vocabulary); the graph is left for the caller to measure and reset. */
typedef int (*step_fn)(int64_t n);

/* The arena bytes a step at size n uses. */
static size_t arena_bytes(step_fn step, int64_t n)
{
    cr_assert_eq(step(n), 0, "size %lld: %s", (long long)n, tg_error_message());
    size_t used = tg_arena_used(tg_arena_thread());
    tg_graph_reset();
    return used;
}

/* Predicts the arena of a step at size `big` from steps at sizes small and
 * 2 small (the arena grows linearly with either), reports it, runs the
 * step twice and checks the prediction. */
static void check_prediction(const char *what, step_fn step, int64_t small, int64_t big)
{
    size_t a = arena_bytes(step, small), b = arena_bytes(step, 2 * small);
    double per_unit = (double)(b - a) / (double)small;
    double predicted = (double)a + per_unit * (double)(big - small);
    fprintf(stderr, "limits: %s: predicted %.1f MiB of graph memory (%.0f bytes per unit)\n",
            what, predicted / 1048576, per_unit);
    size_t used = arena_bytes(step, big);
    size_t reserved = tg_arena_reserved(tg_arena_thread());
    size_t again = arena_bytes(step, big);
    fprintf(stderr, "limits: %s: used %.1f MiB, %.1f MiB held by the arena\n", what,
            (double)used / 1048576, (double)tg_arena_reserved(tg_arena_thread()) / 1048576);
    /* Within the prediction; below it by at most the chunks' unused ends. */
    cr_assert(used >= 0.75 * predicted && used <= 1.05 * predicted + 1048576,
              "%s: used %zu bytes, predicted %.0f", what, used, predicted);
    cr_assert_eq(again, used, "%s: a second step used another amount", what);
    cr_assert_eq(tg_arena_reserved(tg_arena_thread()), reserved,
                 "%s: the arena grew on the second step", what);
    /* Chunks double, so the arena holds at most about twice what it hands out. */
    cr_assert_leq(reserved, 2 * used + 2 * 1048576, "%s: %zu bytes reserved", what, reserved);
}

enum { LSTM_BATCH = 2, LSTM_INPUT = 4, LSTM_HIDDEN = 32 };

static tg_model *lstm_model;
static tg_lstm *the_lstm;

static int lstm_step(int64_t steps)
{
    tg_model_zero_grad(lstm_model);
    tg_tensor *x = tg_randn(TG_SHAPE(steps, LSTM_BATCH, LSTM_INPUT), tg_rng_default());
    tg_rnn_result r = tg_lstm_forward(the_lstm, x, NULL);
    tg_tensor *loss = tg_mean_all(tg_square(r.output));
    if (!loss || tg_backward(loss) != 0)
        return -1;
    return isfinite(tg_tensor_item(loss)) ? 0 : tg_error_set("lstm_step: the loss is not finite");
}

Test(limits, an_lstm_over_10000_steps_uses_the_memory_predicted)
{
    lstm_model = tg_model_new(1);
    the_lstm = tg_lstm_new(lstm_model, "lstm",
                           (tg_rnn_config){ .input = LSTM_INPUT, .hidden = LSTM_HIDDEN });
    check_prediction("LSTM, T = 10000, B = 2, hidden 32", lstm_step, 250, 10000);
    cr_assert_not_null(tg_grad(tg_model_find(lstm_model, "lstm.weight_hh_l0")));
    tg_model_free(lstm_model);
}

enum { WORDS = 8, EMBEDDING = 16 };

static tg_model *vocab_model;

/* A model per vocabulary size V (its parameters, values and gradients,
 * take 4 (2 V 16 + V) bytes twice, outside the graph): embedding [V, 16],
 * then logits over V words and their cross-entropy, for 8 words. */
static int vocabulary_step(int64_t words)
{
    tg_model_free(vocab_model);
    vocab_model = tg_model_new(2);
    tg_embedding *embedding = tg_embedding_new(vocab_model, "emb",
                                               (tg_embedding_config){ .count = words, .dim = EMBEDDING });
    tg_linear *output = tg_linear_new(vocab_model, "out",
                                      (tg_linear_config){ .input = EMBEDDING, .output = words });
    float ids[WORDS], next[WORDS];
    for (int i = 0; i < WORDS; i++) {
        ids[i] = (float)((i * 7919) % words);
        next[i] = (float)((i * 104729 + 1) % words);
    }
    tg_tensor *h = tg_embedding_forward(embedding, tg_from_array(TG_SHAPE(WORDS), ids));
    tg_tensor *loss = tg_cross_entropy(tg_linear_forward(output, h),
                                       tg_from_array(TG_SHAPE(WORDS), next), NULL);
    return loss ? tg_backward(loss) : -1;
}

Test(limits, a_softmax_over_200000_words_uses_the_memory_predicted)
{
    /* The graph memory grows with V (logits, softmax, their gradients). */
    check_prediction("vocabulary of 200000 words, 8 words a step", vocabulary_step, 10000, 200000);
    cr_assert_eq(tg_model_numel(vocab_model), 200000 * EMBEDDING * 2 + 200000);
    cr_assert_not_null(tg_grad(tg_model_find(vocab_model, "out.weight")));
    tg_model_free(vocab_model);
}

/* ---- Refused allocations ---------------------------------------------------------------- */

/* The process's address space now, from /proc/self/status (VmSize, kB). */
static size_t address_space_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %zu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

/* With the address space capped 256 MiB above what the process has: a
 * 1 GiB owned tensor, a 1 GiB graph tensor and an LSTM whose graph needs
 * more than 1 GiB each fail with a message; then small work goes on. */
static void allocations_refused(rel_report *report, void *arg)
{
    (void)arg;
    size_t limit = address_space_bytes() + (256u << 20);
    struct rlimit cap = { .rlim_cur = limit, .rlim_max = limit };
    if (limit <= (256u << 20) || setrlimit(RLIMIT_AS, &cap) != 0) {
        rel_note(report, "cannot cap the address space");
        return;
    }
    tg_tensor *big = tg_tensor_zeros(TG_SHAPE(1 << 28));
    rel_note(report, "owned: %s: %s", big ? "allocated" : "NULL", tg_error_message());
    tg_tensor_free(big);
    tg_error_clear();
    tg_tensor *graph = tg_zeros(TG_SHAPE(1 << 28));
    rel_note(report, "graph: %s: %s", graph ? "allocated" : "NULL", tg_error_message());
    tg_error_clear();

    tg_model *model = tg_model_new(1);
    tg_lstm *lstm = tg_lstm_new(model, "lstm", (tg_rnn_config){ .input = 64, .hidden = 256 });
    tg_tensor *x = tg_zeros(TG_SHAPE(100000, 4, 64)); /* 100 MiB; the gates need 1.6 GiB */
    tg_rnn_result r = tg_lstm_forward(lstm, x, NULL);
    rel_note(report, "lstm: %s: %s", r.output ? "ran" : "NULL", tg_error_message());
    tg_graph_reset();
    tg_error_clear();

    r = tg_lstm_forward(lstm, tg_zeros(TG_SHAPE(10, 4, 64)), NULL);
    tg_tensor *loss = tg_mean_all(r.output);
    bool ran = loss && tg_backward(loss) == 0;
    rel_note(report, "after: %s", ran ? "a small step runs" : tg_error_message());
    tg_model_free(model);
    tg_graph_release();
}

Test(limits, a_refused_allocation_is_an_error_not_a_crash)
{
    rel_report report = rel_in_child(allocations_refused, NULL);
    rel_assert_reported(report, "owned: NULL: tensor_full: out of memory for 268435456 elements");
    cr_assert(strstr(report.text, "graph: NULL: arena: out of memory allocating 10737"), "%s",
              report.text);
    cr_assert(strstr(report.text, "lstm: NULL: arena: out of memory allocating "), "%s", report.text);
    rel_assert_reported(report, "after: a small step runs");
}
