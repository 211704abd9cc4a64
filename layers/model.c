#include "layers/model.h"

#include <stdlib.h>
#include <string.h>

#include "autograd/autograd.h"
#include "tensor/kernel.h"

typedef struct parameter {
    char name[TG_NAME_MAX];
    tg_tensor *tensor;
} parameter;

#define METADATA_KEY_MAX (TG_NAME_MAX + 32)
#define METADATA_VALUE_MAX 32

typedef struct metadata_entry {
    char key[METADATA_KEY_MAX];
    char value[METADATA_VALUE_MAX];
} metadata_entry;

typedef struct owned_object {
    void *object;
    void (*free_fn)(void *);
    int (*quantize)(tg_model *, void *); /* or NULL: see tg_quantize_dynamic */
} owned_object;

typedef struct quantized_weight {
    char name[TG_NAME_MAX];
    tg_qweight *weight;
} quantized_weight;

struct tg_model {
    parameter *params;
    int n_params, params_capacity;
    /* Hash index of the names: a parameter's position, or -1 for an empty
     * slot; n_slots is a power of two, more than twice params_capacity. */
    int *slots;
    size_t n_slots;
    owned_object *objects;
    int n_objects, objects_capacity;
    metadata_entry *metadata;
    int n_metadata, metadata_capacity;
    quantized_weight *quantized;
    int n_quantized, quantized_capacity;
    uint64_t parameters_removed; /* tg_model_parameters_removed */
    bool training;
    tg_rng rng;
};

tg_model *tg_model_new(uint64_t seed)
{
    tg_model *model = calloc(1, sizeof *model);
    if (!model) {
        tg_error_set("model_new: out of memory");
        return NULL;
    }
    model->training = true;
    tg_rng_seed(&model->rng, seed);
    return model;
}

void tg_model_free(tg_model *model)
{
    if (!model)
        return;
    /* Objects first, newest first: a layer may refer to older ones. */
    for (int i = model->n_objects - 1; i >= 0; i--)
        model->objects[i].free_fn(model->objects[i].object);
    for (int i = 0; i < model->n_params; i++)
        tg_tensor_free(model->params[i].tensor);
    for (int i = 0; i < model->n_quantized; i++)
        tg_qweight_free(model->quantized[i].weight);
    free(model->quantized);
    free(model->objects);
    free(model->metadata);
    free(model->params);
    free(model->slots);
    free(model);
}

/* Grows an array of `size`-byte items to hold one more. */
static int reserve_one(void **items, int count, int *capacity, size_t size, const char *op)
{
    if (count < *capacity)
        return 0;
    int grown = *capacity ? *capacity * 2 : 16;
    void *p = realloc(*items, size * (size_t)grown);
    if (!p)
        return tg_error_set("%s: out of memory", op);
    *items = p;
    *capacity = grown;
    return 0;
}

