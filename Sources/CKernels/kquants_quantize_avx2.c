// The Q8_K activation quantizer in AVX2, bit for bit moe_quantize_q8_K
// (kquants_ref.c), which every K-quant product's activations go through:
// scalar, it was ~3 % of a K-quant prompt's samples.
//
// Per block of 256: the largest magnitude (a NaN is skipped, as the
// reference's `>` skips it), the first value that has it, iscale =
// -127 / that value, the products rounded to nearest even (cvtps with the
// default rounding, which is what the reference's 1.5·2^23 trick gives for
// |v| < 2^22), clamped above at 127, and the sixteen-value sums. A block
// holding an infinity or a NaN, or one so small that iscale overflows, goes
// to the reference: there its products leave the range where the two
// roundings agree (the trick maps them to payload-dependent integers).

#include "ck_x86.h"
#include "kquants.h"
#include <float.h>
#include <math.h>
#include <string.h>

CK_AVX2 static inline float ck_hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

CK_AVX2 static inline int ck_hsum8i(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

// The block's largest magnitude, or -1 where the reference must take it.
CK_AVX2 static inline float ck_q8_K_amax(const float *x) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 amax = _mm256_setzero_ps(), unordered = _mm256_setzero_ps();
    for (int k = 0; k < MOE_QK_K / 8; k++) {
        const __m256 v = _mm256_loadu_ps(x + 8 * k);
        amax = _mm256_max_ps(_mm256_andnot_ps(sign, v), amax);
        unordered = _mm256_or_ps(unordered, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    }
    const float m = ck_hmax8(amax);
    return _mm256_movemask_ps(unordered) != 0 || m > FLT_MAX ? -1.0f : m;
}

// The first value whose magnitude is `amax`.
CK_AVX2 static inline float ck_q8_K_first_max(const float *x, float amax) {
    const __m256 sign = _mm256_set1_ps(-0.0f), target = _mm256_set1_ps(amax);
    for (int k = 0; k < MOE_QK_K / 8; k++) {
        const int hits = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * k)), target, _CMP_EQ_OQ));
        if (hits != 0) return x[8 * k + __builtin_ctz((unsigned)hits)];
    }
    return 0.0f;  // not reached: amax is one of the magnitudes
}

CK_AVX2 void moe_quantize_q8_K_avx2(const float *x, void *y, int64_t n) {
    moe_block_q8_K *blocks = y;
    const __m256i top = _mm256_set1_epi32(127);
    for (int64_t i = 0; i < n / MOE_QK_K; i++, x += MOE_QK_K) {
        moe_block_q8_K *b = &blocks[i];
        const float amax = ck_q8_K_amax(x);
        if (amax == 0) {
            memset(b, 0, sizeof *b);
            continue;
        }
        // A NaN or an infinity in the block (amax < 0), or a scale that
        // overflows: the reference quantizes it.
        const float iscale = amax > 0 ? -127.f / ck_q8_K_first_max(x, amax) : INFINITY;
        if (!(fabsf(iscale) <= FLT_MAX)) {
            moe_quantize_q8_K(x, b, MOE_QK_K);
            continue;
        }
        const __m256 scale = _mm256_set1_ps(iscale);
        for (int g = 0; g < MOE_QK_K / 16; g++) {
            const __m256i q0 = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16 * g), scale)), top);
            const __m256i q1 = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16 * g + 8), scale)), top);
            b->bsums[g] = (int16_t)ck_hsum8i(_mm256_add_epi32(q0, q1));
            // |q| ≤ 127: the saturating packs are exact. They give, as
            // int8, q0[0..3] q1[0..3] q0[4..7] q1[4..7]; the shuffle puts
            // the dwords back in order.
            const __m256i q16 = _mm256_packs_epi32(q0, q1);
            const __m128i q8 = _mm_packs_epi16(_mm256_castsi256_si128(q16), _mm256_extracti128_si256(q16, 1));
            _mm_storeu_si128((__m128i *)(b->qs + 16 * g), _mm_shuffle_epi32(q8, _MM_SHUFFLE(3, 1, 2, 0)));
        }
        b->d = 1 / iscale;
    }
}
