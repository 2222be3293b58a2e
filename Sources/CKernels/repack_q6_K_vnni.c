// AVX-512 VNNI (256-bit, VL) product of Q6_K weights in the x8 layout
// (include/repack_q6_K.h) with q8_K activation rows: Q4_K's x8 kernel
// (repack_q4_K_vnni.c) for six-bit weights. In half h, for p < 8, one
// step's three pieces (two of ql, one of qh) give four 32-byte vectors of six-bit values
// (0…63, unsigned, so vpdpbusd takes them as they are) of sub-blocks
// 8h + p/4 + {0, 2, 4, 6}, each against four activation bytes broadcast to
// every lane (lane r sums row r). A sub-block's sums start from −32·bsum
// (the values' offset of 32, from q8_K's sums of 16) and are weighted by
// its signed scales (vpmovsxbd, vpmulld); per block d·dy of the eight rows
// scales the eight i32 sums into an accumulator of eight outputs.
//
// Bounds: a sub-block's lane sums 16 products ≤ 63 · 127 from −32·2048; with the offset
// |Σ (q − 32)·y| ≤ 16 · 32 · 127, × |scale| ≤ 128, sixteen sub-blocks:
// < 2^28. Exact, as ggml's.

#include "repack_q6_K.h"
#include "kquants.h"
#include "kpanel16_vnni.h"
#include "ck_internal.h"
#include "kx8_prefetch.h"
#include <immintrin.h>
#include <string.h>

#define CK_Q6X8 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
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

// Σ over the block of scale·((q − 32)·y) for the eight rows, against R
// activation blocks at once (each step's values made once for all R); each
// sub-block's chain starts from the row's −32·bsum (cb[j], sixteen per
// block), so the offset costs nothing in the loop.
#define CK_Q6X8_BLOCK(R)                                                                           \
    CK_Q6X8 static inline void ck_q6x8_block##R(const moe_block_q6_Kx8 *b, const moe_block_q8_K *const a[R], \
                                                const int32_t *const cb[R], __m256i isum[R]) {      \
        for (int j = 0; j < (R); j++) isum[j] = _mm256_setzero_si256();                             \
        for (int h = 0; h < 2; h++)                                                                 \
            for (int g = 0; g < 2; g++) {                                                           \
                __m256i acc[R][4];                                                                  \
                for (int j = 0; j < (R); j++)                                                       \
                    for (int v = 0; v < 4; v++) acc[j][v] = _mm256_set1_epi32(cb[j][8 * h + 2 * v + g]); \
                for (int p = 4 * g; p < 4 * g + 4; p++) {                                           \
                    __m256i w[4];                                                                   \
                    ck_q6x8_values(b->q[8 * h + p], w);                                             \
                    for (int j = 0; j < (R); j++) {                                                 \
                        const int8_t *y = a[j]->qs + 128 * h + 4 * p;                               \
                        for (int v = 0; v < 4; v++)                                                 \
                            acc[j][v] = _mm256_dpbusd_epi32(acc[j][v], w[v], ck_q6x8_y4(y + 32 * v)); \
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
CK_Q6X8_BLOCK(3)
CK_Q6X8_BLOCK(4)

CK_Q6X8 void ck_gemm_q6_Kx8_q8_K_vnni_direct(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
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
        if (R >= 2) ck_kx8_fetch_ahead(b, sizeof *b);  // see kx8_prefetch.h
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
        case 4: ck_q6x8_block4(b, a, cbj, isum); break;
        case 3: ck_q6x8_block3(b, a, cbj, isum); break;
        case 2: ck_q6x8_block2(b, a, cbj, isum); break;
        default: ck_q6x8_block1(b, a, cbj, isum); break;
        }
        for (int j = 0; j < R; j++)
            acc[j] = _mm256_fmadd_ps(_mm256_mul_ps(d8, _mm256_set1_ps(a[j]->d)), _mm256_cvtepi32_ps(isum[j]), acc[j]);
    }
    for (int j = 0; j < R; j++) _mm256_storeu_ps(out + (size_t)j * out_stride, acc[j]);
}

CK_Q6X8 void ck_gemm_q6_Kx8_q8_K_vnni_direct(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
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

// More than eight activation rows: through the panel (kpanel16_vnni.h),
// the six-bit values made once per block for all of them. Up to eight
// (several streams) take the direct kernel, four rows a pass: the panel's
// fill (2 KiB stored and reloaded per block) does not pay back over so few
// rows: at four rows 82 against 115 ns per block in L2 and 109 against
// 241 from memory, one thread, best of 41 by CPU time (AMD EPYC Zen 4);
// 165 against 165 at eight in L2. In the panel, Q6_K's offset of 32 becomes
// mins of 32·sc with dmin = d, stored negated (mn = −32·sc, dmin = −d: the
// same product, and the sixteen-row kernel adds them into the scale sums).
CK_PANEL static void ck_q6x8_fill(const void *block, ck_kpanel *pn) {
    const moe_block_q6_Kx8 *b = block;
    for (int h = 0; h < 2; h++)
        for (int p = 0; p < 8; p++) {
            __m256i w[4];
            ck_q6x8_values(b->q[8 * h + p], w);
            for (int v = 0; v < 4; v++) _mm256_store_si256((__m256i *)pn->q[32 * h + 8 * v + p], w[v]);
        }
    for (int s = 0; s < 16; s++)
        _mm256_store_si256((__m256i *)pn->sc[s], _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b->scales + 8 * s))));
    for (int u = 0; u < 8; u++) {
        const __m128i s0 = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(b->scales + 16 * u)));
        const __m128i s1 = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(b->scales + 16 * u + 8)));
        const __m256i pairs = _mm256_set_m128i(_mm_unpackhi_epi16(s0, s1), _mm_unpacklo_epi16(s0, s1));
        _mm256_store_si256((__m256i *)pn->mn[u], _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(pairs, 5)));
    }
    const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
    _mm256_store_ps(pn->d, d8);
    _mm256_store_ps(pn->dmin, _mm256_sub_ps(_mm256_setzero_ps(), d8));
}

CK_Q6X8 void moe_gemm_q6_Kx8_q8_K_vnni(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                      float *out, size_t out_stride, int64_t n) {
    if (m > 8) ck_panel16_gemm(ck_q6x8_fill, 16, x, sizeof(moe_block_q6_Kx8), rows / 8, n / MOE_QK_K, y, y_stride, m, out, out_stride);
    else ck_gemm_q6_Kx8_q8_K_vnni_direct(x, rows, y, y_stride, m, out, out_stride, n);
}
