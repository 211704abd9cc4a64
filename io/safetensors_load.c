/* Reading safetensors files. Every byte is untrusted: the header is parsed
 * with jansson and each field is checked before any tensor is made. */
#include "io/safetensors.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/file.h"

#define OP "safetensors_load"
/* Data is read and decoded this many bytes at a time (a multiple of every
 * dtype's size), so loading needs little memory beyond the tensors'. */
#define CHUNK ((size_t)1 << 20)

static uint64_t load_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int b = bytes - 1; b >= 0; b--)
        v = v << 8 | p[b];
    return v;
}

static float float_from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void decode_f32(void *data, const unsigned char *in, int64_t n)
{
    float *out = data;
    for (int64_t i = 0; i < n; i++)
        out[i] = float_from_bits((uint32_t)load_le(in + 4 * i, 4));
}

static void decode_f64(void *data, const unsigned char *in, int64_t n)
{
    float *out = data;
    for (int64_t i = 0; i < n; i++) {
        uint64_t bits = load_le(in + 8 * i, 8);
        double d;
        memcpy(&d, &bits, sizeof d);
        out[i] = (float)d;
    }
}

/* IEEE half: 1 sign, 5 exponent (bias 15), 10 mantissa bits. */
static float half_to_float(uint32_t h)
{
    uint32_t sign = (h & 0x8000u) << 16, exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
    if (exponent == 0) { /* zero or subnormal: mantissa * 2^-24, exact in float */
        float magnitude = (float)mantissa * (1.0f / 16777216.0f);
        return sign ? -magnitude : magnitude;
    }
    if (exponent == 0x1f) /* infinity or NaN, payload kept */
        return float_from_bits(sign | 0x7f800000u | mantissa << 13);
    return float_from_bits(sign | (exponent + 127 - 15) << 23 | mantissa << 13);
}

static void decode_f16(void *data, const unsigned char *in, int64_t n)
{
    float *out = data;
    for (int64_t i = 0; i < n; i++)
        out[i] = half_to_float((uint32_t)load_le(in + 2 * i, 2));
}

/* bfloat16 is the top half of a float. */
static void decode_bf16(void *data, const unsigned char *in, int64_t n)
{
    float *out = data;
    for (int64_t i = 0; i < n; i++)
        out[i] = float_from_bits((uint32_t)load_le(in + 2 * i, 2) << 16);
}

static void decode_i64(void *out, const unsigned char *in, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        uint64_t bits = load_le(in + 8 * i, 8);
        memcpy((int64_t *)out + i, &bits, sizeof bits); /* two's complement, as the file's */
    }
}

static void decode_i32(void *out, const unsigned char *in, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)load_le(in + 4 * i, 4);
        int32_t v;
        memcpy(&v, &bits, sizeof v);
        ((int64_t *)out)[i] = v;
    }
}

static void decode_i8(void *out, const unsigned char *in, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        ((int64_t *)out)[i] = (int8_t)in[i];
}

static void decode_u8(void *out, const unsigned char *in, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        ((int64_t *)out)[i] = in[i];
}

/* Bytes other than 0 and 1 are refused by check_bool before this. */
static void decode_bool(void *out, const unsigned char *in, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        ((float *)out)[i] = in[i] ? 1.0f : 0.0f;
}

typedef struct dtype_info {
    const char *name;
    int size; /* bytes per element */
    tg_dtype tensor_dtype; /* what it becomes */
    tg_safetensors_dtype stored;
    void (*decode)(void *out, const unsigned char *in, int64_t n);
} dtype_info;

