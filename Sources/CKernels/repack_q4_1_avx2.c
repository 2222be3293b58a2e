// AVX2 products of Q4_1 weights in the x8 layout (repack_q4_1.c) with one
// to four q8_1 activation rows at a time, read as the quantizer wrote them.
//
// Per block of a group of eight weight rows: the eight d and the eight m
// are one conversion each; the 128 nibble bytes are four loads, and a mask
// and a shift-mask give eight vectors, vector g (g < 4) holding values
// 4g…4g+3 of all eight rows, vector 4+g values 16+4g…. For each activation
// row the matching four values are broadcast to all dwords (a load, no
// shuffle), maddubs gives the eight rows' 16-bit pair sums, the eight
// vectors add up in 16 bits (each lane sums 16 products of a weight ≤ 15
// and a value |y| ≤ 128: 16·15·128 = 30720 < 2^15, so neither maddubs nor
// the adds saturate) and one madd with ones leaves the eight rows' block
// sums in one vector: no horizontal sum anywhere, and each activation row's
// accumulator is directly the eight output values.

#include "ck_x86.h"

// Prefetch distance in bytes (a little over six blocks). A group is one
// sequential stream, but the hardware prefetcher alone left one-row products
// of model-sized matrices at 15.5 GB/s; fetching ahead by hand gives 20
// (bench/repack_bench.c; 2048 measured the same, 3072 worse). Prefetching
// past the end of a buffer is harmless: prefetches never fault.
#define CK_PF 1024

// One group of eight weight rows (nb blocks) against M activation rows.
// always_inline with a constant M, so each call below is its own loop with
// M accumulators in registers. Pieces are unpacked one at a time and each
// activation row keeps a 16-bit running sum, so eight weight vectors never
// need to be live together (16 ymm registers: M sums, M accumulators, two
// unpacked vectors, the masks and temporaries).
CK_AVX2 static inline __attribute__((always_inline)) void
ck_x8_group(const moe_block_q4_1x8 *a, int64_t nb, const uint8_t *y, size_t y_stride, const int M,
            float *out, size_t out_stride) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    const __m256i low = _mm256_set1_epi8(0x0f);
    for (int64_t i = 0; i < nb; i++) {
        const moe_block_q4_1x8 *blk = &a[i];
        // 160-byte blocks: three lines 64 bytes apart cover each block's share
        _mm_prefetch((const char *)blk + CK_PF, _MM_HINT_T0);
        _mm_prefetch((const char *)blk + CK_PF + 64, _MM_HINT_T0);
        _mm_prefetch((const char *)blk + CK_PF + 128, _MM_HINT_T0);
        const moe_block_q8_1 *b[4];
        for (int j = 0; j < M; j++) b[j] = (const moe_block_q8_1 *)(y + (size_t)j * y_stride) + i;
        __m256i p[4];
        for (int g = 0; g < 4; g++) {
            const __m256i raw = _mm256_loadu_si256((const __m256i *)(blk->qs + 32 * g));
            const __m256i lo = _mm256_and_si256(raw, low);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low);
            for (int j = 0; j < M; j++) {
                int32_t ylo, yhi;
                memcpy(&ylo, b[j]->qs + 4 * g, 4);
                memcpy(&yhi, b[j]->qs + 16 + 4 * g, 4);
                const __m256i t = _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_set1_epi32(ylo)),
                                                   _mm256_maddubs_epi16(hi, _mm256_set1_epi32(yhi)));
                p[j] = g == 0 ? t : _mm256_add_epi16(p[j], t);
            }
        }
        const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk->d));
        const __m256 m8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk->m));
        for (int j = 0; j < M; j++) {
            const __m256 sums = _mm256_cvtepi32_ps(_mm256_madd_epi16(p[j], _mm256_set1_epi16(1)));
            const __m128 ds = ck_half_pair(&b[j]->d);  // [d_y, s_y, 0, 0]
            const __m256 scale = _mm256_mul_ps(d8, _mm256_broadcastss_ps(ds));
            acc[j] = _mm256_fmadd_ps(scale, sums, acc[j]);
            acc[j] = _mm256_fmadd_ps(m8, _mm256_broadcastss_ps(_mm_movehdup_ps(ds)), acc[j]);
        }
    }
    for (int j = 0; j < M; j++) _mm256_storeu_ps(out + (size_t)j * out_stride, acc[j]);
}

// Every group against the activation rows four at a time (then the 1–3
// left): the loop over activation rows is inside the loop over groups, so a
// group's blocks are read from memory once for all m rows. (Converting the
// activation scales to float up front was tried: 1.5 % in cache, nothing
// measurable on streamed weights.)
CK_AVX2 void moe_gemm_q4_1x8_q8_1_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                       float *out, size_t out_stride, int64_t n) {
    const int64_t nb = n / MOE_QK;
    const moe_block_q4_1x8 *a = x;
    const uint8_t *yb = y;
    for (int64_t k = 0; k < rows / 8; k++) {
        const moe_block_q4_1x8 *g = a + k * nb;
        float *o = out + 8 * k;
        int64_t j = 0;
        for (; j + 4 <= m; j += 4) ck_x8_group(g, nb, yb + (size_t)j * y_stride, y_stride, 4, o + (size_t)j * out_stride, out_stride);
        const uint8_t *yj = yb + (size_t)j * y_stride;
        float *oj = o + (size_t)j * out_stride;
        switch (m - j) {
        case 3: ck_x8_group(g, nb, yj, y_stride, 3, oj, out_stride); break;
        case 2: ck_x8_group(g, nb, yj, y_stride, 2, oj, out_stride); break;
        case 1: ck_x8_group(g, nb, yj, y_stride, 1, oj, out_stride); break;
        default: break;
        }
    }
}
