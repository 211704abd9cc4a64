/* What every reader shares: it opens its file without blocking and refuses
 * anything but a regular file before reading (a FIFO with no writer never
 * hangs it), and it reads text by one rule (io/text.h, "Text files"). */
#define _GNU_SOURCE /* mkfifo */
#include "io/io_support.h"

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
