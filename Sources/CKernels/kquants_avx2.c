// AVX2 K-quant dot products against Q8_K activations.
//
// The pattern (ggml's): unpack weights to unsigned bytes, multiply them with
// the signed 8-bit activations by _mm256_maddubs_epi16 (u8*s8 pairs summed to
// i16), weight each sub-block by its integer scale with _mm256_madd_epi16
// (i16 pairs summed to i32), and convert to float once per 256-value block.
// The minimums (Q4_K/Q5_K) and Q6_K's offset of 32 are applied through the
// activation block sums (bsums) instead of per value.
//
// No i16 overflow: weights are at most 63 and |activation| at most 127 (Q8_K
// maps the largest magnitude to -127), so a maddubs pair is at most 16002.
#include "kquants_internal.h"
#include <immintrin.h>

#define MOE_AVX2 __attribute__((target("avx2,fma")))

MOE_AVX2 static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Σ mins[s] * (activation sum of sub-block s) as four i32 partial sums:
// bsums cover 16 values, so adjacent pairs are added to cover 32.
MOE_AVX2 static inline __m128i min_correction(const uint8_t mins[8], const int16_t bsums[16]) {
    const __m128i lo = _mm_loadu_si128((const __m128i *)bsums);
    const __m128i hi = _mm_loadu_si128((const __m128i *)(bsums + 8));
    const __m128i mins16 = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)mins));
    return _mm_madd_epi16(_mm_hadd_epi16(lo, hi), mins16);
}

// Scale-weighted i32 sums of one 32-value run: maddubs then madd by scale.
MOE_AVX2 static inline __m256i scaled_run(__m256i weights, const int8_t *act, int scale) {
    const __m256i prod = _mm256_maddubs_epi16(weights, _mm256_loadu_si256((const __m256i *)act));
    return _mm256_madd_epi16(prod, _mm256_set1_epi16((int16_t)scale));
}

MOE_AVX2 float moe_dot_q4_K_q8_K_avx2(const void *x, const void *y, int64_t n) {
    const moe_block_q4_K *xb = (const moe_block_q4_K *)x;
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps();
    __m128 acc_min = _mm_setzero_ps();
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        uint8_t sc[8], mn[8];
        moe_kq_unpack_scales_mins(xb[i].scales, sc, mn);
        const float d = moe_kq_half_to_float(xb[i].d) * yb[i].d;
        const float dmin = moe_kq_half_to_float(xb[i].dmin) * yb[i].d;
        acc_min = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(min_correction(mn, yb[i].bsums)), acc_min);

        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(xb[i].qs + 32 * j));
            const __m256i lo = _mm256_and_si256(bits, low4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), low4);
            const int8_t *act = yb[i].qs + 64 * j;
            sumi = _mm256_add_epi32(sumi, scaled_run(lo, act, sc[2 * j]));
            sumi = _mm256_add_epi32(sumi, scaled_run(hi, act + 32, sc[2 * j + 1]));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(_mm256_sub_ps(acc, _mm256_zextps128_ps256(acc_min)));
}

MOE_AVX2 float moe_dot_q5_K_q8_K_avx2(const void *x, const void *y, int64_t n) {
    const moe_block_q5_K *xb = (const moe_block_q5_K *)x;
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    __m128 acc_min = _mm_setzero_ps();
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        uint8_t sc[8], mn[8];
        moe_kq_unpack_scales_mins(xb[i].scales, sc, mn);
        const float d = moe_kq_half_to_float(xb[i].d) * yb[i].d;
        const float dmin = moe_kq_half_to_float(xb[i].dmin) * yb[i].d;
        acc_min = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(min_correction(mn, yb[i].bsums)), acc_min);

        // Sub-block s takes bit s of each qh byte; shift qh down two bits
        // per 64-value step so the bits needed are always bits 0 and 1.
        __m256i hbits = _mm256_loadu_si256((const __m256i *)xb[i].qh);
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(xb[i].qs + 32 * j));
            const __m256i h_lo = _mm256_slli_epi16(_mm256_and_si256(hbits, one), 4);
            const __m256i h_hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 1), one), 4);
            hbits = _mm256_srli_epi16(hbits, 2);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(bits, low4), h_lo);
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), low4), h_hi);
            const int8_t *act = yb[i].qs + 64 * j;
            sumi = _mm256_add_epi32(sumi, scaled_run(lo, act, sc[2 * j]));
            sumi = _mm256_add_epi32(sumi, scaled_run(hi, act + 32, sc[2 * j + 1]));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(_mm256_sub_ps(acc, _mm256_zextps128_ps256(acc_min)));
}

// Q6_K runs of 32 span two 16-value sub-blocks: scale a for the low 128-bit
// lane (i16 lanes 0-7 = bytes 0-15) and scale b for the high lane.
MOE_AVX2 static inline __m256i scaled_run_pair(__m256i weights, const int8_t *act, int a, int b) {
    const __m256i prod = _mm256_maddubs_epi16(weights, _mm256_loadu_si256((const __m256i *)act));
    const __m256i scales = _mm256_set_m128i(_mm_set1_epi16((int16_t)b), _mm_set1_epi16((int16_t)a));
    return _mm256_madd_epi16(prod, scales);
}

MOE_AVX2 float moe_dot_q6_K_q8_K_avx2(const void *x, const void *y, int64_t n) {
    const moe_block_q6_K *xb = (const moe_block_q6_K *)x;
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i three = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        const int8_t *sc = xb[i].scales;
        const float d = moe_kq_half_to_float(xb[i].d) * yb[i].d;
        // Weights are stored as q+32 in 0..63; take the 32 off once per
        // sub-block: Σ sc·(q-32)·a = Σ sc·q·a - 32 Σ sc·bsum.
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
        const __m256i bsums = _mm256_loadu_si256((const __m256i *)yb[i].bsums);
        __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(),
                                        _mm256_slli_epi32(_mm256_madd_epi16(sc16, bsums), 5));
        for (int half = 0; half < 2; half++) {
            const uint8_t *ql = xb[i].ql + 64 * half;
            const __m256i ql_a = _mm256_loadu_si256((const __m256i *)ql);
            const __m256i ql_b = _mm256_loadu_si256((const __m256i *)(ql + 32));
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(xb[i].qh + 32 * half));
            // Runs 0-3 of this half: low/high nibbles of ql_a/ql_b, with
            // their top two bits from successive bit pairs of qh.
            const __m256i q[4] = {
                _mm256_or_si256(_mm256_and_si256(ql_a, low4),
                                _mm256_slli_epi16(_mm256_and_si256(qh, three), 4)),
                _mm256_or_si256(_mm256_and_si256(ql_b, low4),
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), three), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql_a, 4), low4),
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), three), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql_b, 4), low4),
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), three), 4)),
            };
            const int8_t *act = yb[i].qs + 128 * half;
            const int8_t *s = sc + 8 * half;
            for (int k = 0; k < 4; k++) {
                sumi = _mm256_add_epi32(sumi, scaled_run_pair(q[k], act + 32 * k, s[2 * k], s[2 * k + 1]));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc);
}
