// Decode attention for all the query heads of one GQA group over an F16
// cache: for g < group,
//   scores_g[j] = scale · q_g·k_j,  p_g = softmax(scores_g),  out_g = Σ_j p_g[j] v_j
// with the group's queries (and outputs) `size` floats apart, as the model
// lays out a token's heads, and key/value rows `stride` BYTES apart.
//
// Per head (moe_attend_head_kv) every cached key and value of the KV head is
// fetched and widened once per query head: SmolLM2's three, Qwen 0.5B's
// seven. In a decode step the step's weights have evicted the cache, so each
// head waited on the same rows from memory again. Here the group's heads
// go over the cache together: each key tile is fetched once and scored
// against two heads at a time while in registers (the group's other heads
// find it in L1), and each value vector weighs two heads' outputs at once.
//
// Each head's softmax is kept whole (two passes over the scores, as the
// per-head kernel), and every sum is added in the per-head kernel's order:
// the scalar version is the per-head reference bit for bit, the AVX2 one
// the per-head AVX2 kernel bit for bit.
// `maxima`/`sums` (either may be NULL) return each head's largest score and
// Σ exp(score − max), so parts of one range can be merged (below).
//
// The AVX-512 levels run the AVX2 code: on Zen 4 a 512-bit FMA costs two
// 256-bit ones, and the loads this kernel saves are what it is for.

#include <math.h>

#include "ck_x86.h"

#define CK_GROUP_HEADS 2  // heads a pass: 2 × 4 accumulators (three spilled one of the 16 ymm registers)
#define CK_GROUP_AHEAD 8  // key rows fetched ahead of the score tile (two tiles)

static inline const uint16_t *ck_group_row(const void *base, size_t stride, int64_t j) {
    return (const uint16_t *)((const uint8_t *)base + (size_t)j * stride);
}

// The first head of pass i when `passes` passes of at most two heads take
// the group as evenly as they can (3 → 1 + 2, 7 → 1 + 2 + 2 + 2).
static inline int64_t ck_group_first(int64_t group, int64_t passes, int64_t i) { return group * i / passes; }

// ---- scalar reference: the per-head reference, head after head ------------

static void ck_group_scores_ref(const float *q, int64_t group, const void *keys, size_t stride, int64_t length,
                                int64_t size, float scale, float *scores) {
    for (int64_t g = 0; g < group; g++)
        for (int64_t j = 0; j < length; j++) {
            const uint16_t *k = ck_group_row(keys, stride, j);
            float s = 0.0f;
            for (int64_t d = 0; d < size; d++) s += q[g * size + d] * ck_half(k[d]);
            scores[g * length + j] = s * scale;
        }
}

static void ck_group_values_ref(const float *p, int64_t group, const void *values, size_t stride, int64_t length,
                                int64_t size, float *out) {
    for (int64_t g = 0; g < group; g++) {
        float *o = out + g * size;
        for (int64_t d = 0; d < size; d++) o[d] = 0.0f;
        for (int64_t j = 0; j < length; j++) {
            const uint16_t *v = ck_group_row(values, stride, j);
            for (int64_t d = 0; d < size; d++) o[d] += p[g * length + j] * ck_half(v[d]);
        }
    }
}

// ---- AVX2 (+FMA, F16C): sizes a multiple of 8 ------------------------------

CK_AVX2 static inline __m256 ck_group_load8(const uint16_t *x) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)x));
}

// Fetches the head's `bytes` of key row j + CK_GROUP_AHEAD and of value row
// j (weighed after the scores): one head's slice of a row is too little for
// the hardware prefetcher to follow (see attention_kv.c).
static inline __attribute__((always_inline)) void ck_group_prefetch(const void *keys, const void *values,
                                                                    size_t stride, int64_t j, int64_t length,
                                                                    size_t bytes) {
    if (j + CK_GROUP_AHEAD < length) {
        const char *k = (const char *)keys + (size_t)(j + CK_GROUP_AHEAD) * stride;
        for (size_t at = 0; at < bytes; at += 64) _mm_prefetch(k + at, _MM_HINT_T0);
        _mm_prefetch(k + bytes - 1, _MM_HINT_T0);
    }
    const char *v = (const char *)values + (size_t)j * stride;
    for (size_t at = 0; at < bytes; at += 64) _mm_prefetch(v + at, _MM_HINT_T0);
    _mm_prefetch(v + bytes - 1, _MM_HINT_T0);
}

