// Grouped-query attention of several query heads that share one KV head
// (a GQA group, or part of one), over a cache of any type: the same maths
// as moe_attend_head_kv for each head, with each cached key and value row
// read and widened once for all of them instead of once per head. Batched
// decoding of several streams spends most of its attention time widening
// halves and summing across lanes; sharing the widening cuts it by the
// group's size (3 for SmolLM2, 7 for Qwen2.5-0.5B, 8 for the 1.5B bench file).
//
// Query head h is at q + h·q_stride, its output at out + h·out_stride, its
// scores at scores + h·length. The F16 AVX-512 version takes up to four
// heads and 64 columns a pass (16 accumulators, four widened rows); every
// other type, level or shape runs moe_attend_head_kv_isa head by head.

#include "ck_x86.h"

#define CK_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl")))
#define CK_GROUP_HEADS 4

CK_AVX512 static inline __m512 ck_group_load16(const uint16_t *x) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)x));
}

// Lane i of the result: the sum of v[i]'s sixteen lanes (a transposing
// tree: 15 adds and 30 shuffles for sixteen sums, against about eight
// operations a sum for _mm512_reduce_add_ps one vector at a time).
CK_AVX512 static inline __m512 ck_group_hsum16(const __m512 *v) {
    __m512 s1[8], s2[4], s3[2];
    for (int k = 0; k < 8; k++)  // per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3]
        s1[k] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * k], v[2 * k + 1]), _mm512_unpackhi_ps(v[2 * k], v[2 * k + 1]));
    for (int k = 0; k < 4; k++)  // per 128-bit lane: element m sums v[4k+m] over that lane
        s2[k] = _mm512_add_ps(_mm512_shuffle_ps(s1[2 * k], s1[2 * k + 1], 0x44),
                              _mm512_shuffle_ps(s1[2 * k], s1[2 * k + 1], 0xEE));
    for (int k = 0; k < 2; k++)  // 128-bit lanes paired: (0+1, 2+3) of each operand
        s3[k] = _mm512_add_ps(_mm512_shuffle_f32x4(s2[2 * k], s2[2 * k + 1], 0x88),
                              _mm512_shuffle_f32x4(s2[2 * k], s2[2 * k + 1], 0xDD));
    return _mm512_add_ps(_mm512_shuffle_f32x4(s3[0], s3[1], 0x88), _mm512_shuffle_f32x4(s3[0], s3[1], 0xDD));
}

// Widest head whose sixteen widened key rows a block keeps on the stack (16 KB).
#define CK_GROUP_MAX_SIZE 256

// scores[h][j] = scale · q_h·k_j for `heads` ≤ 4 heads, `size` a multiple of
// 16. Sixteen positions at a time: their key rows are widened once into a
// small buffer, and each head's sixteen dot products are summed across
// lanes together (ck_group_hsum16); the last few positions one at a time.
CK_AVX512 static void ck_group_scores_f16(const float *q, size_t q_stride, int heads, const uint8_t *keys, size_t stride,
                                          int64_t length, int64_t size, float scale, float *scores) {
    int64_t j = 0;
    if (size <= CK_GROUP_MAX_SIZE) {
        float widened[16 * CK_GROUP_MAX_SIZE] __attribute__((aligned(64)));
        const __m512 scales = _mm512_set1_ps(scale);
        for (; j + 16 <= length; j += 16) {
            for (int r = 0; r < 16; r++) {
                const uint16_t *k = (const uint16_t *)(keys + (size_t)(j + r) * stride);
                for (int64_t d = 0; d < size; d += 16) _mm512_store_ps(widened + r * size + d, ck_group_load16(k + d));
            }
            for (int h = 0; h < heads; h++) {
                const float *qh = q + h * q_stride;
                __m512 acc[16];
                for (int r = 0; r < 16; r++) acc[r] = _mm512_setzero_ps();
                for (int64_t d = 0; d < size; d += 16) {
                    const __m512 qv = _mm512_loadu_ps(qh + d);
                    for (int r = 0; r < 16; r++) acc[r] = _mm512_fmadd_ps(qv, _mm512_load_ps(widened + r * size + d), acc[r]);
                }
                _mm512_storeu_ps(scores + h * length + j, _mm512_mul_ps(ck_group_hsum16(acc), scales));
            }
        }
    }
    for (; j < length; j++) {
        const uint16_t *k = (const uint16_t *)(keys + (size_t)j * stride);
        __m512 acc[CK_GROUP_HEADS];
        for (int h = 0; h < heads; h++) acc[h] = _mm512_setzero_ps();
        for (int64_t d = 0; d < size; d += 16) {
            const __m512 kv = ck_group_load16(k + d);
            for (int h = 0; h < heads; h++) acc[h] = _mm512_fmadd_ps(_mm512_loadu_ps(q + h * q_stride + d), kv, acc[h]);
        }
        for (int h = 0; h < heads; h++) scores[h * length + j] = _mm512_reduce_add_ps(acc[h]) * scale;
    }
}

