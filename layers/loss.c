#include "layers/loss.h"

#include <math.h>

#include "autograd/ops.h"
#include "tensor/kernel.h"
#include "tensor/reference.h"

static tg_tensor *reduce(tg_tensor *loss, tg_reduction reduction)
{
    if (reduction == TG_REDUCTION_SUM)
        return tg_sum_all(loss);
    return reduction == TG_REDUCTION_NONE ? loss : tg_mean_all(loss);
}

static int check_reduction(tg_reduction reduction, const char *op)
{
    if (reduction < TG_REDUCTION_MEAN || reduction > TG_REDUCTION_NONE)
        return tg_error_set("%s: unknown reduction %d", op, (int)reduction);
    return 0;
}

static int check_same_shape(const tg_tensor *input, const tg_tensor *target, const char *op)
{
    if (tg_tensor_same_shape(input, target))
        return 0;
    char si[TG_SHAPE_STR_MAX], st[TG_SHAPE_STR_MAX];
    return tg_error_set("%s: input %s and target %s: shapes differ", op,
                        tg_shape_format(si, sizeof si, input), tg_shape_format(st, sizeof st, target));
}

/* ---- Regression ------------------------------------------------------------------- */

tg_tensor *tg_mse_loss(tg_tensor *input, tg_tensor *target, tg_reduction reduction)
{
    if (!input || !target)
        return tg_null_input("mse_loss");
    if (check_same_shape(input, target, "mse_loss") != 0 ||
        check_reduction(reduction, "mse_loss") != 0)
        return NULL;
    return reduce(tg_square(tg_sub(input, target)), reduction);
}

tg_tensor *tg_l1_loss(tg_tensor *input, tg_tensor *target, tg_reduction reduction)
{
    if (!input || !target)
        return tg_null_input("l1_loss");
    if (check_same_shape(input, target, "l1_loss") != 0 ||
        check_reduction(reduction, "l1_loss") != 0)
        return NULL;
    return reduce(tg_abs(tg_sub(input, target)), reduction);
}

tg_tensor *tg_huber_loss(tg_tensor *input, tg_tensor *target, float delta, tg_reduction reduction)
{
    if (!input || !target)
        return tg_null_input("huber_loss");
    if (check_same_shape(input, target, "huber_loss") != 0 ||
        check_reduction(reduction, "huber_loss") != 0)
        return NULL;
    if (!(delta > 0.0f)) {
        tg_error_set("huber_loss: delta %g must be positive", (double)delta);
        return NULL;
    }
    tg_tensor *diff = tg_sub(input, target);
    tg_tensor *distance = tg_abs(diff);
    tg_tensor *quadratic = tg_mul_scalar(tg_square(diff), 0.5f);
    tg_tensor *linear = tg_mul_scalar(tg_sub_scalar(distance, 0.5f * delta), delta);
    return reduce(tg_where(tg_lt_scalar(distance, delta), quadratic, linear), reduction);
}

/* ---- Classification -------------------------------------------------------------------- */

/* What class_loss gathers with: the class of each target (0 where it is
 * ignored), and with an ignore_index, 1 where it counts and 0 elsewhere. */
typedef struct targets {
    tg_tensor *index; /* int64, the target's shape */
    tg_tensor *kept;  /* float32, or NULL without an ignore_index */
    int64_t counted;  /* targets not ignored */
} targets;

/* Checks target's shape ([...] for scores [..., C]) and values (int64, or
 * float32 holding whole numbers), and makes what class_loss gathers with. */
static int read_targets(const tg_tensor *scores, const tg_tensor *target,
                        const tg_class_loss_config *c, const char *op, targets *out)
{
    char ss[TG_SHAPE_STR_MAX], st[TG_SHAPE_STR_MAX];
    tg_shape expected = tg_tensor_shape(scores);
    expected.ndim--;
    if (scores->ndim < 1 || !tg_shape_equal(expected, tg_tensor_shape(target)))
        return tg_error_set("%s: scores %s and target %s: the target must have the scores' shape "
                            "without the last (class) axis", op,
                            tg_shape_format(ss, sizeof ss, scores),
                            tg_shape_format(st, sizeof st, target));
    int64_t classes = scores->shape[scores->ndim - 1];
    tg_tensor *values = tg_view_contiguous(target);
    out->index = tg_empty_dtype(tg_tensor_shape(target), TG_INT64);
    out->kept = c->use_ignore_index ? tg_empty(tg_tensor_shape(target)) : NULL;
    if (!values || !out->index || (c->use_ignore_index && !out->kept))
        return -1;
    out->counted = 0;
    for (int64_t i = 0; i < values->numel; i++) {
        bool whole = values->dtype == TG_INT64 || values->data[i] == floorf(values->data[i]);
        /* A float beyond int64's range is no class either way. */
        int64_t v = values->dtype == TG_INT64 ? values->i64[i]
                  : whole && fabsf(values->data[i]) < 0x1p62f ? (int64_t)values->data[i] : -1;
        bool ignored = c->use_ignore_index && whole && v == c->ignore_index;
        if (!ignored && !(whole && v >= 0 && v < classes)) {
            if (values->dtype == TG_INT64)
                return tg_error_set("%s: scores %s: target %lld at position %lld is not a class "
                                    "index in [0, %lld)", op, tg_shape_format(ss, sizeof ss, scores),
                                    (long long)v, (long long)i, (long long)classes);
            return tg_error_set("%s: scores %s: target %g at position %lld is not a class index in "
                                "[0, %lld)", op, tg_shape_format(ss, sizeof ss, scores),
                                (double)values->data[i], (long long)i, (long long)classes);
        }
        out->index->i64[i] = ignored ? 0 : v;
        if (out->kept)
            out->kept->data[i] = ignored ? 0.0f : 1.0f;
        out->counted += !ignored;
    }
    return 0;
}

