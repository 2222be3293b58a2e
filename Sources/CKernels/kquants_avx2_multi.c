// AVX2 multi-row K-quant products: four activation rows per weight row
// (gemm4: prompt tiles, batched decoding) and four weight rows per
// activation row (dotr4: decoding).
//
// The integer work is the one-row kernels' (kquants_avx2.c, after ggml):
// maddubs of unsigned weights with signed q8_K values, madd by the
// sub-block's integer scale, one float conversion per 256-value block. What
// changes is what is shared: gemm4 unpacks a weight block and its scales
// once for four activation rows; dotr4 loads the activation block and its
// bsums once for four weight rows. Mins (Q4_K, Q5_K) come from the bsums,
// summed for four rows in one vector [Σ0, Σ1, Σ2, Σ3] and scaled by one
// multiply; Q6_K's offset of 32 likewise. Results equal the one-row
// reference up to float summation order.
//
// No i16 overflow: weights ≤ 63, |activation| ≤ 127 (q8_K never writes
// -128 as its largest magnitude maps to -127), a maddubs pair ≤ 16002.
#include "kquants_x86.h"

KQ_AVX2 static inline __m256i kq_run(__m256i w, const int8_t *act, __m256i scale) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, _mm256_loadu_si256((const __m256i *)act)), scale);
}

// Q4_K/Q5_K weights of 64-value chunk c: lo (sub-block 2c) and hi (2c+1);
// Q5_K adds the fifth bit from hbits, shifted down two bits per chunk.
KQ_AVX2 static inline void kq_q4_chunk(const uint8_t *qs, int c, __m256i *lo, __m256i *hi) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i bits = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
    *lo = _mm256_and_si256(bits, low4);
    *hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), low4);
}

KQ_AVX2 static inline void kq_add_fifth_bit(__m256i hbits, int c, __m256i *lo, __m256i *hi) {
    const __m256i one = _mm256_set1_epi8(1);
    const __m256i h = _mm256_srli_epi16(hbits, 2 * c);
    *lo = _mm256_or_si256(*lo, _mm256_slli_epi16(_mm256_and_si256(h, one), 4));
    *hi = _mm256_or_si256(*hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 1), one), 4));
}

// One Q4_K (five_bit = 0) or Q5_K weight block against four activation rows.
#define KQ_GEMM4_Q45(T, FIVE_BIT)                                                                  \
    const T *xb = (const T *)x;                                                                    \
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;                      \
    __m128 acc_min = _mm_setzero_ps();                                                             \
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {                                                   \
        const kq_scales_mins sm = kq_unpack_scales_mins(xb[i].scales);                             \
        const uint8_t *sc = sm.b, *mn = sm.b + 8;                                           \
        const moe_block_q8_K *b0 = KQ_ROW(moe_block_q8_K, y, y_stride, 0, i);                      \
        const moe_block_q8_K *b1 = KQ_ROW(moe_block_q8_K, y, y_stride, 1, i);                      \
        const moe_block_q8_K *b2 = KQ_ROW(moe_block_q8_K, y, y_stride, 2, i);                      \
        const moe_block_q8_K *b3 = KQ_ROW(moe_block_q8_K, y, y_stride, 3, i);                      \
        __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;                            \
        for (int c = 0; c < 4; c++) {                                                              \
            __m256i lo, hi;                                                                        \
            kq_q4_chunk(xb[i].qs, c, &lo, &hi);                                                    \
            if (FIVE_BIT) kq_add_fifth_bit(_mm256_loadu_si256((const __m256i *)KQ_QH(&xb[i])), c, &lo, &hi); \
            const __m256i sl = _mm256_set1_epi16(sc[2 * c]), sh = _mm256_set1_epi16(sc[2 * c + 1]); \
            const int o = 64 * c;                                                                  \
            s0 = _mm256_add_epi32(s0, _mm256_add_epi32(kq_run(lo, b0->qs + o, sl), kq_run(hi, b0->qs + o + 32, sh))); \
            s1 = _mm256_add_epi32(s1, _mm256_add_epi32(kq_run(lo, b1->qs + o, sl), kq_run(hi, b1->qs + o + 32, sh))); \
            s2 = _mm256_add_epi32(s2, _mm256_add_epi32(kq_run(lo, b2->qs + o, sl), kq_run(hi, b2->qs + o + 32, sh))); \
            s3 = _mm256_add_epi32(s3, _mm256_add_epi32(kq_run(lo, b3->qs + o, sl), kq_run(hi, b3->qs + o + 32, sh))); \
        }                                                                                          \
        const float d = _cvtsh_ss(xb[i].d), dmin = _cvtsh_ss(xb[i].dmin);                          \
        const float *dy = y_scales + 4 * i;                                                        \
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d * dy[0]), _mm256_cvtepi32_ps(s0), acc0);           \
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(d * dy[1]), _mm256_cvtepi32_ps(s1), acc1);           \
        acc2 = _mm256_fmadd_ps(_mm256_set1_ps(d * dy[2]), _mm256_cvtepi32_ps(s2), acc2);           \
        acc3 = _mm256_fmadd_ps(_mm256_set1_ps(d * dy[3]), _mm256_cvtepi32_ps(s3), acc3);           \
        const __m128 mins = kq_min_terms4(kq_mins_twice(mn), b0->bsums, b1->bsums, b2->bsums, b3->bsums); \
        acc_min = _mm_fmadd_ps(_mm_mul_ps(_mm_set1_ps(dmin), _mm_loadu_ps(dy)), mins, acc_min);    \
    }                                                                                              \
    _mm_storeu_ps(out, _mm_sub_ps(kq_hsum4(acc0, acc1, acc2, acc3), acc_min));

