/*
 * io/file.h: reading a whole file with a size limit. The readers of io/ are
 * built on this and on tensor/file.h (included here), which opens files for
 * reading without blocking and writes files atomically: the semantics of
 * every save (links followed, modes kept, what is not a regular file
 * refused, stale temporaries removed) are documented there.
 */
#ifndef TG_IO_FILE_H
#define TG_IO_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "tensor/file.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads the regular file at path, of at most max_bytes, into a new buffer
 * followed by one NUL byte (not counted in *size). The caller frees the
 * buffer with free(). NULL with an error when the file cannot be opened or
 * read, is not a regular file, or is larger than max_bytes. */
char *tg_file_read(const char *path, size_t max_bytes, size_t *size, const char *op);

/* The same for bytes already in memory (e.g. a fuzzer's input): a new copy
 * of size bytes followed by one NUL byte, for readers that parse in place.
 * `label` names the bytes in errors. NULL with an error when size is
 * larger than max_bytes or memory runs out; NULL text with size > 0 returns
 * NULL silently. */
char *tg_file_copy(const char *text, size_t size, size_t max_bytes, const char *label,
                   const char *op);

#ifdef __cplusplus
}
#endif

#endif