// The per-head kernel (ck_attend_f16_avx2) sums a score in two chains, the
// even vectors of the head (d = 0, 16, …, and a last odd one) and the odd
// ones, then a + b, then ck_hsum256. The group kernel keeps that order, so
// its outputs are the per-head kernel's bit for bit (and so are greedy
// tokens, and a decode step's cache rows are what a prompt's would be).

// [ck_hsum256(a[0]), …, ck_hsum256(a[3])], each added in ck_hsum256's order
// ((v0+v4) + (v2+v6)) + ((v1+v5) + (v3+v7)), four at once.
CK_AVX2 static inline __m128 ck_group_hsum4(const __m256 a[4]) {
    // [lo + hi of a0 | of a1] and [of a2 | of a3]: s_i = v_i + v_(i+4)
    const __m256 x01 = _mm256_add_ps(_mm256_permute2f128_ps(a[0], a[1], 0x20), _mm256_permute2f128_ps(a[0], a[1], 0x31));
    const __m256 x23 = _mm256_add_ps(_mm256_permute2f128_ps(a[2], a[3], 0x20), _mm256_permute2f128_ps(a[2], a[3], 0x31));
    // per lane [s0+s2 of a0|a1, of a2|a3, s1+s3 of a0|a1, of a2|a3]
    const __m256 u = _mm256_add_ps(_mm256_unpacklo_ps(x01, x23), _mm256_unpackhi_ps(x01, x23));
    const __m256 w = _mm256_add_ps(u, _mm256_shuffle_ps(u, u, _MM_SHUFFLE(1, 0, 3, 2)));
    // low lane [Σa0, Σa2, …], high lane [Σa1, Σa3, …]
    return _mm_unpacklo_ps(_mm256_castps256_ps128(w), _mm256_extractf128_ps(w, 1));
}

// Scores of R heads against keys j … j+3: each key vector is widened once
// and meets R queries (loaded from L1 as the FMAs' operands). The even
// vectors' sums are set aside while the odd ones are made (24 chains would
// not fit the registers), then each score is reduced as above. R is a
// constant at each call, so the accumulators stay in registers.
CK_AVX2 static inline __attribute__((always_inline)) void
ck_group_scores4(const float *q, const int R, const void *keys, size_t stride, int64_t j, int64_t size, float scale,
                 float *scores, int64_t ld) {
    __m256 acc[CK_GROUP_HEADS][4], even[CK_GROUP_HEADS][4];
    const uint16_t *k[4];
    for (int r = 0; r < 4; r++) k[r] = ck_group_row(keys, stride, j + r);
    for (int g = 0; g < R; g++)
        for (int r = 0; r < 4; r++) acc[g][r] = _mm256_setzero_ps();
    for (int64_t d = 0; d < size; d += 16) {
        for (int r = 0; r < 4; r++) {
            const __m256 key = ck_group_load8(k[r] + d);
            for (int g = 0; g < R; g++) acc[g][r] = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * size + d), key, acc[g][r]);
        }
    }
    for (int g = 0; g < R; g++)
        for (int r = 0; r < 4; r++) {
            even[g][r] = acc[g][r];
            acc[g][r] = _mm256_setzero_ps();
        }
    for (int64_t d = 8; d + 8 <= size; d += 16) {
        for (int r = 0; r < 4; r++) {
            const __m256 key = ck_group_load8(k[r] + d);
            for (int g = 0; g < R; g++) acc[g][r] = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * size + d), key, acc[g][r]);
        }
    }
    for (int g = 0; g < R; g++) {
        for (int r = 0; r < 4; r++) acc[g][r] = _mm256_add_ps(even[g][r], acc[g][r]);
        _mm_storeu_ps(scores + g * ld + j, _mm_mul_ps(ck_group_hsum4(acc[g]), _mm_set1_ps(scale)));
    }
}

// One key against R heads (the last length % 4 positions), in the same order.
CK_AVX2 static inline __attribute__((always_inline)) void
ck_group_scores1(const float *q, const int R, const void *keys, size_t stride, int64_t j, int64_t size, float scale,
                 float *scores, int64_t ld) {
    const uint16_t *k = ck_group_row(keys, stride, j);
    for (int g = 0; g < R; g++) {
        const float *qg = q + g * size;
        __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
        int64_t d = 0;
        for (; d + 16 <= size; d += 16) {
            a = _mm256_fmadd_ps(_mm256_loadu_ps(qg + d), ck_group_load8(k + d), a);
            b = _mm256_fmadd_ps(_mm256_loadu_ps(qg + d + 8), ck_group_load8(k + d + 8), b);
        }
        for (; d < size; d += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(qg + d), ck_group_load8(k + d), a);
        scores[g * ld + j] = ck_hsum256(_mm256_add_ps(a, b)) * scale;
    }
}

