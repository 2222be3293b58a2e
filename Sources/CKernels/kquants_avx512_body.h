// Body of the AVX-512 multi-row K-quant kernels, included twice by
// kquants_avx512_multi.c: once for AVX-512 F+BW (KQ_DOTW = madd + add) and
// once with VNNI (KQ_DOTW = vpdpwssd, the madd and the add in one
// instruction). Before including, define KQ_TARGET (function attribute),
// KQ_NAME(base) (the exported name) and KQ_DOTW(acc, pairs16, scales16).
//
// Layout per 512-bit register: 64 weights, i.e. two Q4_K/Q5_K sub-blocks of
// 32 (chunk c: low nibbles, then high nibbles of qs[32c…32c+31]) or four
// Q6_K sub-blocks of 16, lined up with 64 consecutive q8_K values. Each
// 16-bit lane of maddubs' output is weighted by its sub-block's scale,
// picked out of the block's scales with one vpermw.

// i16 lane l of the result = scales16[l / 16 + first] (two sub-blocks of 32).
KQ_TARGET static inline __m512i KQ_NAME(pair_scales)(__m512i scales16, int first) {
    const __m512i index = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16((int16_t)first)),
                                             _mm256_set1_epi16((int16_t)(first + 1)), 1);
    return _mm512_permutexvar_epi16(index, scales16);
}

// i16 lane l = scales16[l / 8 + first] (four Q6_K sub-blocks of 16).
KQ_TARGET static inline __m512i KQ_NAME(quad_scales)(__m512i scales16, int first) {
    const __m512i index = _mm512_add_epi16(_mm512_set1_epi16((int16_t)first),
                                           _mm512_srli_epi16(_mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24,
                                               23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8,
                                               7, 6, 5, 4, 3, 2, 1, 0), 3));
    return _mm512_permutexvar_epi16(index, scales16);
}

// Chunk c of a Q4_K/Q5_K block: 64 weights 0..15 (0..31 with hbits2, the
// fifth bits [qh | qh >> 1]).
KQ_TARGET static inline __m512i KQ_NAME(q45_chunk)(const uint8_t *qs, int c, const __m512i *hbits2) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i bits = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
    __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(bits, low4)),
                                   _mm256_and_si256(_mm256_srli_epi16(bits, 4), low4), 1);
    if (hbits2 != NULL) {
        const __m512i h = _mm512_and_si512(_mm512_srli_epi16(*hbits2, 2 * c), _mm512_set1_epi8(1));
        w = _mm512_or_si512(w, _mm512_slli_epi16(h, 4));
    }
    return w;
}

KQ_TARGET static inline __m512i KQ_NAME(fifth_bits)(const uint8_t *qh) {
    const __m256i h = _mm256_loadu_si256((const __m256i *)qh);
    return _mm512_inserti64x4(_mm512_castsi256_si512(h), _mm256_srli_epi16(h, 1), 1);
}

KQ_TARGET static inline __m512i KQ_NAME(scales_q45)(const uint8_t sc[8]) {
    return _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)sc)));
}

KQ_TARGET static inline __m128 KQ_NAME(hsum4)(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
    return _mm_set_ps(_mm512_reduce_add_ps(a3), _mm512_reduce_add_ps(a2), _mm512_reduce_add_ps(a1),
                      _mm512_reduce_add_ps(a0));
}

KQ_TARGET static inline __m512i KQ_NAME(run)(__m512i acc, __m512i w, const int8_t *act, __m512i scales) {
    return KQ_DOTW(acc, _mm512_maddubs_epi16(w, _mm512_loadu_si512(act)), scales);
}

// Q6_K pair p (0: runs 0-1, 1: runs 2-3) of a half: 64 weights 0..63.
KQ_TARGET static inline __m512i KQ_NAME(q6_pair)(__m512i ql, __m512i qh2, int p) {
    const __m512i low4 = _mm512_set1_epi8(0x0f), three = _mm512_set1_epi8(3);
    const __m512i nib = _mm512_and_si512(p ? _mm512_srli_epi16(ql, 4) : ql, low4);
    const __m512i top = _mm512_and_si512(p ? _mm512_srli_epi16(qh2, 4) : qh2, three);
    return _mm512_or_si512(nib, _mm512_slli_epi16(top, 4));
}

KQ_TARGET static inline __m512i KQ_NAME(q6_high)(const uint8_t *qh) {
    const __m256i h = _mm256_loadu_si256((const __m256i *)qh);
    return _mm512_inserti64x4(_mm512_castsi256_si512(h), _mm256_srli_epi16(h, 2), 1);
}

// ---- four activation rows ----------------------------------------------------

