// AVX-512 (F + BW) dot products of the float types, and the 32-value-block
// helpers (CK_DOT512_LOOP: two blocks joined in one 512-bit register, an
// odd last block through the AVX2 kernel) that the classic quants' one-row
// dots used until they measured slower than AVX2's (below). Same contracts
// as the _ref functions.
//
// Tested against the scalar reference on CPUs that report avx512f and
// avx512bw (the avx512 and avx512vnni tables use them).

#include "ck_x86.h"

#define CK_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw")))

CK_AVX512 static inline __m512i ck_join_i(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// Lanes 0..7 scale the first block, lanes 8..15 the second.
CK_AVX512 static inline __m512 ck_two_scales(float d0, float d1) {
    const __m512 lo = _mm512_castps256_ps512(_mm256_set1_ps(d0));
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(lo), _mm256_castps_pd(_mm256_set1_ps(d1)), 1));
}

CK_AVX512 static inline __m512i ck_dot512_u8_i8(__m512i u, __m512i s) {
    return _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1));
}

// No 512-bit sign instruction: negate y where x is negative, then use |x|.
CK_AVX512 static inline __m512i ck_dot512_i8_i8(__m512i x, __m512i y) {
    const __mmask64 negative = _mm512_movepi8_mask(x);
    const __m512i y_signed = _mm512_mask_sub_epi8(y, negative, _mm512_setzero_si512(), y);
    return ck_dot512_u8_i8(_mm512_abs_epi8(x), y_signed);
}

CK_AVX512 static inline __m512i ck_q8_pair(const int8_t *q0, const int8_t *q1) {
    return ck_join_i(_mm256_loadu_si256((const __m256i *)q0), _mm256_loadu_si256((const __m256i *)q1));
}

// The loop shared by all four-/five-/eight-bit kernels: VALUES(k) gives block
// k's weights as 32 bytes, DOT multiplies them into 16 int32 sums, and MIN(k)
// adds a block's offset term (0 for the symmetric types).
#define CK_DOT512_LOOP(A, B, VALUES, DOT, MIN, TAIL)                                     \
    __m512 acc = _mm512_setzero_ps();                                                     \
    float mins = 0.0f;                                                                    \
    const int64_t nb = n / MOE_QK;                                                        \
    int64_t i = 0;                                                                        \
    for (; i + 2 <= nb; i += 2) {                                                         \
        const __m512 d = ck_two_scales(ck_half_f16c(A[i].d) * ck_half_f16c(B[i].d),                 \
                                       ck_half_f16c(A[i + 1].d) * ck_half_f16c(B[i + 1].d));        \
        const __m512i p = DOT(ck_join_i(VALUES(i), VALUES(i + 1)), ck_q8_pair(B[i].qs, B[i + 1].qs)); \
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(p), acc);                             \
        mins += MIN(i) + MIN(i + 1);                                                      \
    }                                                                                     \
    float sum = _mm512_reduce_add_ps(acc) + mins;                                         \
    if (i < nb) sum += TAIL(&A[i], &B[i], MOE_QK);                                         \
    return sum;

#define CK_NO_MIN(k) 0.0f

// The classic quants' one-row dots are AVX2's at every level: AVX-512
// versions built on CK_DOT512_LOOP (two blocks per register, one
// accumulator chain, the four f16 scales of a pair converted one by one)
// measured 1.2-2.8x slower in cache on AMD EPYC Zen 4 (Q8_0 2.83 against
// 1.09 ns a block) and were removed.

// ---- float types ------------------------------------------------------------

CK_AVX512 float moe_dot_f32_f32_avx512(const void *x, const void *y, int64_t n) {
    const float *a = x, *b = y;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    return sum + moe_dot_f32_f32_avx2(a + i, b + i, n - i);
}

CK_AVX512 static inline __m512 ck_load16_f16(const uint16_t *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

CK_AVX512 float moe_dot_f16_f16_avx512(const void *x, const void *y, int64_t n) {
    const uint16_t *a = x, *b = y;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(ck_load16_f16(a + i), ck_load16_f16(b + i), s0);
        s1 = _mm512_fmadd_ps(ck_load16_f16(a + i + 16), ck_load16_f16(b + i + 16), s1);
    }
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    return sum + moe_dot_f16_f16_avx2(a + i, b + i, n - i);
}

CK_AVX512 static inline __m512 ck_load16_bf16(const uint16_t *p) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}

CK_AVX512 float moe_dot_bf16_bf16_avx512(const void *x, const void *y, int64_t n) {
    const uint16_t *a = x, *b = y;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(ck_load16_bf16(a + i), ck_load16_bf16(b + i), s0);
        s1 = _mm512_fmadd_ps(ck_load16_bf16(a + i + 16), ck_load16_bf16(b + i + 16), s1);
    }
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    return sum + moe_dot_bf16_bf16_avx2(a + i, b + i, n - i);
}
