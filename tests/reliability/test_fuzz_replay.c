/* The fuzz targets' inputs, replayed in every build: each committed seed
 * (tests/fuzz/corpus/<target>) and each input that once broke a reader
 * (tests/fuzz/regressions/<target>) goes through the same check as under
 * libFuzzer (tests/fuzz/fuzz_checks.h), which must find nothing wrong. */
#include "reliability.h"

#include <criterion/parameterized.h>

#include "fuzz/fuzz_checks.h"

TestSuite(fuzz_replay, .init = rel_setup, .fini = rel_teardown);

typedef struct replay_case {
    char target[24];
} replay_case;

static const char *(*check_of(const char *target))(const uint8_t *, size_t)
{
    if (strcmp(target, "safetensors") == 0)
        return fuzz_safetensors;
    if (strcmp(target, "csv") == 0)
        return fuzz_csv;
    if (strcmp(target, "text") == 0)
        return fuzz_text;
    if (strcmp(target, "checkpoint_meta") == 0)
        return fuzz_checkpoint_meta;
    if (strcmp(target, "save_path") == 0)
        return fuzz_save_path;
    return fuzz_vocab;
}

/* tests/fuzz/<kind>/<target>, from this file's path. */
static const char *fuzz_dir(const char *kind, const char *target)
{
    static char path[512];
    const char *here = __FILE__; /* .../tests/reliability/test_fuzz_replay.c */
    const char *slash = strrchr(here, '/');
    snprintf(path, sizeof path, "%.*s/../fuzz/%s/%s", slash ? (int)(slash - here) : 1,
             slash ? here : ".", kind, target);
    return path;
}

/* Replays every file of dir (none when it does not exist); returns how
 * many there were. */
static int replay_dir(const char *dir, const char *(*check)(const uint8_t *, size_t))
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t size;
        unsigned char *bytes = read_whole_file(path, &size);
        cr_assert_not_null(bytes, "cannot read %s", path);
        const char *problem = check(bytes, size);
        cr_assert_null(problem, "%s: %s (error: %s)", path, problem, tg_error_message());
        free(bytes);
        tg_graph_reset();
        n++;
    }
    closedir(d);
    return n;
}

ParameterizedTestParameters(fuzz_replay, every_seed_and_regression_input_passes)
{
    static replay_case cases[] = { { "safetensors" }, { "csv" },    { "text" },
                                   { "vocab" },       { "checkpoint_meta" }, { "save_path" } };
    return cr_make_param_array(replay_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(replay_case *c, fuzz_replay, every_seed_and_regression_input_passes)
{
    int seeds = replay_dir(fuzz_dir("corpus", c->target), check_of(c->target));
    cr_assert_geq(seeds, 2, "%s: only %d seeds in %s", c->target, seeds,
                  fuzz_dir("corpus", c->target));
    replay_dir(fuzz_dir("regressions", c->target), check_of(c->target));
}

/* The checks are not vacuous: a reader that loaded a bad file, or refused
 * one without a message, is caught. */
Test(fuzz_replay, the_checks_catch_a_refusal_without_a_message)
{
    tg_error_clear();
    cr_assert_str_eq(fuzz_refused_with("csv_read: fuzz: "),
                     "the input was refused without an error message");
    tg_error_set("csv_read: other: line 1: bad");
    cr_assert_str_eq(fuzz_refused_with("csv_read: fuzz: "),
                     "the error message does not start with the reader's name and the input's label");
}

/* The metadata seed of a whole checkpoint is restored, not refused: the
 * target reaches the parsing of every field. */
Test(fuzz_replay, the_checkpoint_metadata_seed_restores_every_field)
{
    size_t size;
    char path[600];
    snprintf(path, sizeof path, "%s/adam_step3.txt", fuzz_dir("corpus", "checkpoint_meta"));
    unsigned char *bytes = read_whole_file(path, &size);
    cr_assert_not_null(bytes, "cannot read %s", path);
    cr_assert_null(fuzz_checkpoint_meta(bytes, size));
    cr_assert_eq(tg_rng_default()->s[0], 0x0123456789abcdefu, "the seed was not restored");
    free(bytes);
}

/* Each input that broke a reader is now refused, for the right reason. */
Test(fuzz_replay, the_regression_inputs_are_refused_with_their_reasons)
{
    static const struct {
        const char *target, *file, *error;
    } known[] = {
        /* an empty tensor whose other sizes overflowed the strides */
        { "safetensors", "empty_tensor_huge_sizes.safetensors",
          "safetensors_load: fuzz: tensor \"x\"" },
        /* NUL bytes cut a sentence short without a word */
        { "text", "sentence_with_nul_bytes.txt",
          "sentences_read: fuzz: line 2: a NUL byte (text files hold none)" },
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", fuzz_dir("regressions", known[i].target),
                 known[i].file);
        size_t size;
        unsigned char *bytes = read_whole_file(path, &size);
        cr_assert_not_null(bytes, "cannot read %s", path);
        cr_assert_null(check_of(known[i].target)(bytes, size), "%s", tg_error_message());
        tg_assert_error(known[i].error);
        free(bytes);
    }
}
