// Body of the Q6_K x8 direct products (include/repack_q6_K.h), included by
// repack_q6_K_vnni.c and repack_q6_K_avx2.c. Before including, define
// CK_Q6X8 (the function attribute), CK_Q6X8_DOT(acc, u8, s8) (acc + the
// four-byte dot of each i32 lane), CK_Q6X8_ENTRY (the exported name) and,
// optionally, CK_KX8_AHEAD_FROM and CK_KX8_SPREAD (kx8_prefetch.h) and CK_Q6X8_SUMS16 (the
// i16 sums below for three and four rows, where the dot is built of
// maddubs).
// Notes on the method: repack_q6_K_vnni.c.

#include "repack_q6_K.h"
#include "kquants.h"
#include "ck_internal.h"
#include "kx8_prefetch.h"
#include <immintrin.h>
#include <string.h>

// The activation rows' −32·bsum a direct call keeps on its stack (16 KB:
// four rows of 64 blocks); more come from the thread's scratch buffer.
#define CK_Q6X8_CENTRES 4096

CK_Q6X8 static inline __m256i ck_q6x8_y4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// One step's four vectors of six-bit values (see the layout).
CK_Q6X8 static inline void ck_q6x8_values(const uint8_t (*step)[32], __m256i w[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(3);
    const __m256i lo = _mm256_loadu_si256((const __m256i *)step[0]);
    const __m256i hi = _mm256_loadu_si256((const __m256i *)step[1]);
    const __m256i top = _mm256_loadu_si256((const __m256i *)step[2]);
    w[0] = _mm256_or_si256(_mm256_and_si256(lo, m4), _mm256_slli_epi16(_mm256_and_si256(top, m3), 4));
    w[1] = _mm256_or_si256(_mm256_and_si256(hi, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(top, 2), m3), 4));
    w[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lo, 4), m4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(top, 4), m3), 4));
    w[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(hi, 4), m4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(top, 6), m3), 4));
}

#ifdef CK_Q6X8_SUMS16
// Without vpdpbusd (AVX2): a maddubs lane is two products of a six-bit
// value and an activation, at most 2 · 63 · 128 = 16128, so two pieces add
// up in i16 (≤ 32256 < 32767, no saturation) and one madd by the
// sub-block's scale, in both i16 halves of its row's lane (|scale| ≤ 128),
// gives the row's i32 sum: per 32 products a maddubs and half an i16 add,
// a madd and an add, where the VNNI body's dot took maddubs, madd with
// ones and add, plus a mullo per sub-block. The −32 · Σ scale · bsum of
// the offset comes from the activation's i16 bsums, two sub-blocks per
// madd. The integers are the same, so the floats are.
//
// Values v and v + 2 of a step share its low or high nibble bytes, so they
// are made together: two sums a row, four rows' in 8 of the 16 ymm
// registers, and each step's bytes loaded twice (from L1).
//
// Only three and four rows take these blocks: the scales' i16 pairs and
// the offset's madds are made per block and shared by the rows, and for
// one row they cost more than the chunks save (in L2, CPU time, 2048
// values, Zen 3 EPYC: one row 8.7 ns a block-row against 7.6; two rows
// even, 5.5; three 4.9 against 5.2; four 4.5 against 5.7), so one and two
// rows keep the blocks below.

// Sub-block s's eight scales, each in both i16 halves of its row's lane.
CK_Q6X8 static inline __m256i ck_q6x8_scales16(const int8_t *p) {
    const __m128i sc = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)p));
    return _mm256_set_m128i(_mm_unpackhi_epi16(sc, sc), _mm_unpacklo_epi16(sc, sc));
}

// Scales of sub-blocks s and s + 1 as an i16 pair per row lane.
CK_Q6X8 static inline __m256i ck_q6x8_scale_pairs(const int8_t *p) {
    const __m128i a = _mm_loadl_epi64((const __m128i *)p), b = _mm_loadl_epi64((const __m128i *)(p + 8));
    return _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(a, b));
}

