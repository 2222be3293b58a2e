// AVX-512 VNNI products of Q4_1 weights in the x8 layout: repack_q4_1_x8.h
// with 32-bit running sums, two vpdpbusd per piece and row where AVX2 takes
// two maddubs and two adds, and no widening madd per block.

#include "ck_x86.h"

#define CK_X8 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define CK_X8_ADD_PIECE(acc, lo, hi, ylo, yhi) _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(acc, lo, ylo), hi, yhi)
#define CK_X8_WIDEN(p) (p)
#define CK_X8_ENTRY moe_gemm_q4_1x8_q8_1_vnni
#include "repack_q4_1_x8.h"
