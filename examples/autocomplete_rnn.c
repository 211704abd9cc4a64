/*
 * autocomplete_rnn: text auto-completion with a recurrent network, the
 * seed's first example.
 *
 * A language model reads Shakespeare one character (or, with --words, one
 * word) at a time and learns to predict the next one. The network is the
 * seed's RNN, h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h) and y_t = W_hy h_t
 * + b_y, stacked in two layers, trained by truncated backpropagation
 * through time with the state carried from batch to batch. It is measured
 * on the last tenth of the text, which it never trains on, then completes
 * "I am going to the" and any --prompt by sampling with a temperature and
 * a top-k cut. With --load and --eval it trains nothing: the loaded network
 * is measured on --data's held-out tail and completes the prompts. With
 * --quantize it then turns the network's weights into int8
 * (tg_quantize_dynamic) and measures it again.
 *
 *     autocomplete_rnn [--quick] [--words] [--prompt TEXT] [--temperature T] [--top-k K]
 *                      [--steps N] [--hidden H] [--layers L] [--data PATH] [--out DIR]
 *                      [--save PATH] [--load PATH [--eval]] [--quantize]
 *
 * Writes to DIR: autocomplete_rnn_history.csv (training loss, learning
 * rate and gradient norm per step, validation loss every few steps) and
 * autocomplete_rnn_loss.png (training and validation loss).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notebook.h"

static const char PROGRAM[] = "autocomplete_rnn";
static const char SEED_PROMPT[] = "I am going to the";

enum { SAMPLES = 3, MAX_PROMPT = 1024 };

typedef struct settings {
    bool words, quantize;
    int hidden, layers, embed, batch, bptt, steps, warmup, eval_every, length, top_k, max_vocab;
    float lr, clip, temperature;
    const char *prompt;
} settings;

/* ---- The corpus ---------------------------------------------------------------- */

/* The text as token ids: characters, or words and punctuation (--words).
 * Ids [0, n_train) are the training part, [n_train, n) the held-out tail. */
typedef struct corpus {
    bool words;
    tg_char_vocab chars;
    tg_vocab *vocab; /* --words */
    int vocab_size;
    int *ids;
    int64_t n, n_train;
    int64_t validation_chars; /* characters of the held-out text */
} corpus;

/* A corpus is text: tg_text_read refuses a NUL byte, and here any other
 * byte below 0x20 but tab (from a binary file, say) is refused with its
 * line, lines counted as tg_text_read counts them (io/text.h). */
static int check_text(const char *path, const char *text, size_t size)
{
    int line = 1;
    for (size_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)text[i];
        size_t line_end = tg_text_line_end(text, size, i);
        if (line_end > 0) {
            line++;
            i += line_end - 1;
        } else if (c < 0x20 && c != '\t') {
            fprintf(stderr, "%s: %s: line %d: byte 0x%02x is not text\n", PROGRAM, path, line, c);
            return -1;
        }
    }
    return 0;
}

/* Where the held-out tail starts: the first line that begins in the last
 * tenth of the text. */
static size_t split_point(const char *text, size_t size)
{
    size_t at = size - size / 10;
    while (at < size && text[at - 1] != '\n')
        at++;
    return at < size ? at : size - size / 10;
}

static int encode_chars(corpus *c, const char *text, size_t size)
{
    c->chars = tg_char_vocab_build(text, size);
    c->vocab_size = c->chars.size;
    c->ids = malloc(sizeof(int) * size);
    c->n = (int64_t)size;
    return c->ids && tg_char_vocab_encode(&c->chars, text, size, c->ids) == 0 ? 0 : -1;
}

/* Words: the vocabulary is built from the training part only, so words
 * first seen in the tail are <unk> there, as they would be in new text. */
static int encode_words(corpus *c, const char *text, size_t split, size_t size, int max_vocab)
{
    tg_tokens *train = tg_text_tokenize(text, split), *tail = tg_text_tokenize(text + split, size - split);
    int status = -1;
    if (train && tail && (c->vocab = tg_vocab_build((const tg_tokens *const[]){ train }, 1,
                                                     (tg_vocab_config){ .max_size = max_vocab }))) {
        c->vocab_size = tg_vocab_size(c->vocab);
        c->n_train = train->count;
        c->n = (int64_t)train->count + tail->count;
        c->ids = malloc(sizeof(int) * (size_t)c->n);
        if (c->ids && tg_vocab_encode(c->vocab, train, c->ids) == 0 &&
            tg_vocab_encode(c->vocab, tail, c->ids + c->n_train) == 0)
            status = 0;
    }
    tg_tokens_free(train);
    tg_tokens_free(tail);
    return status;
}

/* Reads and encodes the corpus; 2 (after a message) when the file is
 * missing, is not text or is too short, -1 on other errors. */
