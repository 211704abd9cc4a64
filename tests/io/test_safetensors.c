/* Safetensors files: round trips, the byte layout, other dtypes, and every
 * kind of bad file the reader must refuse with a clear message. */
#include "io/io_support.h"

#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <tensor/kernel.h>

TestSuite(safetensors, .init = io_setup, .fini = io_teardown);

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Writes a file of the given header text and data section, as a hand-made
 * safetensors file. */
static const char *craft(const char *name, const char *header, const void *data, size_t n)
{
    size_t length = strlen(header);
    unsigned char *bytes = malloc(8 + length + n + 1);
    for (int b = 0; b < 8; b++)
        bytes[b] = (unsigned char)((uint64_t)length >> (8 * b));
    memcpy(bytes + 8, header, length);
    if (n)
        memcpy(bytes + 8 + length, data, n);
    const char *path = io_path(name);
    io_write(path, bytes, 8 + length + n);
    free(bytes);
    return path;
}

static const float four_floats[4] = { 1, 2, 3, 4 };

/* Loading the crafted file fails with an error naming the file and
 * containing `fragment`. */
static void assert_refused(const char *header, const void *data, size_t n, const char *fragment)
{
    const char *path = craft("bad.safetensors", header, data, n);
    tg_error_clear();
    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_null(file, "loaded a bad file with header %s", header);
    tg_assert_error(path);
    tg_assert_error(fragment);
    tg_error_clear();
}

Test(safetensors, a_round_trip_is_bit_identical)
{
    /* NaN with a payload, negative zero, infinities, a subnormal, extremes. */
    uint32_t special[8] = { 0x7fc00123u, 0xffa00001u, 0x80000000u, 0x7f800000u,
                            0xff800000u, 0x00000001u, 0x7f7fffffu, 0x3eaaaaabu };
    float values[8];
    for (int i = 0; i < 8; i++)
        values[i] = float_of(special[i]);
    tg_tensor *a = tg_tensor_from_array(TG_SHAPE(2, 4), values);
    tg_tensor *scalar = tg_tensor_full(TG_SCALAR, -7.25f);
    tg_tensor *empty = tg_tensor_zeros(TG_SHAPE(3, 0));
    tg_tensor *deep = tg_tensor_full(TG_SHAPE(1, 2, 1, 2, 1, 2, 1, 2), 0.5f);
    tg_named_tensor tensors[] = { { "a", a }, { "scalar", scalar }, { "empty", empty },
                                  { "deep", deep } };
    const char *path = io_path("round.safetensors");
    cr_assert_eq(tg_safetensors_save(path, tensors, 4, NULL, 0), 0, "%s", tg_error_message());

    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_not_null(file, "%s", tg_error_message());
    cr_assert_eq(tg_safetensors_count(file), 4);
    const tg_tensor *got = tg_safetensors_get(file, "a");
    tg_assert_shape(got, 2, 4);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(bits_of(got->data[i]), special[i], "element %d: %08x", i,
                     bits_of(got->data[i]));
    const tg_tensor *s = tg_safetensors_get(file, "scalar");
    cr_assert_eq(s->ndim, 0);
    cr_assert_eq(s->data[0], -7.25f);
    tg_assert_shape(tg_safetensors_get(file, "empty"), 3, 0);
    tg_assert_shape(tg_safetensors_get(file, "deep"), 1, 2, 1, 2, 1, 2, 1, 2);
    tg_assert_values(tg_safetensors_get(file, "deep"), ((float[16]){ 0.5f, 0.5f, 0.5f, 0.5f,
                     0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f }),
                     16, 0);
    cr_assert_null(tg_safetensors_get(file, "absent"));
    cr_assert_not(tg_error_occurred(), "an absent name is not an error");
    tg_safetensors_free(file);
    tg_tensor_free(a);
    tg_tensor_free(scalar);
    tg_tensor_free(empty);
    tg_tensor_free(deep);
}

Test(safetensors, a_view_is_stored_contiguous_in_row_major_order)
{
    tg_tensor *m = tg_tensor_arange(0, 6, 1);
    tg_tensor *t = tg_view_transpose(tg_view_reshape(m, TG_SHAPE(2, 3)), 0, 1); /* [3, 2] */
    cr_assert_not(tg_tensor_is_contiguous(t));
    const char *path = io_path("view.safetensors");
    cr_assert_eq(tg_safetensors_save(path, (tg_named_tensor[]){ { "t", t } }, 1, NULL, 0), 0);
    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_not_null(file, "%s", tg_error_message());
    tg_assert_shape(tg_safetensors_get(file, "t"), 3, 2);
    tg_assert_values(tg_safetensors_get(file, "t"), ((float[]){ 0, 3, 1, 4, 2, 5 }), 6, 0);
    tg_safetensors_free(file);
    tg_tensor_free(m);
}

