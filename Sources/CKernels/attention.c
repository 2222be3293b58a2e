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

// Head sizes that are a multiple of 8 (64 and 128 in practice).
CK_AVX2 static void ck_attend_avx2(const float *q, const float *keys, const float *values, size_t stride,
                                   int64_t length, int64_t size, float scale, float *scores, float *out) {
    for (int64_t j = 0; j < length; j++) scores[j] = moe_dot_f32_f32_avx2(q, keys + (size_t)j * stride, size) * scale;
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