static int load_corpus(corpus *c, const char *path, const settings *s)
{
    size_t size;
    char *text = tg_text_read(path, 0, &size);
    if (!text) {
        fprintf(stderr, "%s: %s\n", PROGRAM, tg_error_message());
        return 2;
    }
    int status = check_text(path, text, size) == 0 ? 0 : 2;
    size_t split = status == 0 ? split_point(text, size) : 0;
    if (status == 0) {
        *c = (corpus){ .words = s->words, .validation_chars = (int64_t)(size - split) };
        status = s->words ? encode_words(c, text, split, size, s->max_vocab) : encode_chars(c, text, size);
        if (!s->words)
            c->n_train = (int64_t)split;
    }
    free(text);
    /* Each of the batch's streams needs a window and its next token. */
    int64_t needed = (int64_t)s->batch * (s->bptt + 1);
    if (status == 0 && (c->n_train < needed || c->n - c->n_train < needed)) {
        fprintf(stderr, "%s: %s: %lld tokens: too short; the training part and the last tenth each need "
                        "at least %lld\n", PROGRAM, path, (long long)c->n, (long long)needed);
        status = 2;
    }
    return status;
}

static void free_corpus(corpus *c)
{
    free(c->ids);
    tg_vocab_free(c->vocab);
}

/* One id as text: a character, or a word with the space before it. */
static void append_token(const corpus *c, int id, char *out, size_t n)
{
    size_t used = strlen(out);
    if (c->words)
        snprintf(out + used, n - used, " %s", tg_vocab_token(c->vocab, id));
    else
        snprintf(out + used, n - used, "%c", c->chars.bytes[id]);
}

/* A fingerprint of the vocabulary, kept in checkpoints so that a model is
 * never loaded over a different one (FNV-1a over the tokens). */
static unsigned long long vocab_hash(const corpus *c)
{
    unsigned long long hash = 1469598103934665603ull;
    for (int id = 0; id < c->vocab_size; id++) {
        char token[256] = "";
        append_token(c, id, token, sizeof token);
        for (const char *p = token; *p; p++)
            hash = (hash ^ (unsigned char)*p) * 1099511628211ull;
        hash = (hash ^ 0xff) * 1099511628211ull;
    }
    return hash;
}

/* ---- The network ------------------------------------------------------------------ */

/* Embedding -> RNN (tanh, `layers` deep) -> Linear to one logit per token. */
typedef struct net {
    tg_model *model;
    tg_embedding *embed;
    tg_rnn *rnn;
    tg_linear *head;
} net;

static int make_net(net *n, uint64_t seed, int vocab_size, const settings *s)
{
    n->model = tg_model_new(seed);
    n->embed = tg_embedding_new(n->model, "embed", (tg_embedding_config){ .count = vocab_size, .dim = s->embed });
    n->rnn = tg_rnn_new(n->model, "rnn", (tg_rnn_config){ .input = s->embed, .hidden = s->hidden,
                                                          .layers = s->layers });
    n->head = tg_linear_new(n->model, "head", (tg_linear_config){ .input = s->hidden, .output = vocab_size });
    return n->embed && n->rnn && n->head ? 0 : -1;
}

/* Logits [T, B, V] for tokens [T, B], starting from the state h [L, B, H];
 * *h_n receives the state after the last step. Copying it into h carries
 * it to the next window (and detaches it), but only once backward is done:
 * backward still reads h. */
static tg_tensor *net_forward(const net *n, tg_tensor *tokens, tg_tensor *h, tg_tensor **h_n)
{
    tg_rnn_result run = tg_rnn_forward(n->rnn, tg_embedding_forward(n->embed, tokens), &(tg_rnn_options){ .h0 = h });
    *h_n = run.h_n;
    return tg_linear_forward(n->head, run.output);
}

/* ---- Batches for truncated backpropagation through time ------------------------------- */

/* ids[first, first + length) cut into `batch` streams read side by side, a
 * window of up to `bptt` steps at a time: window w of stream b is
 * ids[first + b*stride + w*bptt ...], and its targets are the ids one
 * further on. The state after a window is where the next one starts. */
typedef struct streams {
    int64_t first, stride;
    int batch, bptt, windows; /* windows per pass */
} streams;

static streams make_streams(int64_t first, int64_t length, int batch, int bptt)
{
    int64_t stride = (length - 1) / batch;
    return (streams){ first, stride, batch, bptt, (int)((stride + bptt - 1) / bptt) };
}

/* Graph tensors [T, end - begin] of the inputs and targets of window w for
 * the streams [begin, end) (T = bptt, less for the last window of a pass). */