#define KQ512_GEMM4_Q45(T, FIVE_BIT)                                                               \
    const T *xb = (const T *)x;                                                                    \
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;                      \
    __m128 acc_min = _mm_setzero_ps();                                                             \
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {                                                   \
        const kq_scales_mins sm = kq_unpack_scales_mins(xb[i].scales);                             \
        const uint8_t *sc = sm.b, *mn = sm.b + 8;                                           \
        const __m512i sc16 = KQ_NAME(scales_q45)(sc);                                              \
        const moe_block_q8_K *b0 = KQ_ROW(moe_block_q8_K, y, y_stride, 0, i);                      \
        const moe_block_q8_K *b1 = KQ_ROW(moe_block_q8_K, y, y_stride, 1, i);                      \
        const moe_block_q8_K *b2 = KQ_ROW(moe_block_q8_K, y, y_stride, 2, i);                      \
        const moe_block_q8_K *b3 = KQ_ROW(moe_block_q8_K, y, y_stride, 3, i);                      \
        const __m512i *hb = NULL;                                                                  \
        __m512i hbits2;                                                                            \
        if (FIVE_BIT) { hbits2 = KQ_NAME(fifth_bits)(KQ_QH(&xb[i])); hb = &hbits2; } \
        __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;                            \
        for (int c = 0; c < 4; c++) {                                                              \
            const __m512i w = KQ_NAME(q45_chunk)(xb[i].qs, c, hb);                                 \
            const __m512i s = KQ_NAME(pair_scales)(sc16, 2 * c);                                   \
            s0 = KQ_NAME(run)(s0, w, b0->qs + 64 * c, s);                                          \
            s1 = KQ_NAME(run)(s1, w, b1->qs + 64 * c, s);                                          \
            s2 = KQ_NAME(run)(s2, w, b2->qs + 64 * c, s);                                          \
            s3 = KQ_NAME(run)(s3, w, b3->qs + 64 * c, s);                                          \
        }                                                                                          \
        const float d = _cvtsh_ss(xb[i].d), dmin = _cvtsh_ss(xb[i].dmin);                          \
        const float *dy = y_scales + 4 * i;                                                        \
        acc0 = _mm512_fmadd_ps(_mm512_set1_ps(d * dy[0]), _mm512_cvtepi32_ps(s0), acc0);           \
        acc1 = _mm512_fmadd_ps(_mm512_set1_ps(d * dy[1]), _mm512_cvtepi32_ps(s1), acc1);           \
        acc2 = _mm512_fmadd_ps(_mm512_set1_ps(d * dy[2]), _mm512_cvtepi32_ps(s2), acc2);           \
        acc3 = _mm512_fmadd_ps(_mm512_set1_ps(d * dy[3]), _mm512_cvtepi32_ps(s3), acc3);           \
        const __m128 mins = kq_min_terms4(kq_mins_twice(mn), b0->bsums, b1->bsums, b2->bsums, b3->bsums); \
        acc_min = _mm_fmadd_ps(_mm_mul_ps(_mm_set1_ps(dmin), _mm_loadu_ps(dy)), mins, acc_min);    \
    }                                                                                              \
    _mm_storeu_ps(out, _mm_sub_ps(KQ_NAME(hsum4)(acc0, acc1, acc2, acc3), acc_min));

KQ_TARGET void KQ_NAME(gemm4_q4_K)(const void *x, const void *y, size_t y_stride, const float *y_scales,
                                   float *out, int64_t n) {
    KQ512_GEMM4_Q45(moe_block_q4_K, 0)
}

KQ_TARGET void KQ_NAME(gemm4_q5_K)(const void *x, const void *y, size_t y_stride, const float *y_scales,
                                   float *out, int64_t n) {
    KQ512_GEMM4_Q45(moe_block_q5_K, 1)
}

