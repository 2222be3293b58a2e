#pragma once
// Private x86 helpers shared by the multi-row K-quant kernels
// (kquants_avx2_multi.c, kquants_avx512_multi.c). AVX2-targeted, so they
// inline into the AVX-512 functions too.
#include "kquants_internal.h"
#include <immintrin.h>

#define KQ_AVX2 __attribute__((target("avx2,fma,f16c")))

// Block i of the row `j` strides on from base.
#define KQ_ROW(T, base, stride, j, i) ((const T *)((const uint8_t *)(base) + (size_t)(j) * (stride)) + (i))
// Next call's rows (four on) are fetched ahead, every line of the block:
// four row streams side by side defeat the hardware prefetcher on matrices
// larger than the cache (without it dotr4 ran 2-4x slower; with only the
// block's first line, 2x).
#define KQ_PREFETCH_BLOCK(a, bytes, stride)                                             \
    for (int p_ = 0; p_ < (bytes); p_ += 64) _mm_prefetch((const char *)(a) + 4 * (stride) + p_, _MM_HINT_T0)

KQ_AVX2 static inline __m128 kq_hsum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

// Σ over 8 sub-blocks of mins16[s] · (bsums[2s] + bsums[2s+1]) as 4 i32.
KQ_AVX2 static inline __m128i kq_min_terms(__m128i mins16, const int16_t *bsums) {
    const __m128i pairs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)bsums),
                                         _mm_loadu_si128((const __m128i *)(bsums + 8)));
    return _mm_madd_epi16(pairs, mins16);
}

// Four rows' i32x4 partial sums reduced to one vector [Σ0, Σ1, Σ2, Σ3].
KQ_AVX2 static inline __m128 kq_sum4_i32(__m128i m0, __m128i m1, __m128i m2, __m128i m3) {
    return _mm_cvtepi32_ps(_mm_hadd_epi32(_mm_hadd_epi32(m0, m1), _mm_hadd_epi32(m2, m3)));
}

// Q5_K's fifth bits, read through a pointer typed for either block (the
// Q4_K expansion of the shared macros never executes it).
#define KQ_QH(a) (((const moe_block_q5_K *)(const void *)(a))->qh)

// -32 · Σ sc[s] · bsums[s] (Q6_K's offset) as 8 i32 partial sums.
KQ_AVX2 static inline __m256i kq_q6_offset(__m256i sc16, const int16_t *bsums) {
    const __m256i t = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)bsums));
    return _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(t, 5));
}


// Q4_K/Q5_K's 12 packed bytes to 8 scales (bytes 0-7 of the result) and 8
// mins (bytes 8-15) in 32-bit word operations (ggml's masks) instead of a
// byte loop: the same values as moe_kq_unpack_scales_mins.
typedef union { uint32_t u[4]; uint8_t b[16]; } kq_scales_mins;

static inline kq_scales_mins kq_unpack_scales_mins(const uint8_t packed[12]) {
    const uint32_t m6 = 0x3f3f3f3fu, m4 = 0x0f0f0f0fu, m2 = 0x03030303u;
    uint32_t p[3];
    memcpy(p, packed, 12);
    kq_scales_mins r;
    r.u[0] = p[0] & m6;
    r.u[1] = (p[2] & m4) | (((p[0] >> 6) & m2) << 4);
    r.u[2] = p[1] & m6;
    r.u[3] = ((p[2] >> 4) & m4) | (((p[1] >> 6) & m2) << 4);
    return r;
}

// Each of 8 mins twice (i16 lane 2s and 2s+1 = mins[s]), so one madd with
// a row's 16 bsums gives mins[s] · (bsums[2s] + bsums[2s+1]) with no hadd.
KQ_AVX2 static inline __m256i kq_mins_twice(const uint8_t mins[8]) {
    const __m128i twice = _mm_shuffle_epi8(_mm_loadl_epi64((const __m128i *)mins),
                                           _mm_set_epi8(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0));
    return _mm256_cvtepu8_epi16(twice);
}

// The min terms of four activation rows as floats [Σ0, Σ1, Σ2, Σ3].
KQ_AVX2 static inline __m128 kq_min_terms4(__m256i mins_twice, const int16_t *b0, const int16_t *b1,
                                           const int16_t *b2, const int16_t *b3) {
    const __m256i m0 = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)b0), mins_twice);
    const __m256i m1 = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)b1), mins_twice);
    const __m256i m2 = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)b2), mins_twice);
    const __m256i m3 = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)b3), mins_twice);
    const __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(m0, m1), _mm256_hadd_epi32(m2, m3));
    return _mm_cvtepi32_ps(_mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1)));
}
