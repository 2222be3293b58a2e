// Body of the AVX-512 Q2_K / Q3_K / IQ4 dots, included twice by
// kquants2_avx512.c: for AVX-512 F + BW (KQ2_DOTW = madd, add; KQ2_DOTB =
// maddubs, madd by ones) and with VNNI (vpdpwssd; vpdpbusd). Define
// KQ2_TARGET, KQ2_NAME(base), KQ2_DOTW(acc, pairs16, scales16) and
// KQ2_DOTB(acc, u8, s8) before including.
//
// One 512-bit register holds 64 weights lined up with 64 consecutive
// activations: four Q2_K/Q3_K sub-blocks of 16, or two IQ4_XS sub-blocks of
// 32, or two IQ4_NL blocks.

// i16 lane l = scales16[first + l / 8] (four sub-blocks of 16).
KQ2_TARGET static inline __m512i KQ2_NAME(quad_scales)(__m512i scales16, int first) {
    const __m512i lanes = _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16,
                                           15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i index = _mm512_add_epi16(_mm512_set1_epi16((int16_t)first), _mm512_srli_epi16(lanes, 3));
    return _mm512_permutexvar_epi16(index, scales16);
}

// Two 256-bit halves as one register.
KQ2_TARGET static inline __m512i KQ2_NAME(join)(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// 2-bit lanes g and g + 1 of 32 qs bytes: weights of runs g, g + 1.
KQ2_TARGET static inline __m512i KQ2_NAME(crumbs)(__m256i bits, int g) {
    const __m256i three = _mm256_set1_epi8(3);
    return KQ2_NAME(join)(_mm256_and_si256(_mm256_srli_epi16(bits, 2 * g), three),
                          _mm256_and_si256(_mm256_srli_epi16(bits, 2 * g + 2), three));
}

// Signed IQ4 levels times signed activations: |w| with a given w's sign
// (AVX-512 has no vpsignb: negate a where w < 0).
KQ2_TARGET static inline __m512i KQ2_NAME(abs_w)(__m512i w) { return _mm512_abs_epi8(w); }
KQ2_TARGET static inline __m512i KQ2_NAME(signed_a)(__m512i a, __m512i w) {
    return _mm512_mask_sub_epi8(a, _mm512_movepi8_mask(w), _mm512_setzero_si512(), a);
}

KQ2_TARGET float KQ2_NAME(dot_q2_K)(const void *x, const void *y, int64_t n) {
    const moe_block_q2_K *xb = (const moe_block_q2_K *)x;
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;
    const __m128i low4 = _mm_set1_epi8(0x0f);
    __m512 acc = _mm512_setzero_ps();
    __m256 acc_min = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        const __m128i sc = _mm_loadu_si128((const __m128i *)xb[i].scales);
        const __m512i scales16 = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_and_si128(sc, low4)));
        const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), low4));
        const __m256i mins = _mm256_madd_epi16(mins16, _mm256_loadu_si256((const __m256i *)yb[i].bsums));
        acc_min = _mm256_fmadd_ps(_mm256_set1_ps(yb[i].d * _cvtsh_ss(xb[i].dmin)), _mm256_cvtepi32_ps(mins), acc_min);
        __m512i sumi = _mm512_setzero_si512();
        for (int half = 0; half < 2; half++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(xb[i].qs + 32 * half));
            for (int g = 0; g < 4; g += 2) {
                const __m512i w = KQ2_NAME(crumbs)(bits, g);
                const __m512i a = _mm512_loadu_si512(yb[i].qs + 128 * half + 32 * g);
                sumi = KQ2_DOTW(sumi, _mm512_maddubs_epi16(w, a), KQ2_NAME(quad_scales)(scales16, 8 * half + 2 * g));
            }
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(yb[i].d * _cvtsh_ss(xb[i].d)), _mm512_cvtepi32_ps(sumi), acc);
    }
    return _mm512_reduce_add_ps(acc) - kq2_hsum_ps(acc_min);
}