/* Reads the written bytes as the format defines them, without the reader. */
Test(safetensors, the_written_bytes_follow_the_format)
{
    tg_tensor *w = tg_tensor_from_array(TG_SHAPE(2, 2), (float[]){ 1.0f, -2.0f, 0.5f, 3.0f });
    tg_tensor *b = tg_tensor_from_array(TG_SHAPE(3), (float[]){ 7, 8, 9 });
    const char *path = io_path("layout.safetensors");
    tg_string_pair meta[] = { { "epoch", "3" } };
    cr_assert_eq(tg_safetensors_save(path, (tg_named_tensor[]){ { "w", w }, { "b", b } }, 2,
                                     meta, 1), 0, "%s", tg_error_message());
    size_t n;
    unsigned char *bytes = read_existing_file(path, &n);
    uint64_t length = 0;
    for (int i = 7; i >= 0; i--)
        length = length << 8 | bytes[i];
    cr_assert_eq(length % 8, 0, "the data starts 8-byte aligned");
    cr_assert_eq(n, 8 + length + 7 * 4);
    json_error_t error;
    json_t *header = json_loadb((const char *)bytes + 8, length, 0, &error);
    cr_assert_not_null(header, "%s", error.text);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(header, "__metadata__"),
                                                       "epoch")), "3");
    json_t *entry = json_object_get(header, "b");
    cr_assert_str_eq(json_string_value(json_object_get(entry, "dtype")), "F32");
    json_t *shape = json_object_get(entry, "shape");
    cr_assert_eq(json_array_size(shape), 1);
    cr_assert_eq(json_integer_value(json_array_get(shape, 0)), 3);
    json_t *offsets = json_object_get(entry, "data_offsets");
    int64_t begin = json_integer_value(json_array_get(offsets, 0));
    cr_assert_eq(json_integer_value(json_array_get(offsets, 1)) - begin, 12);
    /* 8.0f is 0x41000000, stored little-endian. */
    const unsigned char *eight = bytes + 8 + length + begin + 4;
    cr_assert(eight[0] == 0 && eight[1] == 0 && eight[2] == 0 && eight[3] == 0x41);
    json_decref(header);
    free(bytes);
    tg_tensor_free(w);
    tg_tensor_free(b);
}

Test(safetensors, metadata_round_trips)
{
    tg_tensor *x = tg_tensor_zeros(TG_SHAPE(1));
    tg_string_pair meta[] = { { "step", "1200" }, { "note", "caf\xc3\xa9 \"quoted\"\n" } };
    const char *path = io_path("meta.safetensors");
    cr_assert_eq(tg_safetensors_save(path, (tg_named_tensor[]){ { "x", x } }, 1, meta, 2), 0);
    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_not_null(file, "%s", tg_error_message());
    cr_assert_eq(tg_safetensors_metadata_count(file), 2);
    cr_assert_str_eq(tg_safetensors_metadata(file, "step"), "1200");
    cr_assert_str_eq(tg_safetensors_metadata(file, "note"), "caf\xc3\xa9 \"quoted\"\n");
    cr_assert_null(tg_safetensors_metadata(file, "absent"));
    cr_assert_null(tg_safetensors_metadata_key(file, 2));
    cr_assert_not(tg_error_occurred());
    tg_safetensors_free(file);
    tg_tensor_free(x);
}

Test(safetensors, f64_f16_and_bf16_are_converted_to_float)
{
    unsigned char data[48] = { 0 };
    double d[2] = { 0.1, -1e300 }; /* -1e300 is beyond float: -inf */
    memcpy(data, d, 16);           /* the test machine is little-endian, as the format */
    /* F16: 1, -2, 65504 (largest), 2^-24 (smallest subnormal), +inf, 0.333251953125 */
    uint16_t h[6] = { 0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x3555 };
    memcpy(data + 16, h, 12);
    uint16_t bf[2] = { 0x3f80, 0x4049 }; /* 1, 3.140625 */
    memcpy(data + 28, bf, 4);
    const char *path = craft("dtypes.safetensors",
                             "{\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                             "\"h\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[16,28]},"
                             "\"bf\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[28,32]}}",
                             data, 32);
    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_not_null(file, "%s", tg_error_message());
    const tg_tensor *td = tg_safetensors_get(file, "d");
    cr_assert_eq(td->data[0], (float)0.1);
    cr_assert(isinf(td->data[1]) && td->data[1] < 0);
    const tg_tensor *th = tg_safetensors_get(file, "h");
    tg_assert_shape(th, 2, 3);
    cr_assert_eq(th->data[0], 1.0f);
    cr_assert_eq(th->data[1], -2.0f);
    cr_assert_eq(th->data[2], 65504.0f);
    cr_assert_eq(th->data[3], 1.0f / 16777216.0f);
    cr_assert(isinf(th->data[4]) && th->data[4] > 0);
    cr_assert_eq(th->data[5], 0.333251953125f);
    tg_assert_values(tg_safetensors_get(file, "bf"), ((float[]){ 1.0f, 3.140625f }), 2, 0);
    tg_safetensors_free(file);
}

Test(safetensors, tensors_are_listed_in_the_order_of_their_data)
{
    const char *path = craft("order.safetensors",
                             "{\"late\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                             "\"early\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  ",
                             four_floats, 16);
    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_not_null(file, "%s", tg_error_message());
    cr_assert_str_eq(tg_safetensors_name(file, 0), "early");
    cr_assert_str_eq(tg_safetensors_name(file, 1), "late");
    cr_assert_null(tg_safetensors_name(file, 2));
    tg_assert_values(tg_safetensors_tensor(file, 1), ((float[]){ 3, 4 }), 2, 0);
    tg_safetensors_free(file);
}

Test(safetensors, a_file_in_memory_loads_like_a_file_on_disk)
{
    const char header[] = "{\"x\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}";
    unsigned char bytes[8 + sizeof header - 1 + 4] = { sizeof header - 1 };
    memcpy(bytes + 8, header, sizeof header - 1);
    memcpy(bytes + 8 + sizeof header - 1, &four_floats[2], 4);
    tg_safetensors *file = tg_safetensors_load_memory(bytes, sizeof bytes, "buffer");
    cr_assert_not_null(file, "%s", tg_error_message());
    cr_assert_eq(tg_safetensors_get(file, "x")->data[0], 3.0f);
    tg_safetensors_free(file);
    cr_assert_null(tg_safetensors_load_memory(bytes, 20, "buffer"));
    tg_assert_error("buffer: the header length");
}

