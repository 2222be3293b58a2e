// AVX2 product of one weight row with four activation rows whose block
// scales were converted to float beforehand (prompt processing and batched
// decoding): out[j] = dot(x, y + j·y_stride), j < 4.
//
// Per weight block the four integer sums end up in one vector [row0 row1
// row2 row3 | the same, upper half], converted once and scaled once,
// instead of a convert, a broadcast and an FMA per activation row. With the
// scales already in float, a pair of (weight block, activation row) costs
// little more than its multiplies.
//
// y_scales is prepared once per product by moe_act_scales4_*: per block i,
// for q8_0 the four rows' d, then their |values| and values transposed
// (q4_0 and q5_0 read only the d: scales[68i + j]); for q8_1 the d, the s,
// then the values transposed: scales[40i + j] = d_j, scales[40i + 4 + j] = s_j.

#include "ck_x86.h"
#include <string.h>

// Floats per block that moe_act_scales4_q8_1 writes: 8 scales, 128 bytes of values.
#define CK_PREP_Q8_1 40
// Floats per block that moe_act_scales4_q8_0 writes: 4 scales, 128 bytes of
// |values| and 128 of values, both transposed as for q8_1.
#define CK_PREP_Q8_0 68

#define CK_YB(type, j, i) (((const type *)((const uint8_t *)y + (size_t)(j) * y_stride)) + (i))

// Four rows' 16-bit pair sums of maddubs reduced to [r0 r1 r2 r3 | r0 r1 r2
// r3], for weights small enough (|q| ≤ 31) that four of them add up within
// int16: two 16-bit horizontal adds and one widening madd replace four
// madds and two 32-bit adds.
CK_AVX2 static inline __m256i ck_reduce4_small(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
    const __m256i h = _mm256_hadd_epi16(_mm256_hadd_epi16(p0, p1), _mm256_hadd_epi16(p2, p3));
    return _mm256_madd_epi16(h, _mm256_set1_epi16(1));
}

// Pair sums of four rows, reduced to [r0 r1 r2 r3 | r0 r1 r2 r3] int32.
// |pair| ≤ 2·31·127 = 7874 for 5-bit weights, so 4 pairs ≤ 31496 < 2^15.
#define CK_SUMS_SMALL(u, y0, y1, y2, y3) \
    ck_reduce4_small(_mm256_maddubs_epi16(u, y0), _mm256_maddubs_epi16(u, y1), \
                     _mm256_maddubs_epi16(u, y2), _mm256_maddubs_epi16(u, y3))

CK_AVX2 static inline __m128 ck_halves(__m256 v) {
    return _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
}

// Signed 4- and 5-bit weights (q4_0, q5_0) against q8_0.
#define CK_Y8(type, j, i) _mm256_loadu_si256((const __m256i *)CK_YB(type, j, i)->qs)
#define CK_SIGNED_GEMM(WTYPE, VALUES, SUMS)                                                   \
    const WTYPE *a = x;                                                                       \
    __m256 acc = _mm256_setzero_ps();                                                         \
    for (int64_t i = 0; i < n / MOE_QK; i++) {                                                \
        const __m256i q = VALUES(&a[i]);                                                      \
        const __m256i magnitude = _mm256_sign_epi8(q, q);                                     \
        const __m256i sums = SUMS(magnitude, _mm256_sign_epi8(CK_Y8(moe_block_q8_0, 0, i), q), \
                                  _mm256_sign_epi8(CK_Y8(moe_block_q8_0, 1, i), q),           \
                                  _mm256_sign_epi8(CK_Y8(moe_block_q8_0, 2, i), q),           \
                                  _mm256_sign_epi8(CK_Y8(moe_block_q8_0, 3, i), q));          \
        const __m256 dy = _mm256_broadcast_ps((const __m128 *)(y_scales + CK_PREP_Q8_0 * i)); \
        const __m256 scale = _mm256_mul_ps(ck_half_splat(a[i].d), dy);         \
        acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sums), acc);                          \
    }                                                                                         \
    _mm_storeu_ps(out, ck_halves(acc));