static const dtype_info readable_dtypes[] = {
    { "F32", 4, TG_FLOAT32, TG_SAFETENSORS_F32, decode_f32 },
    { "F64", 8, TG_FLOAT32, TG_SAFETENSORS_F64, decode_f64 },
    { "F16", 2, TG_FLOAT32, TG_SAFETENSORS_F16, decode_f16 },
    { "BF16", 2, TG_FLOAT32, TG_SAFETENSORS_BF16, decode_bf16 },
    { "I64", 8, TG_INT64, TG_SAFETENSORS_I64, decode_i64 },
    { "I32", 4, TG_INT64, TG_SAFETENSORS_I32, decode_i32 },
    { "I8", 1, TG_INT64, TG_SAFETENSORS_I8, decode_i8 },
    { "U8", 1, TG_INT64, TG_SAFETENSORS_U8, decode_u8 },
    { "BOOL", 1, TG_FLOAT32, TG_SAFETENSORS_BOOL, decode_bool },
};

const char *tg_safetensors_dtype_name(tg_safetensors_dtype dtype)
{
    for (size_t i = 0; i < sizeof readable_dtypes / sizeof readable_dtypes[0]; i++)
        if (readable_dtypes[i].stored == dtype)
            return readable_dtypes[i].name;
    return "";
}

/* A tensor's entry in the header, checked. */
typedef struct spec {
    const char *name; /* borrowed from the JSON header */
    const dtype_info *dtype;
    tg_shape shape;
    int64_t numel, begin, end;
    int order; /* position in the header */
} spec;

typedef struct entry {
    char *name;
    tg_tensor *tensor;
    tg_safetensors_dtype stored;
} entry;

/* Open-addressing hash index from a name to its position in a list. */
typedef struct name_index {
    int *slots; /* a position, or -1 for an empty slot */
    size_t mask; /* slots - 1, a power of two minus one */
} name_index;

struct tg_safetensors {
    char *path;
    entry *tensors;
    int count;
    char **keys, **values;
    int n_metadata;
    name_index tensor_index, metadata_index;
};

/* Where the file's bytes come from: memory, or a file read piece by piece. */
typedef struct source {
    const unsigned char *bytes; /* the whole file, or NULL: read from fd */
    int fd;
    uint64_t size;
    const char *label;
} source;

static int source_read(const source *src, uint64_t offset, void *out, size_t n)
{
    if (src->bytes) {
        memcpy(out, src->bytes + offset, n);
        return 0;
    }
    return tg_file_read_at(src->fd, out, n, offset, OP, src->label);
}

/* ---- Name lookups ----------------------------------------------------------------- */

