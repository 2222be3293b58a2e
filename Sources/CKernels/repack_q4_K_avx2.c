// AVX2 product of Q4_K weights in the x8 layout: repack_q4_K_x8.h with
// each vpdpbusd replaced by maddubs (u8 nibble × s8 activation, pairs to
// i16: at most 2 · 15 · 127, no saturation), madd with ones and an add.

#include <immintrin.h>

#define CK_KX8_AHEAD_FROM 1  // one-row decode too (kx8_prefetch.h)

#define CK_KX8 __attribute__((target("avx2,fma,f16c")))
#define CK_KX8_DOT(acc, u, s) _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1)))
#define CK_KX8_DOT16(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b)))
#define CK_KX8_ENTRY moe_gemm_q4_Kx8_q8_K_avx2
#include "repack_q4_K_x8.h"
