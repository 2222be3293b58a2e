// Prompt attention for a block of consecutive query rows of one head
// (positions p, p+1, …, p+rows-1 of one sequence, attending from the same
// first cached row): row r attends to `length + r` cached rows.
//
// Per row this is moe_attend_head_kv. The head-by-head kernel widens every
// cached F16 key and value once per query row and reduces each score with a
// horizontal add; over a 512-token prompt that ran at ~6 GMAC/s. Here four
// query rows share each widened key/value row, and a 4 × 4 tile of
// (query, key) dot products is reduced into one vector of 16 scores with a
// transpose-and-add tree, so both the widening and the reduction are
// amortised. Scores are kept (two passes, not an online softmax), so the
// result is the per-row kernel's up to float summation order.
//
// AVX-512 (heads of 16·k) and AVX2 (heads of 8·k) have block kernels over an
// F16 cache; the scalar level and F32/Q8_0 caches run the per-row kernel
// for each row, so they are correct by construction.

#include "ck_x86.h"

#define CK_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl")))
#define CK_BLOCK_ROWS 4

static inline const uint16_t *ck_block_f16_row(const void *base, size_t stride, int64_t j) {
    return (const uint16_t *)((const uint8_t *)base + (size_t)j * stride);
}

// Sums of 16 vectors as one vector: lane i holds Σ v[i]. A butterfly of
// unpack/shuffle + add: 15 combines instead of 16 full reductions.
CK_AVX512 static inline __m512 ck_block_sum16(const __m512 *v) {
    __m512 t[8], w[4], u[2];
    for (int i = 0; i < 8; i++)  // per 128-bit lane: [a, b, a, b] partials
        t[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 4; i++) {  // per 128-bit lane: [a, b, c, d]
        const __m512d x = _mm512_castps_pd(t[2 * i]), y = _mm512_castps_pd(t[2 * i + 1]);
        w[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
    }
    for (int i = 0; i < 2; i++)
        u[i] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

// scores[r * ld + j] = scale · q_r·k_j for 4 query rows and j < count, every
// row scored against every key (the causal cut is the softmax's job).
CK_AVX512 static void ck_block_scores_f16(const float *q, size_t qStride, const void *keys, size_t stride,
                                          int64_t count, int64_t size, float scale, float *scores, int64_t ld) {
    int64_t j = 0;
    for (; j + 4 <= count; j += 4) {
        // acc[4 * row + key]: the sums come out as each row's four scores in
        // one 128-bit lane, stored whole (sixteen single-float extracts and
        // stores were a sixth of this kernel's samples). The tree sums every
        // vector in the same order, so the order of acc changes no score.
        __m512 acc[16];
        for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_ps();
        for (int64_t d = 0; d < size; d += 16) {
            for (int k = 0; k < 4; k++) {
                const __m512 key = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(ck_block_f16_row(keys, stride, j + k) + d)));
                for (int r = 0; r < 4; r++)
                    acc[4 * r + k] = _mm512_fmadd_ps(_mm512_loadu_ps(q + r * qStride + d), key, acc[4 * r + k]);
            }
        }
        const __m512 sums = _mm512_mul_ps(ck_block_sum16(acc), _mm512_set1_ps(scale));
        _mm_storeu_ps(scores + j, _mm512_castps512_ps128(sums));
        _mm_storeu_ps(scores + ld + j, _mm512_extractf32x4_ps(sums, 1));
        _mm_storeu_ps(scores + 2 * ld + j, _mm512_extractf32x4_ps(sums, 2));
        _mm_storeu_ps(scores + 3 * ld + j, _mm512_extractf32x4_ps(sums, 3));
    }
    for (; j < count; j++) {
        const uint16_t *k = ck_block_f16_row(keys, stride, j);
        for (int r = 0; r < 4; r++) {
            __m512 a = _mm512_setzero_ps();
            for (int64_t d = 0; d < size; d += 16)
                a = _mm512_fmadd_ps(_mm512_loadu_ps(q + r * qStride + d), _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(k + d))), a);
            scores[r * ld + j] = _mm512_reduce_add_ps(a) * scale;
        }
    }
}

