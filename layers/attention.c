#include "layers/attention.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "autograd/ops.h"
#include "layers/params.h"

tg_tensor *tg_scaled_dot_product_attention(tg_tensor *query, tg_tensor *key, tg_tensor *value,
                                           tg_tensor *mask, tg_tensor **weights)
{
    if (weights)
        *weights = NULL;
    if (!query || !key || !value)
        return tg_null_input("scaled_dot_product_attention");
    char sq[TG_SHAPE_STR_MAX], sk[TG_SHAPE_STR_MAX], sv[TG_SHAPE_STR_MAX];
    int last = query->ndim - 1;
    if (query->ndim < 2 || key->ndim < 2 || value->ndim < 2 || key->shape[key->ndim - 1] != query->shape[last] ||
        key->shape[key->ndim - 2] != value->shape[value->ndim - 2]) {
        tg_error_set("scaled_dot_product_attention: query %s, key %s, value %s: expected [..., Lq, D], "
                     "[..., Lk, D] and [..., Lk, Dv]",
                     tg_shape_format(sq, sizeof sq, query), tg_shape_format(sk, sizeof sk, key),
                     tg_shape_format(sv, sizeof sv, value));
        return NULL;
    }
    float scale = query->shape[last] > 0 ? 1.0f / sqrtf((float)query->shape[last]) : 1.0f;
    tg_tensor *scores = tg_mul_scalar(tg_matmul(query, tg_transpose(key, -1, -2)), scale);
    if (mask) /* the lowest float, not -Inf: exp of it is 0, and anomaly mode stays quiet */
        scores = tg_masked_fill(scores, mask, -FLT_MAX);
    tg_tensor *w = tg_softmax(scores, -1);
    if (weights)
        *weights = w;
    return tg_matmul(w, value);
}

tg_attention *tg_attention_new(tg_model *model, const char *prefix, tg_attention_config config)
{
    if (!model)
        return tg_null_input("attention_new");
    tg_attention_config c = config;
    c.heads = c.heads ? c.heads : 1;
    c.key = c.key ? c.key : c.embed;
    c.value = c.value ? c.value : c.embed;
    if (c.embed < 1 || c.heads < 1 || c.key < 1 || c.value < 1 || c.embed % c.heads != 0) {
        tg_error_set("attention_new: embed %lld, heads %lld, key %lld, value %lld: sizes must be positive "
                     "and heads must divide embed",
                     (long long)config.embed, (long long)config.heads, (long long)config.key,
                     (long long)config.value);
        return NULL;
    }
    tg_attention *att = calloc(1, sizeof *att);
    if (!att) {
        tg_error_set("attention_new: out of memory");
        return NULL;
    }
    att->config = c;
    int64_t e = c.embed;
    bool packed = c.key == e && c.value == e;
    const char *names[6];
    tg_shape shapes[6];
    tg_tensor *params[6] = { NULL };
    int n = 0;
    if (packed) {
        names[n] = "in_proj_weight";
        shapes[n++] = TG_SHAPE(3 * e, e);
    } else {
        names[n] = "q_proj_weight";
        shapes[n++] = TG_SHAPE(e, e);
        names[n] = "k_proj_weight";
        shapes[n++] = TG_SHAPE(e, c.key);
        names[n] = "v_proj_weight";
        shapes[n++] = TG_SHAPE(e, c.value);
    }
    names[n] = "out_proj.weight";
    shapes[n++] = TG_SHAPE(e, e);
    int weights = n;
    if (!c.no_bias) {
        names[n] = "in_proj_bias";
        shapes[n++] = TG_SHAPE(3 * e);
        names[n] = "out_proj.bias";
        shapes[n++] = TG_SHAPE(e);
    }
    if (tg_layer_add_parameters(model, "attention_new", prefix, n, names, shapes, params) != 0 ||
        tg_model_own(model, att, free) != 0) {
        free(att);
        return NULL;
    }
    if (packed) {
        att->in_proj_weight = params[0];
        tg_layer_init_uniform(model, params[0], sqrtf(6.0f / (float)(4 * e)));
    } else {
        att->q_proj_weight = params[0];
        att->k_proj_weight = params[1];
        att->v_proj_weight = params[2];
        tg_layer_init_uniform(model, params[0], sqrtf(6.0f / (float)(2 * e)));
        tg_layer_init_uniform(model, params[1], sqrtf(6.0f / (float)(e + c.key)));
        tg_layer_init_uniform(model, params[2], sqrtf(6.0f / (float)(e + c.value)));
    }
    att->out_proj_weight = params[weights - 1];
    tg_layer_init_uniform(model, att->out_proj_weight, 1.0f / sqrtf((float)e));
    att->in_proj_bias = params[weights];   /* zero-filled at registration */
    att->out_proj_bias = params[weights + 1];
    return att;
}

/* x [N, L, features] projected by part `which` (0 q, 1 k, 2 v) and split
 * into heads: [N, heads, L, E / heads]. */
static tg_tensor *project_heads(const tg_attention *att, tg_tensor *x, int which)
{
    int64_t e = att->config.embed, h = att->config.heads;
    tg_tensor *w = att->in_proj_weight ? tg_narrow(att->in_proj_weight, 0, which * e, e)
                                       : (which == 0 ? att->q_proj_weight
                                                     : which == 1 ? att->k_proj_weight : att->v_proj_weight);
    tg_tensor *b = att->in_proj_bias ? tg_narrow(att->in_proj_bias, 0, which * e, e) : NULL;
    tg_tensor *y = tg_affine(x, w, b);
    return y ? tg_permute(tg_reshape(y, TG_SHAPE(y->shape[0], y->shape[1], h, e / h)), (int[]){ 0, 2, 1, 3 })
             : NULL;
}