/* FNV-1a. */
static uint64_t hash_name(const char *s)
{
    uint64_t h = 14695981039346656037u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* Indexes the n names of list[0..n) (no two equal). -1 when out of memory. */
static int index_build(name_index *index, char *const *list, size_t stride, int n)
{
    size_t size = 16;
    while (size <= 2 * (size_t)n)
        size *= 2;
    if (!(index->slots = malloc(size * sizeof *index->slots)))
        return -1;
    memset(index->slots, 0xff, size * sizeof *index->slots); /* every slot -1 */
    index->mask = size - 1;
    for (int i = 0; i < n; i++) {
        const char *name = *(char *const *)((const char *)list + (size_t)i * stride);
        size_t slot = hash_name(name) & index->mask;
        while (index->slots[slot] >= 0)
            slot = (slot + 1) & index->mask;
        index->slots[slot] = i;
    }
    return 0;
}

/* The position of name in list, or -1. */
static int index_find(const name_index *index, char *const *list, size_t stride,
                      const char *name)
{
    if (!index->slots || !name)
        return -1;
    for (size_t slot = hash_name(name) & index->mask; index->slots[slot] >= 0;
         slot = (slot + 1) & index->mask) {
        int i = index->slots[slot];
        if (strcmp(*(char *const *)((const char *)list + (size_t)i * stride), name) == 0)
            return i;
    }
    return -1;
}

/* Reads a JSON integer in [0, INT64_MAX] into *out. */
static bool get_count(const json_t *value, int64_t *out)
{
    if (!json_is_integer(value) || json_integer_value(value) < 0)
        return false;
    *out = json_integer_value(value);
    return true;
}

static int check_dtype(spec *s, const json_t *dtype, const char *label)
{
    const char *text = json_string_value(dtype);
    if (!text)
        return tg_error_set(OP ": %s: tensor \"%s\": dtype is missing or not a string",
                            label, tg_quoted(s->name));
    for (size_t i = 0; i < sizeof readable_dtypes / sizeof readable_dtypes[0]; i++) {
        if (strcmp(text, readable_dtypes[i].name) == 0) {
            s->dtype = &readable_dtypes[i];
            return 0;
        }
    }
    return tg_error_set(OP ": %s: tensor \"%s\": dtype \"%s\" is not supported (F32, "
                        "F64, F16, BF16, I64, I32, I8, U8 and BOOL are)", label, tg_quoted(s->name),
                        tg_quoted(text));
}

static int check_shape(spec *s, const json_t *shape, const char *label)
{
    if (!json_is_array(shape))
        return tg_error_set(OP ": %s: tensor \"%s\": shape is missing or not an array",
                            label, tg_quoted(s->name));
    size_t rank = json_array_size(shape);
    if (rank > TG_MAX_DIMS)
        return tg_error_set(OP ": %s: tensor \"%s\": shape has rank %zu, more than %d",
                            label, tg_quoted(s->name), rank, TG_MAX_DIMS);
    s->shape.ndim = (int)rank;
    s->numel = 1;
    /* The product of the sizes with 0 counted as 1 bounds the element count
     * and the strides (an empty [0, 2^62, 2^62] has none, but strides that
     * overflow); it is kept small enough for a size in bytes of any dtype. */
    int64_t extent = 1;
    for (size_t d = 0; d < rank; d++) {
        int64_t size;
        if (!get_count(json_array_get(shape, d), &size))
            return tg_error_set(OP ": %s: tensor \"%s\": shape[%zu] is not a non-negative "
                                "integer", label, tg_quoted(s->name), d);
        if (size > INT64_MAX / 8 / extent)
            return tg_error_set(OP ": %s: tensor \"%s\": the shape has too many elements",
                                label, tg_quoted(s->name));
        extent *= size > 1 ? size : 1;
        s->shape.dim[d] = size;
        s->numel *= size;
    }
    return 0;
}

static int check_offsets(spec *s, const json_t *offsets, int64_t data_size, const char *label)
{
    if (!json_is_array(offsets) || json_array_size(offsets) != 2 ||
        !get_count(json_array_get(offsets, 0), &s->begin) ||
        !get_count(json_array_get(offsets, 1), &s->end))
        return tg_error_set(OP ": %s: tensor \"%s\": data_offsets is not an array of two "
                            "non-negative integers", label, tg_quoted(s->name));
    if (s->begin > s->end)
        return tg_error_set(OP ": %s: tensor \"%s\": data_offsets [%lld, %lld] end before "
                            "they begin", label, tg_quoted(s->name), (long long)s->begin, (long long)s->end);
    if (s->end > data_size)
        return tg_error_set(OP ": %s: tensor \"%s\": data_offsets [%lld, %lld] end past the "
                            "%lld-byte data section", label, tg_quoted(s->name), (long long)s->begin,
                            (long long)s->end, (long long)data_size);
    int64_t bytes = s->end - s->begin, needed = s->numel * s->dtype->size;
    if (bytes != needed)
        return tg_error_set(OP ": %s: tensor \"%s\": data_offsets [%lld, %lld] hold %lld "
                            "bytes, but %lld elements of %s need %lld", label, tg_quoted(s->name),
                            (long long)s->begin, (long long)s->end, (long long)bytes,
                            (long long)s->numel, s->dtype->name, (long long)needed);
    return 0;
}

static int check_spec(spec *s, const json_t *value, int64_t data_size, const char *label)
{
    if (!json_is_object(value))
        return tg_error_set(OP ": %s: tensor \"%s\": expected an object with dtype, shape "
                            "and data_offsets", label, tg_quoted(s->name));
    if (check_dtype(s, json_object_get(value, "dtype"), label) != 0 ||
        check_shape(s, json_object_get(value, "shape"), label) != 0)
        return -1;
    return check_offsets(s, json_object_get(value, "data_offsets"), data_size, label);
}

/* Sorts by data offset; the header's order breaks ties. */
static int compare_offsets(const void *pa, const void *pb)
{
    const spec *a = pa, *b = pb;
    if (a->begin != b->begin)
        return a->begin < b->begin ? -1 : 1;
    if (a->end != b->end)
        return a->end < b->end ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* specs sorted by offset: as in the reference implementation, each tensor
 * begins where the one before it ends and the last ends with the data
 * section, so no byte belongs to two tensors or to none. An empty tensor
 * holds no byte but obeys the same rule: its offsets [b, b] must lie
 * between two tensors (or at either end), never inside another. */
static int check_cover(const spec *specs, int n, int64_t data_size, const char *label)
{
    const spec *reach = NULL; /* the non-empty tensor ending last so far */
    int64_t covered = 0;
    for (int i = 0; i < n; i++) {
        const spec *s = &specs[i];
        if (s->begin < covered)
            return tg_error_set(OP ": %s: tensors \"%s\" [%lld, %lld] and \"%s\" [%lld, "
                                "%lld] overlap in the data section%s", label, tg_quoted(reach->name),
                                (long long)reach->begin, (long long)reach->end, tg_quoted(s->name),
                                (long long)s->begin, (long long)s->end,
                                s->begin == s->end ? " (an empty tensor must lie between two "
                                                     "others, not inside one)" : "");
        if (s->begin > covered)
            return tg_error_set(OP ": %s: bytes [%lld, %lld) of the data section belong to no "
                                "tensor", label, (long long)covered, (long long)s->begin);
        if (s->begin != s->end)
            reach = s;
        covered = s->end;
    }
    if (covered != data_size)
        return tg_error_set(OP ": %s: %lld bytes after the last tensor's data (the data "
                            "section has %lld bytes, the tensors cover %lld)", label,
                            (long long)(data_size - covered), (long long)data_size,
                            (long long)covered);
    return 0;
}

static int read_metadata(tg_safetensors *file, json_t *object, const char *label)
{
    if (!json_is_object(object))
        return tg_error_set(OP ": %s: __metadata__ is not an object", label);
    size_t n = json_object_size(object);
    if (n > TG_SAFETENSORS_MAX_METADATA)
        return tg_error_set(OP ": %s: __metadata__ has %zu entries, more than the limit of %d",
                            label, n, TG_SAFETENSORS_MAX_METADATA);
    file->keys = calloc(n ? n : 1, sizeof *file->keys);
    file->values = calloc(n ? n : 1, sizeof *file->values);
    if (!file->keys || !file->values)
        return tg_error_set(OP ": %s: out of memory", label);
    const char *key;
    json_t *value;
    json_object_foreach(object, key, value) {
        if (!json_is_string(value))
            return tg_error_set(OP ": %s: __metadata__ \"%s\": the value is not a string",
                                label, tg_quoted(key));
        if (strlen(key) > TG_SAFETENSORS_MAX_NAME)
            return tg_error_set(OP ": %s: a __metadata__ key of %zu bytes, more than the limit "
                                "of %d", label, strlen(key), TG_SAFETENSORS_MAX_NAME);
        int i = file->n_metadata;
        file->keys[i] = strdup(key);
        file->values[i] = strdup(json_string_value(value));
        file->n_metadata++; /* counted before the check, so that free finds both */
        if (!file->keys[i] || !file->values[i])
            return tg_error_set(OP ": %s: out of memory", label);
    }
    if (index_build(&file->metadata_index, file->keys, sizeof *file->keys, file->n_metadata))
        return tg_error_set(OP ": %s: out of memory", label);
    return 0;
}

/* A BOOL element is one byte, 0 or 1, as the safetensors library checks. */
static int check_bool(const spec *s, const unsigned char *in, int64_t done, int64_t n,
                      const char *label)
{
    for (int64_t i = 0; s->dtype->stored == TG_SAFETENSORS_BOOL && i < n; i++)
        if (in[i] > 1)
            return tg_error_set(OP ": %s: tensor \"%s\": BOOL element %lld is the byte %d, "
                                "not 0 or 1", label, tg_quoted(s->name), (long long)(done + i),
                                in[i]);
    return 0;
}

/* Decodes the tensor of s from the data section (at `base` in src). */
static int read_tensor(tg_tensor *t, const spec *s, const source *src, uint64_t base,
                       unsigned char *chunk, const char *label)
{
    uint64_t offset = base + (uint64_t)s->begin;
    size_t element = tg_dtype_size(t->dtype);
    if (src->bytes) {
        if (check_bool(s, src->bytes + offset, 0, s->numel, label) != 0)
            return -1;
        s->dtype->decode(t->data, src->bytes + offset, s->numel);
        return 0;
    }
    int64_t per_chunk = (int64_t)(CHUNK / (size_t)s->dtype->size);
    for (int64_t done = 0; done < s->numel; done += per_chunk) {
        int64_t n = s->numel - done < per_chunk ? s->numel - done : per_chunk;
        if (source_read(src, offset + (uint64_t)(done * s->dtype->size), chunk,
                        (size_t)n * (size_t)s->dtype->size) != 0 ||
            check_bool(s, chunk, done, n, label) != 0)
            return -1;
        s->dtype->decode((char *)t->data + (size_t)done * element, chunk, n);
    }
    return 0;
}

static int make_tensors(tg_safetensors *file, const spec *specs, int n, const source *src,
                        uint64_t base, const char *label)
{
    file->tensors = calloc(n ? (size_t)n : 1, sizeof *file->tensors);
    unsigned char *chunk = src->bytes ? NULL : malloc(CHUNK);
    if (!file->tensors || (!src->bytes && !chunk)) {
        free(chunk);
        return tg_error_set(OP ": %s: out of memory", label);
    }
    int status = 0;
    for (int i = 0; i < n && status == 0; i++) {
        entry *e = &file->tensors[i];
        e->name = strdup(specs[i].name);
        e->tensor = tg_tensor_empty_dtype(specs[i].shape, specs[i].dtype->tensor_dtype);
        e->stored = specs[i].dtype->stored;
        file->count++;
        if (!e->name || !e->tensor)
            status = tg_error_set(OP ": %s: out of memory for tensor \"%s\"", label,
                                  tg_quoted(specs[i].name));
        else
            status = read_tensor(e->tensor, &specs[i], src, base, chunk, label);
    }
    free(chunk);
    if (status == 0 && index_build(&file->tensor_index, &file->tensors[0].name,
                                   sizeof *file->tensors, file->count) != 0)
        status = tg_error_set(OP ": %s: out of memory", label);
    return status;
}

/* Checks the header's entries and makes the tensors from the data section
 * (data_size bytes at `base` in src). */
static tg_safetensors *build(json_t *header, const source *src, uint64_t base,
                             int64_t data_size, const char *label)
{
    size_t n = json_object_size(header);
    spec *specs = calloc(n ? n : 1, sizeof *specs);
    tg_safetensors *file = calloc(1, sizeof *file);
    if (file)
        file->path = strdup(label);
    int count = 0, status = 0;
    if (!specs || !file || !file->path)
        status = tg_error_set(OP ": %s: out of memory", label);
    const char *key;
    json_t *value;
    json_object_foreach(header, key, value) {
        if (status != 0)
            break;
        if (strcmp(key, "__metadata__") == 0) {
            status = read_metadata(file, value, label);
        } else if (strlen(key) > TG_SAFETENSORS_MAX_NAME) {
            status = tg_error_set(OP ": %s: a tensor name of %zu bytes (\"%s\"), more "
                                  "than the limit of %d", label, strlen(key), tg_quoted(key),
                                  TG_SAFETENSORS_MAX_NAME);
        } else {
            specs[count] = (spec){ .name = key, .order = count };
            status = check_spec(&specs[count++], value, data_size, label);
        }
    }
    if (status == 0 && count > TG_SAFETENSORS_MAX_TENSORS)
        status = tg_error_set(OP ": %s: the header has %d tensors, more than the limit of %d",
                              label, count, TG_SAFETENSORS_MAX_TENSORS);
    if (status == 0) {
        qsort(specs, (size_t)count, sizeof *specs, compare_offsets);
        status = check_cover(specs, count, data_size, label);
    }
    if (status == 0)
        status = make_tensors(file, specs, count, src, base, label);
    free(specs);
    if (status != 0) {
        tg_safetensors_free(file);
        return NULL;
    }
    return file;
}

/* ---- Limits before parsing ------------------------------------------------------- */

/* The header's JSON is scanned as it is read, before the parser builds
 * anything: a structure beyond what any header within the limits holds is
 * refused at the first byte that shows it, having cost that much reading
 * and no parsing. A valid header nests at most 3 deep (the top object, a
 * tensor's entry, its shape), so the depth limit is serde_json's (the
 * reference implementation's parser) and never met by a real file. Below
 * the top object no object or array needs more members than __metadata__,
 * and all of them together no more than MAX_VALUES. Malformed JSON gets
 * some count; the parser refuses it afterwards. */
#define MAX_DEPTH 128
#define MAX_VALUES TG_SAFETENSORS_MAX_JSON_VALUES

typedef struct header_scan {
    size_t offset;            /* bytes scanned */
    int depth;                /* containers open */
    bool in_string, escaped;
    bool expect_key;          /* at depth 1, the next string is a key */
    int key_match;            /* bytes of "__metadata__" the current key matches, or -1 */
    bool metadata_key;        /* the last key at depth 1 was exactly "__metadata__" */
    bool in_metadata;         /* inside the container that key opened */
    bool empty[MAX_DEPTH + 1];   /* no member seen yet in the container at this depth */
    size_t members[MAX_DEPTH + 1];
    size_t values;            /* members of every container below the top */
    const char *refusal;      /* why the scan stopped, or NULL */
    size_t refused_at;        /* the byte that showed it */
} header_scan;

static const char metadata_name[] = "__metadata__";

/* A member begins in the container at depth d. */
static void count_member(header_scan *scan, int d)
{
    scan->members[d]++;
    if (d >= 2)
        scan->values++;
    if (d == 1 && scan->members[1] > TG_SAFETENSORS_MAX_TENSORS + 1)
        scan->refusal = "entries";
    else if (d >= 2 && scan->members[d] > TG_SAFETENSORS_MAX_METADATA)
        scan->refusal = scan->in_metadata ? "metadata" : "members";
    else if (scan->values > MAX_VALUES)
        scan->refusal = "values";
}

/* Scans n more bytes of the header; stops at the first limit passed
 * (scan->refusal says which). */
static void scan_header(header_scan *scan, const char *text, size_t n)
{
    for (size_t i = 0; i < n && !scan->refusal; i++, scan->offset++) {
        char c = text[i];
        int d = scan->depth;
        if (scan->in_string) {
            if (scan->key_match >= 0) { /* a key at depth 1: is it "__metadata__"? */
                if (c == '"' && !scan->escaped)
                    scan->metadata_key = scan->key_match == (int)sizeof metadata_name - 1;
                else if (scan->key_match < (int)sizeof metadata_name - 1 &&
                         c == metadata_name[scan->key_match] && !scan->escaped)
                    scan->key_match++;
                else
                    scan->key_match = -1;
            }
            if (scan->escaped)
                scan->escaped = false;
            else if (c == '\\')
                scan->escaped = true;
            else if (c == '"')
                scan->in_string = false;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            continue;
        if (c == ',' || c == ':') {
            if (c == ',' && d >= 1) {
                count_member(scan, d);
                scan->expect_key = d == 1;
            }
            continue;
        }
        if (c == '}' || c == ']') {
            if (d == 2)
                scan->in_metadata = false;
            scan->depth -= d > 0;
            continue;
        }
        if (d >= 1 && scan->empty[d]) { /* the first member of this container */
            scan->empty[d] = false;
            count_member(scan, d);
        }
        if (c == '"') {
            scan->in_string = true;
            scan->key_match = d == 1 && scan->expect_key ? 0 : -1;
            if (d == 1 && scan->expect_key)
                scan->metadata_key = scan->expect_key = false;
        } else if (c == '{' || c == '[') {
            if (d == MAX_DEPTH) {
                scan->refusal = "depth";
                continue;
            }
            scan->depth++;
            scan->empty[d + 1] = true;
            scan->members[d + 1] = 0;
            scan->expect_key = d + 1 == 1;
            if (d + 1 == 2)
                scan->in_metadata = scan->metadata_key;
        }
    }
    if (scan->refusal)
        scan->refused_at = scan->offset - 1;
}

/* The error for a scan that stopped. Returns -1. */
static int scan_error(const header_scan *scan, const char *label)
{
    const char *why = scan->refusal;
    if (strcmp(why, "entries") == 0)
        return tg_error_set(OP ": %s: the header has more than %d entries, more than the limit "
                            "of %d tensors and __metadata__", label,
                            TG_SAFETENSORS_MAX_TENSORS + 1, TG_SAFETENSORS_MAX_TENSORS);
    if (strcmp(why, "metadata") == 0)
        return tg_error_set(OP ": %s: __metadata__ has more than %d entries, the limit", label,
                            TG_SAFETENSORS_MAX_METADATA);
    if (strcmp(why, "members") == 0)
        return tg_error_set(OP ": %s: the header has a JSON object or array of more than %d "
                            "members (at byte %zu), more than any entry needs", label,
                            TG_SAFETENSORS_MAX_METADATA, scan->refused_at);
    if (strcmp(why, "values") == 0)
        return tg_error_set(OP ": %s: the header holds more than %d JSON values below its top "
                            "object (at byte %zu), more than the limit for %d tensors and %d "
                            "metadata entries", label, MAX_VALUES, scan->refused_at,
                            TG_SAFETENSORS_MAX_TENSORS, TG_SAFETENSORS_MAX_METADATA);
    return tg_error_set(OP ": %s: the JSON header nests more than %d levels deep (at byte %zu)",
                        label, MAX_DEPTH, scan->refused_at);
}

/* Reads the header's `length` bytes of JSON (at offset 8) and scans them
 * as they come, a megabyte at a time: a header refused by the scan is read
 * only up to where it passed a limit. The text (malloc'd, or the memory
 * source's own bytes) in *text; 0, or -1 with an error. */
static int read_header(const source *src, uint64_t length, char **owned, const char **text)
{
    header_scan scan = { 0 };
    if (src->bytes) {
        *text = (const char *)src->bytes + 8;
        scan_header(&scan, *text, (size_t)length);
        return scan.refusal ? scan_error(&scan, src->label) : 0;
    }
    char *buffer = malloc(length ? (size_t)length : 1);
    if (!buffer)
        return tg_error_set(OP ": %s: out of memory for the %llu-byte header", src->label,
                            (unsigned long long)length);
    for (size_t done = 0; done < length;) {
        size_t n = length - done < CHUNK ? (size_t)length - done : CHUNK;
        if (source_read(src, 8 + done, buffer + done, n) != 0) {
            free(buffer);
            return -1;
        }
        scan_header(&scan, buffer + done, n);
        if (scan.refusal) {
            free(buffer);
            return scan_error(&scan, src->label);
        }
        done += n;
    }
    *owned = buffer;
    *text = buffer;
    return 0;
}

static tg_safetensors *parse(const source *src)
{
    const char *label = src->label;
    unsigned char prefix[8];
    if (src->size < 8) {
        tg_error_set(OP ": %s: the file has %llu bytes, too few for the 8-byte header length",
                     label, (unsigned long long)src->size);
        return NULL;
    }
    if (source_read(src, 0, prefix, 8) != 0)
        return NULL;
    uint64_t length = load_le(prefix, 8);
    if (length > src->size - 8) {
        tg_error_set(OP ": %s: the header length %llu is past the end of the file (%llu bytes)",
                     label, (unsigned long long)length, (unsigned long long)src->size);
        return NULL;
    }
    if (length > TG_SAFETENSORS_MAX_HEADER) {
        tg_error_set(OP ": %s: the header length %llu is more than the limit of %d bytes", label,
                     (unsigned long long)length, TG_SAFETENSORS_MAX_HEADER);
        return NULL;
    }
    char *owned = NULL;
    const char *json = NULL;
    if (read_header(src, length, &owned, &json) != 0)
        return NULL;
    tg_safetensors *file = NULL;
    json_t *header;
    json_error_t error;
    if (!(header = json_loadb(json, (size_t)length, JSON_REJECT_DUPLICATES, &error))) {
        tg_error_set(OP ": %s: the JSON header is malformed at byte %d: %s", label,
                     error.position, error.text);
    } else if (!json_is_object(header)) {
        tg_error_set(OP ": %s: the JSON header is not an object", label);
    } else {
        file = build(header, src, 8 + length, (int64_t)(src->size - 8 - length), label);
    }
    json_decref(header);
    free(owned);
    return file;
}

tg_safetensors *tg_safetensors_load(const char *path)
{
    uint64_t size;
    int fd = tg_file_open_regular(path, OP, &size);
    if (fd < 0)
        return NULL;
    tg_safetensors *file = parse(&(source){ .fd = fd, .size = size, .label = path });
    close(fd);
    return file;
}

tg_safetensors *tg_safetensors_load_memory(const void *bytes, size_t size, const char *label)
{
    if (!bytes && size > 0)
        return NULL;
    return parse(&(source){ .bytes = bytes ? bytes : (const void *)"", .size = size,
                            .label = label ? label : "<memory>" });
}

void tg_safetensors_free(tg_safetensors *file)
{
    if (!file)
        return;
    for (int i = 0; i < file->count; i++) {
        free(file->tensors[i].name);
        tg_tensor_free(file->tensors[i].tensor);
    }
    for (int i = 0; i < file->n_metadata; i++) {
        free(file->keys[i]);
        free(file->values[i]);
    }
    free(file->path);
    free(file->tensor_index.slots);
    free(file->metadata_index.slots);
    free(file->tensors);
    free(file->keys);
    free(file->values);
    free(file);
}

const char *tg_safetensors_path(const tg_safetensors *file) { return file ? file->path : NULL; }

int tg_safetensors_count(const tg_safetensors *file) { return file ? file->count : 0; }

const char *tg_safetensors_name(const tg_safetensors *file, int index)
{
    return file && index >= 0 && index < file->count ? file->tensors[index].name : NULL;
}

tg_tensor *tg_safetensors_tensor(const tg_safetensors *file, int index)
{
    return file && index >= 0 && index < file->count ? file->tensors[index].tensor : NULL;
}

tg_safetensors_dtype tg_safetensors_stored_as(const tg_safetensors *file, int index)
{
    return file && index >= 0 && index < file->count ? file->tensors[index].stored
                                                     : TG_SAFETENSORS_DEFAULT;
}

tg_tensor *tg_safetensors_get(const tg_safetensors *file, const char *name)
{
    int i = file && file->count > 0 ? index_find(&file->tensor_index, &file->tensors[0].name,
                                                 sizeof *file->tensors, name)
                                    : -1;
    return i >= 0 ? file->tensors[i].tensor : NULL;
}

int tg_safetensors_metadata_count(const tg_safetensors *file) { return file ? file->n_metadata : 0; }

const char *tg_safetensors_metadata_key(const tg_safetensors *file, int index)
{
    return file && index >= 0 && index < file->n_metadata ? file->keys[index] : NULL;
}

const char *tg_safetensors_metadata_value(const tg_safetensors *file, int index)
{
    return file && index >= 0 && index < file->n_metadata ? file->values[index] : NULL;
}

const char *tg_safetensors_metadata(const tg_safetensors *file, const char *key)
{
    int i = file && file->n_metadata > 0
                ? index_find(&file->metadata_index, file->keys, sizeof *file->keys, key)
                : -1;
    return i >= 0 ? file->values[i] : NULL;
}
