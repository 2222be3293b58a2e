// AVX2 dot products of Q2_K, Q3_K, IQ4_XS (× Q8_K) and IQ4_NL (× Q8_0).
//
// As the other K-quant kernels: weights unpacked to bytes, multiplied with
// the activations by maddubs (i16 pair sums), weighted per sub-block by
// madd with the integer scales (i32), converted to float once per block.
// Offsets are moved onto the activation block sums: Q2_K's minimums and
// Q3_K's −4 (its weights are stored as q + 4 in 0..7). The IQ4 levels are
// signed, so they go through maddubs with the sign moved onto the
// activations (kq2_signed_pairs).
#include "kquants2_x86.h"

KQ2_AVX2 float moe_dot_q2_K_q8_K_avx2(const void *x, const void *y, int64_t n) {
    const moe_block_q2_K *xb = (const moe_block_q2_K *)x;
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;
    const __m128i low4 = _mm_set1_epi8(0x0f);
    const __m256i three = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps(), acc_min = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        const __m128i sc = _mm_loadu_si128((const __m128i *)xb[i].scales);
        const __m256i scales16 = _mm256_cvtepu8_epi16(_mm_and_si128(sc, low4));
        const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), low4));
        const __m256i mins = _mm256_madd_epi16(mins16, _mm256_loadu_si256((const __m256i *)yb[i].bsums));
        const float dmin = yb[i].d * _cvtsh_ss(xb[i].dmin);
        acc_min = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(mins), acc_min);

        __m256i sumi = _mm256_setzero_si256();
        for (int half = 0; half < 2; half++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(xb[i].qs + 32 * half));
            for (int g = 0; g < 4; g++) {
                const __m256i w = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * g), three);
                const __m256i a = _mm256_loadu_si256((const __m256i *)(yb[i].qs + 128 * half + 32 * g));
                const __m256i s = kq2_run_scales(scales16, 8 * half + 2 * g);
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), s));
            }
        }
        const float d = yb[i].d * _cvtsh_ss(xb[i].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return kq2_hsum_ps(acc) - kq2_hsum_ps(acc_min);
}

KQ2_AVX2 float moe_dot_q3_K_q8_K_avx2(const void *x, const void *y, int64_t n) {
    const moe_block_q3_K *xb = (const moe_block_q3_K *)x;
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;
    const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        int8_t sc[16];
        kq2_q3_K_scales(xb[i].scales, sc);
        const __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
        // −4 · Σ scale · (activation sum of its 16 values)
        const __m256i offset = _mm256_madd_epi16(scales16, _mm256_loadu_si256((const __m256i *)yb[i].bsums));
        __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 2));
        const __m256i hmask = _mm256_loadu_si256((const __m256i *)xb[i].hmask);
        for (int half = 0; half < 2; half++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(xb[i].qs + 32 * half));
            for (int g = 0; g < 4; g++) {
                const int run = 4 * half + g;  // hmask bit of this run of 32
                const __m256i high = _mm256_and_si256(_mm256_srli_epi16(hmask, run), one);
                const __m256i w = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 2 * g), three),
                                                  _mm256_slli_epi16(high, 2));
                const __m256i a = _mm256_loadu_si256((const __m256i *)(yb[i].qs + 32 * run));
                const __m256i s = kq2_run_scales(scales16, 2 * run);
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), s));
            }
        }
        const float d = yb[i].d * _cvtsh_ss(xb[i].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return kq2_hsum_ps(acc);
}

KQ2_AVX2 float moe_dot_iq4_xs_q8_K_avx2(const void *x, const void *y, int64_t n) {
    const moe_block_iq4_xs *xb = (const moe_block_iq4_xs *)x;
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;
    const __m256i table = kq2_iq4_table();
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        int16_t sc[8];
        kq2_iq4_xs_scales(&xb[i], sc);
        __m256i sumi = _mm256_setzero_si256();
        for (int ib = 0; ib < 8; ib++) {
            const __m256i w = _mm256_shuffle_epi8(table, kq2_iq4_run(xb[i].qs + 16 * ib));
            const __m256i a = _mm256_loadu_si256((const __m256i *)(yb[i].qs + 32 * ib));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(kq2_signed_pairs(w, a), _mm256_set1_epi16(sc[ib])));
        }
        const float d = yb[i].d * _cvtsh_ss(xb[i].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return kq2_hsum_ps(acc);
}

// One IQ4_NL block × one Q8_0 block as 8 i32 partial sums.
KQ2_AVX2 static inline __m256i iq4_nl_block(__m256i table, const moe_block_iq4_nl *x, const moe_block_q8_0 *y) {
    const __m256i w = _mm256_shuffle_epi8(table, kq2_iq4_run(x->qs));
    const __m256i a = _mm256_loadu_si256((const __m256i *)y->qs);
    return _mm256_madd_epi16(kq2_signed_pairs(w, a), _mm256_set1_epi16(1));
}

KQ2_AVX2 float moe_dot_iq4_nl_q8_0_avx2(const void *x, const void *y, int64_t n) {
    const moe_block_iq4_nl *xb = (const moe_block_iq4_nl *)x;
    const moe_block_q8_0 *yb = (const moe_block_q8_0 *)y;
    const __m256i table = kq2_iq4_table();
    const int64_t nb = n / MOE_QK4_NL;
    // two accumulators so consecutive blocks' multiply-adds overlap
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const __m256i s0 = iq4_nl_block(table, &xb[i], &yb[i]);
        const __m256i s1 = iq4_nl_block(table, &xb[i + 1], &yb[i + 1]);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(xb[i].d) * _cvtsh_ss(yb[i].d)), _mm256_cvtepi32_ps(s0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(xb[i + 1].d) * _cvtsh_ss(yb[i + 1].d)),
                               _mm256_cvtepi32_ps(s1), acc1);
    }
    if (i < nb) {
        const __m256i s0 = iq4_nl_block(table, &xb[i], &yb[i]);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(xb[i].d) * _cvtsh_ss(yb[i].d)), _mm256_cvtepi32_ps(s0), acc0);
    }
    return kq2_hsum_ps(_mm256_add_ps(acc0, acc1));
}