// out_h = Σ_j p_h[j] v_j for `heads` ≤ 4 heads, 64 columns a pass.
CK_AVX512 static void ck_group_values_f16(const float *p, int heads, const uint8_t *values, size_t stride,
                                          int64_t length, int64_t size, float *out, size_t out_stride) {
    for (int64_t base = 0; base < size; base += 64) {
        const int vectors = (int)((size - base < 64 ? size - base : 64) / 16);
        __m512 acc[CK_GROUP_HEADS][4];
        for (int h = 0; h < CK_GROUP_HEADS; h++)
            for (int k = 0; k < 4; k++) acc[h][k] = _mm512_setzero_ps();
        for (int64_t j = 0; j < length; j++) {
            const uint16_t *v = (const uint16_t *)(values + (size_t)j * stride) + base;
            __m512 row[4];
            for (int k = 0; k < vectors; k++) row[k] = ck_group_load16(v + 16 * k);
            for (int h = 0; h < heads; h++) {
                const __m512 w = _mm512_set1_ps(p[h * length + j]);
                for (int k = 0; k < vectors; k++) acc[h][k] = _mm512_fmadd_ps(w, row[k], acc[h][k]);
            }
        }
        for (int h = 0; h < heads; h++)
            for (int k = 0; k < vectors; k++) _mm512_storeu_ps(out + h * out_stride + base + 16 * k, acc[h][k]);
    }
}

CK_AVX512 static void ck_attend_group_f16_avx512(const float *q, size_t q_stride, int64_t heads, const void *keys,
                                                 const void *values, size_t stride, int64_t length, int64_t size,
                                                 float scale, float *scores, float *out, size_t out_stride) {
    for (int64_t first = 0; first < heads; first += CK_GROUP_HEADS) {
        const int n = (int)(heads - first < CK_GROUP_HEADS ? heads - first : CK_GROUP_HEADS);
        float *s = scores + first * length;
        ck_group_scores_f16(q + first * q_stride, q_stride, n, keys, stride, length, size, scale, s);
        for (int h = 0; h < n; h++) moe_vec_softmax_f32(s + h * length, length);
        ck_group_values_f16(s, n, values, stride, length, size, out + first * out_stride, out_stride);
    }
}

void moe_attend_group_kv_isa(moe_kv_type type, moe_isa isa, const float *q, size_t q_stride, int64_t heads,
                             const void *keys, const void *values, size_t stride, int64_t length, int64_t size,
                             float scale, float *scores, float *out, size_t out_stride) {
    if (type == MOE_KV_F16 && isa >= MOE_ISA_AVX512 && size % 16 == 0) {
        ck_attend_group_f16_avx512(q, q_stride, heads, keys, values, stride, length, size, scale, scores, out, out_stride);
        return;
    }
    for (int64_t h = 0; h < heads; h++) {
        moe_attend_head_kv_isa(type, isa, q + h * q_stride, keys, values, stride, length, size, scale,
                               scores + h * length, out + h * out_stride);
    }
}

void moe_attend_group_kv(moe_kv_type type, const float *q, size_t q_stride, int64_t heads, const void *keys,
                         const void *values, size_t stride, int64_t length, int64_t size, float scale, float *scores,
                         float *out, size_t out_stride) {
    moe_attend_group_kv_isa(type, moe_isa_best(), q, q_stride, heads, keys, values, stride, length, size, scale,
                            scores, out, out_stride);
}
