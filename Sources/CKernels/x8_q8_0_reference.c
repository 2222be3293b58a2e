// The eight-row layouts' reference product against q8_0 activations
// (x8_q8_0_reference.h).

#include "x8_q8_0_reference.h"
#include "ck_internal.h"

void ck_x8_q8_0_gemm_ref(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m, float *out,
                         size_t out_stride, int64_t n, size_t group_bytes, ck_x8_value_fn value) {
    const int64_t nb = n / MOE_QK;
    const uint8_t *a = x;
    for (int64_t k = 0; k < rows / 8; k++)
        for (int64_t j = 0; j < m; j++) {
            const moe_block_q8_0 *b = (const moe_block_q8_0 *)((const uint8_t *)y + (size_t)j * y_stride);
            for (int r = 0; r < 8; r++) {
                float sum = 0.0f;
                for (int64_t i = 0; i < nb; i++) {
                    const uint8_t *group = a + (size_t)(k * nb + i) * group_bytes;
                    uint16_t d;
                    memcpy(&d, group + 2 * r, sizeof d);  // the block's d[r]
                    int sumi = 0;
                    for (int v = 0; v < MOE_QK; v++) sumi += value(group, r, v) * b[i].qs[v];
                    sum += (float)sumi * (ck_half(d) * ck_half(b[i].d));
                }
                out[(size_t)j * out_stride + (size_t)(8 * k + r)] = sum;
            }
        }
}