// Keys in tiles of four, every head of the group on a tile before the next
// one (the tile stays in L1 while the group takes its passes).
CK_AVX2 static void ck_group_scores_avx2(const float *q, int64_t group, const void *keys, const void *values,
                                         size_t stride, int64_t length, int64_t size, float scale, float *scores) {
    const size_t bytes = (size_t)size * 2;
    const int64_t passes = (group + CK_GROUP_HEADS - 1) / CK_GROUP_HEADS;
    for (int64_t j = 0; j < CK_GROUP_AHEAD && j < length; j++) {
        const char *k = (const char *)keys + (size_t)j * stride;
        for (size_t at = 0; at < bytes; at += 64) _mm_prefetch(k + at, _MM_HINT_T0);
    }
    int64_t j = 0;
    for (; j + 4 <= length; j += 4) {
        for (int r = 0; r < 4; r++) ck_group_prefetch(keys, values, stride, j + r, length, bytes);
        for (int64_t i = 0; i < passes; i++) {
            const int64_t g = ck_group_first(group, passes, i);
            const float *qg = q + g * size;
            float *sg = scores + g * length;
            switch (ck_group_first(group, passes, i + 1) - g) {
            case 2: ck_group_scores4(qg, 2, keys, stride, j, size, scale, sg, length); break;
            default: ck_group_scores4(qg, 1, keys, stride, j, size, scale, sg, length); break;
            }
        }
    }
    for (; j < length; j++) {
        ck_group_prefetch(keys, values, stride, j, length, bytes);
        for (int64_t i = 0; i < passes; i++) {
            const int64_t g = ck_group_first(group, passes, i);
            const float *qg = q + g * size;
            float *sg = scores + g * length;
            switch (ck_group_first(group, passes, i + 1) - g) {
            case 2: ck_group_scores1(qg, 2, keys, stride, j, size, scale, sg, length); break;
            default: ck_group_scores1(qg, 1, keys, stride, j, size, scale, sg, length); break;
            }
        }
    }
}

// out_g[base .. base + 8V) = Σ_j p_g[j] · v_j[base ..] for R heads: each value
// vector is widened once and weighed for R heads; R × V ≤ 8 accumulators,
// constants at each call, so they stay in registers across positions (with
// 3 × 4 clang kept one on the stack, a store and reload every position).
CK_AVX2 static inline __attribute__((always_inline)) void
ck_group_values_pass(const float *p, int64_t ld, const int R, const void *values, size_t stride, int64_t length,
                     int64_t base, const int V, float *out, int64_t size) {
    __m256 acc[CK_GROUP_HEADS][8];
    for (int g = 0; g < R; g++)
        for (int k = 0; k < V; k++) acc[g][k] = _mm256_setzero_ps();
    for (int64_t j = 0; j < length; j++) {
        const uint16_t *v = ck_group_row(values, stride, j) + base;
        __m256 w[CK_GROUP_HEADS];
        for (int g = 0; g < R; g++) w[g] = _mm256_broadcast_ss(p + g * ld + j);
        for (int k = 0; k < V; k++) {
            const __m256 x = ck_group_load8(v + 8 * k);
            for (int g = 0; g < R; g++) acc[g][k] = _mm256_fmadd_ps(w[g], x, acc[g][k]);
        }
    }
    for (int g = 0; g < R; g++)
        for (int k = 0; k < V; k++) _mm256_storeu_ps(out + g * size + base + 8 * k, acc[g][k]);
}

// One (R, V) pair as constants: two heads by 1–4 vectors, or one by 1–8.
#define CK_GROUP_PASS(r, v) ck_group_values_pass(p, ld, r, values, stride, length, base, v, out, size)
CK_AVX2 static void ck_group_values_at(const float *p, int64_t ld, int R, const void *values, size_t stride,
                                       int64_t length, int64_t base, int V, float *out, int64_t size) {
    switch (R * 16 + V) {
    case 2 * 16 + 4: CK_GROUP_PASS(2, 4); break;
    case 2 * 16 + 3: CK_GROUP_PASS(2, 3); break;
    case 2 * 16 + 2: CK_GROUP_PASS(2, 2); break;
    case 2 * 16 + 1: CK_GROUP_PASS(2, 1); break;
    case 1 * 16 + 8: CK_GROUP_PASS(1, 8); break;
    case 1 * 16 + 7: CK_GROUP_PASS(1, 7); break;
    case 1 * 16 + 6: CK_GROUP_PASS(1, 6); break;
    case 1 * 16 + 5: CK_GROUP_PASS(1, 5); break;
    case 1 * 16 + 4: CK_GROUP_PASS(1, 4); break;
    case 1 * 16 + 3: CK_GROUP_PASS(1, 3); break;
    case 1 * 16 + 2: CK_GROUP_PASS(1, 2); break;
    default: CK_GROUP_PASS(1, 1); break;
    }
}
#undef CK_GROUP_PASS

