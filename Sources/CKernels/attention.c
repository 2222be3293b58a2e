// One attention head over a sequence's cached keys and values (F32):
//   scores[j] = scale · q·k_j,  p = softmax(scores),  out = Σ_j p_j v_j
// for j < length, with rows of keys and values `stride` floats apart.
//
// Calling a vector dot and an axpy per cached position made attention a
// quarter of prompt processing: each call reloads and stores `out`. Here the
// head's output stays in registers across all positions (64 values per pass:
// eight AVX2 accumulators), and the query is loaded once.

#include "ck_x86.h"

static inline int ck_attention_avx2(void) { return moe_isa_best() >= MOE_ISA_AVX2; }

static void ck_attend_ref(const float *q, const float *keys, const float *values, size_t stride,
                          int64_t length, int64_t size, float scale, float *scores, float *out) {
    for (int64_t j = 0; j < length; j++) {
        float s = 0.0f;
        for (int64_t d = 0; d < size; d++) s += q[d] * keys[(size_t)j * stride + d];
        scores[j] = s * scale;
    }
    moe_vec_softmax_f32(scores, length);
    for (int64_t d = 0; d < size; d++) out[d] = 0.0f;
    for (int64_t j = 0; j < length; j++)
        for (int64_t d = 0; d < size; d++) out[d] += scores[j] * values[(size_t)j * stride + d];
}

// scores[j] = scale · q·k_j for heads of 64: the query stays in eight
// registers and four keys go together, their sums reduced with one
// horizontal-add tree and stored as one vector.
CK_AVX2 static void ck_scores64_avx2(const float *q, const float *keys, size_t stride, int64_t length,
                                     float scale, float *scores) {
    __m256 qv[8];
    for (int k = 0; k < 8; k++) qv[k] = _mm256_loadu_ps(q + 8 * k);
    int64_t j = 0;
    for (; j + 4 <= length; j += 4) {
        __m256 acc[4];
        for (int r = 0; r < 4; r++) {
            const float *key = keys + (size_t)(j + r) * stride;
            __m256 a = _mm256_mul_ps(qv[0], _mm256_loadu_ps(key));
            __m256 b = _mm256_mul_ps(qv[1], _mm256_loadu_ps(key + 8));
            for (int k = 2; k < 8; k += 2) {
                a = _mm256_fmadd_ps(qv[k], _mm256_loadu_ps(key + 8 * k), a);
                b = _mm256_fmadd_ps(qv[k + 1], _mm256_loadu_ps(key + 8 * k + 8), b);
            }
            acc[r] = _mm256_add_ps(a, b);
        }
        const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(acc[0], acc[1]), _mm256_hadd_ps(acc[2], acc[3]));
        const __m128 sums = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
        _mm_storeu_ps(scores + j, _mm_mul_ps(sums, _mm_set1_ps(scale)));
    }
    for (; j < length; j++) scores[j] = moe_dot_f32_f32_avx2(q, keys + (size_t)j * stride, 64) * scale;
}

// Head sizes that are a multiple of 8 (64 and 128 in practice).
CK_AVX2 static void ck_attend_avx2(const float *q, const float *keys, const float *values, size_t stride,
                                   int64_t length, int64_t size, float scale, float *scores, float *out) {
    if (size == 64) {
        ck_scores64_avx2(q, keys, stride, length, scale, scores);
    } else {
        for (int64_t j = 0; j < length; j++) scores[j] = moe_dot_f32_f32_avx2(q, keys + (size_t)j * stride, size) * scale;
    }
    moe_vec_softmax_f32(scores, length);
    for (int64_t base = 0; base < size; base += 64) {
        const int64_t width = size - base < 64 ? size - base : 64;
        const int vectors = (int)(width / 8);
        __m256 acc[8];
        for (int k = 0; k < 8; k++) acc[k] = _mm256_setzero_ps();
        const float *v = values + base;
        if (vectors == 8) {
            // the common case, fully unrolled so the accumulators live in registers
            for (int64_t j = 0; j < length; j++, v += stride) {
                const __m256 p = _mm256_broadcast_ss(scores + j);
                for (int k = 0; k < 8; k++) acc[k] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 8 * k), acc[k]);
            }
        } else {
            for (int64_t j = 0; j < length; j++, v += stride) {
                const __m256 p = _mm256_broadcast_ss(scores + j);
                for (int k = 0; k < vectors; k++) acc[k] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 8 * k), acc[k]);
            }
        }
        for (int k = 0; k < vectors; k++) _mm256_storeu_ps(out + base + 8 * k, acc[k]);
    }
}

void moe_attend_head_f32(const float *q, const float *keys, const float *values, size_t stride,
                         int64_t length, int64_t size, float scale, float *scores, float *out) {
    if (ck_attention_avx2() && size % 8 == 0) {
        ck_attend_avx2(q, keys, values, stride, length, size, scale, scores, out);
    } else {
        ck_attend_ref(q, keys, values, stride, length, size, scale, scores, out);
    }
}
