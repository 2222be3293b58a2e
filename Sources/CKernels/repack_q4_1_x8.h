// The body of the Q4_1 x8 products, compiled once per ISA level by the file
// that includes it (repack_q4_1_avx2.c, repack_q4_1_vnni.c), which defines:
//   CK_X8             the target attribute;
//   CK_X8_ADD_PIECE(acc, lo, hi, ylo, yhi)  acc plus the products of the low
//                     and high nibble vectors with the broadcast activations;
//   CK_X8_WIDEN(p)    a running sum as eight int32 lanes;
//   CK_X8_ENTRY       the name of the exported function.
// AVX2 sums in 16 bits (maddubs, add) and widens once per block (madd with
// ones); VNNI sums in 32 bits with vpdpbusd and needs no widening.
//
// Products of Q4_1 weights in the x8 layout (repack_q4_1.c) with one
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

#pragma once
#include "ck_x86.h"

// Prefetch distance in bytes (a little over six blocks). A group is one
// sequential stream, but the hardware prefetcher alone left one-row products
// of model-sized matrices at 15.5 GB/s; fetching ahead by hand gives 20
// (bench/repack_bench.c; 2048 measured the same, 3072 worse). Prefetching
// past the end of a buffer is harmless: prefetches never fault.
#define CK_PF 1024
// The two-to-four-row loop (ck_x8_group_rows) takes longer per block and
// gains from fetching further ahead: 2048 against 1024 measured 2-3 % at
// four rows, 6-9 % at two or three from memory (3072 and 4096 the same as
// 2048 within noise); four-stream decoding ~1 % (1 thread).
#define CK_PF_ROWS 2048

// acc plus piece g of a block for activation row j: the low and high
// nibble vectors against its values 4g… and 16+4g… broadcast to every dword.
CK_X8 static inline __attribute__((always_inline)) __m256i
ck_x8_piece(__m256i acc, __m256i lo, __m256i hi, const moe_block_q8_1 *b, int g) {
    int32_t ylo, yhi;
    memcpy(&ylo, b->qs + 4 * g, 4);
    memcpy(&yhi, b->qs + 16 + 4 * g, 4);
    return CK_X8_ADD_PIECE(acc, lo, hi, _mm256_set1_epi32(ylo), _mm256_set1_epi32(yhi));
}

// One group of eight weight rows (nb blocks) against M activation rows.
// always_inline with a constant M, so each call below is its own loop with
// M accumulators in registers. Pieces are unpacked one at a time and each
// activation row keeps a 16-bit running sum, so eight weight vectors never
// need to be live together (16 ymm registers: M sums, M accumulators, two
// unpacked vectors, the masks and temporaries).
CK_X8 static inline __attribute__((always_inline)) void
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
                p[j] = ck_x8_piece(g == 0 ? _mm256_setzero_si256() : p[j], lo, hi, b[j], g);
            }
        }
        const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk->d));
        const __m256 m8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk->m));
        for (int j = 0; j < M; j++) {
            const __m256 sums = _mm256_cvtepi32_ps(CK_X8_WIDEN(p[j]));
            const __m128 ds = ck_half_pair(&b[j]->d);  // [d_y, s_y, 0, 0]
            const __m256 scale = _mm256_mul_ps(d8, _mm256_broadcastss_ps(ds));
            acc[j] = _mm256_fmadd_ps(scale, sums, acc[j]);
            acc[j] = _mm256_fmadd_ps(m8, _mm256_broadcastss_ps(_mm_movehdup_ps(ds)), acc[j]);
        }
    }
    for (int j = 0; j < M; j++) _mm256_storeu_ps(out + (size_t)j * out_stride, acc[j]);
}

