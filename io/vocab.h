/*
 * io/vocab.h: a word vocabulary: tokens (from tg_text_tokenize) to ids and
 * back, built from counts, saved and loaded as a text file.
 *
 * Ids 0 and 1 are reserved: TG_VOCAB_PAD ("<pad>", for padding batches of
 * unequal lengths; use it as the Embedding's padding index) and
 * TG_VOCAB_UNK ("<unk>", for every token not in the vocabulary). The other
 * tokens follow from the most frequent down (ties in byte order), so the
 * vocabulary built from the same tokens is always the same.
 *
 *     tg_tokens *words = tg_text_tokenize(text, size);
 *     tg_vocab *vocab = tg_vocab_build(&words, 1,
 *                                      (tg_vocab_config){ .min_count = 2, .max_size = 10000 });
 *     int *ids = malloc(words->count * sizeof(int));
 *     tg_vocab_encode(vocab, words, ids);
 *     tg_vocab_save(vocab, "vocab.txt");
 *
 * The file is UTF-8 text, one token per line in id order, starting with
 * <pad> and <unk>. Loading checks it: size limit, the two reserved lines
 * first, no empty or repeated token; errors name the file and line.
 */
#ifndef TG_IO_VOCAB_H
#define TG_IO_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "io/text.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TG_VOCAB_PAD 0
#define TG_VOCAB_UNK 1

typedef struct tg_vocab tg_vocab;

/* Building settings; zero means the default beside each field. */
typedef struct tg_vocab_config {
    int64_t min_count; /* keep tokens seen at least this often: 1 */
    int max_size;      /* most ids, the two reserved included (at least 2): no limit */
} tg_vocab_config;

/* Counts the tokens of n lists (e.g. one per sentence) and keeps the
 * frequent ones (see above). NULL with an error when config is invalid or
 * memory runs out. Free with tg_vocab_free. */
tg_vocab *tg_vocab_build(const tg_tokens *const *lists, int n, tg_vocab_config config);
/* NULL is ignored. */
void tg_vocab_free(tg_vocab *vocab);

/* Number of ids, the two reserved included. */
int tg_vocab_size(const tg_vocab *vocab);
/* The token of id (owned by vocab); NULL when out of range. */
const char *tg_vocab_token(const tg_vocab *vocab, int id);
/* How often the token of id was counted by tg_vocab_build (0 for the
 * reserved ids and for a loaded vocabulary; -1 when out of range). */
int64_t tg_vocab_frequency(const tg_vocab *vocab, int id);
/* The id of token; TG_VOCAB_UNK when it is not in the vocabulary. */
int tg_vocab_id(const tg_vocab *vocab, const char *token);

/* A fingerprint of the vocabulary's content: 64-bit FNV-1a over its
 * tokens in id order, each followed by a NUL byte. Equal vocabularies (the
 * same tokens with the same ids) have equal hashes; record it beside
 * anything that depends on the ids (a checkpoint: see sentiment_lstm) and
 * compare on load. 0 for NULL. */
uint64_t tg_vocab_hash(const tg_vocab *vocab);

/* ids[i] = id of tokens->token[i] (unknown tokens give TG_VOCAB_UNK). */
int tg_vocab_encode(const tg_vocab *vocab, const tg_tokens *tokens, int *ids);
/* The tokens of n ids joined by single spaces, in a new string (free it
 * with free()). <pad> ids are left out. NULL with an error naming the
 * position of an id out of range. */
char *tg_vocab_decode(const tg_vocab *vocab, const int *ids, int n);

/* Writes the vocabulary to path atomically (tensor/file.h). A token holding a
 * line break (possible only when built from lists made by hand) is an
 * error. */
int tg_vocab_save(const tg_vocab *vocab, const char *path);
/* Reads a file written by tg_vocab_save (read by the text rule of
 * io/text.h: a byte order mark dropped, LF, CRLF or CR line ends, no NUL
 * byte; at most
 * 64 MiB). NULL with an error naming the file and line. */
tg_vocab *tg_vocab_load(const char *path);
/* The same from size bytes of file content; label names them in errors
 * (NULL gives "<memory>"). The bytes are copied. */
tg_vocab *tg_vocab_parse(const char *text, size_t size, const char *label);

#ifdef __cplusplus
}
#endif

#endif
