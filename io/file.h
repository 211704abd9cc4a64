/*
 * io/file.h: reading a whole file with a size limit, and writing one
 * atomically. The readers and writers of io/ are built on these two.
 *
 * Atomic writing: the bytes go to a new temporary file beside the target
 * (same directory, so the final rename stays on one file system); commit
 * flushes it, fsyncs it, closes it and renames it over the target, which
 * is atomic on POSIX systems. Until that rename the old file at the target
 * is untouched; after it the new file is complete. A failure at any step
 * removes the temporary. A process killed mid-write can leave a temporary
 * named "<target>.tmp-<pid>-<n>" behind, never a half-written target.
 *
 * Errors name the calling operation (`op`), the file and the reason, with
 * the system's text for errno, e.g.
 *     csv_write: out/history.csv: cannot write: No space left on device
 */
#ifndef TG_IO_FILE_H
#define TG_IO_FILE_H

#include <stddef.h>

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

/* A file being written atomically. */
typedef struct tg_atomic_file tg_atomic_file;

/* Creates the temporary beside path. NULL with an error (naming op) when it
 * cannot be created, e.g. the directory is missing or not writable. */
tg_atomic_file *tg_atomic_file_open(const char *path, const char *op);
/* Appends n bytes. After the first failure, later writes do nothing and
 * commit reports that failure. Returns 0 or -1 (the error is recorded at
 * commit, or discard discards it). */
int tg_atomic_file_write(tg_atomic_file *file, const void *bytes, size_t n);
/* Flushes, fsyncs and closes the temporary, then renames it over the
 * target. Frees file. Returns 0, or -1 with an error (the temporary is
 * removed and the old target is untouched). NULL returns -1 silently. */
int tg_atomic_file_commit(tg_atomic_file *file);
/* Gives up: closes and removes the temporary, frees file, leaves the
 * target untouched. NULL is ignored. */
void tg_atomic_file_discard(tg_atomic_file *file);

#ifdef __cplusplus
}
#endif

#endif