/* FNV-1a. */
static uint64_t hash_name(const char *s)
{
    uint64_t h = 14695981039346656037u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The slot of name: where its parameter's position is, or the empty slot
 * it would take. */
static size_t find_slot(const tg_model *model, const char *name)
{
    size_t mask = model->n_slots - 1, i = hash_name(name) & mask;
    while (model->slots[i] >= 0 && strcmp(model->params[model->slots[i]].name, name) != 0)
        i = (i + 1) & mask;
    return i;
}

/* Makes room for one more parameter, in the array and in the index. */
static int reserve_parameter(tg_model *model)
{
    int capacity = model->params_capacity;
    if (reserve_one((void **)&model->params, model->n_params, &model->params_capacity,
                    sizeof(parameter), "model_add_parameter") != 0)
        return -1;
    if (model->slots && capacity == model->params_capacity)
        return 0;
    size_t n_slots = 16;
    while (n_slots <= 2 * (size_t)model->params_capacity)
        n_slots *= 2;
    int *slots = malloc(n_slots * sizeof *slots);
    if (!slots)
        return tg_error_set("model_add_parameter: out of memory");
    memset(slots, 0xff, n_slots * sizeof *slots); /* every slot -1 */
    free(model->slots);
    model->slots = slots;
    model->n_slots = n_slots;
    for (int i = 0; i < model->n_params; i++)
        slots[find_slot(model, model->params[i].name)] = i;
    return 0;
}

int tg_model_join_name(char *out, const char *prefix, const char *name)
{
    if (!out || !name)
        return tg_error_null_input("model_join_name");
    int n = prefix && prefix[0] ? snprintf(out, TG_NAME_MAX, "%s.%s", prefix, name)
                                : snprintf(out, TG_NAME_MAX, "%s", name);
    if (n < 0 || n >= TG_NAME_MAX)
        return tg_error_set("model: the name \"%s.%s\" is longer than %d characters",
                            prefix ? prefix : "", name, TG_NAME_MAX - 1);
    return 0;
}

tg_tensor *tg_model_add_parameter(tg_model *model, const char *name, tg_shape shape)
{
    if (!model || !name)
        return tg_null_input("model_add_parameter");
    size_t length = strlen(name);
    if (length == 0 || length >= TG_NAME_MAX) {
        tg_error_set("model_add_parameter: the name \"%s\" must have 1 to %d characters", name,
                     TG_NAME_MAX - 1);
        return NULL;
    }
    if (tg_model_find(model, name) || tg_model_find_quantized(model, name)) {
        tg_error_set("model_add_parameter: a parameter named \"%s\" already exists", name);
        return NULL;
    }
    int64_t numel = tg_shape_numel(shape, "model_add_parameter");
    if (numel < 0)
        return NULL;
    /* Every parameter has a gradient of its size after the first backward. */
    char what[TG_NAME_MAX + 64];
    snprintf(what, sizeof what, "the parameter \"%s\" and its gradient", name);
    if (tg_memory_check("model_add_parameter", what, 2.0 * (double)numel * sizeof(float)) != 0)
        return NULL;
    if (reserve_parameter(model) != 0)
        return NULL;
    tg_tensor *t = tg_tensor_zeros(shape);
    if (!t || tg_set_requires_grad(t, true) != 0) {
        tg_tensor_free(t);
        return NULL;
    }
    parameter *p = &model->params[model->n_params];
    memcpy(p->name, name, length + 1);
    p->tensor = t;
    model->slots[find_slot(model, name)] = model->n_params++;
    return t;
}

int tg_model_own_quantizable(tg_model *model, void *object, void (*free_fn)(void *),
                             int (*quantize)(tg_model *, void *))
{
    if (!model || !object || !free_fn)
        return -1;
    if (reserve_one((void **)&model->objects, model->n_objects, &model->objects_capacity,
                    sizeof(owned_object), "model_own") != 0)
        return -1;
    model->objects[model->n_objects++] = (owned_object){ object, free_fn, quantize };
    return 0;
}

int tg_model_own(tg_model *model, void *object, void (*free_fn)(void *))
{
    return tg_model_own_quantizable(model, object, free_fn, NULL);
}

int tg_quantize_dynamic(tg_model *model)
{
    if (!model)
        return tg_error_null_input("quantize_dynamic");
    for (int i = 0; i < model->n_objects; i++)
        if (model->objects[i].quantize &&
            model->objects[i].quantize(model, model->objects[i].object) != 0)
            return -1;
    model->training = false;
    return 0;
}

tg_qweight *tg_model_quantize_parameter(tg_model *model, const char *name, int64_t segment)
{
    if (!model || !name)
        return tg_null_input("model_quantize_parameter");
    int at = model->slots ? model->slots[find_slot(model, name)] : -1;
    if (at < 0) {
        tg_error_set("model_quantize_parameter: no float parameter is named \"%s\"%s", tg_quoted(name),
                     tg_model_find_quantized(model, name) ? " (it is int8 already)" : "");
        return NULL;
    }
    if (reserve_one((void **)&model->quantized, model->n_quantized, &model->quantized_capacity,
                    sizeof(quantized_weight), "model_quantize_parameter") != 0)
        return NULL;
    tg_qweight *weight = tg_qweight_quantize(model->params[at].tensor, segment);
    if (!weight)
        return NULL;
    quantized_weight *q = &model->quantized[model->n_quantized++];
    memcpy(q->name, name, strlen(name) + 1);
    q->weight = weight;
    /* The float parameter goes: later ones move down, and the index is rebuilt. */
    tg_tensor_free(model->params[at].tensor);
    memmove(model->params + at, model->params + at + 1,
            sizeof *model->params * (size_t)(model->n_params - at - 1));
    model->n_params--;
    model->parameters_removed++;
    memset(model->slots, 0xff, model->n_slots * sizeof *model->slots);
    for (int i = 0; i < model->n_params; i++)
        model->slots[find_slot(model, model->params[i].name)] = i;
    return weight;
}

int tg_model_quantized_count(const tg_model *model) { return model ? model->n_quantized : 0; }

const char *tg_model_quantized_name(const tg_model *model, int index)
{
    return model && index >= 0 && index < model->n_quantized ? model->quantized[index].name : NULL;
}

tg_qweight *tg_model_quantized(const tg_model *model, int index)
{
    return model && index >= 0 && index < model->n_quantized ? model->quantized[index].weight : NULL;
}

tg_qweight *tg_model_find_quantized(const tg_model *model, const char *name)
{
    if (!model || !name)
        return tg_null_input("model_find_quantized");
    for (int i = 0; i < model->n_quantized; i++)
        if (strcmp(model->quantized[i].name, name) == 0)
            return model->quantized[i].weight;
    return NULL;
}

int tg_model_parameter_count(const tg_model *model) { return model ? model->n_params : 0; }

uint64_t tg_model_parameters_removed(const tg_model *model) { return model ? model->parameters_removed : 0; }

const char *tg_model_parameter_name(const tg_model *model, int index)
{
    return model && index >= 0 && index < model->n_params ? model->params[index].name : NULL;
}

tg_tensor *tg_model_parameter(const tg_model *model, int index)
{
    return model && index >= 0 && index < model->n_params ? model->params[index].tensor : NULL;
}

tg_tensor *tg_model_find(const tg_model *model, const char *name)
{
    if (!model || !name)
        return tg_null_input("model_find");
    if (!model->slots)
        return NULL;
    int i = model->slots[find_slot(model, name)];
    return i >= 0 ? model->params[i].tensor : NULL;
}

int64_t tg_model_numel(const tg_model *model)
{
    int64_t total = 0;
    for (int i = 0; model && i < model->n_params; i++)
        total += model->params[i].tensor->numel;
    return total;
}

void tg_model_zero_grad(tg_model *model)
{
    for (int i = 0; model && i < model->n_params; i++)
        tg_zero_grad(model->params[i].tensor);
}

void tg_model_set_training(tg_model *model, bool training)
{
    if (model)
        model->training = training;
}

bool tg_model_training(const tg_model *model) { return model && model->training; }

tg_rng *tg_model_rng(tg_model *model) { return model ? &model->rng : NULL; }

int tg_model_set_metadata(tg_model *model, const char *key, const char *value)
{
    if (!model || !key || !value)
        return -1;
    size_t key_length = strlen(key), value_length = strlen(value);
    if (key_length == 0 || key_length >= METADATA_KEY_MAX || value_length >= METADATA_VALUE_MAX)
        return tg_error_set("model_set_metadata: the key \"%s\" must have 1 to %d characters and "
                            "its value at most %d", key, METADATA_KEY_MAX - 1,
                            METADATA_VALUE_MAX - 1);
    int at = 0;
    while (at < model->n_metadata && strcmp(model->metadata[at].key, key) != 0)
        at++;
    if (at == model->n_metadata) {
        if (reserve_one((void **)&model->metadata, model->n_metadata, &model->metadata_capacity,
                        sizeof(metadata_entry), "model_set_metadata") != 0)
            return -1;
        memcpy(model->metadata[at].key, key, key_length + 1);
        model->n_metadata++;
    }
    memcpy(model->metadata[at].value, value, value_length + 1);
    return 0;
}

int tg_model_metadata_count(const tg_model *model) { return model ? model->n_metadata : 0; }

const char *tg_model_metadata_key(const tg_model *model, int index)
{
    return model && index >= 0 && index < model->n_metadata ? model->metadata[index].key : NULL;
}

const char *tg_model_metadata_value(const tg_model *model, int index)
{
    return model && index >= 0 && index < model->n_metadata ? model->metadata[index].value : NULL;
}
