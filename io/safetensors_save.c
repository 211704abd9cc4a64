/* Writing safetensors files: checks the input, builds the JSON header with
 * jansson, then streams the header and the data (F32, I64, I32, I8, U8 or BOOL)
 * through an atomic file. */
#include "io/safetensors.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"

#define OP "safetensors_save"

/* Adds "__metadata__" to the header. */
static int add_metadata(json_t *header, const char *path, const tg_string_pair *metadata, int n)
{
    json_t *object = json_object();
    if (!object || json_object_set_new(header, "__metadata__", object) != 0)
        return tg_error_set(OP ": %s: out of memory", path);
    for (int i = 0; i < n; i++) {
        const char *key = metadata[i].key, *value = metadata[i].value;
        if (!key || !value)
            return tg_error_set(OP ": %s: metadata entry %d has a NULL key or value", path, i);
        if (json_object_get(object, key))
            return tg_error_set(OP ": %s: metadata key \"%s\" is given twice", path, key);
        if (strlen(key) > TG_SAFETENSORS_MAX_NAME)
            return tg_error_set(OP ": %s: a metadata key of %zu bytes, more than the limit of %d",
                                path, strlen(key), TG_SAFETENSORS_MAX_NAME);
        json_t *string = json_string(value);
        if (!string)
            return tg_error_set(OP ": %s: metadata \"%s\": the value is not valid UTF-8", path, key);
        if (json_object_set_new(object, key, string) != 0)
            return tg_error_set(OP ": %s: metadata key \"%s\" is not valid UTF-8", path, key);
    }
    return 0;
}

/* The shape of t as a JSON array. */
static json_t *shape_array(const tg_tensor *t)
{
    json_t *shape = json_array();
    for (int d = 0; shape && d < t->ndim; d++) {
        if (json_array_append_new(shape, json_integer(t->shape[d])) != 0) {
            json_decref(shape);
            return NULL;
        }
    }
    return shape;
}

static int element_bytes(tg_safetensors_dtype stored)
{
    switch (stored) {
    case TG_SAFETENSORS_I64: return 8;
    case TG_SAFETENSORS_F32: case TG_SAFETENSORS_I32: return 4;
    default: return 1; /* U8, BOOL */
    }
}

/* The stored dtype of t (*stored resolved from DEFAULT), checked against
 * t's dtype and values, so that nothing is written that does not fit. */
static int check_stored(const char *path, const char *name, const tg_tensor *t,
                        tg_safetensors_dtype *stored)
{
    if (*stored == TG_SAFETENSORS_DEFAULT)
        *stored = t->dtype == TG_INT64 ? TG_SAFETENSORS_I64 : TG_SAFETENSORS_F32;
    const char *as = tg_safetensors_dtype_name(*stored);
    bool fits = *stored == TG_SAFETENSORS_F32 ? t->dtype == TG_FLOAT32
              : *stored == TG_SAFETENSORS_I64 || *stored == TG_SAFETENSORS_I32 ||
                        *stored == TG_SAFETENSORS_I8 || *stored == TG_SAFETENSORS_U8
                    ? t->dtype == TG_INT64
              : *stored == TG_SAFETENSORS_BOOL;
    if (!fits || !as[0])
        return tg_error_set(OP ": %s: tensor \"%s\": %s values cannot be stored as %s (F32 "
                            "takes float32; I64, I32, I8 and U8 int64; BOOL either)", path, name,
                            tg_dtype_name(t->dtype), as[0] ? as : "that dtype");
    if (*stored == TG_SAFETENSORS_F32 || *stored == TG_SAFETENSORS_I64)
        return 0;
    /* I32, I8, U8 and BOOL hold fewer values: check each one. */
    int64_t low = *stored == TG_SAFETENSORS_I32 ? INT32_MIN : *stored == TG_SAFETENSORS_I8 ? INT8_MIN : 0;
    int64_t high = *stored == TG_SAFETENSORS_I32 ? INT32_MAX
                 : *stored == TG_SAFETENSORS_I8  ? INT8_MAX
                 : *stored == TG_SAFETENSORS_U8  ? 255
                                                 : 1;
    tg_tensor *values = tg_tensor_clone(t); /* contiguous, in row-major order */
    if (!values)
        return -1;
    int status = 0;
    for (int64_t i = 0; status == 0 && i < t->numel; i++) {
        if (values->dtype == TG_INT64 && (values->i64[i] < low || values->i64[i] > high))
            status = tg_error_set(OP ": %s: tensor \"%s\": element %lld is %lld, which %s cannot "
                                  "hold", path, name, (long long)i, (long long)values->i64[i], as);
        if (values->dtype == TG_FLOAT32 && values->data[i] != 0.0f && values->data[i] != 1.0f)
            status = tg_error_set(OP ": %s: tensor \"%s\": element %lld is %g, which %s cannot "
                                  "hold", path, name, (long long)i, (double)values->data[i], as);
    }
    tg_tensor_free(values);
    return status;
}