// out_r = Σ_j p[r][j] v_j for 4 rows over `vectors` × 16 values of the head
// from base. Inlined with `vectors` a constant at each call: with it known
// only at run time the sixteen sums lived on the stack (a load and a store
// around every FMA, each j waiting on the last one's store), which made this
// pass about half of prompt attention's time.
CK_AVX512 static inline __attribute__((always_inline)) void
ck_block_values_pass(const float *p, int64_t ld, const void *values, size_t stride, int64_t count, int64_t base,
                     int vectors, float *out, size_t outStride) {
    __m512 acc[16];  // acc[4 * row + vector]
    for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_ps();
    for (int64_t j = 0; j < count; j++) {
        const uint16_t *v = ck_block_f16_row(values, stride, j) + base;
        __m512 x[4];
        for (int k = 0; k < vectors; k++) x[k] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(v + 16 * k)));
        for (int r = 0; r < 4; r++) {
            const __m512 w = _mm512_set1_ps(p[r * ld + j]);
            for (int k = 0; k < vectors; k++) acc[4 * r + k] = _mm512_fmadd_ps(w, x[k], acc[4 * r + k]);
        }
    }
    for (int r = 0; r < 4; r++)
        for (int k = 0; k < vectors; k++) _mm512_storeu_ps(out + r * outStride + base + 16 * k, acc[4 * r + k]);
}

// The same for the whole head, 64 values per pass (the last pass 16–48).
CK_AVX512 static void ck_block_values_f16(const float *p, int64_t ld, const void *values, size_t stride,
                                          int64_t count, int64_t size, float *out, size_t outStride) {
    for (int64_t base = 0; base < size; base += 64) {
        switch ((size - base < 64 ? size - base : 64) / 16) {
        case 4: ck_block_values_pass(p, ld, values, stride, count, base, 4, out, outStride); break;
        case 3: ck_block_values_pass(p, ld, values, stride, count, base, 3, out, outStride); break;
        case 2: ck_block_values_pass(p, ld, values, stride, count, base, 2, out, outStride); break;
        default: ck_block_values_pass(p, ld, values, stride, count, base, 1, out, outStride); break;
        }
    }
}

// Row r's softmax over its first length + r scores of `count`, the rest
// zeroed so the value pass may run all rows to the end.
static void ck_block_softmax(float *scores, int64_t count, int64_t length) {
    for (int r = 0; r < CK_BLOCK_ROWS; r++) {
        float *row = scores + r * count;
        moe_vec_softmax_f32(row, length + r);
        for (int64_t j = length + r; j < count; j++) row[j] = 0.0f;
    }
}

// Four rows: scores over length+3 keys, softmax per row, values.
CK_AVX512 static void ck_attend_block4_f16_avx512(const float *q, size_t qStride, const void *keys, const void *values,
                                                  size_t stride, int64_t length, int64_t size, float scale,
                                                  float *scores, float *out, size_t outStride) {
    const int64_t count = length + CK_BLOCK_ROWS - 1;
    ck_block_scores_f16(q, qStride, keys, stride, count, size, scale, scores, count);
    ck_block_softmax(scores, count, length);
    ck_block_values_f16(scores, count, values, stride, count, size, out, outStride);
}

// ---- AVX2 -------------------------------------------------------------------
// The same block with 8-wide vectors and 16 registers: a tile of four rows
// by two keys (eight sums, reduced by two ck_hsum4 trees), each widened key
// used by the four rows; the value pass four rows by two vectors (eight
// sums), each widened value used four times. The head-by-head AVX2 kernel
// widens every key and value once per row and reduces every score alone.

// scores[r * ld + j] = scale · q_r·k_j for 4 query rows and j < count.
CK_AVX2 static void ck_block_scores_f16_avx2(const float *q, size_t qStride, const void *keys, size_t stride,
                                             int64_t count, int64_t size, float scale, float *scores, int64_t ld) {
    const __m128 s = _mm_set1_ps(scale);
    int64_t j = 0;
    for (; j + 2 <= count; j += 2) {
        __m256 acc[8];  // acc[2 * row + key]: rows 0-1 in acc[0..3], rows 2-3 in acc[4..7]
        for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_ps();
        const uint16_t *k0 = ck_block_f16_row(keys, stride, j), *k1 = ck_block_f16_row(keys, stride, j + 1);
        for (int64_t d = 0; d < size; d += 8) {
            const __m256 a = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k0 + d)));
            const __m256 b = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k1 + d)));
            for (int r = 0; r < 4; r++) {
                const __m256 x = _mm256_loadu_ps(q + r * qStride + d);
                acc[2 * r] = _mm256_fmadd_ps(x, a, acc[2 * r]);
                acc[2 * r + 1] = _mm256_fmadd_ps(x, b, acc[2 * r + 1]);
            }
        }
        // [r0k0, r0k1, r1k0, r1k1] and the same for rows 2-3
        const __m128 upper = _mm_mul_ps(ck_hsum4(acc), s), lower = _mm_mul_ps(ck_hsum4(acc + 4), s);
        _mm_storel_pi((__m64 *)(scores + j), upper);
        _mm_storeh_pi((__m64 *)(scores + ld + j), upper);
        _mm_storel_pi((__m64 *)(scores + 2 * ld + j), lower);
        _mm_storeh_pi((__m64 *)(scores + 3 * ld + j), lower);
    }
    for (; j < count; j++) {
        const uint16_t *k = ck_block_f16_row(keys, stride, j);
        for (int r = 0; r < 4; r++) {
            __m256 a = _mm256_setzero_ps();
            for (int64_t d = 0; d < size; d += 8)
                a = _mm256_fmadd_ps(_mm256_loadu_ps(q + r * qStride + d),
                                    _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + d))), a);
            scores[r * ld + j] = ck_hsum256(a) * scale;
        }
    }
}

