// AVX-512 VNNI (256-bit, VL) product of Q5_K weights in the x8 layout
// (include/repack_q5_K.h) with q8_K activation rows.
//
// More than eight activation rows (prompt tiles) go through the panel
// (kpanel16_vnni.h): each block's five-bit values are made once per call.
// Up to eight (decoding one or several streams) read the block directly
// as Q4_K's x8 kernel does (repack_q4_K_x8.h), with each piece's fifth
// bits moved to bit 4 from the qh piece that serves the four chunks: the
// scales weighted in i32, one conversion per block; two to four rows share
// each piece's values (ck_q5x8_block2/3/4), as Q4_K's do. That body lives
// in repack_q5_K_x8.h, shared with the AVX2 build (repack_q5_K_avx2.c).

#include "kpanel16_vnni.h"

#define CK_Q5X8 CK_PANEL
#include "repack_q5_K_x8.h"

CK_PANEL static void ck_q5x8_fill(const void *block, ck_kpanel *pn) {
    const moe_block_q5_Kx8 *b = block;
    for (int c = 0; c < 4; c++)
        for (int p = 0; p < 8; p++) {
            __m256i lo, hi;
            ck_q5x8_values(b, c, p, &lo, &hi);
            _mm256_store_si256((__m256i *)pn->q[16 * c + p], lo);
            _mm256_store_si256((__m256i *)pn->q[16 * c + 8 + p], hi);
        }
    ck_panel_kx8_scales(b->lo4, b->hi2, pn);
    _mm256_store_ps(pn->d, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d)));
    _mm256_store_ps(pn->dmin, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin)));
}

// One activation row (decoding one stream): the loop of the multi-row
// kernel with its row arrays and switch ran 12 % slower here (43 against
// 38.5 ns per block in L2).
CK_PANEL static void ck_q5x8_one_row(const moe_block_q5_Kx8 *xb, int64_t groups, int64_t nb, const moe_block_q8_K *a,
                                     float *out) {
    for (int64_t k = 0; k < groups; k++) {
        __m256 acc = _mm256_setzero_ps();
        for (int64_t i = 0; i < nb; i++) {
            const moe_block_q5_Kx8 *b = &xb[k * nb + i];
            _mm_prefetch((const char *)(b + 1), _MM_HINT_T0);
            uint8_t sm[128];
            ck_kx8_scales(b->lo4, b->hi2, sm);
            __m256i isum, msum;
            ck_q5x8_block1(b, sm, &a[i], &isum, &msum);
            const __m256 dy = _mm256_set1_ps(a[i].d);
            const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
            const __m256 dmin8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin));
            acc = _mm256_fmadd_ps(_mm256_mul_ps(d8, dy), _mm256_cvtepi32_ps(isum), acc);
            acc = _mm256_fnmadd_ps(_mm256_mul_ps(dmin8, dy), _mm256_cvtepi32_ps(msum), acc);
        }
        _mm256_storeu_ps(out + 8 * k, acc);
    }
}

CK_PANEL void moe_gemm_q5_Kx8_q8_K_vnni(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                       float *out, size_t out_stride, int64_t n) {
    const int64_t nb = n / MOE_QK_K;
    if (m > 8) ck_panel16_gemm(ck_q5x8_fill, 8, x, sizeof(moe_block_q5_Kx8), rows / 8, nb, y, y_stride, m, out, out_stride);
    else if (m == 1) ck_q5x8_one_row(x, rows / 8, nb, y, out);
    else ck_q5x8_direct(x, rows / 8, nb, y, y_stride, m, out, out_stride);
}