static int window(const corpus *c, const streams *st, int w, int begin, int end, tg_tensor **x, tg_tensor **y)
{
    int64_t start = (int64_t)w * st->bptt, steps = st->stride - start < st->bptt ? st->stride - start : st->bptt;
    int width = end - begin;
    *x = tg_empty(TG_SHAPE(steps, width));
    *y = tg_empty(TG_SHAPE(steps, width));
    if (!*x || !*y)
        return -1;
    for (int64_t t = 0; t < steps; t++)
        for (int b = begin; b < end; b++) {
            int64_t at = st->first + b * st->stride + start + t;
            (*x)->data[t * width + b - begin] = (float)c->ids[at];
            (*y)->data[t * width + b - begin] = (float)c->ids[at + 1];
        }
    return 0;
}

/* ---- Training ---------------------------------------------------------------------- */

typedef struct trainer {
    settings s;
    const nb_common *common;
    corpus c;
    net n;
    tg_optimizer *opt;
    tg_schedule *sched;
    tg_history *history;
    tg_checkpoint ck;
    streams train, validation;
    /* The batch's streams are split between the threads (tg_batch_split):
     * part p reads the streams [batch*p/parts, batch*(p+1)/parts). */
    tg_batch_split *split;
    int parts;
    int window_now;       /* the training window the parts compute */
    tg_tensor **h_parts;  /* owned: each part's state carried between training windows [L, B_p, H] */
    float *part_loss;     /* each part's share of the window's loss */
    tg_tensor *h_val;     /* owned: the state carried between validation windows [L, B, H] */
    double seconds;   /* training time, evaluations left out */
} trainer;

/* Mean loss per token over the whole held-out tail, in nats, each stream
 * starting from a zero state. No gradients are recorded. */
static double validation_loss(trainer *tr)
{
    tg_tensor_fill_(tr->h_val, 0.0f);
    tg_no_grad_begin();
    double total = 0.0;
    int64_t count = 0;
    for (int w = 0; w < tr->validation.windows; w++) {
        tg_tensor *x, *y, *h_n = NULL;
        tg_tensor *loss = window(&tr->c, &tr->validation, w, 0, tr->s.batch, &x, &y) == 0
                              ? tg_cross_entropy(net_forward(&tr->n, x, tr->h_val, &h_n), y,
                                                 &(tg_class_loss_config){ .reduction = TG_REDUCTION_SUM })
                              : NULL;
        if (!loss || tg_tensor_copy_(tr->h_val, h_n) != 0) {
            total = NAN;
            break;
        }
        total += tg_tensor_item(loss);
        count += y->numel;
        tg_graph_reset();
    }
    tg_no_grad_end();
    tg_graph_reset();
    return total / (double)count;
}

/* Adds the validation loss to the history's row of step; -1 when it
 * could not be computed. */
static int record_validation(trainer *tr, int64_t step)
{
    double loss = validation_loss(tr);
    return isnan(loss) ? -1 : tg_history_add(tr->history, step, "val_loss", loss);
}

/* Forward and backward of the current window for one part's streams,
 * from that part's carried state (a new pass over the text starts from
 * zero). Its loss, the mean over its tokens, is weighted by its share of
 * the batch, so the parts' gradients add up to the whole batch's. */
static int train_part(void *ctx, int part, int parts)
{
    trainer *tr = ctx;
    int begin, end;
    nb_part_rows(tr->s.batch, part, parts, &begin, &end);
    tg_tensor *h = tr->h_parts[part], *x, *y, *h_n;
    if (tr->window_now == 0)
        tg_tensor_fill_(h, 0.0f);
    if (window(&tr->c, &tr->train, tr->window_now, begin, end, &x, &y) != 0)
        return -1;
    tg_tensor *loss = tg_cross_entropy(net_forward(&tr->n, x, h, &h_n), y, NULL);
    loss = tg_mul_scalar(loss, (float)(end - begin) / (float)tr->s.batch);
    if (!loss || tg_backward(loss) != 0 || tg_tensor_copy_(h, h_n) != 0)
        return -1;
    tr->part_loss[part] = tg_tensor_item(loss);
    return 0;
}

/* One window: forward and backward (the parts on their threads),
 * clipping, Adam, the schedule. */
static int train_step(trainer *tr, int64_t step)
{
    tr->window_now = (int)(step % tr->train.windows);
    if (tg_batch_split_run(tr->split, train_part, tr) != 0)
        return -1;
    double loss = 0;
    for (int p = 0; p < tr->parts; p++)
        loss += tr->part_loss[p];
    float norm = tg_clip_grad_norm(tr->n.model, tr->s.clip);
    double lr = tg_optimizer_lr(tr->opt);
    if (!isfinite(norm) || tg_optimizer_step(tr->opt) != 0)
        return -1;
    tg_optimizer_zero_grad(tr->opt);
    tg_schedule_step(tr->sched);
    tg_history_add(tr->history, step, "train_loss", loss);
    tg_history_add(tr->history, step, "lr", lr);
    tg_history_add(tr->history, step, "grad_norm", norm);
    tg_graph_reset();
    return 0;
}

