// Q8_K activation quantization and the scalar K-quant dot products.
// The dot products are the specification the SIMD versions are tested
// against: exact integer sums per sub-block, scaled once per block.
#include "kquants_internal.h"
#include <math.h>

// Round to nearest, ties to even, as ggml's nearest_int does (adding 1.5*2^23
// pushes the fraction out of the mantissa). Valid for |v| < 2^22; Q8_K only
// passes values within ±127.
static inline int nearest_int(float v) {
    float shifted = v + 12582912.f;
    int32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    return (bits & 0x007fffff) - 0x00400000;
}

void moe_quantize_q8_K(const float *x, void *y, int64_t n) {
    moe_block_q8_K *blocks = (moe_block_q8_K *)y;
    for (int64_t i = 0; i < n / MOE_QK_K; i++, x += MOE_QK_K) {
        moe_block_q8_K *b = &blocks[i];
        // The value with the largest magnitude (first one on ties) maps to -127.
        float max = 0, amax = 0;
        for (int j = 0; j < MOE_QK_K; j++) {
            const float ax = fabsf(x[j]);
            if (ax > amax) { amax = ax; max = x[j]; }
        }
        if (amax == 0) {
            // ggml leaves bsums untouched here; zero is what they must be.
            memset(b, 0, sizeof *b);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < MOE_QK_K; j++) {
            const int v = nearest_int(iscale * x[j]);
            b->qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < MOE_QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += b->qs[16 * j + l];
            b->bsums[j] = (int16_t)sum;
        }
        b->d = 1 / iscale;
    }
}

// Sum of q[l] * a[l] over a run of len weights held as plain ints.
static inline int32_t int_dot(const int8_t *q, const int8_t *a, int len) {
    int32_t sum = 0;
    for (int l = 0; l < len; l++) sum += q[l] * a[l];
    return sum;
}

float moe_dot_q4_K_q8_K_ref(const void *x, const void *y, int64_t n) {
    const moe_block_q4_K *xb = (const moe_block_q4_K *)x;
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;
    float sum = 0;
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        uint8_t sc[8], mn[8];
        moe_kq_unpack_scales_mins(xb[i].scales, sc, mn);
        int8_t q[MOE_QK_K];
        for (int j = 0; j < 4; j++) {
            for (int l = 0; l < 32; l++) {
                q[64 * j + l] = (int8_t)(xb[i].qs[32 * j + l] & 0x0f);
                q[64 * j + 32 + l] = (int8_t)(xb[i].qs[32 * j + l] >> 4);
            }
        }
        // x = d*sc*q - dmin*mn, so x.a = d*Σ sc·(q.a) - dmin*Σ mn·(Σ a).
        int32_t scaled = 0, mins = 0;
        for (int s = 0; s < 8; s++) {
            scaled += sc[s] * int_dot(q + 32 * s, yb[i].qs + 32 * s, 32);
            mins += mn[s] * (yb[i].bsums[2 * s] + yb[i].bsums[2 * s + 1]);
        }
        const float d = moe_kq_half_to_float(xb[i].d) * yb[i].d;
        const float dmin = moe_kq_half_to_float(xb[i].dmin) * yb[i].d;
        sum += d * (float)scaled - dmin * (float)mins;
    }
    return sum;
}

float moe_dot_q5_K_q8_K_ref(const void *x, const void *y, int64_t n) {
    const moe_block_q5_K *xb = (const moe_block_q5_K *)x;
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;
    float sum = 0;
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        uint8_t sc[8], mn[8];
        moe_kq_unpack_scales_mins(xb[i].scales, sc, mn);
        int8_t q[MOE_QK_K];
        for (int j = 0; j < 4; j++) {
            for (int l = 0; l < 32; l++) {
                const uint8_t h = xb[i].qh[l] >> (2 * j);
                q[64 * j + l] = (int8_t)((xb[i].qs[32 * j + l] & 0x0f) | ((h & 1) << 4));
                q[64 * j + 32 + l] = (int8_t)((xb[i].qs[32 * j + l] >> 4) | ((h & 2) << 3));
            }
        }
        int32_t scaled = 0, mins = 0;
        for (int s = 0; s < 8; s++) {
            scaled += sc[s] * int_dot(q + 32 * s, yb[i].qs + 32 * s, 32);
            mins += mn[s] * (yb[i].bsums[2 * s] + yb[i].bsums[2 * s + 1]);
        }
        const float d = moe_kq_half_to_float(xb[i].d) * yb[i].d;
        const float dmin = moe_kq_half_to_float(xb[i].dmin) * yb[i].d;
        sum += d * (float)scaled - dmin * (float)mins;
    }
    return sum;
}

float moe_dot_q6_K_q8_K_ref(const void *x, const void *y, int64_t n) {
    const moe_block_q6_K *xb = (const moe_block_q6_K *)x;
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;
    float sum = 0;
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        int8_t q[MOE_QK_K];
        for (int half = 0; half < 2; half++) {
            const uint8_t *ql = xb[i].ql + 64 * half;
            const uint8_t *qh = xb[i].qh + 32 * half;
            int8_t *out = q + 128 * half;
            for (int l = 0; l < 32; l++) {
                out[l] = (int8_t)(((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32);
                out[l + 32] = (int8_t)(((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32);
                out[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                out[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
        }
        int32_t scaled = 0;
        for (int s = 0; s < 16; s++) {
            scaled += xb[i].scales[s] * int_dot(q + 16 * s, yb[i].qs + 16 * s, 16);
        }
        sum += moe_kq_half_to_float(xb[i].d) * yb[i].d * (float)scaled;
    }
    return sum;
}
