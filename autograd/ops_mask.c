/* masked_fill (autograd/ops.h, "Masks"): a where() with x's shape kept. */
#include "autograd/autograd.h"
#include "autograd/ops.h"
#include "tensor/kernel.h"

tg_tensor *tg_masked_fill(tg_tensor *x, tg_tensor *mask, float value)
{
    if (tg_check_inputs("masked_fill", 2, (tg_tensor *[]){ x, mask }) != 0)
        return NULL;
    tg_shape shape;
    if (!tg_broadcast_shapes(tg_tensor_shape(x), tg_tensor_shape(mask), &shape, "masked_fill"))
        return NULL;
    if (!tg_shape_equal(shape, tg_tensor_shape(x))) {
        char sx[TG_SHAPE_STR_MAX], sm[TG_SHAPE_STR_MAX];
        tg_error_set("masked_fill: mask %s does not broadcast to the tensor's shape %s",
                     tg_shape_format(sm, sizeof sm, mask), tg_shape_format(sx, sizeof sx, x));
        return NULL;
    }
    /* An int64 mask (0/1 from a file, a comparison of ids) works as it is. */
    if (mask->dtype == TG_INT64)
        mask = tg_to_dtype(mask, TG_FLOAT32);
    return tg_where(mask, tg_full(TG_SCALAR, value), x);
}
