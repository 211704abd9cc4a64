#include "notebook.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const nb_option *find_option(const nb_option *options, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(options[i].name, name) == 0)
            return &options[i];
    return NULL;
}

static void print_help(const char *program, const char *summary, const nb_option *options, int n)
{
    printf("%s: %s\n\nOptions:\n", program, summary);
    for (int i = 0; i < n; i++)
        printf("  --%-14s %s\n", options[i].name, options[i].help);
    printf("  --%-14s %s\n", "help", "show this help");
}

/* Stores a flag's value; false when it does not parse. */
static bool set_value(const nb_option *o, const char *value)
{
    char *end = NULL;
    errno = 0;
    switch (o->kind) {
    case NB_FLAG:
        *(bool *)o->target = true;
        return true;
    case NB_INT: {
        long v = strtol(value, &end, 10);
        if (value[0] < '0' || value[0] > '9' || errno || *end || v > NB_INT_MAX)
            return false;
        *(int *)o->target = (int)v;
        return true;
    }
    case NB_FLOAT: {
        /* Every float flag is a rate, probability, scale or temperature:
         * NaN, infinities and negatives are refused here, so that "nan"
         * cannot pass for "not given". */
        float v = strtof(value, &end);
        if (errno || end == value || *end || !isfinite(v) || v < 0)
            return false;
        *(float *)o->target = v;
        return true;
    }
    case NB_STRING:
        if (!value[0])
            return false;
        *(const char **)o->target = value;
        return true;
    }
    return false;
}

/* mkdir -p for the output directory. */
static int make_directories(const char *path)
{
    char buf[1024];
    if (strlen(path) >= sizeof buf)
        return -1;
    strcpy(buf, path);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return -1;
            *p = saved;
            if (!saved)
                return 0;
        }
    }
}

int nb_parse(int argc, char **argv, const char *program, const char *summary, nb_common *common,
             const nb_option *own, int n_own)
{
    static char default_out[256];
    int seed = 1;
    *common = (nb_common){ .seed = 1 };
    snprintf(default_out, sizeof default_out, "out/%s", program);
    common->out = default_out;
    enum { COMMON = 10, MAX_OPTIONS = 48 };
    nb_option all[MAX_OPTIONS] = {
        { "quick", NB_FLAG, &common->quick, "run for a few seconds (used by the tests)" },
        { "seed", NB_INT, &seed, "random seed (default 1)" },
        { "threads", NB_INT, &common->threads, "threads to compute with (default: all cores)" },
        { "epochs", NB_INT, &common->epochs, "passes over the training data" },
        { "steps", NB_INT, &common->steps, "training steps" },
        { "data", NB_STRING, &common->data, "the dataset file (default: the example's own)" },
        { "out", NB_STRING, &common->out, "directory for PNG and CSV outputs (default out/<example>)" },
        { "save", NB_STRING, &common->save, "write a checkpoint here at the end" },
        { "load", NB_STRING, &common->load, "start from this checkpoint" },
        { "eval", NB_FLAG, &common->eval, "with --load: evaluate that model on --data, without training" },
    };
    int n = COMMON;
    for (int i = 0; i < n_own && n < MAX_OPTIONS; i++)
        all[n++] = own[i];

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help(program, summary, all, n);
            return 1;
        }
        const nb_option *o = strncmp(arg, "--", 2) == 0 ? find_option(all, n, arg + 2) : NULL;
        if (!o) {
            fprintf(stderr, "%s: unknown option '%s' (try --help)\n", program, arg);
            return 2;
        }
        const char *value = NULL;
        if (o->kind != NB_FLAG) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: option '%s' needs a value\n", program, arg);
                return 2;
            }
            value = argv[++i];
        }
        if (!set_value(o, value)) {
            fprintf(stderr, "%s: bad value '%s' for option '%s'\n", program, value, arg);
            return 2;
        }
    }
    common->seed = (uint64_t)seed;
    if (common->eval && !common->load) {
        fprintf(stderr, "%s: --eval evaluates a saved model: give it with --load PATH\n", program);
        return 2;
    }
    if (common->eval && common->save) {
        fprintf(stderr, "%s: --eval trains nothing, so there is nothing to --save\n", program);
        return 2;
    }
    if (common->threads > 0 && tg_set_num_threads(common->threads) < common->threads)
        fprintf(stderr, "%s: --threads %d capped at %d (%d per core: more only wait for each other)\n",
                program, common->threads, tg_get_num_threads(), TG_MAX_THREADS_PER_CORE);
    if (make_directories(common->out) != 0) {
        fprintf(stderr, "%s: cannot create the output directory '%s': %s\n", program, common->out,
                strerror(errno));
        return 2;
    }
    return 0;
}