Test(safetensors, files_too_short_or_with_a_header_past_the_end_are_refused)
{
    const char *path = io_path("short.safetensors");
    io_write(path, "\x10\0\0", 3);
    cr_assert_null(tg_safetensors_load(path));
    tg_assert_error("short.safetensors: the file has 3 bytes, too few for the 8-byte header length");
    tg_error_clear();
    /* A header length of 2^63 must not wrap around. */
    io_write(path, "\0\0\0\0\0\0\0\x80{}", 10);
    cr_assert_null(tg_safetensors_load(path));
    tg_assert_error("the header length 9223372036854775808 is past the end of the file (10 bytes)");
    tg_error_clear();
    cr_assert_null(tg_safetensors_load(io_path("missing.safetensors")));
    tg_assert_error("missing.safetensors: cannot open: No such file or directory");
    tg_error_clear();
    cr_assert_null(tg_safetensors_load(io_dir));
    tg_assert_error("not a regular file");
}

Test(safetensors, a_truncated_file_is_refused)
{
    tg_tensor *x = tg_tensor_ones(TG_SHAPE(4, 4));
    const char *path = io_path("whole.safetensors");
    cr_assert_eq(tg_safetensors_save(path, (tg_named_tensor[]){ { "x", x } }, 1, NULL, 0), 0);
    size_t n;
    unsigned char *bytes = read_existing_file(path, &n);
    /* Cut inside the data, then inside the header. */
    io_write(path, bytes, n - 5);
    cr_assert_null(tg_safetensors_load(path));
    tg_assert_error("tensor \"x\": data_offsets [0, 64] end past the 59-byte data section");
    tg_error_clear();
    io_write(path, bytes, 20);
    cr_assert_null(tg_safetensors_load(path));
    tg_assert_error("is past the end of the file (20 bytes)");
    free(bytes);
    tg_tensor_free(x);
}

Test(safetensors, malformed_json_is_refused)
{
    assert_refused("{\"x\": {\"dtype\": \"F32\",", NULL, 0, "the JSON header is malformed");
    assert_refused("[1, 2]", NULL, 0, "the JSON header is not an object");
    assert_refused("{\"x\": 5}", NULL, 0,
                   "tensor \"x\": expected an object with dtype, shape and data_offsets");
    assert_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                   "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                   four_floats, 8, "duplicate object key");
    assert_refused("{\"__metadata__\": [1]}", NULL, 0, "__metadata__ is not an object");
    assert_refused("{\"__metadata__\": {\"step\": 3}}", NULL, 0,
                   "__metadata__ \"step\": the value is not a string");
}

Test(safetensors, dtypes_other_than_the_known_ones_are_refused)
{
    assert_refused("{\"ids\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[0,4]}}",
                   four_floats, 4, "tensor \"ids\": dtype \"I16\" is not supported (F32, F64, "
                   "F16, BF16, I64, I32, I8, U8 and BOOL are)");
    assert_refused("{\"x\":{\"shape\":[2],\"data_offsets\":[0,8]}}", four_floats, 8,
                   "tensor \"x\": dtype is missing or not a string");
}

Test(safetensors, bad_shapes_are_refused)
{
    assert_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
                   four_floats, 4, "tensor \"x\": shape[0] is not a non-negative integer");
    assert_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}",
                   four_floats, 4, "shape[0] is not a non-negative integer");
    assert_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}",
                   four_floats, 8, "shape is missing or not an array");
    assert_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                   "\"data_offsets\":[0,4]}}", four_floats, 4,
                   "shape has rank 9, more than 8");
    /* 2^32 * 2^32 elements: the count would overflow int64. */
    assert_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
                   "\"data_offsets\":[0,4]}}", four_floats, 4, "the shape has too many elements");
    /* No elements, but sizes whose strides would overflow. */
    assert_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[0,4611686018427387904,"
                   "4611686018427387904],\"data_offsets\":[0,0]}}", four_floats, 4,
                   "the shape has too many elements");
    assert_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
                   four_floats, 8, "data_offsets [0, 8] hold 8 bytes, but 3 elements of F32 need 12");
}

Test(safetensors, offsets_outside_the_data_or_overlapping_are_refused)
{
    assert_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
                   four_floats, 16, "tensor \"x\": data_offsets [12, 20] end past the 16-byte");
    assert_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}",
                   four_floats, 16, "data_offsets [8, 4] end before they begin");
    assert_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-4,4]}}",
                   four_floats, 16, "data_offsets is not an array of two non-negative integers");
    assert_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}",
                   four_floats, 16, "data_offsets is not an array of two non-negative integers");
    assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                   four_floats, 16, "tensors \"a\" [0, 12] and \"b\" [8, 16] overlap");
    /* One tensor inside another, listed first. */
    assert_refused("{\"in\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                   "\"out\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
                   four_floats, 16, "tensors \"out\" [0, 16] and \"in\" [4, 8] overlap");
}

Test(safetensors, empty_tensors_lie_between_tensors_as_the_reference_requires)
{
    /* Empty tensors before, between (two at one offset) and after the others. */
    const char *path = craft("empty.safetensors",
                             "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                             "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                             "\"b\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[8,8]},"
                             "\"c\":{\"dtype\":\"I64\",\"shape\":[3,0],\"data_offsets\":[8,8]},"
                             "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                             "\"d\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,16]}}",
                             four_floats, 16);
    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_not_null(file, "%s", tg_error_message());
    cr_assert_eq(tg_safetensors_count(file), 6);
    tg_assert_values(tg_safetensors_get(file, "x"), four_floats, 2, 0);
    tg_assert_values(tg_safetensors_get(file, "y"), four_floats + 2, 2, 0);
    tg_assert_shape(tg_safetensors_get(file, "c"), 3, 0);
    tg_safetensors_free(file);
    /* Inside another tensor, or past the end: refused, as by the reference. */
    assert_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                   "\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}",
                   four_floats, 16, "tensors \"x\" [0, 16] and \"a\" [4, 4] overlap in the data "
                   "section (an empty tensor must lie between two others, not inside one)");
    assert_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,16]}}",
                   four_floats, 8, "tensor \"e\": data_offsets [16, 16] end past the 8-byte data "
                   "section");
    assert_refused("{\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                   "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                   four_floats, 8, "bytes [0, 4) of the data section belong to no tensor");
}

