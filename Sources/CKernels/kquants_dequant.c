// Scalar dequantization of K-quant blocks, bit-exact with ggml's
// dequantize_row_q{2,3,4,5,6}_K: the same float operations in the same order.
#include "kquants_internal.h"

// A fused multiply-add would round once instead of twice and break
// bit-exactness with ggml (and with numpy's gguf.quants).
#pragma clang fp contract(off)

void moe_dequant_q4_K(const void *x, float *y, int64_t n) {
    const moe_block_q4_K *blocks = (const moe_block_q4_K *)x;
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        const moe_block_q4_K *b = &blocks[i];
        const float d = moe_kq_half_to_float(b->d);
        const float dmin = moe_kq_half_to_float(b->dmin);
        uint8_t sc[8], mn[8];
        moe_kq_unpack_scales_mins(b->scales, sc, mn);
        // Each 32-byte run of qs holds two sub-blocks: low nibbles then high.
        for (int j = 0; j < 4; j++) {
            const uint8_t *q = b->qs + 32 * j;
            const float d1 = d * sc[2 * j], m1 = dmin * mn[2 * j];
            const float d2 = d * sc[2 * j + 1], m2 = dmin * mn[2 * j + 1];
            for (int l = 0; l < 32; l++) y[l] = d1 * (q[l] & 0x0f) - m1;
            for (int l = 0; l < 32; l++) y[32 + l] = d2 * (q[l] >> 4) - m2;
            y += 64;
        }
    }
}

void moe_dequant_q5_K(const void *x, float *y, int64_t n) {
    const moe_block_q5_K *blocks = (const moe_block_q5_K *)x;
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        const moe_block_q5_K *b = &blocks[i];
        const float d = moe_kq_half_to_float(b->d);
        const float dmin = moe_kq_half_to_float(b->dmin);
        uint8_t sc[8], mn[8];
        moe_kq_unpack_scales_mins(b->scales, sc, mn);
        // Sub-block s takes its fifth bit from bit s of every qh byte.
        for (int j = 0; j < 4; j++) {
            const uint8_t *q = b->qs + 32 * j;
            const uint8_t bit_lo = (uint8_t)(1u << (2 * j));
            const uint8_t bit_hi = (uint8_t)(2u << (2 * j));
            const float d1 = d * sc[2 * j], m1 = dmin * mn[2 * j];
            const float d2 = d * sc[2 * j + 1], m2 = dmin * mn[2 * j + 1];
            for (int l = 0; l < 32; l++) {
                y[l] = d1 * ((q[l] & 0x0f) + ((b->qh[l] & bit_lo) ? 16 : 0)) - m1;
            }
            for (int l = 0; l < 32; l++) {
                y[32 + l] = d2 * ((q[l] >> 4) + ((b->qh[l] & bit_hi) ? 16 : 0)) - m2;
            }
            y += 64;
        }
    }
}

void moe_dequant_q6_K(const void *x, float *y, int64_t n) {
    const moe_block_q6_K *blocks = (const moe_block_q6_K *)x;
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        const moe_block_q6_K *b = &blocks[i];
        const float d = moe_kq_half_to_float(b->d);
        // Two halves of 128: ql[64] gives low nibbles of 4 runs of 32,
        // qh[32] gives their top two bits (2 bits per run per byte).
        for (int half = 0; half < 2; half++) {
            const uint8_t *ql = b->ql + 64 * half;
            const uint8_t *qh = b->qh + 32 * half;
            const int8_t *sc = b->scales + 8 * half;
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[is + 0] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
            y += 128;
        }
    }
}

void moe_dequant_q8_K(const void *x, float *y, int64_t n) {
    const moe_block_q8_K *blocks = (const moe_block_q8_K *)x;
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        for (int l = 0; l < MOE_QK_K; l++) *y++ = blocks[i].d * blocks[i].qs[l];
    }
}

void moe_dequant_q2_K(const void *x, float *y, int64_t n) {
    const moe_block_q2_K *blocks = (const moe_block_q2_K *)x;
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        const moe_block_q2_K *b = &blocks[i];
        const float d = moe_kq_half_to_float(b->d);
        const float dmin = moe_kq_half_to_float(b->dmin);
        int is = 0;
        // Two halves of 128; each qs byte carries 4 weights, one per 2-bit
        // lane, and lane k of a 32-byte run is sub-blocks (2k, 2k+1).
        for (int half = 0; half < 2; half++) {
            const uint8_t *q = b->qs + 32 * half;
            for (int shift = 0; shift < 8; shift += 2) {
                for (int part = 0; part < 2; part++) {
                    const uint8_t sc = b->scales[is++];
                    const float dl = d * (sc & 0x0f), ml = dmin * (sc >> 4);
                    for (int l = 0; l < 16; l++) {
                        *y++ = dl * ((q[16 * part + l] >> shift) & 3) - ml;
                    }
                }
            }
        }
    }
}

// Q3_K's 16 six-bit scales: low 4 bits in bytes 0-7 (two per byte, scales
// 0-7 in low nibbles, 8-15 in high), top 2 bits in bytes 8-11.
static void unpack_q3_K_scales(const uint8_t packed[12], int scales[16]) {
    for (int j = 0; j < 16; j++) {
        const int low = (j < 8) ? (packed[j] & 0x0f) : (packed[j - 8] >> 4);
        const int high = (packed[8 + (j % 4)] >> (2 * (j / 4))) & 3;
        scales[j] = (low | (high << 4)) - 32;
    }
}

void moe_dequant_q3_K(const void *x, float *y, int64_t n) {
    const moe_block_q3_K *blocks = (const moe_block_q3_K *)x;
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        const moe_block_q3_K *b = &blocks[i];
        const float d = moe_kq_half_to_float(b->d);
        int scales[16];
        unpack_q3_K_scales(b->scales, scales);
        int is = 0;
        uint8_t mask = 1;
        // Like Q2_K, plus a third bit from hmask; a clear bit means minus 4.
        for (int half = 0; half < 2; half++) {
            const uint8_t *q = b->qs + 32 * half;
            for (int shift = 0; shift < 8; shift += 2, mask <<= 1) {
                for (int part = 0; part < 2; part++) {
                    const float dl = d * scales[is++];
                    for (int l = 0; l < 16; l++) {
                        const int k = 16 * part + l;
                        const int low = (q[k] >> shift) & 3;
                        *y++ = dl * (low - ((b->hmask[k] & mask) ? 0 : 4));
                    }
                }
            }
        }
    }
}
