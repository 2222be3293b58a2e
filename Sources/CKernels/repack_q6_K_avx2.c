// AVX2 product of Q6_K weights in the x8 layout: repack_q6_K_x8.h with
// maddubs (u8 six-bit value ≤ 63 × s8 activation, pairs to i16: at most
// 2 · 63 · 128 = 16128, no saturation) in place of vpdpbusd: for one and
// two rows with a madd by ones and an add, for three and four with two
// pieces summed in i16 and taken by the sub-block's scale in one madd
// (CK_Q6X8_SUMS16; the bounds are in the header). The same integers as
// the VNNI product, so the same outputs. Up to eight activation rows take this direct kernel, four rows a
// pass; more take the AVX2 panel (below), as Q4_K's do.
//
// Why the layout pays here: the one-row AVX2 dot on ggml's layout is
// compute-bound on Zen 3 (13.6 ns per block-row in cache, ~15 GB/s, about
// the one-thread read bandwidth), and more so on short rows, whose
// horizontal sum and call cost per row weigh on two blocks (an MoE
// expert's down matrix, 512 wide: 15.6 ns per block-row); in the x8 layout
// eight rows share one set of unpacked values per activation broadcast and
// one store, with no horizontal sums (bench/moe_ffn_bench.c).

#include <immintrin.h>

#define CK_KX8_AHEAD_FROM 1  // one-row decode too (kx8_prefetch.h)
#define CK_KX8_SPREAD        // one row: fetched between the block's steps (kx8_prefetch.h)

#define CK_Q6X8 __attribute__((target("avx2,fma,f16c")))
#define CK_Q6X8_DOT(acc, u, s) \
    _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1)))
#define CK_Q6X8_SUMS16  // three and four rows
#define CK_Q6X8_ENTRY ck_gemm_q6_Kx8_q8_K_avx2_direct
#include "repack_q6_K_x8.h"

// More than eight activation rows (prompts) go through the AVX2 panel
// (kpanel_avx2.c), which unpacks each block once for all of them: a 1.5B
// Q6_K prompt of 512 tokens at one thread, 30.5 against 38–39.5 tokens per
// CPU-second with the direct kernel four rows a pass (item 39's panel on
// ggml's layout). Up to eight rows (several streams) stay direct.
CK_Q6X8 void moe_gemm_q6_Kx8_q8_K_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                      float *out, size_t out_stride, int64_t n) {
    if (m > 8) moe_gemm_panel_q6_Kx8_q8_K_avx2(x, rows, y, y_stride, m, out, out_stride, n);
    else ck_gemm_q6_Kx8_q8_K_avx2_direct(x, rows, y, y_stride, m, out, out_stride, n);
}
