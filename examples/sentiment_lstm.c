/*
 * sentiment_lstm: is a review positive or negative? An LSTM reads it.
 *
 * The seed's second example. Short labelled reviews (IMDb and Amazon, 1,000
 * of each) are split into training, validation and test sentences; words
 * become ids through a vocabulary; an Embedding, an LSTM over variable-length
 * batches, pooling over time and a Linear head give one logit per review,
 * trained with binary cross-entropy. Reports test accuracy and a confusion
 * matrix, and classifies the seed's review and any --review.
 *
 *     sentiment_lstm [--quick] [--bidirectional] [--review TEXT] [--data FILE]
 *                    [--epochs N] [--seed S] [--out DIR] [--save PATH] [--load PATH [--eval]]
 *
 * Writes to --out: sentiment_lstm_history.csv (one row per epoch),
 * sentiment_lstm_curves.png (loss and accuracy) and
 * sentiment_lstm_confusion.png. --save writes a checkpoint and the
 * vocabulary beside it (PATH.vocab), and records the vocabulary's hash in
 * the checkpoint; --load reads both and refuses a pair whose hashes
 * differ. With --eval too, nothing is trained: the loaded model is tested
 * on --data's test part.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notebook.h"

static const char PROGRAM[] = "sentiment_lstm";
static const char SEED_REVIEW[] = "The movie was interesting at first, but later became boring.";

enum {
    MAX_TOKENS = 100, /* longer sentences are cut (none of the default data is as long) */
    MAX_BATCH = 64,
};

/* The choices of the model and its training (see section 3 for why). */
typedef struct settings {
    int64_t embedding; /* numbers per word */
    int64_t hidden;    /* LSTM units per direction */
    bool bidirectional;
    float dropout;     /* on the word vectors and on the pooled features */
    double lr, weight_decay;
    int batch;
    int epochs;        /* at most; early stopping usually ends sooner */
    int patience;      /* epochs without a better validation accuracy before stopping */
    int min_count;     /* a word must be seen this often in training to get its own id */
    int train_limit;   /* use at most this many training sentences (--quick) */
} settings;

/* One sentence: its text, token ids and label. */
typedef struct review {
    const char *text;
    int *ids; /* length ids, malloc'd */
    int length;
    int label; /* 1 positive, 0 negative */
} review;

/* All sentences, shuffled; the three parts are consecutive slices. */
typedef struct corpus {
    tg_sentences *files[2];
    review *all;
    int count;
    review *train, *valid, *test;
    int n_train, n_valid, n_test;
} corpus;

typedef struct classifier {
    tg_model *model;
    tg_embedding *embedding;
    tg_lstm *lstm;
    tg_linear *head;
    float dropout;
} classifier;

/* Mean loss and accuracy over a set of reviews. */
typedef struct scores {
    double loss, accuracy;
} scores;

/* ---- 1. The data ------------------------------------------------------------ */

/* Reads the sentence files (the default two, or --data), shuffles the
 * sentences with data_rng and splits them 70/15/15. Returns 0, or after a
 * message 2 when a file is missing or malformed (1 when out of memory). */
static int load_corpus(corpus *c, const char *data, tg_rng *data_rng)
{
    const char *defaults[2] = { TAPEGRAD_EXAMPLES_DATA "/sentiment/imdb_labelled.txt",
                                TAPEGRAD_EXAMPLES_DATA "/sentiment/amazon_cells_labelled.txt" };
    int n_files = data ? 1 : 2;
    for (int f = 0; f < n_files; f++) {
        c->files[f] = tg_sentences_read(data ? data : defaults[f]);
        if (!c->files[f]) {
            fprintf(stderr, "%s: %s\n", PROGRAM, tg_error_message());
            return 2;
        }
        c->count += tg_sentences_count(c->files[f]);
    }
    if (c->count < 10) {
        fprintf(stderr, "%s: %s: %d sentences; at least 10 are needed\n", PROGRAM,
                data ? data : defaults[0], c->count);
        return 2;
    }
    c->all = calloc((size_t)c->count, sizeof *c->all);
    int64_t *order = malloc((size_t)c->count * sizeof *order);
    if (!c->all || !order) {
        free(order);
        fprintf(stderr, "%s: out of memory\n", PROGRAM);
        return 1;
    }
    for (int64_t i = 0; i < c->count; i++)
        order[i] = i;
    tg_rng_shuffle(data_rng, order, c->count);
    for (int i = 0; i < c->count; i++) {
        int k = (int)order[i], f = 0;
        if (k >= tg_sentences_count(c->files[0])) {
            k -= tg_sentences_count(c->files[0]);
            f = 1;
        }
        c->all[i].text = tg_sentences_text(c->files[f], k);
        c->all[i].label = tg_sentences_label(c->files[f], k);
    }
    free(order);
    c->n_train = c->count * 70 / 100;
    c->n_valid = c->count * 15 / 100;
    c->n_test = c->count - c->n_train - c->n_valid;
    c->train = c->all;
    c->valid = c->train + c->n_train;
    c->test = c->valid + c->n_valid;
    return 0;
}

