// Attention over a KV cache held in F16 or Q8_0 (see attention.c for F32).
//
// Same maths as moe_attend_head_f32: scores[j] = scale · q·k_j, p =
// softmax(scores), out = Σ_j p_j v_j, with the query and the output in F32
// and each cached key/value row widened to F32 as it is read. The query is
// not rounded to the cache type (llama.cpp rounds it to F16 or Q8_0 for its
// dot products), so these are at least as exact as llama.cpp's.
//
// Rows are `stride` BYTES apart and `keys`/`values` point at the head's first
// element in row 0. A Q8_0 head starts on a block boundary (size % 32 == 0).
//
// Attention reads every cached byte once per head group, so it is bound by
// memory: the SIMD versions exist to widen halves (F16C) and bytes without
// scalar loops, and keep the head's 64 outputs in registers across positions.

#include "ck_x86.h"

#define CK_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl")))

static inline const uint16_t *ck_f16_row(const void *base, size_t stride, int64_t j) {
    return (const uint16_t *)((const uint8_t *)base + (size_t)j * stride);
}

static inline const moe_block_q8_0 *ck_q8_row(const void *base, size_t stride, int64_t j) {
    return (const moe_block_q8_0 *)((const uint8_t *)base + (size_t)j * stride);
}

// ---- scalar references (the specification and test oracle) ----------------

static void ck_attend_f16_ref(const float *q, const void *keys, const void *values, size_t stride,
                              int64_t length, int64_t size, float scale, float *scores, float *out) {
    for (int64_t j = 0; j < length; j++) {
        const uint16_t *k = ck_f16_row(keys, stride, j);
        float s = 0.0f;
        for (int64_t d = 0; d < size; d++) s += q[d] * ck_half(k[d]);
        scores[j] = s * scale;
    }
    moe_vec_softmax_f32(scores, length);
    for (int64_t d = 0; d < size; d++) out[d] = 0.0f;
    for (int64_t j = 0; j < length; j++) {
        const uint16_t *v = ck_f16_row(values, stride, j);
        for (int64_t d = 0; d < size; d++) out[d] += scores[j] * ck_half(v[d]);
    }
}

static void ck_attend_q8_0_ref(const float *q, const void *keys, const void *values, size_t stride,
                               int64_t length, int64_t size, float scale, float *scores, float *out) {
    const int64_t blocks = size / MOE_QK;
    for (int64_t j = 0; j < length; j++) {
        const moe_block_q8_0 *k = ck_q8_row(keys, stride, j);
        float s = 0.0f;
        for (int64_t b = 0; b < blocks; b++) {
            float block = 0.0f;
            for (int i = 0; i < MOE_QK; i++) block += q[b * MOE_QK + i] * (float)k[b].qs[i];
            s += block * ck_half(k[b].d);
        }
        scores[j] = s * scale;
    }
    moe_vec_softmax_f32(scores, length);
    for (int64_t d = 0; d < size; d++) out[d] = 0.0f;
    for (int64_t j = 0; j < length; j++) {
        const moe_block_q8_0 *v = ck_q8_row(values, stride, j);
        for (int64_t b = 0; b < blocks; b++) {
            const float p = scores[j] * ck_half(v[b].d);
            for (int i = 0; i < MOE_QK; i++) out[b * MOE_QK + i] += p * (float)v[b].qs[i];
        }
    }
}

// ---- AVX2 (+FMA, F16C) ------------------------------------------------------

CK_AVX2 static inline __m256 ck_load8_f16(const uint16_t *x) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)x));
}

CK_AVX2 static inline __m256 ck_load8_i8(const int8_t *x) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)x)));
}

// Fetches ahead, in the score loop at position j, the `bytes` of the head in
// the key row CK_KV_AHEAD positions on and in value row j (an F16 head of 64
// is 128 bytes, up to three lines when not aligned; Q8_0 68). In decoding the cache's rows were
// evicted by the step's weights, and one head reads a slice of each row, too
// few rows for the hardware prefetcher to lock on: the loads waited on
// memory (perf annotate). The value rows arrive while the scores are made.
#define CK_KV_AHEAD 6
static inline __attribute__((always_inline)) void ck_prefetch_kv(const void *keys, const void *values, size_t stride,
                                                                 int64_t j, int64_t length, size_t bytes) {
    if (j + CK_KV_AHEAD < length) {
        const char *k = (const char *)keys + (size_t)(j + CK_KV_AHEAD) * stride;
        for (size_t at = 0; at < bytes; at += 64) _mm_prefetch(k + at, _MM_HINT_T0);
        _mm_prefetch(k + bytes - 1, _MM_HINT_T0);
    }
    const char *v = (const char *)values + (size_t)j * stride;
    for (size_t at = 0; at < bytes; at += 64) _mm_prefetch(v + at, _MM_HINT_T0);
    _mm_prefetch(v + bytes - 1, _MM_HINT_T0);
}