KQ_AVX2 void moe_gemm4_q4_K_q8_K_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales,
                                      float *out, int64_t n) {
    KQ_GEMM4_Q45(moe_block_q4_K, 0)
}

KQ_AVX2 void moe_gemm4_q5_K_q8_K_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales,
                                      float *out, int64_t n) {
    KQ_GEMM4_Q45(moe_block_q5_K, 1)
}

// Q6_K run k (0-3) of a 128-value half: 32 weights 0..63 (stored q + 32).
KQ_AVX2 static inline __m256i kq_q6_run(__m256i ql_a, __m256i ql_b, __m256i qh, int k) {
    const __m256i low4 = _mm256_set1_epi8(0x0f), three = _mm256_set1_epi8(3);
    const __m256i ql = (k & 1) ? ql_b : ql_a;
    const __m256i nib = (k & 2) ? _mm256_and_si256(_mm256_srli_epi16(ql, 4), low4) : _mm256_and_si256(ql, low4);
    const __m256i top = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), three);
    return _mm256_or_si256(nib, _mm256_slli_epi16(top, 4));
}

// Sub-block scales a (bytes 0-15 of a run) and b (bytes 16-31) as i16 lanes.
KQ_AVX2 static inline __m256i kq_pair_scale(int a, int b) {
    return _mm256_set_m128i(_mm_set1_epi16((int16_t)b), _mm_set1_epi16((int16_t)a));
}

KQ_AVX2 void moe_gemm4_q6_K_q8_K_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales,
                                      float *out, int64_t n) {
    const moe_block_q6_K *xb = (const moe_block_q6_K *)x;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        const int8_t *sc = xb[i].scales;
        const moe_block_q8_K *b0 = KQ_ROW(moe_block_q8_K, y, y_stride, 0, i);
        const moe_block_q8_K *b1 = KQ_ROW(moe_block_q8_K, y, y_stride, 1, i);
        const moe_block_q8_K *b2 = KQ_ROW(moe_block_q8_K, y, y_stride, 2, i);
        const moe_block_q8_K *b3 = KQ_ROW(moe_block_q8_K, y, y_stride, 3, i);
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
        __m256i s0 = kq_q6_offset(sc16, b0->bsums), s1 = kq_q6_offset(sc16, b1->bsums);
        __m256i s2 = kq_q6_offset(sc16, b2->bsums), s3 = kq_q6_offset(sc16, b3->bsums);
        for (int half = 0; half < 2; half++) {
            const uint8_t *ql = xb[i].ql + 64 * half;
            const __m256i ql_a = _mm256_loadu_si256((const __m256i *)ql);
            const __m256i ql_b = _mm256_loadu_si256((const __m256i *)(ql + 32));
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(xb[i].qh + 32 * half));
            for (int k = 0; k < 4; k++) {
                const __m256i w = kq_q6_run(ql_a, ql_b, qh, k);
                const __m256i s = kq_pair_scale(sc[8 * half + 2 * k], sc[8 * half + 2 * k + 1]);
                const int o = 128 * half + 32 * k;
                s0 = _mm256_add_epi32(s0, kq_run(w, b0->qs + o, s));
                s1 = _mm256_add_epi32(s1, kq_run(w, b1->qs + o, s));
                s2 = _mm256_add_epi32(s2, kq_run(w, b2->qs + o, s));
                s3 = _mm256_add_epi32(s3, kq_run(w, b3->qs + o, s));
            }
        }
        const float d = _cvtsh_ss(xb[i].d);
        const float *dy = y_scales + 4 * i;
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d * dy[0]), _mm256_cvtepi32_ps(s0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(d * dy[1]), _mm256_cvtepi32_ps(s1), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_set1_ps(d * dy[2]), _mm256_cvtepi32_ps(s2), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_set1_ps(d * dy[3]), _mm256_cvtepi32_ps(s3), acc3);
    }
    _mm_storeu_ps(out, kq_hsum4(acc0, acc1, acc2, acc3));
}

// ---- four weight rows, one activation row (decode) ---------------------------

