/* A program built against an installed tapegrad: a product, a gradient. */
#include <stdio.h>

#include <tapegrad.h>

int main(void)
{
    tg_tensor *a = tg_tensor_from_array(TG_SHAPE(2, 3), (float[]){ 1, 2, 3, 4, 5, 6 });
    tg_tensor *b = tg_tensor_from_array(TG_SHAPE(3, 2), (float[]){ 7, 8, 9, 10, 11, 12 });
    tg_set_requires_grad(a, true);
    tg_tensor *loss = tg_sum_all(tg_matmul(a, b));
    if (!loss || tg_backward(loss) != 0) {
        fprintf(stderr, "%s\n", tg_error_message());
        return 1;
    }
    /* sum(a @ b) = 58 + 64 + 139 + 154 = 415; d/da = ones @ b^T: b's row sums */
    float grad[6];
    tg_tensor_to_array(tg_grad(a), grad);
    printf("loss %g grad %g %g %g %g %g %g\n", tg_tensor_item(loss), grad[0], grad[1], grad[2], grad[3],
           grad[4], grad[5]);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_graph_release();
    return 0;
}
