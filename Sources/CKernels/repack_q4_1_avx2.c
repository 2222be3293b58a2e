// AVX2 products of Q4_1 weights in the x8 layout: repack_q4_1_x8.h with
// 16-bit running sums (maddubs, add) widened once per block.

#include "ck_x86.h"

#define CK_X8 CK_AVX2
#define CK_X8_ADD_PIECE(acc, lo, hi, ylo, yhi) \
    _mm256_add_epi16(acc, _mm256_add_epi16(_mm256_maddubs_epi16(lo, ylo), _mm256_maddubs_epi16(hi, yhi)))
#define CK_X8_WIDEN(p) _mm256_madd_epi16(p, _mm256_set1_epi16(1))
#define CK_X8_ENTRY moe_gemm_q4_1x8_q8_1_avx2
#include "repack_q4_1_x8.h"
