// Exact conversions between float and the two 16-bit float formats, scalar
// (the reference) and F16C rows. Round-to-nearest-even throughout, as F16C
// and ggml do, so activations converted here match llama.cpp's bit for bit.

#include "ck_internal.h"
#include <immintrin.h>

float moe_fp16_to_fp32(uint16_t h) { return ck_half(h); }

uint16_t moe_fp32_to_fp16(float f) {
    uint32_t x = ck_float_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t a = x & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u | (uint16_t)((a >> 13) & 0x3ffu); // NaN stays NaN (quiet)
    if (a >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds to infinity
    if (a >= 0x38800000u) {
        // normal half: round at mantissa bit 13 (ties to even), then rebias 127 -> 15
        uint32_t r = a + 0xfffu + ((a >> 13) & 1u);
        return sign | (uint16_t)((r - 0x38000000u) >> 13);
    }
    if (a < 0x33000000u) return sign;  // below half the smallest subnormal (ties go to 0)
    // subnormal half: value / 2^-24 rounded to nearest even; may round up to the
    // smallest normal, whose encoding (0x400) follows on naturally.
    uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e;  // 14...24 here
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return sign | (uint16_t)q;
}

float moe_bf16_to_fp32(uint16_t h) { return ck_bits_float((uint32_t)h << 16); }

uint16_t moe_fp32_to_bf16(float f) {
    uint32_t u = ck_float_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 64u);  // quiet NaN
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

__attribute__((target("avx2,f16c")))
void moe_dequant_f16_f16c(const void *x, float *y, int64_t n) {
    const uint16_t *h = x;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
    for (; i < n; i++) y[i] = ck_half(h[i]);
}

__attribute__((target("avx2,f16c")))
void moe_quantize_f16_f16c(const float *x, void *y, int64_t n) {
    uint16_t *h = y;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(h + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) h[i] = moe_fp32_to_fp16(x[i]);
}
