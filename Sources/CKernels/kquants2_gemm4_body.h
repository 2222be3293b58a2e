// Four-activation-row products (gemm4) of Q2_K, Q3_K and IQ4_XS at AVX-512,
// included by kquants2_avx512_body.h (so once per build, F + BW and VNNI).
// Each weight block is unpacked once and multiplied with the same 64
// values of four q8_K rows; y_scales are the rows' d per block
// (moe_act_scales4_q8_K). Offsets and minimums go through the rows' bsums,
// as in the one-row dots.

// Σ v16[s] · bsums[s] over the 16 sub-blocks of each of four rows, as floats.
KQ2_TARGET static inline __m128 KQ2_NAME(bsum_terms4)(__m256i v16, const moe_block_q8_K *const b[4]) {
    __m256i m[4];
    for (int j = 0; j < 4; j++) m[j] = _mm256_madd_epi16(v16, _mm256_loadu_si256((const __m256i *)b[j]->bsums));
    const __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(m[0], m[1]), _mm256_hadd_epi32(m[2], m[3]));
    return _mm_cvtepi32_ps(_mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1)));
}

KQ2_TARGET static inline __m128 KQ2_NAME(hsum4)(const __m512 a[4]) {
    return _mm_set_ps(_mm512_reduce_add_ps(a[3]), _mm512_reduce_add_ps(a[2]), _mm512_reduce_add_ps(a[1]),
                      _mm512_reduce_add_ps(a[0]));
}

// Chunk c (values 64c…64c+63) of a Q2_K or Q3_K block: unsigned weights
// and the i16 scale of each lane.
KQ2_TARGET static inline __m512i KQ2_NAME(q2_chunk)(const moe_block_q2_K *x, int c) {
    const __m256i bits = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * (c / 2)));
    return KQ2_NAME(crumbs)(bits, 2 * (c % 2));
}

KQ2_TARGET static inline __m512i KQ2_NAME(q3_chunk)(const moe_block_q3_K *x, __m256i hmask, int c) {
    const __m256i one = _mm256_set1_epi8(1);
    const __m256i bits = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * (c / 2)));
    const int run = 2 * c;
    const __m512i high = KQ2_NAME(join)(_mm256_and_si256(_mm256_srli_epi16(hmask, run), one),
                                        _mm256_and_si256(_mm256_srli_epi16(hmask, run + 1), one));
    return _mm512_or_si512(KQ2_NAME(crumbs)(bits, 2 * (c % 2)), _mm512_slli_epi16(high, 2));
}

#define KQ2_ROWS4(b, y, y_stride, i)                                                          \
    const moe_block_q8_K *const b[4] = {                                                      \
        (const moe_block_q8_K *)((const uint8_t *)(y) + 0 * (y_stride)) + (i),                \
        (const moe_block_q8_K *)((const uint8_t *)(y) + 1 * (y_stride)) + (i),                \
        (const moe_block_q8_K *)((const uint8_t *)(y) + 2 * (y_stride)) + (i),                \
        (const moe_block_q8_K *)((const uint8_t *)(y) + 3 * (y_stride)) + (i)}

KQ2_TARGET void KQ2_NAME(gemm4_q2_K)(const void *x, const void *y, size_t y_stride, const float *y_scales,
                                     float *out, int64_t n) {
    const moe_block_q2_K *xb = (const moe_block_q2_K *)x;
    const __m128i low4 = _mm_set1_epi8(0x0f);
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    __m128 acc_min = _mm_setzero_ps();
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        KQ2_ROWS4(b, y, y_stride, i);
        const __m128i sc = _mm_loadu_si128((const __m128i *)xb[i].scales);
        const __m512i scales16 = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_and_si128(sc, low4)));
        const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), low4));
        __m512i s[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
        for (int c = 0; c < 4; c++) {
            const __m512i w = KQ2_NAME(q2_chunk)(&xb[i], c), scale = KQ2_NAME(quad_scales)(scales16, 4 * c);
            for (int j = 0; j < 4; j++) s[j] = KQ2_DOTW(s[j], _mm512_maddubs_epi16(w, _mm512_loadu_si512(b[j]->qs + 64 * c)), scale);
        }
        const float d = _cvtsh_ss(xb[i].d), *dy = y_scales + 4 * i;
        for (int j = 0; j < 4; j++) acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(d * dy[j]), _mm512_cvtepi32_ps(s[j]), acc[j]);
        const __m128 dmin = _mm_mul_ps(_mm_set1_ps(_cvtsh_ss(xb[i].dmin)), _mm_loadu_ps(dy));
        acc_min = _mm_fmadd_ps(dmin, KQ2_NAME(bsum_terms4)(mins16, b), acc_min);
    }
    _mm_storeu_ps(out, _mm_sub_ps(KQ2_NAME(hsum4)(acc), acc_min));
}

