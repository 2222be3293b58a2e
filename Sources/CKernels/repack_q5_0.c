// Q5_0 weights in the eight-row layout (repack_q5_0.h): the repack made at
// load, its inverse, and the scalar reference for products in that layout.

#include "ck_internal.h"
#include "x8_q8_0_reference.h"

_Static_assert(sizeof(moe_block_q5_0x8) == 8 * sizeof(moe_block_q5_0), "block_q5_0x8 must be 176 bytes");

void moe_repack_q5_0_x8(const void *src, void *dst, int64_t rows, int64_t n) {
    const int64_t nb = n / MOE_QK;
    const moe_block_q5_0 *a = src;
    moe_block_q5_0x8 *b = dst;
    for (int64_t k = 0; k < rows / 8; k++) {
        for (int64_t i = 0; i < nb; i++) {
            moe_block_q5_0x8 *out = &b[k * nb + i];
            uint8_t masks[4][8];
            for (int r = 0; r < 8; r++) {
                const moe_block_q5_0 *in = &a[(8 * k + r) * nb + i];
                out->d[r] = in->d;
                for (int p = 0; p < 4; p++) masks[p][r] = in->qh[p];
                for (int h = 0; h < 2; h++) memcpy(out->qs + 64 * h + 8 * r, in->qs + 8 * h, 8);
            }
            memcpy(out->hmask, masks, sizeof masks);
        }
    }
}

void moe_unpack_q5_0_x8(const void *src, void *dst, int64_t rows, int64_t n) {
    const int64_t nb = n / MOE_QK;
    const moe_block_q5_0x8 *a = src;
    moe_block_q5_0 *b = dst;
    for (int64_t k = 0; k < rows / 8; k++) {
        for (int64_t i = 0; i < nb; i++) {
            const moe_block_q5_0x8 *in = &a[k * nb + i];
            uint8_t masks[4][8];
            memcpy(masks, in->hmask, sizeof masks);
            for (int r = 0; r < 8; r++) {
                moe_block_q5_0 *out = &b[(8 * k + r) * nb + i];
                out->d = in->d[r];
                for (int p = 0; p < 4; p++) out->qh[p] = masks[p][r];
                for (int h = 0; h < 2; h++) memcpy(out->qs + 8 * h, in->qs + 64 * h + 8 * r, 8);
            }
        }
    }
}

// Value v (0…31) of row r in `blk`, as the unsigned 5-bit u = q + 16.
static inline int ck_q5_0x8_value(const moe_block_q5_0x8 *blk, int r, int v) {
    const int byte = v & 15;
    const uint8_t q = blk->qs[64 * (byte / 8) + 8 * r + byte % 8];
    const int nibble = v < 16 ? (q & 0x0f) : (q >> 4);
    uint8_t mask[4][8];
    memcpy(mask, blk->hmask, sizeof mask);
    return nibble | ((mask[v / 8][r] >> (v % 8)) & 1) << 4;
}

static int ck_q5_0x8_signed(const void *group, int r, int v) { return ck_q5_0x8_value(group, r, v) - 16; }

// Bit for bit moe_dot_q5_0_q8_0_ref per row (x8_q8_0_reference.h).
void moe_gemm_q5_0x8_q8_0_ref(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                              float *out, size_t out_stride, int64_t n) {
    ck_x8_q8_0_gemm_ref(x, rows, y, y_stride, m, out, out_stride, n, sizeof(moe_block_q5_0x8), ck_q5_0x8_signed);
}
