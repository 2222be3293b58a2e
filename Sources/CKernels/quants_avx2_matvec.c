// AVX2 kernels for decoding (one activation row): dots of four weight rows
// with the same activation row, and the Q8_0/Q8_1 activation quantizers.
//
// A decode step is a matrix-vector product per weight matrix. Taking four
// weight rows at a time loads and converts each activation block once for
// four rows, gives the core four independent accumulator chains, and sums
// the four results horizontally together. out[j] = dot(x + j·x_stride, y);
// results agree with the single-row kernels up to float summation order.

#include "ck_x86.h"
#include <math.h>

#define CK_WROWS 4

// Block `i` of weight row j.
#define CK_XR(type, j, i) (((const type *)((const uint8_t *)x + (size_t)(j) * x_stride)) + (i))

// Four rows read side by side are four nearby streams, which the hardware
// prefetcher follows poorly on a matrix larger than the cache: fetch the
// same place in the next four rows (the caller's next call) ahead of time.
#define CK_PREFETCH_NEXT(a) _mm_prefetch((const char *)(a) + CK_WROWS * x_stride, _MM_HINT_T0)

// Signed weights (q4_0, q5_0, q8_0) against q8_0: |q| and q's sign moved
// onto the activations, per row; the activation scale is converted once.
#define CK_SIGNED_WROWS(WTYPE, VALUES)                                                        \
    const moe_block_q8_0 *b = y;                                                              \
    __m256 acc[CK_WROWS] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
    for (int64_t i = 0; i < n / MOE_QK; i++) {                                                \
        const __m256i yq = _mm256_loadu_si256((const __m256i *)b[i].qs);                      \
        const __m256 dy = ck_half_splat(b[i].d);                               \
        for (int j = 0; j < CK_WROWS; j++) {                                                  \
            const WTYPE *a = CK_XR(WTYPE, j, i);                                              \
            CK_PREFETCH_NEXT(a);                                                              \
            const __m256i q = VALUES(a);                                                      \
            const __m256 sums = _mm256_cvtepi32_ps(ck_dot_u8_i8(_mm256_sign_epi8(q, q), _mm256_sign_epi8(yq, q))); \
            const __m256 scale = _mm256_mul_ps(ck_half_splat(a->d), dy);      \
            acc[j] = _mm256_fmadd_ps(scale, sums, acc[j]);                                    \
        }                                                                                     \
    }                                                                                         \
    _mm_storeu_ps(out, ck_hsum4(acc));

// Unsigned weights with a minimum (q4_1, q5_1) against q8_1: one multiply
// gives [d_x·d_y, m_x·s_y] per row; the min terms collect in lane 1.
#define CK_OFFSET_WROWS(WTYPE, VALUES)                                                        \
    const moe_block_q8_1 *b = y;                                                              \
    __m256 acc[CK_WROWS] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
    __m128 mins[CK_WROWS] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()}; \
    for (int64_t i = 0; i < n / MOE_QK; i++) {                                                \
        const __m256i yq = _mm256_loadu_si256((const __m256i *)b[i].qs);                      \
        const __m128 y_ds = ck_half_pair(&b[i].d);                                            \
        for (int j = 0; j < CK_WROWS; j++) {                                                  \
            const WTYPE *a = CK_XR(WTYPE, j, i);                                              \
            CK_PREFETCH_NEXT(a);                                                              \
            const __m128 sm = _mm_mul_ps(ck_half_pair(&a->d), y_ds);                          \
            mins[j] = _mm_add_ps(mins[j], sm);                                                \
            const __m256 sums = _mm256_cvtepi32_ps(ck_dot_u8_i8(VALUES(a), yq));              \
            acc[j] = _mm256_fmadd_ps(_mm256_broadcastss_ps(sm), sums, acc[j]);                \
        }                                                                                     \
    }                                                                                         \
    /* lane 1 of each mins[j] into lane j: unpack pairs, then take the odd lanes */          \
    const __m128 m01 = _mm_unpacklo_ps(mins[0], mins[1]);  /* [a0 b0 a1 b1] */               \
    const __m128 m23 = _mm_unpacklo_ps(mins[2], mins[3]);                                     \
    const __m128 m = _mm_movehl_ps(m23, m01);              /* [a1 b1 c1 d1] */               \
    _mm_storeu_ps(out, _mm_add_ps(ck_hsum4(acc), m));