// The first CK_KV_AHEAD key rows, before the score loop starts.
static inline __attribute__((always_inline)) void ck_prefetch_keys(const void *keys, size_t stride, int64_t length,
                                                                   size_t bytes) {
    for (int64_t j = 0; j < CK_KV_AHEAD && j < length; j++) {
        const char *k = (const char *)keys + (size_t)j * stride;
        for (size_t at = 0; at < bytes; at += 64) _mm_prefetch(k + at, _MM_HINT_T0);
    }
}

// out[0 .. 8V) = Σ_j scores[j] · values[j][base ..], V vectors of eight.
// always_inline with a constant V: with a run-time count the compiler kept
// the accumulators on the stack, and every position's FMA waited on a store
// and a reload of the one before (half of decode attention's time, perf
// annotate, SmolLM2 64-wide heads); in registers the V chains run at FMA
// latency. Same operations in the same order, so the same results.
CK_AVX2 static inline __attribute__((always_inline)) void
ck_weigh_values8_f16(const float *scores, const void *values, size_t stride, int64_t length, int64_t base,
                     const int V, float *out) {
    __m256 acc[8];
    for (int k = 0; k < V; k++) acc[k] = _mm256_setzero_ps();
    for (int64_t j = 0; j < length; j++) {
        const uint16_t *v = ck_f16_row(values, stride, j) + base;
        const __m256 p = _mm256_broadcast_ss(scores + j);
        for (int k = 0; k < V; k++) acc[k] = _mm256_fmadd_ps(p, ck_load8_f16(v + 8 * k), acc[k]);
    }
    for (int k = 0; k < V; k++) _mm256_storeu_ps(out + 8 * k, acc[k]);
}

CK_AVX2 static void ck_attend_f16_avx2(const float *q, const void *keys, const void *values, size_t stride,
                                       int64_t length, int64_t size, float scale, float *scores, float *out) {
    ck_prefetch_keys(keys, stride, length, (size_t)size * 2);
    for (int64_t j = 0; j < length; j++) {
        ck_prefetch_kv(keys, values, stride, j, length, (size_t)size * 2);
        const uint16_t *k = ck_f16_row(keys, stride, j);
        __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
        int64_t d = 0;
        for (; d + 16 <= size; d += 16) {
            a = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), ck_load8_f16(k + d), a);
            b = _mm256_fmadd_ps(_mm256_loadu_ps(q + d + 8), ck_load8_f16(k + d + 8), b);
        }
        for (; d < size; d += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), ck_load8_f16(k + d), a);
        scores[j] = ck_hsum256(_mm256_add_ps(a, b)) * scale;
    }
    moe_vec_softmax_f32(scores, length);
    for (int64_t base = 0; base < size; base += 64) {
        float *o = out + base;
        switch ((size - base < 64 ? size - base : 64) / 8) {
        case 8: ck_weigh_values8_f16(scores, values, stride, length, base, 8, o); break;
        case 4: ck_weigh_values8_f16(scores, values, stride, length, base, 4, o); break;
        case 7: ck_weigh_values8_f16(scores, values, stride, length, base, 7, o); break;
        case 6: ck_weigh_values8_f16(scores, values, stride, length, base, 6, o); break;
        case 5: ck_weigh_values8_f16(scores, values, stride, length, base, 5, o); break;
        case 3: ck_weigh_values8_f16(scores, values, stride, length, base, 3, o); break;
        case 2: ck_weigh_values8_f16(scores, values, stride, length, base, 2, o); break;
        default: ck_weigh_values8_f16(scores, values, stride, length, base, 1, o); break;
        }
    }
}