Test(safetensors, bad_input_to_save_is_refused_before_writing)
{
    tg_tensor *x = tg_tensor_zeros(TG_SHAPE(2));
    const char *path = io_path("bad.safetensors");
    cr_assert_eq(tg_safetensors_save(path, (tg_named_tensor[]){ { "x", x }, { "x", x } }, 2,
                                     NULL, 0), -1);
    tg_assert_error("safetensors_save: ");
    tg_assert_error("bad.safetensors: the name \"x\" is given twice");
    tg_error_clear();
    cr_assert_eq(tg_safetensors_save(path, (tg_named_tensor[]){ { "y", NULL } }, 1, NULL, 0), -1);
    tg_assert_error("tensor \"y\" is NULL");
    tg_error_clear();
    cr_assert_eq(tg_safetensors_save(path, (tg_named_tensor[]){ { "__metadata__", x } }, 1,
                                     NULL, 0), -1);
    tg_assert_error("a tensor name is NULL, empty or \"__metadata__\"");
    tg_error_clear();
    cr_assert_eq(tg_safetensors_save(path, (tg_named_tensor[]){ { "bad\xff", x } }, 1, NULL, 0),
                 -1);
    tg_assert_error("is not valid UTF-8");
    tg_error_clear();
    tg_string_pair meta[] = { { "k", "v" }, { "k", "w" } };
    cr_assert_eq(tg_safetensors_save(path, (tg_named_tensor[]){ { "x", x } }, 1, meta, 2), -1);
    tg_assert_error("metadata key \"k\" is given twice");
    cr_assert_eq(dir_entries(io_dir), 0, "nothing was written");
    tg_tensor_free(x);
}

Test(safetensors, save_into_a_missing_or_unwritable_directory_fails_clearly)
{
    tg_tensor *x = tg_tensor_zeros(TG_SHAPE(2));
    tg_named_tensor tensors[] = { { "x", x } };
    cr_assert_eq(tg_safetensors_save(io_path("no/such/dir/x.safetensors"), tensors, 1, NULL, 0),
                 -1);
    tg_assert_error("x.safetensors: cannot create a temporary file in its directory: No such "
                    "file or directory");
    tg_error_clear();
    /* A directory where no one, not even root, can create files. */
    cr_assert_eq(tg_safetensors_save("/proc/x.safetensors", tensors, 1, NULL, 0), -1);
    tg_assert_error("/proc/x.safetensors: cannot create a temporary file in its directory");
    tg_tensor_free(x);
}

Test(safetensors, a_failed_write_leaves_the_old_file_intact_and_no_temporary)
{
    tg_tensor *small = tg_tensor_full(TG_SHAPE(4), 1.0f);
    const char *path = io_path("keep.safetensors");
    cr_assert_eq(tg_safetensors_save(path, (tg_named_tensor[]){ { "x", small } }, 1, NULL, 0), 0);
    size_t n_before;
    unsigned char *before = read_existing_file(path, &n_before);
    /* A file-size limit makes the write fail midway, as a full disk does. */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = { .rlim_cur = 4096, .rlim_max = RLIM_INFINITY };
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &limit), 0);
    tg_tensor *big = tg_tensor_full(TG_SHAPE(100000), 2.0f);
    cr_assert_eq(tg_safetensors_save(path, (tg_named_tensor[]){ { "x", big } }, 1, NULL, 0), -1);
    tg_assert_error("keep.safetensors: cannot write: File too large");
    size_t n_after;
    unsigned char *after = read_existing_file(path, &n_after);
    cr_assert_eq(n_after, n_before);
    cr_assert_eq(memcmp(before, after, n_before), 0, "the old file is unchanged");
    cr_assert_eq(dir_entries(io_dir), 1, "the temporary was removed");
    free(before);
    free(after);
    tg_tensor_free(small);
    tg_tensor_free(big);
}

Test(safetensors, saving_again_replaces_the_file)
{
    tg_tensor *x = tg_tensor_full(TG_SHAPE(2), 1.0f);
    const char *path = io_path("again.safetensors");
    cr_assert_eq(tg_safetensors_save(path, (tg_named_tensor[]){ { "x", x } }, 1, NULL, 0), 0);
    tg_tensor_fill_(x, 5.0f);
    cr_assert_eq(tg_safetensors_save(path, (tg_named_tensor[]){ { "x", x } }, 1, NULL, 0), 0);
    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_not_null(file, "%s", tg_error_message());
    tg_assert_values(tg_safetensors_get(file, "x"), ((float[]){ 5, 5 }), 2, 0);
    cr_assert_eq(dir_entries(io_dir), 1);
    tg_safetensors_free(file);
    tg_tensor_free(x);
}

/* Random bytes changed in a valid file, and random cuts: the reader either
 * loads a consistent file or refuses it with a message; never anything else. */
Test(safetensors, random_corruption_never_breaks_the_reader)
{
    tg_tensor *a = tg_tensor_arange(0, 12, 1), *b = tg_tensor_full(TG_SHAPE(2, 2), 0.5f);
    tg_string_pair meta[] = { { "step", "7" } };
    const char *path = io_path("valid.safetensors");
    cr_assert_eq(tg_safetensors_save(path, (tg_named_tensor[]){ { "a", a }, { "b", b } }, 2,
                                     meta, 1), 0);
    size_t n;
    unsigned char *valid = read_existing_file(path, &n);
    unsigned char *bytes = malloc(n);
    tg_rng rng;
    tg_rng_seed(&rng, 5);
    int loaded = 0;
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(bytes, valid, n);
        int changes = 1 + (int)tg_rng_below(&rng, 4);
        for (int k = 0; k < changes; k++)
            bytes[tg_rng_below(&rng, (int64_t)n)] = (unsigned char)tg_rng_below(&rng, 256);
        size_t size = trial % 4 == 0 ? (size_t)tg_rng_below(&rng, (int64_t)n + 1) : n;
        tg_error_clear();
        tg_safetensors *file = tg_safetensors_load_memory(bytes, size, "mutated");
        if (!file) {
            tg_assert_error("safetensors_load: mutated: ");
            continue;
        }
        loaded++;
        cr_assert_leq(tg_safetensors_count(file), 2);
        for (int i = 0; i < tg_safetensors_count(file); i++) {
            const tg_tensor *t = tg_safetensors_tensor(file, i);
            cr_assert_eq(tg_shape_numel(tg_tensor_shape(t), "test"), t->numel);
            cr_assert_leq(t->numel * 4, (int64_t)size);
        }
        tg_safetensors_free(file);
    }
    cr_assert_gt(loaded, 0, "changes inside the data leave a valid file");
    free(bytes);
    free(valid);
    tg_tensor_free(a);
    tg_tensor_free(b);
}