// Weight row j's Q4_K/Q5_K block i against activation block b: the scaled
// i32 sums (for d) and, through mins_out, the min terms (for dmin).
#define KQ_Q45_ROW_SUMS(T, FIVE_BIT, a, b, bsum_pairs, sumi, mins_out)                           \
    do {                                                                                           \
        const kq_scales_mins sm = kq_unpack_scales_mins((a)->scales);                             \
        const uint8_t *sc = sm.b, *mn = sm.b + 8;                                            \
        sumi = _mm256_setzero_si256();                                                             \
        for (int c = 0; c < 4; c++) {                                                              \
            __m256i lo, hi;                                                                        \
            kq_q4_chunk((a)->qs, c, &lo, &hi);                                                     \
            if (FIVE_BIT) kq_add_fifth_bit(_mm256_loadu_si256((const __m256i *)KQ_QH(a)), c, &lo, &hi); \
            sumi = _mm256_add_epi32(sumi, kq_run(lo, (b)->qs + 64 * c, _mm256_set1_epi16(sc[2 * c]))); \
            sumi = _mm256_add_epi32(sumi, kq_run(hi, (b)->qs + 64 * c + 32, _mm256_set1_epi16(sc[2 * c + 1]))); \
        }                                                                                          \
        mins_out = _mm_madd_epi16(bsum_pairs, _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)mn))); \
    } while (0)

#define KQ_DOTR4_Q45(T, FIVE_BIT)                                                                  \
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;                                          \
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
    __m128 acc_min = _mm_setzero_ps();                                                             \
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {                                                   \
        const moe_block_q8_K *b = yb + i;                                                          \
        const __m128i pairs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)b->bsums),          \
                                             _mm_loadu_si128((const __m128i *)(b->bsums + 8)));    \
        __m128i m[4];                                                                              \
        float dmin[4];                                                                             \
        for (int j = 0; j < 4; j++) {                                                              \
            const T *a = KQ_ROW(T, x, x_stride, j, i);                                             \
            KQ_PREFETCH_BLOCK(a, (int)sizeof(T), x_stride);                                        \
            __m256i sumi;                                                                          \
            KQ_Q45_ROW_SUMS(T, FIVE_BIT, a, b, pairs, sumi, m[j]);                                 \
            acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(a->d) * b->d), _mm256_cvtepi32_ps(sumi), acc[j]); \
            dmin[j] = _cvtsh_ss(a->dmin);                                                          \
        }                                                                                          \
        const __m128 dmins = _mm_mul_ps(_mm_loadu_ps(dmin), _mm_set1_ps(b->d));                    \
        acc_min = _mm_fmadd_ps(dmins, kq_sum4_i32(m[0], m[1], m[2], m[3]), acc_min);               \
    }                                                                                              \
    _mm_storeu_ps(out, _mm_sub_ps(kq_hsum4(acc[0], acc[1], acc[2], acc[3]), acc_min));

KQ_AVX2 void moe_dotr4_q4_K_q8_K_avx2(const void *x, size_t x_stride, const void *y, float *out, int64_t n) {
    KQ_DOTR4_Q45(moe_block_q4_K, 0)
}

KQ_AVX2 void moe_dotr4_q5_K_q8_K_avx2(const void *x, size_t x_stride, const void *y, float *out, int64_t n) {
    KQ_DOTR4_Q45(moe_block_q5_K, 1)
}

KQ_AVX2 void moe_dotr4_q6_K_q8_K_avx2(const void *x, size_t x_stride, const void *y, float *out, int64_t n) {
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        const moe_block_q8_K *b = yb + i;
        for (int j = 0; j < 4; j++) {
            const moe_block_q6_K *a = KQ_ROW(moe_block_q6_K, x, x_stride, j, i);
            KQ_PREFETCH_BLOCK(a, (int)sizeof *a, x_stride);
            const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a->scales));
            __m256i sumi = kq_q6_offset(sc16, b->bsums);
            for (int half = 0; half < 2; half++) {
                const uint8_t *ql = a->ql + 64 * half;
                const __m256i ql_a = _mm256_loadu_si256((const __m256i *)ql);
                const __m256i ql_b = _mm256_loadu_si256((const __m256i *)(ql + 32));
                const __m256i qh = _mm256_loadu_si256((const __m256i *)(a->qh + 32 * half));
                for (int k = 0; k < 4; k++) {
                    const __m256i s = kq_pair_scale(a->scales[8 * half + 2 * k], a->scales[8 * half + 2 * k + 1]);
                    sumi = _mm256_add_epi32(sumi, kq_run(kq_q6_run(ql_a, ql_b, qh, k), b->qs + 128 * half + 32 * k, s));
                }
            }
            acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(a->d) * b->d), _mm256_cvtepi32_ps(sumi), acc[j]);
        }
    }
    _mm_storeu_ps(out, kq_hsum4(acc[0], acc[1], acc[2], acc[3]));
}