const char *nb_out_path(const nb_common *common, const char *file, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", common->out, file);
    return out;
}

static void print_wrapped(const char *text, int indent)
{
    const int width = 78;
    int column = 0;
    const char *p = text;
    while (*p) {
        if (*p == '\n') {
            fputc('\n', stdout);
            column = 0;
            p++;
            continue;
        }
        const char *word_end = p;
        while (*word_end && *word_end != ' ' && *word_end != '\n')
            word_end++;
        int length = (int)(word_end - p);
        if (column > indent && column + 1 + length > width) {
            fputc('\n', stdout);
            column = 0;
        }
        if (column == 0) {
            printf("%*s", indent, "");
            column = indent;
        } else {
            fputc(' ', stdout);
            column++;
        }
        fwrite(p, 1, (size_t)length, stdout);
        column += length;
        p = word_end;
        while (*p == ' ')
            p++;
    }
    if (column > 0)
        fputc('\n', stdout);
}

void nb_section(int number, const char *title, const char *text)
{
    printf("\n## %d. %s\n\n", number, title);
    if (text && text[0]) {
        print_wrapped(text, 0);
        fputc('\n', stdout);
    }
    fflush(stdout);
}

void nb_text(const char *text)
{
    print_wrapped(text, 0);
    fflush(stdout);
}

void nb_wrote(const char *path, const char *what)
{
    printf("  wrote %s (%s)\n", path, what);
    fflush(stdout);
}

int nb_fail(const char *program, const char *message)
{
    fprintf(stderr, "%s: %s%s%s\n", program, message, tg_error_occurred() ? ": " : "",
            tg_error_message());
    return 1;
}

int nb_save_checkpoint(const char *program, const nb_common *common, const tg_checkpoint *ck,
                       const char *what)
{
    if (!common->save)
        return 0;
    if (tg_checkpoint_save(common->save, ck) != 0)
        return nb_fail(program, "cannot save the checkpoint");
    nb_wrote(common->save, what);
    return 0;
}

int nb_resume_epochs(const char *program, const nb_common *common, tg_model *model,
                     tg_optimizer *optimizer, int *trained_epochs)
{
    *trained_epochs = 0;
    if (!common->load)
        return 0;
    tg_checkpoint ck = { .model = model, .optimizer = optimizer };
    if (tg_checkpoint_load(common->load, &ck) != 0) {
        fprintf(stderr, "%s: %s\n", program, tg_error_message());
        return 2;
    }
    /* Epoch numbers are ints here: leave room for --epochs more. */
    if (ck.epoch > NB_INT_MAX) {
        fprintf(stderr, "%s: %s: the checkpoint has trained for %lld epochs, more than the %d this "
                "program counts\n", program, common->load, (long long)ck.epoch, NB_INT_MAX);
        return 2;
    }
    *trained_epochs = (int)ck.epoch;
    printf("    started from %s (trained for %d epochs)\n", common->load, *trained_epochs);
    return 0;
}

double nb_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void nb_part_rows(int rows, int part, int parts, int *begin, int *end)
{
    *begin = (int)((int64_t)rows * part / parts);
    *end = (int)((int64_t)rows * (part + 1) / parts);
}

int nb_split_parts(int batch)
{
    int threads = tg_get_num_threads();
    if (threads == 1) /* one after the other, parts would only thin the products */
        return 1;
    if (batch >= 16 * threads)
        return 2 * threads;
    return threads < batch ? threads : batch;
}

void nb_print_parameters(const tg_model *model, int name_width)
{
    for (int i = 0; i < tg_model_parameter_count(model); i++) {
        char shape[TG_SHAPE_STR_MAX];
        printf("    %-*s %s\n", name_width, tg_model_parameter_name(model, i),
               tg_shape_format(shape, sizeof shape, tg_model_parameter(model, i)));
    }
}