Test(safetensors, the_tensors_must_cover_the_data_section_exactly)
{
    /* Bytes after the last tensor, as the reference implementation refuses. */
    assert_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", four_floats,
                   12, "4 bytes after the last tensor's data (the data section has 12 bytes, the "
                   "tensors cover 8)");
    assert_refused("{\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", four_floats,
                   1, "1 bytes after the last tensor's data");
    /* A gap between two tensors. */
    assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                   four_floats, 16, "bytes [4, 8) of the data section belong to no tensor");
    /* A gap before the first. */
    assert_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[4,16]}}",
                   four_floats, 16, "bytes [0, 4) of the data section belong to no tensor");
    /* What tapegrad writes is covered exactly. */
    tg_tensor *x = tg_tensor_ones(TG_SHAPE(3)), *e = tg_tensor_zeros(TG_SHAPE(0, 2));
    const char *path = io_path("exact.safetensors");
    cr_assert_eq(tg_safetensors_save(path, (tg_named_tensor[]){ { "e", e }, { "x", x } }, 2, NULL, 0), 0);
    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_not_null(file, "%s", tg_error_message());
    tg_safetensors_free(file);
    tg_tensor_free(x);
    tg_tensor_free(e);
}

/* A header of n empty tensors "t<i>" (each at [0, 0]), as text. */
static char *empty_tensors_header(int n, size_t *length)
{
    size_t size = (size_t)n * 64 + 16, used = 0;
    char *text = malloc(size);
    cr_assert_not_null(text);
    text[used++] = '{';
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(text + used, size - used,
                                 "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}",
                                 i ? "," : "", i);
    text[used++] = '}';
    text[used] = '\0';
    *length = used;
    return text;
}

/* CPU seconds of this process: unlike the wall clock, not inflated by
 * other programs keeping the cores busy. */
static double seconds_now(void) { return (double)clock() / CLOCKS_PER_SEC; }

Test(safetensors, limits_are_checked_before_the_part_they_bound_is_read)
{
    /* 10^6 empty tensors (59 MB): refused by the count before any parsing. */
    size_t length;
    char *header = empty_tensors_header(1000000, &length);
    const char *path = craft("million.safetensors", header, NULL, 0);
    free(header);
    double start = seconds_now();
    cr_assert_null(tg_safetensors_load(path));
    double elapsed = seconds_now() - start;
    tg_assert_error("million.safetensors: the header has more than 262145 entries, more than the "
                    "limit of 262144 tensors and __metadata__");
    tg_error_clear();
    fprintf(stderr, "safetensors: 10^6 empty tensors refused in %.3f s of CPU\n", elapsed);
    /* Names longer than the limit, of a tensor or a metadata key. */
    char name[1100];
    memset(name, 'n', 1025);
    name[1025] = '\0';
    char text[1300];
    snprintf(text, sizeof text, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}",
             name);
    assert_refused(text, NULL, 0, "a tensor name of 1025 bytes");
    snprintf(text, sizeof text, "{\"__metadata__\":{\"%s\":\"v\"}}", name);
    assert_refused(text, NULL, 0, "a __metadata__ key of 1025 bytes, more than the limit of 1024");
    /* The writer refuses them too. */
    tg_tensor *x = tg_tensor_zeros(TG_SHAPE(1));
    cr_assert_neq(tg_safetensors_save(io_path("long.safetensors"),
                                      (tg_named_tensor[]){ { name, x } }, 1, NULL, 0), 0);
    tg_assert_error("a tensor name of 1025 bytes, more than the limit of 1024");
    tg_error_clear();
    tg_tensor_free(x);
}

/* A file in memory: the 8-byte length, then `text`, ending where an
 * unreadable page begins; its size and header length claim that page too.
 * A load that reads past the text, as a parser would, crashes. */
typedef struct guarded {
    unsigned char *base, *bytes;
    size_t readable, page, size;
} guarded;

static guarded guarded_header(const char *text, size_t n)
{
    guarded g = { .page = (size_t)sysconf(_SC_PAGESIZE) };
    g.readable = (8 + n + g.page - 1) / g.page * g.page;
    cr_assert_eq(posix_memalign((void **)&g.base, g.page, g.readable + g.page), 0);
    g.bytes = g.base + g.readable - (8 + n);
    g.size = 8 + n + g.page;
    for (int b = 0; b < 8; b++)
        g.bytes[b] = (unsigned char)((uint64_t)(g.size - 8) >> (8 * b));
    memcpy(g.bytes + 8, text, n);
    cr_assert_eq(mprotect(g.base + g.readable, g.page, PROT_NONE), 0);
    return g;
}

/* Loads g, expecting the error fragment, and frees g. */
static void assert_guarded_refused(guarded g, const char *fragment)
{
    tg_error_clear();
    cr_assert_null(tg_safetensors_load_memory(g.bytes, g.size, "hostile"));
    tg_assert_error("safetensors_load: hostile: ");
    tg_assert_error(fragment);
    tg_error_clear();
    cr_assert_eq(mprotect(g.base + g.readable, g.page, PROT_READ | PROT_WRITE), 0);
    free(g.base);
}

