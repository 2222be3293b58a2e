// AVX2 product of Q5_K weights in the x8 layout: repack_q5_K_x8.h with
// maddubs (u8 five-bit value ≤ 31 × s8 activation, pairs to i16: at most
// 2 · 31 · 128 = 7936) in place of vpdpbusd, four pieces summed in i16
// (≤ 31744, no saturation) and taken by the sub-block's scale in one madd
// (CK_Q5X8_SUMS16; the bounds are in the header). Up to eight activation
// rows take this direct kernel, four rows a pass; more take the AVX2
// panel filled straight from the layout (kpanel_avx2.c), as Q4_K's and
// Q6_K's do.
//
// Why the layout pays here: decoding a 1.5B Q5_K_M file at one thread
// went through the one-row AVX2 dot on ggml's layout (its unpacking,
// horizontal sums and call per row) at ~10.8 GB/s effective, against ~15
// for the types already in an x8 layout; in the x8 layout eight rows share
// one set of unpacked values per activation broadcast and one store, with
// no horizontal sums (docs/performance.md item 45).
//
// The integers are the scalar dot's, and the float step is too
// (CK_Q5X8_SCALAR_ORDER: d·isum − dmin·msum added per block, unfused), so
// every output equals moe_dot_q5_K_q8_K_ref bit for bit, through the panel
// as well. The VNNI product keeps its fused step.

#include <immintrin.h>

#define CK_KX8_AHEAD_FROM 1  // one-row decode too (kx8_prefetch.h)
#define CK_KX8_SPREAD        // one row: fetched between the block's steps (kx8_prefetch.h)

#define CK_Q5X8 __attribute__((target("avx2,fma,f16c")))
#define CK_Q5X8_SUMS16         // i16 sums, madd by the scales
#define CK_Q5X8_SCALAR_ORDER   // the reference's float step
#include "repack_q5_K_x8.h"

void ck_gemm_q5_Kx8_q8_K_avx2_direct(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                     float *out, size_t out_stride, int64_t n);

// The direct kernel at any m, four rows a pass (benchmarks and the entry).
CK_Q5X8 void ck_gemm_q5_Kx8_q8_K_avx2_direct(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                             float *out, size_t out_stride, int64_t n) {
    ck_q5x8_direct(x, rows / 8, n / MOE_QK_K, y, y_stride, m, out, out_stride);
}

// More than eight activation rows (prompts) go through the panel, which
// makes each block's five-bit values once for all of them; up to eight
// (several streams) stay direct.
CK_Q5X8 void moe_gemm_q5_Kx8_q8_K_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                      float *out, size_t out_stride, int64_t n) {
    if (m > 8) moe_gemm_panel_q5_Kx8_q8_K_avx2(x, rows, y, y_stride, m, out, out_stride, n);
    else ck_gemm_q5_Kx8_q8_K_avx2_direct(x, rows, y, y_stride, m, out, out_stride, n);
}