static int train(trainer *tr)
{
    tg_progress *bar = tg_progress_new((tg_progress_config){ .total = tr->s.steps, .out = stdout });
    if (!bar)
        return -1;
    int status = 0;
    int64_t first = tr->ck.step;
    for (int i = 0; i < tr->s.steps && status == 0; i++) {
        int64_t step = first + i;
        double started = nb_seconds();
        status = train_step(tr, step);
        tr->seconds += nb_seconds() - started;
        if (status == 0 && ((i + 1) % tr->s.eval_every == 0 || i == tr->s.steps - 1))
            status = record_validation(tr, step);
        tg_progress_update(bar, i + 1, tg_history_last(tr->history, "train_loss"));
    }
    tr->ck.step = first + tr->s.steps;
    tg_progress_finish(bar);
    tg_progress_free(bar);
    return status;
}

/* ---- Completion ------------------------------------------------------------------------ */

/* The prompt as ids (at most MAX_PROMPT); -1 after a message when it has a
 * character the vocabulary lacks or no token at all. */
static int encode_prompt(const corpus *c, const char *prompt, int *ids)
{
    size_t size = strlen(prompt);
    if (!c->words) {
        if (size == 0 || size > MAX_PROMPT || tg_char_vocab_encode(&c->chars, prompt, size, ids) != 0) {
            fprintf(stderr, "%s: prompt \"%s\": %s\n", PROGRAM, prompt,
                    size == 0 || size > MAX_PROMPT ? "must have 1 to 1024 characters" : tg_error_message());
            return -1;
        }
        return (int)size;
    }
    tg_tokens *tokens = tg_text_tokenize(prompt, size);
    int count = tokens && tokens->count > 0 && tokens->count <= MAX_PROMPT ? tokens->count : -1;
    if (count < 0 || tg_vocab_encode(c->vocab, tokens, ids) != 0) {
        fprintf(stderr, "%s: prompt \"%s\": must have 1 to 1024 words\n", PROGRAM, prompt);
        count = -1;
    }
    tg_tokens_free(tokens);
    return count;
}

/* Reads the prompt, then generates `length` tokens one at a time, each fed
 * back as the next input; appends them to out. */
static int complete(const trainer *tr, const int *prompt, int n_prompt, float temperature, tg_rng *rng,
                    char *out, size_t size)
{
    int V = tr->c.vocab_size;
    tg_tensor *h = tg_tensor_zeros(TG_SHAPE(tr->s.layers, 1, tr->s.hidden));
    float *tokens = malloc(sizeof(float) * (size_t)n_prompt);
    int status = h && tokens ? 0 : -1;
    for (int i = 0; status == 0 && i < n_prompt; i++)
        tokens[i] = (float)prompt[i];
    tg_no_grad_begin();
    tg_tensor *h_n = NULL;
    tg_tensor *logits = status == 0 ? net_forward(&tr->n, tg_from_array(TG_SHAPE(n_prompt, 1), tokens), h, &h_n) : NULL;
    for (int i = 0; logits && i < tr->s.length; i++) {
        /* temperature 0: greedy; otherwise softmax(y / T) over the top-k (layers/sample.h) */
        int next = (int)tg_sample_logits(logits->data + (logits->numel - V), V, temperature, tr->s.top_k, rng);
        if (next < 0 || tg_tensor_copy_(h, h_n) != 0) {
            logits = NULL;
            break;
        }
        append_token(&tr->c, next, out, size);
        tg_graph_reset();
        float token = (float)next;
        logits = net_forward(&tr->n, tg_from_array(TG_SHAPE(1, 1), &token), h, &h_n);
    }
    tg_no_grad_end();
    tg_graph_reset();
    status = logits ? status : -1;
    free(tokens);
    tg_tensor_free(h);
    return status;
}

/* The next word of a completion, as the seed shows it: the letters, digits
 * and apostrophes after any spaces (or, when a punctuation mark comes
 * first, that mark). */
static void next_word(const char *completion, char *word, size_t n)
{
    while (*completion == ' ')
        completion++;
    size_t i = 0;
    while (i + 1 < n && (isalnum((unsigned char)completion[i]) || completion[i] == '\''))
        word[i] = completion[i], i++;
    if (i == 0 && *completion)
        word[i++] = *completion;
    word[i] = '\0';
}