/* n repetitions of piece after prefix, then suffix, as a new string. */
static char *repeated(const char *prefix, const char *piece, int n, const char *suffix, size_t *length)
{
    size_t a = strlen(prefix), b = strlen(piece), c = strlen(suffix), used = a;
    char *text = malloc(a + (size_t)n * b + c + 1);
    cr_assert_not_null(text);
    memcpy(text, prefix, a);
    for (int i = 0; i < n; i++, used += b)
        memcpy(text + used, piece, b);
    memcpy(text + used, suffix, c + 1);
    *length = used + c;
    return text;
}

/* Headers whose structure passes a limit early: each is refused at the
 * byte that passes it, before the parser runs and before anything after
 * that byte is read (the guard page would crash the test). */
Test(safetensors, a_hostile_header_is_refused_where_it_passes_a_limit_before_parsing)
{
    size_t n;
    /* __metadata__ of 65537 entries. */
    char *text = malloc(65537 * 16 + 32);
    cr_assert_not_null(text);
    n = (size_t)sprintf(text, "{\"__metadata__\":{");
    for (int i = 0; i < 65537; i++)
        n += (size_t)sprintf(text + n, "\"k%x\":\"\",", i);
    assert_guarded_refused(guarded_header(text, n), "__metadata__ has more than 65536 entries, the limit");
    free(text);
    /* A shape of 65537 sizes. */
    text = repeated("{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,0],\"shape\":[", "0,", 65537, "",
                    &n);
    assert_guarded_refused(guarded_header(text, n), "a JSON object or array of more than 65536 members "
                                                    "(at byte 131121), more than any entry needs");
    free(text);
    /* 66 tensors with a field of 65000 numbers each: more values than a
     * header at the limits holds. */
    char piece[64];
    size_t used = 0;
    text = malloc(66 * (65000 * 2 + 128));
    cr_assert_not_null(text);
    text[used++] = '{';
    for (int t = 0; t < 66; t++) {
        snprintf(piece, sizeof piece, "\"t%d\":{\"shape\":[0],\"extra\":[", t);
        used += (size_t)sprintf(text + used, "%s", piece);
        for (int i = 0; i < 65000; i++, used += 2)
            memcpy(text + used, "0,", 2);
        used += (size_t)sprintf(text + used, "0]},");
    }
    assert_guarded_refused(guarded_header(text, used), "the header holds more than 4259841 JSON "
                                                       "values below its top object");
    free(text);
    /* Nesting deeper than serde_json's 128 levels. */
    text = repeated("{\"x\":", "[", 200, "", &n);
    assert_guarded_refused(guarded_header(text, n), "the JSON header nests more than 128 levels "
                                                    "deep (at byte 132)");
    free(text);
    /* Up to the limits the scan lets a header through to the parser. */
    const char *fine = "{\"__metadata__\":{\"k\":\"v\"},\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,"
                       "1,1,1,1],\"data_offsets\":[0,4]}}";
    tg_safetensors *file = tg_safetensors_load(craft("fine.safetensors", fine, four_floats, 4));
    cr_assert_not_null(file, "%s", tg_error_message());
    cr_assert_str_eq(tg_safetensors_metadata(file, "k"), "v");
    tg_safetensors_free(file);
}

Test(safetensors, one_tensor_more_than_the_limit_is_refused_without_metadata_too)
{
    size_t length;
    char *header = empty_tensors_header(TG_SAFETENSORS_MAX_TENSORS + 1, &length);
    unsigned char *bytes = malloc(8 + length);
    cr_assert_not_null(bytes);
    for (int b = 0; b < 8; b++)
        bytes[b] = (unsigned char)((uint64_t)length >> (8 * b));
    memcpy(bytes + 8, header, length);
    free(header);
    tg_error_clear();
    cr_assert_null(tg_safetensors_load_memory(bytes, 8 + length, "over.safetensors"));
    tg_assert_error("over.safetensors: the header has 262145 tensors, more than the limit of 262144");
    tg_error_clear();
    free(bytes);
}

Test(safetensors, the_most_tensors_allowed_load_with_hashed_lookups)
{
    /* 2^18 empty tensors: at the limit, and found by name without a scan
     * per lookup. */
    size_t length;
    char *header = empty_tensors_header(TG_SAFETENSORS_MAX_TENSORS, &length);
    const char *path = craft("many.safetensors", header, NULL, 0);
    free(header);
    double start = seconds_now();
    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_not_null(file, "%s", tg_error_message());
    int found = 0;
    char name[32];
    for (int i = 0; i < TG_SAFETENSORS_MAX_TENSORS; i++) {
        snprintf(name, sizeof name, "t%d", i);
        found += tg_safetensors_get(file, name) != NULL;
    }
    double elapsed = seconds_now() - start;
    cr_assert_eq(found, TG_SAFETENSORS_MAX_TENSORS);
    cr_assert_null(tg_safetensors_get(file, "t262144"));
    tg_safetensors_free(file);
    fprintf(stderr, "safetensors: 2^18 empty tensors loaded and looked up in %.3f s of CPU\n", elapsed);
}

/* ---- Integer and boolean dtypes ------------------------------------------------------- */

/* 2^53 + 1: exact only as an integer. */
#define BIG ((int64_t)9007199254740993)

static unsigned char *read_whole(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    unsigned char *bytes = malloc(4096);
    *size = fread(bytes, 1, 4096, f);
    fclose(f);
    return bytes;
}

