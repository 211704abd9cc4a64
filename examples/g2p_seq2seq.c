/*
 * g2p_seq2seq: grapheme-to-phoneme conversion (spelling -> pronunciation)
 * on the CMU Pronouncing Dictionary, a small sequence-to-sequence
 * "translation" with an LSTM encoder, an LSTM decoder and attention.
 *
 * A bidirectional LSTM reads a word's letters; an LSTM decoder writes its
 * phonemes one at a time, each step attending over the letters (scaled
 * dot-product attention). It trains with teacher forcing (the decoder reads
 * the true previous phoneme) and decodes greedily and by beam search. The
 * words are split once, by a hash of the word, into training, validation
 * and test words; the phoneme and word error rates on the test words are
 * set beside Yao & Zweig's (2015) published CMUdict figures.
 *
 *     g2p_seq2seq [--quick] [--word W[,W...]] [--beam K] [--minutes M] [--epochs N]
 *                 [--hidden H] [--data PATH] [--out DIR] [--save PATH] [--load PATH [--eval]]
 *
 * Writes to DIR: g2p_seq2seq_history.csv (training loss per step,
 * validation loss per epoch), g2p_seq2seq_loss.png, and the attention
 * weights of a few words as g2p_seq2seq_attention.csv and as heat maps,
 * phonemes against letters, in g2p_seq2seq_attention.png.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notebook.h"

static const char PROGRAM[] = "g2p_seq2seq";

/* Letters: id 0 pads, 1..29 are these. */
static const char LETTERS[] = "abcdefghijklmnopqrstuvwxyz'.-";
enum { N_LETTERS = 30 };

/* The 39 ARPAbet phonemes of CMUdict, stress digits removed (as in the
 * published G2P results); then the end and start markers. */
static const char *const PHONEMES[] = {
    "AA", "AE", "AH", "AO", "AW", "AY", "B",  "CH", "D",  "DH", "EH", "ER", "EY",
    "F",  "G",  "HH", "IH", "IY", "JH", "K",  "L",  "M",  "N",  "NG", "OW", "OY",
    "P",  "R",  "S",  "SH", "T",  "TH", "UH", "UW", "V",  "W",  "Y",  "Z",  "ZH",
};
enum { N_PHONEMES = 39, EOS = 39, BOS = 40, N_OUT = 41, MAX_LETTERS = 40, MAX_PHONES = 40,
       MAX_PRONS = 8, SHOWN = 4 };

/* Yao & Zweig (2015), CMUdict test set: phoneme and word error rates in
 * percent of their side-conditioned encoder-decoder LSTM and of their
 * alignment-based bi-directional LSTM. */
static const struct { const char *model; double per, wer; } PUBLISHED[] = {
    { "encoder-decoder LSTM", 7.63, 28.61 },
    { "alignment-based bi-LSTM", 5.45, 23.55 },
};
#define TARGET_WER 28.61

typedef struct settings {
    int embed, hidden, decoder, batch, epochs, beam, max_train, max_test;
    float lr, clip, minutes;
    const char *words;
} settings;

/* ---- The dictionary ------------------------------------------------------------ */

typedef struct word {
    char text[MAX_LETTERS + 1];
    int n_prons;
    signed char prons[MAX_PRONS][MAX_PHONES];
    int lengths[MAX_PRONS];
} word;

typedef struct dictionary {
    word *words;
    int n;
    int *train, *validation, *test; /* indices into words */
    int n_train, n_validation, n_test;
} dictionary;

static int letter_id(char c)
{
    const char *at = c ? strchr(LETTERS, c) : NULL;
    return at ? (int)(at - LETTERS) + 1 : -1;
}

static int phoneme_id(const char *token)
{
    char base[4];
    size_t n = strlen(token);
    if (n > 0 && token[n - 1] >= '0' && token[n - 1] <= '2')
        n--; /* the stress digit */
    if (n == 0 || n > 2)
        return -1;
    memcpy(base, token, n);
    base[n] = '\0';
    for (int i = 0; i < N_PHONEMES; i++)
        if (strcmp(PHONEMES[i], base) == 0)
            return i;
    return -1;
}

/* FNV-1a of the word: the split depends on the word alone, so it is the
 * same on every run and machine, and a word's pronunciations stay together. */