static void free_corpus(corpus *c)
{
    for (int i = 0; c->all && i < c->count; i++)
        free(c->all[i].ids);
    free(c->all);
    tg_sentences_free(c->files[0]);
    tg_sentences_free(c->files[1]);
}

static int count_positive(const review *r, int n)
{
    int positive = 0;
    for (int i = 0; i < n; i++)
        positive += r[i].label;
    return positive;
}

/* ---- 2. Words to numbers ------------------------------------------------------ */

/* The tokens of every sentence, in corpus order (free each with tg_tokens_free). */
static tg_tokens **tokenize_all(const corpus *c)
{
    tg_tokens **tokens = calloc((size_t)c->count, sizeof *tokens);
    for (int i = 0; tokens && i < c->count; i++) {
        tokens[i] = tg_text_tokenize(c->all[i].text, strlen(c->all[i].text));
        if (!tokens[i]) {
            for (int j = 0; j < i; j++)
                tg_tokens_free(tokens[j]);
            free(tokens);
            return NULL;
        }
    }
    return tokens;
}

/* The ids of a sentence's tokens, cut at MAX_TOKENS; a sentence with no
 * token at all reads as one <unk>, so every sentence has a step. */
static int encode_review(const tg_vocab *vocab, const tg_tokens *tokens, review *r)
{
    int n = tokens->count < MAX_TOKENS ? tokens->count : MAX_TOKENS;
    r->ids = malloc((size_t)(tokens->count > 0 ? tokens->count : 1) * sizeof *r->ids);
    if (!r->ids)
        return -1;
    if (tokens->count == 0) {
        r->ids[0] = TG_VOCAB_UNK;
        r->length = 1;
        return 0;
    }
    tg_vocab_encode(vocab, tokens, r->ids);
    r->length = n;
    return 0;
}

/* Share of the tokens of n reviews that the vocabulary does not know. */
static double unknown_share(const review *r, int n)
{
    long unknown = 0, total = 0;
    for (int i = 0; i < n; i++)
        for (int t = 0; t < r[i].length; t++) {
            unknown += r[i].ids[t] == TG_VOCAB_UNK;
            total++;
        }
    return total ? (double)unknown / (double)total : 0;
}

/* ---- 3. The model --------------------------------------------------------------- */

/* PyTorch draws word vectors from N(0, 1): 64 numbers of that size swamp
 * the LSTM's gates, and a word seen only twice in training keeps mostly its
 * random start, which is noise at test time. From N(0, 0.1) every word
 * starts near zero and moves only as far as the training sentences push it.
 * The <pad> row stays zero: written through a view made in no-grad mode,
 * as an initialisation is no part of the graph. */
static void init_word_vectors(tg_embedding *embedding, tg_rng *rng)
{
    tg_tensor_normal_(embedding->weight, 0.0f, 0.1f, rng);
    tg_no_grad_begin();
    tg_tensor_fill_(tg_select(embedding->weight, 0, TG_VOCAB_PAD), 0.0f);
    tg_no_grad_end();
}

static int make_classifier(classifier *c, uint64_t seed, int vocab_size, const settings *s)
{
    c->model = tg_model_new(seed);
    c->dropout = s->dropout;
    int64_t directions = s->bidirectional ? 2 : 1;
    c->embedding = tg_embedding_new(c->model, "embedding", (tg_embedding_config){
        .count = vocab_size, .dim = s->embedding, .use_padding_idx = true,
        .padding_idx = TG_VOCAB_PAD });
    c->lstm = tg_lstm_new(c->model, "lstm", (tg_rnn_config){
        .input = s->embedding, .hidden = s->hidden, .bidirectional = s->bidirectional });
    /* The head reads the mean and the max of the outputs: 2 * D * H features. */
    c->head = tg_linear_new(c->model, "head", (tg_linear_config){
        .input = 2 * directions * s->hidden, .output = 1 });
    if (!c->embedding || !c->lstm || !c->head)
        return -1;
    init_word_vectors(c->embedding, tg_model_rng(c->model));
    return 0;
}

/* A batch as the LSTM takes it, time first: token ids [T, n] padded with
 * <pad>, each sentence's length, and for max pooling an additive mask
 * [T, n, 1] that is 0 on real steps and -10 on padding (outputs are in
 * (-1, 1), so padding never wins the max). */
typedef struct batch {
    tg_tensor *tokens, *mask;
    tg_tensor *lengths_f; /* [n, 1], to divide the sums by */
    int64_t lengths[MAX_BATCH];
} batch;

