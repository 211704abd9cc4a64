/* What every reader shares: it opens its file without blocking and refuses
 * anything but a regular file before reading (a FIFO with no writer never
 * hangs it), and it reads text by one rule (io/text.h, "Text files"). */
#define _GNU_SOURCE /* mkfifo */
#include "io/io_support.h"

#include <math.h>
#include <sys/stat.h>

/* A reader that waited for a FIFO's writer would hang: the timeout fails it. */
TestSuite(readers, .init = io_setup, .fini = io_teardown, .timeout = 20);

static void make_fifo(const char *name)
{
    cr_assert_eq(chdir(io_dir), 0);
    cr_assert_eq(mkfifo(name, 0644), 0);
}

#define assert_fifo_refused(failed, message)                                                   \
    do {                                                                                       \
        tg_error_clear();                                                                      \
        cr_assert((failed), "a FIFO was read");                                                \
        cr_assert_str_eq(tg_error_message(), (message));                                       \
        tg_error_clear();                                                                      \
    } while (0)

Test(readers, the_csv_reader_refuses_a_fifo_without_waiting)
{
    make_fifo("data.csv");
    assert_fifo_refused(!tg_csv_read("data.csv", (tg_csv_config){ 0 }),
                        "csv_read: data.csv: not a regular file but a FIFO");
}

Test(readers, the_text_reader_refuses_a_fifo_without_waiting)
{
    make_fifo("corpus.txt");
    size_t size;
    assert_fifo_refused(!tg_text_read("corpus.txt", 0, &size),
                        "text_read: corpus.txt: not a regular file but a FIFO");
}

Test(readers, the_sentences_reader_refuses_a_fifo_without_waiting)
{
    make_fifo("reviews.txt");
    assert_fifo_refused(!tg_sentences_read("reviews.txt"),
                        "sentences_read: reviews.txt: not a regular file but a FIFO");
}

Test(readers, the_vocabulary_reader_refuses_a_fifo_without_waiting)
{
    make_fifo("vocab.txt");
    assert_fifo_refused(!tg_vocab_load("vocab.txt"),
                        "vocab_load: vocab.txt: not a regular file but a FIFO");
}

Test(readers, the_checkpoint_readers_refuse_a_fifo_without_waiting)
{
    make_fifo("run.ckpt");
    assert_fifo_refused(!tg_safetensors_load("run.ckpt"),
                        "safetensors_load: run.ckpt: not a regular file but a FIFO");
    tg_model *model = tg_model_new(1);
    tg_model_add_parameter(model, "w", TG_SHAPE(2));
    assert_fifo_refused(tg_model_load(model, "run.ckpt", TG_LOAD_STRICT, NULL) != 0,
                        "safetensors_load: run.ckpt: not a regular file but a FIFO");
    tg_checkpoint ck = { .model = model };
    assert_fifo_refused(tg_checkpoint_load("run.ckpt", &ck) != 0,
                        "safetensors_load: run.ckpt: not a regular file but a FIFO");
    tg_model_free(model);
}

Test(readers, a_directory_is_refused_by_every_reader)
{
    cr_assert_eq(chdir(io_dir), 0);
    cr_assert_eq(mkdir("d", 0755), 0);
    size_t size;
    assert_fifo_refused(!tg_text_read("d", 0, &size), "text_read: d: not a regular file but a directory");
    assert_fifo_refused(!tg_sentences_read("d"), "sentences_read: d: not a regular file but a directory");
    assert_fifo_refused(!tg_vocab_load("d"), "vocab_load: d: not a regular file but a directory");
    assert_fifo_refused(!tg_safetensors_load("d"), "safetensors_load: d: not a regular file but a directory");
}

/* ---- The text rule ---------------------------------------------------------------- */

/* Writes size bytes to name in the scratch directory (the current one). */
static void put(const char *name, const char *bytes, size_t size)
{
    cr_assert_eq(chdir(io_dir), 0);
    io_write(name, bytes, size);
}