KQ2_TARGET void KQ2_NAME(gemm4_q3_K)(const void *x, const void *y, size_t y_stride, const float *y_scales,
                                     float *out, int64_t n) {
    const moe_block_q3_K *xb = (const moe_block_q3_K *)x;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    __m128 acc_offset = _mm_setzero_ps();
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        KQ2_ROWS4(b, y, y_stride, i);
        int8_t sc[16];
        kq2_q3_K_scales(xb[i].scales, sc);
        const __m256i sc256 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
        const __m512i scales16 = _mm512_castsi256_si512(sc256);
        const __m256i hmask = _mm256_loadu_si256((const __m256i *)xb[i].hmask);
        __m512i s[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
        for (int c = 0; c < 4; c++) {
            const __m512i w = KQ2_NAME(q3_chunk)(&xb[i], hmask, c), scale = KQ2_NAME(quad_scales)(scales16, 4 * c);
            for (int j = 0; j < 4; j++) s[j] = KQ2_DOTW(s[j], _mm512_maddubs_epi16(w, _mm512_loadu_si512(b[j]->qs + 64 * c)), scale);
        }
        const float d = _cvtsh_ss(xb[i].d), *dy = y_scales + 4 * i;
        for (int j = 0; j < 4; j++) acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(d * dy[j]), _mm512_cvtepi32_ps(s[j]), acc[j]);
        // weights were unpacked as q + 4: 4·d·Σ scale·bsum comes off
        const __m128 d4 = _mm_mul_ps(_mm_set1_ps(4 * d), _mm_loadu_ps(dy));
        acc_offset = _mm_fmadd_ps(d4, KQ2_NAME(bsum_terms4)(sc256, b), acc_offset);
    }
    _mm_storeu_ps(out, _mm_sub_ps(KQ2_NAME(hsum4)(acc), acc_offset));
}

KQ2_TARGET void KQ2_NAME(gemm4_iq4_xs)(const void *x, const void *y, size_t y_stride, const float *y_scales,
                                       float *out, int64_t n) {
    const moe_block_iq4_xs *xb = (const moe_block_iq4_xs *)x;
    const __m512i table = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)moe_iq4nl_values));
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        KQ2_ROWS4(b, y, y_stride, i);
        int16_t sc[8];
        kq2_iq4_xs_scales(&xb[i], sc);
        __m512i s[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
        for (int c = 0; c < 4; c++) {
            const __m512i idx = KQ2_NAME(join)(kq2_iq4_run(xb[i].qs + 32 * c), kq2_iq4_run(xb[i].qs + 32 * c + 16));
            const __m512i w = _mm512_shuffle_epi8(table, idx), abs_w = KQ2_NAME(abs_w)(w);
            const __m512i scale = KQ2_NAME(join)(_mm256_set1_epi16(sc[2 * c]), _mm256_set1_epi16(sc[2 * c + 1]));
            for (int j = 0; j < 4; j++) {
                const __m512i a = KQ2_NAME(signed_a)(_mm512_loadu_si512(b[j]->qs + 64 * c), w);
                s[j] = KQ2_DOTW(s[j], _mm512_maddubs_epi16(abs_w, a), scale);
            }
        }
        const float d = _cvtsh_ss(xb[i].d), *dy = y_scales + 4 * i;
        for (int j = 0; j < 4; j++) acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(d * dy[j]), _mm512_cvtepi32_ps(s[j]), acc[j]);
    }
    _mm_storeu_ps(out, KQ2_NAME(hsum4)(acc));
}
#undef KQ2_ROWS4
