#pragma once
// Private x86 helpers of the Q2_K / Q3_K / IQ4 kernels (kquants2_avx2.c,
// kquants2_avx512.c). AVX2-targeted, so they inline into AVX-512 code too.
#include "ckernels.h"
#include "kquants2.h"
#include "kquants_internal.h"
#include <immintrin.h>

#define KQ2_AVX2 __attribute__((target("avx2,fma,f16c")))

// Q3_K's 16 scales (6 bits, stored offset by 32) as signed bytes.
static inline void kq2_q3_K_scales(const uint8_t p[12], int8_t out[16]) {
    for (int s = 0; s < 16; s++) {
        const int low = s < 8 ? (p[s] & 0x0f) : (p[s - 8] >> 4);
        out[s] = (int8_t)((low | (((p[8 + s % 4] >> (2 * (s / 4))) & 3) << 4)) - 32);
    }
}

// IQ4_XS's 8 sub-block scales, minus 32, as i16.
static inline void kq2_iq4_xs_scales(const moe_block_iq4_xs *b, int16_t out[8]) {
    for (int ib = 0; ib < 8; ib++) {
        out[ib] = (int16_t)((((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f) |
                             (((b->scales_h >> (2 * ib)) & 3) << 4)) - 32);
    }
}

// The IQ4 levels in each 128-bit lane, for a byte shuffle by index.
KQ2_AVX2 static inline __m256i kq2_iq4_table(void) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)moe_iq4nl_values));
}

// 32 IQ4 indices of one 32-weight run from 16 bytes: low nibbles are
// weights 0-15, high nibbles 16-31.
KQ2_AVX2 static inline __m256i kq2_iq4_run(const uint8_t *qs) {
    const __m128i q = _mm_loadu_si128((const __m128i *)qs);
    const __m128i low4 = _mm_set1_epi8(0x0f);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), low4), _mm_and_si128(q, low4));
}

// Signed weights w (never -128) times signed activations a, as maddubs'
// i16 pair sums: |w| is unsigned and a takes w's sign. No saturation:
// |w|, |a| ≤ 127, so a pair is at most 32258.
KQ2_AVX2 static inline __m256i kq2_signed_pairs(__m256i w, __m256i a) {
    return _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
}

// i16 scales of one 32-weight run of two 16-weight sub-blocks s and s + 1
// (s even): lanes 0-7 scale s, lanes 8-15 scale s + 1, from the 16 scales as
// i16 (sc16, scale s in lane s).
KQ2_AVX2 static inline __m256i kq2_run_scales(__m256i sc16, int s) {
    static const uint8_t masks[4][32] = {
        {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3},
        {4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7},
        {8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11},
        {12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13,
         14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15},
    };
    const __m128i lane = s < 8 ? _mm256_castsi256_si128(sc16) : _mm256_extracti128_si256(sc16, 1);
    return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(lane),
                               _mm256_loadu_si256((const __m256i *)masks[(s % 8) / 2]));
}

KQ2_AVX2 static inline float kq2_hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