// out_r = Σ_j p[r][j] v_j for 4 rows over `vectors` (1 or 2) × 8 values from
// base; `vectors` a constant where inlined, so the sums stay in registers.
CK_AVX2 static inline __attribute__((always_inline)) void
ck_block_values_pass_avx2(const float *p, int64_t ld, const void *values, size_t stride, int64_t count, int64_t base,
                          int vectors, float *out, size_t outStride) {
    __m256 acc[8];  // acc[2 * row + vector]
    for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_ps();
    for (int64_t j = 0; j < count; j++) {
        const uint16_t *v = ck_block_f16_row(values, stride, j) + base;
        __m256 x[2];
        for (int k = 0; k < vectors; k++) x[k] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + 8 * k)));
        for (int r = 0; r < 4; r++) {
            const __m256 w = _mm256_broadcast_ss(p + r * ld + j);
            for (int k = 0; k < vectors; k++) acc[2 * r + k] = _mm256_fmadd_ps(w, x[k], acc[2 * r + k]);
        }
    }
    for (int r = 0; r < 4; r++)
        for (int k = 0; k < vectors; k++) _mm256_storeu_ps(out + r * outStride + base + 8 * k, acc[2 * r + k]);
}

CK_AVX2 static void ck_block_values_f16_avx2(const float *p, int64_t ld, const void *values, size_t stride,
                                             int64_t count, int64_t size, float *out, size_t outStride) {
    int64_t base = 0;
    for (; base + 16 <= size; base += 16) ck_block_values_pass_avx2(p, ld, values, stride, count, base, 2, out, outStride);
    if (base < size) ck_block_values_pass_avx2(p, ld, values, stride, count, base, 1, out, outStride);
}

CK_AVX2 static void ck_attend_block4_f16_avx2(const float *q, size_t qStride, const void *keys, const void *values,
                                              size_t stride, int64_t length, int64_t size, float scale,
                                              float *scores, float *out, size_t outStride) {
    const int64_t count = length + CK_BLOCK_ROWS - 1;
    ck_block_scores_f16_avx2(q, qStride, keys, stride, count, size, scale, scores, count);
    ck_block_softmax(scores, count, length);
    ck_block_values_f16_avx2(scores, count, values, stride, count, size, out, outStride);
}

void moe_attend_block_kv_isa(moe_kv_type type, moe_isa isa, const float *q, size_t qStride, int64_t rows,
                             const void *keys, const void *values, size_t stride, int64_t length, int64_t size,
                             float scale, float *scores, float *out, size_t outStride) {
    int64_t r = 0;
    if (type == MOE_KV_F16 && isa >= MOE_ISA_AVX512 && size % 16 == 0) {
        for (; r + CK_BLOCK_ROWS <= rows; r += CK_BLOCK_ROWS)
            ck_attend_block4_f16_avx512(q + r * qStride, qStride, keys, values, stride, length + r, size, scale,
                                        scores, out + r * outStride, outStride);
    } else if (type == MOE_KV_F16 && isa >= MOE_ISA_AVX2 && size % 8 == 0) {
        for (; r + CK_BLOCK_ROWS <= rows; r += CK_BLOCK_ROWS)
            ck_attend_block4_f16_avx2(q + r * qStride, qStride, keys, values, stride, length + r, size, scale,
                                      scores, out + r * outStride, outStride);
    }
    for (; r < rows; r++)
        moe_attend_head_kv_isa(type, isa, q + r * qStride, keys, values, stride, length + r, size, scale, scores,
                               out + r * outStride);
}

void moe_attend_block_kv(moe_kv_type type, const float *q, size_t qStride, int64_t rows, const void *keys,
                         const void *values, size_t stride, int64_t length, int64_t size, float scale, float *scores,
                         float *out, size_t outStride) {
    moe_attend_block_kv_isa(type, moe_isa_best(), q, qStride, rows, keys, values, stride, length, size, scale, scores,
                            out, outStride);
}