Test(safetensors, every_written_dtype_round_trips_exactly)
{
    tg_tensor *ids = tg_tensor_from_int64(TG_SHAPE(2, 2), (int64_t[]){ BIG, -1, INT64_MIN, INT64_MAX });
    tg_tensor *i32 = tg_tensor_from_int64(TG_SHAPE(3), (int64_t[]){ INT32_MIN, INT32_MAX, -7 });
    tg_tensor *u8 = tg_tensor_from_int64(TG_SHAPE(3), (int64_t[]){ 0, 255, 128 });
    tg_tensor *fmask = tg_tensor_from_array(TG_SHAPE(3), (float[]){ 1, 0, 1 });
    tg_tensor *imask = tg_tensor_from_int64(TG_SHAPE(2), (int64_t[]){ 0, 1 });
    tg_tensor *x = tg_tensor_from_array(TG_SHAPE(2), (float[]){ 0.5f, -3 });
    tg_named_tensor named[] = { { "ids", ids }, { "i32", i32 }, { "u8", u8 }, { "fmask", fmask },
                                { "imask", imask }, { "x", x } };
    tg_safetensors_dtype as[] = { TG_SAFETENSORS_DEFAULT, TG_SAFETENSORS_I32, TG_SAFETENSORS_U8,
                                  TG_SAFETENSORS_BOOL, TG_SAFETENSORS_BOOL, TG_SAFETENSORS_DEFAULT };
    char path[4096];
    snprintf(path, sizeof path, "%s", io_path("ints.safetensors"));
    cr_assert_eq(tg_safetensors_save_as(path, named, as, 6, NULL, 0), 0, "%s", tg_error_message());

    /* the bytes: each dtype's width, little-endian, in the order given */
    size_t size;
    unsigned char *bytes = read_whole(path, &size);
    uint64_t length = 0;
    for (int b = 7; b >= 0; b--)
        length = length << 8 | bytes[b];
    cr_assert_eq(size, 8 + length + 32 + 12 + 3 + 3 + 2 + 8);
    const unsigned char *data = bytes + 8 + length;
    cr_assert_eq(data[0], 0x01); /* BIG = 0x0020000000000001 */
    cr_assert_eq(data[6], 0x20);
    cr_assert_eq(data[8], 0xFF); /* -1 */
    const unsigned char i32_bytes[12] = { 0, 0, 0, 0x80, 0xFF, 0xFF, 0xFF, 0x7F, 0xF9, 0xFF, 0xFF, 0xFF };
    cr_assert_arr_eq(data + 32, i32_bytes, 12);
    const unsigned char small[8] = { 0, 255, 128, 1, 0, 1, 0, 1 };
    cr_assert_arr_eq(data + 44, small, 8);
    cr_assert(strstr((char *)bytes + 8, "\"i32\":{\"dtype\":\"I32\",\"shape\":[3],\"data_offsets\":[32,44]}"));
    free(bytes);

    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_not_null(file, "%s", tg_error_message());
    tg_assert_int64_values(tg_safetensors_get(file, "ids"), ((int64_t[]){ BIG, -1, INT64_MIN, INT64_MAX }), 4);
    tg_assert_int64_values(tg_safetensors_get(file, "i32"), ((int64_t[]){ INT32_MIN, INT32_MAX, -7 }), 3);
    tg_assert_int64_values(tg_safetensors_get(file, "u8"), ((int64_t[]){ 0, 255, 128 }), 3);
    tg_tensor *mask = tg_safetensors_get(file, "fmask");
    cr_assert_eq(mask->dtype, TG_FLOAT32); /* BOOL reads as a float mask */
    tg_assert_values(mask, ((float[]){ 1, 0, 1 }), 3, 0);
    tg_assert_values(tg_safetensors_get(file, "imask"), ((float[]){ 0, 1 }), 2, 0);
    tg_assert_values(tg_safetensors_get(file, "x"), ((float[]){ 0.5f, -3 }), 2, 0);
    const tg_safetensors_dtype stored[] = { TG_SAFETENSORS_I64, TG_SAFETENSORS_I32, TG_SAFETENSORS_U8,
                                            TG_SAFETENSORS_BOOL, TG_SAFETENSORS_BOOL, TG_SAFETENSORS_F32 };
    for (int i = 0; i < 6; i++) {
        cr_assert_str_eq(tg_safetensors_name(file, i), named[i].name);
        cr_assert_eq(tg_safetensors_stored_as(file, i), stored[i], "tensor %d", i);
    }
    cr_assert_eq(tg_safetensors_stored_as(file, 6), TG_SAFETENSORS_DEFAULT);
    cr_assert_str_eq(tg_safetensors_dtype_name(TG_SAFETENSORS_U8), "U8");

    /* written back as it was read: the same bytes */
    tg_named_tensor again[6];
    tg_safetensors_dtype again_as[6];
    for (int i = 0; i < 6; i++) {
        again[i] = (tg_named_tensor){ tg_safetensors_name(file, i), tg_safetensors_tensor(file, i) };
        again_as[i] = tg_safetensors_stored_as(file, i);
    }
    char path2[4096];
    snprintf(path2, sizeof path2, "%s", io_path("again.safetensors"));
    cr_assert_eq(tg_safetensors_save_as(path2, again, again_as, 6, NULL, 0), 0, "%s", tg_error_message());
    size_t size1, size2;
    unsigned char *first = read_whole(path, &size1), *second = read_whole(path2, &size2);
    cr_assert_eq(size1, size2);
    cr_assert_arr_eq(first, second, size1);
    free(first);
    free(second);
    tg_safetensors_free(file);
    tg_tensor *all[] = { ids, i32, u8, fmask, imask, x };
    for (int i = 0; i < 6; i++)
        tg_tensor_free(all[i]);
}