// Two to four activation rows (batched decoding, prompt tiles). The same
// integer work and float terms in the same order as ck_x8_group (so the same
// results bit for bit), with two changes that cut the M = 4 loop from about
// 40 to 34 cycles per block (bench/repack_bench.c, one thread: 1.57-1.59 ->
// 1.36-1.38 ns per block-row in cache, 1.70 -> 1.48-1.52 from memory;
// four-stream decoding of SmolLM2-135M Q4_1 362 -> 387 tok/s):
// - the activation rows' d and s come converted to float (ck_x8_scales, once
//   per call), so per row a block's scale work is two broadcast loads, a
//   multiply and two FMAs instead of a load, a conversion, a shuffle and two
//   in-register broadcasts;
// - a block's float tail (widening madd, convert, scale, FMAs) runs in the
//   next block's piece 0, just before its 16-bit sum is replaced, so it
//   depends on nothing of the block in flight. The likely reason this pays:
//   a block is ~120 vector operations, about what the core can hold waiting,
//   and a tail at the end of its own block, waiting on the whole block's
//   chain, kept the next block's loads and multiplies from issuing.
// Alone, the float scales measured ~1 % and the deferred tail ~4 %.
CK_X8 static inline __attribute__((always_inline)) void
ck_x8_tail(__m256i p, const moe_block_q4_1x8 *blk, const float *ds, __m256 *acc) {
    const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk->d));
    const __m256 m8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk->m));
    const __m256 sums = _mm256_cvtepi32_ps(CK_X8_WIDEN(p));
    *acc = _mm256_fmadd_ps(_mm256_mul_ps(d8, _mm256_broadcast_ss(ds)), sums, *acc);
    *acc = _mm256_fmadd_ps(m8, _mm256_broadcast_ss(ds + 1), *acc);
}


// ds: the M rows' float (d, s) per block, eight floats a block (ck_x8_scales).
// Block i's piece 0 settles block i-1's sums into acc row by row, right
// before replacing them (the branch on i is outside the row loop: with it
// inside, the compiler's code ran 20 % slower).
CK_X8 static inline __attribute__((always_inline)) void
ck_x8_group_rows(const moe_block_q4_1x8 *a, int64_t nb, const uint8_t *y, size_t y_stride, const int M,
                 const float *ds, float *out, size_t out_stride) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    __m256i p[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
    const __m256i low = _mm256_set1_epi8(0x0f);
    for (int64_t i = 0; i < nb; i++) {
        const moe_block_q4_1x8 *blk = &a[i];
        _mm_prefetch((const char *)blk + CK_PF_ROWS, _MM_HINT_T0);
        _mm_prefetch((const char *)blk + CK_PF_ROWS + 64, _MM_HINT_T0);
        _mm_prefetch((const char *)blk + CK_PF_ROWS + 128, _MM_HINT_T0);
        const moe_block_q8_1 *b[4];
        for (int j = 0; j < M; j++) b[j] = (const moe_block_q8_1 *)(y + (size_t)j * y_stride) + i;
        {
            const __m256i raw = _mm256_loadu_si256((const __m256i *)blk->qs);
            const __m256i lo = _mm256_and_si256(raw, low);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low);
            if (i > 0) {
                for (int j = 0; j < M; j++) {
                    const __m256i t = ck_x8_piece(_mm256_setzero_si256(), lo, hi, b[j], 0);
                    ck_x8_tail(p[j], blk - 1, ds + 8 * (i - 1) + 2 * j, &acc[j]);
                    p[j] = t;
                }
            } else {
                for (int j = 0; j < M; j++) p[j] = ck_x8_piece(_mm256_setzero_si256(), lo, hi, b[j], 0);
            }
        }
        for (int g = 1; g < 4; g++) {
            const __m256i raw = _mm256_loadu_si256((const __m256i *)(blk->qs + 32 * g));
            const __m256i lo = _mm256_and_si256(raw, low);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low);
            for (int j = 0; j < M; j++) p[j] = ck_x8_piece(p[j], lo, hi, b[j], g);
        }
    }
    for (int j = 0; j < M; j++) {
        if (nb > 0) ck_x8_tail(p[j], a + nb - 1, ds + 8 * (nb - 1) + 2 * j, &acc[j]);
        _mm256_storeu_ps(out + (size_t)j * out_stride, acc[j]);
    }
}

