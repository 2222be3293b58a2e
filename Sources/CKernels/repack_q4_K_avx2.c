// AVX2 product of Q4_K weights in the x8 layout: repack_q4_K_x8.h with
// maddubs (u8 nibble × s8 activation, pairs to i16) in place of vpdpbusd,
// each sub-block's pieces summed in i16 and taken by its scale in one madd
// (CK_KX8_SUMS16; the bounds are in the header).
// More than eight activation rows (prompts) go through the panel
// (kpanel_avx2.h), which unpacks each block once for all of them and
// gives the same integers, so the same floats.

#include <immintrin.h>

#define CK_KX8_AHEAD_FROM 1  // one-row decode too (kx8_prefetch.h)
#define CK_KX8_SPREAD        // one row: fetched between the block's steps (kx8_prefetch.h)

#define CK_KX8 __attribute__((target("avx2,fma,f16c")))
#define CK_KX8_DOT16(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b)))
#define CK_KX8_ENTRY ck_gemm_q4_Kx8_q8_K_avx2_direct
#define CK_KX8_SUMS16  // i16 sums, madd by the scales (repack_q4_K_x8.h)
#include "repack_q4_K_x8.h"

void ck_gemm_q4_Kx8_q8_K_avx2_direct(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                     float *out, size_t out_stride, int64_t n);

CK_KX8 void moe_gemm_q4_Kx8_q8_K_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                      float *out, size_t out_stride, int64_t n) {
    if (m > 8) moe_gemm_panel_q4_Kx8_q8_K_avx2(x, rows, y, y_stride, m, out, out_stride, n);
    else ck_gemm_q4_Kx8_q8_K_avx2_direct(x, rows, y, y_stride, m, out, out_stride, n);
}
