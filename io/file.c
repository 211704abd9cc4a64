#include "io/file.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tensor/error.h"

static void set_too_large(const char *op, const char *label, unsigned long long size,
                          size_t max_bytes)
{
    tg_error_set("%s: %s: the file has %llu bytes, more than the limit of %zu", op, label, size,
                 max_bytes);
}

char *tg_file_read(const char *path, size_t max_bytes, size_t *size, const char *op)
{
    if (!path || !size)
        return tg_null_input("file_read");
    op = op ? op : "?";
    uint64_t length;
    int fd = tg_file_open_regular(path, op, &length);
    if (fd < 0)
        return NULL;
    char *buffer = NULL, extra;
    if (length > max_bytes) {
        set_too_large(op, path, (unsigned long long)length, max_bytes);
    } else if (!(buffer = malloc((size_t)length + 1))) {
        tg_error_set("%s: %s: out of memory for %llu bytes", op, path, (unsigned long long)length);
    } else if (tg_file_read_at(fd, buffer, (size_t)length, 0, op, path) != 0) {
        free(buffer);
        buffer = NULL;
    } else if (pread(fd, &extra, 1, (off_t)length) != 0) {
        /* One more byte read means the file grew while we read it. */
        tg_error_set("%s: %s: the file changed size while being read", op, path);
        free(buffer);
        buffer = NULL;
    } else {
        buffer[length] = '\0';
        *size = (size_t)length;
    }
    close(fd);
    return buffer;
}

char *tg_file_copy(const char *text, size_t size, size_t max_bytes, const char *label,
                   const char *op)
{
    if (!text && size > 0)
        return NULL;
    op = op ? op : "?";
    label = label ? label : "?";
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