/* Adds one tensor's entry, with its data at [*offset, *offset + size numel). */
static int add_tensor(json_t *header, const char *path, const char *name, const tg_tensor *t,
                      tg_safetensors_dtype *stored, int64_t *offset)
{
    if (!name || !name[0] || strcmp(name, "__metadata__") == 0)
        return tg_error_set(OP ": %s: a tensor name is NULL, empty or \"__metadata__\"", path);
    if (!t)
        return tg_error_set(OP ": %s: tensor \"%s\" is NULL", path, name);
    if (json_object_get(header, name))
        return tg_error_set(OP ": %s: the name \"%s\" is given twice", path, name);
    if (strlen(name) > TG_SAFETENSORS_MAX_NAME)
        return tg_error_set(OP ": %s: a tensor name of %zu bytes, more than the limit of %d",
                            path, strlen(name), TG_SAFETENSORS_MAX_NAME);
    if (check_stored(path, name, t, stored) != 0)
        return -1;
    int64_t begin = *offset, end = begin + t->numel * element_bytes(*stored);
    json_t *shape = shape_array(t);
    json_t *entry = shape ? json_pack("{s:s, s:o, s:[I,I]}", "dtype",
                                      tg_safetensors_dtype_name(*stored), "shape", shape,
                                      "data_offsets", (json_int_t)begin, (json_int_t)end)
                          : NULL;
    if (!entry)
        return tg_error_set(OP ": %s: out of memory", path);
    if (json_object_set_new(header, name, entry) != 0)
        return tg_error_set(OP ": %s: the name \"%s\" is not valid UTF-8", path, name);
    *offset = end;
    return 0;
}

/* The header: compact JSON padded with spaces so the data starts at a
 * multiple of 8 bytes, as the safetensors library writes it. */
static char *build_header(const char *path, const tg_named_tensor *tensors,
                          tg_safetensors_dtype *stored, int n, const tg_string_pair *metadata,
                          int n_metadata, size_t *length)
{
    json_t *header = json_object();
    if (!header) {
        tg_error_set(OP ": %s: out of memory", path);
        return NULL;
    }
    int64_t offset = 0;
    int status = n_metadata > 0 ? add_metadata(header, path, metadata, n_metadata) : 0;
    for (int i = 0; status == 0 && i < n; i++)
        status = add_tensor(header, path, tensors[i].name, tensors[i].tensor, &stored[i], &offset);
    char *text = status == 0 ? json_dumps(header, JSON_COMPACT) : NULL;
    json_decref(header);
    if (status == 0 && !text)
        tg_error_set(OP ": %s: out of memory", path);
    if (!text)
        return NULL;
    size_t used = strlen(text), padded = (used + 7) / 8 * 8;
    if (padded > TG_SAFETENSORS_MAX_HEADER) {
        free(text);
        tg_error_set(OP ": %s: a header of %zu bytes, more than the limit of %d", path, padded,
                     TG_SAFETENSORS_MAX_HEADER);
        return NULL;
    }
    char *grown = realloc(text, padded + 1);
    if (!grown) {
        free(text);
        tg_error_set(OP ": %s: out of memory", path);
        return NULL;
    }
    memset(grown + used, ' ', padded - used);
    grown[padded] = '\0';
    *length = padded;
    return grown;
}