Test(safetensors, values_a_dtype_cannot_hold_are_refused_before_writing)
{
    tg_tensor *ids = tg_tensor_from_int64(TG_SHAPE(3), (int64_t[]){ 0, (int64_t)INT32_MAX + 1, 5 });
    tg_tensor *x = tg_tensor_from_array(TG_SHAPE(2), (float[]){ 1, 0.5f });
    char path[4096];
    snprintf(path, sizeof path, "%s", io_path("bad.safetensors"));
    struct {
        const tg_tensor *t;
        tg_safetensors_dtype as;
        const char *message;
    } cases[] = {
        { ids, TG_SAFETENSORS_I32, "tensor \"t\": element 1 is 2147483648, which I32 cannot hold" },
        { ids, TG_SAFETENSORS_U8, "tensor \"t\": element 1 is 2147483648, which U8 cannot hold" },
        { ids, TG_SAFETENSORS_I8, "tensor \"t\": element 1 is 2147483648, which I8 cannot hold" },
        { ids, TG_SAFETENSORS_BOOL, "tensor \"t\": element 1 is 2147483648, which BOOL cannot hold" },
        { x, TG_SAFETENSORS_BOOL, "tensor \"t\": element 1 is 0.5, which BOOL cannot hold" },
        { x, TG_SAFETENSORS_I64, "tensor \"t\": float32 values cannot be stored as I64" },
        { ids, TG_SAFETENSORS_F32, "tensor \"t\": int64 values cannot be stored as F32" },
        { x, TG_SAFETENSORS_F16, "tensor \"t\": float32 values cannot be stored as F16" },
    };
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        tg_error_clear();
        cr_assert_eq(tg_safetensors_save_as(path, (tg_named_tensor[]){ { "t", cases[i].t } },
                                            &cases[i].as, 1, NULL, 0), -1, "case %d", i);
        tg_assert_error(cases[i].message);
    }
    cr_assert_eq(dir_entries(io_dir), 0, "nothing was written");
    tg_tensor_free(ids);
    tg_tensor_free(x);
}

/* I8 (int8 weights of quantised models): two's complement bytes, read
 * back into int64 with their signs. */
Test(safetensors, i8_round_trips_with_its_signs)
{
    tg_tensor *q = tg_tensor_from_int64(TG_SHAPE(2, 2), (int64_t[]){ -128, -1, 0, 127 });
    char path[4096];
    snprintf(path, sizeof path, "%s", io_path("i8.safetensors"));
    tg_safetensors_dtype as = TG_SAFETENSORS_I8;
    cr_assert_eq(tg_safetensors_save_as(path, (tg_named_tensor[]){ { "q", q } }, &as, 1, NULL, 0),
                 0, "%s", tg_error_message());
    size_t size;
    unsigned char *bytes = read_whole(path, &size);
    const unsigned char expected[4] = { 0x80, 0xFF, 0, 0x7F };
    cr_assert_arr_eq(bytes + size - 4, expected, 4);
    cr_assert(strstr((char *)bytes + 8, "\"q\":{\"dtype\":\"I8\",\"shape\":[2,2]"));
    free(bytes);
    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_not_null(file, "%s", tg_error_message());
    tg_tensor *back = tg_safetensors_get(file, "q");
    cr_assert_eq(back->dtype, TG_INT64);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(back->i64[i], q->i64[i]);
    cr_assert_eq(tg_safetensors_stored_as(file, 0), TG_SAFETENSORS_I8);
    cr_assert_str_eq(tg_safetensors_dtype_name(TG_SAFETENSORS_I8), "I8");
    tg_safetensors_free(file);
    tg_tensor_free(q);
}

Test(safetensors, a_bool_byte_other_than_0_or_1_is_refused)
{
    const unsigned char bytes[4] = { 1, 0, 2, 1 };
    assert_refused("{\"m\":{\"dtype\":\"BOOL\",\"shape\":[4],\"data_offsets\":[0,4]}}", bytes, 4,
                   "tensor \"m\": BOOL element 2 is the byte 2, not 0 or 1");
}

/* A file torch wrote: each type's extremes, and the tensors go to ops as
 * they are, with no cast. */
Test(safetensors, integer_dtypes_written_by_pytorch_load_exactly_and_feed_ops)
{
    tg_safetensors *file = tg_safetensors_load(io_fixture("pytorch_int_dtypes.safetensors"));
    cr_assert_not_null(file, "%s", tg_error_message());
    tg_tensor *ids = tg_safetensors_get(file, "ids"), *i32 = tg_safetensors_get(file, "i32");
    tg_tensor *u8 = tg_safetensors_get(file, "u8"), *mask = tg_safetensors_get(file, "mask");
    tg_assert_shape(ids, 2, 3);
    tg_assert_int64_values(ids, ((int64_t[]){ 0, -1, ((int64_t)1 << 40) + 3, BIG, INT64_MIN, INT64_MAX }), 6);
    tg_assert_int64_values(i32, ((int64_t[]){ INT32_MIN, INT32_MAX, 0, -7 }), 4);
    tg_assert_shape(u8, 2, 2);
    tg_assert_int64_values(u8, ((int64_t[]){ 0, 255, 17, 128 }), 4);
    cr_assert_eq(mask->dtype, TG_FLOAT32);
    tg_assert_values(mask, ((float[]){ 1, 0, 1 }), 3, 0);
    cr_assert_eq(tg_safetensors_stored_as(file, 0), TG_SAFETENSORS_I32); /* data order: i32 first */

    /* no casts: the ids index, the mask multiplies */
    tg_tensor *table = tg_tensor_arange(0, 256, 1);
    tg_tensor *picked = tg_index_select(table, 0, tg_reshape(u8, TG_SHAPE(-1)));
    tg_assert_values(picked, ((float[]){ 0, 255, 17, 128 }), 4, 0);
    tg_tensor *masked = tg_mul(tg_from_array(TG_SHAPE(3), (float[]){ 2, 3, 4 }), mask);
    tg_assert_values(masked, ((float[]){ 2, 0, 4 }), 3, 0);
    tg_assert_values(tg_one_hot(tg_slice(i32, 0, 2, 3, 1), 2), ((float[]){ 1, 0 }), 2, 0);
    tg_tensor_free(table);
    tg_safetensors_free(file);
}
