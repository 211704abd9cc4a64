/*
 * io/safetensors.h: named sets of tensors in the safetensors format.
 *
 * A safetensors file is an 8-byte little-endian header length N, N bytes of
 * JSON, then the raw little-endian data:
 *
 *     {"__metadata__": {"epoch": "3"},
 *      "head.weight": {"dtype": "F32", "shape": [2, 4], "data_offsets": [0, 32]}, ...}
 *
 * data_offsets are [begin, end) byte offsets into the data section. The
 * format is the one PyTorch users save with safetensors.torch.save_file, so
 * weights move between tapegrad and PyTorch by name (layers/model_io.h does
 * this for a whole model).
 *
 * Writing stores float32 tensors as F32 and int64 tensors as I64 (or as a
 * tensor asks: I32, I8, U8, BOOL). Reading accepts F32, I64, I32, I8, U8
 * and BOOL,
 * and converts F64, F16 and BF16 to float (F64 rounds to nearest; values
 * beyond float's range become infinite); see tg_safetensors_dtype below. A
 * round trip of F32 data is bit-identical, NaN payloads included.
 *
 * Every byte of a file is untrusted. The reader opens the file as every
 * reader does (tensor/file.h: a FIFO or directory is refused at once) and
 * reads it in pieces, checking limits before the part they bound is read:
 * the header length against the file size and TG_SAFETENSORS_MAX_HEADER
 * (100 MB, the reference implementation's limit); then, as the header is
 * read (a megabyte at a time) and before the JSON parser builds anything,
 * its structure: at most TG_SAFETENSORS_MAX_TENSORS entries (and
 * __metadata__), no object or array below them of more members than
 * TG_SAFETENSORS_MAX_METADATA, at most TG_SAFETENSORS_MAX_JSON_VALUES
 * values in all, nesting at most 128 deep (the reference's parser's
 * limit), so a hostile header is refused at the byte that passes a limit,
 * having cost no parsing and no more memory than what was read; then that
 * the JSON is well formed and has the expected structure (objects,
 * strings, non-negative integers), names (at most TG_SAFETENSORS_MAX_NAME
 * bytes) and metadata (at most TG_SAFETENSORS_MAX_METADATA entries), each
 * tensor's dtype, its shape (rank at most 8, element count without
 * overflow), its data_offsets (inside the data section, the size that
 * dtype and shape need), and that no name appears twice. As in the
 * reference implementation, the tensors must cover the data section
 * exactly: no byte belongs to two tensors, none to no tensor (a gap), and
 * nothing follows the last tensor's data. In offset order each tensor
 * begins where the one before it ends, empty ones too: an empty tensor's
 * [b, b] lies between two tensors or at either end, never inside another
 * (as the reference implementation's validate requires). Only then is the data
 * read, a megabyte at a time, into the tensors: loading needs about the
 * tensors' size and the header's parse, never a copy of the whole file.
 * An error names the function, the file, the tensor or field, and why, e.g.
 *     safetensors_load: ckpt.safetensors: tensor "head.weight": data_offsets
 *     [0, 48] end past the 40-byte data section
 * Lookups by name (tensors and metadata) are hashed: loading a model of N
 * parameters costs O(N), not O(N^2).
 *
 * The writer refuses, before writing anything, what the reader would
 * refuse: more tensors or metadata entries than the limits, a name or key
 * longer than TG_SAFETENSORS_MAX_NAME, a header over the limit.
 */
#ifndef TG_IO_SAFETENSORS_H
#define TG_IO_SAFETENSORS_H

#include <stddef.h>

#include "tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits of the reader (and the writer). */
#define TG_SAFETENSORS_MAX_HEADER 100000000 /* bytes of JSON header */
#define TG_SAFETENSORS_MAX_TENSORS 262144   /* 2^18: a 16,000-layer LSTM with Adam has 192,000 */
#define TG_SAFETENSORS_MAX_METADATA 65536   /* entries of __metadata__ */
#define TG_SAFETENSORS_MAX_NAME 1024        /* bytes of a tensor name or metadata key */
/* JSON values below the header's top object: 16 per tensor (its entry, the
 * dtype, the shape and up to 8 sizes, data_offsets and its 2 offsets, and
 * 2 to spare) and one per metadata entry, plus __metadata__ itself. */
#define TG_SAFETENSORS_MAX_JSON_VALUES \
    (16 * TG_SAFETENSORS_MAX_TENSORS + TG_SAFETENSORS_MAX_METADATA + 1)

/* The element types of a file. Reading gives float32 tensors for F32,
 * F64, F16 and BF16 (converted as said above) and for BOOL (0 and 1, the
 * way tapegrad holds masks; a byte other than 0 or 1 is an error), and
 * int64 tensors for I64, I32, I8 and U8. Writing stores float32 tensors as
 * F32 and int64 tensors as I64 unless a tensor asks for I32, I8, U8 (int64
 * values in range) or BOOL (float32 or int64 values 0 and 1); F64, F16 and BF16
 * are read only. */