/* The prompt, its greedy completion and SAMPLES sampled ones. */
static int show_completions(const trainer *tr, const char *prompt, tg_rng *rng)
{
    int ids[MAX_PROMPT];
    int n = encode_prompt(&tr->c, prompt, ids);
    if (n < 0)
        return 2;
    char text[4096];
    printf("    Input: \"%s\"\n", prompt);
    for (int k = 0; k <= SAMPLES; k++) {
        float temperature = k == 0 ? 0.0f : tr->s.temperature;
        text[0] = '\0';
        if (complete(tr, ids, n, temperature, rng, text, sizeof text) != 0)
            return -1;
        for (char *p = text; *p; p++)
            *p = *p == '\n' ? '/' : *p; /* a line break shows as '/' */
        if (k == 0) {
            char word[64];
            next_word(text, word, sizeof word);
            printf("    Predicted output: \"%s\"\n", word);
            printf("    greedy completion:         \"%s\"\n", text);
        } else
            printf("    sample %d:                  \"%s\"\n", k, text);
    }
    printf("\n");
    return 0;
}

/* ---- The notebook ----------------------------------------------------------------------- */

static int fail(const char *message) { return nb_fail(PROGRAM, message); }

static int section_data(trainer *tr)
{
    const char *path = tr->common->data ? tr->common->data : TAPEGRAD_EXAMPLES_DATA "/tinyshakespeare.txt";
    char text[640];
    snprintf(text, sizeof text,
             "The corpus is %s, read as %s. The last tenth of the text (from the first line that "
             "starts there) is held out: the model never trains on it, and the validation loss is "
             "measured there, so it says how well the model predicts text it has not seen.%s",
             path, tr->s.words ? "lower-case words and punctuation marks" : "bytes, one token per character",
             tr->s.words ? " The vocabulary holds the most frequent words of the training part; the "
                           "others become <unk>." : "");
    nb_section(1, "The data", text);
    int status = load_corpus(&tr->c, path, &tr->s);
    if (status != 0)
        return status == 2 ? 2 : fail("cannot read the corpus");
    printf("    %lld tokens: %lld to train on, %lld held out (%lld characters); vocabulary of %d\n",
           (long long)tr->c.n, (long long)tr->c.n_train, (long long)(tr->c.n - tr->c.n_train),
           (long long)tr->c.validation_chars, tr->c.vocab_size);
    char first[256] = "";
    for (int64_t i = 0; i < 40 && i < tr->c.n; i++)
        append_token(&tr->c, tr->c.ids[i], first, sizeof first);
    for (char *p = first; *p; p++)
        *p = *p == '\n' ? '/' : *p;
    printf("    the first tokens: \"%s\"\n", first);
    int ids[MAX_PROMPT]; /* a --prompt the vocabulary cannot read is refused before training */
    return tr->s.prompt && encode_prompt(&tr->c, tr->s.prompt, ids) < 0 ? 2 : 0;
}

static int section_model(trainer *tr)
{
    char text[900];
    snprintf(text, sizeof text,
             "Each token id picks a learned vector of %d numbers (an Embedding: the same as "
             "multiplying a one-hot vector by W_xh, without the multiplication). %d layer%s of "
             "the seed's RNN, h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h) with %d units, read%s "
             "the vectors in order, each layer reading the states of the one below, and a "
             "Linear head turns the top state into one score per token of the vocabulary, "
             "y_t = W_hy h_t + b_y. softmax(y_t) is the predicted distribution of token t+1; "
             "the loss is its cross-entropy with the token that actually follows, in nats.",
             tr->s.embed, tr->s.layers, tr->s.layers > 1 ? "s" : "", tr->s.hidden,
             tr->s.layers > 1 ? "" : "s");
    nb_section(2, "The model", text);
    if (make_net(&tr->n, tr->common->seed, tr->c.vocab_size, &tr->s) != 0)
        return fail("cannot make the network");
    nb_print_parameters(tr->n.model, 18);
    printf("    %lld parameters\n", (long long)tg_model_numel(tr->n.model));
    return 0;
}

/* Loads --load after checking that it was saved with this vocabulary. */
static int load_checkpoint(trainer *tr)
{
    tg_safetensors *file = tg_safetensors_load(tr->common->load);
    if (!file) {
        fprintf(stderr, "%s: --load: %s\n", PROGRAM, tg_error_message());
        return 2;
    }
    char expected[32];
    snprintf(expected, sizeof expected, "%016llx", vocab_hash(&tr->c));
    const char *saved = tg_checkpoint_user(file, "vocab_hash");
    int status = 0;
    if (!saved || strcmp(saved, expected) != 0) {
        fprintf(stderr, "%s: --load: %s was trained on another vocabulary\n", PROGRAM, tr->common->load);
        status = 2;
    } else if (tg_checkpoint_restore(file, &tr->ck) != 0) {
        fprintf(stderr, "%s: --load: %s\n", PROGRAM, tg_error_message());
        status = 2;
    } else
        printf("    loaded %s: %lld steps of training so far\n", tr->common->load, (long long)tr->ck.step);
    tg_safetensors_free(file);
    return status;
}

