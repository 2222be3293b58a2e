// AVX-512 VNNI (256-bit, VL) product of Q4_K weights in the x8 layout
// (include/repack_q4_K.h) with q8_K activation rows.
//
// Per block and group of eight rows: the 64 scales and 64 mins are unpacked
// with a few vector operations into a 128-byte scratch (sub-block-major, so
// sub-block s of the eight rows is eight bytes, widened to eight i32 lanes
// by one vpmovzxbd). For each chunk c (64 values, sub-blocks 2c and 2c+1)
// eight 32-byte pieces are loaded once; each piece's low and high nibbles
// go into one vpdpbusd each against four activation bytes broadcast to
// every lane, so lane r sums row r. A sub-block's i32 sums are weighted by
// its scales with one vpmulld, the mins by the activations' bsums the same
// way, and only then does the block turn to floats: d·dy and dmin·dy of the
// eight rows are one conversion each, and the accumulator holds eight
// outputs. Against the one-row AVX-512 VNNI dot (kquants_avx512_body.h),
// whose unpacking, permutes and reductions are per row: 2.7 against 6.3 ns
// per block-row in cache (bench/decode_rows_bench.c, AMD EPYC Zen 4).
//
// Integer bounds: a sub-block's lane sums 32 products of a nibble ≤ 15 and
// |y| ≤ 127 (60960), times a scale ≤ 63, eight sub-blocks: < 2^25; the
// mins' sums likewise. Exact, as ggml's; results differ from the one-row
// dots only in float summation order.

#include <immintrin.h>

#define CK_KX8 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define CK_KX8_DOT(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))
#define CK_KX8_ENTRY moe_gemm_q4_Kx8_q8_K_vnni
#include "repack_q4_K_x8.h"