typedef enum tg_safetensors_dtype {
    TG_SAFETENSORS_DEFAULT = 0, /* writing: F32 or I64 by the tensor's dtype */
    TG_SAFETENSORS_F32,
    TG_SAFETENSORS_F64,
    TG_SAFETENSORS_F16,
    TG_SAFETENSORS_BF16,
    TG_SAFETENSORS_I64,
    TG_SAFETENSORS_I32,
    TG_SAFETENSORS_U8,
    TG_SAFETENSORS_BOOL,
    TG_SAFETENSORS_I8, /* int8 weights of quantised models (layers/model_io.h) */
} tg_safetensors_dtype;

/* "F32", "I64", ... as the file's header spells it ("" for DEFAULT). */
const char *tg_safetensors_dtype_name(tg_safetensors_dtype dtype);

/* A tensor and the name it is stored under. */
typedef struct tg_named_tensor {
    const char *name;
    const tg_tensor *tensor;
} tg_named_tensor;

/* One entry of the file's "__metadata__" object: both strings. */
typedef struct tg_string_pair {
    const char *key;
    const char *value;
} tg_string_pair;

/* Writes tensors (any layout; stored contiguous, little-endian, F32 for
 * float32 and I64 for int64 tensors) and string metadata (the safetensors
 * "__metadata__" object) to path atomically: temporary file in the same directory, fwrite, fflush, fsync,
 * rename; on any failure the old file at path is untouched and the
 * temporary is removed. Returns 0, or -1 with an error naming the file and
 * the reason (errno text). Bad input (a NULL or empty name, a NULL tensor,
 * a name used twice or called "__metadata__", a key or value NULL or not
 * valid UTF-8, a negative count) fails before anything is written. */
int tg_safetensors_save(const char *path, const tg_named_tensor *tensors, int n,
                        const tg_string_pair *metadata, int n_metadata);
/* The same, storing tensors[i] as stored_as[i] (stored_as NULL, or an
 * entry TG_SAFETENSORS_DEFAULT: F32 or I64 by the tensor's dtype). A value
 * the stored dtype cannot hold (an I32 out of range, a BOOL not 0 or 1), or
 * a dtype that does not fit the tensor's, fails before anything is
 * written. */
int tg_safetensors_save_as(const char *path, const tg_named_tensor *tensors,
                           const tg_safetensors_dtype *stored_as, int n,
                           const tg_string_pair *metadata, int n_metadata);

/* A loaded file: owns its tensors, names and metadata. */
typedef struct tg_safetensors tg_safetensors;

/* Reads and checks a whole file (see the checks above). Returns the loaded
 * file (free it with tg_safetensors_free), or NULL with an error naming the
 * file and what is wrong. */
tg_safetensors *tg_safetensors_load(const char *path);
/* The same from `size` bytes in memory; `label` names them in errors (NULL
 * gives "<memory>"). The bytes are copied; the caller keeps them. */
tg_safetensors *tg_safetensors_load_memory(const void *bytes, size_t size, const char *label);
/* Frees the file and everything it owns. NULL is ignored. */
void tg_safetensors_free(tg_safetensors *file);

/* The path (or label) the file was loaded from, for messages. */
const char *tg_safetensors_path(const tg_safetensors *file);

/* Number of tensors, and the name of the tensor at index (0 <= index <
 * count, in the order of their data in the file; NULL otherwise). */
int tg_safetensors_count(const tg_safetensors *file);
const char *tg_safetensors_name(const tg_safetensors *file, int index);
/* The tensor called name: an owned tensor that belongs to the file (it is
 * freed with it by tg_safetensors_free: never free it yourself),
 * contiguous, without autograd state. It may be passed to ops as it is,
 * and written; clone it (tg_tensor_clone) to keep it past the file. NULL
 * without an error when absent. */
tg_tensor *tg_safetensors_get(const tg_safetensors *file, const char *name);
/* The tensor at index, as tg_safetensors_get; NULL when out of range. */
tg_tensor *tg_safetensors_tensor(const tg_safetensors *file, int index);
/* How the tensor at index is stored in the file (TG_SAFETENSORS_DEFAULT
 * when out of range): hand it to tg_safetensors_save_as to write alike. */
tg_safetensors_dtype tg_safetensors_stored_as(const tg_safetensors *file, int index);
/* The metadata value of key (owned by the file). NULL without an error
 * when absent. */
const char *tg_safetensors_metadata(const tg_safetensors *file, const char *key);
/* Number of metadata entries, and the key and value at index (NULL when
 * out of range). */
int tg_safetensors_metadata_count(const tg_safetensors *file);
const char *tg_safetensors_metadata_key(const tg_safetensors *file, int index);
const char *tg_safetensors_metadata_value(const tg_safetensors *file, int index);

#ifdef __cplusplus
}
#endif

#endif
