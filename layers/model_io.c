/* Model checkpoints: a model's named parameters handed to io/safetensors,
 * and loaded back after checking names and shapes. */
#include "layers/model_io.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/rnn.h"

int tg_model_save_with(const tg_model *model, const char *path, const tg_named_tensor *extra,
                       int n_extra, const tg_string_pair *metadata, int n_metadata)
{
    if (!model || !path || (n_extra > 0 && !extra) || (n_metadata > 0 && !metadata))
        return tg_error_null_input("model_save");
    if (n_extra < 0 || n_metadata < 0)
        return tg_error_set("model_save: %s: negative count of extra tensors (%d) or metadata (%d)",
                            path, n_extra, n_metadata);
    int n_own = tg_model_metadata_count(model);
    for (int i = 0; i < n_metadata; i++)
        for (int j = 0; j < n_own; j++)
            if (metadata[i].key && strcmp(metadata[i].key, tg_model_metadata_key(model, j)) == 0)
                return tg_error_set("model_save: %s: the metadata key \"%s\" is the model's own",
                                    path, metadata[i].key);
    int n_params = tg_model_parameter_count(model), n_int8 = tg_model_quantized_count(model);
    int n_model = n_params + 2 * n_int8, n = n_model + n_extra;
    int n_pairs = n_own + n_metadata;
    tg_named_tensor *all = malloc((size_t)(n > 0 ? n : 1) * sizeof *all);
    tg_safetensors_dtype *as = calloc((size_t)(n > 0 ? n : 1), sizeof *as);
    tg_string_pair *pairs = malloc((size_t)(n_pairs > 0 ? n_pairs : 1) * sizeof *pairs);
    /* Each int8 weight is two tensors: its values (I8) and "<name>.scale". */
    tg_tensor **int8 = calloc((size_t)(2 * n_int8 + 1), sizeof *int8);
    char (*scale_names)[TG_NAME_MAX + 8] = malloc((size_t)(n_int8 + 1) * sizeof *scale_names);
    int status = all && as && pairs && int8 && scale_names
                     ? 0 : tg_error_set("model_save: %s: out of memory", path);
    for (int i = 0; status == 0 && i < n_int8; i++) {
        const tg_qweight *q = tg_model_quantized(model, i);
        const char *name = tg_model_quantized_name(model, i);
        int8[2 * i] = tg_qweight_values(q);
        int8[2 * i + 1] = tg_qweight_scales(q);
        if (!int8[2 * i] || !int8[2 * i + 1])
            status = -1;
        snprintf(scale_names[i], sizeof scale_names[i], "%s%s", name, TG_QWEIGHT_SCALE_SUFFIX);
        all[n_params + 2 * i] = (tg_named_tensor){ name, int8[2 * i] };
        as[n_params + 2 * i] = TG_SAFETENSORS_I8;
        all[n_params + 2 * i + 1] = (tg_named_tensor){ scale_names[i], int8[2 * i + 1] };
    }
    if (status == 0) {
        for (int i = 0; i < n_params; i++)
            all[i] = (tg_named_tensor){ tg_model_parameter_name(model, i), tg_model_parameter(model, i) };
        for (int i = 0; i < n_extra; i++)
            all[n_model + i] = extra[i];
        for (int i = 0; i < n_own; i++)
            pairs[i] = (tg_string_pair){ tg_model_metadata_key(model, i),
                                         tg_model_metadata_value(model, i) };
        for (int i = 0; i < n_metadata; i++)
            pairs[n_own + i] = metadata[i];
        status = tg_safetensors_save_as(path, all, as, n, pairs, n_pairs);
    }
    for (int i = 0; int8 && i < 2 * n_int8; i++)
        tg_tensor_free(int8[i]);
    free(int8);
    free(scale_names);
    free(all);
    free(as);
    free(pairs);
    return status;
}

int tg_model_save(const tg_model *model, const char *path)
{
    return tg_model_save_with(model, path, NULL, 0, NULL, 0);
}

/* Text appended to a fixed buffer, ending in "..." once it is full. */
typedef struct text {
    char *buffer;
    size_t size, used;
} text;