// Heads two at a time (the head's values 32 at a time) or one (64 at a time).
CK_AVX2 static void ck_group_values_avx2(const float *p, int64_t group, const void *values, size_t stride,
                                         int64_t length, int64_t size, float *out) {
    const int64_t passes = (group + CK_GROUP_HEADS - 1) / CK_GROUP_HEADS;
    for (int64_t i = 0; i < passes; i++) {
        const int64_t g = ck_group_first(group, passes, i);
        const int R = (int)(ck_group_first(group, passes, i + 1) - g);
        const int64_t width = 64 / R;
        for (int64_t base = 0; base < size; base += width) {
            const int V = (int)((size - base < width ? size - base : width) / 8);
            ck_group_values_at(p + g * length, length, R, values, stride, length, base, V, out + g * size, size);
        }
    }
}

// ---- dispatch ---------------------------------------------------------------

void moe_attend_group_f16_isa(moe_isa isa, const float *q, int64_t group, const void *keys, const void *values,
                              size_t stride, int64_t length, int64_t size, float scale, float *scores, float *out,
                              float *maxima, float *sums) {
    if (group <= 0 || size <= 0) return;
    if (length <= 0) {  // nothing attended: a zero output that merges as an empty part
        for (int64_t i = 0; i < group * size; i++) out[i] = 0.0f;
        for (int64_t g = 0; g < group; g++) {
            if (maxima) maxima[g] = -INFINITY;
            if (sums) sums[g] = 0.0f;
        }
        return;
    }
    const int simd = isa >= MOE_ISA_AVX2 && size % 8 == 0;
    if (simd) ck_group_scores_avx2(q, group, keys, values, stride, length, size, scale, scores);
    else ck_group_scores_ref(q, group, keys, stride, length, size, scale, scores);
    for (int64_t g = 0; g < group; g++) {
        float *s = scores + g * length;
        if (maxima) {
            float max = -INFINITY;
            for (int64_t j = 0; j < length; j++) max = fmaxf(max, s[j]);
            maxima[g] = max;
        }
        const float sum = moe_vec_softmax_f32(s, length);
        if (sums) sums[g] = sum;
    }
    if (simd) ck_group_values_avx2(scores, group, values, stride, length, size, out);
    else ck_group_values_ref(scores, group, values, stride, length, size, out);
}

void moe_attend_group_f16(const float *q, int64_t group, const void *keys, const void *values, size_t stride,
                          int64_t length, int64_t size, float scale, float *scores, float *out, float *maxima,
                          float *sums) {
    moe_attend_group_f16_isa(moe_isa_best(), q, group, keys, values, stride, length, size, scale, scores, out, maxima,
                             sums);
}

// Parts of one key range attended apart (each normalised over its own
// rows) into the whole range's result: part i's weight for head g is
// sums[i][g] · e^(maxima[i][g] − M_g), M_g the largest maximum, so
// out_g = Σ_i w_i out_i,g / Σ_i w_i. A part with no rows weighs nothing.
void moe_attend_merge_parts(int64_t parts, int64_t heads, int64_t size, const float *outs, const float *maxima,
                            const float *sums, float *out) {
    for (int64_t g = 0; g < heads; g++) {
        float top = -INFINITY;
        for (int64_t i = 0; i < parts; i++) top = fmaxf(top, maxima[i * heads + g]);
        float total = 0.0f;
        float *o = out + g * size;
        for (int64_t d = 0; d < size; d++) o[d] = 0.0f;
        for (int64_t i = 0; i < parts; i++) {
            const float m = maxima[i * heads + g];
            if (sums[i * heads + g] <= 0.0f || m == -INFINITY) continue;
            const float w = sums[i * heads + g] * expf(m - top);
            const float *part = outs + (i * heads + g) * size;
            for (int64_t d = 0; d < size; d++) o[d] += w * part[d];
            total += w;
        }
        if (total > 0.0f)
            for (int64_t d = 0; d < size; d++) o[d] /= total;
    }
}