// As ck_weigh_values8_f16 for a Q8_0 cache (V of 4 or 8: whole blocks).
CK_AVX2 static inline __attribute__((always_inline)) void
ck_weigh_values_q8_0(const float *scores, const void *values, size_t stride, int64_t length, int64_t base,
                     const int V, float *out) {
    __m256 acc[8];
    for (int k = 0; k < V; k++) acc[k] = _mm256_setzero_ps();
    for (int64_t j = 0; j < length; j++) {
        const moe_block_q8_0 *v = ck_q8_row(values, stride, j) + base / MOE_QK;
        const __m256 p = _mm256_broadcast_ss(scores + j);
        for (int k = 0; k < V; k++) {
            const moe_block_q8_0 *block = v + k / 4;
            const __m256 pd = _mm256_mul_ps(p, ck_half_splat(block->d));
            acc[k] = _mm256_fmadd_ps(pd, ck_load8_i8(block->qs + 8 * (k % 4)), acc[k]);
        }
    }
    for (int k = 0; k < V; k++) _mm256_storeu_ps(out + 8 * k, acc[k]);
}

CK_AVX2 static void ck_attend_q8_0_avx2(const float *q, const void *keys, const void *values, size_t stride,
                                        int64_t length, int64_t size, float scale, float *scores, float *out) {
    const int64_t blocks = size / MOE_QK;
    const size_t bytes = (size_t)blocks * sizeof(moe_block_q8_0);
    ck_prefetch_keys(keys, stride, length, bytes);
    for (int64_t j = 0; j < length; j++) {
        ck_prefetch_kv(keys, values, stride, j, length, bytes);
        const moe_block_q8_0 *k = ck_q8_row(keys, stride, j);
        __m256 sum = _mm256_setzero_ps();
        for (int64_t b = 0; b < blocks; b++) {
            const float *qb = q + b * MOE_QK;
            __m256 a = _mm256_mul_ps(_mm256_loadu_ps(qb), ck_load8_i8(k[b].qs));
            __m256 c = _mm256_mul_ps(_mm256_loadu_ps(qb + 8), ck_load8_i8(k[b].qs + 8));
            a = _mm256_fmadd_ps(_mm256_loadu_ps(qb + 16), ck_load8_i8(k[b].qs + 16), a);
            c = _mm256_fmadd_ps(_mm256_loadu_ps(qb + 24), ck_load8_i8(k[b].qs + 24), c);
            sum = _mm256_fmadd_ps(_mm256_add_ps(a, c), ck_half_splat(k[b].d), sum);
        }
        scores[j] = ck_hsum256(sum) * scale;
    }
    moe_vec_softmax_f32(scores, length);
    // size is a multiple of 32: four or eight vectors a part
    for (int64_t base = 0; base < size; base += 64) {
        if (size - base >= 64) ck_weigh_values_q8_0(scores, values, stride, length, base, 8, out + base);
        else ck_weigh_values_q8_0(scores, values, stride, length, base, 4, out + base);
    }
}

// ---- AVX-512 (F, BW, VL): 16 values a register ------------------------------

CK_AVX512 static inline __m512 ck_load16_f16(const uint16_t *x) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)x));
}

// As ck_weigh_values8_f16, V vectors of sixteen (accumulators in registers).
CK_AVX512 static inline __attribute__((always_inline)) void
ck_weigh_values16_f16(const float *scores, const void *values, size_t stride, int64_t length, int64_t base,
                      const int V, float *out) {
    __m512 acc[8];
    for (int k = 0; k < V; k++) acc[k] = _mm512_setzero_ps();
    for (int64_t j = 0; j < length; j++) {
        const uint16_t *v = ck_f16_row(values, stride, j) + base;
        const __m512 p = _mm512_set1_ps(scores[j]);
        for (int k = 0; k < V; k++) acc[k] = _mm512_fmadd_ps(p, ck_load16_f16(v + 16 * k), acc[k]);
    }
    for (int k = 0; k < V; k++) _mm512_storeu_ps(out + 16 * k, acc[k]);
}