/* The batch's streams in parts for the threads, each part with its own
 * carried state. */
static int make_parts(trainer *tr)
{
    const settings *s = &tr->s;
    tr->parts = nb_split_parts(s->batch);
    tr->split = tg_batch_split_new(tr->parts, tr->common->seed);
    tr->h_parts = calloc((size_t)tr->parts, sizeof *tr->h_parts);
    tr->part_loss = calloc((size_t)tr->parts, sizeof *tr->part_loss);
    if (!tr->split || !tr->h_parts || !tr->part_loss)
        return -1;
    for (int p = 0; p < tr->parts; p++) {
        int begin, end;
        nb_part_rows(s->batch, p, tr->parts, &begin, &end);
        if (!(tr->h_parts[p] = tg_tensor_zeros(TG_SHAPE(s->layers, end - begin, s->hidden))))
            return -1;
    }
    return 0;
}

static int section_training(trainer *tr)
{
    const settings *s = &tr->s;
    tr->train = make_streams(0, tr->c.n_train, s->batch, s->bptt);
    tr->validation = make_streams(tr->c.n_train, tr->c.n - tr->c.n_train, s->batch, s->bptt);
    if (make_parts(tr) != 0)
        return fail("cannot set up training");
    char text[1700];
    snprintf(text, sizeof text,
             "Truncated backpropagation through time. The training text is cut into %d streams of "
             "%lld tokens read side by side; each step reads the next %d tokens of every stream "
             "(a batch [%d, %d]), back-propagates through those %d steps only, and carries the "
             "last state into the next window: tg_tensor_copy_ copies h_n into an owned tensor after "
             "backward (which still reads the old state), and so also cuts it from the graph, so the state remembers across windows while the "
             "gradient stops at the window's start. %d steps are %.1f passes over the text. The "
             "streams are split into %d parts for %d thread(s) (tg_batch_split): each part runs "
             "through the whole window, forward and backward, on one thread, with a state of its "
             "own, and the parts' gradients are added before the step.\n\n"
             "Adam (lr %g), gradients clipped to norm %g (an RNN's gradient can explode), the "
             "learning rate warmed up over %d steps then annealed along a cosine to 1/20th. Every "
             "%d steps, and at the end, the validation loss over the whole held-out tail (%d "
             "streams, no gradients).",
             s->batch, (long long)tr->train.stride, s->bptt, s->bptt, s->batch, s->bptt, s->steps,
             (double)s->steps / tr->train.windows, tr->parts, tg_get_num_threads(), s->lr, s->clip, s->warmup, s->eval_every, s->batch);
    if (tr->common->eval)
        snprintf(text, sizeof text,
                 "--eval: the network's weights come from --load, and nothing is trained. The "
                 "validation loss is measured over the held-out tail of the text as after "
                 "training (%d streams, no gradients).", s->batch);
    nb_section(3, tr->common->eval ? "Evaluation only" : "Training", text);
    tr->opt = tg_adam_new(tr->n.model, (tg_adam_config){ .lr = s->lr });
    tr->sched = tg_schedule_new(tr->opt, (tg_schedule_config){ .kind = TG_SCHEDULE_COSINE,
        .warmup_steps = s->warmup, .t_max = s->steps - s->warmup, .eta_min = s->lr / 20 });
    tr->history = tg_history_new("step");
    tr->h_val = tg_tensor_zeros(TG_SHAPE(s->layers, s->batch, s->hidden));
    if (!tr->opt || !tr->sched || !tr->history || !tr->h_val)
        return fail("cannot set up training");
    tr->ck = (tg_checkpoint){ .model = tr->n.model, .optimizer = tr->opt };
    if (tr->common->load) {
        int status = load_checkpoint(tr);
        if (status != 0)
            return status;
    }
    if (record_validation(tr, tr->ck.step) != 0)
        return fail("cannot compute the validation loss");
    if (tr->common->eval)
        return 0;
    double before = tg_history_last(tr->history, "val_loss");
    printf("    validation loss before training: %.3f nats per token (uniform guessing: ln %d = %.3f)\n",
           before, tr->c.vocab_size, log(tr->c.vocab_size));
    double started = nb_seconds();
    if (train(tr) != 0)
        return fail("training failed");
    double wall = nb_seconds() - started;
    printf("    %d steps in %.1f s: %.1f steps per second, %.0f tokens per second (training alone: %.1f s; "
           "the rest is validation)\n", s->steps, wall, s->steps / tr->seconds,
           (double)s->steps * s->bptt * s->batch / tr->seconds, tr->seconds);
    return 0;
}

