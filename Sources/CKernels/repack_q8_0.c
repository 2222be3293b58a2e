// Q8_0 weights in the eight-row layout (repack_q8_0.h): the repack made at
// load, its inverse, the row lookup and the scalar reference for products
// in that layout.

#include "ck_internal.h"
#include "x8_q8_0_reference.h"

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
                // eight values at a time, made unsigned by flipping each byte's top bit
                for (int p = 0; p < 4; p++) {
                    uint64_t q;
                    memcpy(&q, in->qs + 8 * p, 8);
                    q ^= 0x8080808080808080ull;
                    memcpy(out->qs + 64 * p + 8 * r, &q, 8);
                }
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
                for (int v = 0; v < MOE_QK; v++) out->qs[v] = (int8_t)(in->qs[64 * (v / 8) + 8 * r + v % 8] ^ 0x80);
            }
        }
    }
}

// Value v (0…31) of row r in `blk`, signed as stored in ggml's block.
static inline int ck_q8_0x8_value(const moe_block_q8_0x8 *blk, int r, int v) {
    return (int8_t)(blk->qs[64 * (v / 8) + 8 * r + v % 8] ^ 0x80);
}

void moe_dequant_row_q8_0_x8(const void *x, int64_t row, float *y, int64_t n) {
    const int64_t nb = n / MOE_QK;
    const moe_block_q8_0x8 *g = (const moe_block_q8_0x8 *)x + row / 8 * nb;
    const int r = (int)(row % 8);
    for (int64_t i = 0; i < nb; i++, y += MOE_QK) {
        const float d = ck_half(g[i].d[r]);
        for (int v = 0; v < MOE_QK; v++) y[v] = (float)ck_q8_0x8_value(&g[i], r, v) * d;
    }
}

static int ck_q8_0x8_signed(const void *group, int r, int v) { return ck_q8_0x8_value(group, r, v); }

// Bit for bit moe_dot_q8_0_q8_0_ref per row (x8_q8_0_reference.h).
void moe_gemm_q8_0x8_q8_0_ref(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                              float *out, size_t out_stride, int64_t n) {
    ck_x8_q8_0_gemm_ref(x, rows, y, y_stride, m, out, out_stride, n, sizeof(moe_block_q8_0x8), ck_q8_0x8_signed);
}