CK_AVX512 static void ck_attend_f16_avx512(const float *q, const void *keys, const void *values, size_t stride,
                                           int64_t length, int64_t size, float scale, float *scores, float *out) {
    ck_prefetch_keys(keys, stride, length, (size_t)size * 2);
    for (int64_t j = 0; j < length; j++) {
        ck_prefetch_kv(keys, values, stride, j, length, (size_t)size * 2);
        const uint16_t *k = ck_f16_row(keys, stride, j);
        __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
        int64_t d = 0;
        for (; d + 32 <= size; d += 32) {
            a = _mm512_fmadd_ps(_mm512_loadu_ps(q + d), ck_load16_f16(k + d), a);
            b = _mm512_fmadd_ps(_mm512_loadu_ps(q + d + 16), ck_load16_f16(k + d + 16), b);
        }
        for (; d < size; d += 16) a = _mm512_fmadd_ps(_mm512_loadu_ps(q + d), ck_load16_f16(k + d), a);
        scores[j] = _mm512_reduce_add_ps(_mm512_add_ps(a, b)) * scale;
    }
    moe_vec_softmax_f32(scores, length);
    for (int64_t base = 0; base < size; base += 128) {
        float *o = out + base;
        switch ((size - base < 128 ? size - base : 128) / 16) {
        case 8: ck_weigh_values16_f16(scores, values, stride, length, base, 8, o); break;
        case 4: ck_weigh_values16_f16(scores, values, stride, length, base, 4, o); break;
        case 7: ck_weigh_values16_f16(scores, values, stride, length, base, 7, o); break;
        case 6: ck_weigh_values16_f16(scores, values, stride, length, base, 6, o); break;
        case 5: ck_weigh_values16_f16(scores, values, stride, length, base, 5, o); break;
        case 3: ck_weigh_values16_f16(scores, values, stride, length, base, 3, o); break;
        case 2: ck_weigh_values16_f16(scores, values, stride, length, base, 2, o); break;
        default: ck_weigh_values16_f16(scores, values, stride, length, base, 1, o); break;
        }
    }
}

// ---- dispatch ---------------------------------------------------------------

typedef void (*ck_attend_fn)(const float *, const void *, const void *, size_t, int64_t, int64_t, float,
                             float *, float *);

// The kernel for `type` at exactly `isa`, or NULL when that level has no
// version of its own (or the shape does not fit it). Q8_0 gains nothing from
// AVX-512 over AVX2 here: widening bytes, not arithmetic, is its cost.
static ck_attend_fn ck_attend_at(moe_kv_type type, moe_isa isa, int64_t size) {
    switch (type) {
    case MOE_KV_F16:
        if (isa >= MOE_ISA_AVX512 && size % 16 == 0) return ck_attend_f16_avx512;
        if (isa >= MOE_ISA_AVX2 && size % 8 == 0) return ck_attend_f16_avx2;
        return ck_attend_f16_ref;
    case MOE_KV_Q8_0:
        if (isa >= MOE_ISA_AVX2) return ck_attend_q8_0_avx2;
        return ck_attend_q8_0_ref;
    default:
        return NULL;
    }
}

size_t moe_kv_row_bytes(moe_kv_type type, int64_t n) {
    switch (type) {
    case MOE_KV_F32: return (size_t)n * 4;
    case MOE_KV_F16: return (size_t)n * 2;
    case MOE_KV_Q8_0: return (size_t)(n / MOE_QK) * sizeof(moe_block_q8_0);
    }
    return 0;
}

void moe_kv_store(moe_kv_type type, const float *x, void *row, int64_t n) {
    switch (type) {
    case MOE_KV_F32: memcpy(row, x, (size_t)n * 4); break;
    case MOE_KV_F16:
        if (moe_isa_best() >= MOE_ISA_AVX2) moe_quantize_f16_f16c(x, row, n);
        else moe_quantize_f16(x, row, n);
        break;
    case MOE_KV_Q8_0: moe_quantize_q8_0(x, row, n); break;
    }
}

void moe_attend_head_kv_isa(moe_kv_type type, moe_isa isa, const float *q, const void *keys, const void *values,
                            size_t stride, int64_t length, int64_t size, float scale, float *scores, float *out) {
    if (type == MOE_KV_F32) {
        // F32 rows: the float kernel picks its own level; its stride counts floats.
        moe_attend_head_f32(q, keys, values, stride / 4, length, size, scale, scores, out);
        return;
    }
    ck_attend_at(type, isa, size)(q, keys, values, stride, length, size, scale, scores, out);
}

void moe_attend_head_kv(moe_kv_type type, const float *q, const void *keys, const void *values, size_t stride,
                        int64_t length, int64_t size, float scale, float *scores, float *out) {
    moe_attend_head_kv_isa(type, moe_isa_best(), q, keys, values, stride, length, size, scale, scores, out);
}
