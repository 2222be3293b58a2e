// Q6_K repacked eight rows at a time (layout: include/repack_q6_K.h) and
// the scalar reference product on that layout, which equals
// moe_dot_q6_K_q8_K_ref per row bit for bit (each block's term is that
// dot on the one block, summed in block order).

#include "repack_q6_K.h"
#include "kquants.h"
#include "kx8_reference.h"
#include <string.h>

_Static_assert(sizeof(moe_block_q6_Kx8) == 8 * sizeof(moe_block_q6_K), "block_q6_Kx8 must be 1680 bytes");

void moe_repack_q6_K_x8(const void *src, void *dst, int64_t rows, int64_t n) {
    const int64_t nb = n / MOE_QK_K;
    const moe_block_q6_K *a = src;
    moe_block_q6_Kx8 *b = dst;
    for (int64_t k = 0; k < rows / 8; k++)
        for (int64_t i = 0; i < nb; i++) {
            moe_block_q6_Kx8 *out = &b[k * nb + i];
            for (int r = 0; r < 8; r++) {
                const moe_block_q6_K *in = &a[(8 * k + r) * nb + i];
                out->d[r] = in->d;
                for (int s = 0; s < 16; s++) out->scales[8 * s + r] = in->scales[s];
                for (int t = 0; t < 16; t++) {
                    const int h = t / 8, p = t % 8;
                    memcpy(out->q[t][0] + 4 * r, in->ql + 64 * h + 4 * p, 4);
                    memcpy(out->q[t][1] + 4 * r, in->ql + 64 * h + 32 + 4 * p, 4);
                    memcpy(out->q[t][2] + 4 * r, in->qh + 4 * t, 4);
                }
            }
        }
}

static void ck_q6x8_row(const void *group, int r, void *row) {
    const moe_block_q6_Kx8 *blk = group;
    moe_block_q6_K *out = row;
    out->d = blk->d[r];
    for (int s = 0; s < 16; s++) out->scales[s] = blk->scales[8 * s + r];
    for (int t = 0; t < 16; t++) {
        const int h = t / 8, p = t % 8;
        memcpy(out->ql + 64 * h + 4 * p, blk->q[t][0] + 4 * r, 4);
        memcpy(out->ql + 64 * h + 32 + 4 * p, blk->q[t][1] + 4 * r, 4);
        memcpy(out->qh + 4 * t, blk->q[t][2] + 4 * r, 4);
    }
}

void moe_unpack_q6_K_x8(const void *src, void *dst, int64_t rows, int64_t n) {
    ck_kx8_unpack(src, dst, rows, n, sizeof(moe_block_q6_K), ck_q6x8_row);
}

void moe_gemm_q6_Kx8_q8_K_ref(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                              float *out, size_t out_stride, int64_t n) {
    ck_kx8_gemm_ref(x, rows, y, y_stride, m, out, out_stride, n, sizeof(moe_block_q6_K), ck_q6x8_row, moe_dot_q6_K_q8_K_ref);
}