#define CK_Q6X8_BLOCK16(R)                                                                         \
    CK_Q6X8 static inline void ck_q6x8_block##R(const moe_block_q6_Kx8 *b, const moe_block_q8_K *const a[R], \
                                                const int32_t *const cb[R], __m256i isum[R],        \
                                                const void *spread) {                               \
        (void)cb;                                                                                   \
        (void)spread;                                                                               \
        const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);                    \
        for (int j = 0; j < (R); j++) isum[j] = _mm256_setzero_si256();                             \
        for (int k = 0; k < 8; k++) {                                                               \
            const __m256i sp = ck_q6x8_scale_pairs(b->scales + 16 * k);                             \
            for (int j = 0; j < (R); j++) {                                                         \
                int32_t pair;                                                                       \
                memcpy(&pair, a[j]->bsums + 2 * k, 4);                                              \
                isum[j] = _mm256_add_epi32(isum[j], _mm256_madd_epi16(sp, _mm256_set1_epi32(pair))); \
            }                                                                                       \
        }                                                                                           \
        for (int j = 0; j < (R); j++) isum[j] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(isum[j], 5)); \
        for (int h = 0; h < 2; h++)                                                                 \
            for (int vv = 0; vv < 2; vv++)                                                          \
                for (int c = 0; c < 4; c++) { /* pieces 2c, 2c + 1: sub-blocks of g = c / 2 */      \
                    __m256i s0[R], s1[R];                                                           \
                    for (int j = 0; j < (R); j++) s0[j] = s1[j] = _mm256_setzero_si256();           \
                    for (int p = 2 * c; p < 2 * c + 2; p++) {                                       \
                        const __m256i x = _mm256_loadu_si256((const __m256i *)b->q[8 * h + p][vv]); \
                        const __m256i top = _mm256_loadu_si256((const __m256i *)b->q[8 * h + p][2]); \
                        /* top's bits 2v, 2v + 1 to 4, 5 of each byte (16-bit shifts: */            \
                        /* the mask keeps only bits that came from the same byte) */                \
                        const __m256i ta = _mm256_and_si256(vv ? _mm256_slli_epi16(top, 2) : _mm256_slli_epi16(top, 4), m30); \
                        const __m256i tb = _mm256_and_si256(vv ? _mm256_srli_epi16(top, 2) : top, m30); \
                        const __m256i wa = _mm256_or_si256(_mm256_and_si256(x, m4), ta);            \
                        const __m256i wb = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x, 4), m4), tb); \
                        for (int j = 0; j < (R); j++) {                                             \
                            const int8_t *y = a[j]->qs + 128 * h + 4 * p + 32 * vv;                 \
                            s0[j] = _mm256_add_epi16(s0[j], _mm256_maddubs_epi16(wa, ck_q6x8_y4(y))); \
                            s1[j] = _mm256_add_epi16(s1[j], _mm256_maddubs_epi16(wb, ck_q6x8_y4(y + 64))); \
                        }                                                                           \
                    }                                                                               \
                    const int g = c / 2;                                                            \
                    const __m256i sa = ck_q6x8_scales16(b->scales + 8 * (8 * h + 2 * vv + g));     \
                    const __m256i sb = ck_q6x8_scales16(b->scales + 8 * (8 * h + 2 * (vv + 2) + g)); \
                    for (int j = 0; j < (R); j++)                                                   \
                        isum[j] = _mm256_add_epi32(isum[j], _mm256_add_epi32(_mm256_madd_epi16(s0[j], sa), \
                                                                             _mm256_madd_epi16(s1[j], sb))); \
                }                                                                                   \
    }
#endif

// One row with CK_KX8_SPREAD (AVX2) fetches ahead inside the block
// (kx8_prefetch.h), its sixteen steps unrolled so the parts are constants.
#ifdef CK_KX8_SPREAD
#define CK_Q6X8_UNROLL_SPREAD(R) CK_Q6X8_UNROLL_SPREAD_##R
#else
#define CK_Q6X8_UNROLL_SPREAD(R)
#endif
#define CK_Q6X8_UNROLL_SPREAD_1 _Pragma("clang loop unroll(full)")
#define CK_Q6X8_UNROLL_SPREAD_2
#define CK_Q6X8_UNROLL_SPREAD_3
#define CK_Q6X8_UNROLL_SPREAD_4

// Σ over the block of scale·((q − 32)·y) for the eight rows, against R
// activation blocks at once (each step's values made once for all R); each
// sub-block's chain starts from the row's −32·bsum (cb[j], sixteen per
// block), so the offset costs nothing in the loop.
#define CK_Q6X8_BLOCK(R)                                                                           \
    CK_Q6X8 static inline void ck_q6x8_block##R(const moe_block_q6_Kx8 *b, const moe_block_q8_K *const a[R], \
                                                const int32_t *const cb[R], __m256i isum[R],        \
                                                const void *spread) {                               \
        for (int j = 0; j < (R); j++) isum[j] = _mm256_setzero_si256();                             \
        CK_Q6X8_UNROLL_SPREAD(R)                                                                    \
        for (int h = 0; h < 2; h++)                                                                 \
            CK_Q6X8_UNROLL_SPREAD(R)                                                                \
            for (int g = 0; g < 2; g++) {                                                           \
                __m256i acc[R][4];                                                                  \
                for (int j = 0; j < (R); j++)                                                       \
                    for (int v = 0; v < 4; v++) acc[j][v] = _mm256_set1_epi32(cb[j][8 * h + 2 * v + g]); \
                CK_Q6X8_UNROLL_SPREAD(R)                                                            \
                for (int p = 4 * g; p < 4 * g + 4; p++) {                                           \
                    ck_kx8_fetch_slice(spread, sizeof *b, 8 * h + p, 16);                           \
                    __m256i w[4];                                                                   \
                    ck_q6x8_values(b->q[8 * h + p], w);                                             \
                    for (int j = 0; j < (R); j++) {                                                 \
                        const int8_t *y = a[j]->qs + 128 * h + 4 * p;                               \
                        for (int v = 0; v < 4; v++)                                                 \
                            acc[j][v] = CK_Q6X8_DOT(acc[j][v], w[v], ck_q6x8_y4(y + 32 * v)); \
                    }                                                                               \
                }                                                                                   \
                for (int v = 0; v < 4; v++) {                                                       \
                    const int s = 8 * h + 2 * v + g;                                                \
                    const __m256i scale = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b->scales + 8 * s))); \
                    for (int j = 0; j < (R); j++) {                                                 \
                        isum[j] = _mm256_add_epi32(isum[j], _mm256_mullo_epi32(acc[j][v], scale));  \
                    }                                                                               \
                }                                                                                   \
            }                                                                                       \
    }
