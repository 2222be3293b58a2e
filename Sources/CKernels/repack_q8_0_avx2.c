// AVX2 products of Q8_0 weights in the x8 layout (repack_q8_0.c) with q8_0
// activation rows, in the pattern of repack_q4_1_avx2.c.
//
// Per block of a group of eight weight rows: piece g (g < 8) is one load
// holding values 4g…4g+3 of all eight rows; its |w| is taken once and
// serves every activation row. For each activation row the matching four
// values are broadcast to all dwords, take w's sign (vpsignb) and maddubs
// multiplies them by |w|: a pair sum is at most 2·128·127 = 32512 < 2^15,
// exact even for a weight of -128 (|w| read unsigned is 128, and the
// activation quantizer writes |y| ≤ 127), so unlike moe_gemm4_q8_0_q8_0_avx2
// no block needs a slow path. Two pair sums may not fit 16 bits, so each
// piece widens with a madd on its own before the 32-bit adds.

#include "ck_x86.h"

#define CK_Q8_PF 2048

CK_AVX2 static inline __attribute__((always_inline)) __m256i
ck_q8x8_piece(__m256i mag, __m256i w, const moe_block_q8_0 *b, int g) {
    int32_t v;
    memcpy(&v, b->qs + 4 * g, 4);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(mag, _mm256_sign_epi8(_mm256_set1_epi32(v), w)),
                             _mm256_set1_epi16(1));
}

// Block blk's eight rows' sums p scaled by their d and the activation's dy.
CK_AVX2 static inline __attribute__((always_inline)) void
ck_q8x8_tail(__m256i p, const moe_block_q8_0x8 *blk, __m256 dy, __m256 *acc) {
    const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk->d));
    *acc = _mm256_fmadd_ps(_mm256_mul_ps(d8, dy), _mm256_cvtepi32_ps(p), *acc);
}

// One group (nb blocks) against M activation rows. ds: the rows' float d,
// row j's block i at ds[j·nb + i], or NULL to convert them here (one row).
// As in repack_q4_1_avx2.c, block i's piece 0 settles block i-1's float
// tail, so the tail waits on nothing of the block in flight.
CK_AVX2 static inline __attribute__((always_inline)) void
ck_q8x8_group(const moe_block_q8_0x8 *a, int64_t nb, const uint8_t *y, size_t y_stride, const int M,
              const float *ds, float *out, size_t out_stride) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    __m256i p[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
    const moe_block_q8_0 *y0[4];
    for (int j = 0; j < M; j++) y0[j] = (const moe_block_q8_0 *)(y + (size_t)j * y_stride);
    for (int64_t i = 0; i < nb; i++) {
        const moe_block_q8_0x8 *blk = &a[i];
        // 272-byte blocks: five lines cover each block's share
        for (int l = 0; l < 5; l++) _mm_prefetch((const char *)blk + CK_Q8_PF + 64 * l, _MM_HINT_T0);
        {
            const __m256i w = _mm256_loadu_si256((const __m256i *)blk->qs);
            const __m256i mag = _mm256_sign_epi8(w, w);
            if (i > 0) {
                for (int j = 0; j < M; j++) {
                    const __m256i t = ck_q8x8_piece(mag, w, y0[j] + i, 0);
                    const __m256 dy = ds ? _mm256_broadcast_ss(ds + j * nb + i - 1)
                                         : _mm256_set1_ps(ck_half_f16c(y0[j][i - 1].d));
                    ck_q8x8_tail(p[j], blk - 1, dy, &acc[j]);
                    p[j] = t;
                }
            } else {
                for (int j = 0; j < M; j++) p[j] = ck_q8x8_piece(mag, w, y0[j] + i, 0);
            }
        }
        for (int g = 1; g < 8; g++) {
            const __m256i w = _mm256_loadu_si256((const __m256i *)(blk->qs + 32 * g));
            const __m256i mag = _mm256_sign_epi8(w, w);
            for (int j = 0; j < M; j++) p[j] = _mm256_add_epi32(p[j], ck_q8x8_piece(mag, w, y0[j] + i, g));
        }
    }
    for (int j = 0; j < M; j++) {
        if (nb > 0) {
            const __m256 dy = ds ? _mm256_broadcast_ss(ds + j * nb + nb - 1)
                                 : _mm256_set1_ps(ck_half_f16c(y0[j][nb - 1].d));
            ck_q8x8_tail(p[j], a + nb - 1, dy, &acc[j]);
        }
        _mm256_storeu_ps(out + (size_t)j * out_stride, acc[j]);
    }
}

#define CK_Q8X8_SCALES 4096

// Two or more activation rows: chunks of rows whose float d fit on the
// stack, and per chunk every group against its rows four at a time, so a
// group's blocks come from memory once per chunk.
CK_AVX2 static __attribute__((noinline)) void
ck_q8x8_gemm_rows(const moe_block_q8_0x8 *a, int64_t rows, const uint8_t *y, size_t y_stride, int64_t m,
                  float *out, size_t out_stride, int64_t nb) {
    float scales[CK_Q8X8_SCALES];
    const int64_t chunk = CK_Q8X8_SCALES / nb / 4 * 4;
    for (int64_t c = 0; c < m; c += chunk) {
        const int64_t mc = m - c > chunk ? chunk : m - c;
        const uint8_t *yb = y + (size_t)c * y_stride;
        float *oc = out + (size_t)c * out_stride;
        for (int64_t j = 0; j < mc; j++) {
            const moe_block_q8_0 *b = (const moe_block_q8_0 *)(yb + (size_t)j * y_stride);
            for (int64_t i = 0; i < nb; i++) scales[j * nb + i] = ck_half_f16c(b[i].d);
        }
        for (int64_t k = 0; k < rows / 8; k++) {
            const moe_block_q8_0x8 *g = a + k * nb;
            float *o = oc + 8 * k;
            int64_t j = 0;
            for (; j + 4 <= mc; j += 4)
                ck_q8x8_group(g, nb, yb + (size_t)j * y_stride, y_stride, 4, scales + j * nb, o + (size_t)j * out_stride, out_stride);
            const uint8_t *yj = yb + (size_t)j * y_stride;
            float *oj = o + (size_t)j * out_stride;
            const float *ds = scales + j * nb;
            switch (mc - j) {
            case 3: ck_q8x8_group(g, nb, yj, y_stride, 3, ds, oj, out_stride); break;
            case 2: ck_q8x8_group(g, nb, yj, y_stride, 2, ds, oj, out_stride); break;
            case 1: ck_q8x8_group(g, nb, yj, y_stride, 1, NULL, oj, out_stride); break;
            default: break;
            }
        }
    }
}

CK_AVX2 void moe_gemm_q8_0x8_q8_0_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                       float *out, size_t out_stride, int64_t n) {
    const int64_t nb = n / MOE_QK;
    const moe_block_q8_0x8 *a = x;
    const uint8_t *yb = y;
    if (m > 1 && nb > 0 && nb * 4 <= CK_Q8X8_SCALES) {
        ck_q8x8_gemm_rows(a, rows, yb, y_stride, m, out, out_stride, nb);
        return;
    }
    for (int64_t k = 0; k < rows / 8; k++)
        for (int64_t j = 0; j < m; j++)
            ck_q8x8_group(a + k * nb, nb, yb + (size_t)j * y_stride, y_stride, 1, NULL, out + (size_t)j * out_stride + 8 * k, out_stride);
}