KQ_TARGET void KQ_NAME(gemm4_q6_K)(const void *x, const void *y, size_t y_stride, const float *y_scales,
                                   float *out, int64_t n) {
    const moe_block_q6_K *xb = (const moe_block_q6_K *)x;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        const moe_block_q8_K *b0 = KQ_ROW(moe_block_q8_K, y, y_stride, 0, i);
        const moe_block_q8_K *b1 = KQ_ROW(moe_block_q8_K, y, y_stride, 1, i);
        const moe_block_q8_K *b2 = KQ_ROW(moe_block_q8_K, y, y_stride, 2, i);
        const moe_block_q8_K *b3 = KQ_ROW(moe_block_q8_K, y, y_stride, 3, i);
        const __m256i sc256 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)xb[i].scales));
        const __m512i sc16 = _mm512_castsi256_si512(sc256);
        __m512i s0 = _mm512_zextsi256_si512(kq_q6_offset(sc256, b0->bsums));
        __m512i s1 = _mm512_zextsi256_si512(kq_q6_offset(sc256, b1->bsums));
        __m512i s2 = _mm512_zextsi256_si512(kq_q6_offset(sc256, b2->bsums));
        __m512i s3 = _mm512_zextsi256_si512(kq_q6_offset(sc256, b3->bsums));
        for (int half = 0; half < 2; half++) {
            const __m512i ql = _mm512_loadu_si512(xb[i].ql + 64 * half);
            const __m512i qh2 = KQ_NAME(q6_high)(xb[i].qh + 32 * half);
            for (int p = 0; p < 2; p++) {
                const __m512i w = KQ_NAME(q6_pair)(ql, qh2, p);
                const __m512i s = KQ_NAME(quad_scales)(sc16, 8 * half + 4 * p);
                const int o = 128 * half + 64 * p;
                s0 = KQ_NAME(run)(s0, w, b0->qs + o, s);
                s1 = KQ_NAME(run)(s1, w, b1->qs + o, s);
                s2 = KQ_NAME(run)(s2, w, b2->qs + o, s);
                s3 = KQ_NAME(run)(s3, w, b3->qs + o, s);
            }
        }
        const float d = _cvtsh_ss(xb[i].d);
        const float *dy = y_scales + 4 * i;
        acc0 = _mm512_fmadd_ps(_mm512_set1_ps(d * dy[0]), _mm512_cvtepi32_ps(s0), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_set1_ps(d * dy[1]), _mm512_cvtepi32_ps(s1), acc1);
        acc2 = _mm512_fmadd_ps(_mm512_set1_ps(d * dy[2]), _mm512_cvtepi32_ps(s2), acc2);
        acc3 = _mm512_fmadd_ps(_mm512_set1_ps(d * dy[3]), _mm512_cvtepi32_ps(s3), acc3);
    }
    _mm_storeu_ps(out, KQ_NAME(hsum4)(acc0, acc1, acc2, acc3));
}

// ---- four weight rows (decode) ------------------------------------------------

#define KQ512_DOTR4_Q45(T, FIVE_BIT)                                                               \
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;                                          \
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()}; \
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
            const kq_scales_mins sm = kq_unpack_scales_mins(a->scales);                            \
            const uint8_t *sc = sm.b, *mn = sm.b + 8;                                          \
            const __m512i sc16 = KQ_NAME(scales_q45)(sc);                                          \
            const __m512i *hb = NULL;                                                              \
            __m512i hbits2;                                                                        \
            if (FIVE_BIT) { hbits2 = KQ_NAME(fifth_bits)(KQ_QH(a)); hb = &hbits2; } \
            __m512i sumi = _mm512_setzero_si512();                                                 \
            for (int c = 0; c < 4; c++) {                                                          \
                sumi = KQ_NAME(run)(sumi, KQ_NAME(q45_chunk)(a->qs, c, hb), b->qs + 64 * c,        \
                                    KQ_NAME(pair_scales)(sc16, 2 * c));                            \
            }                                                                                      \
            acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(_cvtsh_ss(a->d) * b->d), _mm512_cvtepi32_ps(sumi), acc[j]); \
            m[j] = _mm_madd_epi16(pairs, _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)mn))); \
            dmin[j] = _cvtsh_ss(a->dmin);                                                          \
        }                                                                                          \
        const __m128 dmins = _mm_mul_ps(_mm_loadu_ps(dmin), _mm_set1_ps(b->d));                    \
        acc_min = _mm_fmadd_ps(dmins, kq_sum4_i32(m[0], m[1], m[2], m[3]), acc_min);               \
    }                                                                                              \
    _mm_storeu_ps(out, _mm_sub_ps(KQ_NAME(hsum4)(acc[0], acc[1], acc[2], acc[3]), acc_min));

KQ_TARGET void KQ_NAME(dotr4_q4_K)(const void *x, size_t x_stride, const void *y, float *out, int64_t n) {
    KQ512_DOTR4_Q45(moe_block_q4_K, 0)
}

KQ_TARGET void KQ_NAME(dotr4_q5_K)(const void *x, size_t x_stride, const void *y, float *out, int64_t n) {
    KQ512_DOTR4_Q45(moe_block_q5_K, 1)
}

