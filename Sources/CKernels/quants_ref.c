// Scalar references for the classic types: dequantization bit-exact with
// ggml's dequantize_row_*, activation quantization as ggml's
// quantize_row_*_ref, and dot products in ggml's order of operations. These
// are the specification the SIMD variants are tested against.

#include "ck_internal.h"
#include <math.h>

// ---- dequantize -------------------------------------------------------------

void moe_dequant_f32(const void *x, float *y, int64_t n) { memcpy(y, x, (size_t)n * sizeof(float)); }

void moe_dequant_f16(const void *x, float *y, int64_t n) {
    const uint16_t *h = x;
    for (int64_t i = 0; i < n; i++) y[i] = ck_half(h[i]);
}

void moe_dequant_bf16(const void *x, float *y, int64_t n) {
    const uint16_t *h = x;
    for (int64_t i = 0; i < n; i++) y[i] = moe_bf16_to_fp32(h[i]);
}

// In all 4/5-bit types byte j holds value j in its low nibble and value j+16
// in its high nibble.
void moe_dequant_q4_0(const void *x, float *y, int64_t n) {
    const moe_block_q4_0 *b = x;
    for (int64_t i = 0; i < n / MOE_QK; i++, y += MOE_QK) {
        const float d = ck_half(b[i].d);
        for (int j = 0; j < MOE_QK / 2; j++) {
            y[j] = (float)((b[i].qs[j] & 0x0f) - 8) * d;
            y[j + 16] = (float)((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void moe_dequant_q4_1(const void *x, float *y, int64_t n) {
    const moe_block_q4_1 *b = x;
    for (int64_t i = 0; i < n / MOE_QK; i++, y += MOE_QK) {
        const float d = ck_half(b[i].d), m = ck_half(b[i].m);
        for (int j = 0; j < MOE_QK / 2; j++) {
            y[j] = (float)(b[i].qs[j] & 0x0f) * d + m;   // q*d is exact, so fused or not agrees
            y[j + 16] = (float)(b[i].qs[j] >> 4) * d + m;
        }
    }
}

// Q5: bit j of qh is the fifth bit of value j.
void moe_dequant_q5_0(const void *x, float *y, int64_t n) {
    const moe_block_q5_0 *b = x;
    for (int64_t i = 0; i < n / MOE_QK; i++, y += MOE_QK) {
        const float d = ck_half(b[i].d);
        const uint32_t qh = ck_qh_bits(b[i].qh);
        for (int j = 0; j < MOE_QK / 2; j++) {
            const int lo = (b[i].qs[j] & 0x0f) | (int)(((qh >> j) & 1u) << 4);
            const int hi = (b[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
            y[j] = (float)(lo - 16) * d;
            y[j + 16] = (float)(hi - 16) * d;
        }
    }
}

void moe_dequant_q5_1(const void *x, float *y, int64_t n) {
    const moe_block_q5_1 *b = x;
    for (int64_t i = 0; i < n / MOE_QK; i++, y += MOE_QK) {
        const float d = ck_half(b[i].d), m = ck_half(b[i].m);
        const uint32_t qh = ck_qh_bits(b[i].qh);
        for (int j = 0; j < MOE_QK / 2; j++) {
            const int lo = (b[i].qs[j] & 0x0f) | (int)(((qh >> j) & 1u) << 4);
            const int hi = (b[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
            y[j] = (float)lo * d + m;
            y[j + 16] = (float)hi * d + m;
        }
    }
}

void moe_dequant_q8_0(const void *x, float *y, int64_t n) {
    const moe_block_q8_0 *b = x;
    for (int64_t i = 0; i < n / MOE_QK; i++, y += MOE_QK) {
        const float d = ck_half(b[i].d);
        for (int j = 0; j < MOE_QK; j++) y[j] = (float)b[i].qs[j] * d;
    }
}

void moe_dequant_q8_1(const void *x, float *y, int64_t n) {
    const moe_block_q8_1 *b = x;
    for (int64_t i = 0; i < n / MOE_QK; i++, y += MOE_QK) {
        const float d = ck_half(b[i].d);
        for (int j = 0; j < MOE_QK; j++) y[j] = (float)b[i].qs[j] * d;
    }
}

// ---- quantize activations -------------------------------------------------

void moe_quantize_f32(const float *x, void *y, int64_t n) { memcpy(y, x, (size_t)n * sizeof(float)); }

void moe_quantize_f16(const float *x, void *y, int64_t n) {
    uint16_t *h = y;
    for (int64_t i = 0; i < n; i++) h[i] = moe_fp32_to_fp16(x[i]);
}

void moe_quantize_bf16(const float *x, void *y, int64_t n) {
    uint16_t *h = y;
    for (int64_t i = 0; i < n; i++) h[i] = moe_fp32_to_bf16(x[i]);
}

// Scale so the largest magnitude maps to 127; roundf rounds half away from
// zero, exactly as the ggml reference does.
static float ck_block_scale(const float *x, float *inverse) {
    float amax = 0.0f;
    for (int j = 0; j < MOE_QK; j++) amax = fmaxf(amax, fabsf(x[j]));
    const float d = amax / 127.0f;
    *inverse = d != 0.0f ? 1.0f / d : 0.0f;
    return d;
}

void moe_quantize_q8_0(const float *x, void *y, int64_t n) {
    moe_block_q8_0 *b = y;
    for (int64_t i = 0; i < n / MOE_QK; i++, x += MOE_QK) {
        float id;
        const float d = ck_block_scale(x, &id);
        b[i].d = moe_fp32_to_fp16(d);
        for (int j = 0; j < MOE_QK; j++) b[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

void moe_quantize_q8_1(const float *x, void *y, int64_t n) {
    moe_block_q8_1 *b = y;
    for (int64_t i = 0; i < n / MOE_QK; i++, x += MOE_QK) {
        float id;
        const float d = ck_block_scale(x, &id);
        b[i].d = moe_fp32_to_fp16(d);
        int sum = 0;
        for (int j = 0; j < MOE_QK; j++) {
            b[i].qs[j] = (int8_t)roundf(x[j] * id);
            sum += b[i].qs[j];
        }
        // s uses the unrounded float d, as ggml does
        b[i].s = moe_fp32_to_fp16((float)sum * d);
    }
}

// ---- dot products -----------------------------------------------------------

float moe_dot_f32_f32_ref(const void *x, const void *y, int64_t n) {
    const float *a = x, *b = y;
    double sum = 0.0;  // ggml_float: the reference sums in double
    for (int64_t i = 0; i < n; i++) sum += (double)(a[i] * b[i]);
    return (float)sum;
}

float moe_dot_f16_f16_ref(const void *x, const void *y, int64_t n) {
    const uint16_t *a = x, *b = y;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(ck_half(a[i]) * ck_half(b[i]));
    return (float)sum;
}

float moe_dot_bf16_bf16_ref(const void *x, const void *y, int64_t n) {
    const uint16_t *a = x, *b = y;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(moe_bf16_to_fp32(a[i]) * moe_bf16_to_fp32(b[i]));
    return (float)sum;
}

float moe_dot_q4_0_q8_0_ref(const void *x, const void *y, int64_t n) {
    const moe_block_q4_0 *a = x;
    const moe_block_q8_0 *b = y;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / MOE_QK; i++) {
        int sumi = 0;
        for (int j = 0; j < MOE_QK / 2; j++) {
            sumi += ((a[i].qs[j] & 0x0f) - 8) * b[i].qs[j];
            sumi += ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + 16];
        }
        sum += (float)sumi * (ck_half(a[i].d) * ck_half(b[i].d));
    }
    return sum;
}

float moe_dot_q4_1_q8_1_ref(const void *x, const void *y, int64_t n) {
    const moe_block_q4_1 *a = x;
    const moe_block_q8_1 *b = y;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / MOE_QK; i++) {
        int sumi = 0;
        for (int j = 0; j < MOE_QK / 2; j++) {
            sumi += (a[i].qs[j] & 0x0f) * b[i].qs[j];
            sumi += (a[i].qs[j] >> 4) * b[i].qs[j + 16];
        }
        // the min term uses s = d_y * sum(q_y), so the activations are not revisited
        sum += (ck_half(a[i].d) * ck_half(b[i].d)) * (float)sumi + ck_half(a[i].m) * ck_half(b[i].s);
    }
    return sum;
}

float moe_dot_q5_0_q8_0_ref(const void *x, const void *y, int64_t n) {
    const moe_block_q5_0 *a = x;
    const moe_block_q8_0 *b = y;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / MOE_QK; i++) {
        const uint32_t qh = ck_qh_bits(a[i].qh);
        int sumi = 0;
        for (int j = 0; j < MOE_QK / 2; j++) {
            const int lo = (a[i].qs[j] & 0x0f) | (int)(((qh >> j) & 1u) << 4);
            const int hi = (a[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
            sumi += (lo - 16) * b[i].qs[j] + (hi - 16) * b[i].qs[j + 16];
        }
        sum += (ck_half(a[i].d) * ck_half(b[i].d)) * (float)sumi;
    }
    return sum;
}

float moe_dot_q5_1_q8_1_ref(const void *x, const void *y, int64_t n) {
    const moe_block_q5_1 *a = x;
    const moe_block_q8_1 *b = y;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / MOE_QK; i++) {
        const uint32_t qh = ck_qh_bits(a[i].qh);
        int sumi = 0;
        for (int j = 0; j < MOE_QK / 2; j++) {
            const int lo = (a[i].qs[j] & 0x0f) | (int)(((qh >> j) & 1u) << 4);
            const int hi = (a[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
            sumi += lo * b[i].qs[j] + hi * b[i].qs[j + 16];
        }
        sum += (ck_half(a[i].d) * ck_half(b[i].d)) * (float)sumi + ck_half(a[i].m) * ck_half(b[i].s);
    }
    return sum;
}

float moe_dot_q8_0_q8_0_ref(const void *x, const void *y, int64_t n) {
    const moe_block_q8_0 *a = x;
    const moe_block_q8_0 *b = y;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / MOE_QK; i++) {
        int sumi = 0;
        for (int j = 0; j < MOE_QK; j++) sumi += a[i].qs[j] * b[i].qs[j];
        sum += (float)sumi * (ck_half(a[i].d) * ck_half(b[i].d));
    }
    return sum;
}
