#include "io/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tensor/error.h"

/* Records "op: path: what: <errno text>" and returns -1. */
static int set_errno_error(const char *op, const char *path, const char *what, int err)
{
    char text[128];
    if (strerror_r(err, text, sizeof text) != 0)
        snprintf(text, sizeof text, "error %d", err);
    return tg_error_set("%s: %s: %s: %s", op, path, what, text);
}

static void set_too_large(const char *op, const char *label, unsigned long long size,
                          size_t max_bytes)
{
    tg_error_set("%s: %s: the file has %llu bytes, more than the limit of %zu", op, label, size,
                 max_bytes);
}

char *tg_file_read(const char *path, size_t max_bytes, size_t *size, const char *op)
{
    if (!path || !size)
        return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_errno_error(op, path, "cannot open", errno);
        return NULL;
    }
    struct stat st;
    char *buffer = NULL;
    if (fstat(fileno(f), &st) != 0) {
        set_errno_error(op, path, "cannot stat", errno);
    } else if (!S_ISREG(st.st_mode)) {
        tg_error_set("%s: %s: not a regular file", op, path);
    } else if ((unsigned long long)st.st_size > max_bytes) {
        set_too_large(op, path, (unsigned long long)st.st_size, max_bytes);
    } else if (!(buffer = malloc((size_t)st.st_size + 1))) {
        tg_error_set("%s: %s: out of memory for %lld bytes", op, path, (long long)st.st_size);
    } else {
        size_t got = fread(buffer, 1, (size_t)st.st_size, f);
        /* One more byte read means the file grew while we read it. */
        if (got != (size_t)st.st_size || fgetc(f) != EOF) {
            if (ferror(f))
                set_errno_error(op, path, "cannot read", errno);
            else
                tg_error_set("%s: %s: the file changed size while being read", op, path);
            free(buffer);
            buffer = NULL;
        } else {
            buffer[got] = '\0';
            *size = got;
        }
    }
    fclose(f);
    return buffer;
}

char *tg_file_copy(const char *text, size_t size, size_t max_bytes, const char *label,
                   const char *op)
{
    if (!text && size > 0)
        return NULL;
    if (size > max_bytes) {
        set_too_large(op, label, size, max_bytes);
        return NULL;
    }
    char *copy = malloc(size + 1);
    if (!copy) {
        tg_error_set("%s: %s: out of memory for %zu bytes", op, label, size);
        return NULL;
    }
    if (size)
        memcpy(copy, text, size);
    copy[size] = '\0';
    return copy;
}

struct tg_atomic_file {
    FILE *stream;
    int write_errno; /* errno of the first failed write, else 0 */
    const char *op;
    char *path;
    char *temp;
};

/* Distinguishes temporaries of the same process (threads, repeated saves). */
static atomic_uint temp_counter;

/* Creates a new file named "<path>.tmp-<pid>-<n>" for writing. */
static FILE *create_temp(char *temp, size_t size, const char *path)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(temp, size, "%s.tmp-%ld-%u", path, (long)getpid(),
                 atomic_fetch_add(&temp_counter, 1));
        /* 0666 so the umask decides the permissions, as for any new file. */
        int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            FILE *stream = fdopen(fd, "wb");
            if (!stream) {
                int err = errno;
                close(fd);
                unlink(temp);
                errno = err;
            }
            return stream;
        }
        if (errno != EEXIST)
            return NULL;
    }
    return NULL;
}

tg_atomic_file *tg_atomic_file_open(const char *path, const char *op)
{
    if (!path)
        return NULL;
    size_t temp_size = strlen(path) + 64;
    tg_atomic_file *file = calloc(1, sizeof *file);
    char *path_copy = strdup(path);
    char *temp = malloc(temp_size);
    if (!file || !path_copy || !temp) {
        tg_error_set("%s: %s: out of memory", op, path);
    } else if (!(file->stream = create_temp(temp, temp_size, path))) {
        set_errno_error(op, path, "cannot create a temporary file in its directory", errno);
    } else {
        file->op = op;
        file->path = path_copy;
        file->temp = temp;
        return file;
    }
    free(file);
    free(path_copy);
    free(temp);
    return NULL;
}

int tg_atomic_file_write(tg_atomic_file *file, const void *bytes, size_t n)
{
    if (!file || file->write_errno)
        return -1;
    if (n > 0 && fwrite(bytes, 1, n, file->stream) != n) {
        file->write_errno = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

static void free_file(tg_atomic_file *file)
{
    free(file->path);
    free(file->temp);
    free(file);
}

void tg_atomic_file_discard(tg_atomic_file *file)
{
    if (!file)
        return;
    fclose(file->stream);
    unlink(file->temp);
    free_file(file);
}

/* Makes the rename itself durable. Some file systems cannot fsync a
 * directory; the new file is complete either way, so failures are ignored. */
static void sync_directory(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return;
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir ? 1 : 0] = '\0'; /* "/name" is in "/" */
    int fd = open(slash ? dir : ".", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

int tg_atomic_file_commit(tg_atomic_file *file)
{
    if (!file)
        return -1;
    int err = file->write_errno;
    const char *what = "cannot write";
    if (!err && fflush(file->stream) != 0)
        err = errno;
    if (!err && fsync(fileno(file->stream)) != 0) {
        err = errno;
        what = "cannot sync to disk";
    }
    if (fclose(file->stream) != 0 && !err)
        err = errno;
    if (!err && rename(file->temp, file->path) != 0) {
        err = errno;
        what = "cannot replace the file";
    }
    if (err) {
        set_errno_error(file->op, file->path, what, err);
        unlink(file->temp);
        free_file(file);
        return -1;
    }
    sync_directory(file->path);
    free_file(file);
    return 0;
}