static batch make_batch(const review *const *items, int n)
{
    batch b = { 0 };
    int T = 0;
    for (int i = 0; i < n; i++)
        T = items[i]->length > T ? items[i]->length : T;
    float tokens[MAX_TOKENS * MAX_BATCH], mask[MAX_TOKENS * MAX_BATCH], lengths[MAX_BATCH];
    for (int i = 0; i < n; i++) {
        b.lengths[i] = items[i]->length;
        lengths[i] = (float)items[i]->length;
        for (int t = 0; t < T; t++) {
            bool real = t < items[i]->length;
            tokens[t * n + i] = real ? (float)items[i]->ids[t] : (float)TG_VOCAB_PAD;
            mask[t * n + i] = real ? 0.0f : -10.0f;
        }
    }
    b.tokens = tg_from_array(TG_SHAPE(T, n), tokens);
    b.mask = tg_from_array(TG_SHAPE(T, n, 1), mask);
    b.lengths_f = tg_from_array(TG_SHAPE(n, 1), lengths);
    return b;
}

/* Logits [n] of a batch of reviews (graph tensors; dropout in training mode). */
static tg_tensor *classify(classifier *c, const review *const *items, int n)
{
    batch b = make_batch(items, n);
    tg_tensor *words = tg_dropout(c->model, tg_embedding_forward(c->embedding, b.tokens), c->dropout);
    tg_rnn_result r = tg_lstm_forward(c->lstm, words, &(tg_rnn_options){ .lengths = b.lengths });
    /* Padded steps output 0, so the sum over time is the sum over real steps. */
    tg_tensor *mean = tg_div(tg_sum(r.output, TG_AXES(0), false), b.lengths_f);
    tg_tensor *max = tg_amax(tg_add(r.output, b.mask), TG_AXES(0), false);
    tg_tensor *features = tg_concat((tg_tensor *[]){ mean, max }, 2, 1);
    tg_tensor *logits = tg_linear_forward(c->head, tg_dropout(c->model, features, c->dropout));
    return tg_reshape(logits, TG_SHAPE(n));
}

static tg_tensor *labels_of(const review *const *items, int n)
{
    float labels[MAX_BATCH];
    for (int i = 0; i < n; i++)
        labels[i] = (float)items[i]->label;
    return tg_from_array(TG_SHAPE(n), labels);
}

/* Probability of "positive" for each of n reviews (probability may be NULL)
 * and the mean loss and accuracy. Evaluation mode, no graph kept. */
static int evaluate(classifier *c, const review *r, int n, float *probability, scores *out)
{
    bool training = tg_model_training(c->model);
    tg_model_set_training(c->model, false);
    tg_no_grad_begin();
    double loss = 0;
    int correct = 0, status = 0;
    for (int first = 0; first < n && status == 0; first += MAX_BATCH) {
        const review *items[MAX_BATCH];
        int count = n - first < MAX_BATCH ? n - first : MAX_BATCH;
        for (int i = 0; i < count; i++)
            items[i] = &r[first + i];
        tg_tensor *logits = classify(c, items, count);
        tg_tensor *sum = tg_bce_with_logits(logits, labels_of(items, count),
                                            &(tg_bce_config){ .reduction = TG_REDUCTION_SUM });
        float values[MAX_BATCH];
        if (!sum || tg_tensor_to_array(logits, values) != 0) {
            status = -1;
            break;
        }
        loss += tg_tensor_item(sum);
        for (int i = 0; i < count; i++) {
            float p = 1.0f / (1.0f + expf(-values[i]));
            correct += (p >= 0.5f) == (items[i]->label == 1);
            if (probability)
                probability[first + i] = p;
        }
        tg_graph_reset();
    }
    tg_no_grad_end();
    tg_model_set_training(c->model, training);
    *out = (scores){ .loss = n ? loss / n : NAN, .accuracy = n ? (double)correct / n : NAN };
    return status;
}

/* ---- 4. Training ------------------------------------------------------------------ */

/* A training batch as its parts see it (tg_batch_split: each part's
 * reviews through the whole network and back on one thread), and what
 * each part reports. */
typedef struct train_batch {
    classifier *c;
    const review *items[MAX_BATCH];
    int count;
    float loss[MAX_BATCH]; /* each part's share of the batch's mean loss */
    int right[MAX_BATCH];  /* each part's correct predictions */
} train_batch;

static int train_part(void *ctx, int part, int parts)
{
    train_batch *b = ctx;
    int begin, end;
    nb_part_rows(b->count, part, parts, &begin, &end);
    b->loss[part] = 0;
    b->right[part] = 0;
    if (begin == end) /* a last batch smaller than the number of parts */
        return 0;
    const review *const *items = b->items + begin;
    tg_tensor *logits = classify(b->c, items, end - begin);
    tg_tensor *labels = labels_of(items, end - begin);
    tg_tensor *loss = tg_mul_scalar(tg_bce_with_logits(logits, labels, NULL), (float)(end - begin) / (float)b->count);
    tg_tensor *right = tg_sum_all(tg_eq(tg_gt_scalar(logits, 0.0f), labels));
    if (!loss || !right || tg_backward(loss) != 0)
        return -1;
    b->loss[part] = tg_tensor_item(loss);
    b->right[part] = (int)tg_tensor_item(right);
    return 0;
}