KQ_TARGET void KQ_NAME(dotr4_q6_K)(const void *x, size_t x_stride, const void *y, float *out, int64_t n) {
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        const moe_block_q8_K *b = yb + i;
        for (int j = 0; j < 4; j++) {
            const moe_block_q6_K *a = KQ_ROW(moe_block_q6_K, x, x_stride, j, i);
            KQ_PREFETCH_BLOCK(a, (int)sizeof *a, x_stride);
            const __m256i sc256 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a->scales));
            const __m512i sc16 = _mm512_castsi256_si512(sc256);
            __m512i sumi = _mm512_zextsi256_si512(kq_q6_offset(sc256, b->bsums));
            for (int half = 0; half < 2; half++) {
                const __m512i ql = _mm512_loadu_si512(a->ql + 64 * half);
                const __m512i qh2 = KQ_NAME(q6_high)(a->qh + 32 * half);
                for (int p = 0; p < 2; p++) {
                    sumi = KQ_NAME(run)(sumi, KQ_NAME(q6_pair)(ql, qh2, p), b->qs + 128 * half + 64 * p,
                                        KQ_NAME(quad_scales)(sc16, 8 * half + 4 * p));
                }
            }
            acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(_cvtsh_ss(a->d) * b->d), _mm512_cvtepi32_ps(sumi), acc[j]);
        }
    }
    _mm_storeu_ps(out, KQ_NAME(hsum4)(acc[0], acc[1], acc[2], acc[3]));
}

// ---- one weight row, one activation row (decode) ---------------------------

#define KQ512_DOT_Q45(T, FIVE_BIT)                                                                 \
    const T *xb = (const T *)x;                                                                    \
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;                                          \
    __m512 acc = _mm512_setzero_ps();                                                              \
    __m128 acc_min = _mm_setzero_ps();                                                             \
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {                                                   \
        const kq_scales_mins sm = kq_unpack_scales_mins(xb[i].scales);                             \
        const __m512i sc16 = KQ_NAME(scales_q45)(sm.b);                                            \
        const __m512i *hb = NULL;                                                                  \
        __m512i hbits2;                                                                            \
        if (FIVE_BIT) { hbits2 = KQ_NAME(fifth_bits)(KQ_QH(&xb[i])); hb = &hbits2; }               \
        __m512i sumi = _mm512_setzero_si512();                                                     \
        for (int c = 0; c < 4; c++) {                                                              \
            sumi = KQ_NAME(run)(sumi, KQ_NAME(q45_chunk)(xb[i].qs, c, hb), yb[i].qs + 64 * c,      \
                                KQ_NAME(pair_scales)(sc16, 2 * c));                                \
        }                                                                                          \
        acc = _mm512_fmadd_ps(_mm512_set1_ps(_cvtsh_ss(xb[i].d) * yb[i].d), _mm512_cvtepi32_ps(sumi), acc); \
        const __m128i mins16 = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)(sm.b + 8)));   \
        acc_min = _mm_fmadd_ps(_mm_set1_ps(_cvtsh_ss(xb[i].dmin) * yb[i].d),                      \
                               _mm_cvtepi32_ps(kq_min_terms(mins16, yb[i].bsums)), acc_min);      \
    }                                                                                              \
    const __m128 m2 = _mm_add_ps(acc_min, _mm_movehl_ps(acc_min, acc_min));                        \
    return _mm512_reduce_add_ps(acc) - _mm_cvtss_f32(_mm_add_ss(m2, _mm_movehdup_ps(m2)));

KQ_TARGET float KQ_NAME(dot_q4_K)(const void *x, const void *y, int64_t n) { KQ512_DOT_Q45(moe_block_q4_K, 0) }

KQ_TARGET float KQ_NAME(dot_q5_K)(const void *x, const void *y, int64_t n) { KQ512_DOT_Q45(moe_block_q5_K, 1) }

KQ_TARGET float KQ_NAME(dot_q6_K)(const void *x, const void *y, int64_t n) {
    const moe_block_q6_K *xb = (const moe_block_q6_K *)x;
    const moe_block_q8_K *yb = (const moe_block_q8_K *)y;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        const __m256i sc256 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)xb[i].scales));
        const __m512i sc16 = _mm512_castsi256_si512(sc256);
        __m512i sumi = _mm512_zextsi256_si512(kq_q6_offset(sc256, yb[i].bsums));
        for (int half = 0; half < 2; half++) {
            const __m512i ql = _mm512_loadu_si512(xb[i].ql + 64 * half);
            const __m512i qh2 = KQ_NAME(q6_high)(xb[i].qh + 32 * half);
            for (int p = 0; p < 2; p++) {
                sumi = KQ_NAME(run)(sumi, KQ_NAME(q6_pair)(ql, qh2, p), yb[i].qs + 128 * half + 64 * p,
                                    KQ_NAME(quad_scales)(sc16, 8 * half + 4 * p));
            }
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(_cvtsh_ss(xb[i].d) * yb[i].d), _mm512_cvtepi32_ps(sumi), acc);
    }
    return _mm512_reduce_add_ps(acc);
}