/* m as float32 (masks may be int64, as read from a file). */
static tg_tensor *float_mask(tg_tensor *m) { return m->dtype == TG_INT64 ? tg_to_dtype(m, TG_FLOAT32) : m; }

/* The masks as one [N, 1 or heads, Lq, Lk] tensor (nonzero = hidden), or
 * NULL with no error when there is none; *failed on an error. */
static tg_tensor *combined_mask(const tg_attention *att, const tg_attention_masks *masks, int64_t n, int64_t lq,
                                int64_t lk, bool *failed)
{
    *failed = false;
    if (!masks || (!masks->key_padding && !masks->attn))
        return NULL;
    char shape[TG_SHAPE_STR_MAX];
    int64_t h = att->config.heads;
    tg_tensor *padding = NULL, *attn = NULL;
    if (masks->key_padding) {
        tg_tensor *m = masks->key_padding;
        if (m->ndim != 2 || m->shape[0] != n || m->shape[1] != lk) {
            tg_error_set("attention: key_padding mask %s: expected [%lld, %lld] (N, Lk)",
                         tg_shape_format(shape, sizeof shape, m), (long long)n, (long long)lk);
            *failed = true;
            return NULL;
        }
        padding = tg_ne_scalar(tg_reshape(float_mask(m), TG_SHAPE(n, 1, 1, lk)), 0.0f);
    }
    if (masks->attn) {
        tg_tensor *m = masks->attn;
        bool shared = m->ndim == 2 && m->shape[0] == lq && m->shape[1] == lk;
        bool per_head = m->ndim == 3 && m->shape[0] == n * h && m->shape[1] == lq && m->shape[2] == lk;
        if (!shared && !per_head) {
            tg_error_set("attention: attn mask %s: expected [%lld, %lld] (Lq, Lk) or [%lld, %lld, %lld] "
                         "(N * heads, Lq, Lk)",
                         tg_shape_format(shape, sizeof shape, m), (long long)lq, (long long)lk,
                         (long long)(n * h), (long long)lq, (long long)lk);
            *failed = true;
            return NULL;
        }
        m = float_mask(m);
        attn = tg_ne_scalar(shared ? m : tg_reshape(m, TG_SHAPE(n, h, lq, lk)), 0.0f);
    }
    tg_tensor *mask = padding && attn ? tg_maximum(padding, attn) : (padding ? padding : attn);
    *failed = mask == NULL;
    return mask;
}

tg_tensor *tg_attention_forward(const tg_attention *att, tg_tensor *query, tg_tensor *key, tg_tensor *value,
                                const tg_attention_masks *masks, tg_tensor **weights)
{
    if (weights)
        *weights = NULL;
    if (!att || !query || !key || !value)
        return tg_null_input("attention_forward");
    const tg_attention_config *c = &att->config;
    int bdim = c->batch_first ? 0 : 1, ldim = 1 - bdim;
    bool fits = query->ndim == 3 && key->ndim == 3 && value->ndim == 3 && query->shape[2] == c->embed &&
                key->shape[2] == c->key && value->shape[2] == c->value &&
                key->shape[bdim] == query->shape[bdim] && value->shape[bdim] == query->shape[bdim] &&
                key->shape[ldim] == value->shape[ldim];
    if (!fits) {
        char sq[TG_SHAPE_STR_MAX], sk[TG_SHAPE_STR_MAX], sv[TG_SHAPE_STR_MAX];
        tg_error_set("attention: query %s, key %s, value %s: expected %s with %lld, %lld and %lld features",
                     tg_shape_format(sq, sizeof sq, query), tg_shape_format(sk, sizeof sk, key),
                     tg_shape_format(sv, sizeof sv, value),
                     c->batch_first ? "[N, Lq, E], [N, Lk, key], [N, Lk, value]"
                                    : "[Lq, N, E], [Lk, N, key], [Lk, N, value]",
                     (long long)c->embed, (long long)c->key, (long long)c->value);
        return NULL;
    }
    if (!c->batch_first) { /* the heads' products want batch first */
        query = tg_transpose(query, 0, 1);
        key = tg_transpose(key, 0, 1);
        value = tg_transpose(value, 0, 1);
    }
    int64_t n = query->shape[0], lq = query->shape[1], lk = key->shape[1];
    bool failed;
    tg_tensor *mask = combined_mask(att, masks, n, lq, lk, &failed);
    if (failed)
        return NULL;
    tg_tensor *w;
    tg_tensor *context = tg_scaled_dot_product_attention(project_heads(att, query, 0), project_heads(att, key, 1),
                                                         project_heads(att, value, 2), mask, &w);
    /* [N, heads, Lq, E / heads] -> [N, Lq, E] */
    context = tg_reshape(tg_permute(context, (int[]){ 0, 2, 1, 3 }), TG_SHAPE(n, lq, c->embed));
    tg_tensor *out = tg_affine(context, att->out_proj_weight, att->out_proj_bias);
    if (!c->batch_first)
        out = tg_contiguous(tg_transpose(out, 0, 1));
    if (out && weights)
        *weights = tg_mean(w, TG_AXES(1), false);
    return out;
}
