// Q4_K repacked eight rows at a time (layout: include/repack_q4_K.h) and
// the scalar reference product on that layout.
//
// The repack also moves each row's packed 6-bit scales and mins
// (12 bytes, ggml's packing) into sub-block-major order across the eight
// rows, so the kernel gets the eight rows' scale of one sub-block as eight
// consecutive bytes. 16 six-bit values a row use all 96 bits of ggml's 12
// bytes, so lo4 + hi2 (96 bytes for eight rows) hold the same bits and the
// unpack gives the original bytes back.

#include "repack_q4_K.h"
#include "kquants.h"
#include "kquants_internal.h"
#include <string.h>

_Static_assert(sizeof(moe_block_q4_Kx8) == 8 * sizeof(moe_block_q4_K), "block_q4_Kx8 must be 1152 bytes");

// ggml's 12-byte packing of 8 scales and 8 mins (the inverse of
// moe_kq_unpack_scales_mins).
static void ck_kq_pack_scales_mins(const uint8_t sc[8], const uint8_t mn[8], uint8_t packed[12]) {
    for (int j = 0; j < 4; j++) {
        packed[j] = (uint8_t)((sc[j] & 63) | (sc[j + 4] >> 4) << 6);
        packed[j + 4] = (uint8_t)((mn[j] & 63) | (mn[j + 4] >> 4) << 6);
        packed[j + 8] = (uint8_t)((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
    }
}

void moe_repack_q4_K_x8(const void *src, void *dst, int64_t rows, int64_t n) {
    const int64_t nb = n / MOE_QK_K;
    const moe_block_q4_K *a = src;
    moe_block_q4_Kx8 *b = dst;
    for (int64_t k = 0; k < rows / 8; k++) {
        for (int64_t i = 0; i < nb; i++) {
            moe_block_q4_Kx8 *out = &b[k * nb + i];
            uint8_t sc[64], mn[64];
            for (int r = 0; r < 8; r++) {
                const moe_block_q4_K *in = &a[(8 * k + r) * nb + i];
                out->d[r] = in->d;
                out->dmin[r] = in->dmin;
                uint8_t s8[8], m8[8];
                moe_kq_unpack_scales_mins(in->scales, s8, m8);
                for (int s = 0; s < 8; s++) { sc[8 * s + r] = s8[s]; mn[8 * s + r] = m8[s]; }
                for (int piece = 0; piece < 32; piece++) memcpy(out->qs + 32 * piece + 4 * r, in->qs + 4 * piece, 4);
            }
            for (int q = 0; q < 64; q++) out->lo4[q] = (uint8_t)((sc[q] & 15) | (mn[q] & 15) << 4);
            for (int q = 0; q < 32; q++)
                out->hi2[q] = (uint8_t)((sc[q] >> 4) | (mn[q] >> 4) << 2 | (sc[q + 32] >> 4) << 4 | (mn[q + 32] >> 4) << 6);
        }
    }
}

// Row r's scale (or min, with `min`) of sub-block s.
static inline uint8_t ck_kx8_scale(const moe_block_q4_Kx8 *blk, int s, int r, int min) {
    const int q = 8 * s + r;
    const int low = min ? blk->lo4[q] >> 4 : blk->lo4[q] & 15;
    const int high = (blk->hi2[q & 31] >> (2 * min + 4 * (q >> 5))) & 3;
    return (uint8_t)(low | high << 4);
}

// Row r of block `blk` as a ggml block.
static void ck_kx8_row(const moe_block_q4_Kx8 *blk, int r, moe_block_q4_K *out) {
    uint8_t sc[8], mn[8];
    for (int s = 0; s < 8; s++) { sc[s] = ck_kx8_scale(blk, s, r, 0); mn[s] = ck_kx8_scale(blk, s, r, 1); }
    out->d = blk->d[r];
    out->dmin = blk->dmin[r];
    ck_kq_pack_scales_mins(sc, mn, out->scales);
    for (int piece = 0; piece < 32; piece++) memcpy(out->qs + 4 * piece, blk->qs + 32 * piece + 4 * r, 4);
}

void moe_unpack_q4_K_x8(const void *src, void *dst, int64_t rows, int64_t n) {
    const int64_t nb = n / MOE_QK_K;
    const moe_block_q4_Kx8 *a = src;
    moe_block_q4_K *b = dst;
    for (int64_t k = 0; k < rows / 8; k++)
        for (int64_t i = 0; i < nb; i++)
            for (int r = 0; r < 8; r++) ck_kx8_row(&a[k * nb + i], r, &b[(8 * k + r) * nb + i]);
}

// Each block's term is moe_dot_q4_K_q8_K_ref on that one block (0 + term
// is the term exactly), summed in block order as the reference sums them,
// so the two agree bit for bit.
void moe_gemm_q4_Kx8_q8_K_ref(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                              float *out, size_t out_stride, int64_t n) {
    const int64_t nb = n / MOE_QK_K;
    const moe_block_q4_Kx8 *a = x;
    for (int64_t k = 0; k < rows / 8; k++)
        for (int64_t j = 0; j < m; j++) {
            const moe_block_q8_K *b = (const moe_block_q8_K *)((const uint8_t *)y + (size_t)j * y_stride);
            for (int r = 0; r < 8; r++) {
                float sum = 0.0f;
                for (int64_t i = 0; i < nb; i++) {
                    moe_block_q4_K row;
                    ck_kx8_row(&a[k * nb + i], r, &row);
                    sum += moe_dot_q4_K_q8_K_ref(&row, &b[i], MOE_QK_K);
                }
                out[(size_t)j * out_stride + (size_t)(8 * k + r)] = sum;
            }
        }
}