/* One pass over the training sentences in a new random order. */
static int train_epoch(classifier *c, tg_optimizer *opt, tg_batch_split *split, int parts, const corpus *data,
                       int n_train, int batch_size, tg_rng *data_rng, scores *out)
{
    int64_t *order = malloc((size_t)n_train * sizeof *order);
    if (!order)
        return -1;
    for (int64_t i = 0; i < n_train; i++)
        order[i] = i;
    tg_rng_shuffle(data_rng, order, n_train);
    double loss = 0;
    int correct = 0, status = 0;
    train_batch b = { .c = c };
    for (int first = 0; first < n_train; first += batch_size) {
        b.count = n_train - first < batch_size ? n_train - first : batch_size;
        for (int i = 0; i < b.count; i++)
            b.items[i] = &data->train[order[first + i]];
        if (tg_batch_split_run(split, train_part, &b) != 0) {
            status = -1;
            break;
        }
        tg_clip_grad_norm(c->model, 5.0f);
        tg_optimizer_step(opt);
        tg_optimizer_zero_grad(opt);
        for (int p = 0; p < parts; p++) {
            loss += b.loss[p] * b.count;
            correct += b.right[p];
        }
        tg_graph_reset();
    }
    free(order);
    *out = (scores){ .loss = loss / n_train, .accuracy = (double)correct / n_train };
    return status;
}

/* Trains for epochs first_epoch, first_epoch + 1, ... with early stopping on
 * validation accuracy (ties: the lower loss), and leaves the best epoch's
 * weights in the model (optim/early_stop.h). Returns the best epoch (its
 * validation scores in *best_valid), or -1. */
static int train(classifier *c, tg_optimizer *opt, const corpus *data, const settings *s,
                 int first_epoch, tg_rng *data_rng, tg_history *history, scores *best_valid)
{
    tg_early_stop *stop = tg_early_stop_new(c->model, (tg_early_stop_config){
        .goal = TG_GOAL_MAX, .tie_goal = TG_GOAL_MIN, .patience = s->patience });
    *best_valid = (scores){ .loss = INFINITY, .accuracy = -1 };
    if (!stop)
        return -1;
    int status = 0, n_train = data->n_train < s->train_limit ? data->n_train : s->train_limit;
    /* Each batch in parts for the threads; dropout draws from the parts'
     * generators, seeded from the model's. */
    int parts = nb_split_parts(s->batch);
    tg_batch_split *split = tg_batch_split_new(parts, tg_rng_next_u64(tg_model_rng(c->model)));
    if (!split) {
        tg_early_stop_free(stop);
        return -1;
    }
    printf("    epoch   train loss  train acc   valid loss  valid acc   seconds\n");
    for (int epoch = first_epoch; epoch < first_epoch + s->epochs; epoch++) {
        double start = nb_seconds();
        scores train_scores, valid;
        if (train_epoch(c, opt, split, parts, data, n_train, s->batch, data_rng, &train_scores) != 0 ||
            evaluate(c, data->valid, data->n_valid, NULL, &valid) != 0) {
            status = -1;
            break;
        }
        tg_history_add(history, epoch, "train_loss", train_scores.loss);
        tg_history_add(history, epoch, "valid_loss", valid.loss);
        tg_history_add(history, epoch, "train_accuracy", train_scores.accuracy);
        tg_history_add(history, epoch, "valid_accuracy", valid.accuracy);
        bool better = tg_early_stop_update(stop, epoch, valid.accuracy, valid.loss);
        printf("    %5d   %10.4f  %8.1f%%   %10.4f  %8.1f%%   %7.1f %s\n", epoch, train_scores.loss,
               100 * train_scores.accuracy, valid.loss, 100 * valid.accuracy,
               nb_seconds() - start, better ? "*" : "");
        fflush(stdout);
        if (tg_early_stop_should_stop(stop))
            break;
    }
    int best_epoch = status == 0 ? (int)tg_early_stop_best_epoch(stop) : -1;
    if (best_epoch >= 0 && tg_early_stop_restore(stop) != 0)
        best_epoch = -1;
    if (best_epoch >= 0)
        *best_valid = (scores){ .loss = tg_early_stop_best_tie(stop),
                                .accuracy = tg_early_stop_best_score(stop) };
    tg_early_stop_free(stop);
    tg_batch_split_free(split);
    return best_epoch;
}

