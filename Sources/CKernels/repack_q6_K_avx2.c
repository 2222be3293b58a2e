// AVX2 product of Q6_K weights in the x8 layout (include/repack_q6_K.h)
// with q8_K activation rows: the VNNI kernel's method (repack_q6_K_vnni.c)
// without vpdpbusd and with 16 ymm registers instead of 32.
//
// A step's four 32-byte vectors of six-bit values (0…63, unsigned, so
// maddubs takes them as they are) meet four activation bytes broadcast to
// every lane (lane r sums row r, as i16 pairs). Two steps of the same
// sub-block are added in i16 before widening: each maddubs pair is at most
// 2 · 63 · 127 = 16002 (q8_K values are −127…127), two of them 32004 <
// 2^15. The widening madd multiplies by the sub-block's signed scale at the
// same time (the scale in both i16 halves of its row's lane), so there is
// no vpmulld per sub-block as in the VNNI kernel. Q6_K's offset of 32 is
// taken off once per block: −32 · Σ_s sc_s · bsum_s, the scales of two
// sub-blocks paired in i16 against two bsums (|sc| ≤ 128, |bsum| ≤ 2032).
//
// Bounds: a madd lane is ≤ 2 · 32004 · 128 < 2^23, sixteen sub-blocks and
// the offset < 2^28: exact in i32, so the eight sums equal the scalar
// reference's integers and the float epilogue is the VNNI kernel's.

#include "repack_q6_K.h"
#include "kquants.h"
#include "kx8_prefetch.h"
#include <immintrin.h>
#include <string.h>

#define CK_Q6A __attribute__((target("avx2,fma,f16c")))

CK_Q6A static inline __m256i ck_q6a_y4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// One step's four vectors of six-bit values: the high two bits moved into
// place with the 0x30 mask after one shift each (17 instructions, not 20).
CK_Q6A static inline void ck_q6a_values(const uint8_t (*step)[32], __m256i w[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    const __m256i lo = _mm256_loadu_si256((const __m256i *)step[0]);
    const __m256i hi = _mm256_loadu_si256((const __m256i *)step[1]);
    const __m256i top = _mm256_loadu_si256((const __m256i *)step[2]);
    w[0] = _mm256_or_si256(_mm256_and_si256(lo, m4), _mm256_and_si256(_mm256_slli_epi16(top, 4), m30));
    w[1] = _mm256_or_si256(_mm256_and_si256(hi, m4), _mm256_and_si256(_mm256_slli_epi16(top, 2), m30));
    w[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lo, 4), m4), _mm256_and_si256(top, m30));
    w[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(hi, 4), m4), _mm256_and_si256(_mm256_srli_epi16(top, 2), m30));
}

// Sub-block s's eight scales, each in both i16 halves of its row's lane.
CK_Q6A static inline __m256i ck_q6a_scale16(const int8_t *sc8) {
    const __m128i s = _mm_loadl_epi64((const __m128i *)sc8);
    return _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(s, s));
}

// −32 · Σ_s sc_s · bsum_s for the eight rows: sub-blocks 2u and 2u + 1
// paired in each lane against the i32 holding bsums 2u and 2u + 1.
CK_Q6A static inline __m256i ck_q6a_offset(const moe_block_q6_Kx8 *b, const int16_t *bsums) {
    __m256i sum = _mm256_setzero_si256();
    for (int u = 0; u < 8; u++) {
        const __m128i s0 = _mm_loadl_epi64((const __m128i *)(b->scales + 16 * u));
        const __m128i s1 = _mm_loadl_epi64((const __m128i *)(b->scales + 16 * u + 8));
        int32_t pair;
        memcpy(&pair, bsums + 2 * u, 4);
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_unpacklo_epi8(s0, s1)), _mm256_set1_epi32(pair)));
    }
    return _mm256_slli_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), sum), 5);
}