/* The loss over scores [..., C]: log-probabilities already (nll_loss), or
 * logits whose log_softmax is taken here (cross_entropy). */
static tg_tensor *class_loss(tg_tensor *scores, bool are_log_probs, tg_tensor *target,
                             const tg_class_loss_config *config, const char *op)
{
    const tg_class_loss_config defaults = { 0 };
    const tg_class_loss_config *c = config ? config : &defaults;
    targets t = { 0 };
    if (check_reduction(c->reduction, op) != 0 || read_targets(scores, target, c, op, &t) != 0)
        return NULL;
    float s = c->label_smoothing;
    if (!(s >= 0.0f && s <= 1.0f)) {
        tg_error_set("%s: label smoothing %g is outside [0, 1]", op, (double)s);
        return NULL;
    }
    int last = scores->ndim - 1;
    /* Ignored targets read class 0, then count for nothing. */
    tg_tensor *kept = t.kept;
    /* Each row's log-probability of its class: from logits in one fused op
     * unless every log-probability is needed (label smoothing sums them);
     * the reference mode keeps the plain composition. */
    tg_tensor *log_probs = are_log_probs ? scores : NULL, *picked;
    if (!log_probs && s == 0.0f && !tg_reference_mode()) {
        picked = tg_log_softmax_pick(scores, t.index);
    } else {
        log_probs = log_probs ? log_probs : tg_log_softmax(scores, -1);
        picked = tg_squeeze(tg_gather(log_probs, last, tg_unsqueeze(t.index, -1)), -1);
    }
    tg_tensor *loss = tg_mul_scalar(picked, -(1.0f - s));
    if (s > 0.0f) {
        float per_class = s / (float)scores->shape[last];
        loss = tg_sub(loss, tg_mul_scalar(tg_sum(log_probs, TG_AXES(last), false), per_class));
    }
    if (!kept)
        return reduce(loss, c->reduction);
    loss = tg_mul(loss, kept);
    if (c->reduction != TG_REDUCTION_MEAN)
        return reduce(loss, c->reduction);
    return tg_div_scalar(tg_sum_all(loss), (float)t.counted);
}

tg_tensor *tg_cross_entropy(tg_tensor *logits, tg_tensor *target, const tg_class_loss_config *config)
{
    if (!logits || !target)
        return tg_null_input("cross_entropy");
    if (logits->ndim < 1) {
        tg_error_set("cross_entropy: logits must have a class axis, got a scalar");
        return NULL;
    }
    return class_loss(logits, false, target, config, "cross_entropy");
}

tg_tensor *tg_nll_loss(tg_tensor *log_probs, tg_tensor *target, const tg_class_loss_config *config)
{
    if (!log_probs || !target)
        return tg_null_input("nll_loss");
    if (config && config->label_smoothing != 0.0f) {
        tg_error_set("nll_loss: label smoothing applies to cross_entropy only");
        return NULL;
    }
    return class_loss(log_probs, true, target, config, "nll_loss");
}

/* ---- Binary ----------------------------------------------------------------------------------- */

tg_tensor *tg_bce_with_logits(tg_tensor *logits, tg_tensor *target, const tg_bce_config *config)
{
    const tg_bce_config defaults = { 0 };
    const tg_bce_config *c = config ? config : &defaults;
    const char *op = "bce_with_logits";
    if (!logits || !target)
        return tg_null_input(op);
    if (check_same_shape(logits, target, op) != 0 ||
        check_reduction(c->reduction, op) != 0)
        return NULL;
    tg_tensor *pos = c->pos_weight;
    tg_shape joint;
    if (pos && !tg_broadcast_shapes(tg_tensor_shape(pos), tg_tensor_shape(logits), &joint, op))
        return NULL;
    if (pos && !tg_shape_equal(joint, tg_tensor_shape(logits))) {
        char sl[TG_SHAPE_STR_MAX], sp[TG_SHAPE_STR_MAX];
        tg_error_set("%s: logits %s and pos_weight %s: pos_weight must broadcast to the logits",
                     op, tg_shape_format(sl, sizeof sl, logits), tg_shape_format(sp, sizeof sp, pos));
        return NULL;
    }
    /* (1 - y) x + w softplus(-x), with w = 1 + (p - 1) y, or 1 */
    tg_tensor *negative = tg_mul(tg_scalar_sub(1.0f, target), logits);
    tg_tensor *positive = tg_softplus(tg_neg(logits));
    if (pos)
        positive = tg_mul(tg_add_scalar(tg_mul(tg_sub_scalar(pos, 1.0f), target), 1.0f), positive);
    return reduce(tg_add(negative, positive), c->reduction);
}
