// AVX2 product of one weight row with four activation rows whose block
// scales were converted to float beforehand (prompt processing and batched
// decoding): out[j] = dot(x, y + j·y_stride), j < 4.
//
// Per weight block the four integer sums are reduced together with
// horizontal adds into one vector [row0 row1 row2 row3 | the same, upper
// half], converted once and scaled once, instead of a convert, a broadcast
// and an FMA per activation row. With the scales already in float, a pair
// of (weight block, activation row) costs little more than its multiplies.
//
// y_scales holds, per block i, the four rows' d (q8_0): scales[4i + j]; for
// q8_1 it holds d then s, then the values transposed (see CK_OFFSET_GEMM):
// scales[40i + j] = d_j, scales[40i + 4 + j] = s_j.

#include "ck_x86.h"
#include <string.h>

// Floats per block that moe_act_scales4_q8_1 writes: 8 scales, 128 bytes of values.
#define CK_PREP_Q8_1 40

#define CK_YB(type, j, i) (((const type *)((const uint8_t *)y + (size_t)(j) * y_stride)) + (i))

// Eight int32 partial sums each of four rows -> [r0 r1 r2 r3 | r0 r1 r2 r3]
// (low and high halves of each row's sum).
CK_AVX2 static inline __m256i ck_reduce4(__m256i s0, __m256i s1, __m256i s2, __m256i s3) {
    return _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
}

// The same from the 16-bit pair sums of maddubs, for weights small enough
// (|q| ≤ 31) that four of them add up within int16: two 16-bit horizontal
// adds and one widening madd replace four madds and two 32-bit adds.
CK_AVX2 static inline __m256i ck_reduce4_small(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
    const __m256i h = _mm256_hadd_epi16(_mm256_hadd_epi16(p0, p1), _mm256_hadd_epi16(p2, p3));
    return _mm256_madd_epi16(h, _mm256_set1_epi16(1));
}

// Pair sums of four rows, reduced to [r0 r1 r2 r3 | r0 r1 r2 r3] int32.
// |pair| ≤ 2·31·127 = 7874 for 5-bit weights, so 4 pairs ≤ 31496 < 2^15.
#define CK_SUMS_SMALL(u, y0, y1, y2, y3) \
    ck_reduce4_small(_mm256_maddubs_epi16(u, y0), _mm256_maddubs_epi16(u, y1), \
                     _mm256_maddubs_epi16(u, y2), _mm256_maddubs_epi16(u, y3))
#define CK_SUMS_WIDE(u, y0, y1, y2, y3) \
    ck_reduce4(ck_dot_u8_i8(u, y0), ck_dot_u8_i8(u, y1), ck_dot_u8_i8(u, y2), ck_dot_u8_i8(u, y3))

CK_AVX2 static inline __m128 ck_halves(__m256 v) {
    return _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
}

// Signed weights (q4_0, q5_0, q8_0) against q8_0.
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
        const __m256 dy = _mm256_broadcast_ps((const __m128 *)(y_scales + 4 * i));            \
        const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(ck_half_f16c(a[i].d)), dy);         \
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
CK_AVX2 static inline __m256i ck_g_q8_0(const moe_block_q8_0 *blk) { return _mm256_loadu_si256((const __m256i *)blk->qs); }
CK_AVX2 static inline __m256i ck_g_q4_1(const moe_block_q4_1 *blk) { return ck_nibbles(blk->qs); }

CK_AVX2 void moe_gemm4_q4_0_q8_0_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n) {
    CK_SIGNED_GEMM(moe_block_q4_0, ck_g_q4_0, CK_SUMS_SMALL)
}
CK_AVX2 void moe_gemm4_q5_0_q8_0_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n) {
    CK_SIGNED_GEMM(moe_block_q5_0, ck_q5_0_values, CK_SUMS_SMALL)
}
CK_AVX2 void moe_gemm4_q8_0_q8_0_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n) {
    CK_SIGNED_GEMM(moe_block_q8_0, ck_g_q8_0, CK_SUMS_WIDE)  /* |q| ≤ 127: int32 sums */
}
CK_AVX2 void moe_gemm4_q4_1_q8_1_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n) {
    CK_OFFSET_GEMM(moe_block_q4_1, ck_g_q4_1)
}
CK_AVX2 void moe_gemm4_q5_1_q8_1_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n) {
    CK_OFFSET_GEMM(moe_block_q5_1, ck_q5_1_values)
}

// The float scales those kernels read, for four q8_0 or q8_1 rows.
void moe_act_scales4_q8_0(const void *y, size_t y_stride, float *scales, int64_t n) {
    for (int64_t i = 0; i < n / MOE_QK; i++)
        for (int j = 0; j < 4; j++) scales[4 * i + j] = moe_fp16_to_fp32(CK_YB(moe_block_q8_0, j, i)->d);
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
