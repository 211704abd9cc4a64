/*
 * examples/notebook.h: what every example program shares.
 *
 * The examples print like notebooks: numbered sections, each with a title
 * and a few sentences on what happens and why, then that section's results.
 * They take the same command-line flags; this file parses them, so each
 * example only lists its own. Uses tapegrad's public API only.
 *
 * Exit codes: 0 success, 1 a failure while running, 2 a bad flag or a
 * missing or malformed data file.
 */
#ifndef NOTEBOOK_H
#define NOTEBOOK_H

#include <stdbool.h>
#include <stdint.h>

#include <tapegrad.h>

/* Where the examples' datasets are (set by examples/CMakeLists.txt). */
#ifndef TAPEGRAD_EXAMPLES_DATA
#define TAPEGRAD_EXAMPLES_DATA "examples/data"
#endif

/* The flags every example takes. Zero fields mean "not given". */
typedef struct nb_common {
    bool quick;          /* --quick: a few seconds, for the tests */
    uint64_t seed;       /* --seed N (default 1) */
    int threads;         /* --threads N (default: all cores) */
    int epochs;          /* --epochs N */
    int steps;           /* --steps N */
    const char *data;    /* --data PATH */
    const char *out;     /* --out DIR (default out/<example>); created if missing */
    const char *save;    /* --save PATH: write a checkpoint at the end */
    const char *load;    /* --load PATH: start from a checkpoint */
    bool eval;           /* --eval: with --load, evaluate the loaded model on --data, no training */
} nb_common;

/* NB_INT values are whole numbers in [0, NB_INT_MAX] (decimal digits);
 * NB_FLOAT values finite and not negative. Anything else is "bad value". */
typedef enum nb_kind { NB_FLAG, NB_INT, NB_FLOAT, NB_STRING } nb_kind;
#define NB_INT_MAX 1000000000

/* An example's own flag: --name, the variable it sets, one line of help. */
typedef struct nb_option {
    const char *name; /* without the dashes */
    nb_kind kind;
    void *target;     /* bool*, int*, float* or const char** */
    const char *help;
} nb_option;

/* Parses argv into common (after filling its defaults) and the example's
 * own options. Returns 0 to run, 1 after printing --help (exit 0), or 2
 * after printing what was wrong (exit 2: also --eval without --load, or
 * with --save). Sets the thread count and creates the output directory. */
int nb_parse(int argc, char **argv, const char *program, const char *summary, nb_common *common,
             const nb_option *options, int n_options);

/* Writes the path of `file` in the output directory into out (size n);
 * returns out. */
const char *nb_out_path(const nb_common *common, const char *file, char *out, size_t n);

/* "## N. Title" and the explanation, wrapped at 78 columns. */
void nb_section(int number, const char *title, const char *text);
/* Prints a wrapped paragraph (for text between results). */
void nb_text(const char *text);
/* "  wrote PATH (what)" */
void nb_wrote(const char *path, const char *what);
/* One indented line per parameter of model: its name, padded to
 * name_width, and its shape. */
void nb_print_parameters(const tg_model *model, int name_width);
/* Prints "example: <message>" and tapegrad's error message to stderr;
 * returns 1 for `return nb_fail(...)`. */
int nb_fail(const char *program, const char *message);

/* With --save, writes ck there and says so with `what`. Returns 0, or 1 as
 * nb_fail does when the checkpoint cannot be written. */
int nb_save_checkpoint(const char *program, const nb_common *common, const tg_checkpoint *ck,
                       const char *what);

/* With --load, loads the model and the optimizer of an example that counts
 * epochs, and says how many it was trained for; *trained_epochs receives
 * them (0 without --load). Returns 0, or 2 after printing why the file
 * cannot be loaded. */
int nb_resume_epochs(const char *program, const nb_common *common, tg_model *model,
                     tg_optimizer *optimizer, int *trained_epochs);

/* Wall-clock seconds since an arbitrary start. */
double nb_seconds(void);

/* How many parts to split a batch of `batch` rows into between the threads
 * (tg_batch_split): two per thread while each keeps 8 rows, so a thread
 * that another program slows down holds up only a small part; else one
 * per thread; never more than the rows. One part on one thread. */
int nb_split_parts(int batch);
/* The rows [*begin, *end) of part `part` of `parts` of a batch of `rows`
 * rows (the parts' sizes differ by at most one). */
void nb_part_rows(int rows, int part, int parts, int *begin, int *end);

#endif