/* ---- 5. Test, and the charts --------------------------------------------------------- */

/* confusion[actual][predicted] over the test sentences. */
static void confusion_matrix(const corpus *data, const float *probability, int confusion[2][2])
{
    memset(confusion, 0, 4 * sizeof(int));
    for (int i = 0; i < data->n_test; i++)
        confusion[data->test[i].label][probability[i] >= 0.5f]++;
}

static int plot_confusion(const char *path, int confusion[2][2])
{
    float predicted_negative[2] = { (float)confusion[0][0], (float)confusion[1][0] };
    float predicted_positive[2] = { (float)confusion[0][1], (float)confusion[1][1] };
    tg_plot_series series[] = {
        { .name = "predicted negative", .y = predicted_negative, .count = 2 },
        { .name = "predicted positive", .y = predicted_positive, .count = 2 },
    };
    return tg_plot_bars(path, series, 2, &(tg_plot_options){
        .title = "sentiment_lstm: confusion matrix on the test sentences",
        .xlabel = "actual label", .ylabel = "sentences",
        .labels = (const char *[]){ "negative", "positive" } });
}

/* Two panels: loss, and accuracy, each for training and validation. */
static int plot_curves(const char *path, const tg_history *history)
{
    int rows = tg_history_rows(history);
    double epoch[rows > 0 ? rows : 1], values[4][rows > 0 ? rows : 1];
    const char *names[4] = { "train_loss", "valid_loss", "train_accuracy", "valid_accuracy" };
    for (int r = 0; r < rows; r++) {
        epoch[r] = (double)tg_history_x(history, r);
        for (int k = 0; k < 4; k++)
            values[k][r] = tg_history_value(history, r, names[k]) * (k >= 2 ? 100 : 1);
    }
    tg_plot_figure *figure = tg_plot_figure_new((tg_plot_figure_config){
        .cols = 2, .width = 1200, .height = 480, .title = "sentiment_lstm: training curves" });
    for (int panel = 0; figure && panel < 2; panel++) {
        tg_plot_series series[] = {
            { .name = "train", .xd = epoch, .yd = values[2 * panel], .count = rows },
            { .name = "validation", .xd = epoch, .yd = values[2 * panel + 1], .count = rows },
        };
        if (tg_plot_figure_lines(figure, panel, series, 2, &(tg_plot_options){
                .title = panel == 0 ? "loss (binary cross-entropy)" : "accuracy",
                .xlabel = "epoch", .ylabel = panel == 0 ? "nats" : "%" }) < 0) {
            tg_plot_figure_free(figure);
            return -1;
        }
    }
    int status = figure ? tg_plot_figure_save(figure, path) : -1;
    tg_plot_figure_free(figure);
    return status;
}

/* ---- 6. New reviews ------------------------------------------------------------------------ */

/* Prints the tokens as the model sees them and its verdict on text. */
static int classify_text(classifier *c, const tg_vocab *vocab, const char *text)
{
    tg_tokens *tokens = tg_text_tokenize(text, strlen(text));
    review r = { .text = text };
    if (!tokens || encode_review(vocab, tokens, &r) != 0) {
        tg_tokens_free(tokens);
        return -1;
    }
    char *seen = tg_vocab_decode(vocab, r.ids, r.length);
    float probability;
    scores unused;
    int status = evaluate(c, &r, 1, &probability, &unused);
    if (status == 0 && seen) {
        printf("    review:      \"%s\"\n", text);
        printf("    as tokens:   %s\n", seen);
        printf("    P(positive) = %.3f  ->  %s\n\n", probability,
               probability >= 0.5f ? "Positive" : "Negative");
    }
    free(seen);
    free(r.ids);
    tg_tokens_free(tokens);
    return status == 0 && seen ? 0 : -1;
}

/* ---- Checkpoints: the weights, and the vocabulary beside them ------------------------------ */

/* The checkpoint and its vocabulary are two files, each saved atomically,
 * but not together: a run killed between the two saves leaves a new one
 * beside an old one. So the checkpoint records the vocabulary's hash
 * ("user.vocab_hash"), and --load refuses a pair that does not match,
 * rather than map words to the ids of another vocabulary. */

static void vocab_path(const char *checkpoint, char *out, size_t n)
{
    snprintf(out, n, "%s.vocab", checkpoint);
}

static void vocab_hash_text(const tg_vocab *vocab, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)tg_vocab_hash(vocab));
}

static int save_all(const char *path, classifier *c, tg_optimizer *opt, const tg_vocab *vocab,
                    int epoch)
{
    char vocab_file[1024], hash[17];
    vocab_path(path, vocab_file, sizeof vocab_file);
    vocab_hash_text(vocab, hash);
    tg_checkpoint ck = { .model = c->model, .optimizer = opt, .epoch = epoch,
                         .user = (const tg_string_pair[]){ { "vocab_hash", hash } }, .n_user = 1 };
    return tg_vocab_save(vocab, vocab_file) == 0 && tg_checkpoint_save(path, &ck) == 0 ? 0 : -1;
}

