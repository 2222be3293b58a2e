// Q4_K repacked eight rows at a time (layout: include/repack_q4_K.h) and
// the scalar reference product on that layout.
//
// The repack also moves each row's packed 6-bit scales and mins
// (12 bytes, ggml's packing) into sub-block-major order across the eight
// rows (kx8_scales.h), so the kernel gets the eight rows' scale of one
// sub-block as eight consecutive bytes.

#include "repack_q4_K.h"
#include "kquants.h"
#include "kquants_internal.h"
#include "kx8_scales.h"
#include "kx8_reference.h"
#include <string.h>

_Static_assert(sizeof(moe_block_q4_Kx8) == 8 * sizeof(moe_block_q4_K), "block_q4_Kx8 must be 1152 bytes");

void moe_repack_q4_K_x8(const void *src, void *dst, int64_t rows, int64_t n) {
    const int64_t nb = n / MOE_QK_K;
    const moe_block_q4_K *a = src;
    moe_block_q4_Kx8 *b = dst;
    for (int64_t k = 0; k < rows / 8; k++) {
        for (int64_t i = 0; i < nb; i++) {
            moe_block_q4_Kx8 *out = &b[k * nb + i];
            memset(out->lo4, 0, sizeof out->lo4);
            memset(out->hi2, 0, sizeof out->hi2);
            for (int r = 0; r < 8; r++) {
                const moe_block_q4_K *in = &a[(8 * k + r) * nb + i];
                out->d[r] = in->d;
                out->dmin[r] = in->dmin;
                ck_kx8_put_scales(in->scales, r, out->lo4, out->hi2);
                for (int piece = 0; piece < 32; piece++) memcpy(out->qs + 32 * piece + 4 * r, in->qs + 4 * piece, 4);
            }
        }
    }
}

// Row r of block `blk` as a ggml block.
static void ck_kx8_row(const void *group, int r, void *row) {
    const moe_block_q4_Kx8 *blk = group;
    moe_block_q4_K *out = row;
    out->d = blk->d[r];
    out->dmin = blk->dmin[r];
    ck_kx8_get_scales(blk->lo4, blk->hi2, r, out->scales);
    for (int piece = 0; piece < 32; piece++) memcpy(out->qs + 4 * piece, blk->qs + 32 * piece + 4 * r, 4);
}

void moe_unpack_q4_K_x8(const void *src, void *dst, int64_t rows, int64_t n) {
    ck_kx8_unpack(src, dst, rows, n, sizeof(moe_block_q4_K), ck_kx8_row);
}

// Bit for bit moe_dot_q4_K_q8_K_ref per row (kx8_reference.h).
void moe_gemm_q4_Kx8_q8_K_ref(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                              float *out, size_t out_stride, int64_t n) {
    ck_kx8_gemm_ref(x, rows, y, y_stride, m, out, out_stride, n, sizeof(moe_block_q4_K), ck_kx8_row, moe_dot_q4_K_q8_K_ref);
}
