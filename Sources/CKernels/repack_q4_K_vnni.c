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
#define CK_KX8_DOT16(acc, a, b) _mm256_dpwssd_epi32((acc), (a), (b))
#define CK_KX8_ENTRY ck_gemm_q4_Kx8_q8_K_vnni_direct
#include "repack_q4_K_x8.h"
#include "kpanel16_vnni.h"

void ck_gemm_q4_Kx8_q8_K_vnni_direct(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                     float *out, size_t out_stride, int64_t n);

// More than eight activation rows (prompt chunks): through the panel
// (kpanel16_vnni.h), the nibbles and scales unpacked once per block for
// all of them. Up to eight (several streams decoding) take the direct
// kernel, whose pieces are split in registers once for every four rows:
// at 256 × 2048 in L2, one thread, best of 41 by CPU time, 67 / 104 / 112 /
// 123 / 134 ns per block of eight rows at 4 / 5 / 6 / 7 / 8 rows against
// the panel's 71 / 117 / 132 / 149 / 148, and from memory (8192 × 2048 ×
// 6) further ahead (bench/kx8_rows_bench.c; AMD EPYC Zen 4).
CK_PANEL static void ck_q4x8_fill(const void *block, ck_kpanel *pn) {
    const moe_block_q4_Kx8 *b = block;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (int c = 0; c < 4; c++)
        for (int p = 0; p < 8; p++) {
            const __m256i w = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * (8 * c + p)));
            _mm256_store_si256((__m256i *)pn->q[16 * c + p], _mm256_and_si256(w, m4));
            _mm256_store_si256((__m256i *)pn->q[16 * c + 8 + p], _mm256_and_si256(_mm256_srli_epi16(w, 4), m4));
        }
    ck_panel_kx8_scales(b->lo4, b->hi2, pn);
    _mm256_store_ps(pn->d, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d)));
    _mm256_store_ps(pn->dmin, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin)));
}

CK_PANEL void moe_gemm_q4_Kx8_q8_K_vnni(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                       float *out, size_t out_stride, int64_t n) {
    if (m > 8) ck_panel16_gemm(ck_q4x8_fill, 8, x, sizeof(moe_block_q4_Kx8), rows / 8, n / MOE_QK_K, y, y_stride, m, out, out_stride);
    else ck_gemm_q4_Kx8_q8_K_vnni_direct(x, rows, y, y_stride, m, out, out_stride, n);
}
