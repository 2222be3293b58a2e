// AVX2 product of Q6_K weights in the x8 layout: repack_q6_K_x8.h with
// each vpdpbusd replaced by maddubs (u8 six-bit value ≤ 63 × s8 activation,
// pairs to i16: at most 2 · 63 · 128 = 16128, no saturation), madd with
// ones and an add. The same integers as the VNNI product, so the same
// outputs; every activation row count takes the direct kernel, four rows a
// pass (no panel at this level, as for Q4_K).
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

#define CK_Q6X8 __attribute__((target("avx2,fma,f16c")))
#define CK_Q6X8_DOT(acc, u, s) \
    _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1)))
#define CK_Q6X8_ENTRY moe_gemm_q6_Kx8_q8_K_avx2
#include "repack_q6_K_x8.h"
