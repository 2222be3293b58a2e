// AVX2 dots of one weight row with four activation rows at once, for prompt
// processing: each weight block is unpacked once and used four times, which
// is most of a block's work. out[j] = dot(x, y + j * y_stride) for j < 4;
// results agree with the single-row kernels up to float summation order.

#include "ck_x86.h"

#define CK_ROWS 4

// The activation block `i` of row j.
#define CK_Y(type, j, i) (((const type *)((const uint8_t *)y + (size_t)(j) * y_stride)) + (i))

CK_AVX2 static inline void ck_store_sums(const __m256 acc[CK_ROWS], const float mins[CK_ROWS], float *out) {
    for (int j = 0; j < CK_ROWS; j++) out[j] = ck_hsum256(acc[j]) + mins[j];
}

// Signed weights (q4_0, q5_0, q8_0): |q| once, q's sign moved onto each y.
#define CK_SIGNED_ROWS(WTYPE, VALUES)                                                         \
    const WTYPE *a = x;                                                                       \
    __m256 acc[CK_ROWS] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
    const float mins[CK_ROWS] = {0, 0, 0, 0};                                                 \
    for (int64_t i = 0; i < n / MOE_QK; i++) {                                                \
        const __m256i q = VALUES(&a[i]);                                                      \
        const __m256i magnitude = _mm256_sign_epi8(q, q);                                     \
        for (int j = 0; j < CK_ROWS; j++) {                                                   \
            const moe_block_q8_0 *b = CK_Y(moe_block_q8_0, j, i);                             \
            const __m256i yq = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)b->qs), q); \
            const __m256 sums = _mm256_cvtepi32_ps(ck_dot_u8_i8(magnitude, yq));              \
            acc[j] = _mm256_fmadd_ps(ck_scale_product(a[i].d, b->d), sums, acc[j]);           \
        }                                                                                     \
    }                                                                                         \
    ck_store_sums(acc, mins, out);

// Unsigned weights with a minimum (q4_1, q5_1) against q8_1.
#define CK_OFFSET_ROWS(WTYPE, VALUES)                                                         \
    const WTYPE *a = x;                                                                       \
    __m256 acc[CK_ROWS] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
    __m128 min_terms[CK_ROWS] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()}; \
    for (int64_t i = 0; i < n / MOE_QK; i++) {                                                \
        const __m256i q = VALUES(&a[i]);                                                      \
        const __m128 x_dm = ck_half_pair(&a[i].d);                                            \
        for (int j = 0; j < CK_ROWS; j++) {                                                   \
            const moe_block_q8_1 *b = CK_Y(moe_block_q8_1, j, i);                             \
            /* [d_x·d_y, m_x·s_y]: the block's scale and its min term */                      \
            const __m128 sm = _mm_mul_ps(x_dm, ck_half_pair(&b->d));                          \
            const __m256 sums = _mm256_cvtepi32_ps(ck_dot_u8_i8(q, _mm256_loadu_si256((const __m256i *)b->qs))); \
            acc[j] = _mm256_fmadd_ps(_mm256_broadcastss_ps(sm), sums, acc[j]);                \
            min_terms[j] = _mm_add_ps(min_terms[j], sm);                                      \
        }                                                                                     \
    }                                                                                         \
    float mins[CK_ROWS];                                                                      \
    for (int j = 0; j < CK_ROWS; j++) mins[j] = _mm_cvtss_f32(_mm_shuffle_ps(min_terms[j], min_terms[j], 1)); \
    ck_store_sums(acc, mins, out);

CK_AVX2 static inline __m256i ck_q4_0_values(const moe_block_q4_0 *blk) {
    return _mm256_sub_epi8(ck_nibbles(blk->qs), _mm256_set1_epi8(8));
}
CK_AVX2 static inline __m256i ck_q8_0_values(const moe_block_q8_0 *blk) {
    return _mm256_loadu_si256((const __m256i *)blk->qs);
}
CK_AVX2 static inline __m256i ck_q4_1_values(const moe_block_q4_1 *blk) { return ck_nibbles(blk->qs); }

CK_AVX2 void moe_dot4_q4_0_q8_0_avx2(const void *x, const void *y, size_t y_stride, float *out, int64_t n) {
    CK_SIGNED_ROWS(moe_block_q4_0, ck_q4_0_values)
}

CK_AVX2 void moe_dot4_q5_0_q8_0_avx2(const void *x, const void *y, size_t y_stride, float *out, int64_t n) {
    CK_SIGNED_ROWS(moe_block_q5_0, ck_q5_0_values)
}

CK_AVX2 void moe_dot4_q8_0_q8_0_avx2(const void *x, const void *y, size_t y_stride, float *out, int64_t n) {
    CK_SIGNED_ROWS(moe_block_q8_0, ck_q8_0_values)
}

CK_AVX2 void moe_dot4_q4_1_q8_1_avx2(const void *x, const void *y, size_t y_stride, float *out, int64_t n) {
    CK_OFFSET_ROWS(moe_block_q4_1, ck_q4_1_values)
}

CK_AVX2 void moe_dot4_q5_1_q8_1_avx2(const void *x, const void *y, size_t y_stride, float *out, int64_t n) {
    CK_OFFSET_ROWS(moe_block_q5_1, ck_q5_1_values)
}
