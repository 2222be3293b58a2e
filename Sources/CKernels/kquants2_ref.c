// Scalar specification of the Q2_K, Q3_K, IQ4_XS (× Q8_K) and IQ4_NL (× Q8_0)
// dot products, and the IQ4 dequantizers. The SIMD versions
// (kquants2_avx2.c, kquants2_avx512.c) are tested against these dots: exact
// integer sums per sub-block, scaled once per block as ggml's generic
// kernels do.
#include "ckernels.h"
#include "kquants2.h"
#include "kquants_internal.h"

// Bit-exactness with ggml's dequantizers needs separate roundings.
#pragma clang fp contract(off)

const int8_t moe_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                     1,    13,   25,  38,  53,  69,  89,  113};

// Sub-block ib's 6-bit scale of an IQ4_XS block, still offset by 32.
static inline int iq4_xs_scale(const moe_block_iq4_xs *b, int ib) {
    return ((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f) | (((b->scales_h >> (2 * ib)) & 3) << 4);
}

void moe_dequant_iq4_nl(const void *x, float *y, int64_t n) {
    const moe_block_iq4_nl *blocks = (const moe_block_iq4_nl *)x;
    for (int64_t i = 0; i < n / MOE_QK4_NL; i++, y += MOE_QK4_NL) {
        const float d = moe_kq_half_to_float(blocks[i].d);
        // Low nibbles are weights 0-15, high nibbles 16-31.
        for (int j = 0; j < 16; j++) {
            y[j] = d * moe_iq4nl_values[blocks[i].qs[j] & 0x0f];
            y[j + 16] = d * moe_iq4nl_values[blocks[i].qs[j] >> 4];
        }
    }
}

void moe_dequant_iq4_xs(const void *x, float *y, int64_t n) {
    const moe_block_iq4_xs *blocks = (const moe_block_iq4_xs *)x;
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        const moe_block_iq4_xs *b = &blocks[i];
        const float d = moe_kq_half_to_float(b->d);
        for (int ib = 0; ib < 8; ib++, y += 32) {
            const float dl = d * (float)(iq4_xs_scale(b, ib) - 32);
            const uint8_t *qs = b->qs + 16 * ib;
            for (int j = 0; j < 16; j++) {
                y[j] = dl * moe_iq4nl_values[qs[j] & 0x0f];
                y[j + 16] = dl * moe_iq4nl_values[qs[j] >> 4];
            }
        }
    }
}

float moe_dot_q2_K_q8_K_ref(const void *x, const void *y, int64_t n) {
    const moe_block_q2_K *xb = (const moe_block_q2_K *)x;
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;
    float sum = 0;
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        const uint8_t *sc = xb[i].scales;
        const int8_t *a = yb[i].qs;
        // x = d·(sc & 15)·q − dmin·(sc >> 4) per 16 weights; the mins go
        // through the activation sums.
        int32_t mins = 0, scaled = 0;
        for (int s = 0; s < 16; s++) mins += (sc[s] >> 4) * yb[i].bsums[s];
        // weight w = 128·half + 32·g + k sits in bits 2g of qs[32·half + k];
        // sub-block s = w / 16.
        for (int s = 0; s < 16; s++) {
            const uint8_t *q = xb[i].qs + 32 * (s / 8) + 16 * (s % 2);
            const int shift = 2 * ((s % 8) / 2);
            int32_t isum = 0;
            for (int l = 0; l < 16; l++) isum += a[16 * s + l] * ((q[l] >> shift) & 3);
            scaled += (sc[s] & 0x0f) * isum;
        }
        const float d = yb[i].d * moe_kq_half_to_float(xb[i].d);
        const float dmin = yb[i].d * moe_kq_half_to_float(xb[i].dmin);
        sum += d * (float)scaled - dmin * (float)mins;
    }
    return sum;
}

float moe_dot_q3_K_q8_K_ref(const void *x, const void *y, int64_t n) {
    const moe_block_q3_K *xb = (const moe_block_q3_K *)x;
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;
    float sum = 0;
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        const uint8_t *p = xb[i].scales;
        const int8_t *a = yb[i].qs;
        int32_t scaled = 0;
        for (int s = 0; s < 16; s++) {
            // 6-bit scale: low nibble from byte s (s < 8) or s − 8's high
            // nibble, top two bits from byte 8 + s % 4.
            const int low = s < 8 ? (p[s] & 0x0f) : (p[s - 8] >> 4);
            const int scale = (low | (((p[8 + s % 4] >> (2 * (s / 4))) & 3) << 4)) - 32;
            const uint8_t *q = xb[i].qs + 32 * (s / 8) + 16 * (s % 2);
            const int g = (s % 8) / 2;  // 2-bit lane within the qs byte
            const int hbit = s / 2;     // bit of hmask (one per 32 weights)
            int32_t isum = 0;
            for (int l = 0; l < 16; l++) {
                const int k = 16 * (s % 2) + l;
                const int w = ((q[l] >> (2 * g)) & 3) - ((xb[i].hmask[k] >> hbit) & 1 ? 0 : 4);
                isum += a[16 * s + l] * w;
            }
            scaled += scale * isum;
        }
        sum += moe_kq_half_to_float(xb[i].d) * yb[i].d * (float)scaled;
    }
    return sum;
}

float moe_dot_iq4_xs_q8_K_ref(const void *x, const void *y, int64_t n) {
    const moe_block_iq4_xs *xb = (const moe_block_iq4_xs *)x;
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;
    float sum = 0;
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        int32_t scaled = 0;
        for (int ib = 0; ib < 8; ib++) {
            const uint8_t *qs = xb[i].qs + 16 * ib;
            const int8_t *a = yb[i].qs + 32 * ib;
            int32_t isum = 0;
            for (int j = 0; j < 16; j++) {
                isum += a[j] * moe_iq4nl_values[qs[j] & 0x0f] + a[j + 16] * moe_iq4nl_values[qs[j] >> 4];
            }
            scaled += (iq4_xs_scale(&xb[i], ib) - 32) * isum;
        }
        sum += moe_kq_half_to_float(xb[i].d) * yb[i].d * (float)scaled;
    }
    return sum;
}

float moe_dot_iq4_nl_q8_0_ref(const void *x, const void *y, int64_t n) {
    const moe_block_iq4_nl *xb = (const moe_block_iq4_nl *)x;
    const moe_block_q8_0 *yb = (const moe_block_q8_0 *)y;
    float sum = 0;
    for (int64_t i = 0; i < n / MOE_QK4_NL; i++) {
        int32_t isum = 0;
        for (int j = 0; j < 16; j++) {
            isum += yb[i].qs[j] * moe_iq4nl_values[xb[i].qs[j] & 0x0f] +
                    yb[i].qs[j + 16] * moe_iq4nl_values[xb[i].qs[j] >> 4];
        }
        sum += moe_kq_half_to_float(xb[i].d) * moe_kq_half_to_float(yb[i].d) * (float)isum;
    }
    return sum;
}

_Static_assert(sizeof(moe_block_iq4_nl) == 18, "block_iq4_nl must be 18 bytes");
_Static_assert(sizeof(moe_block_iq4_xs) == 136, "block_iq4_xs must be 136 bytes");