KQ2_TARGET float KQ2_NAME(dot_q3_K)(const void *x, const void *y, int64_t n) {
    const moe_block_q3_K *xb = (const moe_block_q3_K *)x;
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;
    const __m256i one = _mm256_set1_epi8(1);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        int8_t sc[16];
        kq2_q3_K_scales(xb[i].scales, sc);
        const __m256i sc256 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
        const __m512i scales16 = _mm512_castsi256_si512(sc256);
        // weights are stored as q + 4: −4 · Σ scale · bsum starts the sum
        const __m256i offset = _mm256_madd_epi16(sc256, _mm256_loadu_si256((const __m256i *)yb[i].bsums));
        __m512i sumi = _mm512_zextsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 2)));
        const __m256i hmask = _mm256_loadu_si256((const __m256i *)xb[i].hmask);
        for (int half = 0; half < 2; half++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(xb[i].qs + 32 * half));
            for (int g = 0; g < 4; g += 2) {
                const int run = 4 * half + g;
                const __m512i high = KQ2_NAME(join)(_mm256_and_si256(_mm256_srli_epi16(hmask, run), one),
                                                    _mm256_and_si256(_mm256_srli_epi16(hmask, run + 1), one));
                const __m512i w = _mm512_or_si512(KQ2_NAME(crumbs)(bits, g), _mm512_slli_epi16(high, 2));
                const __m512i a = _mm512_loadu_si512(yb[i].qs + 32 * run);
                sumi = KQ2_DOTW(sumi, _mm512_maddubs_epi16(w, a), KQ2_NAME(quad_scales)(scales16, 2 * run));
            }
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(yb[i].d * _cvtsh_ss(xb[i].d)), _mm512_cvtepi32_ps(sumi), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

KQ2_TARGET float KQ2_NAME(dot_iq4_xs)(const void *x, const void *y, int64_t n) {
    const moe_block_iq4_xs *xb = (const moe_block_iq4_xs *)x;
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;
    const __m512i table = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)moe_iq4nl_values));
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        int16_t sc[8];
        kq2_iq4_xs_scales(&xb[i], sc);
        __m512i sumi = _mm512_setzero_si512();
        for (int ib = 0; ib < 8; ib += 2) {
            const __m512i idx = KQ2_NAME(join)(kq2_iq4_run(xb[i].qs + 16 * ib), kq2_iq4_run(xb[i].qs + 16 * ib + 16));
            const __m512i w = _mm512_shuffle_epi8(table, idx);
            const __m512i a = _mm512_loadu_si512(yb[i].qs + 32 * ib);
            const __m512i s = KQ2_NAME(join)(_mm256_set1_epi16(sc[ib]), _mm256_set1_epi16(sc[ib + 1]));
            sumi = KQ2_DOTW(sumi, _mm512_maddubs_epi16(KQ2_NAME(abs_w)(w), KQ2_NAME(signed_a)(a, w)), s);
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(yb[i].d * _cvtsh_ss(xb[i].d)), _mm512_cvtepi32_ps(sumi), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

KQ2_TARGET float KQ2_NAME(dot_iq4_nl)(const void *x, const void *y, int64_t n) {
    const moe_block_iq4_nl *xb = (const moe_block_iq4_nl *)x;
    const moe_block_q8_0 *yb = (const moe_block_q8_0 *)y;
    const __m512i table = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)moe_iq4nl_values));
    const int64_t nb = n / MOE_QK4_NL;
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const __m512i w = _mm512_shuffle_epi8(table, KQ2_NAME(join)(kq2_iq4_run(xb[i].qs), kq2_iq4_run(xb[i + 1].qs)));
        const __m512i a = KQ2_NAME(join)(_mm256_loadu_si256((const __m256i *)yb[i].qs),
                                         _mm256_loadu_si256((const __m256i *)yb[i + 1].qs));
        const __m512i s = KQ2_DOTB(_mm512_setzero_si512(), KQ2_NAME(abs_w)(w), KQ2_NAME(signed_a)(a, w));
        // lanes 0-7 block i's scale, 8-15 block i + 1's (insertf64x4: F only, no DQ)
        const __m512d d0 = _mm512_castps_pd(_mm512_set1_ps(_cvtsh_ss(xb[i].d) * _cvtsh_ss(yb[i].d)));
        const __m256d d1 = _mm256_castps_pd(_mm256_set1_ps(_cvtsh_ss(xb[i + 1].d) * _cvtsh_ss(yb[i + 1].d)));
        const __m512 d = _mm512_castpd_ps(_mm512_insertf64x4(d0, d1, 1));
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(s), acc);
    }
    float sum = _mm512_reduce_add_ps(acc);
    // an odd last block
    if (i < nb) sum += moe_dot_iq4_nl_q8_0_avx2(&xb[i], &yb[i], MOE_QK4_NL);
    return sum;
}

#include "kquants2_gemm4_body.h"
