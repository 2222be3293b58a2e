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

#include "kpanel16_vnni.h"
#include <immintrin.h>

#define CK_Q6X8 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define CK_Q6X8_DOT(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))
#define CK_Q6X8_ENTRY ck_gemm_q6_Kx8_q8_K_vnni_direct
#include "repack_q6_K_x8.h"

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
