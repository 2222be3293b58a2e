// AVX2/FMA dot products for the classic types. Same contracts as the _ref
// functions in quants_ref.c: integer sums per block are exact, so results
// differ from the reference only in the order floats are added.

#include "ck_internal.h"
#include "ck_x86.h"

// Each kernel is a per-block step (acc += scale * integer sums) run over
// pairs of blocks with two accumulators, so consecutive FMAs do not wait on
// each other.
#define CK_DOT_LOOP(A, B, STEP)                                                \
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();             \
    float mins = 0.0f;                                                         \
    const int64_t nb = n / MOE_QK;                                             \
    int64_t i = 0;                                                             \
    for (; i + 2 <= nb; i += 2) {                                              \
        acc0 = STEP(&A[i], &B[i], acc0, &mins);                                \
        acc1 = STEP(&A[i + 1], &B[i + 1], acc1, &mins);                        \
    }                                                                          \
    if (i < nb) acc0 = STEP(&A[i], &B[i], acc0, &mins);                        \
    return ck_hsum256(_mm256_add_ps(acc0, acc1)) + mins;

// The same for the types with a min term, whose step keeps the min terms in
// lane 1 of a vector accumulator.
#define CK_DOT_LOOP_OFFSET(A, B, STEP)                                         \
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();             \
    __m128 mins0 = _mm_setzero_ps(), mins1 = _mm_setzero_ps();                 \
    const int64_t nb = n / MOE_QK;                                             \
    int64_t i = 0;                                                             \
    for (; i + 2 <= nb; i += 2) {                                              \
        acc0 = STEP(&A[i], &B[i], acc0, &mins0);                               \
        acc1 = STEP(&A[i + 1], &B[i + 1], acc1, &mins1);                       \
    }                                                                          \
    if (i < nb) acc0 = STEP(&A[i], &B[i], acc0, &mins0);                       \
    const __m128 mins = _mm_add_ps(mins0, mins1);                              \
    return ck_hsum256(_mm256_add_ps(acc0, acc1)) + _mm_cvtss_f32(_mm_shuffle_ps(mins, mins, 1));

CK_AVX2 static inline __m256 ck_scaled(__m256i sums, __m256 scale, __m256 acc) {
    return _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sums), acc);
}

CK_AVX2 static inline __m256i ck_q8(const int8_t *qs) { return _mm256_loadu_si256((const __m256i *)qs); }

CK_AVX2 static inline __m256 ck_step_q4_0(const moe_block_q4_0 *a, const moe_block_q8_0 *b, __m256 acc, float *mins) {
    (void)mins;
    const __m256i q = _mm256_sub_epi8(ck_nibbles(a->qs), _mm256_set1_epi8(8));
    return ck_scaled(ck_dot_i8_i8(q, ck_q8(b->qs)), ck_scale_product(a->d, b->d), acc);
}

// d and m (weights) and d and s (Q8_1 activations) sit side by side, so one
// conversion gives [d_x, m_x] and one [d_y, s_y], and one multiply both the
// block's scale d_x·d_y and its min term m_x·s_y (the activations' s = d_y·Σq,
// so they are not revisited).
CK_AVX2 static inline __m128 ck_scale_and_min(const uint16_t *x_dm, const uint16_t *y_ds) {
    return _mm_mul_ps(ck_half_pair(x_dm), ck_half_pair(y_ds));
}

// Lane 1 of *mins accumulates the min terms (lanes 0, 2, 3 are ignored).
#define CK_STEP_OFFSET(NAME, WTYPE, VALUES)                                                   \
    CK_AVX2 static inline __m256 NAME(const WTYPE *a, const moe_block_q8_1 *b, __m256 acc, __m128 *mins) { \
        const __m128 sm = ck_scale_and_min(&a->d, &b->d);                                     \
        *mins = _mm_add_ps(*mins, sm);                                                        \
        const __m256 sums = _mm256_cvtepi32_ps(ck_dot_u8_i8(VALUES, ck_q8(b->qs)));           \
        return _mm256_fmadd_ps(_mm256_broadcastss_ps(sm), sums, acc);                         \
    }