#define PUT(name, literal) put((name), (literal), sizeof(literal) - 1)

#define assert_read_refused(failed, message)                                                   \
    do {                                                                                       \
        tg_error_clear();                                                                      \
        cr_assert((failed), "the file was read");                                              \
        cr_assert_str_eq(tg_error_message(), (message));                                       \
        tg_error_clear();                                                                      \
    } while (0)

Test(readers, a_byte_order_mark_is_dropped_by_every_reader)
{
    PUT("bom.csv", "\xef\xbb\xbf" "a,b\n1,2\n");
    tg_csv *csv = tg_csv_read("bom.csv", (tg_csv_config){ 0 });
    cr_assert_not_null(csv, "%s", tg_error_message());
    cr_assert_str_eq(tg_csv_column_name(csv, 0), "a");
    cr_assert_eq(tg_csv_line(csv, 0), 2);
    tg_csv_free(csv);

    PUT("bom.txt", "\xef\xbb\xbf" "Good.\t1\n");
    tg_sentences *s = tg_sentences_read("bom.txt");
    cr_assert_not_null(s, "%s", tg_error_message());
    cr_assert_str_eq(tg_sentences_text(s, 0), "Good.");
    tg_sentences_free(s);

    size_t size;
    char *text = tg_text_read("bom.txt", 0, &size);
    cr_assert_not_null(text, "%s", tg_error_message());
    cr_assert_eq(size, 8);
    cr_assert_str_eq(text, "Good.\t1\n");
    free(text);

    PUT("bom.vocab", "\xef\xbb\xbf" "<pad>\n<unk>\nyes\n");
    tg_vocab *vocab = tg_vocab_load("bom.vocab");
    cr_assert_not_null(vocab, "%s", tg_error_message());
    cr_assert_eq(tg_vocab_size(vocab), 3);
    tg_vocab_free(vocab);
    /* Only at the very start: later it is text like any other. */
    PUT("late.csv", "a\n\xef\xbb\xbf" "b\n");
    csv = tg_csv_read("late.csv", (tg_csv_config){ 0 });
    cr_assert_str_eq(tg_csv_field(csv, 0, 0), "\xef\xbb\xbf" "b");
    tg_csv_free(csv);
}

Test(readers, lf_crlf_and_a_lone_cr_each_end_a_line_in_every_reader)
{
    /* The three line ends mixed; a CSV quoted field keeps its own. */
    PUT("ends.csv", "a,b\r1,\"x\ry\"\r\n2,3\n4,5");
    tg_csv *csv = tg_csv_read("ends.csv", (tg_csv_config){ 0 });
    cr_assert_not_null(csv, "%s", tg_error_message());
    cr_assert_eq(tg_csv_rows(csv), 3);
    cr_assert_str_eq(tg_csv_field(csv, 0, 1), "x\ry");
    cr_assert_str_eq(tg_csv_field(csv, 2, 0), "4");
    cr_assert_eq(tg_csv_line(csv, 1), 4, "the quoted CR counts as a line");
    cr_assert_eq(tg_csv_line(csv, 2), 5);
    tg_csv_free(csv);

    PUT("ends.txt", "Good.\t1\rBad.\t0\r\nFine.\t1\n\rOdd.\t0");
    tg_sentences *s = tg_sentences_read("ends.txt");
    cr_assert_not_null(s, "%s", tg_error_message());
    cr_assert_eq(tg_sentences_count(s), 4);
    cr_assert_str_eq(tg_sentences_text(s, 1), "Bad.");
    cr_assert_eq(tg_sentences_line(s, 2), 3);
    cr_assert_eq(tg_sentences_line(s, 3), 5, "LF then CR is two line ends");
    cr_assert_str_eq(tg_sentences_text(s, 3), "Odd.");
    tg_sentences_free(s);

    PUT("ends.vocab", "<pad>\r<unk>\r\nyes\nno\r");
    tg_vocab *vocab = tg_vocab_load("ends.vocab");
    cr_assert_not_null(vocab, "%s", tg_error_message());
    cr_assert_eq(tg_vocab_size(vocab), 4);
    cr_assert_str_eq(tg_vocab_token(vocab, 3), "no");
    tg_vocab_free(vocab);

    /* The corpus keeps its bytes; its lines count the same way (below). */
    size_t size;
    char *text = tg_text_read("ends.txt", 0, &size);
    cr_assert_not_null(text, "%s", tg_error_message());
    cr_assert_eq(size, 31);
    free(text);
}