// Σ over the block of scale·((q − 32)·y) for the eight rows against R
// activation blocks (each step's values made once for all R). One row
// keeps four chains (one per vector of a step) so the adds overlap; two to
// four rows one chain each, which with the values and temporaries fits the
// sixteen registers.
#define CK_Q6A_BLOCK(R, NC)                                                                          \
    CK_Q6A static inline void ck_q6a_block##R(const moe_block_q6_Kx8 *b, const moe_block_q8_K *const a[R], \
                                              __m256i isum[R]) {                                       \
        __m256i acc[R][NC];                                                                            \
        for (int j = 0; j < (R); j++) {                                                                \
            acc[j][0] = ck_q6a_offset(b, a[j]->bsums);                                                 \
            for (int c = 1; c < (NC); c++) acc[j][c] = _mm256_setzero_si256();                         \
        }                                                                                              \
        for (int h = 0; h < 2; h++)                                                                    \
            for (int p = 0; p < 8; p += 2) {                                                           \
                __m256i w0[4], w1[4];                                                                  \
                ck_q6a_values(b->q[8 * h + p], w0);                                                    \
                ck_q6a_values(b->q[8 * h + p + 1], w1);                                                \
                for (int v = 0; v < 4; v++) {                                                          \
                    const __m256i sc = ck_q6a_scale16(b->scales + 8 * (8 * h + 2 * v + p / 4));        \
                    for (int j = 0; j < (R); j++) {                                                    \
                        const int8_t *y = a[j]->qs + 128 * h + 32 * v + 4 * p;                         \
                        const __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(w0[v], ck_q6a_y4(y)), \
                                                             _mm256_maddubs_epi16(w1[v], ck_q6a_y4(y + 4))); \
                        acc[j][v % (NC)] = _mm256_add_epi32(acc[j][v % (NC)], _mm256_madd_epi16(s16, sc)); \
                    }                                                                                  \
                }                                                                                      \
            }                                                                                          \
        for (int j = 0; j < (R); j++) {                                                                \
            isum[j] = acc[j][0];                                                                       \
            for (int c = 1; c < (NC); c++) isum[j] = _mm256_add_epi32(isum[j], acc[j][c]);             \
        }                                                                                              \
    }
CK_Q6A_BLOCK(1, 4)
CK_Q6A_BLOCK(2, 1)
CK_Q6A_BLOCK(3, 1)
CK_Q6A_BLOCK(4, 1)

// One group of eight weight rows against R activation rows (R a constant
// where inlined, so the sums stay in registers).
CK_Q6A static inline __attribute__((always_inline)) void ck_q6a_pass(const moe_block_q6_Kx8 *g, int64_t nb,
                                                                     const uint8_t *y, size_t y_stride, const int R,
                                                                     float *out, size_t out_stride) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t i = 0; i < nb; i++) {
        const moe_block_q6_Kx8 *b = &g[i];
        _mm_prefetch((const char *)(b + 1), _MM_HINT_T0);
        if (R >= 2) ck_kx8_fetch_ahead(b, sizeof *b);  // see kx8_prefetch.h
        const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        const moe_block_q8_K *a[4];
        __m256i isum[4];
        for (int j = 0; j < R; j++) a[j] = (const moe_block_q8_K *)(y + (size_t)j * y_stride) + i;
        switch (R) {
        case 4: ck_q6a_block4(b, a, isum); break;
        case 3: ck_q6a_block3(b, a, isum); break;
        case 2: ck_q6a_block2(b, a, isum); break;
        default: ck_q6a_block1(b, a, isum); break;
        }
        for (int j = 0; j < R; j++)
            acc[j] = _mm256_fmadd_ps(_mm256_mul_ps(d8, _mm256_set1_ps(a[j]->d)), _mm256_cvtepi32_ps(isum[j]), acc[j]);
    }
    for (int j = 0; j < R; j++) _mm256_storeu_ps(out + (size_t)j * out_stride, acc[j]);
}

// Any number of activation rows, four a pass (as the AVX2 Q4_K x8 kernel,
// repack_q4_K_x8.h): a group's blocks come from L1 after the first pass.
CK_Q6A void moe_gemm_q6_Kx8_q8_K_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                      float *out, size_t out_stride, int64_t n) {
    const int64_t nb = n / MOE_QK_K;
    const moe_block_q6_Kx8 *xb = x;
    for (int64_t k = 0; k < rows / 8; k++)
        for (int64_t j0 = 0; j0 < m; j0 += 4) {
            const uint8_t *yj = (const uint8_t *)y + (size_t)j0 * y_stride;
            float *o = out + (size_t)j0 * out_stride + 8 * k;
            switch (m - j0 < 4 ? m - j0 : 4) {
            case 4: ck_q6a_pass(xb + k * nb, nb, yj, y_stride, 4, o, out_stride); break;
            case 3: ck_q6a_pass(xb + k * nb, nb, yj, y_stride, 3, o, out_stride); break;
            case 2: ck_q6a_pass(xb + k * nb, nb, yj, y_stride, 2, o, out_stride); break;
            default: ck_q6a_pass(xb + k * nb, nb, yj, y_stride, 1, o, out_stride); break;
            }
        }
}