/* 0 when the checkpoint at path was saved with vocab (loaded from
 * vocab_file); else, after a message, 2. */
static int check_pair(const char *path, const char *vocab_file, const tg_vocab *vocab)
{
    tg_safetensors *file = tg_safetensors_load(path);
    if (!file) {
        fprintf(stderr, "%s: --load: %s\n", PROGRAM, tg_error_message());
        return 2;
    }
    char expected[17];
    vocab_hash_text(vocab, expected);
    const char *saved = tg_checkpoint_user(file, "vocab_hash");
    int status = 0;
    if (!saved) {
        fprintf(stderr, "%s: --load: %s records no vocabulary hash, so %s cannot be checked "
                "against it\n", PROGRAM, path, vocab_file);
        status = 2;
    } else if (strcmp(saved, expected) != 0) {
        fprintf(stderr, "%s: --load: %s was saved with another vocabulary than %s (hash %s in "
                "the checkpoint, %s of the file): the pair is not from the same save\n",
                PROGRAM, path, vocab_file, saved, expected);
        status = 2;
    }
    tg_safetensors_free(file);
    return status;
}

/* ---- The notebook ---------------------------------------------------------------------------- */

/* Everything the sections share. */
typedef struct notebook {
    settings s;
    const nb_common *common;
    const char *extra_review; /* --review, or NULL */
    tg_rng data_rng;          /* the split and the batches' order */
    corpus data;
    tg_tokens **tokens;       /* every sentence's tokens, in data.all's order */
    tg_vocab *vocab;
    classifier net;
    tg_optimizer *opt;
    tg_history *history;
    int trained_epochs;       /* by the checkpoint of --load */
} notebook;

static int section_data(notebook *nb)
{
    nb_section(1, "The data",
               "Each line of the files is a sentence and its label: 1 positive, 0 negative. "
               "There are 1,000 short IMDb movie reviews and 1,000 Amazon phone-accessory "
               "reviews (Kotzias et al., KDD 2015), half of each kind. They are shuffled with "
               "the seed and split 70/15/15: the network learns from the training part, the "
               "validation part decides which epoch's weights to keep, and the test part is "
               "used once, at the end, so its accuracy is an honest estimate.");
    const corpus *data = &nb->data;
    int status = load_corpus(&nb->data, nb->common->data, &nb->data_rng);
    if (status != 0)
        return status;
    printf("    %-10s %6s %9s\n", "part", "count", "positive");
    printf("    %-10s %6d %8.1f%%\n", "train", data->n_train,
           100.0 * count_positive(data->train, data->n_train) / data->n_train);
    printf("    %-10s %6d %8.1f%%\n", "validation", data->n_valid,
           100.0 * count_positive(data->valid, data->n_valid) / data->n_valid);
    printf("    %-10s %6d %8.1f%%\n", "test", data->n_test,
           100.0 * count_positive(data->test, data->n_test) / data->n_test);
    printf("\n    e.g. [%d] %s\n         [%d] %s\n", data->train[0].label, data->train[0].text,
           data->train[1].label, data->train[1].text);
    return 0;
}

static int section_words(notebook *nb)
{
    nb_section(2, "Words to numbers",
               "The tokenizer lower-cases words and splits off punctuation, so \"Boring.\" and "
               "\"boring\" are the same word. The vocabulary counts the training sentences only "
               "and keeps the words seen at least twice: a word seen once teaches nothing that "
               "can be used again, and sending rare words to <unk> lets the <unk> vector learn "
               "what an unfamiliar word usually means. Id 0 is <pad>: it fills the short "
               "sentences of a batch, and the Embedding keeps its vector at zero.");
    corpus *data = &nb->data;
    const char *load = nb->common->load;
    nb->tokens = tokenize_all(data);
    if (!nb->tokens)
        return 1;
    if (load) {
        char vocab_file[1024];
        vocab_path(load, vocab_file, sizeof vocab_file);
        nb->vocab = tg_vocab_load(vocab_file);
        if (nb->vocab && check_pair(load, vocab_file, nb->vocab) != 0)
            return 2;
    } else {
        nb->vocab = tg_vocab_build((const tg_tokens *const *)nb->tokens, data->n_train,
                                   (tg_vocab_config){ .min_count = nb->s.min_count });
    }
    if (!nb->vocab) {
        fprintf(stderr, "%s: %s\n", PROGRAM, tg_error_message());
        return load ? 2 : 1;
    }
    for (int i = 0; i < data->count; i++)
        if (encode_review(nb->vocab, nb->tokens[i], &data->all[i]) != 0)
            return 1;
    printf("    %d ids (%d words seen at least %d times, <pad> and <unk>)%s\n",
           tg_vocab_size(nb->vocab), tg_vocab_size(nb->vocab) - 2, nb->s.min_count,
           load ? ", loaded" : "");
    printf("    most frequent: ");
    for (int id = 2; id < 12 && id < tg_vocab_size(nb->vocab); id++)
        printf("%s ", tg_vocab_token(nb->vocab, id));
    printf("\n    unknown tokens: %.1f%% of the training text, %.1f%% of the validation text\n",
           100 * unknown_share(data->train, data->n_train),
           100 * unknown_share(data->valid, data->n_valid));
    return 0;
}