static void append(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(text *t, const char *fmt, ...)
{
    if (t->used + 1 >= t->size)
        return;
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(t->buffer + t->used, t->size - t->used, fmt, args);
    va_end(args);
    if (n >= 0 && (size_t)n < t->size - t->used) {
        t->used += (size_t)n;
        return;
    }
    t->used = t->size - 1;
    if (t->size > 4)
        memcpy(t->buffer + t->size - 4, "...", 4);
}

/* Appends name to the list `kind`, opening the list at its first name. */
static void list_name(text *t, int *count, const char *kind, const char *name)
{
    char quoted[TG_ESCAPE_MAX];
    tg_escape(quoted, sizeof quoted, name);
    if ((*count)++ == 0)
        append(t, "%s%s: %s", t->used ? "; " : "", kind, quoted);
    else
        append(t, ", %s", quoted);
}

static bool is_extra(const char *name, const char *extra_prefix)
{
    return extra_prefix && extra_prefix[0] &&
           strncmp(name, extra_prefix, strlen(extra_prefix)) == 0;
}

/* The int8 weight whose scales are called name ("<weight>.scale"), or NULL. */
static const tg_qweight *scale_owner(const tg_model *model, const char *name)
{
    size_t length = strlen(name), suffix = strlen(TG_QWEIGHT_SCALE_SUFFIX);
    char weight[TG_NAME_MAX];
    if (length <= suffix || length - suffix >= TG_NAME_MAX ||
        strcmp(name + length - suffix, TG_QWEIGHT_SCALE_SUFFIX) != 0)
        return NULL;
    memcpy(weight, name, length - suffix);
    weight[length - suffix] = '\0';
    return tg_model_find_quantized(model, weight);
}

/* The int8 weight at index i as stored in the file: its values and scales,
 * NULL when absent. */
static void stored_int8(const tg_model *model, const tg_safetensors *file, int i,
                        const tg_tensor **values, const tg_tensor **scale)
{
    char name[TG_NAME_MAX + 8];
    snprintf(name, sizeof name, "%s%s", tg_model_quantized_name(model, i), TG_QWEIGHT_SCALE_SUFFIX);
    *values = tg_safetensors_get(file, tg_model_quantized_name(model, i));
    *scale = tg_safetensors_get(file, name);
}

/* True when the file's int8 weight i fits the model's: values int64 (I8
 * in files this writes) [rows, cols], scales float32 [rows]. */
static bool int8_fits(const tg_qweight *q, const tg_tensor *values, const tg_tensor *scale)
{
    return values->dtype == TG_INT64 && values->ndim == 2 && values->shape[0] == q->rows &&
           values->shape[1] == q->cols && scale->dtype == TG_FLOAT32 && scale->ndim == 1 &&
           scale->shape[0] == q->rows;
}

/* Compares the file's names, shapes and dtypes with the model's, filling report. */
static void compare(const tg_model *model, const tg_safetensors *file, const char *extra_prefix,
                    tg_load_report *report)
{
    text details = { report->details, sizeof report->details, 0 };
    report->details[0] = '\0';
    int n_params = tg_model_parameter_count(model), n_int8 = tg_model_quantized_count(model);
    for (int i = 0; i < n_params; i++)
        if (!tg_safetensors_get(file, tg_model_parameter_name(model, i)))
            list_name(&details, &report->missing, "missing", tg_model_parameter_name(model, i));
    for (int i = 0; i < n_int8; i++) {
        const tg_tensor *values, *scale;
        stored_int8(model, file, i, &values, &scale);
        if (!values)
            list_name(&details, &report->missing, "missing", tg_model_quantized_name(model, i));
    }
    for (int i = 0; i < tg_safetensors_count(file); i++) {
        const char *name = tg_safetensors_name(file, i);
        if (!is_extra(name, extra_prefix) && !tg_model_find(model, name) &&
            !tg_model_find_quantized(model, name) && !scale_owner(model, name))
            list_name(&details, &report->unexpected, "unexpected", name);
    }
    for (int i = 0; i < n_params; i++) {
        const tg_tensor *param = tg_model_parameter(model, i);
        const tg_tensor *stored = tg_safetensors_get(file, tg_model_parameter_name(model, i));
        if (!stored || (tg_tensor_same_shape(param, stored) && stored->dtype == param->dtype))
            continue;
        char in_file[TG_SHAPE_STR_MAX], in_model[TG_SHAPE_STR_MAX];
        list_name(&details, &report->mismatched, "mismatched", tg_model_parameter_name(model, i));
        tg_shape_format(in_file, sizeof in_file, stored);
        tg_shape_format(in_model, sizeof in_model, param);
        if (stored->dtype == param->dtype)
            append(&details, " %s in the file, %s in the model", in_file, in_model);
        else
            append(&details, " %s %s in the file, %s %s in the model%s", tg_dtype_name(stored->dtype),
                   in_file, tg_dtype_name(param->dtype), in_model,
                   stored->dtype == TG_INT64 ? " (int8 weights: quantise the model before loading)"
                                             : "");
    }
    for (int i = 0; i < n_int8; i++) {
        const tg_qweight *q = tg_model_quantized(model, i);
        const tg_tensor *values, *scale;
        stored_int8(model, file, i, &values, &scale);
        if (!values || (scale && int8_fits(q, values, scale)))
            continue;
        char in_file[TG_SHAPE_STR_MAX];
        list_name(&details, &report->mismatched, "mismatched", tg_model_quantized_name(model, i));
        append(&details, " %s %s%s in the file, int8 [%lld,%lld] in the model%s",
               tg_dtype_name(values->dtype), tg_shape_format(in_file, sizeof in_file, values),
               scale || values->dtype != TG_INT64 ? "" : " without its .scale",
               (long long)q->rows, (long long)q->cols,
               values->dtype == TG_FLOAT32 ? " (float weights: load them before quantising)" : "");
    }
}

/* The values and scales of every int8 weight the file holds, checked
 * before anything is loaded. */
static int check_int8_values(const tg_model *model, const tg_safetensors *file)
{
    for (int i = 0; i < tg_model_quantized_count(model); i++) {
        const tg_qweight *q = tg_model_quantized(model, i);
        const tg_tensor *values, *scale;
        stored_int8(model, file, i, &values, &scale);
        if (!values || !scale || !int8_fits(q, values, scale))
            continue;
        char op[TG_NAME_MAX + 256];
        char quoted[TG_ESCAPE_MAX];
        snprintf(op, sizeof op, "model_load: %s: int8 weight \"%s\"", tg_safetensors_path(file),
                 tg_escape(quoted, sizeof quoted, tg_model_quantized_name(model, i)));
        if (tg_qweight_check(q, values, scale, op) != 0)
            return -1;
    }
    return 0;
}

/* True when the file holds a tensor of the layer at prefix ("prefix." + name). */
static bool holds_layer(const tg_safetensors *file, const char *prefix)
{
    size_t length = strlen(prefix);
    for (int i = 0; i < tg_safetensors_count(file); i++) {
        const char *name = tg_safetensors_name(file, i);
        if (length == 0 || (strncmp(name, prefix, length) == 0 && name[length] == '.'))
            return true;
    }
    return false;
}

static const char *gru_setting(const char *name)
{
    return strcmp(name, tg_gru_formulation_name(TG_GRU_PYTORCH)) == 0 ? "TG_GRU_PYTORCH"
                                                                      : "TG_GRU_SEED";
}

/* Each GRU of the model against the formulation the file records for it
 * (see TG_LOAD_ANY_GRU in layers/model_io.h). */
static int check_gru_formulations(const tg_model *model, const tg_safetensors *file)
{
    const char *pytorch = tg_gru_formulation_name(TG_GRU_PYTORCH);
    size_t key_prefix = strlen(TG_GRU_METADATA_PREFIX);
    for (int i = 0; i < tg_model_metadata_count(model); i++) {
        const char *key = tg_model_metadata_key(model, i);
        if (strncmp(key, TG_GRU_METADATA_PREFIX, key_prefix) != 0)
            continue;
        const char *gru = key + key_prefix, *want = tg_model_metadata_value(model, i);
        const char *have = tg_safetensors_metadata(file, key);
        if (have && strcmp(have, want) == 0)
            continue;
        if (!have && (strcmp(want, pytorch) == 0 || !holds_layer(file, gru)))
            continue;
        if (!have)
            return tg_error_set(
                "model_load: %s: the file does not record the formulation of the GRU \"%s\", as "
                "a torch.nn.GRU checkpoint does not, but the model's has .gru = %s: for "
                "torch.nn.GRU weights create it with .gru = TG_GRU_PYTORCH (or load with "
                "TG_LOAD_ANY_GRU to take the weights as they are)",
                tg_safetensors_path(file), gru, gru_setting(want));
        if (strcmp(have, pytorch) != 0 && strcmp(have, tg_gru_formulation_name(TG_GRU_SEED)) != 0) {
            char quoted[TG_ESCAPE_MAX];
            return tg_error_set("model_load: %s: the GRU \"%s\" has the formulation \"%s\" in "
                                "the file, which is neither \"seed\" nor \"pytorch\"",
                                tg_safetensors_path(file), gru, tg_escape(quoted, sizeof quoted, have));
        }
        return tg_error_set("model_load: %s: the GRU \"%s\" was saved with .gru = %s, but the "
                            "model's has .gru = %s: create it with .gru = %s (or load with "
                            "TG_LOAD_ANY_GRU to take the weights as they are)",
                            tg_safetensors_path(file), gru, gru_setting(have), gru_setting(want),
                            gru_setting(have));
    }
    return 0;
}

int tg_model_check_file(const tg_model *model, const tg_safetensors *file, tg_load_mode mode,
                        const char *extra_prefix, tg_load_report *report)
{
    if (!model || !file)
        return tg_error_null_input("model_check_file");
    tg_load_report local;
    if (!report)
        report = &local;
    *report = (tg_load_report){ 0 };
    compare(model, file, extra_prefix, report);
    if (!(mode & TG_LOAD_RELAXED) && (report->missing || report->unexpected || report->mismatched))
        return tg_error_set("model_load: %s: the checkpoint does not match the model: %s",
                            tg_safetensors_path(file), report->details);
    if (!(mode & TG_LOAD_ANY_GRU) && check_gru_formulations(model, file) != 0)
        return -1;
    return check_int8_values(model, file);
}

int tg_model_load_from(tg_model *model, const tg_safetensors *file, tg_load_mode mode,
                       const char *extra_prefix, tg_load_report *report)
{
    if (!model || !file)
        return tg_error_null_input("model_load_from");
    tg_load_report local;
    if (!report)
        report = &local;
    if (tg_model_check_file(model, file, mode, extra_prefix, report) != 0)
        return -1;
    /* Everything is checked: the copies below cannot fail. */
    for (int i = 0; i < tg_model_parameter_count(model); i++) {
        tg_tensor *param = tg_model_parameter(model, i);
        const tg_tensor *stored = tg_safetensors_get(file, tg_model_parameter_name(model, i));
        if (stored && tg_tensor_same_shape(param, stored) && stored->dtype == param->dtype) {
            tg_tensor_copy_(param, stored);
            report->loaded++;
        }
    }
    for (int i = 0; i < tg_model_quantized_count(model); i++) {
        tg_qweight *q = tg_model_quantized(model, i);
        const tg_tensor *values, *scale;
        stored_int8(model, file, i, &values, &scale);
        if (values && scale && int8_fits(q, values, scale)) {
            tg_qweight_assign(q, values, scale, "model_load");
            report->loaded++;
        }
    }
    return 0;
}

int tg_model_load(tg_model *model, const char *path, tg_load_mode mode, tg_load_report *report)
{
    if (!model || !path)
        return tg_error_null_input("model_load");
    if (report)
        *report = (tg_load_report){ 0 };
    tg_safetensors *file = tg_safetensors_load(path);
    if (!file)
        return -1;
    int status = tg_model_load_from(model, file, mode, NULL, report);
    tg_safetensors_free(file);
    return status;
}