static void section_results(const trainer *tr)
{
    nb_section(4, "How well it predicts",
               "The validation loss is the mean of -ln p(next token) over the held-out tail. "
               "Perplexity, exp(loss), is the number of equally likely tokens the model is as "
               "unsure as; bits are the loss over ln 2.");
    double loss = tg_history_last(tr->history, "val_loss");
    if (tr->c.words) {
        double per_char = loss * (double)(tr->c.n - tr->c.n_train) / (double)tr->c.validation_chars;
        printf("    validation loss after training: %.3f nats per word, perplexity %.1f\n", loss, exp(loss));
        printf("    per character of the held-out text: %.3f nats (the text's case, spacing and rare "
               "words, all <unk>, are not predicted, so this is lower than a character model's "
               "would be for the same text)\n", per_char);
    } else
        printf("    validation loss after training: %.3f nats per character, perplexity %.2f, %.3f bits per character\n",
               loss, exp(loss), loss / log(2.0));
    if (!tr->common->eval)
        printf("    first training loss %.3f, last %.3f\n", tg_history_value(tr->history, 0, "train_loss"),
               tg_history_last(tr->history, "train_loss"));
}

static int section_completion(const trainer *tr)
{
    char text[700];
    snprintf(text, sizeof text,
             "The seed's example: the model reads the prompt, then writes %d %s one at a time, "
             "each fed back as the next input. Greedy takes the likeliest token every time; the "
             "samples draw it from softmax(y / T) with temperature T = %g over the %d likeliest "
             "tokens only (top-k), which keeps the rare, unlikely tokens out while leaving "
             "variety (T below 1 sharpens the distribution, above 1 flattens it). Line breaks "
             "show as '/'.",
             tr->s.length, tr->c.words ? "words" : "characters", tr->s.temperature, tr->s.top_k);
    nb_section(5, "Completing prompts", text);
    tg_rng rng = tg_rng_new(tr->common->seed + 1);
    int status = show_completions(tr, SEED_PROMPT, &rng);
    if (status == 0 && tr->s.prompt)
        status = show_completions(tr, tr->s.prompt, &rng);
    return status == -1 ? fail("cannot complete the prompt") : status;
}

static int section_files(trainer *tr)
{
    nb_section(6, "Files", "");
    const nb_common *common = tr->common;
    if (common->eval) {
        printf("    none: --eval trains nothing, so there are no curves to draw\n");
        return 0;
    }
    char csv[1024], png[1024];
    nb_out_path(common, "autocomplete_rnn_history.csv", csv, sizeof csv);
    nb_out_path(common, "autocomplete_rnn_loss.png", png, sizeof png);
    if (tg_history_write_csv(tr->history, csv) != 0 ||
        tg_history_plot(tr->history, png, (const char *[]){ "train_loss", "val_loss" }, 2,
                        &(tg_plot_options){ .title = tr->c.words ? "autocomplete_rnn: loss per word"
                                                                 : "autocomplete_rnn: loss per character",
                                            .ylabel = "nats", .smooth = 25 }) < 0)
        return fail("cannot write the history");
    nb_wrote(csv, "train_loss, lr and grad_norm per step; val_loss every few steps");
    nb_wrote(png, "training and validation loss");
    if (common->save) {
        char hash[32];
        snprintf(hash, sizeof hash, "%016llx", vocab_hash(&tr->c));
        tr->ck.user = (const tg_string_pair[]){ { "vocab_hash", hash } };
        tr->ck.n_user = 1;
        if (tg_checkpoint_save(common->save, &tr->ck) != 0)
            return fail("cannot save the checkpoint");
        nb_wrote(common->save, "checkpoint: the network, Adam's state, the step, the vocabulary's fingerprint");
    }
    return 0;
}

/* After everything else, since the float weights are gone afterwards (an
 * int8 network is for inference: it is not trained or checkpointed here). */
static int section_int8(trainer *tr)
{
    nb_section(7, "int8 inference",
               "tg_quantize_dynamic turns every weight matrix of the RNN and the head into int8, "
               "one scale per output row, and the inputs of each product are quantised per row "
               "as it runs (the embedding and the biases stay float). The same forward call then "
               "runs int8 products; the validation loss is measured again over the same tail.");
    double float_loss = tg_history_last(tr->history, "val_loss");
    if (tg_quantize_dynamic(tr->n.model) != 0)
        return fail("cannot quantise the network");
    double int8_loss = validation_loss(tr);
    if (isnan(int8_loss))
        return fail("cannot compute the validation loss");
    printf("    %d weight matrices in int8 (products through the %s path)\n",
           tg_model_quantized_count(tr->n.model), tg_int8_kernel_name());
    printf("    validation loss with int8 weights: %.4f nats per %s (float32: %.4f), %+.2f%%\n",
           int8_loss, tr->c.words ? "word" : "character", float_loss,
           100.0 * (int8_loss - float_loss) / float_loss);
    tg_rng rng = tg_rng_new(tr->common->seed + 1);
    return show_completions(tr, SEED_PROMPT, &rng) == 0 ? 0 : fail("cannot complete the prompt");
}