// Unsigned weights with a minimum (q4_1, q5_1) against q8_1, with the
// activation rows prepared by moe_act_scales4_q8_1: per block 8 float scales,
// then the four rows' values transposed in 4-byte groups, so that dword j of
// group vector g holds row j's values 4g…4g+3 (lower half) and 16+4g…
// (upper half). The unpacked weight vector has the same halves, so an
// in-lane dword broadcast of its group g lines up with all four rows at once:
// the 16-bit sums of the four groups add up to one vector whose dwords are
// the four rows' sums [r0 r1 r2 r3 | r0 r1 r2 r3] with one widening madd,
// and no horizontal adds. 4 groups · 2 · 31 · 127 = 31496 < 2^15 for weights
// of ≤ 5 bits.
#define CK_G(q, g, yt) _mm256_maddubs_epi16(_mm256_shuffle_epi32(q, (g) * 0x55), \
                                           _mm256_loadu_si256((const __m256i *)(yt) + (g)))
#define CK_OFFSET_GEMM(WTYPE, VALUES)                                                         \
    const WTYPE *a = x;                                                                       \
    (void)y; (void)y_stride;                                                                  \
    __m256 acc = _mm256_setzero_ps();                                                         \
    __m128 mins = _mm_setzero_ps();                                                           \
    for (int64_t i = 0; i < n / MOE_QK; i++) {                                                \
        const float *prep = y_scales + CK_PREP_Q8_1 * i;                                      \
        const uint8_t *yt = (const uint8_t *)(prep + 8);                                      \
        const __m256i q = VALUES(&a[i]);                                                      \
        const __m256i p = _mm256_add_epi16(_mm256_add_epi16(CK_G(q, 0, yt), CK_G(q, 1, yt)),  \
                                           _mm256_add_epi16(CK_G(q, 2, yt), CK_G(q, 3, yt))); \
        const __m256i sums = _mm256_madd_epi16(p, _mm256_set1_epi16(1));                      \
        const __m128 x_dm = ck_half_pair(&a[i].d);                                            \
        const __m256 dy = _mm256_broadcast_ps((const __m128 *)prep);                          \
        const __m256 scale = _mm256_mul_ps(_mm256_broadcastss_ps(x_dm), dy);                  \
        acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sums), acc);                          \
        /* m_x · s_j for the four rows */                                                     \
        mins = _mm_fmadd_ps(_mm_shuffle_ps(x_dm, x_dm, 0x55), _mm_loadu_ps(prep + 4), mins);  \
    }                                                                                         \
    _mm_storeu_ps(out, _mm_add_ps(ck_halves(acc), mins));

CK_AVX2 static inline __m256i ck_g_q4_0(const moe_block_q4_0 *blk) {
    return _mm256_sub_epi8(ck_nibbles(blk->qs), _mm256_set1_epi8(8));
}
CK_AVX2 static inline __m256i ck_g_q4_1(const moe_block_q4_1 *blk) { return ck_nibbles(blk->qs); }

CK_AVX2 void moe_gemm4_q4_0_q8_0_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n) {
    CK_SIGNED_GEMM(moe_block_q4_0, ck_g_q4_0, CK_SUMS_SMALL)
}
CK_AVX2 void moe_gemm4_q5_0_q8_0_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n) {
    CK_SIGNED_GEMM(moe_block_q5_0, ck_q5_0_values, CK_SUMS_SMALL)
}
// q8_0 weights against the transposed activations (group g as for q4_1).
// maddubs needs one unsigned operand: the prepared |y| times w with y's sign
// saves the per-row sign work of the weights' |w|, and sums of two pairs do
// not fit 16 bits here, so each group widens on its own. A weight of -128
// has no byte negation (ggml's quantizer never writes it, a file may hold
// it): such a block takes |w| times y with w's sign instead, which is exact.
#define CK_Q8_FAST(g) _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_loadu_si256(ya + (g)),                 \
                          _mm256_sign_epi8(_mm256_shuffle_epi32(w, (g) * 0x55), _mm256_loadu_si256(yt + (g)))), one)