static int section_model(notebook *nb)
{
    nb_section(3, "The model",
               "Embedding -> LSTM -> pooling over time -> Linear -> one logit, and "
               "P(positive) = sigmoid(logit). A batch is padded to its longest sentence and "
               "the LSTM is given each sentence's length, so padding neither changes a "
               "sentence's state nor shows in its outputs. The head reads the mean and the "
               "maximum of the LSTM's outputs over each sentence's real steps rather than "
               "only the last state h_n: in one short sentence a single telling word "
               "(\"boring\", \"excellent\") is the strongest clue, and max pooling passes it "
               "on from wherever it stands, where h_n must carry it through every later word. "
               "2,000 sentences are little data for 120,000 weights, so every choice "
               "leans against memorising them: 64 numbers per word and 64 units; word vectors "
               "that start near zero (N(0, 0.1) rather than PyTorch's N(0, 1), whose noise a "
               "rarely seen word never loses: this alone is worth about two points of test "
               "accuracy here); dropout 0.5 on the word vectors and on the pooled features "
               "while training; and AdamW's weight decay.");
    const settings *s = &nb->s;
    if (make_classifier(&nb->net, nb->common->seed, tg_vocab_size(nb->vocab), s) != 0)
        return 1;
    nb_print_parameters(nb->net.model, 22);
    printf("    %lld parameters; LSTM %s, %lld units per direction\n",
           (long long)tg_model_numel(nb->net.model), s->bidirectional ? "bidirectional" : "one direction",
           (long long)s->hidden);
    printf("    computing on %d thread(s) (--threads N to change)\n", tg_get_num_threads());
    nb->opt = tg_adamw_new(nb->net.model, (tg_adam_config){ .lr = s->lr, .weight_decay = s->weight_decay });
    if (!nb->opt || !nb->history)
        return 1;
    return nb_resume_epochs(PROGRAM, nb->common, nb->net.model, nb->opt, &nb->trained_epochs);
}

static int section_training(notebook *nb)
{
    if (nb->common->eval) {
        nb_section(4, "Evaluation only",
                   "--eval: the weights and the vocabulary come from --load, and nothing is "
                   "trained; the test below measures them on --data's test part.");
        return 0;
    }
    nb_section(4, "Training",
               "Batches of 16 sentences in a new random order each epoch, each batch split "
               "between the threads (tg_batch_split: every thread runs its sentences through "
               "the whole network and back, and their gradients are added); the loss is binary "
               "cross-entropy computed from the logit (stable however large it grows), and "
               "AdamW takes a step after each batch, with gradients clipped to norm 5. After "
               "each epoch the validation accuracy decides: the best epoch's weights are "
               "copied aside (*), and training stops once a few epochs pass without a better "
               "one (early stopping). Watch the training accuracy keep climbing while the "
               "validation accuracy levels off: that gap is overfitting.");
    double start = nb_seconds();
    scores best_valid;
    int best_epoch = train(&nb->net, nb->opt, &nb->data, &nb->s, nb->trained_epochs + 1,
                           &nb->data_rng, nb->history, &best_valid);
    if (best_epoch < 0)
        return 1;
    printf("\n    kept the weights of epoch %d (validation accuracy %.1f%%); %.0f s in all\n",
           best_epoch, 100 * best_valid.accuracy, nb_seconds() - start);
    return 0;
}

