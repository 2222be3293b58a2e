// Q4_1 weights repacked at load time, eight rows interleaved (the "x8"
// layout), and the scalar reference for products in that layout.
//
// Group k holds weight rows 8k…8k+7. Its block i (moe_block_q4_1x8, 160
// bytes, the same as eight ggml blocks) holds the eight rows' d, then their
// m, then their nibble bytes in 4-byte pieces: bytes 32g+4r…32g+4r+3 are
// bytes qs[4g…4g+3] of row r (g = 0…3). A 32-byte load of piece g is then
// values 4g…4g+3 (low nibbles) and 16+4g… (high nibbles) of all eight rows,
// and one activation group broadcast to every dword lines up with all eight:
// a vector multiply serves eight weight rows and needs no horizontal sum.
// Group k starts 8k rows into the ggml layout's bytes, so splitting a
// matrix into runs of whole groups splits the bytes as the ggml layout does.

#include "ck_internal.h"

_Static_assert(sizeof(moe_block_q4_1x8) == 8 * sizeof(moe_block_q4_1), "block_q4_1x8 must be 160 bytes");

void moe_repack_q4_1_x8(const void *src, void *dst, int64_t rows, int64_t n) {
    const int64_t nb = n / MOE_QK;
    const moe_block_q4_1 *a = src;
    moe_block_q4_1x8 *b = dst;
    for (int64_t k = 0; k < rows / 8; k++) {
        for (int64_t i = 0; i < nb; i++) {
            moe_block_q4_1x8 *out = &b[k * nb + i];
            for (int r = 0; r < 8; r++) {
                const moe_block_q4_1 *in = &a[(8 * k + r) * nb + i];
                out->d[r] = in->d;
                out->m[r] = in->m;
                for (int g = 0; g < 4; g++) memcpy(out->qs + 32 * g + 4 * r, in->qs + 4 * g, 4);
            }
        }
    }
}

void moe_unpack_q4_1_x8(const void *src, void *dst, int64_t rows, int64_t n) {
    const int64_t nb = n / MOE_QK;
    const moe_block_q4_1x8 *a = src;
    moe_block_q4_1 *b = dst;
    for (int64_t k = 0; k < rows / 8; k++) {
        for (int64_t i = 0; i < nb; i++) {
            const moe_block_q4_1x8 *in = &a[k * nb + i];
            for (int r = 0; r < 8; r++) {
                moe_block_q4_1 *out = &b[(8 * k + r) * nb + i];
                out->d = in->d[r];
                out->m = in->m[r];
                for (int g = 0; g < 4; g++) memcpy(out->qs + 4 * g, in->qs + 32 * g + 4 * r, 4);
            }
        }
    }
}

// Value v (0…31) of row r in block `blk`: the nibble pair of byte v mod 16.
static inline int ck_x8_value(const moe_block_q4_1x8 *blk, int r, int v) {
    const int byte = v & 15;
    const uint8_t q = blk->qs[32 * (byte / 4) + 4 * r + byte % 4];
    return v < 16 ? (q & 0x0f) : (q >> 4);
}

// Per block and row the integer sum and the float terms of
// moe_dot_q4_1_q8_1_ref, in the same order, so the two agree exactly.
void moe_gemm_q4_1x8_q8_1_ref(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                              float *out, size_t out_stride, int64_t n) {
    const int64_t nb = n / MOE_QK;
    const moe_block_q4_1x8 *a = x;
    for (int64_t k = 0; k < rows / 8; k++) {
        for (int64_t j = 0; j < m; j++) {
            const moe_block_q8_1 *b = (const moe_block_q8_1 *)((const uint8_t *)y + (size_t)j * y_stride);
            for (int r = 0; r < 8; r++) {
                float sum = 0.0f;
                for (int64_t i = 0; i < nb; i++) {
                    const moe_block_q4_1x8 *blk = &a[k * nb + i];
                    int sumi = 0;
                    for (int v = 0; v < MOE_QK; v++) sumi += ck_x8_value(blk, r, v) * b[i].qs[v];
                    sum += (ck_half(blk->d[r]) * ck_half(b[i].d)) * (float)sumi + ck_half(blk->m[r]) * ck_half(b[i].s);
                }
                out[(size_t)j * out_stride + (size_t)(8 * k + r)] = sum;
            }
        }
    }
}
