/*
 * tensor/file.h: opening a file for reading safely, and writing one
 * atomically. Every reader and writer of tapegrad is built on these: io/
 * (checkpoints, CSV, text, vocabularies; io/file.h adds whole-file reads
 * with a size limit) and plot/ (PNG). They live on the floor of tensor/
 * because io/ and plot/ are side modules that may use tensor/ and nothing
 * else, so one engine gives every save the same semantics.
 *
 * Reading: every reader opens its file with tg_file_open_regular, which
 * opens without blocking (O_NONBLOCK: a FIFO with no writer cannot hang
 * it), refuses anything but a regular file (directory, FIFO, device,
 * socket) before reading a byte, then reads normally.
 *
 * Atomic writing: the bytes go to a new temporary file beside the target
 * (same directory, so the final rename stays on one file system); commit
 * flushes it, fsyncs it, closes it and renames it over the target, which
 * is atomic on POSIX systems. Until that rename the old file at the target
 * is untouched; after it the new file is complete. A failure at any step
 * removes the temporary. What a save does with what is at the path:
 *   - nothing there: a new file, with permissions from the umask (0666
 *     masked, as for any new file);
 *   - a regular file: replaced; the new file keeps its mode (a 0600
 *     checkpoint stays 0600) and its owner and group (the save fails when
 *     they cannot be kept, e.g. another user's file in a shared
 *     directory). A hard link is not written through: the path gets the
 *     new file, the file's other names keep the old bytes;
 *   - a symbolic link: followed (chains of links too, relative targets
 *     read from the link's directory) and its final target written as
 *     above; the link stays a link;
 *   - anything else (directory, FIFO, device node, socket), itself or as a
 *     link's target: refused before anything is written, e.g.
 *         safetensors_save: /dev/null: not a regular file but a character
 *         device; saves replace only regular files
 * The temporary is named ".tapegrad-<pid>-<8 hex digits>" in the target's
 * directory: short whatever the target's name, so any name the file
 * system accepts can be saved to. A process killed mid-write leaves its
 * temporary behind, never a half-written target; the next save into that
 * directory removes it. Only files matching that exact pattern are
 * removed, only regular files (a link of such a name is neither followed
 * nor removed), only the calling user's, and only when the process of
 * that pid is gone (kill(pid, 0) fails with ESRCH). Finding them reads
 * the directory's entries once per save, so a save into a directory of
 * very many files pays for reading them. A temporary of a
 * process in another pid namespace sharing the directory can be taken
 * for stale: that save then fails (its rename finds no temporary) and
 * leaves the old file as it was.
 *
 * Errors name the calling operation (`op`; NULL reads as "?"), the file
 * and the reason, with
 * the system's text for errno, e.g.
 *     csv_write: out/history.csv: cannot write: No space left on device
 */
#ifndef TG_TENSOR_FILE_H
#define TG_TENSOR_FILE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opens the regular file at path for reading (see above): returns a file
 * descriptor (close it with close()) and its size in *size; -1 with an
 * error naming op and path when it cannot be opened or is not a regular
 * file, e.g. "csv_read: data: not a regular file but a FIFO". */
int tg_file_open_regular(const char *path, const char *op, uint64_t *size);
/* Reads exactly n bytes at offset of fd into buffer. 0, or -1 with an
 * error naming op and path (a read error, or the file ending sooner). */
int tg_file_read_at(int fd, void *buffer, size_t n, uint64_t offset, const char *op,
                    const char *path);

/* A file being written atomically. */
typedef struct tg_atomic_file tg_atomic_file;

/* Creates the temporary for path (see above), after removing stale
 * temporaries from its directory. NULL with an error (naming op) when
 * path is not a regular file (nor a link to one) or the temporary cannot
 * be created, e.g. the directory is missing or not writable. */
tg_atomic_file *tg_atomic_file_open(const char *path, const char *op);
/* Appends n bytes. After the first failure (NULL bytes with n > 0 is one:
 * EINVAL), later writes do nothing and commit reports that failure. Returns 0 or -1 (the error is recorded at
 * commit, or discard discards it). */
int tg_atomic_file_write(tg_atomic_file *file, const void *bytes, size_t n);
/* Flushes, fsyncs and closes the temporary, then renames it over the
 * target (a link's target, when path is a symbolic link). Frees file. Returns 0, or -1 with an error (the temporary is
 * removed and the old target is untouched). NULL returns -1 silently. */
int tg_atomic_file_commit(tg_atomic_file *file);
/* Gives up: closes and removes the temporary, frees file, leaves the
 * target untouched. NULL is ignored. */
void tg_atomic_file_discard(tg_atomic_file *file);

#ifdef __cplusplus
}
#endif

#endif
