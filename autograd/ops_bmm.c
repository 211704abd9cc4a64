/* bmm (autograd/ops.h, "Matrix products"): tg_matmul with torch.bmm's
 * stricter shapes. */
#include "autograd/autograd.h"
#include "autograd/ops.h"

tg_tensor *tg_bmm(tg_tensor *a, tg_tensor *b)
{
    if (tg_check_inputs("bmm", 2, (tg_tensor *[]){ a, b }) != 0)
        return NULL;
    if (a->ndim != 3 || b->ndim != 3 || a->shape[0] != b->shape[0] || a->shape[2] != b->shape[1]) {
        char sa[TG_SHAPE_STR_MAX], sb[TG_SHAPE_STR_MAX];
        tg_error_set("bmm: %s x %s: expected [B, M, K] x [B, K, N] with one batch size B",
                     tg_shape_format(sa, sizeof sa, a), tg_shape_format(sb, sizeof sb, b));
        return NULL;
    }
    return tg_matmul(a, b);
}