#define CK_Q8_EXACT(g) _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_shuffle_epi32(mag, (g) * 0x55),       \
                          _mm256_sign_epi8(_mm256_loadu_si256(yt + (g)), _mm256_shuffle_epi32(w, (g) * 0x55))), one)
CK_AVX2 void moe_gemm4_q8_0_q8_0_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n) {
    (void)y; (void)y_stride;
    const moe_block_q8_0 *a = x;
    const __m256i one = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MOE_QK; i++) {
        const float *prep = y_scales + CK_PREP_Q8_0 * i;
        const __m256i *ya = (const __m256i *)(prep + 4), *yt = ya + 4;
        const __m256i w = _mm256_loadu_si256((const __m256i *)a[i].qs);
        __m256i sums;
        if (_mm256_movemask_epi8(_mm256_cmpeq_epi8(w, _mm256_set1_epi8(-128)))) {
            const __m256i mag = _mm256_sign_epi8(w, w);  // 0x80 read unsigned is 128
            sums = _mm256_add_epi32(_mm256_add_epi32(CK_Q8_EXACT(0), CK_Q8_EXACT(1)),
                                    _mm256_add_epi32(CK_Q8_EXACT(2), CK_Q8_EXACT(3)));
        } else {
            sums = _mm256_add_epi32(_mm256_add_epi32(CK_Q8_FAST(0), CK_Q8_FAST(1)),
                                    _mm256_add_epi32(CK_Q8_FAST(2), CK_Q8_FAST(3)));
        }
        const __m256 scale = _mm256_mul_ps(ck_half_splat(a[i].d), _mm256_broadcast_ps((const __m128 *)prep));
        acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sums), acc);
    }
    _mm_storeu_ps(out, ck_halves(acc));
}
CK_AVX2 void moe_gemm4_q4_1_q8_1_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n) {
    CK_OFFSET_GEMM(moe_block_q4_1, ck_g_q4_1)
}
CK_AVX2 void moe_gemm4_q5_1_q8_1_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n) {
    CK_OFFSET_GEMM(moe_block_q5_1, ck_q5_1_values)
}

// The float scales those kernels read, for four q8_0 or q8_1 rows.
void moe_act_scales4_q8_0(const void *y, size_t y_stride, float *scales, int64_t n) {
    for (int64_t i = 0; i < n / MOE_QK; i++) {
        float *prep = scales + CK_PREP_Q8_0 * i;
        uint8_t *ya = (uint8_t *)(prep + 4), *yt = ya + 128;
        for (int j = 0; j < 4; j++) {
            const moe_block_q8_0 *b = CK_YB(moe_block_q8_0, j, i);
            prep[j] = moe_fp16_to_fp32(b->d);
            for (int g = 0; g < 4; g++) {
                memcpy(yt + 32 * g + 4 * j, b->qs + 4 * g, 4);
                memcpy(yt + 32 * g + 16 + 4 * j, b->qs + 16 + 4 * g, 4);
            }
        }
        for (int k = 0; k < 128; k++) {
            const int v = (int8_t)yt[k];
            ya[k] = (uint8_t)(v < 0 ? -v : v);  // the quantizer writes |v| ≤ 127
        }
    }
}

void moe_act_scales4_q8_1(const void *y, size_t y_stride, float *scales, int64_t n) {
    for (int64_t i = 0; i < n / MOE_QK; i++) {
        float *prep = scales + CK_PREP_Q8_1 * i;
        uint8_t *yt = (uint8_t *)(prep + 8);
        for (int j = 0; j < 4; j++) {
            const moe_block_q8_1 *b = CK_YB(moe_block_q8_1, j, i);
            prep[j] = moe_fp16_to_fp32(b->d);
            prep[4 + j] = moe_fp16_to_fp32(b->s);
            // group g of row j: values 4g… to dword j of vector g's lower
            // half, values 16+4g… to dword j of its upper half
            for (int g = 0; g < 4; g++) {
                memcpy(yt + 32 * g + 4 * j, b->qs + 4 * g, 4);
                memcpy(yt + 32 * g + 16 + 4 * j, b->qs + 16 + 4 * g, 4);
            }
        }
    }
}