CK_AVX2 static inline __m256i ck_values_q4_0(const moe_block_q4_0 *blk) {
    return _mm256_sub_epi8(ck_nibbles(blk->qs), _mm256_set1_epi8(8));
}
CK_AVX2 static inline __m256i ck_values_q8_0(const moe_block_q8_0 *blk) {
    return _mm256_loadu_si256((const __m256i *)blk->qs);
}
CK_AVX2 static inline __m256i ck_values_q4_1(const moe_block_q4_1 *blk) { return ck_nibbles(blk->qs); }

CK_AVX2 void moe_dotr4_q4_0_q8_0_avx2(const void *x, size_t x_stride, const void *y, float *out, int64_t n) {
    CK_SIGNED_WROWS(moe_block_q4_0, ck_values_q4_0)
}

CK_AVX2 void moe_dotr4_q5_0_q8_0_avx2(const void *x, size_t x_stride, const void *y, float *out, int64_t n) {
    CK_SIGNED_WROWS(moe_block_q5_0, ck_q5_0_values)
}

CK_AVX2 void moe_dotr4_q8_0_q8_0_avx2(const void *x, size_t x_stride, const void *y, float *out, int64_t n) {
    CK_SIGNED_WROWS(moe_block_q8_0, ck_values_q8_0)
}

CK_AVX2 void moe_dotr4_q4_1_q8_1_avx2(const void *x, size_t x_stride, const void *y, float *out, int64_t n) {
    CK_OFFSET_WROWS(moe_block_q4_1, ck_values_q4_1)
}

CK_AVX2 void moe_dotr4_q5_1_q8_1_avx2(const void *x, size_t x_stride, const void *y, float *out, int64_t n) {
    CK_OFFSET_WROWS(moe_block_q5_1, ck_q5_1_values)
}

// ---- activation quantizers, bit for bit the reference (quants_ref.c) ---------

// roundf (half away from zero) on values with |v| < 2^23: truncate, then
// step away from zero when the dropped fraction, which is exact, is ≥ 0.5.
CK_AVX2 static inline __m256i ck_round_away(__m256 v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    const __m256 half_up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    const __m256 step = _mm256_and_ps(half_up, _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, sign)));
    return _mm256_cvttps_epi32(_mm256_add_ps(t, step));
}

// One block of 32: the scale as the reference computes it (amax / 127, the
// inverse when nonzero), the rounded values into qs; returns Σq.
CK_AVX2 static inline int ck_quantize_block(const float *x, int8_t *qs, float *d_out) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        amax = _mm256_max_ps(_mm256_andnot_ps(sign, v[k]), amax);  // a NaN is skipped, as fmaxf does
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float d = _mm_cvtss_f32(m) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m256 scale = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; k++) q[k] = ck_round_away(_mm256_mul_ps(v[k], scale));
    // |q| ≤ 127, so the saturating packs are exact; the permute undoes
    // their lane interleaving.
    const __m256i q16a = _mm256_packs_epi32(q[0], q[1]);
    const __m256i q16b = _mm256_packs_epi32(q[2], q[3]);
    const __m256i q8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(q16a, q16b),
                                                   _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)qs, q8);
    const __m256i s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
    *d_out = d;
    return _mm_cvtsi128_si32(s4);
}

CK_AVX2 void moe_quantize_q8_0_avx2(const float *x, void *y, int64_t n) {
    moe_block_q8_0 *b = y;
    for (int64_t i = 0; i < n / MOE_QK; i++, x += MOE_QK) {
        float d;
        (void)ck_quantize_block(x, b[i].qs, &d);
        b[i].d = moe_fp32_to_fp16(d);
    }
}

CK_AVX2 void moe_quantize_q8_1_avx2(const float *x, void *y, int64_t n) {
    moe_block_q8_1 *b = y;
    for (int64_t i = 0; i < n / MOE_QK; i++, x += MOE_QK) {
        float d;
        const int sum = ck_quantize_block(x, b[i].qs, &d);
        b[i].d = moe_fp32_to_fp16(d);
        b[i].s = moe_fp32_to_fp16((float)sum * d);  // the unrounded d, as the reference
    }
}
