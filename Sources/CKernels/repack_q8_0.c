// Q8_0 weights repacked at load time, eight rows interleaved (the x8
// layout, as repack_q4_1.c does for Q4_1), the inverse of one row for
// embedding lookups, and the scalar reference for products in that layout.
//
// Group k holds weight rows 8k…8k+7. Its block i (moe_block_q8_0x8, 272
// bytes, the same as eight ggml blocks) holds the eight rows' d, then their
// values in 4-byte pieces: bytes 32g+4r…32g+4r+3 are values 4g…4g+3 of row
// r (g = 0…7). A 32-byte load of piece g is values 4g…4g+3 of all eight
// rows, against which one activation group broadcast to every dword lines up.

#include "ck_internal.h"

_Static_assert(sizeof(moe_block_q8_0x8) == 8 * sizeof(moe_block_q8_0), "block_q8_0x8 must be 272 bytes");

void moe_repack_q8_0_x8(const void *src, void *dst, int64_t rows, int64_t n) {
    const int64_t nb = n / MOE_QK;
    const moe_block_q8_0 *a = src;
    moe_block_q8_0x8 *b = dst;
    for (int64_t k = 0; k < rows / 8; k++) {
        for (int64_t i = 0; i < nb; i++) {
            moe_block_q8_0x8 *out = &b[k * nb + i];
            for (int r = 0; r < 8; r++) {
                const moe_block_q8_0 *in = &a[(8 * k + r) * nb + i];
                out->d[r] = in->d;
                for (int g = 0; g < 8; g++) memcpy(out->qs + 32 * g + 4 * r, in->qs + 4 * g, 4);
            }
        }
    }
}

void moe_unpack_q8_0_x8(const void *src, void *dst, int64_t rows, int64_t n) {
    const int64_t nb = n / MOE_QK;
    const moe_block_q8_0x8 *a = src;
    moe_block_q8_0 *b = dst;
    for (int64_t k = 0; k < rows / 8; k++) {
        for (int64_t i = 0; i < nb; i++) {
            const moe_block_q8_0x8 *in = &a[k * nb + i];
            for (int r = 0; r < 8; r++) {
                moe_block_q8_0 *out = &b[(8 * k + r) * nb + i];
                out->d = in->d[r];
                for (int g = 0; g < 8; g++) memcpy(out->qs + 4 * g, in->qs + 32 * g + 4 * r, 4);
            }
        }
    }
}

// Row `row` of a repacked matrix dequantized, as moe_dequant_q8_0 would the
// original row (group row / 8, lane row % 8): the embedding lookup of an
// output projection tied with the token embedding reads its rows from here.
void moe_dequant_row_q8_0_x8(const void *src, int64_t row, float *y, int64_t n) {
    const int64_t nb = n / MOE_QK;
    const moe_block_q8_0x8 *a = (const moe_block_q8_0x8 *)src + (row / 8) * nb;
    const int r = (int)(row % 8);
    for (int64_t i = 0; i < nb; i++) {
        const float d = ck_half(a[i].d[r]);
        for (int v = 0; v < MOE_QK; v++) y[i * MOE_QK + v] = (float)a[i].qs[32 * (v / 4) + 4 * r + v % 4] * d;
    }
}

// Per block and row the integer sum and the float terms of
// moe_dot_q8_0_q8_0_ref, in the same order, so the two agree exactly.
void moe_gemm_q8_0x8_q8_0_ref(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                              float *out, size_t out_stride, int64_t n) {
    const int64_t nb = n / MOE_QK;
    const moe_block_q8_0x8 *a = x;
    for (int64_t k = 0; k < rows / 8; k++) {
        for (int64_t j = 0; j < m; j++) {
            const moe_block_q8_0 *b = (const moe_block_q8_0 *)((const uint8_t *)y + (size_t)j * y_stride);
            for (int r = 0; r < 8; r++) {
                float sum = 0.0f;
                for (int64_t i = 0; i < nb; i++) {
                    const moe_block_q8_0x8 *blk = &a[k * nb + i];
                    int sumi = 0;
                    for (int v = 0; v < MOE_QK; v++) sumi += blk->qs[32 * (v / 4) + 4 * r + v % 4] * b[i].qs[v];
                    sum += (float)sumi * (ck_half(blk->d[r]) * ck_half(b[i].d));
                }
                out[(size_t)j * out_stride + (size_t)(8 * k + r)] = sum;
            }
        }
    }
}