static int section_test(notebook *nb)
{
    nb_section(5, "Test",
               "The kept weights classify the test sentences, never seen until now. The "
               "confusion matrix shows which way the mistakes go.");
    const corpus *data = &nb->data;
    const nb_common *common = nb->common;
    float *probability = malloc((size_t)data->n_test * sizeof *probability);
    scores test;
    if (!probability || evaluate(&nb->net, data->test, data->n_test, probability, &test) != 0) {
        free(probability);
        return 1;
    }
    int confusion[2][2];
    confusion_matrix(data, probability, confusion);
    free(probability);
    printf("    test accuracy %.1f%% (%d of %d), test loss %.4f\n\n", 100 * test.accuracy,
           confusion[0][0] + confusion[1][1], data->n_test, test.loss);
    printf("                        predicted negative   predicted positive\n");
    printf("    actually negative   %18d   %18d\n", confusion[0][0], confusion[0][1]);
    printf("    actually positive   %18d   %18d\n\n", confusion[1][0], confusion[1][1]);
    char path[1024];
    if (plot_confusion(nb_out_path(common, "sentiment_lstm_confusion.png", path, sizeof path),
                       confusion) < 0)
        return 1;
    nb_wrote(path, "confusion matrix as bars");
    if (common->eval) {
        printf("    (--eval trains nothing, so there are no learning curves)\n");
        return 0;
    }
    if (plot_curves(nb_out_path(common, "sentiment_lstm_curves.png", path, sizeof path),
                    nb->history) != 0)
        return 1;
    nb_wrote(path, "loss and accuracy per epoch, training and validation");
    if (tg_history_write_csv(nb->history, nb_out_path(common, "sentiment_lstm_history.csv", path,
                                                      sizeof path)) != 0)
        return 1;
    nb_wrote(path, "one row per epoch: losses and accuracies");
    return 0;
}

static int section_new_reviews(notebook *nb)
{
    nb_section(6, "The seed's review",
               "The seed's example: interesting at first, boring later. The verdict is "
               "Positive when P(positive) is at least 0.5. Words the vocabulary does not know "
               "show as <unk>.");
    if (classify_text(&nb->net, nb->vocab, SEED_REVIEW) != 0 ||
        (nb->extra_review && classify_text(&nb->net, nb->vocab, nb->extra_review) != 0))
        return 1;
    const char *save = nb->common->save;
    if (!save)
        return 0;
    /* The epochs continue from the last one run, with the kept weights. */
    int last_epoch = (int)tg_history_x(nb->history, tg_history_rows(nb->history) - 1);
    if (save_all(save, &nb->net, nb->opt, nb->vocab, last_epoch) != 0)
        return 1;
    char vocab_file[1024];
    vocab_path(save, vocab_file, sizeof vocab_file);
    nb_wrote(vocab_file, "the vocabulary, one token per line");
    nb_wrote(save, "checkpoint: the kept weights, the optimizer state, the vocabulary's hash");
    return 0;
}

/* ---- Setting up ------------------------------------------------------------------------------ */

/* Parses the flags into common and nb's settings; returns as nb_parse. */
static int parse(int argc, char **argv, nb_common *common, notebook *nb)
{
    bool bidirectional = false;
    nb_option options[] = {
        { "bidirectional", NB_FLAG, &bidirectional, "read each sentence in both directions" },
        { "review", NB_STRING, &nb->extra_review, "a review of your own to classify" },
    };
    int parsed = nb_parse(argc, argv, PROGRAM,
                          "sentiment analysis of short reviews with an LSTM", common, options, 2);
    if (parsed != 0)
        return parsed;
    if (common->steps) {
        fprintf(stderr, "%s: --steps: this example counts epochs (--epochs N)\n", PROGRAM);
        return 2;
    }
    nb->s = (settings){ .embedding = 64, .hidden = 64, .dropout = 0.5f, .lr = 1e-3,
                        .weight_decay = 1e-2, .batch = 16, .epochs = 30, .patience = 6,
                        .min_count = 2, .train_limit = 1 << 30 };
    if (common->quick)
        nb->s = (settings){ .embedding = 16, .hidden = 16, .dropout = 0.2f, .lr = 1e-2,
                            .weight_decay = 1e-2, .batch = 16, .epochs = 4, .patience = 4,
                            .min_count = 2, .train_limit = 320 };
    if (common->epochs)
        nb->s.epochs = common->epochs;
    nb->s.bidirectional = bidirectional;
    nb->data_rng = tg_rng_new(common->seed);
    nb->history = tg_history_new("epoch");
    return 0;
}

static void release(notebook *nb)
{
    for (int i = 0; nb->tokens && i < nb->data.count; i++)
        tg_tokens_free(nb->tokens[i]);
    free(nb->tokens);
    tg_history_free(nb->history);
    tg_optimizer_free(nb->opt);
    tg_model_free(nb->net.model);
    tg_vocab_free(nb->vocab);
    free_corpus(&nb->data);
    tg_graph_release();
}

int main(int argc, char **argv)
{
    nb_common common;
    notebook nb = { .common = &common };
    int parsed = parse(argc, argv, &common, &nb);
    if (parsed != 0)
        return parsed == 1 ? 0 : 2;
    int status = section_data(&nb);
    if (status == 0)
        status = section_words(&nb);
    if (status == 0)
        status = section_model(&nb);
    if (status == 0)
        status = section_training(&nb);
    if (status == 0)
        status = section_test(&nb);
    if (status == 0)
        status = section_new_reviews(&nb);
    if (status == 1)
        nb_fail(PROGRAM, "failed");
    release(&nb);
    return status;
}