// Float (d, s) of every block of m activation rows, by sets of four rows:
// set q's block i is [d0 s0 d1 s1 d2 s2 d3 s3] at ds + 8·(nb·q + i), one
// conversion per block and set (a last set of fewer rows leaves zeros). The
// four (d, s) pairs are inserted into a register: stored to memory and
// loaded as one vector they stalled store forwarding, which cost as much as
// a block's product.
CK_X8 static void ck_x8_scales(const uint8_t *y, size_t y_stride, int64_t m, int64_t nb, float *ds) {
    for (int64_t q = 0; q < (m + 3) / 4; q++) {
        const int rows = m - 4 * q < 4 ? (int)(m - 4 * q) : 4;
        const moe_block_q8_1 *b[4];
        for (int r = 0; r < 4; r++) b[r] = (const moe_block_q8_1 *)(y + (size_t)(4 * q + (r < rows ? r : 0)) * y_stride);
        for (int64_t i = 0; i < nb; i++) {
            int32_t h[4];
            for (int r = 0; r < 4; r++) memcpy(&h[r], &b[r][i].d, 4);  // d and s are adjacent
            __m128i v = _mm_setr_epi32(h[0], rows > 1 ? h[1] : 0, rows > 2 ? h[2] : 0, rows > 3 ? h[3] : 0);
            _mm256_storeu_ps(ds + 8 * (nb * q + i), _mm256_cvtph_ps(v));
        }
    }
}

// Floats of converted activation scales a call keeps on its stack (16 KB):
// activation rows are taken in chunks of four whose scales fit.
#define CK_X8_SCALES 4096

// Two or more activation rows, nb ≤ CK_X8_SCALES / 8: chunks of rows, and
// for each chunk every group against its rows four at a time (then the 2–3
// left, or one by ck_x8_group), so a group's blocks are read from memory
// once for all rows of a chunk. Not inlined, so that the single-row path
// keeps its small stack frame.
CK_X8 static __attribute__((noinline)) void
ck_x8_gemm_rows(const moe_block_q4_1x8 *a, int64_t rows, const uint8_t *y, size_t y_stride, int64_t m,
                float *out, size_t out_stride, int64_t nb) {
    float scales[CK_X8_SCALES];
    const int64_t chunk = CK_X8_SCALES / (8 * nb) * 4;
    for (int64_t c = 0; c < m; c += chunk) {
        const int64_t mc = m - c > chunk ? chunk : m - c;
        const uint8_t *yb = y + (size_t)c * y_stride;
        float *oc = out + (size_t)c * out_stride;
        ck_x8_scales(yb, y_stride, mc, nb, scales);
        for (int64_t k = 0; k < rows / 8; k++) {
            const moe_block_q4_1x8 *g = a + k * nb;
            float *o = oc + 8 * k;
            int64_t j = 0;
            for (; j + 4 <= mc; j += 4)
                ck_x8_group_rows(g, nb, yb + (size_t)j * y_stride, y_stride, 4, scales + 2 * nb * j, o + (size_t)j * out_stride, out_stride);
            const uint8_t *yj = yb + (size_t)j * y_stride;
            float *oj = o + (size_t)j * out_stride;
            const float *ds = scales + 2 * nb * j;
            switch (mc - j) {
            case 3: ck_x8_group_rows(g, nb, yj, y_stride, 3, ds, oj, out_stride); break;
            case 2: ck_x8_group_rows(g, nb, yj, y_stride, 2, ds, oj, out_stride); break;
            case 1: ck_x8_group(g, nb, yj, y_stride, 1, oj, out_stride); break;
            default: break;
            }
        }
    }
}

// One activation row (decoding a single sequence) takes ck_x8_group, as do
// rows longer than 16384 values (n / 32 > CK_X8_SCALES / 8), four at a time
// then the rest; two or more rows otherwise take ck_x8_gemm_rows.
CK_X8 void CK_X8_ENTRY(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                       float *out, size_t out_stride, int64_t n) {
    const int64_t nb = n / MOE_QK;
    const moe_block_q4_1x8 *a = x;
    const uint8_t *yb = y;
    if (m > 1 && nb > 0 && nb <= CK_X8_SCALES / 8) {
        ck_x8_gemm_rows(a, rows, yb, y_stride, m, out, out_stride, nb);
        return;
    }
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