Test(readers, a_nul_byte_is_refused_with_its_line_by_every_reader)
{
    /* Line 3 by the rule: CR, then CRLF, end lines 1 and 2. */
    PUT("nul.csv", "a,b\r1,2\r\n3,\"x\0y\"\n");
    assert_read_refused(!tg_csv_read("nul.csv", (tg_csv_config){ 0 }),
                        "csv_read: nul.csv: line 3: a NUL byte (text files hold none)");
    PUT("nul.txt", "Good.\t1\rBad.\t0\r\nFi\0ne.\t1\n");
    assert_read_refused(!tg_sentences_read("nul.txt"),
                        "sentences_read: nul.txt: line 3: a NUL byte (text files hold none)");
    size_t size;
    assert_read_refused(!tg_text_read("nul.txt", 0, &size),
                        "text_read: nul.txt: line 3: a NUL byte (text files hold none)");
    PUT("nul.vocab", "<pad>\r<unk>\r\nye\0s\n");
    assert_read_refused(!tg_vocab_load("nul.vocab"),
                        "vocab_load: nul.vocab: line 3: a NUL byte (text files hold none)");
    /* In a column name, and as the very first byte. */
    PUT("head.csv", "a\0,b\n1,2\n");
    assert_read_refused(!tg_csv_read("head.csv", (tg_csv_config){ 0 }),
                        "csv_read: head.csv: line 1: a NUL byte (text files hold none)");
    PUT("first.vocab", "\0");
    assert_read_refused(!tg_vocab_load("first.vocab"),
                        "vocab_load: first.vocab: line 1: a NUL byte (text files hold none)");
}

Test(readers, a_csv_number_beyond_floats_range_is_an_error)
{
    const char *text = "x\n1e999\n-1e999\n1e39\ninf\n-inf\n1e-999\n";
    tg_csv *csv = tg_csv_parse(text, strlen(text), "data.csv", (tg_csv_config){ 0 });
    cr_assert_not_null(csv, "%s", tg_error_message());
    float value;
    assert_read_refused(tg_csv_float(csv, 0, 0, &value) != 0,
                        "csv_float: data.csv: line 2, field \"x\": 1e999 is beyond float's range");
    assert_read_refused(tg_csv_float(csv, 1, 0, &value) != 0,
                        "csv_float: data.csv: line 3, field \"x\": -1e999 is beyond float's range");
    assert_read_refused(tg_csv_float(csv, 2, 0, &value) != 0,
                        "csv_float: data.csv: line 4, field \"x\": 1e39 is beyond float's range");
    cr_assert_eq(tg_csv_float(csv, 3, 0, &value), 0);
    cr_assert(isinf(value) && value > 0);
    cr_assert_eq(tg_csv_float(csv, 4, 0, &value), 0);
    cr_assert(isinf(value) && value < 0);
    /* Too small for a double rounds to 0, as in float. */
    cr_assert_eq(tg_csv_float(csv, 5, 0, &value), 0, "%s", tg_error_message());
    cr_assert_eq(value, 0.0f);
    float column[6];
    assert_read_refused(tg_csv_column_floats(csv, "x", column) != 0,
                        "csv_column_floats: data.csv: line 2, field \"x\": 1e999 is beyond float's "
                        "range");
    tg_csv_free(csv);
}
