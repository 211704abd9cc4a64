/*
 * io/text.h: text corpora for language models and classifiers: reading a
 * corpus, a character (byte) vocabulary, a word tokenizer, and the
 * labelled-sentences format of the sentiment data. The word vocabulary is
 * in io/vocab.h.
 *
 * Text is bytes: UTF-8 is kept as it is, never decoded or normalised.
 * Readers treat every byte as untrusted; errors name the function, the
 * file, the line and why, e.g.
 *     sentences_read: imdb_labelled.txt: line 7: the label "2" is not 0 or 1
 */
#ifndef TG_IO_TEXT_H
#define TG_IO_TEXT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Text files: one rule for every reader ---------------------------------- */

/* Every reader of text (CSV in io/csv.h, labelled sentences and corpora
 * here, vocabularies in io/vocab.h) reads its bytes by one rule:
 *   - a UTF-8 byte order mark (EF BB BF) at the very start is dropped, as
 *     if it were not there (it is never part of a column name, sentence,
 *     token or corpus);
 *   - a line ends at LF, at CRLF or at a lone CR (old Mac files): each is
 *     one line end, and lines are numbered from 1 by them, in every
 *     message. Readers that split lines split them there (a CSV quoted
 *     field keeps its line breaks as they are); the corpus reader keeps
 *     the bytes as they are, for a character model to learn;
 *   - a NUL byte anywhere is an error naming its line, e.g.
 *         vocab_load: vocab.txt: line 4: a NUL byte (text files hold none)
 *     (read as C strings, a field, sentence or token would be cut short
 *     unseen). */

/* Applies the rule to the size bytes of text, in place: drops a leading
 * byte order mark (*size shrinks by 3 and the text moves down; the byte
 * after the text, which must exist, stays a NUL) and refuses a NUL byte.
 * 0, or -1 with an error naming op, label and the line. */
int tg_text_check(char *text, size_t *size, const char *op, const char *label);
/* Length of the line end at text[i] (of size bytes): 2 for CRLF, 1 for LF
 * or a lone CR, 0 when text[i] ends no line (or i >= size). */
size_t tg_text_line_end(const char *text, size_t size, size_t i);
/* The line starting at *pos: its start in *line, its length (the line end
 * excluded) returned; *pos moves past its line end. *pos >= size means
 * there is no more line (then 0 is returned and *line is text + size). */
size_t tg_text_next_line(const char *text, size_t size, size_t *pos, const char **line);

/* ---- Corpus --------------------------------------------------------------- */

/* The default limit of tg_text_read: 256 MiB. */
#define TG_TEXT_MAX_BYTES ((size_t)256 << 20)

/* Reads the whole file at path into a new NUL-terminated buffer (free it
 * with free()); *size gets the byte count. The bytes are unchanged but for
 * the text rule above: a leading byte order mark dropped, a NUL byte
 * refused. max_bytes 0 means TG_TEXT_MAX_BYTES. NULL with an error naming
 * the file when it cannot be read, is larger, or holds a NUL byte. */
char *tg_text_read(const char *path, size_t max_bytes, size_t *size);

/* ---- Character vocabulary --------------------------------------------------- */

/* The distinct bytes of a text, in ascending order: id i stands for byte
 * bytes[i]. A multi-byte UTF-8 character is several ids, as in char-rnn. */
typedef struct tg_char_vocab {
    int size;                /* number of distinct bytes, 0 to 256 */
    unsigned char bytes[256]; /* id -> byte */
    int16_t ids[256];        /* byte -> id, -1 for a byte not in the text */
} tg_char_vocab;

/* The vocabulary of the `size` bytes of text. */
tg_char_vocab tg_char_vocab_build(const char *text, size_t size);
/* ids[i] = id of text[i], for size bytes. 0, or -1 with an error naming
 * the position and the byte when a byte is not in the vocabulary. */
int tg_char_vocab_encode(const tg_char_vocab *vocab, const char *text, size_t size, int *ids);
/* out[i] = byte of ids[i], for n ids, then a NUL (out holds n + 1 bytes).
 * 0, or -1 with an error naming the position of an id out of range. */
int tg_char_vocab_decode(const tg_char_vocab *vocab, const int *ids, size_t n, char *out);

/* ---- Word tokenizer ----------------------------------------------------------- */

/* Tokens of a text, in order. One allocation: free with tg_tokens_free. */
typedef struct tg_tokens {
    int count;
    const char *const *token; /* token[i], NUL-terminated */
} tg_tokens;

/* Splits text into lower-case words and punctuation:
 *   - a word is a run of ASCII letters and digits and non-ASCII UTF-8
 *     characters, lower-cased in ASCII ("Don't" -> "don't", "Café" ->
 *     "café"); an apostrophe between two word characters stays inside the
 *     word, any other apostrophe is punctuation;
 *   - every other visible ASCII character is a token of its own ("!!" is
 *     "!", "!"; "well-made" is "well", "-", "made");
 *   - whitespace, ASCII control characters, the C1 control characters
 *     U+0080 to U+009F and the no-break space U+00A0 separate tokens.
 * "The movie was great, wasn't it?" gives the, movie, was, great, ",",
 * wasn't, it, "?". NULL with an error only when out of memory or past
 * INT32_MAX tokens. */
tg_tokens *tg_text_tokenize(const char *text, size_t size);
/* NULL is ignored. */
void tg_tokens_free(tg_tokens *tokens);

/* ---- Labelled sentences --------------------------------------------------------- */

/* Lines "sentence<TAB>label" with label 0 or 1: the format of
 * imdb_labelled.txt and amazon_cells_labelled.txt. Each line is split at its
 * LAST tab (a sentence may hold tabs); trailing spaces of the sentence are
 * trimmed. Lines end as the text rule above says (LF, CRLF or a lone
 * CR); other bytes, such as U+0085 (NEL) in imdb_labelled.txt, stay in the
 * sentence. Quotes mean nothing. Empty lines are skipped; a line with no
 * tab, an empty sentence, a NUL byte anywhere, or a label other than 0 or 1
 * is an error with its line number. */
typedef struct tg_sentences tg_sentences;

/* Reads the file (at most 256 MiB). NULL with an error naming the file and
 * line. Free the result with tg_sentences_free. */
tg_sentences *tg_sentences_read(const char *path);
/* The same from size bytes; label names them in errors (NULL gives
 * "<memory>"). The bytes are copied. */
tg_sentences *tg_sentences_parse(const char *text, size_t size, const char *label);
/* NULL is ignored. */
void tg_sentences_free(tg_sentences *sentences);

int tg_sentences_count(const tg_sentences *sentences);
/* Sentence i (owned by sentences); NULL when out of range. */
const char *tg_sentences_text(const tg_sentences *sentences, int i);
/* Label of sentence i (0 or 1); -1 when out of range. */
int tg_sentences_label(const tg_sentences *sentences, int i);
/* The file line of sentence i; -1 when out of range. */
int tg_sentences_line(const tg_sentences *sentences, int i);

#ifdef __cplusplus
}
#endif

#endif
