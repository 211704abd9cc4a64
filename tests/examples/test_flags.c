/* The examples' command lines at their edges: numbers that would wrap or
 * pass for "not given", sizes past the machine, thread counts past any use,
 * arguments a program would otherwise ignore, and a checkpoint whose epoch
 * count would overflow the next epoch. */
#include "run_example.h"

#include <tapegrad.h>

Test(flags, numbers_that_wrap_or_pass_for_defaults_are_refused)
{
    char dir[512];
    example_out_dir("flags_numbers", dir, sizeof dir);
    assert_refused("autocomplete_rnn", (const char *[]){ "--out", dir, "--lr", "nan", NULL },
                   "bad value 'nan' for option '--lr'");
    assert_refused("autocomplete_rnn", (const char *[]){ "--out", dir, "--temperature", "nan", NULL },
                   "bad value 'nan' for option '--temperature'");
    assert_refused("autocomplete_rnn", (const char *[]){ "--out", dir, "--temperature", "inf", NULL },
                   "bad value 'inf' for option '--temperature'");
    assert_refused("custom_layer", (const char *[]){ "--out", dir, "--lr", "-1", NULL },
                   "bad value '-1' for option '--lr'");
    assert_refused("stock_gru", (const char *[]){ "--out", dir, "--seed", "-1", NULL },
                   "bad value '-1' for option '--seed'");
    assert_refused("sentiment_lstm", (const char *[]){ "--out", dir, "--seed", "+5", NULL },
                   "bad value '+5' for option '--seed'");
    assert_refused("sentiment_lstm", (const char *[]){ "--out", dir, "--epochs", "99999999999", NULL },
                   "bad value '99999999999' for option '--epochs'");
    assert_refused("training_loop", (const char *[]){ "--seed", "-1", NULL }, "usage: training_loop");
}

Test(flags, programs_without_options_refuse_arguments)
{
    assert_refused("first_steps", (const char *[]){ "--bogus", NULL },
                   "first_steps: unknown option; first_steps takes no options");
    example_run run = run_example_expecting(0, "first_steps", (const char *[]){ "--help", NULL });
    cr_assert(strstr(run.output, "takes no options"), "%s", run.output);
    example_run_free(&run);
}

Test(flags, a_size_past_the_machine_is_refused_before_allocating)
{
    char dir[512];
    example_out_dir("flags_size", dir, sizeof dir);
    /* A failure to build is a failed run (status 1), not a bad flag. */
    example_run run = run_example("custom_layer", (const char *[]){ "--out", dir, "--hidden", "1000000000", NULL });
    cr_assert_eq(run.exit_code, 1, "%s", run.output);
    cr_assert(strstr(run.output, "custom_layer: cannot make the cells: model_add_parameter: the parameter "
                                 "\"mgu.weight_ih\" and its gradient need about 32.0 GB, more than this "
                                 "machine's"), "%s", run.output);
    example_run_free(&run);
}

Test(flags, thread_counts_past_the_cap_are_capped_and_said)
{
    char expected[128];
    snprintf(expected, sizeof expected, "--threads 100000 capped at %d (%d per core",
             tg_max_num_threads(), TG_MAX_THREADS_PER_CORE);
    /* An output directory that cannot be made stops the run once the
     * threads are set. */
    example_run run = run_example("stock_gru", (const char *[]){ "--out", "/dev/null/x", "--threads",
                                                                "100000", NULL });
    cr_assert_eq(run.exit_code, 2, "%s", run.output);
    cr_assert(strstr(run.output, expected), "no \"%s\" in:\n%s", expected, run.output);
    example_run_free(&run);
}

/* A checkpoint of sentiment_lstm whose epoch count is edited to `epoch`. */
static void edit_epoch(const char *path, const char *epoch)
{
    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_not_null(file, "%s", tg_error_message());
    int n = tg_safetensors_count(file), n_meta = tg_safetensors_metadata_count(file);
    tg_named_tensor *tensors = calloc((size_t)n, sizeof *tensors);
    tg_string_pair *meta = calloc((size_t)n_meta, sizeof *meta);
    for (int i = 0; i < n; i++)
        tensors[i] = (tg_named_tensor){ tg_safetensors_name(file, i), (tg_tensor *)tg_safetensors_tensor(file, i) };
    for (int i = 0; i < n_meta; i++) {
        meta[i].key = tg_safetensors_metadata_key(file, i);
        meta[i].value = strcmp(meta[i].key, "epoch") == 0 ? epoch : tg_safetensors_metadata_value(file, i);
    }
    cr_assert_eq(tg_safetensors_save(path, tensors, n, meta, n_meta), 0, "%s", tg_error_message());
    free(tensors);
    free(meta);
    tg_safetensors_free(file);
}

Test(flags, a_checkpoint_epoch_past_what_the_example_counts_is_refused)
{
    char dir[512], path[600];
    example_out_dir("flags_epoch", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/run.ckpt", dir);
    example_run run = run_example_expecting(0, "sentiment_lstm", (const char *[]){ "--quick", "--epochs", "1",
                                                                                  "--out", dir, "--save", path, NULL });
    example_run_free(&run);
    edit_epoch(path, "2147483647");
    assert_refused("sentiment_lstm", (const char *[]){ "--quick", "--out", dir, "--load", path, NULL },
                   "the checkpoint has trained for 2147483647 epochs, more than the 1000000000 this "
                   "program counts");
}