CK_Q6X8_BLOCK(1)
CK_Q6X8_BLOCK(2)
#ifdef CK_Q6X8_SUMS16
CK_Q6X8_BLOCK16(3)
CK_Q6X8_BLOCK16(4)
#else
CK_Q6X8_BLOCK(3)
CK_Q6X8_BLOCK(4)
#endif

CK_Q6X8 void CK_Q6X8_ENTRY(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                           float *out, size_t out_stride, int64_t n);
// One group of eight weight rows against R activation rows, R a constant
// where it is inlined, so the sums and accumulators stay in registers (with
// R known only at run time they lived on the stack).
CK_Q6X8 static inline __attribute__((always_inline)) void ck_q6x8_pass(const moe_block_q6_Kx8 *g, int64_t nb,
                                                                       const uint8_t *y, size_t y_stride, const int32_t *cb,
                                                                       const int R, float *out, size_t out_stride) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t i = 0; i < nb; i++) {
        const moe_block_q6_Kx8 *b = &g[i];
        _mm_prefetch((const char *)(b + 1), _MM_HINT_T0);
        const void *spread = ck_kx8_fetch_plan(b, sizeof *b, R);  // see kx8_prefetch.h
        const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        const moe_block_q8_K *a[4];
        const int32_t *cbj[4];
        __m256i isum[4];
        for (int j = 0; j < R; j++) {
            a[j] = (const moe_block_q8_K *)(y + (size_t)j * y_stride) + i;
            cbj[j] = cb + 16 * (j * nb + i);
        }
        // each step's values unpacked once for all rows here
        switch (R) {
        case 4: ck_q6x8_block4(b, a, cbj, isum, spread); break;
        case 3: ck_q6x8_block3(b, a, cbj, isum, spread); break;
        case 2: ck_q6x8_block2(b, a, cbj, isum, spread); break;
        default: ck_q6x8_block1(b, a, cbj, isum, spread); break;
        }
        for (int j = 0; j < R; j++)
            acc[j] = _mm256_fmadd_ps(_mm256_mul_ps(d8, _mm256_set1_ps(a[j]->d)), _mm256_cvtepi32_ps(isum[j]), acc[j]);
    }
    for (int j = 0; j < R; j++) _mm256_storeu_ps(out + (size_t)j * out_stride, acc[j]);
}

CK_Q6X8 void CK_Q6X8_ENTRY(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                           float *out, size_t out_stride, int64_t n) {
    const int64_t nb = n / MOE_QK_K;
    const moe_block_q6_Kx8 *xb = x;
    // −32·bsum of every sub-block of every activation row, made once per
    // call (per group and row it was a scalar load, multiply and broadcast
    // from a general register, then a subtract)
    int32_t stack[CK_Q6X8_CENTRES];
    const size_t centres = (size_t)m * (size_t)nb * 16;
    int32_t *cbuf = centres <= CK_Q6X8_CENTRES ? stack : ck_thread_scratch(sizeof(int32_t) * centres);
    if (!cbuf) {  // no buffer to be had: the scalar product (equal to rounding)
        moe_gemm_q6_Kx8_q8_K_ref(x, rows, y, y_stride, m, out, out_stride, n);
        return;
    }
    for (int64_t j = 0; j < m; j++) {
        const moe_block_q8_K *aj = (const moe_block_q8_K *)((const uint8_t *)y + (size_t)j * y_stride);
        for (int64_t i = 0; i < nb; i++)
            for (int s = 0; s < 16; s++) cbuf[16 * (j * nb + i) + s] = -32 * aj[i].bsums[s];
    }
    for (int64_t k = 0; k < rows / 8; k++)
        // activation rows four at a time, so a group's blocks come from L1
        // after the first row
        for (int64_t j0 = 0; j0 < m; j0 += 4) {
            const uint8_t *yj = (const uint8_t *)y + (size_t)j0 * y_stride;
            const int32_t *cb = cbuf + 16 * j0 * nb;
            float *o = out + (size_t)j0 * out_stride + 8 * k;
            switch (m - j0 < 4 ? m - j0 : 4) {
            case 4: ck_q6x8_pass(xb + k * nb, nb, yj, y_stride, cb, 4, o, out_stride); break;
            case 3: ck_q6x8_pass(xb + k * nb, nb, yj, y_stride, cb, 3, o, out_stride); break;
            case 2: ck_q6x8_pass(xb + k * nb, nb, yj, y_stride, cb, 2, o, out_stride); break;
            default: ck_q6x8_pass(xb + k * nb, nb, yj, y_stride, cb, 1, o, out_stride); break;
            }
        }
}
