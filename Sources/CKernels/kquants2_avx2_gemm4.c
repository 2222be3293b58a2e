// AVX2 four-activation-row products (gemm4) of Q2_K, Q3_K and IQ4_XS:
// each 32-weight run is unpacked once and multiplied with the same 32
// values of four q8_K rows; y_scales are the rows' d per block
// (moe_act_scales4_q8_K). As the one-row dots (kquants2_avx2.c) otherwise.
#include "kquants2_multi.h"
#include "kquants2_x86.h"

#define ROWS4(b, y, y_stride, i)                                                              \
    const moe_block_q8_K *const b[4] = {                                                      \
        (const moe_block_q8_K *)((const uint8_t *)(y) + 0 * (y_stride)) + (i),                \
        (const moe_block_q8_K *)((const uint8_t *)(y) + 1 * (y_stride)) + (i),                \
        (const moe_block_q8_K *)((const uint8_t *)(y) + 2 * (y_stride)) + (i),                \
        (const moe_block_q8_K *)((const uint8_t *)(y) + 3 * (y_stride)) + (i)}

// Σ v16[s] · bsums[s] over the 16 sub-blocks of each of four rows, as floats.
KQ2_AVX2 static inline __m128 bsum_terms4(__m256i v16, const moe_block_q8_K *const b[4]) {
    __m256i m[4];
    for (int j = 0; j < 4; j++) m[j] = _mm256_madd_epi16(v16, _mm256_loadu_si256((const __m256i *)b[j]->bsums));
    const __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(m[0], m[1]), _mm256_hadd_epi32(m[2], m[3]));
    return _mm_cvtepi32_ps(_mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1)));
}

KQ2_AVX2 static inline __m128 hsum4(const __m256 a[4]) {
    const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

// acc[j] += d·dy[j] · s[j] for the four rows.
KQ2_AVX2 static inline void scale_into(__m256 acc[4], const __m256i s[4], float d, const float *dy) {
    for (int j = 0; j < 4; j++) acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(d * dy[j]), _mm256_cvtepi32_ps(s[j]), acc[j]);
}

// Unsigned weights w (one run of 32) with lane scales s, into four rows' sums.
KQ2_AVX2 static inline void run4(__m256i s4[4], __m256i w, __m256i scale, const moe_block_q8_K *const b[4], int off) {
    for (int j = 0; j < 4; j++) {
        const __m256i a = _mm256_loadu_si256((const __m256i *)(b[j]->qs + off));
        s4[j] = _mm256_add_epi32(s4[j], _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), scale));
    }
}

KQ2_AVX2 void moe_gemm4_q2_K_q8_K_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales,
                                       float *out, int64_t n) {
    const moe_block_q2_K *xb = (const moe_block_q2_K *)x;
    const __m128i low4 = _mm_set1_epi8(0x0f);
    const __m256i three = _mm256_set1_epi8(3);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    __m128 acc_min = _mm_setzero_ps();
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        ROWS4(b, y, y_stride, i);
        const __m128i sc = _mm_loadu_si128((const __m128i *)xb[i].scales);
        const __m256i scales16 = _mm256_cvtepu8_epi16(_mm_and_si128(sc, low4));
        const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), low4));
        __m256i s[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
        for (int half = 0; half < 2; half++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(xb[i].qs + 32 * half));
            for (int g = 0; g < 4; g++) {
                const __m256i w = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * g), three);
                run4(s, w, kq2_run_scales(scales16, 8 * half + 2 * g), b, 128 * half + 32 * g);
            }
        }
        const float *dy = y_scales + 4 * i;
        scale_into(acc, s, _cvtsh_ss(xb[i].d), dy);
        const __m128 dmin = _mm_mul_ps(_mm_set1_ps(_cvtsh_ss(xb[i].dmin)), _mm_loadu_ps(dy));
        acc_min = _mm_fmadd_ps(dmin, bsum_terms4(mins16, b), acc_min);
    }
    _mm_storeu_ps(out, _mm_sub_ps(hsum4(acc), acc_min));
}

KQ2_AVX2 void moe_gemm4_q3_K_q8_K_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales,
                                       float *out, int64_t n) {
    const moe_block_q3_K *xb = (const moe_block_q3_K *)x;
    const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    __m128 acc_offset = _mm_setzero_ps();
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        ROWS4(b, y, y_stride, i);
        int8_t sc[16];
        kq2_q3_K_scales(xb[i].scales, sc);
        const __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
        const __m256i hmask = _mm256_loadu_si256((const __m256i *)xb[i].hmask);
        __m256i s[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
        for (int half = 0; half < 2; half++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(xb[i].qs + 32 * half));
            for (int g = 0; g < 4; g++) {
                const int run = 4 * half + g;
                const __m256i high = _mm256_and_si256(_mm256_srli_epi16(hmask, run), one);
                const __m256i w = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 2 * g), three),
                                                  _mm256_slli_epi16(high, 2));
                run4(s, w, kq2_run_scales(scales16, 2 * run), b, 32 * run);
            }
        }
        const float d = _cvtsh_ss(xb[i].d), *dy = y_scales + 4 * i;
        scale_into(acc, s, d, dy);
        // weights were unpacked as q + 4: 4·d·Σ scale·bsum comes off
        acc_offset = _mm_fmadd_ps(_mm_mul_ps(_mm_set1_ps(4 * d), _mm_loadu_ps(dy)), bsum_terms4(scales16, b), acc_offset);
    }
    _mm_storeu_ps(out, _mm_sub_ps(hsum4(acc), acc_offset));
}

KQ2_AVX2 void moe_gemm4_iq4_xs_q8_K_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales,
                                         float *out, int64_t n) {
    const moe_block_iq4_xs *xb = (const moe_block_iq4_xs *)x;
    const __m256i table = kq2_iq4_table();
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        ROWS4(b, y, y_stride, i);
        int16_t sc[8];
        kq2_iq4_xs_scales(&xb[i], sc);
        __m256i s[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
        for (int ib = 0; ib < 8; ib++) {
            const __m256i w = _mm256_shuffle_epi8(table, kq2_iq4_run(xb[i].qs + 16 * ib));
            const __m256i abs_w = _mm256_sign_epi8(w, w), scale = _mm256_set1_epi16(sc[ib]);
            for (int j = 0; j < 4; j++) {
                const __m256i a = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(b[j]->qs + 32 * ib)), w);
                s[j] = _mm256_add_epi32(s[j], _mm256_madd_epi16(_mm256_maddubs_epi16(abs_w, a), scale));
            }
        }
        scale_into(acc, s, _cvtsh_ss(xb[i].d), y_scales + 4 * i);
    }
    _mm_storeu_ps(out, hsum4(acc));
}
