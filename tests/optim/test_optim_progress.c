/* The progress bar's text, on a clock the tests move by hand. */
#include "optim_support.h"

#include <optim/progress.h>

TestSuite(optim_progress, .init = tg_test_setup, .fini = optim_fini);

static double now;
static double fake_clock(void) { return now; }

/* A memory stream and its text. */
typedef struct capture {
    FILE *f;
    char *text;
    size_t size;
} capture;

/* open_memstream keeps the addresses of text and size: c must stay put. */
static void capture_open(capture *c)
{
    *c = (capture){ 0 };
    c->f = open_memstream(&c->text, &c->size);
    cr_assert_not_null(c->f);
}

static void capture_close(capture *c) { fclose(c->f); }

Test(optim_progress, lines_when_not_a_terminal)
{
    capture out;
    capture_open(&out);
    now = 100;
    tg_progress *bar =
        tg_progress_new((tg_progress_config){ .total = 100, .out = out.f, .clock = fake_clock });
    cr_assert_not_null(bar, "%s", tg_error_message());
    for (int step = 1; step <= 100; step++) {
        now = 100 + 0.5 * step; /* two steps a second */
        tg_progress_update(bar, step, 1.0 / step);
    }
    tg_progress_finish(bar);
    tg_progress_free(bar);
    capture_close(&out);
    /* A line every 10 steps; at step 10: 10 steps in 5 s, 90 to go at 2/s. */
    const char *first = "step 10/100 (10%)  2.0 step/s  elapsed 0:05  eta 0:45  loss 0.1\n";
    cr_assert_eq(strncmp(out.text, first, strlen(first)), 0, "%s", out.text);
    cr_assert_not_null(strstr(out.text, "step 50/100 (50%)  2.0 step/s  elapsed 0:25  eta 0:25  loss 0.02\n"));
    const char *last = "step 100/100 (100%)  2.0 step/s  elapsed 0:50  eta 0:00  loss 0.01\n";
    cr_assert_str_eq(out.text + strlen(out.text) - strlen(last), last);
    int lines = 0;
    for (const char *p = out.text; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 10);
    cr_assert_null(strchr(out.text, '\r'));
    free(out.text);
}

Test(optim_progress, finish_prints_the_last_count_when_it_was_not_printed)
{
    capture out;
    capture_open(&out);
    now = 0;
    tg_progress *bar = tg_progress_new(
        (tg_progress_config){ .total = 25, .out = out.f, .clock = fake_clock, .unit = "batch" });
    for (int step = 1; step <= 25; step++) {
        now = step;
        tg_progress_update(bar, step, NAN);
    }
    tg_progress_finish(bar);
    tg_progress_finish(bar); /* a second finish does nothing */
    tg_progress_free(bar);
    capture_close(&out);
    /* every 25 / 10 = 2 batches: 2, 4, ..., 24, then 25 at the finish */
    int lines = 0;
    for (const char *p = out.text; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 13, "%s", out.text);
    const char *last = "batch 25/25 (100%)  1.0 batch/s  elapsed 0:25  eta 0:00\n";
    cr_assert_str_eq(out.text + strlen(out.text) - strlen(last), last);
    cr_assert_null(strstr(out.text, "loss"));
    free(out.text);
}

Test(optim_progress, terminal_redraws_in_place_at_most_every_interval)
{
    capture out;
    capture_open(&out);
    now = 0;
    tg_progress *bar = tg_progress_new((tg_progress_config){ .total = 4,
                                                            .out = out.f,
                                                            .clock = fake_clock,
                                                            .mode = TG_PROGRESS_TERMINAL,
                                                            .width = 8,
                                                            .redraw_seconds = 1 });
    double times[] = { 0.5, 1.0, 1.6, 1.7 };
    for (int step = 1; step <= 4; step++) {
        now = times[step - 1];
        tg_progress_update(bar, step, 4 - step);
    }
    tg_progress_finish(bar);
    tg_progress_free(bar);
    capture_close(&out);
    /* step 1 (the first), not 2 (0.5 s later), 3 (1.1 s later), 4 (the end):
     * at step 3, 3 steps in 1.6 s = 1.875/s, 1 to go in 0.53 s. */
    cr_assert_str_eq(out.text,
                     "\rstep 1/4 [##------]  25% | 2.0 step/s | 0:00 < 0:01 | loss 3\033[K"
                     "\rstep 3/4 [######--]  75% | 1.9 step/s | 0:01 < 0:00 | loss 1\033[K"
                     "\rstep 4/4 [########] 100% | 2.4 step/s | 0:01 < 0:00 | loss 0\033[K\n");
    free(out.text);
}

Test(optim_progress, unknown_total_slow_steps_and_hours)
{
    capture out;
    capture_open(&out);
    now = 0;
    tg_progress *bar = tg_progress_new(
        (tg_progress_config){ .out = out.f, .clock = fake_clock, .unit = "epoch", .every = 2 });
    for (int epoch = 1; epoch <= 2; epoch++) {
        now = 4000.0 * epoch;
        tg_progress_update(bar, epoch, 0.5);
    }
    tg_progress_finish(bar);
    tg_progress_free(bar);
    capture_close(&out);
    cr_assert_str_eq(out.text, "epoch 2  4000.0 s/epoch  elapsed 2:13:20  loss 0.5\n");
    free(out.text);

    capture_open(&out);
    bar = tg_progress_new((tg_progress_config){ .out = out.f, .clock = fake_clock,
                                                .mode = TG_PROGRESS_TERMINAL });
    now += 2;
    tg_progress_update(bar, 7, 1.25);
    tg_progress_free(bar);
    capture_close(&out);
    cr_assert_str_eq(out.text, "\rstep 7 | 3.5 step/s | 0:02 | loss 1.25\033[K");
    free(out.text);
}

Test(optim_progress, bad_config_and_null)
{
    cr_assert_null(tg_progress_new((tg_progress_config){ .total = -1 }));
    tg_assert_error("progress_new: total, width, redraw_seconds and every must be >= 0");
    tg_progress_update(NULL, 1, 0);
    tg_progress_finish(NULL);
    tg_progress_free(NULL);
}