/* Writes t's elements in row-major order, little-endian, as `stored`
 * (checked to hold them). A failed write is kept by the file and reported
 * at commit; -1 means out of memory. */
static int write_tensor(tg_atomic_file *file, const tg_tensor *t, tg_safetensors_dtype stored,
                        const char *path)
{
    tg_tensor *copy = NULL;
    if (!tg_tensor_is_contiguous(t)) {
        copy = tg_tensor_clone(t);
        if (!copy)
            return tg_error_set(OP ": %s: out of memory", path);
        t = copy;
    }
    const int size = element_bytes(stored);
    unsigned char chunk[4096];
    for (int64_t i = 0; i < t->numel;) {
        size_t k = 0;
        for (; k < sizeof chunk && i < t->numel; k += (size_t)size, i++) {
            uint64_t bits;
            if (stored == TG_SAFETENSORS_F32) {
                uint32_t b32;
                memcpy(&b32, &t->data[i], 4);
                bits = b32;
            } else if (t->dtype == TG_FLOAT32) { /* BOOL of a float mask */
                bits = t->data[i] != 0.0f;
            } else {
                bits = (uint64_t)t->i64[i]; /* two's complement: the low bytes are I32's */
            }
            for (int b = 0; b < size; b++)
                chunk[k + (size_t)b] = (unsigned char)(bits >> (8 * b));
        }
        if (tg_atomic_file_write(file, chunk, k) != 0)
            break;
    }
    tg_tensor_free(copy);
    return 0;
}

int tg_safetensors_save(const char *path, const tg_named_tensor *tensors, int n,
                        const tg_string_pair *metadata, int n_metadata)
{
    return tg_safetensors_save_as(path, tensors, NULL, n, metadata, n_metadata);
}

int tg_safetensors_save_as(const char *path, const tg_named_tensor *tensors,
                           const tg_safetensors_dtype *stored_as, int n,
                           const tg_string_pair *metadata, int n_metadata)
{
    if (!path || (n > 0 && !tensors) || (n_metadata > 0 && !metadata))
        return -1;
    if (n < 0 || n_metadata < 0)
        return tg_error_set(OP ": %s: negative count (%d tensors, %d metadata)", path, n,
                            n_metadata);
    /* What the reader would refuse is not written. */
    if (n > TG_SAFETENSORS_MAX_TENSORS || n_metadata > TG_SAFETENSORS_MAX_METADATA)
        return tg_error_set(OP ": %s: %d tensors and %d metadata entries, more than the limits "
                            "of %d and %d", path, n, n_metadata, TG_SAFETENSORS_MAX_TENSORS,
                            TG_SAFETENSORS_MAX_METADATA);
    tg_safetensors_dtype *stored = calloc(n > 0 ? (size_t)n : 1, sizeof *stored);
    if (!stored)
        return tg_error_set(OP ": %s: out of memory", path);
    for (int i = 0; stored_as && i < n; i++)
        stored[i] = stored_as[i];
    size_t length = 0;
    char *header = build_header(path, tensors, stored, n, metadata, n_metadata, &length);
    tg_atomic_file *file = header ? tg_atomic_file_open(path, OP) : NULL;
    if (!file) {
        free(header);
        free(stored);
        return -1;
    }
    unsigned char prefix[8];
    for (int b = 0; b < 8; b++)
        prefix[b] = (unsigned char)((uint64_t)length >> (8 * b));
    tg_atomic_file_write(file, prefix, 8);
    tg_atomic_file_write(file, header, length);
    free(header);
    for (int i = 0; i < n; i++) {
        if (write_tensor(file, tensors[i].tensor, stored[i], path) != 0) {
            tg_atomic_file_discard(file);
            free(stored);
            return -1;
        }
    }
    free(stored);
    return tg_atomic_file_commit(file); /* reports any failed write */
}