static unsigned hash_word(const char *text)
{
    unsigned h = 2166136261u;
    for (const char *p = text; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

static int bad_line(const char *path, int line, const char *what)
{
    fprintf(stderr, "%s: %s: line %d: %s\n", PROGRAM, path, line, what);
    return 2;
}

/* Parses one line "word[(n)] PH PH ... [# comment]" into w (a new word or
 * another pronunciation of the previous one); 2 after naming the line. */
static int parse_line(const char *path, int line, char *text, dictionary *d)
{
    char *hash = strchr(text, '#');
    if (hash)
        *hash = '\0';
    char *save = NULL, *key = strtok_r(text, " \t", &save);
    if (!key)
        return bad_line(path, line, "empty line (expected a word and its phonemes)");
    char *paren = strchr(key, '(');
    if (paren) {
        size_t n = strlen(paren);
        if (n < 3 || paren[n - 1] != ')' || strspn(paren + 1, "0123456789") != n - 2)
            return bad_line(path, line, "a variant is written word(2), word(3), ...");
        *paren = '\0';
    }
    size_t length = strlen(key);
    if (length == 0 || length > MAX_LETTERS)
        return bad_line(path, line, "a word has 1 to 40 characters");
    char message[160];
    for (size_t i = 0; i < length; i++)
        if (letter_id(key[i]) < 0) {
            snprintf(message, sizeof message,
                     "character 0x%02x in \"%.40s\" is not a lower-case letter, apostrophe, period or hyphen",
                     (unsigned char)key[i], key);
            return bad_line(path, line, message);
        }
    word *w = d->n > 0 && strcmp(d->words[d->n - 1].text, key) == 0 ? &d->words[d->n - 1] : NULL;
    if (!w) {
        w = &d->words[d->n++];
        *w = (word){ 0 };
        memcpy(w->text, key, length + 1);
    }
    if (w->n_prons == MAX_PRONS)
        return bad_line(path, line, "more than 8 pronunciations of one word");
    int n = 0;
    for (char *token; (token = strtok_r(NULL, " \t", &save));) {
        int id = phoneme_id(token);
        if (id < 0) {
            snprintf(message, sizeof message, "\"%.12s\" is not one of CMUdict's 39 phonemes", token);
            return bad_line(path, line, message);
        }
        if (n == MAX_PHONES)
            return bad_line(path, line, "more than 40 phonemes");
        w->prons[w->n_prons][n++] = (signed char)id;
    }
    if (n == 0)
        return bad_line(path, line, "a word without phonemes");
    w->lengths[w->n_prons++] = n;
    return 0;
}

/* Reads the dictionary and splits it by word: hash % 20 == 0 validation
 * (5%), 1 or 2 test (10%), the rest training (85%). A variant line follows
 * its word (CMUdict's order); one found elsewhere counts as a new word.
 * 2 after a message on a bad file or line. */
static int load_dictionary(dictionary *d, const char *path)
{
    size_t size;
    char *text = tg_text_read(path, 0, &size);
    if (!text) {
        fprintf(stderr, "%s: %s\n", PROGRAM, tg_error_message());
        return 2;
    }
    int lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += text[i] == '\n';
    *d = (dictionary){ .words = malloc(sizeof(word) * (size_t)lines) };
    int status = d->words ? 0 : -1;
    int line = 1;
    for (size_t at = 0; at < size && status == 0; line++) {
        size_t end = at;
        while (end < size && tg_text_line_end(text, size, end) == 0)
            end++;
        size_t skip = end < size ? tg_text_line_end(text, size, end) : 0;
        text[end] = '\0';
        for (size_t i = at; i < end && status == 0; i++)
            if ((unsigned char)text[i] < 0x20 && text[i] != '\t')
                status = bad_line(path, line, "a control byte: not a text line");
        if (status == 0)
            status = parse_line(path, line, text + at, d);
        at = end + skip;
    }
    free(text);
    if (status != 0)
        return status;
    if (d->n == 0) {
        fprintf(stderr, "%s: %s: no words\n", PROGRAM, path);
        return 2;
    }
    d->train = malloc(sizeof(int) * (size_t)d->n);
    d->validation = malloc(sizeof(int) * (size_t)d->n);
    d->test = malloc(sizeof(int) * (size_t)d->n);
    if (!d->train || !d->validation || !d->test)
        return -1;
    for (int i = 0; i < d->n; i++) {
        unsigned part = hash_word(d->words[i].text) % 20;
        if (part == 0)
            d->validation[d->n_validation++] = i;
        else if (part <= 2)
            d->test[d->n_test++] = i;
        else
            d->train[d->n_train++] = i;
    }
    return 0;
}

static void free_dictionary(dictionary *d)
{
    free(d->words);
    free(d->train);
    free(d->validation);
    free(d->test);
}

static void append_phonemes(const signed char *ids, int n, char *out, size_t size)
{
    size_t used = strlen(out);
    for (int i = 0; i < n && used < size; i++) {
        snprintf(out + used, size - used, "%s%s", i ? " " : "", PHONEMES[ids[i]]);
        used = strlen(out);
    }
}

/* ---- The network --------------------------------------------------------------- */

typedef struct net {
    tg_model *model;
    tg_embedding *letters, *phones;
    tg_lstm *encoder, *decoder;
    tg_linear *bridge_h, *bridge_c, *keys, *combine, *out;
} net;

static int make_net(net *n, uint64_t seed, const settings *s)
{
    int64_t E = s->embed, H = s->hidden, D = s->decoder;
    n->model = tg_model_new(seed);
    n->letters = tg_embedding_new(n->model, "letters", (tg_embedding_config){ .count = N_LETTERS, .dim = E,
                                                                             .use_padding_idx = true });
    n->encoder = tg_lstm_new(n->model, "encoder", (tg_rnn_config){ .input = E, .hidden = H, .bidirectional = true,
                                                                   .batch_first = true, .forget_bias_one = true });
    n->bridge_h = tg_linear_new(n->model, "bridge_h", (tg_linear_config){ .input = 2 * H, .output = D });
    n->bridge_c = tg_linear_new(n->model, "bridge_c", (tg_linear_config){ .input = 2 * H, .output = D });
    n->phones = tg_embedding_new(n->model, "phones", (tg_embedding_config){ .count = N_OUT, .dim = E });
    n->decoder = tg_lstm_new(n->model, "decoder", (tg_rnn_config){ .input = E, .hidden = D, .batch_first = true,
                                                                   .forget_bias_one = true });
    n->keys = tg_linear_new(n->model, "keys", (tg_linear_config){ .input = 2 * H, .output = D, .no_bias = true });
    n->combine = tg_linear_new(n->model, "combine", (tg_linear_config){ .input = D + 2 * H, .output = D });
    n->out = tg_linear_new(n->model, "out", (tg_linear_config){ .input = D, .output = N_OUT });
    return n->letters && n->encoder && n->bridge_h && n->bridge_c && n->phones && n->decoder && n->keys &&
                   n->combine && n->out ? 0 : -1;
}

/* What the decoder reads of a batch of encoded words. */
typedef struct encoded {
    tg_tensor *values; /* [B, L, 2H]: the encoder's outputs */
    tg_tensor *keys;   /* [B, L, D]: the same projected to the decoder's size */
    tg_tensor *mask;   /* [B, 1, L]: 1 on padding letters */
    tg_tensor *h, *c;  /* [1, B, D]: the decoder's first state */
} encoded;

/* Encodes letters [B, L] (ids, 0 padding) of the given lengths. */
static encoded encode(const net *n, tg_tensor *letters, const int64_t *lengths)
{
    int64_t B = letters->shape[0], L = letters->shape[1];
    tg_rnn_result run = tg_lstm_forward(n->encoder, tg_embedding_forward(n->letters, letters),
                                        &(tg_rnn_options){ .lengths = lengths });
    encoded e = { .values = run.output };
    if (!run.output)
        return e;
    /* h_n [2, B, H]: both directions' last states side by side -> [B, 2H] */
    tg_tensor *hs = tg_concat((tg_tensor *[]){ tg_select(run.h_n, 0, 0), tg_select(run.h_n, 0, 1) }, 2, 1);
    tg_tensor *cs = tg_concat((tg_tensor *[]){ tg_select(run.c_n, 0, 0), tg_select(run.c_n, 0, 1) }, 2, 1);
    e.h = tg_unsqueeze(tg_tanh(tg_linear_forward(n->bridge_h, hs)), 0);
    e.c = tg_unsqueeze(tg_linear_forward(n->bridge_c, cs), 0);
    e.keys = tg_linear_forward(n->keys, run.output);
    e.mask = tg_empty(TG_SHAPE(B, 1, L));
    if (e.mask)
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < L; t++)
                e.mask->data[b * L + t] = t >= lengths[b] ? 1.0f : 0.0f;
    return e;
}

/* Logits [B, T, N_OUT] for the decoder's inputs [B, T] (phoneme ids, BOS
 * first), starting from state (h, c); *h_n, *c_n receive the state after
 * the last step and *weights the attention [B, T, L] (each may be NULL). */
static tg_tensor *decode(const net *n, const encoded *e, tg_tensor *inputs, tg_tensor *h, tg_tensor *c,
                         tg_tensor **h_n, tg_tensor **c_n, tg_tensor **weights)
{
    tg_rnn_result run = tg_lstm_forward(n->decoder, tg_embedding_forward(n->phones, inputs),
                                        &(tg_rnn_options){ .h0 = h, .c0 = c });
    if (h_n) {
        *h_n = run.h_n;
        *c_n = run.c_n;
    }
    tg_tensor *context = tg_scaled_dot_product_attention(run.output, e->keys, e->values, e->mask, weights);
    tg_tensor *both = tg_concat((tg_tensor *[]){ run.output, context }, 2, 2);
    return tg_linear_forward(n->out, tg_tanh(tg_linear_forward(n->combine, both)));
}

/* ---- Batches ----------------------------------------------------------------- */

/* One pronunciation of one word. */
typedef struct example {
    int word, pron;
} example;

typedef struct batch {
    tg_tensor *letters, *inputs, *targets; /* [B, L], [B, T], [B, T] */
    int64_t lengths[1024];
} batch;

/* Graph tensors of examples xs[0..B): letters, decoder inputs (BOS then the
 * phonemes) and targets (the phonemes then EOS, padding BOS = ignored). */
static int make_batch(const dictionary *d, const example *xs, int B, batch *out)
{
    int64_t L = 1, T = 1;
    for (int b = 0; b < B; b++) {
        const word *w = &d->words[xs[b].word];
        int64_t l = (int64_t)strlen(w->text), t = w->lengths[xs[b].pron] + 1;
        L = l > L ? l : L;
        T = t > T ? t : T;
        out->lengths[b] = l;
    }
    out->letters = tg_empty(TG_SHAPE(B, L));
    out->inputs = tg_empty(TG_SHAPE(B, T));
    out->targets = tg_empty(TG_SHAPE(B, T));
    if (!out->letters || !out->inputs || !out->targets)
        return -1;
    for (int b = 0; b < B; b++) {
        const word *w = &d->words[xs[b].word];
        for (int64_t i = 0; i < L; i++)
            out->letters->data[b * L + i] = i < out->lengths[b] ? (float)letter_id(w->text[i]) : 0.0f;
        int n = w->lengths[xs[b].pron];
        for (int64_t t = 0; t < T; t++) {
            out->inputs->data[b * T + t] = t == 0 ? BOS : t <= n ? w->prons[xs[b].pron][t - 1] : BOS;
            out->targets->data[b * T + t] = t < n ? w->prons[xs[b].pron][t] : t == n ? EOS : BOS;
        }
    }
    return 0;
}

static tg_tensor *batch_loss(const net *n, const batch *bt, tg_reduction reduction)
{
    encoded e = encode(n, bt->letters, bt->lengths);
    tg_tensor *logits = decode(n, &e, bt->inputs, e.h, e.c, NULL, NULL, NULL);
    return tg_cross_entropy(logits, bt->targets, &(tg_class_loss_config){ .reduction = reduction,
                                                                         .use_ignore_index = true,
                                                                         .ignore_index = BOS });
}

/* ---- Decoding ------------------------------------------------------------------ */

/* A decoded pronunciation and, for the pictures, its attention rows. */
typedef struct hypothesis {
    signed char ids[MAX_PHONES];
    int n;
    float attention[MAX_PHONES][MAX_LETTERS];
} hypothesis;

static int letters_of(const char *text, tg_tensor **letters, int64_t *length, int copies)
{
    int64_t L = (int64_t)strlen(text);
    *letters = tg_empty(TG_SHAPE(copies, L));
    if (!*letters)
        return -1;
    for (int k = 0; k < copies; k++) {
        length[k] = L;
        for (int64_t i = 0; i < L; i++)
            (*letters)->data[k * L + i] = (float)letter_id(text[i]);
    }
    return 0;
}

/* Greedy decoding of words[0..B) at once: each step takes the likeliest
 * phoneme, until every word has written EOS or MAX_PHONES phonemes. */
static int greedy(const net *n, const dictionary *d, const int *words, int B, hypothesis *out)
{
    batch bt;
    int64_t L = 1;
    for (int b = 0; b < B; b++) {
        bt.lengths[b] = (int64_t)strlen(d->words[words[b]].text);
        L = bt.lengths[b] > L ? bt.lengths[b] : L;
    }
    bt.letters = tg_empty(TG_SHAPE(B, L));
    tg_tensor *prev = tg_empty(TG_SHAPE(B, 1));
    if (!bt.letters || !prev)
        return -1;
    for (int b = 0; b < B; b++) {
        for (int64_t i = 0; i < L; i++)
            bt.letters->data[b * L + i] = i < bt.lengths[b] ? (float)letter_id(d->words[words[b]].text[i]) : 0.0f;
        prev->data[b] = BOS;
        out[b].n = 0;
    }
    encoded e = encode(n, bt.letters, bt.lengths);
    tg_tensor *h = e.h, *c = e.c;
    int active = B;
    bool done[1024] = { false };
    for (int t = 0; t < MAX_PHONES && active > 0; t++) {
        tg_tensor *weights = NULL;
        tg_tensor *logits = decode(n, &e, prev, h, c, &h, &c, &weights);
        tg_tensor *best = tg_argmax(logits, 2, false);
        if (!best || !weights)
            return -1;
        prev = tg_empty(TG_SHAPE(B, 1));
        if (!prev)
            return -1;
        for (int b = 0; b < B; b++) {
            int id = (int)best->i64[b];
            prev->data[b] = (float)id;
            if (done[b])
                continue;
            if (id == EOS || id == BOS) {
                done[b] = true;
                active--;
                continue;
            }
            for (int64_t i = 0; i < L && i < MAX_LETTERS; i++)
                out[b].attention[out[b].n][i] = weights->data[b * L + i];
            out[b].ids[out[b].n++] = (signed char)id;
        }
    }
    return 0;
}

/* Beam search over one word: `width` hypotheses advance side by side (one
 * batch of width copies of the word); each step keeps the `width` best
 * continuations by total log-probability. A hypothesis that writes EOS is
 * finished; the search stops when the best finished one beats every open
 * one (log-probabilities only fall), or after MAX_PHONES steps. */
static int beam_search(const net *n, const char *text, int width, hypothesis *out)
{
    tg_tensor *letters;
    int64_t lengths[64];
    if (letters_of(text, &letters, lengths, width) != 0)
        return -1;
    int64_t L = letters->shape[1];
    encoded e = encode(n, letters, lengths);
    tg_tensor *h = e.h, *c = e.c;
    hypothesis open[64], next[64];
    double score[64], next_score[64], best_done = -INFINITY;
    for (int k = 0; k < width; k++) {
        open[k].n = 0;
        score[k] = k == 0 ? 0.0 : -INFINITY; /* the copies start as one hypothesis */
    }
    out->n = 0;
    tg_tensor *prev = tg_empty(TG_SHAPE(width, 1));
    if (!prev)
        return -1;
    for (int k = 0; k < width; k++)
        prev->data[k] = BOS;
    for (int t = 0; t < MAX_PHONES; t++) {
        tg_tensor *weights = NULL, *h_n, *c_n;
        tg_tensor *logp = tg_log_softmax(decode(n, &e, prev, h, c, &h_n, &c_n, &weights), 2);
        if (!logp || !weights)
            return -1;
        /* The best `width` (hypothesis, phoneme) pairs, by insertion. */
        int parent[64], phone[64], kept = 0;
        for (int k = 0; k < width; k++) {
            if (score[k] == -INFINITY)
                continue;
            for (int id = 0; id < N_OUT - 1; id++) {
                double s = score[k] + logp->data[k * N_OUT + id];
                int at = kept < width ? kept++ : width;
                if (at == width && s <= next_score[width - 1])
                    continue;
                if (at == width)
                    at = width - 1;
                while (at > 0 && next_score[at - 1] < s) {
                    next_score[at] = next_score[at - 1];
                    parent[at] = parent[at - 1];
                    phone[at] = phone[at - 1];
                    at--;
                }
                next_score[at] = s;
                parent[at] = k;
                phone[at] = id;
            }
        }
        tg_tensor *rows = tg_empty(TG_SHAPE(width));
        prev = tg_empty(TG_SHAPE(width, 1));
        if (!rows || !prev)
            return -1;
        for (int k = 0; k < width; k++) {
            bool alive = k < kept && phone[k] != EOS && t + 1 < MAX_PHONES;
            const hypothesis *from = &open[k < kept ? parent[k] : 0];
            if (k < kept && phone[k] == EOS && next_score[k] > best_done) {
                best_done = next_score[k];
                *out = *from;
            }
            next[k] = *from;
            if (alive) {
                for (int64_t i = 0; i < L && i < MAX_LETTERS; i++)
                    next[k].attention[next[k].n][i] = weights->data[parent[k] * L + i];
                next[k].ids[next[k].n++] = (signed char)phone[k];
            }
            score[k] = alive ? next_score[k] : -INFINITY;
            rows->data[k] = (float)(k < kept ? parent[k] : 0);
            prev->data[k] = alive ? (float)phone[k] : BOS;
        }
        memcpy(open, next, sizeof(hypothesis) * (size_t)width);
        double best_open = -INFINITY;
        for (int k = 0; k < width; k++)
            best_open = score[k] > best_open ? score[k] : best_open;
        if (best_done >= best_open)
            break;
        h = tg_index_select(h_n, 1, rows);
        c = tg_index_select(c_n, 1, rows);
    }
    return 0;
}

/* ---- Scoring ------------------------------------------------------------------- */

static int edit_distance(const signed char *a, int na, const signed char *b, int nb)
{
    int row[MAX_PHONES + 1];
    for (int j = 0; j <= nb; j++)
        row[j] = j;
    for (int i = 1; i <= na; i++) {
        int diagonal = row[0];
        row[0] = i;
        for (int j = 1; j <= nb; j++) {
            int substitute = diagonal + (a[i - 1] != b[j - 1]);
            int best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
            diagonal = row[j];
            row[j] = substitute < best ? substitute : best;
        }
    }
    return row[nb];
}

/* Error counts: a word is right when the output equals any of its listed
 * pronunciations; its phoneme errors are the edits to the closest one, over
 * that one's length. */
typedef struct score {
    long edits, phonemes;
    int words, wrong;
} score;

static void add_score(score *s, const word *w, const hypothesis *h)
{
    int best = -1, best_length = 0;
    for (int p = 0; p < w->n_prons; p++) {
        int e = edit_distance(h->ids, h->n, w->prons[p], w->lengths[p]);
        if (best < 0 || e < best) {
            best = e;
            best_length = w->lengths[p];
        }
    }
    s->edits += best;
    s->phonemes += best_length;
    s->words++;
    s->wrong += best != 0;
}

static double per(const score *s) { return 100.0 * (double)s->edits / (double)(s->phonemes ? s->phonemes : 1); }
static double wer(const score *s) { return 100.0 * s->wrong / (s->words ? s->words : 1); }

/* ---- Training -------------------------------------------------------------------- */

typedef struct trainer {
    settings s;
    const nb_common *common;
    dictionary d;
    net n;
    example *train, *validation;
    int64_t *order;
    int n_train, n_validation;
    tg_optimizer *opt;
    tg_batch_split *split; /* each batch in parts for the threads */
    int parts;
    tg_history *history;
    tg_checkpoint ck;
    int trained_epochs;
    double seconds;
    score greedy, beam;
    int n_scored;
} trainer;

/* Every pronunciation of the listed words, at most `limit` of them (0: all),
 * taken evenly through the list. */
static int collect_examples(const dictionary *d, const int *words, int n_words, int limit, example **out)
{
    int total = 0;
    for (int i = 0; i < n_words; i++)
        total += d->words[words[i]].n_prons;
    int step = limit > 0 && total > limit ? (total + limit - 1) / limit : 1, n = 0, at = 0;
    *out = malloc(sizeof(example) * (size_t)(total > 0 ? total : 1));
    if (!*out)
        return -1;
    for (int i = 0; i < n_words; i++)
        for (int p = 0; p < d->words[words[i]].n_prons; p++, at++)
            if (at % step == 0)
                (*out)[n++] = (example){ words[i], p };
    return n;
}

/* Mean loss per phoneme (EOS included) over the validation examples, no
 * gradients. */
static double validation_loss(trainer *tr)
{
    enum { CHUNK = 256 };
    double total = 0.0;
    long count = 0;
    tg_no_grad_begin();
    for (int at = 0; at < tr->n_validation; at += CHUNK) {
        int B = tr->n_validation - at < CHUNK ? tr->n_validation - at : CHUNK;
        batch bt;
        tg_tensor *loss = make_batch(&tr->d, tr->validation + at, B, &bt) == 0
                              ? batch_loss(&tr->n, &bt, TG_REDUCTION_SUM) : NULL;
        if (!loss) {
            total = NAN;
            break;
        }
        total += tg_tensor_item(loss);
        for (int b = 0; b < B; b++)
            count += tr->d.words[tr->validation[at + b].word].lengths[tr->validation[at + b].pron] + 1;
        tg_graph_reset();
    }
    tg_no_grad_end();
    tg_graph_reset();
    return total / (double)(count ? count : 1);
}

/* A training batch as its parts see it (tg_batch_split: each part's
 * pronunciations through the encoder, the attention and the decoder and
 * back on one thread), and each part's share of the batch's loss. */
typedef struct train_batch {
    trainer *tr;
    example xs[1024];
    int count;
    int64_t tokens; /* target tokens of the whole batch (phonemes and EOS) */
    float loss[TG_BATCH_SPLIT_MAX_PARTS];
} train_batch;

/* A part's summed loss over the batch's tokens: the parts add up to the
 * batch's mean loss per token. */
static int train_part(void *ctx, int part, int parts)
{
    train_batch *b = ctx;
    int begin, end;
    nb_part_rows(b->count, part, parts, &begin, &end);
    b->loss[part] = 0;
    if (begin == end) /* a last batch smaller than the number of parts */
        return 0;
    batch bt;
    tg_tensor *loss = make_batch(&b->tr->d, b->xs + begin, end - begin, &bt) == 0
                          ? tg_mul_scalar(batch_loss(&b->tr->n, &bt, TG_REDUCTION_SUM), 1.0f / (float)b->tokens)
                          : NULL;
    if (!loss || tg_backward(loss) != 0)
        return -1;
    b->loss[part] = tg_tensor_item(loss);
    return 0;
}

/* One pass over the shuffled training examples; stops early (returning 1)
 * when the time budget is spent. */
static int train_epoch(trainer *tr, int epoch, tg_rng *rng, double deadline)
{
    const settings *s = &tr->s;
    tg_rng_shuffle(rng, tr->order, tr->n_train);
    int64_t steps = (tr->n_train + s->batch - 1) / s->batch;
    train_batch b = { .tr = tr };
    for (int64_t i = 0; i < steps; i++) {
        b.count = 0;
        b.tokens = 0;
        for (int64_t at = i * s->batch; at < tr->n_train && b.count < s->batch; at++) {
            example x = tr->train[tr->order[at]];
            b.xs[b.count++] = x;
            b.tokens += tr->d.words[x.word].lengths[x.pron] + 1;
        }
        double started = nb_seconds();
        if (tg_batch_split_run(tr->split, train_part, &b) != 0)
            return -1;
        double loss = 0;
        for (int p = 0; p < tr->parts; p++)
            loss += b.loss[p];
        float norm = tg_clip_grad_norm(tr->n.model, s->clip);
        if (!isfinite(norm) || tg_optimizer_step(tr->opt) != 0)
            return -1;
        tg_optimizer_zero_grad(tr->opt);
        tg_history_add(tr->history, (int64_t)epoch * steps + i, "train_loss", loss);
        tg_graph_reset();
        tr->seconds += nb_seconds() - started;
        if (nb_seconds() > deadline)
            return 1;
    }
    return 0;
}

/* ---- The sections -------------------------------------------------------------------- */

static int fail(const char *message) { return nb_fail(PROGRAM, message); }

static int section_data(trainer *tr)
{
    const char *path = tr->common->data ? tr->common->data : TAPEGRAD_EXAMPLES_DATA "/cmudict/cmudict.dict";
    char text[900];
    snprintf(text, sizeof text,
             "The CMU Pronouncing Dictionary (%s): one line per pronunciation, \"word PH PH ...\", "
             "variants written word(2), word(3). Stress digits are dropped, leaving CMUdict's 39 "
             "phonemes, as in the published results. The split is by word and fixed: the FNV-1a hash "
             "of the word modulo 20 puts 0 in validation (5%%), 1 and 2 in test (10%%) and the rest in "
             "training (85%%), so every run and machine uses the same test words and all "
             "pronunciations of a word fall on one side.", path);
    nb_section(1, "The data", text);
    int status = load_dictionary(&tr->d, path);
    if (status != 0)
        return status == 2 ? 2 : fail("cannot read the dictionary");
    long prons = 0;
    for (int i = 0; i < tr->d.n; i++)
        prons += tr->d.words[i].n_prons;
    printf("    %d words, %ld pronunciations: %d training words, %d validation, %d test\n", tr->d.n, prons,
           tr->d.n_train, tr->d.n_validation, tr->d.n_test);
    tr->n_train = collect_examples(&tr->d, tr->d.train, tr->d.n_train, tr->s.max_train, &tr->train);
    tr->n_validation = collect_examples(&tr->d, tr->d.validation, tr->d.n_validation, tr->s.max_train / 8,
                                        &tr->validation);
    tr->order = malloc(sizeof(int64_t) * (size_t)(tr->n_train > 0 ? tr->n_train : 1));
    if (tr->n_train < 1 || tr->n_validation < 1 || !tr->order || tr->d.n_test < 1) {
        fprintf(stderr, "%s: %s: too few words for a training, validation and test part\n", PROGRAM, path);
        return 2;
    }
    for (int i = 0; i < tr->n_train; i++)
        tr->order[i] = i;
    printf("    training on %d pronunciations, validation loss over %d\n", tr->n_train, tr->n_validation);
    const word *w = &tr->d.words[tr->d.test[0]];
    char phones[256] = "";
    append_phonemes(w->prons[0], w->lengths[0], phones, sizeof phones);
    printf("    the first test word: %s -> %s\n", w->text, phones);
    /* --word is checked before training, so a typo costs no time. */
    for (const char *p = tr->s.words; p && *p; p++)
        if (*p != ',' && letter_id((char)tolower((unsigned char)*p)) < 0) {
            fprintf(stderr, "%s: --word: '%c' is not a letter, apostrophe, period or hyphen\n", PROGRAM, *p);
            return 2;
        }
    return 0;
}

static int section_model(trainer *tr)
{
    const settings *s = &tr->s;
    char text[1200];
    snprintf(text, sizeof text,
             "Encoder: each letter picks a vector of %d numbers (an Embedding) and a bidirectional "
             "LSTM of %d units each way reads them, so every letter's output [%d] knows the whole "
             "word. The decoder's first state comes from both directions' last states through a "
             "Linear layer (the bridge). Decoder: an LSTM of %d units reads the previous phoneme; at "
             "each step its state is the query of scaled dot-product attention over the letters "
             "(keys: the encoder outputs through a Linear layer; values: the outputs themselves; "
             "padding letters masked), the context and the state go through tanh(Linear) and a "
             "Linear layer to one score per phoneme and the end marker. Loss: cross-entropy of "
             "the next phoneme, in nats. Training feeds the true previous phoneme (teacher "
             "forcing), so the whole decoder runs as one LSTM pass.",
             s->embed, s->hidden, 2 * s->hidden, s->decoder);
    nb_section(2, "The model", text);
    if (make_net(&tr->n, tr->common->seed, s) != 0)
        return fail("cannot make the network");
    nb_print_parameters(tr->n.model, 26);
    printf("    %lld parameters\n", (long long)tg_model_numel(tr->n.model));
    return 0;
}

static int section_training(trainer *tr)
{
    const settings *s = &tr->s;
    char text[900];
    if (tr->common->eval)
        snprintf(text, sizeof text, "--eval: the weights come from --load and nothing is trained; the "
                 "validation loss is measured as after training.");
    else
        snprintf(text, sizeof text,
                 "Adam (lr %g), batches of %d pronunciations in a new order each epoch, gradients "
                 "clipped to norm %g, each batch split into %d parts for %d thread(s) (tg_batch_split: "
                 "each part runs its pronunciations forward and back on one thread, and the parts' "
                 "gradients are added). Up to %d epochs, stopping when %.1f minutes of training are "
                 "spent; the validation loss after each epoch.", s->lr, s->batch, s->clip,
                 nb_split_parts(s->batch), tg_get_num_threads(), s->epochs, s->minutes);
    nb_section(3, tr->common->eval ? "Evaluation only" : "Training", text);
    tr->opt = tg_adam_new(tr->n.model, (tg_adam_config){ .lr = s->lr });
    tr->parts = nb_split_parts(s->batch);
    tr->split = tg_batch_split_new(tr->parts, tr->common->seed);
    tr->history = tg_history_new("step");
    if (!tr->opt || !tr->split || !tr->history)
        return fail("cannot set up training");
    int status = nb_resume_epochs(PROGRAM, tr->common, tr->n.model, tr->opt, &tr->trained_epochs);
    if (status != 0)
        return status;
    double loss = validation_loss(tr);
    if (isnan(loss))
        return fail("cannot compute the validation loss");
    printf("    validation loss %s: %.3f nats per phoneme (uniform guessing: ln %d = %.3f)\n",
           tr->common->eval ? "of the loaded model" : "before training", loss, N_OUT - 1, log(N_OUT - 1));
    if (tr->common->eval)
        return 0;
    tg_rng rng = tg_rng_new(tr->common->seed + 7);
    double started = nb_seconds(), deadline = started + 60.0 * s->minutes;
    int64_t steps = (tr->n_train + s->batch - 1) / s->batch;
    for (int epoch = 0; epoch < s->epochs; epoch++) {
        int result = train_epoch(tr, tr->trained_epochs + epoch, &rng, deadline);
        if (result < 0)
            return fail("training failed");
        loss = validation_loss(tr);
        if (isnan(loss))
            return fail("cannot compute the validation loss");
        tg_history_add(tr->history, (int64_t)(tr->trained_epochs + epoch + 1) * steps - 1, "val_loss", loss);
        printf("    epoch %d: training loss %.3f, validation loss %.3f, %.0f s\n",
               tr->trained_epochs + epoch + 1, tg_history_last(tr->history, "train_loss"), loss,
               nb_seconds() - started);
        fflush(stdout);
        tr->ck.epoch = tr->trained_epochs + epoch + 1;
        if (result == 1) {
            printf("    the %.1f-minute budget is spent: training stops in epoch %d\n", s->minutes, epoch + 1);
            break;
        }
    }
    printf("    training: %.1f s (%.1f minutes), the validation passes left out\n", tr->seconds, tr->seconds / 60);
    return 0;
}

static void print_result(const char *model, double p, double w)
{
    printf("    %-40s %7.2f %7.2f\n", model, p, w);
}

static int section_results(trainer *tr)
{
    const settings *s = &tr->s;
    char text[1000];
    snprintf(text, sizeof text,
             "Each test word is pronounced greedily (the likeliest phoneme at each step) and by beam "
             "search (width %d). The word error rate (WER) is the share of words whose output is "
             "none of the listed pronunciations; the phoneme error rate (PER) counts the edits "
             "(insertions, deletions, substitutions) to the closest listed pronunciation over its "
             "length. Beside them, Yao & Zweig, \"Sequence-to-Sequence Neural Net Models for "
             "Grapheme-to-Phoneme Conversion\", Interspeech 2015 (arXiv 1506.00196), CMUdict results, "
             "on CMUdict's standard split (about 106,800 training and 12,000 test words; ours is "
             "the hash split of section 1, so the numbers are close but not the same test).",
             s->beam);
    nb_section(4, "Error rates on the test words", text);
    int n = s->max_test > 0 && s->max_test < tr->d.n_test ? s->max_test : tr->d.n_test;
    enum { CHUNK = 256 };
    hypothesis *h = malloc(sizeof(hypothesis) * CHUNK);
    if (!h)
        return fail("out of memory");
    double started = nb_seconds();
    tg_no_grad_begin();
    int status = 0;
    for (int at = 0; at < n && status == 0; at += CHUNK) {
        int B = n - at < CHUNK ? n - at : CHUNK;
        status = greedy(&tr->n, &tr->d, tr->d.test + at, B, h);
        for (int b = 0; b < B && status == 0; b++)
            add_score(&tr->greedy, &tr->d.words[tr->d.test[at + b]], &h[b]);
        tg_graph_reset();
    }
    double greedy_seconds = nb_seconds() - started;
    started = nb_seconds();
    for (int i = 0; i < n && status == 0 && s->beam > 1; i++) {
        status = beam_search(&tr->n, tr->d.words[tr->d.test[i]].text, s->beam, h);
        if (status == 0)
            add_score(&tr->beam, &tr->d.words[tr->d.test[i]], h);
        tg_graph_reset();
    }
    tg_no_grad_end();
    free(h);
    if (status != 0)
        return fail("cannot decode the test words");
    tr->n_scored = n;
    printf("    %d test words%s; greedy in %.1f s, beam search in %.1f s\n\n", n,
           n < tr->d.n_test ? " (--quick: the first of them)" : "", greedy_seconds, nb_seconds() - started);
    printf("    %-40s %7s %7s\n", "model", "PER %", "WER %");
    print_result("this example, greedy", per(&tr->greedy), wer(&tr->greedy));
    if (s->beam > 1) {
        char name[64];
        snprintf(name, sizeof name, "this example, beam search (width %d)", s->beam);
        print_result(name, per(&tr->beam), wer(&tr->beam));
    }
    for (size_t i = 0; i < sizeof PUBLISHED / sizeof *PUBLISHED; i++) {
        char name[80];
        snprintf(name, sizeof name, "Yao & Zweig: %s", PUBLISHED[i].model);
        print_result(name, PUBLISHED[i].per, PUBLISHED[i].wer);
    }
    double best = s->beam > 1 && wer(&tr->beam) < wer(&tr->greedy) ? wer(&tr->beam) : wer(&tr->greedy);
    printf("\n    target: WER within 1.25 x %.2f%% = %.2f%%: %s (%.2f%%)\n", TARGET_WER, 1.25 * TARGET_WER,
           best <= 1.25 * TARGET_WER ? "reached" : "not reached", best);
    return 0;
}

/* Pronounces one word both ways; *shown receives the greedy hypothesis. */
static int pronounce(trainer *tr, const char *text, hypothesis *shown)
{
    word w = { .n_prons = 0 };
    dictionary one = { .words = &w, .n = 1 };
    snprintf(one.words->text, sizeof one.words->text, "%s", text);
    tg_no_grad_begin();
    int status = greedy(&tr->n, &one, (const int[]){ 0 }, 1, shown);
    hypothesis beam;
    if (status == 0 && tr->s.beam > 1)
        status = beam_search(&tr->n, text, tr->s.beam, &beam);
    tg_no_grad_end();
    tg_graph_reset();
    if (status != 0)
        return -1;
    char g[256] = "", b[256] = "";
    append_phonemes(shown->ids, shown->n, g, sizeof g);
    printf("    %-16s greedy: %s\n", text, g);
    if (tr->s.beam > 1) {
        append_phonemes(beam.ids, beam.n, b, sizeof b);
        printf("    %-16s beam:   %s\n", "", b);
    }
    return 0;
}

/* Words shown in section 5 and drawn in the attention picture. */
typedef struct shown_words {
    char text[SHOWN][MAX_LETTERS + 1];
    hypothesis h[SHOWN];
    int n;
} shown_words;

static int section_words(trainer *tr, shown_words *shown)
{
    nb_section(5, "Pronouncing words",
               "A few test words, which the model never trained on, then every --word. Each "
               "prints the listed pronunciation (for test words), the greedy output and the beam "
               "search's.");
    for (int i = 0; i < SHOWN - 1 && i < tr->d.n_test; i++) {
        const word *w = &tr->d.words[tr->d.test[i * (tr->d.n_test / SHOWN)]];
        char listed[256] = "";
        append_phonemes(w->prons[0], w->lengths[0], listed, sizeof listed);
        printf("    %-16s listed: %s\n", w->text, listed);
        snprintf(shown->text[shown->n], sizeof shown->text[0], "%s", w->text);
        if (pronounce(tr, w->text, &shown->h[shown->n++]) != 0)
            return fail("cannot pronounce a word");
    }
    char list[1024];
    snprintf(list, sizeof list, "%s", tr->s.words ? tr->s.words : "");
    char *save = NULL;
    for (char *one = strtok_r(list, ",", &save); one; one = strtok_r(NULL, ",", &save)) {
        if (strlen(one) > MAX_LETTERS) {
            fprintf(stderr, "%s: --word: \"%.40s...\" is longer than %d letters\n", PROGRAM, one, MAX_LETTERS);
            return 2;
        }
        for (char *p = one; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        hypothesis h;
        if (pronounce(tr, one, &h) != 0)
            return fail("cannot pronounce a word");
        if (shown->n < SHOWN) {
            snprintf(shown->text[shown->n], sizeof shown->text[0], "%s", one);
            shown->h[shown->n++] = h;
        }
    }
    return 0;
}

/* One heat map per shown word: a row per phoneme written, a column per
 * letter, shaded by the attention weight (0 to 1) the step gave it. */
static int draw_attention(const shown_words *shown, const char *path)
{
    int cols = shown->n > 1 ? 2 : 1, rows = (shown->n + 1) / 2;
    tg_plot_figure *figure = tg_plot_figure_new((tg_plot_figure_config){ .rows = rows, .cols = cols,
        .width = 520 * cols, .height = 420 * rows + 30, .title = "g2p_seq2seq: where the decoder looks" });
    int status = figure ? 0 : -1;
    for (int w = 0; w < shown->n && status == 0; w++) {
        const hypothesis *h = &shown->h[w];
        int L = (int)strlen(shown->text[w]), T = h->n > 0 ? h->n : 1;
        float values[MAX_PHONES * MAX_LETTERS];
        char letters[MAX_LETTERS][2];
        const char *col_labels[MAX_LETTERS], *row_labels[MAX_PHONES];
        for (int i = 0; i < L; i++) {
            letters[i][0] = shown->text[w][i];
            letters[i][1] = '\0';
            col_labels[i] = letters[i];
        }
        for (int t = 0; t < T; t++) {
            row_labels[t] = h->n > 0 ? PHONEMES[h->ids[t]] : "(none)";
            for (int i = 0; i < L; i++)
                values[t * L + i] = h->n > 0 ? h->attention[t][i] : NAN;
        }
        status = tg_plot_figure_heatmap(figure, w, &(tg_plot_heatmap_data){ .values = values, .rows = T,
            .cols = L, .row_labels = row_labels, .col_labels = col_labels, .min = 0.0, .max = 1.0 },
            &(tg_plot_options){ .title = shown->text[w], .xlabel = "letters", .ylabel = "phonemes" }) < 0 ? -1 : 0;
    }
    if (status == 0)
        status = tg_plot_figure_save(figure, path);
    tg_plot_figure_free(figure);
    return status;
}

/* The attention weights of the shown words as CSV (word, step, phoneme,
 * letter, weight), saved atomically as every file of tapegrad is. */
static int write_attention(const shown_words *shown, const char *path)
{
    tg_atomic_file *file = tg_atomic_file_open(path, PROGRAM);
    if (!file)
        return -1;
    char row[256];
    int n = snprintf(row, sizeof row, "word,step,phoneme,letter,weight\n");
    tg_atomic_file_write(file, row, (size_t)n);
    for (int w = 0; w < shown->n; w++)
        for (int t = 0; t < shown->h[w].n; t++)
            for (size_t i = 0; i < strlen(shown->text[w]); i++) {
                n = snprintf(row, sizeof row, "%s,%d,%s,%zu,%.5f\n", shown->text[w], t,
                             PHONEMES[shown->h[w].ids[t]], i, shown->h[w].attention[t][i]);
                tg_atomic_file_write(file, row, (size_t)n);
            }
    return tg_atomic_file_commit(file);
}

static int section_files(trainer *tr, const shown_words *shown)
{
    nb_section(6, "Files", "");
    const nb_common *common = tr->common;
    char csv[1024], png[1024], attention[1024];
    nb_out_path(common, "g2p_seq2seq_attention.csv", attention, sizeof attention);
    if (write_attention(shown, attention) != 0)
        return fail("cannot write the attention weights");
    nb_wrote(attention, "attention weights of the words of section 5");
    nb_out_path(common, "g2p_seq2seq_attention.png", png, sizeof png);
    if (draw_attention(shown, png) != 0)
        return fail("cannot draw the attention weights");
    nb_wrote(png, "heat maps of the greedy decoder's attention: phonemes against letters");
    if (!common->eval) {
        nb_out_path(common, "g2p_seq2seq_history.csv", csv, sizeof csv);
        nb_out_path(common, "g2p_seq2seq_loss.png", png, sizeof png);
        if (tg_history_write_csv(tr->history, csv) != 0 ||
            tg_history_plot(tr->history, png, (const char *[]){ "train_loss", "val_loss" }, 2,
                            &(tg_plot_options){ .title = "g2p_seq2seq: loss per phoneme", .ylabel = "nats",
                                                .smooth = 25 }) < 0)
            return fail("cannot write the history");
        nb_wrote(csv, "train_loss per step, val_loss per epoch");
        nb_wrote(png, "training and validation loss");
    }
    tr->ck.model = tr->n.model;
    tr->ck.optimizer = tr->opt;
    return nb_save_checkpoint(PROGRAM, common, &tr->ck, "checkpoint: the network, Adam's state, the epoch");
}

/* ---- Setting up -------------------------------------------------------------------------- */

static const settings DEFAULTS = { .embed = 64, .hidden = 128, .decoder = 256, .batch = 64, .epochs = 30,
                                   .beam = 4, .lr = 2e-3f, .minutes = 22.0f };
static const settings QUICK = { .embed = 16, .hidden = 32, .decoder = 64, .batch = 32, .epochs = 2, .beam = 3,
                                .max_train = 2000, .max_test = 200, .lr = 1e-2f, .minutes = 5.0f };

static int parse(int argc, char **argv, nb_common *common, settings *s)
{
    int hidden = 0, beam = -1;
    float minutes = 0.0f, lr = 0.0f;
    const char *words = NULL;
    const nb_option own[] = {
        { "word", NB_STRING, &words, "words to pronounce, separated by commas" },
        { "beam", NB_INT, &beam, "beam width, 2 to 64; 0 or 1: greedy only (default 4; --quick: 3)" },
        { "minutes", NB_FLOAT, &minutes, "training time budget in minutes (default 22)" },
        { "hidden", NB_INT, &hidden, "encoder units each way; the decoder has twice as many (default 128)" },
        { "lr", NB_FLOAT, &lr, "Adam's learning rate (default 2e-3; --quick: 1e-2)" },
    };
    int parsed = nb_parse(argc, argv, PROGRAM, "grapheme-to-phoneme conversion with an LSTM encoder-decoder "
                          "and attention", common, own, (int)(sizeof own / sizeof *own));
    if (parsed != 0)
        return parsed;
    if (common->steps) {
        fprintf(stderr, "%s: --steps: this example counts training in --epochs (and --minutes)\n", PROGRAM);
        return 2;
    }
    *s = common->quick ? QUICK : DEFAULTS;
    s->clip = 5.0f;
    s->words = words;
    s->epochs = common->epochs ? common->epochs : s->epochs;
    s->beam = beam >= 0 ? beam : s->beam;
    s->minutes = minutes > 0.0f ? minutes : s->minutes;
    s->lr = lr > 0.0f ? lr : s->lr;
    if (hidden) {
        s->hidden = hidden;
        s->decoder = 2 * hidden;
    }
    if (s->beam > 64 || s->hidden > 4096) {
        fprintf(stderr, "%s: --beam is at most 64 and --hidden at most 4096\n", PROGRAM);
        return 2;
    }
    return 0;
}

static void release(trainer *tr)
{
    tg_history_free(tr->history);
    tg_optimizer_free(tr->opt);
    tg_model_free(tr->n.model);
    free(tr->train);
    free(tr->validation);
    free(tr->order);
    tg_batch_split_free(tr->split);
    free_dictionary(&tr->d);
    tg_graph_release();
}

int main(int argc, char **argv)
{
    nb_common common;
    trainer tr = { .common = &common };
    int parsed = parse(argc, argv, &common, &tr.s);
    if (parsed != 0)
        return parsed == 1 ? 0 : 2;
    shown_words shown = { .n = 0 };
    int status = section_data(&tr);
    if (status == 0)
        status = section_model(&tr);
    if (status == 0)
        status = section_training(&tr);
    if (status == 0)
        status = section_results(&tr);
    if (status == 0)
        status = section_words(&tr, &shown);
    if (status == 0)
        status = section_files(&tr, &shown);
    release(&tr);
    return status;
}