CK_STEP_OFFSET(ck_step_q4_1, moe_block_q4_1, ck_nibbles(a->qs))
CK_STEP_OFFSET(ck_step_q5_1, moe_block_q5_1, ck_q5_1_values(a))

CK_AVX2 static inline __m256 ck_step_q5_0(const moe_block_q5_0 *a, const moe_block_q8_0 *b, __m256 acc, float *mins) {
    (void)mins;
    return ck_scaled(ck_dot_i8_i8(ck_q5_0_values(a), ck_q8(b->qs)), ck_scale_product(a->d, b->d), acc);
}

CK_AVX2 static inline __m256 ck_step_q8_0(const moe_block_q8_0 *a, const moe_block_q8_0 *b, __m256 acc, float *mins) {
    (void)mins;
    return ck_scaled(ck_dot_i8_i8(ck_q8(a->qs), ck_q8(b->qs)), ck_scale_product(a->d, b->d), acc);
}

CK_AVX2 float moe_dot_q4_0_q8_0_avx2(const void *x, const void *y, int64_t n) {
    const moe_block_q4_0 *a = x;
    const moe_block_q8_0 *b = y;
    CK_DOT_LOOP(a, b, ck_step_q4_0)
}

CK_AVX2 float moe_dot_q4_1_q8_1_avx2(const void *x, const void *y, int64_t n) {
    const moe_block_q4_1 *a = x;
    const moe_block_q8_1 *b = y;
    CK_DOT_LOOP_OFFSET(a, b, ck_step_q4_1)
}

CK_AVX2 float moe_dot_q5_0_q8_0_avx2(const void *x, const void *y, int64_t n) {
    const moe_block_q5_0 *a = x;
    const moe_block_q8_0 *b = y;
    CK_DOT_LOOP(a, b, ck_step_q5_0)
}

CK_AVX2 float moe_dot_q5_1_q8_1_avx2(const void *x, const void *y, int64_t n) {
    const moe_block_q5_1 *a = x;
    const moe_block_q8_1 *b = y;
    CK_DOT_LOOP_OFFSET(a, b, ck_step_q5_1)
}

CK_AVX2 float moe_dot_q8_0_q8_0_avx2(const void *x, const void *y, int64_t n) {
    const moe_block_q8_0 *a = x;
    const moe_block_q8_0 *b = y;
    CK_DOT_LOOP(a, b, ck_step_q8_0)
}

// ---- float types: four accumulators hide the FMA latency -------------------

CK_AVX2 float moe_dot_f32_f32_avx2(const void *x, const void *y, int64_t n) {
    const float *a = x, *b = y;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float sum = ck_hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

CK_AVX2 float moe_dot_f16_f16_avx2(const void *x, const void *y, int64_t n) {
    const uint16_t *a = x, *b = y;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(ck_load_f16(a + i), ck_load_f16(b + i), s0);
        s1 = _mm256_fmadd_ps(ck_load_f16(a + i + 8), ck_load_f16(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(ck_load_f16(a + i), ck_load_f16(b + i), s0);
    float sum = ck_hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++) sum += ck_half_f16c(a[i]) * ck_half_f16c(b[i]);
    return sum;
}

CK_AVX2 float moe_dot_bf16_bf16_avx2(const void *x, const void *y, int64_t n) {
    const uint16_t *a = x, *b = y;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(ck_load_bf16(a + i), ck_load_bf16(b + i), s0);
        s1 = _mm256_fmadd_ps(ck_load_bf16(a + i + 8), ck_load_bf16(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(ck_load_bf16(a + i), ck_load_bf16(b + i), s0);
    float sum = ck_hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++) sum += moe_bf16_to_fp32(a[i]) * moe_bf16_to_fp32(b[i]);
    return sum;
}