/* ---- Setting up -------------------------------------------------------------------------- */

/* The word model's output layer is as wide as its vocabulary (5,000 against
 * 65 characters), so its steps are costlier: fewer and smaller ones. */
static const settings CHARACTERS = { .hidden = 384, .layers = 2, .embed = 64, .batch = 64, .bptt = 64,
                                     .steps = 1500, .warmup = 50, .eval_every = 150, .lr = 2e-3f };
static const settings WORDS = { .hidden = 384, .layers = 2, .embed = 128, .batch = 32, .bptt = 32, .steps = 600,
                                .warmup = 30, .eval_every = 100, .max_vocab = 5000, .lr = 2e-3f };
static const settings QUICK = { .hidden = 64, .layers = 1, .embed = 16, .batch = 16, .bptt = 32, .steps = 120,
                                .warmup = 10, .eval_every = 30, .max_vocab = 1000, .lr = 1e-2f };

static int parse(int argc, char **argv, nb_common *common, settings *s)
{
    bool words = false, quantize = false;
    int hidden = 0, layers = 0, top_k = 0, length = 0;
    float temperature = NAN, lr = 0.0f;
    const char *prompt = NULL;
    const nb_option own[] = {
        { "words", NB_FLAG, &words, "word-level model (default: characters)" },
        { "prompt", NB_STRING, &prompt, "a text to complete, besides the seed's" },
        { "temperature", NB_FLOAT, &temperature, "sampling temperature, above 0 (default 0.8)" },
        { "top-k", NB_INT, &top_k, "sample among the K likeliest tokens (default 10)" },
        { "length", NB_INT, &length, "tokens to generate per completion (default 60 characters, 12 words)" },
        { "hidden", NB_INT, &hidden, "units per RNN layer (default 384; --quick: 64)" },
        { "layers", NB_INT, &layers, "stacked RNN layers (default 2; --quick: 1)" },
        { "lr", NB_FLOAT, &lr, "Adam's peak learning rate (default 2e-3; --quick: 1e-2)" },
        { "quantize", NB_FLAG, &quantize, "also measure the network with int8 weights at the end" },
    };
    int parsed = nb_parse(argc, argv, PROGRAM, "text auto-completion with an RNN", common, own,
                          (int)(sizeof own / sizeof *own));
    if (parsed != 0)
        return parsed;
    if (common->epochs) {
        fprintf(stderr, "%s: --epochs: this example counts training in --steps\n", PROGRAM);
        return 2;
    }
    *s = common->quick ? QUICK : words ? WORDS : CHARACTERS;
    s->words = words;
    s->quantize = quantize;
    s->clip = 1.0f;
    s->prompt = prompt;
    s->top_k = top_k ? top_k : 10;
    s->length = length ? length : words ? 12 : 60;
    s->temperature = isnan(temperature) ? 0.8f : temperature;
    s->hidden = hidden ? hidden : s->hidden;
    s->layers = layers ? layers : s->layers;
    s->lr = lr > 0.0f ? lr : s->lr;
    s->steps = common->steps ? common->steps : s->steps;
    s->warmup = s->warmup < s->steps / 2 ? s->warmup : s->steps / 2;
    if (!(s->temperature > 0.0f) || !isfinite(s->temperature) || s->length > 1000 || s->layers > 8) {
        fprintf(stderr, "%s: --temperature must be above 0, --length at most 1000, --layers at most 8\n", PROGRAM);
        return 2;
    }
    return 0;
}

static void release(trainer *tr)
{
    for (int p = 0; tr->h_parts && p < tr->parts; p++)
        tg_tensor_free(tr->h_parts[p]);
    free(tr->h_parts);
    free(tr->part_loss);
    tg_batch_split_free(tr->split);
    tg_tensor_free(tr->h_val);
    tg_history_free(tr->history);
    tg_schedule_free(tr->sched);
    tg_optimizer_free(tr->opt);
    tg_model_free(tr->n.model);
    free_corpus(&tr->c);
    tg_graph_release();
}

int main(int argc, char **argv)
{
    nb_common common;
    trainer tr = { .common = &common };
    int parsed = parse(argc, argv, &common, &tr.s);
    if (parsed != 0)
        return parsed == 1 ? 0 : 2;
    int status = section_data(&tr);
    if (status == 0)
        status = section_model(&tr);
    if (status == 0)
        status = section_training(&tr);
    if (status == 0) {
        section_results(&tr);
        status = section_completion(&tr);
    }
    if (status == 0)
        status = section_files(&tr);
    if (status == 0 && tr.s.quantize)
        status = section_int8(&tr);
    release(&tr);
    return status;
}
