// The K-quant eight-row layouts' inverse and reference product
// (kx8_reference.h).

#include "kx8_reference.h"
#include "kquants.h"

enum { CK_KX8_ROW_MAX = 256 };  // bytes of the largest K-quant block
_Static_assert(sizeof(moe_block_q6_K) <= CK_KX8_ROW_MAX && sizeof(moe_block_q5_K) <= CK_KX8_ROW_MAX,
               "a K-quant block fits the row buffer");

void ck_kx8_unpack(const void *src, void *dst, int64_t rows, int64_t n, size_t block_bytes, ck_kx8_row_fn row) {
    const int64_t nb = n / MOE_QK_K;
    const uint8_t *a = src;
    uint8_t *b = dst;
    for (int64_t k = 0; k < rows / 8; k++)
        for (int64_t i = 0; i < nb; i++)
            for (int r = 0; r < 8; r++)
                row(a + (size_t)(k * nb + i) * 8 * block_bytes, r, b + (size_t)((8 * k + r) * nb + i) * block_bytes);
}

void ck_kx8_gemm_ref(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m, float *out,
                     size_t out_stride, int64_t n, size_t block_bytes, ck_kx8_row_fn row, ck_kx8_dot_fn dot) {
    const int64_t nb = n / MOE_QK_K;
    const uint8_t *a = x;
    _Alignas(64) uint8_t block[CK_KX8_ROW_MAX];
    for (int64_t k = 0; k < rows / 8; k++)
        for (int64_t j = 0; j < m; j++) {
            const moe_block_q8_K *b = (const moe_block_q8_K *)((const uint8_t *)y + (size_t)j * y_stride);
            for (int r = 0; r < 8; r++) {
                float sum = 0.0f;
                for (int64_t i = 0; i < nb; i++) {
                    row(a + (size_t)(k * nb + i) * 8 * block_bytes, r, block);
                    sum += dot(block, &b[i], MOE_QK_K);
                }
                out[(size_t)j * out_stride + (size_t)(8 * k + r)] = sum;
            }
        }
}
